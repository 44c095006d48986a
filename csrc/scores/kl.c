/* kl.c: Kellgren-Lawrence radiographic OA grade (0-4); OA = grade >= 2.
 * Source definition: Kellgren JH, Lawrence JS, Ann Rheum Dis 1957;16:494-502;
 * SCORES.md section 7.1.  Null grades are not accepted. */
#include "sc_internal.h"

sai_status sai_kl(int64_t n, const int8_t *grade, sai_sc_rows rows, int8_t *oa)
{
    SC_CHECK_ROWS(n, rows);
    for (int64_t r = 0; r < n; r++) {
        oa[r] = -1;
        int rc = sc_check_grade(grade[r], 0, 4, 0, 0);
        if (rc) { sc_error(rows, r, rc, 0); continue; }
        oa[r] = grade[r] >= 2;
        sc_ok(rows, r, 0);
    }
    return SAI_OK;
}
