/* winograd.h: Winograd F(2, 3) convolution for 3x3(x3) stride-1 layers (internal). */
#ifndef SAI_WINOGRAD_H
#define SAI_WINOGRAD_H

#include <stdint.h>

#include "sacroai/sai_nn.h"
#include "gemm_avx512.h"

/* Tile geometry shared by the forward and weight-gradient kernels: tiles of
 * 2 outputs per transformed axis (depth is transformed only for 3x3x3). */
typedef struct {
    int m;              /* outputs per tile along H and W: 2 (F(2, 3)) or 4 (F(4, 3), 2-D only) */
    int ad;             /* 4 when depth is transformed (3x3x3), 1 for kernel depth 1 */
    int md;             /* outputs per tile along depth: 2 or 1 */
    int P;              /* transform points per tile: ad * (m + 2)^2 */
    int TD, TH, TW;     /* tiles per axis */
    int PD, PH, PW;     /* padded input sizes */
    int64_t psp;        /* padded plane (one channel of one sample) */
    int64_t ntiles;     /* tiles of all samples */
} sai_wg_plan;

static inline void sai_wg_plan_init(const sai_conv_geom *g, int m, sai_wg_plan *p)
{
    p->m = g->k[0] == 3 ? 2 : m;
    p->ad = g->k[0] == 3 ? 4 : 1;
    p->md = g->k[0] == 3 ? 2 : 1;
    p->P = p->ad * (p->m + 2) * (p->m + 2);
    p->TD = (g->out[0] + p->md - 1) / p->md;
    p->TH = (g->out[1] + p->m - 1) / p->m;
    p->TW = (g->out[2] + p->m - 1) / p->m;
    p->PD = p->ad == 4 ? 2 * p->TD + 2 : g->in[0];
    p->PH = p->m * p->TH + 2;
    p->PW = p->m * p->TW + 2;
    p->psp = (int64_t)p->PD * p->PH * p->PW;
    p->ntiles = (int64_t)g->n * p->TD * p->TH * p->TW;
}


/* 1 when the layer qualifies (groups 1, kernel 3x3 with depth 3 or 1, stride and
 * dilation 1, enough channels) and the kernel is enabled on this CPU. */
int sai_conv_winograd_ok(const sai_conv_geom *g);
extern int sai_winograd_enabled;
/* sai_conv_winograd_ok and enough tiles for the forward pass to pay for its weight transform. */
int sai_conv_winograd_forward_ok(const sai_conv_geom *g);
/* 1 when sai_conv_forward_winograd applies g->relu_out in its output transform (F(2, 3) tiles). */
int sai_conv_winograd_forward_applies_relu(const sai_conv_geom *g);
/* y = conv(x, w) + b for a layer that sai_conv_winograd_ok accepts (ReLU'd when the above holds). */
sai_status sai_conv_forward_winograd(const sai_conv_geom *g, const float *x, const float *w, const float *b,
                                     float *y);

/* F(4x4, 3x3) steps for kernel-depth-1 layers (winograd43.c): u[36][co][ci]
 * from w[co][ci][3][3]; the input transform of up to 16 tiles of one row into
 * v + point * pstride; the output transform of one output channel into yc. */
void sai_wg43_weight_transform(const float *w, int co_n, int ci_n, float *u);
void sai_wg43_input_chunk(const sai_wg_plan *pl, const float *xc, int td, int th, int tw, int len, float *v,
                          size_t pstride);
void sai_wg43_output_chunk(const sai_conv_geom *g, const float *m, size_t pstride, int td, int th, int tw, int len,
                           float bias, float *yc);

/* As sai_conv_winograd_ok, for the weight gradient (also bounds c_out * c_in). */
int sai_conv_winograd_weight_ok(const sai_conv_geom *g);
/* dw = d loss / d w (overwritten) for a layer that sai_conv_winograd_weight_ok accepts. */
sai_status sai_conv_backward_weight_winograd(const sai_conv_geom *g, const float *x, const float *dy, float *dw);

/* 1x1(x1) stride-1 layers with groups 1 on the packed GEMM (pointwise.c), under
 * the same switch as Winograd; the input gradient goes through the forward. */
int sai_conv_pointwise_ok(const sai_conv_geom *g);
sai_status sai_conv_forward_pointwise(const sai_conv_geom *g, const float *x, const float *w, const float *b,
                                      float *y);

/* Weight gradient of 1x1(x1) stride-1 layers with <= 32 output and <= 64
 * input channels (pointwise_weight.c); under the same switch as Winograd. */
int sai_conv_pointwise_weight_ok(const sai_conv_geom *g);
sai_status sai_conv_backward_weight_pointwise(const sai_conv_geom *g, const float *x, const float *dy, float *dw);

#endif
