/* svdh.c: modified Sharp / van der Heijde radiographic score (0-448).
 * Source definition: van der Heijde D, J Rheumatol 2000;27:261-263 (method
 * of van der Heijde DM et al., Lancet 1989); SCORES.md section 8.
 * Row layout (86 joints): hand erosion L16 R16 (0-5), hand JSN L15 R15 (0-4),
 * foot erosion L6 R6 (0-10), foot JSN L6 R6 (0-4). */
#include "sc_internal.h"

static const int START[5] = {0, 32, 62, 74, 86};
static const int MAXV[4] = {5, 4, 10, 4};

sai_status sai_svdh(int64_t n, const int8_t *joints, sai_sc_rows rows, int32_t *out)
{
    SC_CHECK_ROWS(n, rows);
#pragma omp parallel for num_threads(sai_get_num_threads()) schedule(static) if (n > 8192)
    for (int64_t r = 0; r < n; r++) {
        const int8_t *x = joints + SAI_SVDH_NJ * r;
        int32_t *o = out + 9 * r;
        for (int k = 0; k < 9; k++) o[k] = -1;
        int bad = -1, rc = 0;
        int sum[4] = {0}, nul[4] = {0};
        for (int part = 0; part < 4 && bad < 0; part++)
            for (int k = START[part]; k < START[part + 1] && bad < 0; k++) {
                if ((rc = sc_check_grade(x[k], 0, MAXV[part], 1, 0))) bad = k;
                else if (x[k] == SAI_SC_NULL) nul[part] = 1;
                else sum[part] += x[k];
            }
        if (bad >= 0) { sc_error(rows, r, rc, bad); continue; }
        /* parts: 0 erosion hands, 1 jsn hands, 2 erosion feet, 3 jsn feet */
#define V(p) (nul[p] ? -1 : sum[p])
#define V2(p, q) ((nul[p] || nul[q]) ? -1 : sum[p] + sum[q])
        o[0] = V(0); o[1] = V(2); o[2] = V2(0, 2);
        o[3] = V(1); o[4] = V(3); o[5] = V2(1, 3);
        o[6] = V2(0, 1); o[7] = V2(2, 3);
        o[8] = (nul[0] || nul[1] || nul[2] || nul[3]) ? -1 : sum[0] + sum[1] + sum[2] + sum[3];
#undef V
#undef V2
        sc_ok(rows, r, nul[0] || nul[1] || nul[2] || nul[3]);
    }
    return SAI_OK;
}
