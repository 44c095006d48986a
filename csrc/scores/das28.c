/* das28.c: Disease Activity Score in 28 joints (ESR/CRP, 4- and 3-variable).
 * Source definitions: Prevoo MLL et al., Arthritis Rheum 1995;38:44-48;
 * das-score.nl alternative validated formulae; SCORES.md section 10.5.
 * States: remission < 2.6, low <= 3.2, moderate <= 5.1, high > 5.1. */
#include "sc_internal.h"

static int das28_state(double s)
{
    if (s < 2.6) return 0;
    if (s <= 3.2) return 1;
    if (s <= 5.1) return 2;
    return 3;
}

static int check_count(double v)
{
    if (isnan(v)) return 0;
    if (!isfinite(v) || v < 0 || v > 28 || v != floor(v)) return SAI_SC_R_VALUE_OUT_OF_RANGE;
    return 0;
}

sai_status sai_das28(int64_t n, const int8_t *variant, const double *tjc, const double *sjc,
                     const double *apr, const double *gh, sai_sc_rows rows, double *score,
                     int8_t *state)
{
    SC_CHECK_ROWS(n, rows);
#pragma omp parallel for num_threads(sai_get_num_threads()) schedule(static) if (n > 8192)
    for (int64_t r = 0; r < n; r++) {
        score[r] = NAN;
        state[r] = -1;
        int v = variant[r];
        if (v < 0 || v > 3) { sc_error(rows, r, SAI_SC_R_MALFORMED_INPUT, -1); continue; }
        int esr = v < 2, four = (v % 2) == 0;
        if (check_count(tjc[r])) { sc_error(rows, r, SAI_SC_R_VALUE_OUT_OF_RANGE, 0); continue; }
        if (check_count(sjc[r])) { sc_error(rows, r, SAI_SC_R_VALUE_OUT_OF_RANGE, 1); continue; }
        double a = apr[r];
        if (!isnan(a) && (!isfinite(a) || (esr ? a <= 0.0 : a < 0.0))) {
            sc_error(rows, r, SAI_SC_R_VALUE_OUT_OF_RANGE, 2);
            continue;
        }
        if (four && sc_check_real(gh[r], 0.0, 100.0)) { sc_error(rows, r, SAI_SC_R_VALUE_OUT_OF_RANGE, 3); continue; }
        if (isnan(tjc[r]) || isnan(sjc[r]) || isnan(a) || (four && isnan(gh[r]))) {
            sc_ok(rows, r, 1);
            continue;
        }
        double joints = 0.56 * sqrt(tjc[r]) + 0.28 * sqrt(sjc[r]);
        double s;
        if (esr) {
            double core = joints + 0.70 * log(a);
            s = four ? core + 0.014 * gh[r] : core * 1.08 + 0.16;
        } else {
            double core = joints + 0.36 * log(a + 1.0);
            s = four ? core + 0.014 * gh[r] + 0.96 : core * 1.10 + 1.15;
        }
        score[r] = s;
        state[r] = (int8_t)das28_state(s);
        sc_ok(rows, r, 0);
    }
    return SAI_OK;
}
