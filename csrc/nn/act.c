/* act.c: ReLU, LeakyReLU, PReLU, sigmoid, tanh, softmax / log-softmax over
 * channels; forward and backward.  Elementwise loops are split over threads
 * in blocks; softmax works on [n, c, s] with the channel stride s. */
#include <math.h>

#include "nn_internal.h"

#define BLOCK 16384

sai_status sai_act_forward(sai_act_kind kind, const float *x, int64_t count, float slope, float *y)
{
    SAI_NN_CHECK_PTR(x, "input");
    SAI_NN_CHECK_PTR(y, "output");
    const int64_t nb = (count + BLOCK - 1) / BLOCK;
    const int nt = sai_nn_threads_for(nb);
    const int simd = sai_nn_avx512();
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t b = 0; b < nb; b++) {
        const int64_t lo = b * BLOCK, hi = lo + BLOCK < count ? lo + BLOCK : count;
        if (simd && (kind == SAI_ACT_RELU || kind == SAI_ACT_LEAKY_RELU)) {
            sai_act_rect_forward(x, y, lo, hi, kind == SAI_ACT_RELU, slope);
            continue;
        }
        switch (kind) {
        case SAI_ACT_RELU:
            for (int64_t i = lo; i < hi; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
            break;
        case SAI_ACT_LEAKY_RELU:
            for (int64_t i = lo; i < hi; i++) y[i] = x[i] > 0.0f ? x[i] : x[i] * slope;
            break;
        case SAI_ACT_SIGMOID:
            for (int64_t i = lo; i < hi; i++) {
                const float v = x[i];
                if (v >= 0.0f) {
                    y[i] = 1.0f / (1.0f + expf(-v));
                } else {
                    const float e = expf(v);
                    y[i] = e / (1.0f + e);
                }
            }
            break;
        case SAI_ACT_TANH:
            for (int64_t i = lo; i < hi; i++) y[i] = tanhf(x[i]);
            break;
        }
    }
    if ((unsigned)kind > SAI_ACT_TANH) return sai_error_set(SAI_EINVAL, "activation: unknown kind %d", kind);
    return SAI_OK;
}

sai_status sai_act_backward(sai_act_kind kind, const float *saved, const float *dy, int64_t count,
                            float slope, float *dx)
{
    SAI_NN_CHECK_PTR(saved, "saved tensor");
    SAI_NN_CHECK_PTR(dy, "grad_output");
    SAI_NN_CHECK_PTR(dx, "grad_input");
    if ((unsigned)kind > SAI_ACT_TANH) return sai_error_set(SAI_EINVAL, "activation: unknown kind %d", kind);
    const int64_t nb = (count + BLOCK - 1) / BLOCK;
    const int nt = sai_nn_threads_for(nb);
    const int simd = sai_nn_avx512();
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t b = 0; b < nb; b++) {
        const int64_t lo = b * BLOCK, hi = lo + BLOCK < count ? lo + BLOCK : count;
        if (simd && (kind == SAI_ACT_RELU || kind == SAI_ACT_LEAKY_RELU)) {
            sai_act_rect_backward(saved, dy, dx, lo, hi, kind == SAI_ACT_RELU, slope);
            continue;
        }
        switch (kind) {
        /* dy is loaded unconditionally so the select vectorises (a conditional load does not) */
        case SAI_ACT_RELU:
            for (int64_t i = lo; i < hi; i++) {
                const float g = dy[i];
                dx[i] = saved[i] > 0.0f ? g : 0.0f;
            }
            break;
        case SAI_ACT_LEAKY_RELU:
            for (int64_t i = lo; i < hi; i++) {
                const float g = dy[i], gs = g * slope;
                dx[i] = saved[i] > 0.0f ? g : gs;
            }
            break;
        case SAI_ACT_SIGMOID:
            for (int64_t i = lo; i < hi; i++) dx[i] = dy[i] * saved[i] * (1.0f - saved[i]);
            break;
        case SAI_ACT_TANH:
            for (int64_t i = lo; i < hi; i++) dx[i] = dy[i] * (1.0f - saved[i] * saved[i]);
            break;
        }
    }
    return SAI_OK;
}

sai_status sai_prelu_forward(const float *x, int n, int c, int64_t s, const float *w, int nw, float *y)
{
    SAI_NN_CHECK_PTR(x, "input");
    SAI_NN_CHECK_PTR(w, "weight");
    if (nw != 1 && nw != c)
        return sai_error_set(SAI_EINVAL, "PReLU: %d weights for %d channels (need 1 or %d)", nw, c, c);
    const int64_t rows = (int64_t)n * c;
    const int nt = sai_nn_threads_for(rows);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float a = w[nw == 1 ? 0 : r % c];
        const float *p = x + r * s;
        float *q = y + r * s;
        for (int64_t j = 0; j < s; j++) q[j] = p[j] > 0.0f ? p[j] : a * p[j];
    }
    return SAI_OK;
}

sai_status sai_prelu_backward(const float *x, const float *dy, int n, int c, int64_t s, const float *w,
                              int nw, float *dx, float *dw)
{
    SAI_NN_CHECK_PTR(x, "input");
    SAI_NN_CHECK_PTR(dy, "grad_output");
    if (nw != 1 && nw != c)
        return sai_error_set(SAI_EINVAL, "PReLU: %d weights for %d channels (need 1 or %d)", nw, c, c);
    const int64_t rows = (int64_t)n * c;
    double *acc = sai_nn_scratch(SAI_NN_WS_ACC, (size_t)rows * sizeof(double));
    if (!acc) return SAI_ENOMEM;
    const int nt = sai_nn_threads_for(rows);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float a = w[nw == 1 ? 0 : r % c];
        const float *p = x + r * s, *g = dy + r * s;
        double sum = 0.0;
        for (int64_t j = 0; j < s; j++) {
            if (p[j] > 0.0f) {
                if (dx) dx[r * s + j] = g[j];
            } else {
                if (dx) dx[r * s + j] = a * g[j];
                sum += (double)g[j] * p[j];
            }
        }
        acc[r] = sum;
    }
    if (dw) {
        for (int k = 0; k < nw; k++) dw[k] = 0.0f;
        double tot[1] = {0.0};
        for (int64_t r = 0; r < rows; r++) {
            if (nw == 1)
                tot[0] += acc[r];
            else
                dw[r % c] += (float)acc[r];
        }
        if (nw == 1) dw[0] = (float)tot[0];
    }
    return SAI_OK;
}

sai_status sai_softmax_forward(const float *x, int n, int c, int64_t s, int log, float *y)
{
    SAI_NN_CHECK_PTR(x, "input");
    SAI_NN_CHECK_PTR(y, "output");
    const int64_t nb = (s + 255) / 256, items = (int64_t)n * nb;
    const int nt = sai_nn_threads_for(items);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t it = 0; it < items; it++) {
        const int64_t i = it / nb, lo = (it % nb) * 256, hi = lo + 256 < s ? lo + 256 : s;
        const float *p = x + i * c * s;
        float *q = y + i * c * s;
        for (int64_t j = lo; j < hi; j++) {
            float m = p[j];
            for (int ch = 1; ch < c; ch++) m = fmaxf(m, p[ch * s + j]);
            double sum = 0.0;
            for (int ch = 0; ch < c; ch++) sum += expf(p[ch * s + j] - m);
            if (log) {
                const float lse = m + (float)logf((float)sum);
                for (int ch = 0; ch < c; ch++) q[ch * s + j] = p[ch * s + j] - lse;
            } else {
                const float inv = (float)(1.0 / sum);
                for (int ch = 0; ch < c; ch++) q[ch * s + j] = expf(p[ch * s + j] - m) * inv;
            }
        }
    }
    return SAI_OK;
}

sai_status sai_softmax_backward(const float *y, const float *dy, int n, int c, int64_t s, int log,
                                float *dx)
{
    SAI_NN_CHECK_PTR(y, "output");
    SAI_NN_CHECK_PTR(dy, "grad_output");
    SAI_NN_CHECK_PTR(dx, "grad_input");
    const int64_t nb = (s + 255) / 256, items = (int64_t)n * nb;
    const int nt = sai_nn_threads_for(items);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t it = 0; it < items; it++) {
        const int64_t i = it / nb, lo = (it % nb) * 256, hi = lo + 256 < s ? lo + 256 : s;
        const float *p = y + i * c * s, *g = dy + i * c * s;
        float *q = dx + i * c * s;
        for (int64_t j = lo; j < hi; j++) {
            float sum = 0.0f;
            if (log) {
                for (int ch = 0; ch < c; ch++) sum += g[ch * s + j];
                for (int ch = 0; ch < c; ch++) q[ch * s + j] = g[ch * s + j] - expf(p[ch * s + j]) * sum;
            } else {
                for (int ch = 0; ch < c; ch++) sum += g[ch * s + j] * p[ch * s + j];
                for (int ch = 0; ch < c; ch++) q[ch * s + j] = p[ch * s + j] * (g[ch * s + j] - sum);
            }
        }
    }
    return SAI_OK;
}
