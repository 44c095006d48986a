/* msasss.c: modified Stoke Ankylosing Spondylitis Spine Score (0-72).
 * Source definition: Creemers MCW et al., Ann Rheum Dis 2005;64:127-129
 * (anterior vertebral corners of the cervical and lumbar spine, 0-3 each);
 * single-visit segment-mean imputation for 1-3 missing corners per segment
 * as SCORES.md section 4.4 (a sacroai option). */
#include "sc_internal.h"

sai_status sai_msasss(int64_t n, const int8_t *sites, int impute, sai_sc_rows rows, double *out,
                      int32_t *n_imputed, int32_t *unpaired)
{
    SC_CHECK_ROWS(n, rows);
    if (impute != 0 && impute != 1) return sai_error_set(SAI_EINVAL, "msasss: impute must be 0 or 1");
#pragma omp parallel for num_threads(sai_get_num_threads()) schedule(static) if (n > 8192)
    for (int64_t r = 0; r < n; r++) {
        const int8_t *x = sites + r * 24;
        double *o = out + r * 3;
        o[0] = o[1] = o[2] = NAN;
        n_imputed[r] = 0;
        unpaired[r] = 0;
        int bad = -1, rc = 0;
        for (int k = 0; k < 24 && bad < 0; k++) if ((rc = sc_check_grade(x[k], 0, 3, 1, 0))) bad = k;
        if (bad >= 0) { sc_error(rows, r, rc, bad); continue; }
        int incomplete = 0, nimp = 0;
        for (int seg = 0; seg < 2; seg++) {
            int sum = 0, miss = 0;
            for (int k = 0; k < 12; k++) {
                int8_t v = x[seg * 12 + k];
                if (v == SAI_SC_NULL) miss++; else sum += v;
            }
            if (miss == 0) o[seg] = sum;
            else if (impute == 1 && miss <= 3) {
                o[seg] = sum + miss * ((double)sum / (12 - miss));
                nimp += miss;
            } else incomplete = 1;
        }
        o[2] = (isnan(o[0]) || isnan(o[1])) ? NAN : o[0] + o[1];
        n_imputed[r] = nimp;
        int32_t mask = 0;
        for (int p = 0; p < 12; p++) /* pairs: (lower of one vertebra, upper of the next) */
            if ((x[2 * p] == 3) != (x[2 * p + 1] == 3) && x[2 * p] != SAI_SC_NULL &&
                x[2 * p + 1] != SAI_SC_NULL)
                mask |= 1 << p;
        unpaired[r] = mask;
        sc_ok(rows, r, incomplete);
    }
    return SAI_OK;
}
