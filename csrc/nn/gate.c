/* gate.c: the multiplicative step of an additive attention gate.
 *
 * Forward y[n][c][s] = x[n][c][s] * p[n][s] (one coefficient map shared by the
 * channels); backward dx = g * p and dp[n][s] = sum over c of g * x, summed
 * over c in order (channel 0 first) in float32, as NumPy's
 * sum(g * x, axis=1) does, so the result is the same bits; one pass instead
 * of NumPy's three full-size temporaries.
 */
#include "nn_internal.h"

#define SCHUNK 4096 /* positions per work item */

SAI_CLONES static void gate_fwd_chunk(const float *x, const float *p, float *y, int c, int64_t s, int64_t j0,
                                      int64_t j1)
{
    for (int ch = 0; ch < c; ch++) {
        const float *xr = x + ch * s;
        float *yr = y + ch * s;
        for (int64_t j = j0; j < j1; j++) yr[j] = xr[j] * p[j];
    }
}

SAI_CLONES static void gate_bwd_chunk(const float *g, const float *x, const float *p, float *dx, float *dp, int c,
                                      int64_t s, int64_t j0, int64_t j1)
{
    for (int64_t j = j0; j < j1; j++) dp[j] = g[j] * x[j];
    for (int64_t j = j0; j < j1; j++) dx[j] = g[j] * p[j];
    for (int ch = 1; ch < c; ch++) {
        const float *gr = g + ch * s, *xr = x + ch * s;
        float *dxr = dx + ch * s;
        for (int64_t j = j0; j < j1; j++) {
            dp[j] += gr[j] * xr[j];
            dxr[j] = gr[j] * p[j];
        }
    }
}

sai_status sai_gate_forward(const float *x, const float *p, int n, int c, int64_t s, float *y)
{
    SAI_NN_CHECK_PTR(x, "x");
    SAI_NN_CHECK_PTR(p, "coefficients");
    SAI_NN_CHECK_PTR(y, "y");
    const int64_t per = (s + SCHUNK - 1) / SCHUNK, items = (int64_t)n * per;
    const int nt = sai_nn_threads_for(items);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t it = 0; it < items; it++) {
        const int64_t ni = it / per, j0 = (it % per) * SCHUNK, j1 = j0 + SCHUNK < s ? j0 + SCHUNK : s;
        gate_fwd_chunk(x + ni * c * s, p + ni * s, y + ni * c * s, c, s, j0, j1);
    }
    return SAI_OK;
}

sai_status sai_gate_backward(const float *g, const float *x, const float *p, int n, int c, int64_t s, float *dx,
                             float *dp)
{
    SAI_NN_CHECK_PTR(g, "grad_output");
    SAI_NN_CHECK_PTR(x, "x");
    SAI_NN_CHECK_PTR(p, "coefficients");
    SAI_NN_CHECK_PTR(dx, "grad_x");
    SAI_NN_CHECK_PTR(dp, "grad_coefficients");
    if (c < 1) return sai_error_set(SAI_EINVAL, "attention gate: need at least one channel");
    const int64_t per = (s + SCHUNK - 1) / SCHUNK, items = (int64_t)n * per;
    const int nt = sai_nn_threads_for(items);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t it = 0; it < items; it++) {
        const int64_t ni = it / per, j0 = (it % per) * SCHUNK, j1 = j0 + SCHUNK < s ? j0 + SCHUNK : s;
        gate_bwd_chunk(g + ni * c * s, x + ni * c * s, p + ni * s, dx + ni * c * s, dp + ni * s, c, s, j0, j1);
    }
    return SAI_OK;
}
