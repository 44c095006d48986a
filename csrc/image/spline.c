/* spline.c: cubic B-spline prefilter and per-axis interpolation tables. */
#include <math.h>
#include <string.h>

#include "image_internal.h"

#define SPLINE_POLE (-0.26794919243112270) /* sqrt(3) - 2 */
#define SPLINE_GAIN 6.0

/* In-place prefilter of n samples spaced `stride` floats apart, each a
 * vector of `nvec` contiguous floats (nvec = 1: a single line).  The
 * boundary initialisation is SciPy's half-sample symmetric one; `acc` is
 * scratch of nvec floats. */
void sai_spline_prefilter_lines(float *c, int64_t n, int64_t stride, int64_t nvec, float *acc)
{
    if (n < 2) return;
    const double z = SPLINE_POLE;
    const float zf = (float)z;
    const double zn = pow(z, (double)n);
    for (int64_t i = 0; i < n; i++) {
        float *ci = c + i * stride;
        for (int64_t v = 0; v < nvec; v++) ci[v] *= (float)SPLINE_GAIN;
    }
    /* causal init: c0 += (c0 + zn c[n-1] + sum_{i>=1} z^i (c[i] + zn c[n-1-i])) * z/(1-zn^2) */
    const float *last = c + (n - 1) * stride;
    for (int64_t v = 0; v < nvec; v++) acc[v] = c[v] + (float)zn * last[v];
    double zi = z;
    for (int64_t i = 1; i < n && fabs(zi) > 1e-12; i++) {
        const float *a = c + i * stride, *b = c + (n - 1 - i) * stride;
        const float w = (float)zi, wn = (float)(zi * zn);
        for (int64_t v = 0; v < nvec; v++) acc[v] += w * a[v] + wn * b[v];
        zi *= z;
    }
    const float k0 = (float)(z / (1.0 - zn * zn));
    for (int64_t v = 0; v < nvec; v++) c[v] += acc[v] * k0;
    for (int64_t i = 1; i < n; i++) {
        float *ci = c + i * stride;
        const float *cp = ci - stride;
        for (int64_t v = 0; v < nvec; v++) ci[v] += zf * cp[v];
    }
    float *cl = c + (n - 1) * stride;
    const float ka = (float)(z / (z - 1.0));
    for (int64_t v = 0; v < nvec; v++) cl[v] *= ka;
    for (int64_t i = n - 2; i >= 0; i--) {
        float *ci = c + i * stride;
        const float *cn = ci + stride;
        for (int64_t v = 0; v < nvec; v++) ci[v] = zf * (cn[v] - ci[v]);
    }
}

static double bspline3(double t)
{
    t = fabs(t);
    if (t < 1.0) return 2.0 / 3.0 - t * t + 0.5 * t * t * t;
    if (t < 2.0) {
        double u = 2.0 - t;
        return u * u * u / 6.0;
    }
    return 0.0;
}

static int64_t clamp64(int64_t i, int64_t lo, int64_t hi) { return i < lo ? lo : (i > hi ? hi : i); }

sai_status sai_axis_table_build(sai_axis_table *t, int64_t n_in, int64_t n_out, double scale,
                                double offset, int order, int mode)
{
    memset(t, 0, sizeof(*t));
    if (order != 0 && order != 1 && order != 3)
        return sai_error_set(SAI_EINVAL, "order must be 0, 1 or 3, got %d", order);
    if (order == 3 && n_in < 2)
        return sai_error_set(SAI_EINVAL, "order 3 needs at least 2 voxels along every resampled axis");
    t->n_out = n_out;
    t->taps = order == 0 ? 1 : (order == 1 ? 2 : 4);
    t->pad = (order == 3) ? SAI_SPLINE_PAD : 0;
    t->n_src = n_in + 2 * t->pad;
    t->idx = sai_alloc((size_t)n_out * t->taps * sizeof(int32_t));
    t->w = sai_alloc((size_t)n_out * t->taps * sizeof(float));
    t->outside = sai_alloc((size_t)n_out);
    if (!t->idx || !t->w || !t->outside) {
        sai_axis_table_free(t);
        return sai_error_set(SAI_ENOMEM, "out of memory for interpolation tables");
    }
    const double hi = (double)(n_in - 1);
    for (int64_t o = 0; o < n_out; o++) {
        double x = scale * (double)o + offset;
        int32_t *ix = t->idx + o * t->taps;
        float *w = t->w + o * t->taps;
        t->outside[o] = (uint8_t)(mode == SAI_MODE_CONSTANT && (x < -1e-6 || x > hi + 1e-6));
        if (order == 3) {
            /* SciPy does not clamp the coordinate for splines; only the padded coefficients. */
            double lim = (double)SAI_SPLINE_PAD + 0.0;
            if (x < -lim) x = -lim;
            if (x > hi + lim) x = hi + lim;
            if (mode == SAI_MODE_CONSTANT) x = x < 0 ? 0 : (x > hi ? hi : x);
            int64_t s = (int64_t)floor(x) - 1;
            for (int k = 0; k < 4; k++) {
                ix[k] = (int32_t)clamp64(s + k + t->pad, 0, t->n_src - 1);
                w[k] = (float)bspline3(x - (double)(s + k));
            }
            continue;
        }
        if (x < 0) x = 0;
        if (x > hi) x = hi;
        if (order == 0) {
            ix[0] = (int32_t)clamp64((int64_t)floor(x + 0.5), 0, n_in - 1);
            w[0] = 1.0f;
        } else {
            int64_t s = (int64_t)floor(x);
            double f = x - (double)s;
            ix[0] = (int32_t)clamp64(s, 0, n_in - 1);
            ix[1] = (int32_t)clamp64(s + 1, 0, n_in - 1);
            w[0] = (float)(1.0 - f);
            w[1] = (float)f;
        }
    }
    return SAI_OK;
}

void sai_axis_table_free(sai_axis_table *t)
{
    sai_free(t->idx);
    sai_free(t->w);
    sai_free(t->outside);
    memset(t, 0, sizeof(*t));
}
