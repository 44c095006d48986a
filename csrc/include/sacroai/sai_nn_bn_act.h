/* sai_nn_bn_act.h: batch norm over a leading channel range, fused with an
 * optional residual add and ReLU, forward and backward.
 *
 * x is viewed as [n, c_total, s] (C-contiguous) and only channels [0, c) are
 * normalized, so a dense block's growing feature buffer can be normalized in
 * place of a concatenated copy.  Every result is bit-identical to the
 * unfused sequence sai_bn_stats / sai_norm_apply / ReLU / sai_norm_backward
 * (same float and double operations in the same order), whatever the
 * thread count.
 */
#ifndef SAI_NN_BN_ACT_H
#define SAI_NN_BN_ACT_H

#include <stdint.h>

#include "sacroai/sai_common.h"

/* Per-channel batch mean and biased variance of channels [0, c) of x[n, c_total, s]. */
sai_status sai_bn_stats_range(const float *x, int n, int c, int c_total, int64_t s, float *mean, float *var);

/* y[n, c, s] = act((x - mean) * invstd * gamma + beta [+ residual]) over channels [0, c) of
 * x[n, c_total, s]; act is ReLU when relu, else identity.  gamma/beta/residual may be NULL;
 * residual has the shape of y. */
sai_status sai_bn_act_forward(const float *x, int n, int c, int c_total, int64_t s, const float *mean,
                              const float *invstd, const float *gamma, const float *beta,
                              const float *residual, int relu, float *y);

/* Training forward in one call: the batch statistics of sai_bn_stats_range (mean, biased var),
 * invstd = (float)(1 / sqrt((double)var + eps)), then y as sai_bn_act_forward.  With >= 8
 * samples each channel is finished while its rows are in cache. */
sai_status sai_bn_act_forward_train(const float *x, int n, int c, int c_total, int64_t s, double eps,
                                    const float *gamma, const float *beta, const float *residual, int relu,
                                    float *y, float *mean, float *var, float *invstd);

/* Backward of sai_bn_act_forward without a residual.  dy is [n, c, s], the
 * gradient at the ReLU output when relu (the ReLU mask is recomputed from x),
 * else at the norm output.  batch_stats: mean/invstd came from this batch.
 * dx (may be NULL) is [n, dx_c_total, s] and receives channels [0, c): written
 * when !accumulate, added to (dx += grad) when accumulate.  dgamma/dbeta may
 * be NULL. */
sai_status sai_bn_act_backward(const float *x, const float *dy, int n, int c, int c_total, int64_t s,
                               int batch_stats, const float *mean, const float *invstd, const float *gamma,
                               const float *beta, int relu, float *dx, int dx_c_total, int accumulate,
                               float *dgamma, float *dbeta);

/* Testing knob: 0 forces the scalar reductions, 1 (default) uses AVX2 when the CPU has it.
 * Both give the same bits. */
void sai_bn_act_use_simd(int on);

#endif
