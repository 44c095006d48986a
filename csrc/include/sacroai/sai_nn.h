/* sai_nn.h: neural-network layer kernels (float32, NCHW / NCDHW).
 *
 * 2D layers are 3D layers with depth 1 (kernel 1, stride 1, padding 0,
 * dilation 1 along D).  All arrays are C-contiguous float32 owned by the
 * caller; scratch memory comes from one per-thread workspace kept by the
 * nn core (sai_nn_workspace_release frees it).  Parallel loops use the
 * sacroai thread knob; sgemm runs single-threaded inside them.
 */
#ifndef SAI_NN_H
#define SAI_NN_H

#include <stdint.h>

#include "sacroai/sai_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Geometry of a convolution x[n, c_in, in] -> y[n, c_out, out] with weight
 * [c_out, c_in / groups, k[0], k[1], k[2]].  Index 0 is D, 1 is H, 2 is W. */
typedef struct {
    int n, c_in, c_out, groups;
    int in[3], out[3];
    int k[3], stride[3], pad[3], dil[3];
    int relu_out; /* forward only: ReLU after the bias (a folded eval conv-BN-ReLU); 0 otherwise */
} sai_conv_geom;

/* Check a geometry and fill `out` from the usual formula
 * out = (in + 2 pad - dil (k - 1) - 1) / stride + 1. */
sai_status sai_conv_geom_init(sai_conv_geom *g);

/* y = conv(x, w) + b (b may be NULL); then y > 0 ? y : 0 when g->relu_out (as sai_act_forward's ReLU). */
sai_status sai_conv_forward(const sai_conv_geom *g, const float *x, const float *w,
                            const float *b, float *y);
/* dx = conv^T(dy, w) (+ b per input channel when b != NULL; that is the
 * forward pass of the transposed convolution). */
sai_status sai_conv_backward_data(const sai_conv_geom *g, const float *dy, const float *w,
                                  const float *b, float *dx);
/* dw = d loss / d w (overwritten); db = sum of dy over n and space when db != NULL. */
sai_status sai_conv_backward_weight(const sai_conv_geom *g, const float *x, const float *dy,
                                    float *dw, float *db);
/* Tuning and testing knobs: column-tile sizes in bytes (forward, backward;
 * <= 0 keeps the current value) and the GEMM choice: 0 OpenBLAS sgemm, 1
 * packed AVX-512 kernel on im2col tiles, 2 (default) plus the implicit GEMM
 * for unit-stride layers with <= 32 output channels per group, 3 implicit
 * for all unit-stride layers.  Levels > 0 fall back to 0 without AVX-512. */
void sai_conv_set_tile_bytes(int64_t fwd, int64_t bwd);
void sai_conv_use_packed(int level);
/* Winograd F(2, 3) for 3x3(x3) stride-1 layers with groups 1 and at least
 * min_channels input and output channels (on = 0 disables it; min_channels
 * <= 0 keeps the current threshold, 8 by default).  Used where the CPU has
 * AVX-512 by the forward pass, backward-data and the weight gradient of such
 * layers; the same switch enables the direct weight gradient of 1x1 layers
 * with few channels.  on = 0 restores the im2col + GEMM results exactly. */
void sai_conv_use_winograd(int on, int min_channels);
/* Tile of the forward pass for kernel-depth-1 layers: 2 (F(2x2, 3x3), the
 * default) or 4 (F(4x4, 3x3): faster, ~10x larger rounding differences). */
void sai_conv_winograd_tile_2d(int m);

/* Attention gate step over x [n, c, s] and coefficients p [n, s]: y = x * p;
 * backward dx = g * p, dp = sum over c of g * x (float32, channel order). */
sai_status sai_gate_forward(const float *x, const float *p, int n, int c, int64_t s, float *y);
sai_status sai_gate_backward(const float *g, const float *x, const float *p, int n, int c, int64_t s, float *dx,
                             float *dp);

/* db[c] = sum over n and space of t[n, c, :] (t of shape [n, c, s]). */
sai_status sai_channel_sum(const float *t, int n, int c, int64_t s, float *db);

/* ---- normalization (x viewed as [n, c, s]) ----
 * Batch statistics per channel: mean[c], var[c] (biased). */
sai_status sai_bn_stats(const float *x, int n, int c, int64_t s, float *mean, float *var);
/* Group statistics per (n, group) over c/groups channels and space: mean, var (biased). */
sai_status sai_gn_stats(const float *x, int n, int c, int64_t s, int groups, float *mean,
                        float *var);
/* y = (x - mean) * invstd * gamma[c] + beta[c]; stats indexed by channel when
 * per_channel, else by (n, group).  gamma/beta may be NULL (1 and 0). */
sai_status sai_norm_apply(const float *x, int n, int c, int64_t s, int groups, int per_channel,
                          const float *mean, const float *invstd, const float *gamma,
                          const float *beta, float *y);
/* Backward of sai_norm_apply.  batch_stats: 1 when mean/invstd came from
 * this batch (so they depend on x), 0 when fixed (BN eval).  dx, dgamma and
 * dbeta may be NULL when not wanted. */
sai_status sai_norm_backward(const float *x, const float *dy, int n, int c, int64_t s,
                             int groups, int per_channel, int batch_stats, const float *mean,
                             const float *invstd, const float *gamma, float *dx, float *dgamma,
                             float *dbeta);

/* ---- activations (elementwise over `count`, or [n, c, s] when per channel) ---- */
typedef enum {
    SAI_ACT_RELU = 0,
    SAI_ACT_LEAKY_RELU = 1,
    SAI_ACT_SIGMOID = 2,
    SAI_ACT_TANH = 3
} sai_act_kind;
sai_status sai_act_forward(sai_act_kind kind, const float *x, int64_t count, float slope, float *y);
/* `saved` is the output y for ReLU/sigmoid/tanh and the input x for LeakyReLU. */
sai_status sai_act_backward(sai_act_kind kind, const float *saved, const float *dy, int64_t count,
                            float slope, float *dx);
/* PReLU with `nw` weights (1 or c). */
sai_status sai_prelu_forward(const float *x, int n, int c, int64_t s, const float *w, int nw,
                             float *y);
sai_status sai_prelu_backward(const float *x, const float *dy, int n, int c, int64_t s,
                              const float *w, int nw, float *dx, float *dw);
/* Softmax / log-softmax over the channel axis of [n, c, s]. */
sai_status sai_softmax_forward(const float *x, int n, int c, int64_t s, int log, float *y);
sai_status sai_softmax_backward(const float *y, const float *dy, int n, int c, int64_t s, int log,
                                float *dx);

/* ---- pooling over planes [nc, in] -> [nc, out] ---- */
typedef struct {
    int64_t nc;
    int in[3], out[3];
    int k[3], stride[3], pad[3], dil[3];
    int ceil_mode;
    int count_include_pad; /* average pooling */
} sai_pool_geom;
sai_status sai_pool_geom_init(sai_pool_geom *g);
/* indices: flat index within the input plane of each maximum (int64, like
 * PyTorch); may be NULL when no backward pass follows. */
sai_status sai_maxpool_forward(const sai_pool_geom *g, const float *x, float *y, int64_t *indices);
sai_status sai_maxpool_backward(const sai_pool_geom *g, const float *dy, const int64_t *indices,
                                float *dx);
sai_status sai_avgpool_forward(const sai_pool_geom *g, const float *x, float *y);
sai_status sai_avgpool_backward(const sai_pool_geom *g, const float *dy, float *dx);
/* Adaptive average pooling: bins [floor(i*in/out), ceil((i+1)*in/out)). */
sai_status sai_adaptive_avgpool_forward(int64_t nc, const int in[3], const int out[3],
                                        const float *x, float *y);
sai_status sai_adaptive_avgpool_backward(int64_t nc, const int in[3], const int out[3],
                                         const float *dy, float *dx);

/* ---- upsampling [nc, in] -> [nc, out] ----
 * mode 0 nearest (PyTorch "nearest"), 1 (bi/tri)linear.  scale[a] > 0 is the
 * user's scale factor (PyTorch then maps with 1/scale), else in/out is used. */
sai_status sai_upsample_forward(int64_t nc, const int in[3], const int out[3], int mode,
                                int align_corners, const double scale[3], const float *x,
                                float *y);
sai_status sai_upsample_backward(int64_t nc, const int in[3], const int out[3], int mode,
                                 int align_corners, const double scale[3], const float *dy,
                                 float *dx);

/* ---- linear: y[m, out] = x[m, in] w[out, in]^T + b ---- */
sai_status sai_linear_forward(const float *x, const float *w, const float *b, int m, int in,
                              int out, float *y);
/* dx (may be NULL) = dy w; dw = dy^T x (overwritten); db (may be NULL) = column sums of dy. */
sai_status sai_linear_backward(const float *x, const float *w, const float *dy, int m, int in,
                               int out, float *dx, float *dw, float *db);

/* ---- dropout with a counter-based generator ----
 * Element i is kept when u(seed, i) >= p, where u is the top 24 bits of
 * splitmix64(seed + (i + 1) * 0x9E3779B97F4A7C15) scaled to [0, 1); kept
 * elements are multiplied by 1 / (1 - p).  The same call applied to dy with
 * the same seed is the backward pass. */
sai_status sai_dropout(const float *x, int64_t count, float p, uint64_t seed, float *y);

/* Free the calling thread's nn workspace. */
void sai_nn_workspace_release(void);

#ifdef __cplusplus
}
#endif
#endif
