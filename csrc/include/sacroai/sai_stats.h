/* sai_stats.h: kernels of the diagnostic-study statistics (ROC, DeLong, bootstrap).
 *
 * Scores are contiguous float64 without NaN (the Python layer checks), labels
 * are contiguous uint8 with values 0/1 (1 = positive).  Outputs are allocated
 * by the caller.  Randomness comes only from an explicit 64-bit seed.
 */
#ifndef SAI_STATS_H
#define SAI_STATS_H

#include "sacroai/sai_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Stable ascending order of x[0..n) (LSD radix sort on the float bits):
 * x[order[0]] <= x[order[1]] <= ...  NaN is rejected with SAI_EINVAL. */
sai_status sai_stats_argsort(const double *x, int64_t n, int64_t *order);

/* ROC counts at the distinct scores, from the highest down (rule score >= t).
 * thresholds, tps, fps have room for n entries; *n_thr receives how many
 * distinct scores there are.  tps[k]/fps[k] count positives/negatives with
 * score >= thresholds[k]. */
sai_status sai_stats_roc_counts(const double *score, const uint8_t *y, int64_t n,
                                double *thresholds, int64_t *tps, int64_t *fps, int64_t *n_thr);

/* DeLong structural components from one sort of the pooled scores.
 * v10[i] (one per positive, in input order) = P(score of a negative < x_i) + 1/2 P(=),
 * v01[j] (one per negative, in input order) = P(score of a positive > y_j) + 1/2 P(=).
 * *auc = mean(v10).  Requires at least one positive and one negative. */
sai_status sai_stats_delong_placements(const double *score, const uint8_t *y, int64_t n,
                                       double *auc, double *v10, double *v01);

/* Bootstrap resampling units.  unit_stratum[u] in [0, n_strata) gives the
 * stratum of unit u; each replicate draws, within each stratum, as many units
 * as it holds, uniformly with replacement.  Replicate b uses its own
 * xoshiro256** stream seeded by splitmix64 from (seed, b), so results do not
 * depend on the number of threads.
 * counts (n_boot x n_units, row-major) receives how often each unit is drawn. */
sai_status sai_stats_boot_counts(const int64_t *unit_stratum, int64_t n_units, int64_t n_strata,
                                 int64_t n_boot, uint64_t seed, int32_t *counts);

/* AUC of each bootstrap replicate: observation i has weight counts[unit[i]]
 * of its replicate (same draws as sai_stats_boot_counts).  A replicate without
 * positive or negative weight gives NaN. */
sai_status sai_stats_boot_auc(const double *score, const uint8_t *y, const int64_t *unit,
                              int64_t n, const int64_t *unit_stratum, int64_t n_units,
                              int64_t n_strata, int64_t n_boot, uint64_t seed, double *auc);

#ifdef __cplusplus
}
#endif
#endif
