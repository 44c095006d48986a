/* linear.c: fully connected layer by sgemm, and dropout with a counter-based
 * generator (so backward regenerates the mask from the seed instead of
 * storing it, and results do not depend on the thread count). */
#include <string.h>

#include "nn_internal.h"

sai_status sai_linear_forward(const float *x, const float *w, const float *b, int m, int in, int out, float *y)
{
    SAI_NN_CHECK_PTR(x, "input");
    SAI_NN_CHECK_PTR(w, "weight");
    SAI_NN_CHECK_PTR(y, "output");
    if (m < 1 || in < 1 || out < 1) return sai_error_set(SAI_EINVAL, "linear: empty shapes");
    float beta = 0.0f;
    if (b) {
        for (int i = 0; i < m; i++) memcpy(y + (int64_t)i * out, b, (size_t)out * sizeof(float));
        beta = 1.0f;
    }
    sai_sgemm(SAI_NO_TRANS, SAI_TRANS, m, out, in, 1.0f, x, in, w, in, beta, y, out);
    return SAI_OK;
}

sai_status sai_linear_backward(const float *x, const float *w, const float *dy, int m, int in, int out,
                               float *dx, float *dw, float *db)
{
    SAI_NN_CHECK_PTR(x, "input");
    SAI_NN_CHECK_PTR(w, "weight");
    SAI_NN_CHECK_PTR(dy, "grad_output");
    if (m < 1 || in < 1 || out < 1) return sai_error_set(SAI_EINVAL, "linear: empty shapes");
    if (dx) sai_sgemm(SAI_NO_TRANS, SAI_NO_TRANS, m, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
    if (dw) sai_sgemm(SAI_TRANS, SAI_NO_TRANS, out, in, m, 1.0f, dy, out, x, in, 0.0f, dw, in);
    if (db) {
        for (int j = 0; j < out; j++) {
            double s = 0.0;
            for (int i = 0; i < m; i++) s += dy[(int64_t)i * out + j];
            db[j] = (float)s;
        }
    }
    return SAI_OK;
}

static inline uint64_t splitmix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

sai_status sai_dropout(const float *x, int64_t count, float p, uint64_t seed, float *y)
{
    SAI_NN_CHECK_PTR(x, "input");
    SAI_NN_CHECK_PTR(y, "output");
    if (!(p >= 0.0f && p < 1.0f)) return sai_error_set(SAI_EINVAL, "dropout: p must be in [0, 1), got %g", p);
    const float scale = 1.0f / (1.0f - p);
    const uint32_t thresh = (uint32_t)((double)p * 16777216.0); /* keep when u24 >= p * 2^24 */
    const int64_t nb = (count + 16383) / 16384;
    const int nt = sai_nn_threads_for(nb);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t b = 0; b < nb; b++) {
        const int64_t lo = b * 16384, hi = lo + 16384 < count ? lo + 16384 : count;
        for (int64_t i = lo; i < hi; i++) {
            const uint32_t u = (uint32_t)(splitmix64(seed + ((uint64_t)i + 1) * 0x9E3779B97F4A7C15ULL) >> 40);
            y[i] = u >= thresh ? x[i] * scale : 0.0f;
        }
    }
    return SAI_OK;
}
