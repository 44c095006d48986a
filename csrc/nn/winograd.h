/* winograd.h: Winograd F(2, 3) convolution for 3x3(x3) stride-1 layers (internal). */
#ifndef SAI_WINOGRAD_H
#define SAI_WINOGRAD_H

#include "sacroai/sai_nn.h"

/* 1 when the layer qualifies (groups 1, kernel 3x3 with depth 3 or 1, stride and
 * dilation 1, enough channels) and the kernel is enabled on this CPU. */
int sai_conv_winograd_ok(const sai_conv_geom *g);
/* y = conv(x, w) + b for a layer that sai_conv_winograd_ok accepts. */
sai_status sai_conv_forward_winograd(const sai_conv_geom *g, const float *x, const float *w, const float *b,
                                     float *y);

/* As sai_conv_winograd_ok, for the weight gradient (also bounds c_out * c_in). */
int sai_conv_winograd_weight_ok(const sai_conv_geom *g);
/* dw = d loss / d w (overwritten) for a layer that sai_conv_winograd_weight_ok accepts. */
sai_status sai_conv_backward_weight_winograd(const sai_conv_geom *g, const float *x, const float *dy, float *dw);

#endif
