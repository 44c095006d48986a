/* asdas.c: Ankylosing Spondylitis Disease Activity Score (ASDAS-CRP, ASDAS-ESR),
 * states and change categories.
 * Source definitions: Lukas C et al., Ann Rheum Dis 2009;68:18-24 (formulae,
 * three-decimal coefficients); Machado P et al., Ann Rheum Dis 2011;70:47-53
 * (cut-offs 1.3/2.1/3.5, improvement 1.1/2.0); Machado PM et al., Ann Rheum
 * Dis 2018;77:1539-1540 (state names).  SCORES.md sections 10.1-10.3. */
#include "sc_internal.h"

static const double COEF[2][2][5] = {
    /* CRP: published, rounded */
    {{0.121, 0.058, 0.110, 0.073, 0.579}, {0.12, 0.06, 0.11, 0.07, 0.58}},
    /* ESR: published, rounded */
    {{0.079, 0.069, 0.113, 0.086, 0.293}, {0.08, 0.07, 0.11, 0.09, 0.29}},
};

/* States are classified on the unrounded value (SCORES.md 10.7). */
int sai_asdas_state(double s)
{
    if (isnan(s)) return -1;
    if (s < 1.3) return 0;
    if (s < 2.1) return 1;
    if (s <= 3.5) return 2;
    return 3;
}

sai_status sai_asdas(int64_t n, int kind, int rounded, const double *bp, const double *dur,
                     const double *pg, const double *pp, const double *apr, sai_sc_rows rows,
                     double *score, double *apr_used, int8_t *state)
{
    SC_CHECK_ROWS(n, rows);
    if (kind != 0 && kind != 1) return sai_error_set(SAI_EINVAL, "asdas: kind must be 0 (CRP) or 1 (ESR)");
    if (rounded != 0 && rounded != 1) return sai_error_set(SAI_EINVAL, "asdas: rounded must be 0 or 1");
    const double *c = COEF[kind][rounded];
#pragma omp parallel for num_threads(sai_get_num_threads()) schedule(static) if (n > 8192)
    for (int64_t r = 0; r < n; r++) {
        double x[5] = {bp[r], dur[r], pg[r], pp[r], apr[r]};
        score[r] = NAN;
        apr_used[r] = NAN;
        state[r] = -1;
        int bad = -1, missing = 0;
        for (int k = 0; k < 5 && bad < 0; k++) {
            if (sc_check_real(x[k], 0.0, k < 4 ? 10.0 : INFINITY)) bad = k;
            missing |= isnan(x[k]);
        }
        if (bad >= 0) { sc_error(rows, r, SAI_SC_R_VALUE_OUT_OF_RANGE, bad); continue; }
        double a = x[4];
        if (!isnan(a)) apr_used[r] = kind == 0 ? (a < 2.0 ? 2.0 : a) : a;
        if (missing) { sc_ok(rows, r, 1); continue; }
        double term = kind == 0 ? log(apr_used[r] + 1.0) : sqrt(a);
        double s = c[0] * x[0] + c[1] * x[1] + c[2] * x[2] + c[3] * x[3] + c[4] * term;
        score[r] = s;
        state[r] = (int8_t)sai_asdas_state(s);
        sc_ok(rows, r, 0);
    }
    return SAI_OK;
}

/* Differences are compared with a 1e-9 tolerance (SCORES.md 0.2). */
sai_status sai_asdas_change(int64_t n, const double *baseline, const double *followup,
                            sai_sc_rows rows, double *delta, int8_t *important, int8_t *major)
{
    SC_CHECK_ROWS(n, rows);
#pragma omp parallel for num_threads(sai_get_num_threads()) schedule(static) if (n > 8192)
    for (int64_t r = 0; r < n; r++) {
        delta[r] = NAN;
        important[r] = major[r] = -1;
        if (sc_check_real(baseline[r], 0.0, INFINITY)) { sc_error(rows, r, SAI_SC_R_VALUE_OUT_OF_RANGE, 0); continue; }
        if (sc_check_real(followup[r], 0.0, INFINITY)) { sc_error(rows, r, SAI_SC_R_VALUE_OUT_OF_RANGE, 1); continue; }
        if (isnan(baseline[r]) || isnan(followup[r])) { sc_ok(rows, r, 1); continue; }
        double d = baseline[r] - followup[r];
        delta[r] = d;
        important[r] = d >= 1.1 - 1e-9;
        major[r] = d >= 2.0 - 1e-9;
        sc_ok(rows, r, 0);
    }
    return SAI_OK;
}
