/* sai_scores.h: clinical scores (rules in /work/shared/spec/SCORES.md).
 *
 * Every scorer works on a whole table of N rows in one call.  Inputs are flat
 * row-major typed arrays (one row after another); outputs are allocated by the
 * caller.  Conventions shared by all scorers:
 *   int8 grades: SAI_SC_NULL (-1) = unreadable, SAI_SC_NA (-2) = unit absent
 *                (SPARCC SIJ only), SAI_SC_BAD (-100) = a value the caller
 *                already knows is out of range (e.g. 2.5) -> value_out_of_range.
 *   doubles:     NaN = null.
 *   int32 integer outputs: -1 = null.  double outputs: NaN = null.
 * Per row: status[r] (SAI_SC_STATUS_*), reason[r] (SAI_SC_R_*, 0 when not an
 * error) and field[r] (flat index of the offending input element inside the
 * row, -1 when none).  A bad row never stops the other rows; the function
 * returns SAI_OK unless an argument itself is unusable.
 */
#ifndef SAI_SCORES_H
#define SAI_SCORES_H

#include <stdint.h>
#include "sacroai/sai_common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SAI_SC_NULL (-1)
#define SAI_SC_NA (-2)
#define SAI_SC_BAD (-100)

enum { SAI_SC_STATUS_OK = 0, SAI_SC_STATUS_INCOMPLETE = 1, SAI_SC_STATUS_ERROR = 2 };

/* Reason codes; names (lower case without the prefix) are the spec's codes. */
enum {
    SAI_SC_R_NONE = 0,
    SAI_SC_R_MALFORMED_INPUT,
    SAI_SC_R_MISSING_FIELD,
    SAI_SC_R_UNKNOWN_FIELD,
    SAI_SC_R_VALUE_OUT_OF_RANGE,
    SAI_SC_R_WRONG_SLICE_COUNT,
    SAI_SC_R_BONUS_WITHOUT_LESION,
    SAI_SC_R_UNKNOWN_LEVEL,
    SAI_SC_R_DUPLICATE_LEVEL,
    SAI_SC_R_PD_WITHOUT_SYNOVIAL_HYPERTROPHY,
    SAI_SC_R_DUPLICATE_JOINT,
    SAI_SC_R_EMPTY_INPUT,
    SAI_SC_R_AMBIGUOUS_INPUT,
    SAI_SC_R_SHAPE_MISMATCH
};

/* Per-row bookkeeping shared by every scorer. */
typedef struct {
    int8_t *status;
    int8_t *reason;
    int32_t *field;
} sai_sc_rows;

/* ---- SPARCC SIJ inflammation (0-72) ----
 * quad[n][6 slices][2 sides (left, right)][4] in the order iliac_upper,
 * iliac_lower, sacral_upper, sacral_lower; values 0/1/NULL/NA.
 * intense[n][6][2], deep[n][6][2]: 0/1/NULL.
 * Field index: quad 0..47, intense 48..59, deep 60..71.
 * out[n][13]: total, left, right, quadrant_sum, intensity_sum, depth_sum,
 *             partial_total, per_slice[6]  (int32, -1 = null). */
#define SAI_SPARCC_SIJ_NOUT 13
sai_status sai_sparcc_sij(int64_t n, const int8_t *quad, const int8_t *intense,
                          const int8_t *deep, sai_sc_rows rows, int32_t *out);

/* ---- SPARCC spine (0-108) ----
 * quad[n][23 levels][3 slices][4], intense[n][23][3], deep[n][23][3] with
 * level order C2-C3 .. L5-S1 (cranial first); present[n][23] = 1 when the DVU
 * was supplied (absent DVUs are ignored and count 0).
 * Field index: level*18 + slice*6 + (0..3 quadrant, 4 intense, 5 deep).
 * dvu_score[n][23] (-1 null or absent), total[n], total_all[n] (-1 null),
 * selected[n][6] = level indices of the six highest (ties cranial first),
 * -1 = fewer than six / null. */
sai_status sai_sparcc_spine(int64_t n, const int8_t *quad, const int8_t *intense,
                            const int8_t *deep, const int8_t *present, sai_sc_rows rows,
                            int32_t *dvu_score, int32_t *total, int32_t *total_all,
                            int32_t *selected);

/* ---- SPARCC SIJ structural score ----
 * quad[n][5 slices][2 sides][2 lesions (fat, erosion)][4 quadrants],
 * halves[n][5][2][2 lesions (backfill, ankylosis)][2 halves (upper, lower)];
 * values 0/1/NULL.  Field index: quad 0..79, halves 80..119.
 * out[n][15]: fat, erosion, backfill, ankylosis, sum_all, then the same five
 * for the left side and for the right side (-1 = null). */
#define SAI_SSS_NOUT 15
sai_status sai_sparcc_sss(int64_t n, const int8_t *quad, const int8_t *halves, sai_sc_rows rows,
                          int32_t *out);

/* ---- mSASSS (0-72) ----
 * sites[n][24] (12 cervical then 12 lumbar, spec order), 0..3/NULL.
 * impute: 0 none, 1 segment_mean.  out[n][3] cervical, lumbar, total (NaN null),
 * n_imputed[n], unpaired[n] = bit mask of the 12 lower/upper pairs (bit p set
 * when exactly one of pair p is 3; pairs are sites (2p, 2p+1)). */
sai_status sai_msasss(int64_t n, const int8_t *sites, int impute, sai_sc_rows rows, double *out,
                      int32_t *n_imputed, int32_t *unpaired);

/* ---- modified New York ----
 * grades[n][2] (left, right) 0..4/NULL; clinical[n][3] 0/1/NULL, has_clinical[n].
 * Outputs (int8, -1 null): criterion[n], class3[n][2], as_status[n]
 * (0 not_met, 1 probable, 2 definite). */
sai_status sai_mny(int64_t n, const int8_t *grades, const int8_t *clinical,
                   const int8_t *has_clinical, sai_sc_rows rows, int8_t *criterion,
                   int8_t *class3, int8_t *as_status);

/* ---- ASAS active sacroiliitis on MRI (2009 operational rule) ----
 * Lesions of all rows in CSR form: lesion_ptr[n+1] indexes lesions,
 * slice_ptr[n_lesions+1] indexes slice_idx (int32 >= 0); typical[n_lesions]
 * 0/1; suggestive[n] 0/1.  positive[n] 0/1; criterion[n] 0 none,
 * 1 multi_slice, 2 multi_lesion, 3 both.  Field index = lesion index in the row. */
sai_status sai_asas_mri_sij(int64_t n, const int64_t *lesion_ptr, const int64_t *slice_ptr,
                            const int32_t *slice_idx, const int8_t *typical,
                            const int8_t *suggestive, sai_sc_rows rows, int8_t *positive,
                            int8_t *criterion);

/* ---- ASAS axSpA classification ----
 * months[n], onset_age[n] (double, NaN null); flags[n][13]: mri, xray,
 * hla_b27, then the 10 features (ibp, arthritis, enthesitis_heel, uveitis,
 * dactylitis, psoriasis, ibd, nsaid_response, family_history, elevated_crp)
 * as 0/1/NULL.  out[n][5] int8 (-1 null): entry_met, imaging_arm,
 * clinical_arm, classified, subtype (0 nr-axSpA, 1 r-axSpA). */
sai_status sai_asas_axspa(int64_t n, const double *months, const double *onset_age,
                          const int8_t *flags, sai_sc_rows rows, int8_t *out);

/* ---- Kellgren-Lawrence: grade[n] 0..4 -> oa[n] ---- */
sai_status sai_kl(int64_t n, const int8_t *grade, sai_sc_rows rows, int8_t *oa);

/* ---- OARSI hip features + Croft grade ----
 * feat[n][9] in the spec's key order (fos_superior, fos_inferior,
 * aos_superior, aos_inferior, jsn_superior, jsn_medial, sclerosis, cysts,
 * femoral_head_deformity).  out[n][4] int8: osteophyte_sum, jsn_sum,
 * croft (-1 null), rhoa (-1 null); warn[n] bits: 1 croft_undefined_combination,
 * 2 deformity_ignored. */
sai_status sai_oarsi_hip(int64_t n, const int8_t *feat, sai_sc_rows rows, int8_t *out,
                         int8_t *warn);

/* ---- modified Sharp / van der Heijde ----
 * joints[n][86]: hand erosion L 16, R 16; hand JSN L 15, R 15; foot erosion
 * L 6, R 6; foot JSN L 6, R 6; 0..max/NULL.  out[n][9] (-1 null):
 * erosion_hands, erosion_feet, erosion_total, jsn_hands, jsn_feet, jsn_total,
 * hands_total, feet_total, total. */
#define SAI_SVDH_NJ 86
sai_status sai_svdh(int64_t n, const int8_t *joints, sai_sc_rows rows, int32_t *out);

/* ---- EULAR-OMERACT ultrasound synovitis ----
 * Joints of all rows in CSR form: joint_ptr[n+1]; gs[], pd[] 0..3/NULL.
 * combined[n_joints] (-1 null); out[n][5]: gs_sum, pd_sum, combined_sum,
 * n_joints, max_possible (-1 null).  Field index = joint index in the row. */
sai_status sai_us_synovitis(int64_t n, const int64_t *joint_ptr, const int8_t *gs,
                            const int8_t *pd, sai_sc_rows rows, int8_t *combined, int32_t *out);

/* ---- ASDAS ----
 * kind 0 = CRP (apr in mg/L, floored at 2), 1 = ESR (mm/h); rounded = 1 for
 * the two-decimal coefficients.  Inputs per row (NaN null): back_pain,
 * stiffness_duration, patient_global, peripheral_pain (0..10) and apr (>= 0).
 * Field index 0..4 in that order.  score[n], apr_used[n] (NaN null),
 * state[n] (-1 null, 0 inactive, 1 low, 2 high, 3 very_high). */
sai_status sai_asdas(int64_t n, int kind, int rounded, const double *back_pain,
                     const double *stiffness, const double *patient_global,
                     const double *peripheral, const double *apr, sai_sc_rows rows,
                     double *score, double *apr_used, int8_t *state);
int sai_asdas_state(double score);

/* ---- ASDAS change: delta = baseline - followup (>= 0 inputs) ----
 * important[n], major[n] int8 (-1 null). */
sai_status sai_asdas_change(int64_t n, const double *baseline, const double *followup,
                            sai_sc_rows rows, double *delta, int8_t *important, int8_t *major);

/* ---- BASDAI: q[n][6] in 0..10 (NaN null) -> score[n], active[n] ---- */
sai_status sai_basdai(int64_t n, const double *q, sai_sc_rows rows, double *score,
                      int8_t *active);

/* ---- DAS28 ----
 * variant[n]: 0 esr4, 1 esr3, 2 crp4, 3 crp3 (chosen by the caller from the
 * keys present); tjc, sjc (integers 0..28), apr (ESR > 0 or CRP >= 0), gh
 * (0..100 mm, ignored by 3-variable variants).  Field index: 0 tjc, 1 sjc,
 * 2 apr, 3 gh.  state[n]: -1 null, 0 remission, 1 low, 2 moderate, 3 high. */
sai_status sai_das28(int64_t n, const int8_t *variant, const double *tjc, const double *sjc,
                     const double *apr, const double *gh, sai_sc_rows rows, double *score,
                     int8_t *state);

/* ---- segmentation metrics helpers (ndim 1..3, C-contiguous uint8 masks) ----
 * Border voxels: foreground voxels with a neighbour outside the mask (voxels
 * beyond the array edge are background); neighbours are the offsets in
 * {-1,0,1}^ndim with 1..connectivity non-zero components. */
sai_status sai_seg_surface(int ndim, const int64_t *shape, const uint8_t *mask, int connectivity,
                           uint8_t *surface);
/* Exact squared Euclidean distance (in physical units, spacing[k] per axis)
 * from every voxel to the nearest non-zero voxel of `feature` (separable
 * lower-envelope algorithm of Felzenszwalb & Huttenlocher).  +inf when the
 * feature set is empty. */
sai_status sai_seg_edt_sq(int ndim, const int64_t *shape, const double *spacing,
                          const uint8_t *feature, double *out);

#ifdef __cplusplus
}
#endif
#endif
