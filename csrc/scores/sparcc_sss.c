/* sparcc_sss.c: SPARCC MRI sacroiliac joint structural score (SSS).
 * Source definition: Maksymowych WP et al., J Rheumatol 2015;42:79-86
 * (five T1 slices; fat and erosion per quadrant 0-40 each, backfill and
 * ankylosis per joint half 0-20 each); SCORES.md section 3. */
#include "sc_internal.h"

/* quad[5][2][2][4], halves[5][2][2][2]; out: totals(5), left(5), right(5). */
sai_status sai_sparcc_sss(int64_t n, const int8_t *quad, const int8_t *halves, sai_sc_rows rows,
                          int32_t *out)
{
    SC_CHECK_ROWS(n, rows);
#pragma omp parallel for num_threads(sai_get_num_threads()) schedule(static) if (n > 4096)
    for (int64_t r = 0; r < n; r++) {
        const int8_t *q = quad + r * 80, *h = halves + r * 40;
        int32_t *o = out + r * SAI_SSS_NOUT;
        for (int k = 0; k < SAI_SSS_NOUT; k++) o[k] = -1;
        int bad = -1, rc = 0;
        for (int k = 0; k < 80 && bad < 0; k++) if ((rc = sc_check_grade(q[k], 0, 1, 1, 0))) bad = k;
        for (int k = 0; k < 40 && bad < 0; k++) if ((rc = sc_check_grade(h[k], 0, 1, 1, 0))) bad = 80 + k;
        if (bad >= 0) { sc_error(rows, r, rc, bad); continue; }
        int sum[2][4] = {{0}}, nul[2][4] = {{0}}; /* [side][component] */
        for (int s = 0; s < 5; s++)
            for (int side = 0; side < 2; side++) {
                for (int les = 0; les < 2; les++)
                    for (int j = 0; j < 4; j++) {
                        int8_t v = q[((s * 2 + side) * 2 + les) * 4 + j];
                        if (v == SAI_SC_NULL) nul[side][les] = 1; else sum[side][les] += v;
                    }
                for (int les = 0; les < 2; les++)
                    for (int j = 0; j < 2; j++) {
                        int8_t v = h[((s * 2 + side) * 2 + les) * 2 + j];
                        if (v == SAI_SC_NULL) nul[side][2 + les] = 1; else sum[side][2 + les] += v;
                    }
            }
        int incomplete = 0;
        for (int side = 0; side < 2; side++) {
            int32_t *os = o + 5 * (side + 1);
            int all = 0, alln = 0;
            for (int c = 0; c < 4; c++) {
                os[c] = nul[side][c] ? -1 : sum[side][c];
                all += sum[side][c];
                alln |= nul[side][c];
            }
            os[4] = alln ? -1 : all;
        }
        int all = 0, alln = 0;
        for (int c = 0; c < 4; c++) {
            int cn = nul[0][c] || nul[1][c];
            o[c] = cn ? -1 : sum[0][c] + sum[1][c];
            all += sum[0][c] + sum[1][c];
            alln |= cn;
        }
        o[4] = alln ? -1 : all;
        incomplete = alln;
        sc_ok(rows, r, incomplete);
    }
    return SAI_OK;
}
