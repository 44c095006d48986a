/* upsample.c: nearest and (bi/tri)linear resizing of [nc, d, h, w] planes.
 *
 * Source coordinates follow PyTorch's interpolate exactly (float arithmetic):
 *  - nearest: src = min(floor(dst * scale), in - 1), scale = 1/scale_factor
 *    when a factor was given, else in/out;
 *  - linear, align_corners=False: src = max(scale * (dst + 0.5) - 0.5, 0);
 *  - linear, align_corners=True: src = dst * (in - 1)/(out - 1).
 * Each axis gets a table of two source indices and two weights; the 3-D
 * result is their tensor product.  Backward scatters with the same tables.
 */
#include <math.h>
#include <string.h>

#include "nn_internal.h"

typedef struct {
    int i0, i1;
    float w0, w1;
} tap;

static void make_taps(int in, int out, int mode, int align, double scale_given, tap *t)
{
    for (int o = 0; o < out; o++) {
        if (mode == 0) {
            const float sc = scale_given > 0 ? (float)(1.0 / scale_given) : (float)in / (float)out;
            int i = (int)floorf((float)o * sc);
            if (i > in - 1) i = in - 1;
            t[o].i0 = t[o].i1 = i;
            t[o].w0 = 1.0f;
            t[o].w1 = 0.0f;
            continue;
        }
        float sc, src;
        if (align) {
            sc = out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
            src = sc * (float)o;
        } else {
            sc = scale_given > 0 ? (float)(1.0 / scale_given) : (float)in / (float)out;
            src = sc * ((float)o + 0.5f) - 0.5f;
            if (src < 0.0f) src = 0.0f;
        }
        int i0 = (int)src;
        if (i0 > in - 1) i0 = in - 1;
        const float lam = src - (float)i0;
        t[o].i0 = i0;
        t[o].i1 = i0 + (i0 < in - 1 ? 1 : 0);
        t[o].w1 = lam;
        t[o].w0 = 1.0f - lam;
    }
}

static sai_status run(int64_t nc, const int in[3], const int out[3], int mode, int align,
                      const double scale[3], const float *src, float *dst, int backward)
{
    if (mode != 0 && mode != 1) return sai_error_set(SAI_EINVAL, "upsample: mode must be 0 (nearest) or 1 (linear)");
    for (int a = 0; a < 3; a++)
        if (in[a] < 1 || out[a] < 1) return sai_error_set(SAI_EINVAL, "upsample: sizes must be >= 1");
    tap *tabs = sai_nn_scratch(SAI_NN_WS_WEIGHTS, (size_t)(out[0] + out[1] + out[2]) * sizeof(tap));
    if (!tabs) return SAI_ENOMEM;
    tap *td = tabs, *th = td + out[0], *tw = th + out[1];
    make_taps(in[0], out[0], mode, align, scale ? scale[0] : 0.0, td);
    make_taps(in[1], out[1], mode, align, scale ? scale[1] : 0.0, th);
    make_taps(in[2], out[2], mode, align, scale ? scale[2] : 0.0, tw);
    const int IH = in[1], IW = in[2];
    const int64_t isp = (int64_t)in[0] * in[1] * in[2], osp = (int64_t)out[0] * out[1] * out[2];
    const int nt = sai_nn_threads_for(nc);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t pc = 0; pc < nc; pc++) {
        if (backward) {
            float *dx = dst + pc * isp;
            const float *dy = src + pc * osp;
            memset(dx, 0, (size_t)isp * sizeof(float));
            int64_t o = 0;
            for (int od = 0; od < out[0]; od++)
                for (int oh = 0; oh < out[1]; oh++) {
                    const tap a = td[od], b = th[oh];
                    float *r00 = dx + ((int64_t)a.i0 * IH + b.i0) * IW;
                    float *r01 = dx + ((int64_t)a.i0 * IH + b.i1) * IW;
                    float *r10 = dx + ((int64_t)a.i1 * IH + b.i0) * IW;
                    float *r11 = dx + ((int64_t)a.i1 * IH + b.i1) * IW;
                    const float w00 = a.w0 * b.w0, w01 = a.w0 * b.w1, w10 = a.w1 * b.w0, w11 = a.w1 * b.w1;
                    for (int ow = 0; ow < out[2]; ow++, o++) {
                        const tap c = tw[ow];
                        const float g = dy[o];
                        r00[c.i0] += g * w00 * c.w0;
                        r00[c.i1] += g * w00 * c.w1;
                        r01[c.i0] += g * w01 * c.w0;
                        r01[c.i1] += g * w01 * c.w1;
                        r10[c.i0] += g * w10 * c.w0;
                        r10[c.i1] += g * w10 * c.w1;
                        r11[c.i0] += g * w11 * c.w0;
                        r11[c.i1] += g * w11 * c.w1;
                    }
                }
        } else {
            const float *x = src + pc * isp;
            float *y = dst + pc * osp;
            int64_t o = 0;
            for (int od = 0; od < out[0]; od++)
                for (int oh = 0; oh < out[1]; oh++) {
                    const tap a = td[od], b = th[oh];
                    const float *r00 = x + ((int64_t)a.i0 * IH + b.i0) * IW;
                    const float *r01 = x + ((int64_t)a.i0 * IH + b.i1) * IW;
                    const float *r10 = x + ((int64_t)a.i1 * IH + b.i0) * IW;
                    const float *r11 = x + ((int64_t)a.i1 * IH + b.i1) * IW;
                    if (mode == 0) {
                        for (int ow = 0; ow < out[2]; ow++, o++) y[o] = r00[tw[ow].i0];
                        continue;
                    }
                    for (int ow = 0; ow < out[2]; ow++, o++) {
                        const tap c = tw[ow];
                        const float v0 = b.w0 * (c.w0 * r00[c.i0] + c.w1 * r00[c.i1]) +
                                         b.w1 * (c.w0 * r01[c.i0] + c.w1 * r01[c.i1]);
                        const float v1 = b.w0 * (c.w0 * r10[c.i0] + c.w1 * r10[c.i1]) +
                                         b.w1 * (c.w0 * r11[c.i0] + c.w1 * r11[c.i1]);
                        y[o] = a.w0 * v0 + a.w1 * v1;
                    }
                }
        }
    }
    return SAI_OK;
}

sai_status sai_upsample_forward(int64_t nc, const int in[3], const int out[3], int mode, int align_corners,
                                const double scale[3], const float *x, float *y)
{
    SAI_NN_CHECK_PTR(x, "input");
    SAI_NN_CHECK_PTR(y, "output");
    return run(nc, in, out, mode, align_corners, scale, x, y, 0);
}

sai_status sai_upsample_backward(int64_t nc, const int in[3], const int out[3], int mode, int align_corners,
                                 const double scale[3], const float *dy, float *dx)
{
    SAI_NN_CHECK_PTR(dy, "grad_output");
    SAI_NN_CHECK_PTR(dx, "grad_input");
    return run(nc, in, out, mode, align_corners, scale, dy, dx, 1);
}
