/* pool.c: max, average and adaptive average pooling over [nc, d, h, w] planes.
 *
 * Window rules are PyTorch's: output size with floor or ceil mode (a last
 * window that would start in the right padding is dropped); max pooling
 * keeps the flat in-plane index of the maximum for the backward scatter
 * (first maximum on ties; a NaN replaces the running maximum, so the last
 * NaN wins, as in PyTorch); average pooling divides by the window clipped to
 * the padded input (count_include_pad) or to the input.
 */
#include <math.h>
#include <string.h>

#include "nn_internal.h"

static int pool_out(int in, int k, int s, int p, int d, int ceil_mode)
{
    int64_t num = (int64_t)in + 2 * p - (int64_t)d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
    int64_t o = (num < 0 ? -((-num + s - 1) / s) : num / s) + 1;
    if (ceil_mode && (o - 1) * s >= (int64_t)in + p) o--;
    return (int)o;
}

sai_status sai_pool_geom_init(sai_pool_geom *g)
{
    if (!g || g->nc < 1) return sai_error_set(SAI_EINVAL, "pool: empty input");
    for (int a = 0; a < 3; a++) {
        if (g->k[a] < 1 || g->stride[a] < 1 || g->dil[a] < 1 || g->pad[a] < 0 || g->in[a] < 1)
            return sai_error_set(SAI_EINVAL, "pool: kernel, stride, dilation, size must be >= 1 and padding >= 0");
        if (2 * g->pad[a] > g->k[a])
            return sai_error_set(SAI_EINVAL, "pool: padding %d must be at most half the kernel size %d",
                                 g->pad[a], g->k[a]);
        g->out[a] = pool_out(g->in[a], g->k[a], g->stride[a], g->pad[a], g->dil[a], g->ceil_mode);
        if (g->out[a] < 1) return sai_error_set(SAI_EINVAL, "pool: output would be empty (input too small)");
    }
    return SAI_OK;
}

static sai_status check(const sai_pool_geom *g)
{
    sai_pool_geom c = *g;
    sai_status rc = sai_pool_geom_init(&c);
    if (rc) return rc;
    for (int a = 0; a < 3; a++)
        if (c.out[a] != g->out[a]) return sai_error_set(SAI_EINVAL, "pool: output size mismatch");
    return SAI_OK;
}

/* Interior outputs [ow_lo, ow_hi) of one output row of a 2-D max pool (depth 1, no
 * dilation): the window rows start at `base` (input row h0, column 0), window column
 * starts at ow * SW - pw.  Same rule as the scalar scan (first maximum, the last NaN
 * wins), written over a chunk of outputs at once so it compiles to SIMD selects
 * instead of data-dependent branches. */
#define POOL_CHUNK 256
#define MAXPOOL_ROW(NAME, SW_EXPR)                                                                      \
    static void NAME(const float *base, int IW, int kh, int kw, int sw_arg, int pw, int ow_lo, int ow_hi,  \
                     int64_t row_off, float *yp, int64_t *ip)                                           \
    {                                                                                                   \
        const int SW = SW_EXPR;                                                                         \
        (void)sw_arg;                                                                                   \
        float best[POOL_CHUNK];                                                                         \
        int bo[POOL_CHUNK];                                                                             \
        for (int c0 = ow_lo; c0 < ow_hi; c0 += POOL_CHUNK) {                                            \
            const int n = ow_hi - c0 < POOL_CHUNK ? ow_hi - c0 : POOL_CHUNK;                            \
            const float *b0 = base + (int64_t)c0 * SW - pw;                                             \
            for (int i = 0; i < n; i++) {                                                               \
                best[i] = b0[(int64_t)i * SW];                                                          \
                bo[i] = 0;                                                                              \
            }                                                                                           \
            for (int a = 0; a < kh; a++)                                                                \
                for (int b = 0; b < kw; b++) {                                                          \
                    const float *r = b0 + (int64_t)a * IW + b;                                          \
                    const int off = a * IW + b;                                                         \
                    for (int i = 0; i < n; i++) {                                                       \
                        const float v = r[(int64_t)i * SW], cur = best[i];                              \
                        const int take = (v > cur) | (v != v);                                          \
                        best[i] = take ? v : cur;                                                       \
                        bo[i] = take ? off : bo[i];                                                     \
                    }                                                                                   \
                }                                                                                       \
            for (int i = 0; i < n; i++) {                                                               \
                yp[c0 + i] = best[i];                                                                   \
                if (ip) ip[c0 + i] = row_off + (int64_t)(c0 + i) * SW - pw + bo[i];                     \
            }                                                                                           \
        }                                                                                               \
    }
MAXPOOL_ROW(maxpool_row_s1, 1)
MAXPOOL_ROW(maxpool_row_s2, 2)
MAXPOOL_ROW(maxpool_row_any, sw_arg)

sai_status sai_maxpool_forward(const sai_pool_geom *g, const float *x, float *y, int64_t *indices)
{
    SAI_NN_CHECK_PTR(x, "input");
    SAI_NN_CHECK_PTR(y, "output");
    sai_status rc = check(g);
    if (rc) return rc;
    if (sai_maxpool2_fast_ok(g)) return sai_maxpool2_forward_fast(g, x, y, indices);
    const int ID = g->in[0], IH = g->in[1], IW = g->in[2];
    const int OD = g->out[0], OH = g->out[1], OW = g->out[2];
    const int64_t isp = (int64_t)ID * IH * IW, osp = (int64_t)OD * OH * OW;
    const int nt = sai_nn_threads_for(g->nc);
    const int interior2d = ID == 1 && g->k[0] == 1 && g->dil[1] == 1 && g->dil[2] == 1;
    const int ext_h = g->k[1], ext_w = g->k[2];
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t pc = 0; pc < g->nc; pc++) {
        const float *xp = x + pc * isp;
        float *yp = y + pc * osp;
        int64_t *ip = indices ? indices + pc * osp : NULL;
        int64_t o = 0;
        for (int od = 0; od < OD; od++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++, o++) {
                    const int d0 = od * g->stride[0] - g->pad[0];
                    const int h0 = oh * g->stride[1] - g->pad[1];
                    const int w0 = ow * g->stride[2] - g->pad[2];
                    if (interior2d && h0 >= 0 && h0 + ext_h <= IH && w0 >= 0 && w0 + ext_w <= IW &&
                        ow + 8 <= OW) {
                        /* the run of interior outputs of this row, vectorised */
                        int hi = ow;
                        while (hi < OW && hi * g->stride[2] - g->pad[2] + ext_w <= IW) hi++;
                        const float *base = xp + (int64_t)h0 * IW;
                        const int sw = g->stride[2];
                        float *yr = yp + (o - ow);
                        int64_t *ir = ip ? ip + (o - ow) : NULL;
                        const int64_t roff = (int64_t)h0 * IW;
                        if (sw == 1)
                            maxpool_row_s1(base, IW, ext_h, ext_w, sw, g->pad[2], ow, hi, roff, yr, ir);
                        else if (sw == 2)
                            maxpool_row_s2(base, IW, ext_h, ext_w, sw, g->pad[2], ow, hi, roff, yr, ir);
                        else
                            maxpool_row_any(base, IW, ext_h, ext_w, sw, g->pad[2], ow, hi, roff, yr, ir);
                        o += hi - 1 - ow;
                        ow = hi - 1;
                        continue;
                    }
                    float best = -INFINITY;
                    int64_t bi = -1;
                    if (interior2d && h0 >= 0 && h0 + ext_h <= IH && w0 >= 0 && w0 + ext_w <= IW) {
                        /* fully inside a plane (depth 1, no dilation): no bounds checks,
                         * branch-free scan keeping the first maximum; a NaN always
                         * replaces (the last NaN wins), as in PyTorch */
                        const float *base = xp + (int64_t)h0 * IW + w0;
                        best = base[0];
                        int bo = 0;
                        for (int kh = 0; kh < ext_h; kh++) {
                            const float *row = base + (int64_t)kh * IW;
                            for (int kw = 0; kw < ext_w; kw++) {
                                const float v = row[kw];
                                const int take = (v > best) | (v != v);
                                best = take ? v : best;
                                bo = take ? kh * IW + kw : bo;
                            }
                        }
                        yp[o] = best;
                        if (ip) ip[o] = (int64_t)h0 * IW + w0 + bo;
                        continue;
                    }
                    for (int kd = 0; kd < g->k[0]; kd++) {
                        const int id = d0 + kd * g->dil[0];
                        if (id < 0 || id >= ID) continue;
                        for (int kh = 0; kh < g->k[1]; kh++) {
                            const int ih = h0 + kh * g->dil[1];
                            if (ih < 0 || ih >= IH) continue;
                            const int64_t rowo = ((int64_t)id * IH + ih) * IW;
                            for (int kw = 0; kw < g->k[2]; kw++) {
                                const int iw = w0 + kw * g->dil[2];
                                if (iw < 0 || iw >= IW) continue;
                                const float v = xp[rowo + iw];
                                if (bi < 0 || v > best || isnan(v)) {
                                    best = v;
                                    bi = rowo + iw;
                                }
                            }
                        }
                    }
                    yp[o] = best;
                    if (ip) ip[o] = bi;
                }
    }
    return SAI_OK;
}

sai_status sai_maxpool_backward(const sai_pool_geom *g, const float *dy, const int64_t *indices, float *dx)
{
    SAI_NN_CHECK_PTR(dy, "grad_output");
    SAI_NN_CHECK_PTR(indices, "indices");
    SAI_NN_CHECK_PTR(dx, "grad_input");
    sai_status rc = check(g);
    if (rc) return rc;
    const int64_t isp = (int64_t)g->in[0] * g->in[1] * g->in[2];
    const int64_t osp = (int64_t)g->out[0] * g->out[1] * g->out[2];
    const int nt = sai_nn_threads_for(g->nc);
    int bad = 0;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static) reduction(| : bad)
    for (int64_t pc = 0; pc < g->nc; pc++) {
        float *xp = dx + pc * isp;
        memset(xp, 0, (size_t)isp * sizeof(float));
        const float *gp = dy + pc * osp;
        const int64_t *ip = indices + pc * osp;
        for (int64_t o = 0; o < osp; o++) {
            if (ip[o] < 0 || ip[o] >= isp) {
                bad = 1;
                continue;
            }
            xp[ip[o]] += gp[o];
        }
    }
    if (bad) return sai_error_set(SAI_EINVAL, "max pool backward: indices out of range");
    return SAI_OK;
}

/* Window [lo, hi) on one axis and the size that counts for the divisor. */
static inline void avg_window(int o, int k, int s, int p, int in, int include_pad, int *lo, int *hi, int *cnt)
{
    int a = o * s - p, b = a + k;
    if (b > in + p) b = in + p;
    const int padded = b - a;
    if (a < 0) a = 0;
    if (b > in) b = in;
    *lo = a;
    *hi = b;
    *cnt = include_pad ? padded : b - a;
}

/* Interior outputs [lo, hi) of one output row of a 2-D average pool (depth 1): each window
 * is summed in the scalar order (rows, then columns, from 0.0f) and divided by div, over a
 * chunk of outputs at once so the loops vectorise. */
#define AVGPOOL_ROW(NAME, SW_EXPR)                                                                     \
    static void NAME(const float *rows, int IW, int kh, int kw, int sw_arg, int pw, int lo, int hi,     \
                     float div, float *yr)                                                             \
    {                                                                                                  \
        const int SW = SW_EXPR;                                                                        \
        (void)sw_arg;                                                                                  \
        float sum[POOL_CHUNK];                                                                         \
        for (int c0 = lo; c0 < hi; c0 += POOL_CHUNK) {                                                 \
            const int n = hi - c0 < POOL_CHUNK ? hi - c0 : POOL_CHUNK;                                 \
            const float *b0 = rows + (int64_t)c0 * SW - pw;                                            \
            for (int i = 0; i < n; i++) sum[i] = 0.0f;                                                 \
            for (int a = 0; a < kh; a++)                                                               \
                for (int b = 0; b < kw; b++) {                                                         \
                    const float *r = b0 + (int64_t)a * IW + b;                                         \
                    for (int i = 0; i < n; i++) sum[i] += r[(int64_t)i * SW];                          \
                }                                                                                      \
            for (int i = 0; i < n; i++) yr[c0 + i] = sum[i] / div;                                     \
        }                                                                                              \
    }
AVGPOOL_ROW(avgpool_row_s1, 1)
AVGPOOL_ROW(avgpool_row_s2, 2)
AVGPOOL_ROW(avgpool_row_any, sw_arg)

sai_status sai_avgpool_forward(const sai_pool_geom *g, const float *x, float *y)
{
    SAI_NN_CHECK_PTR(x, "input");
    SAI_NN_CHECK_PTR(y, "output");
    sai_status rc = check(g);
    if (rc) return rc;
    const int ID = g->in[0], IH = g->in[1], IW = g->in[2];
    const int OD = g->out[0], OH = g->out[1], OW = g->out[2];
    const int64_t isp = (int64_t)ID * IH * IW, osp = (int64_t)OD * OH * OW;
    const int nt = sai_nn_threads_for(g->nc);
    /* depth 1: a window's divisor is k_h * k_w wherever it lies inside the plane */
    const int plane2d = ID == 1 && OD == 1 && g->k[0] == 1 && g->pad[0] == 0;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t pc = 0; pc < g->nc; pc++) {
        const float *xp = x + pc * isp;
        float *yp = y + pc * osp;
        int64_t o = 0;
        for (int od = 0; od < OD; od++) {
            int d0, d1, cd;
            avg_window(od, g->k[0], g->stride[0], g->pad[0], ID, g->count_include_pad, &d0, &d1, &cd);
            for (int oh = 0; oh < OH; oh++) {
                int h0, h1, ch;
                avg_window(oh, g->k[1], g->stride[1], g->pad[1], IH, g->count_include_pad, &h0, &h1, &ch);
                for (int ow = 0; ow < OW; ow++, o++) {
                    int w0, w1, cw;
                    avg_window(ow, g->k[2], g->stride[2], g->pad[2], IW, g->count_include_pad, &w0, &w1, &cw);
                    const int wa = ow * g->stride[2] - g->pad[2];
                    if (plane2d && h1 - h0 == g->k[1] && ch == g->k[1] && wa >= 0 && wa + g->k[2] <= IW &&
                        ow + 8 <= OW) {
                        /* the run of interior outputs of this row, vectorised (divisor k_h * k_w) */
                        int hi = ow;
                        while (hi < OW && hi * g->stride[2] - g->pad[2] + g->k[2] <= IW) hi++;
                        const float *rows = xp + (int64_t)h0 * IW;
                        const float div = (float)(g->k[1] * g->k[2]);
                        float *yr = yp + (o - ow);
                        const int sw = g->stride[2];
                        if (sw == 1)
                            avgpool_row_s1(rows, IW, g->k[1], g->k[2], sw, g->pad[2], ow, hi, div, yr);
                        else if (sw == 2)
                            avgpool_row_s2(rows, IW, g->k[1], g->k[2], sw, g->pad[2], ow, hi, div, yr);
                        else
                            avgpool_row_any(rows, IW, g->k[1], g->k[2], sw, g->pad[2], ow, hi, div, yr);
                        o += hi - 1 - ow;
                        ow = hi - 1;
                        continue;
                    }
                    float sum = 0.0f;
                    for (int id = d0; id < d1; id++)
                        for (int ih = h0; ih < h1; ih++) {
                            const float *row = xp + ((int64_t)id * IH + ih) * IW;
                            for (int iw = w0; iw < w1; iw++) sum += row[iw];
                        }
                    const int div = cd * ch * cw;
                    yp[o] = div > 0 ? sum / (float)div : 0.0f;
                }
            }
        }
    }
    return SAI_OK;
}

sai_status sai_avgpool_backward(const sai_pool_geom *g, const float *dy, float *dx)
{
    SAI_NN_CHECK_PTR(dy, "grad_output");
    SAI_NN_CHECK_PTR(dx, "grad_input");
    sai_status rc = check(g);
    if (rc) return rc;
    const int ID = g->in[0], IH = g->in[1], IW = g->in[2];
    const int OD = g->out[0], OH = g->out[1], OW = g->out[2];
    const int64_t isp = (int64_t)ID * IH * IW, osp = (int64_t)OD * OH * OW;
    const int nt = sai_nn_threads_for(g->nc);
    /* depth 1 and windows that do not overlap: every input element gets at most one share,
     * so the interior runs of a row may be scattered in any order (0.0f + share, as before) */
    const int plane2d = ID == 1 && OD == 1 && g->k[0] == 1 && g->pad[0] == 0 && g->stride[1] == g->k[1] &&
                        g->stride[2] == g->k[2];
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t pc = 0; pc < g->nc; pc++) {
        float *xp = dx + pc * isp;
        memset(xp, 0, (size_t)isp * sizeof(float));
        const float *gp = dy + pc * osp;
        int64_t o = 0;
        for (int od = 0; od < OD; od++) {
            int d0, d1, cd;
            avg_window(od, g->k[0], g->stride[0], g->pad[0], ID, g->count_include_pad, &d0, &d1, &cd);
            for (int oh = 0; oh < OH; oh++) {
                int h0, h1, ch;
                avg_window(oh, g->k[1], g->stride[1], g->pad[1], IH, g->count_include_pad, &h0, &h1, &ch);
                for (int ow = 0; ow < OW; ow++, o++) {
                    int w0, w1, cw;
                    avg_window(ow, g->k[2], g->stride[2], g->pad[2], IW, g->count_include_pad, &w0, &w1, &cw);
                    const int wa = ow * g->stride[2] - g->pad[2];
                    if (plane2d && h1 - h0 == g->k[1] && ch == g->k[1] && wa >= 0 && wa + g->k[2] <= IW &&
                        ow + 8 <= OW) {
                        int hi = ow;
                        while (hi < OW && hi * g->stride[2] - g->pad[2] + g->k[2] <= IW) hi++;
                        const float div = (float)(g->k[1] * g->k[2]);
                        const int kw = g->k[2];
                        for (int a = 0; a < g->k[1]; a++) {
                            float *row = xp + (int64_t)(h0 + a) * IW - g->pad[2];
                            if (kw == 2) {
                                for (int i = ow; i < hi; i++) {
                                    const float v = gp[o - ow + i] / div;
                                    row[2 * i] += v;
                                    row[2 * i + 1] += v;
                                }
                            } else {
                                for (int i = ow; i < hi; i++) {
                                    const float v = gp[o - ow + i] / div;
                                    for (int b = 0; b < kw; b++) row[(int64_t)i * kw + b] += v;
                                }
                            }
                        }
                        o += hi - 1 - ow;
                        ow = hi - 1;
                        continue;
                    }
                    const int div = cd * ch * cw;
                    if (div <= 0) continue;
                    const float v = gp[o] / (float)div;
                    for (int id = d0; id < d1; id++)
                        for (int ih = h0; ih < h1; ih++) {
                            float *row = xp + ((int64_t)id * IH + ih) * IW;
                            for (int iw = w0; iw < w1; iw++) row[iw] += v;
                        }
                }
            }
        }
    }
    return SAI_OK;
}

static inline int ad_lo(int o, int in, int out) { return (int)(((int64_t)o * in) / out); }
static inline int ad_hi(int o, int in, int out) { return (int)((((int64_t)o + 1) * in + out - 1) / out); }

static sai_status adaptive(int64_t nc, const int in[3], const int out[3], const float *src, float *dst,
                           int backward)
{
    for (int a = 0; a < 3; a++)
        if (in[a] < 1 || out[a] < 1) return sai_error_set(SAI_EINVAL, "adaptive pool: sizes must be >= 1");
    const int64_t isp = (int64_t)in[0] * in[1] * in[2], osp = (int64_t)out[0] * out[1] * out[2];
    const int nt = sai_nn_threads_for(nc);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t pc = 0; pc < nc; pc++) {
        const float *xp = backward ? NULL : src + pc * isp;
        float *yp = backward ? NULL : dst + pc * osp;
        const float *gp = backward ? src + pc * osp : NULL;
        float *dxp = backward ? dst + pc * isp : NULL;
        if (backward) memset(dxp, 0, (size_t)isp * sizeof(float));
        int64_t o = 0;
        for (int od = 0; od < out[0]; od++) {
            const int d0 = ad_lo(od, in[0], out[0]), d1 = ad_hi(od, in[0], out[0]);
            for (int oh = 0; oh < out[1]; oh++) {
                const int h0 = ad_lo(oh, in[1], out[1]), h1 = ad_hi(oh, in[1], out[1]);
                for (int ow = 0; ow < out[2]; ow++, o++) {
                    const int w0 = ad_lo(ow, in[2], out[2]), w1 = ad_hi(ow, in[2], out[2]);
                    const float div = (float)((int64_t)(d1 - d0) * (h1 - h0) * (w1 - w0));
                    if (backward) {
                        const float v = gp[o] / div;
                        for (int id = d0; id < d1; id++)
                            for (int ih = h0; ih < h1; ih++) {
                                float *row = dxp + ((int64_t)id * in[1] + ih) * in[2];
                                for (int iw = w0; iw < w1; iw++) row[iw] += v;
                            }
                    } else {
                        double sum = 0.0;
                        for (int id = d0; id < d1; id++)
                            for (int ih = h0; ih < h1; ih++) {
                                const float *row = xp + ((int64_t)id * in[1] + ih) * in[2];
                                float part = 0.0f;
                                for (int iw = w0; iw < w1; iw++) part += row[iw];
                                sum += part;
                            }
                        yp[o] = (float)(sum / div);
                    }
                }
            }
        }
    }
    return SAI_OK;
}

sai_status sai_adaptive_avgpool_forward(int64_t nc, const int in[3], const int out[3], const float *x, float *y)
{
    SAI_NN_CHECK_PTR(x, "input");
    SAI_NN_CHECK_PTR(y, "output");
    return adaptive(nc, in, out, x, y, 0);
}

sai_status sai_adaptive_avgpool_backward(int64_t nc, const int in[3], const int out[3], const float *dy, float *dx)
{
    SAI_NN_CHECK_PTR(dy, "grad_output");
    SAI_NN_CHECK_PTR(dx, "grad_input");
    return adaptive(nc, in, out, dy, dx, 1);
}
