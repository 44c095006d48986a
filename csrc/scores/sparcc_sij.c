/* sparcc_sij.c: SPARCC MRI sacroiliac joint inflammation score (0-72).
 * Source definition: Maksymowych WP et al., Arthritis Rheum 2005;53:703-709;
 * rules as restated in SCORES.md section 1 (six semicoronal slices, four
 * quadrants per joint, +1 intensity and +1 depth per joint-slice). */
#include "sc_internal.h"

enum { NS = 6, NQ = 4 };

/* Score one row; returns 0 or sets the error. */
static void sij_row(const int8_t *q, const int8_t *in, const int8_t *de, sai_sc_rows rows,
                    int64_t r, int32_t *o)
{
    /* validation first: ranges, then bonus points without lesion */
    for (int k = 0; k < NS * 2 * NQ; k++) {
        int rc = sc_check_grade(q[k], 0, 1, 1, 1);
        if (rc) { sc_error(rows, r, rc, k); return; }
    }
    for (int k = 0; k < NS * 2; k++) {
        int rc = sc_check_grade(in[k], 0, 1, 1, 0);
        if (rc) { sc_error(rows, r, rc, 48 + k); return; }
        rc = sc_check_grade(de[k], 0, 1, 1, 0);
        if (rc) { sc_error(rows, r, rc, 60 + k); return; }
    }
    for (int k = 0; k < NS * 2; k++) {
        int lesion = 0, unknown = 0;
        for (int j = 0; j < NQ; j++) {
            lesion |= q[k * NQ + j] == 1;
            unknown |= q[k * NQ + j] == SAI_SC_NULL;
        }
        if (!lesion && !unknown) {
            if (in[k] == 1) { sc_error(rows, r, SAI_SC_R_BONUS_WITHOUT_LESION, 48 + k); return; }
            if (de[k] == 1) { sc_error(rows, r, SAI_SC_R_BONUS_WITHOUT_LESION, 60 + k); return; }
        }
    }
    int side_tot[2] = {0, 0}, side_null[2] = {0, 0};
    int qsum = 0, isum = 0, dsum = 0, qnull = 0, inull = 0, dnull = 0, partial = 0;
    for (int s = 0; s < NS; s++) {
        int slice = 0, slice_null = 0;
        for (int side = 0; side < 2; side++) {
            int k = s * 2 + side, unit = 0, unit_null = 0;
            for (int j = 0; j < NQ; j++) {
                int8_t v = q[k * NQ + j];
                if (v == SAI_SC_NULL) { unit_null = 1; qnull = 1; }
                else if (v == 1) { unit++; qsum++; }
            }
            if (in[k] == SAI_SC_NULL) { unit_null = 1; inull = 1; }
            else { unit += in[k]; isum += in[k]; }
            if (de[k] == SAI_SC_NULL) { unit_null = 1; dnull = 1; }
            else { unit += de[k]; dsum += de[k]; }
            if (unit_null) { side_null[side] = 1; slice_null = 1; }
            else { side_tot[side] += unit; slice += unit; partial += unit; }
        }
        o[7 + s] = slice_null ? -1 : slice;
    }
    int incomplete = side_null[0] || side_null[1];
    o[0] = incomplete ? -1 : side_tot[0] + side_tot[1];
    o[1] = side_null[0] ? -1 : side_tot[0];
    o[2] = side_null[1] ? -1 : side_tot[1];
    o[3] = qnull ? -1 : qsum;
    o[4] = inull ? -1 : isum;
    o[5] = dnull ? -1 : dsum;
    o[6] = incomplete ? partial : -1;
    sc_ok(rows, r, incomplete);
}

sai_status sai_sparcc_sij(int64_t n, const int8_t *quad, const int8_t *intense,
                          const int8_t *deep, sai_sc_rows rows, int32_t *out)
{
    SC_CHECK_ROWS(n, rows);
    if (n > 0 && (!quad || !intense || !deep || !out))
        return sai_error_set(SAI_EINVAL, "sparcc_sij: NULL array");
#pragma omp parallel for num_threads(sai_get_num_threads()) schedule(static) if (n > 4096)
    for (int64_t r = 0; r < n; r++) {
        int32_t *o = out + r * SAI_SPARCC_SIJ_NOUT;
        for (int k = 0; k < SAI_SPARCC_SIJ_NOUT; k++) o[k] = -1;
        sij_row(quad + r * 48, intense + r * 12, deep + r * 12, rows, r, o);
    }
    return SAI_OK;
}
