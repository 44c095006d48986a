/* sai_nn_train.h: loss functions with their gradients, and optimizer steps.
 *
 * Losses work on contiguous float32 buffers and write unreduced per-element
 * losses plus the gradient of each element's loss with respect to the
 * logits; the caller applies the reduction (mean/sum) and its scale.  Every
 * output element is computed by exactly one thread with a fixed summation
 * order, so results do not depend on the thread count.
 *
 * Optimizer steps update parameters in place, following the update rules of
 * torch.optim (SGD, Adam, AdamW) element by element.
 */
#ifndef SAI_NN_TRAIN_H
#define SAI_NN_TRAIN_H

#include <stdint.h>

#include "sacroai/sai_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Softmax cross-entropy over the class axis of logits laid out (n, c, s)
 * (s = product of spatial sizes, 1 for classification), targets (n, s).
 * weight: per-class weights (c) or NULL.  Elements whose target equals
 * ignore_index get loss 0, weight 0 and gradient 0.  Outputs:
 *   loss[n*s]  per-element loss  (1-eps) w[y] (-log p_y) + eps/c sum_k w_k (-log p_k)
 *   wsum[n*s]  w[y] (0 when ignored), the PyTorch mean denominator
 *   grad[n*c*s] d loss_element / d logits (may be NULL).
 * A target outside [0, c) other than ignore_index is SAI_EINVAL. */
sai_status sai_nn_cross_entropy(const float *logits, int64_t n, int64_t c, int64_t s,
                                const int64_t *target, const float *weight,
                                float label_smoothing, int64_t ignore_index, float *loss,
                                float *wsum, float *grad);

/* Binary cross-entropy with logits, element-wise over `count` elements.
 * pos_weight and weight are NULL or full-size (already broadcast) buffers. */
sai_status sai_nn_bce_logits(const float *x, const float *y, const float *pos_weight,
                             const float *weight, int64_t count, float *loss, float *grad);

/* Sigmoid focal loss (Lin et al. 2017, torchvision's formula):
 *   ce * (1 - p_t)^gamma * alpha_t;  alpha < 0 disables the alpha term. */
sai_status sai_nn_focal_sigmoid(const float *x, const float *y, int64_t count, float gamma,
                                float alpha, float *loss, float *grad);

/* Squared error (x - y)^2 with gradient 2 (x - y); absolute error |x - y|
 * with gradient sign(x - y) (0 at 0, as PyTorch). */
sai_status sai_nn_squared_error(const float *x, const float *y, int64_t count, float *loss,
                                float *grad);
sai_status sai_nn_absolute_error(const float *x, const float *y, int64_t count, float *loss,
                                 float *grad);

/* Softmax over the channel axis of (n, c, s) and its backward:
 * grad_x = p * (grad_p - sum_k grad_p_k p_k). */
sai_status sai_nn_softmax_channels(const float *x, int64_t n, int64_t c, int64_t s, float *p);
sai_status sai_nn_softmax_channels_backward(const float *p, const float *grad_p, int64_t n,
                                            int64_t c, int64_t s, float *grad_x);

/* Per-row sums for the soft Dice loss over rows of length s:
 * out[3*r + 0] = sum p*t, out[3*r + 1] = sum p (or p^2 when squared),
 * out[3*r + 2] = sum t (or t^2 when squared).  Double accumulation. */
sai_status sai_nn_dice_sums(const float *p, const float *t, int64_t rows, int64_t s,
                            int squared, double *out);

/* torch.optim.SGD for one parameter tensor.  buf (momentum buffer) may be
 * NULL when momentum == 0; `first` marks the first step (buf := grad). */
sai_status sai_nn_sgd_step(float *param, const float *grad, float *buf, int64_t count,
                           double lr, double momentum, double dampening, double weight_decay,
                           int nesterov, int maximize, int first);

/* torch.optim.Adam (decoupled = 0) or AdamW (decoupled = 1) for one
 * parameter tensor; step is the 1-based step count after incrementing.
 * max_exp_avg_sq is NULL unless amsgrad. */
sai_status sai_nn_adam_step(float *param, const float *grad, float *exp_avg, float *exp_avg_sq,
                            float *max_exp_avg_sq, int64_t count, double lr, double beta1,
                            double beta2, double eps, double weight_decay, int decoupled,
                            int maximize, int64_t step);

#ifdef __cplusplus
}
#endif
#endif
