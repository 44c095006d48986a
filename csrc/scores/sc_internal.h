/* sc_internal.h: helpers shared by the score kernels (not public). */
#ifndef SAI_SC_INTERNAL_H
#define SAI_SC_INTERNAL_H

#include <math.h>
#include "sacroai/sai_scores.h"

/* Mark row r as an error with `reason` at input element `field`. */
static inline void sc_error(sai_sc_rows rows, int64_t r, int reason, int32_t field)
{
    rows.status[r] = SAI_SC_STATUS_ERROR;
    rows.reason[r] = (int8_t)reason;
    rows.field[r] = field;
}

static inline void sc_ok(sai_sc_rows rows, int64_t r, int incomplete)
{
    rows.status[r] = incomplete ? SAI_SC_STATUS_INCOMPLETE : SAI_SC_STATUS_OK;
    rows.reason[r] = SAI_SC_R_NONE;
    rows.field[r] = -1;
}

/* Check an int8 grade in lo..hi (or NULL when null_ok, NA when na_ok).
 * Returns the reason code (0 when fine). */
static inline int sc_check_grade(int8_t v, int lo, int hi, int null_ok, int na_ok)
{
    if (v == SAI_SC_NULL) return null_ok ? 0 : SAI_SC_R_MALFORMED_INPUT;
    if (v == SAI_SC_NA) return na_ok ? 0 : SAI_SC_R_VALUE_OUT_OF_RANGE;
    if (v < lo || v > hi) return SAI_SC_R_VALUE_OUT_OF_RANGE;
    return 0;
}

/* A double input: NaN = null; otherwise finite and within [lo, hi]. */
static inline int sc_check_real(double v, double lo, double hi)
{
    if (isnan(v)) return 0;
    if (!isfinite(v) || v < lo || v > hi) return SAI_SC_R_VALUE_OUT_OF_RANGE;
    return 0;
}

#define SC_CHECK_ROWS(n, rows)                                                    \
    do {                                                                          \
        if ((n) < 0) return sai_error_set(SAI_EINVAL, "n must be >= 0");          \
        if ((n) > 0 && (!(rows).status || !(rows).reason || !(rows).field))       \
            return sai_error_set(SAI_EINVAL, "row status/reason/field are NULL"); \
    } while (0)

#endif
