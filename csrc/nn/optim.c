/* optim.c: in-place parameter updates with the update rules of torch.optim
 * (the single-tensor code path), in float32 arithmetic like PyTorch's CPU
 * kernels.  Element-wise only, so any thread count gives identical results. */
#include <math.h>

#include "sacroai/sai_nn_train.h"

#define SAI_OPTIM_PAR_MIN 65536

sai_status sai_nn_sgd_step(float *param, const float *grad, float *buf, int64_t count,
                           double lr, double momentum, double dampening, double weight_decay,
                           int nesterov, int maximize, int first)
{
    if (count < 0) return sai_error_set(SAI_EINVAL, "sgd: negative element count");
    if (momentum != 0.0 && !buf)
        return sai_error_set(SAI_EINVAL, "sgd: momentum needs a momentum buffer");
    const float flr = (float)lr, fmom = (float)momentum, fdamp = (float)(1.0 - dampening);
    const float fwd = (float)weight_decay;
    const int use_wd = weight_decay != 0.0, use_mom = momentum != 0.0;
#pragma omp parallel for simd num_threads(sai_get_num_threads()) if (count > SAI_OPTIM_PAR_MIN)
    for (int64_t i = 0; i < count; i++) {
        float g = maximize ? -grad[i] : grad[i];
        if (use_wd) g = g + fwd * param[i];
        if (use_mom) {
            const float b = first ? g : buf[i] * fmom + fdamp * g;
            buf[i] = b;
            g = nesterov ? g + fmom * b : b;
        }
        param[i] = param[i] + (-flr) * g;
    }
    return SAI_OK;
}

sai_status sai_nn_adam_step(float *param, const float *grad, float *exp_avg, float *exp_avg_sq,
                            float *max_exp_avg_sq, int64_t count, double lr, double beta1,
                            double beta2, double eps, double weight_decay, int decoupled,
                            int maximize, int64_t step)
{
    if (count < 0) return sai_error_set(SAI_EINVAL, "adam: negative element count");
    if (step < 1) return sai_error_set(SAI_EINVAL, "adam: step must be >= 1, got %lld", (long long)step);
    const double bc1 = 1.0 - pow(beta1, (double)step);
    const double bc2 = 1.0 - pow(beta2, (double)step);
    const float step_size = (float)(lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const float w1 = (float)(1.0 - beta1), fb2 = (float)beta2, w2 = (float)(1.0 - beta2);
    const float feps = (float)eps, fwd = (float)weight_decay;
    const float decay = (float)(1.0 - lr * weight_decay);
    const int use_wd = weight_decay != 0.0;
#pragma omp parallel for simd num_threads(sai_get_num_threads()) if (count > SAI_OPTIM_PAR_MIN)
    for (int64_t i = 0; i < count; i++) {
        float g = maximize ? -grad[i] : grad[i];
        float p = param[i];
        if (use_wd) {
            if (decoupled)
                p = p * decay;
            else
                g = g + fwd * p;
        }
        /* torch.lerp with weight < 0.5: self + weight * (end - self) */
        const float m = w1 < 0.5f ? exp_avg[i] + w1 * (g - exp_avg[i])
                                  : g - (g - exp_avg[i]) * (1.0f - w1);
        const float v = exp_avg_sq[i] * fb2 + w2 * (g * g);
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
        float vv = v;
        if (max_exp_avg_sq) {
            vv = max_exp_avg_sq[i] > v ? max_exp_avg_sq[i] : v;
            max_exp_avg_sq[i] = vv;
        }
        const float denom = sqrtf(vv) / bc2_sqrt + feps;
        param[i] = p + (-step_size) * (m / denom);
    }
    return SAI_OK;
}
