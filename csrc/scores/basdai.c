/* basdai.c: Bath Ankylosing Spondylitis Disease Activity Index (0-10).
 * Source definition: Garrett S et al., J Rheumatol 1994;21:2286-2291;
 * SCORES.md section 10.4.  BASDAI = (q1+q2+q3+q4+(q5+q6)/2)/5; active >= 4. */
#include "sc_internal.h"

sai_status sai_basdai(int64_t n, const double *q, sai_sc_rows rows, double *score, int8_t *active)
{
    SC_CHECK_ROWS(n, rows);
#pragma omp parallel for num_threads(sai_get_num_threads()) schedule(static) if (n > 8192)
    for (int64_t r = 0; r < n; r++) {
        const double *x = q + r * 6;
        score[r] = NAN;
        active[r] = -1;
        int bad = -1, missing = 0;
        for (int k = 0; k < 6 && bad < 0; k++) {
            if (sc_check_real(x[k], 0.0, 10.0)) bad = k;
            missing |= isnan(x[k]);
        }
        if (bad >= 0) { sc_error(rows, r, SAI_SC_R_VALUE_OUT_OF_RANGE, bad); continue; }
        if (missing) { sc_ok(rows, r, 1); continue; }
        double s = (x[0] + x[1] + x[2] + x[3] + 0.5 * (x[4] + x[5])) / 5.0;
        score[r] = s;
        active[r] = s >= 4.0;
        sc_ok(rows, r, 0);
    }
    return SAI_OK;
}
