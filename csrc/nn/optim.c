/* optim.c: in-place parameter updates with the update rules of torch.optim
 * (the single-tensor code path), in float32 arithmetic like PyTorch's CPU
 * kernels.  Element-wise only, so any thread count gives identical results.
 *
 * Each update runs over contiguous ranges in a function that takes every
 * coefficient by value and the buffers as restrict pointers, so the compiler
 * can hoist the option tests out of the loop and vectorize it. */
#include <math.h>

#include "sacroai/sai_nn_train.h"

#define SAI_OPTIM_PAR_MIN 65536
#define SAI_OPTIM_CHUNK 16384

typedef struct {
    float lr, momentum, damp, wd;
    int use_wd, use_mom, nesterov, maximize, first;
} sgd_opts;

static void sgd_range(float *restrict param, const float *restrict grad, float *restrict buf,
                      int64_t n, const sgd_opts o)
{
    const float neg_lr = -o.lr, mom = o.momentum, damp = o.damp, wd = o.wd;
    if (!o.use_mom) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) {
            float g = o.maximize ? -grad[i] : grad[i];
            if (o.use_wd) g = g + wd * param[i];
            param[i] = param[i] + neg_lr * g;
        }
        return;
    }
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        float g = o.maximize ? -grad[i] : grad[i];
        if (o.use_wd) g = g + wd * param[i];
        const float b = o.first ? g : buf[i] * mom + damp * g;
        buf[i] = b;
        const float step = o.nesterov ? g + mom * b : b;
        param[i] = param[i] + neg_lr * step;
    }
}

sai_status sai_nn_sgd_step(float *param, const float *grad, float *buf, int64_t count,
                           double lr, double momentum, double dampening, double weight_decay,
                           int nesterov, int maximize, int first)
{
    if (count < 0) return sai_error_set(SAI_EINVAL, "sgd: negative element count");
    if (momentum != 0.0 && !buf)
        return sai_error_set(SAI_EINVAL, "sgd: momentum needs a momentum buffer");
    const sgd_opts o = {(float)lr, (float)momentum, (float)(1.0 - dampening), (float)weight_decay,
                        weight_decay != 0.0, momentum != 0.0, nesterov != 0, maximize != 0, first != 0};
    const int64_t chunks = (count + SAI_OPTIM_CHUNK - 1) / SAI_OPTIM_CHUNK;
#pragma omp parallel for num_threads(sai_get_num_threads()) if (count > SAI_OPTIM_PAR_MIN)
    for (int64_t c = 0; c < chunks; c++) {
        const int64_t i0 = c * SAI_OPTIM_CHUNK;
        const int64_t n = count - i0 < SAI_OPTIM_CHUNK ? count - i0 : SAI_OPTIM_CHUNK;
        sgd_range(param + i0, grad + i0, buf ? buf + i0 : NULL, n, o);
    }
    return SAI_OK;
}

typedef struct {
    float step_size, bc2_sqrt, w1, b2, w2, eps, wd, decay;
    int use_wd, decoupled, maximize, amsgrad;
} adam_opts;

/* The loop body with the options as compile-time constants at each call
 * site below (GCC does not unswitch this loop by itself). */
static inline __attribute__((always_inline)) void
adam_body(float *restrict param, const float *restrict grad, float *restrict m_buf,
          float *restrict v_buf, float *restrict vmax_buf, int64_t n, const adam_opts o,
          const int wd_mode, const int amsgrad, const int lerp_low)
{
    const float neg_step = -o.step_size, w1 = o.w1, b2 = o.b2, w2 = o.w2;
    const float bc2_sqrt = o.bc2_sqrt, eps = o.eps, wd = o.wd, decay = o.decay;
    const float sign = o.maximize ? -1.0f : 1.0f;
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        float g = sign * grad[i];
        float p = param[i];
        if (wd_mode == 1) g = g + wd * p;       /* Adam: L2 penalty in the gradient */
        if (wd_mode == 2) p = p * decay;        /* AdamW: decoupled decay */
        /* torch.lerp: weight < 0.5 ? self + weight * (end - self) : end - (end - self) * (1 - weight) */
        const float m0 = m_buf[i];
        const float m = lerp_low ? m0 + w1 * (g - m0) : g - (g - m0) * (1.0f - w1);
        const float v = v_buf[i] * b2 + w2 * (g * g);
        m_buf[i] = m;
        v_buf[i] = v;
        float vv = v;
        if (amsgrad) {
            const float old = vmax_buf[i];
            vv = old > v ? old : v;
            vmax_buf[i] = vv;
        }
        const float denom = sqrtf(vv) / bc2_sqrt + eps;
        param[i] = p + neg_step * (m / denom);
    }
}

static void adam_range(float *restrict param, const float *restrict grad, float *restrict m_buf,
                       float *restrict v_buf, float *restrict vmax_buf, int64_t n, const adam_opts o)
{
    const int wd_mode = !o.use_wd ? 0 : (o.decoupled ? 2 : 1);
    const int low = o.w1 < 0.5f;
#define ADAM_CASE(WD, AMS, LOW) \
    if (wd_mode == WD && o.amsgrad == AMS && low == LOW) { \
        adam_body(param, grad, m_buf, v_buf, vmax_buf, n, o, WD, AMS, LOW); \
        return; \
    }
    ADAM_CASE(0, 0, 1) ADAM_CASE(1, 0, 1) ADAM_CASE(2, 0, 1)
    ADAM_CASE(0, 1, 1) ADAM_CASE(1, 1, 1) ADAM_CASE(2, 1, 1)
    ADAM_CASE(0, 0, 0) ADAM_CASE(1, 0, 0) ADAM_CASE(2, 0, 0)
    ADAM_CASE(0, 1, 0) ADAM_CASE(1, 1, 0) ADAM_CASE(2, 1, 0)
#undef ADAM_CASE
}

sai_status sai_nn_adam_step(float *param, const float *grad, float *exp_avg, float *exp_avg_sq,
                            float *max_exp_avg_sq, int64_t count, double lr, double beta1,
                            double beta2, double eps, double weight_decay, int decoupled,
                            int maximize, int64_t step)
{
    if (count < 0) return sai_error_set(SAI_EINVAL, "adam: negative element count");
    if (step < 1) return sai_error_set(SAI_EINVAL, "adam: step must be >= 1, got %lld", (long long)step);
    /* bias corrections in double, as PyTorch computes them from Python floats */
    const double bc1 = 1.0 - pow(beta1, (double)step);
    const double bc2 = 1.0 - pow(beta2, (double)step);
    const adam_opts o = {(float)(lr / bc1), (float)sqrt(bc2), (float)(1.0 - beta1), (float)beta2,
                         (float)(1.0 - beta2), (float)eps, (float)weight_decay,
                         (float)(1.0 - lr * weight_decay), weight_decay != 0.0, decoupled != 0,
                         maximize != 0, max_exp_avg_sq != NULL};
    const int64_t chunks = (count + SAI_OPTIM_CHUNK - 1) / SAI_OPTIM_CHUNK;
#pragma omp parallel for num_threads(sai_get_num_threads()) if (count > SAI_OPTIM_PAR_MIN)
    for (int64_t c = 0; c < chunks; c++) {
        const int64_t i0 = c * SAI_OPTIM_CHUNK;
        const int64_t n = count - i0 < SAI_OPTIM_CHUNK ? count - i0 : SAI_OPTIM_CHUNK;
        adam_range(param + i0, grad + i0, exp_avg + i0, exp_avg_sq + i0,
                   max_exp_avg_sq ? max_exp_avg_sq + i0 : NULL, n, o);
    }
    return SAI_OK;
}
