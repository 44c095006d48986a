/* mny.c: modified New York criteria for ankylosing spondylitis and the
 * 3-class collapse of radiographic sacroiliitis grades.
 * Source definitions: van der Linden S et al., Arthritis Rheum 1984;27:361-368;
 * 3-class: Zhang K et al., J Digit Imaging 2023;36:2025-2034; SCORES.md section 5. */
#include "sc_internal.h"

sai_status sai_mny(int64_t n, const int8_t *grades, const int8_t *clinical,
                   const int8_t *has_clinical, sai_sc_rows rows, int8_t *criterion,
                   int8_t *class3, int8_t *as_status)
{
    SC_CHECK_ROWS(n, rows);
#pragma omp parallel for num_threads(sai_get_num_threads()) schedule(static) if (n > 8192)
    for (int64_t r = 0; r < n; r++) {
        const int8_t *g = grades + 2 * r, *c = clinical + 3 * r;
        criterion[r] = class3[2 * r] = class3[2 * r + 1] = as_status[r] = -1;
        int bad = -1, rc = 0;
        for (int k = 0; k < 2 && bad < 0; k++) if ((rc = sc_check_grade(g[k], 0, 4, 1, 0))) bad = k;
        if (has_clinical[r])
            for (int k = 0; k < 3 && bad < 0; k++) if ((rc = sc_check_grade(c[k], 0, 1, 1, 0))) bad = 2 + k;
        if (bad >= 0) { sc_error(rows, r, rc, bad); continue; }
        for (int k = 0; k < 2; k++)
            class3[2 * r + k] = g[k] < 0 ? -1 : (g[k] <= 1 ? 0 : (g[k] == 2 ? 1 : 2));
        int crit; /* three-valued: 1 true, 0 false, -1 unknown */
        int L = g[0], R = g[1];
        if ((L >= 3) || (R >= 3) || (L >= 2 && R >= 2)) crit = 1;
        else if (L >= 0 && R >= 0) crit = 0;
        else crit = -1; /* one side unknown and the known side <= 2 */
        criterion[r] = (int8_t)crit;
        int incomplete = g[0] == SAI_SC_NULL || g[1] == SAI_SC_NULL;
        if (has_clinical[r]) {
            int yes = 0, unk = 0;
            for (int k = 0; k < 3; k++) { yes += c[k] == 1; unk += c[k] == SAI_SC_NULL; }
            int st = -1;
            if (crit == 1) {
                if (yes >= 1) st = 2;
                else if (unk == 0) st = 1;
            } else if (crit == 0) {
                if (yes == 3) st = 1;
                else if (yes + unk < 3) st = 0;
            }
            as_status[r] = (int8_t)st;
            incomplete |= unk > 0;
        }
        sc_ok(rows, r, incomplete);
    }
    return SAI_OK;
}
