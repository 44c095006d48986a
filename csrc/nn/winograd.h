/* winograd.h: Winograd F(2, 3) convolution for 3x3(x3) stride-1 layers (internal). */
#ifndef SAI_WINOGRAD_H
#define SAI_WINOGRAD_H

#include <stdint.h>

#include "sacroai/sai_nn.h"

/* Tile geometry shared by the forward and weight-gradient kernels: tiles of
 * 2 outputs per transformed axis (depth is transformed only for 3x3x3). */
typedef struct {
    int ad;             /* 4 when depth is transformed (3x3x3), 1 for kernel depth 1 */
    int md;             /* outputs per tile along depth: 2 or 1 */
    int P;              /* transform points per tile: ad * 16 */
    int TD, TH, TW;     /* tiles per axis */
    int PD, PH, PW;     /* padded input sizes */
    int64_t psp;        /* padded plane (one channel of one sample) */
    int64_t ntiles;     /* tiles of all samples */
} sai_wg_plan;

static inline void sai_wg_plan_init(const sai_conv_geom *g, sai_wg_plan *p)
{
    p->ad = g->k[0] == 3 ? 4 : 1;
    p->md = g->k[0] == 3 ? 2 : 1;
    p->P = p->ad * 16;
    p->TD = (g->out[0] + p->md - 1) / p->md;
    p->TH = (g->out[1] + 1) / 2;
    p->TW = (g->out[2] + 1) / 2;
    p->PD = p->ad == 4 ? 2 * p->TD + 2 : g->in[0];
    p->PH = 2 * p->TH + 2;
    p->PW = 2 * p->TW + 2;
    p->psp = (int64_t)p->PD * p->PH * p->PW;
    p->ntiles = (int64_t)g->n * p->TD * p->TH * p->TW;
}


/* 1 when the layer qualifies (groups 1, kernel 3x3 with depth 3 or 1, stride and
 * dilation 1, enough channels) and the kernel is enabled on this CPU. */
int sai_conv_winograd_ok(const sai_conv_geom *g);
extern int sai_winograd_enabled;
/* y = conv(x, w) + b for a layer that sai_conv_winograd_ok accepts. */
sai_status sai_conv_forward_winograd(const sai_conv_geom *g, const float *x, const float *w, const float *b,
                                     float *y);

/* As sai_conv_winograd_ok, for the weight gradient (also bounds c_out * c_in). */
int sai_conv_winograd_weight_ok(const sai_conv_geom *g);
/* dw = d loss / d w (overwritten) for a layer that sai_conv_winograd_weight_ok accepts. */
sai_status sai_conv_backward_weight_winograd(const sai_conv_geom *g, const float *x, const float *dy, float *dw);

#endif
