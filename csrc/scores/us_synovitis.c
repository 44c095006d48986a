/* us_synovitis.c: EULAR-OMERACT combined ultrasound synovitis score per joint
 * and patient-level sums (GLOESS for the joint set examined).
 * Source definitions: D'Agostino MA et al., RMD Open 2017;3:e000428 (combined
 * grade: the higher of GS and PD); Terslev L et al., RMD Open 2017;3:e000427;
 * SCORES.md section 9.  GS 0 with PD > 0 is rejected (sacroai choice). */
#include "sc_internal.h"

sai_status sai_us_synovitis(int64_t n, const int64_t *joint_ptr, const int8_t *gs,
                            const int8_t *pd, sai_sc_rows rows, int8_t *combined, int32_t *out)
{
    SC_CHECK_ROWS(n, rows);
#pragma omp parallel for num_threads(sai_get_num_threads()) schedule(static) if (n > 4096)
    for (int64_t r = 0; r < n; r++) {
        int32_t *o = out + 5 * r;
        for (int k = 0; k < 5; k++) o[k] = -1;
        int64_t a = joint_ptr[r], b = joint_ptr[r + 1];
        for (int64_t j = a; j < b; j++) combined[j] = -1;
        if (b <= a) { sc_error(rows, r, SAI_SC_R_EMPTY_INPUT, -1); continue; }
        int bad = -1, rc = 0;
        for (int64_t j = a; j < b && bad < 0; j++) {
            if ((rc = sc_check_grade(gs[j], 0, 3, 1, 0)) || (rc = sc_check_grade(pd[j], 0, 3, 1, 0)))
                bad = (int)(j - a);
            else if (gs[j] == 0 && pd[j] > 0) { rc = SAI_SC_R_PD_WITHOUT_SYNOVIAL_HYPERTROPHY; bad = (int)(j - a); }
        }
        if (bad >= 0) { sc_error(rows, r, rc, bad); continue; }
        int g = 0, p = 0, c = 0, gn = 0, pn = 0, cn = 0;
        for (int64_t j = a; j < b; j++) {
            if (gs[j] == SAI_SC_NULL) gn = 1; else g += gs[j];
            if (pd[j] == SAI_SC_NULL) pn = 1; else p += pd[j];
            int cj;
            if (gs[j] == SAI_SC_NULL) cj = -1;           /* PD alone cannot fix the grade */
            else if (pd[j] == SAI_SC_NULL) cj = gs[j] == 3 ? 3 : -1;
            else cj = gs[j] == 0 ? 0 : (gs[j] > pd[j] ? gs[j] : pd[j]);
            combined[j] = (int8_t)cj;
            if (cj < 0) cn = 1; else c += cj;
        }
        o[0] = gn ? -1 : g;
        o[1] = pn ? -1 : p;
        o[2] = cn ? -1 : c;
        o[3] = (int32_t)(b - a);
        o[4] = 3 * (int32_t)(b - a);
        sc_ok(rows, r, gn || pn || cn);
    }
    return SAI_OK;
}
