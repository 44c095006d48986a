/* norm.c: batch, instance and group normalization, forward and backward.
 *
 * Data are viewed as [n, c, s] (s = spatial size).  Batch norm reduces per
 * channel over (n, s); group norm reduces per (n, group) over c/groups
 * channels and s; instance norm is group norm with groups = c.  Sums are
 * accumulated in double per row, so statistics of large volumes keep
 * float32 accuracy.  Running statistics are updated by the caller.
 */
#include <math.h>
#include <string.h>

#include "nn_internal.h"

static void row_sums(const float *p, int64_t s, double *sum, double *sumsq)
{
    double a = 0.0, b = 0.0;
    float fa = 0.0f, fb = 0.0f;
    for (int64_t j = 0; j < s; j++) {
        fa += p[j];
        fb += p[j] * p[j];
        if ((j & 1023) == 1023) {
            a += fa;
            b += fb;
            fa = fb = 0.0f;
        }
    }
    *sum = a + fa;
    *sumsq = b + fb;
}

/* Two-pass (mean, then centred sum of squares) over rows [n][c] of length s. */
static void stats_rows(const float *x, int64_t rows_per_stat, int64_t stride_rows, int64_t first_step,
                       int64_t s, double *mean_out, double *var_out, const float *base)
{
    (void)x;
    double sum = 0.0;
    for (int64_t r = 0; r < rows_per_stat; r++) {
        const float *p = base + (r / first_step) * stride_rows * s + (r % first_step) * s;
        double a, b;
        row_sums(p, s, &a, &b);
        sum += a;
    }
    const double cnt = (double)rows_per_stat * s;
    const double mean = sum / cnt;
    double ss = 0.0;
    for (int64_t r = 0; r < rows_per_stat; r++) {
        const float *p = base + (r / first_step) * stride_rows * s + (r % first_step) * s;
        double acc = 0.0;
        float part = 0.0f;
        const float m = (float)mean;
        for (int64_t j = 0; j < s; j++) {
            const float d = p[j] - m;
            part += d * d;
            if ((j & 1023) == 1023) {
                acc += part;
                part = 0.0f;
            }
        }
        ss += acc + part;
    }
    *mean_out = mean;
    *var_out = ss / cnt;
}

sai_status sai_bn_stats(const float *x, int n, int c, int64_t s, float *mean, float *var)
{
    SAI_NN_CHECK_PTR(x, "input");
    const int nt = sai_nn_threads_for(c);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int ch = 0; ch < c; ch++) {
        double m, v;
        /* rows (i, ch) for i < n: one row per step, stride c rows */
        stats_rows(x, n, c, 1, s, &m, &v, x + (int64_t)ch * s);
        mean[ch] = (float)m;
        var[ch] = (float)v;
    }
    return SAI_OK;
}

sai_status sai_gn_stats(const float *x, int n, int c, int64_t s, int groups, float *mean, float *var)
{
    SAI_NN_CHECK_PTR(x, "input");
    if (groups < 1 || c % groups)
        return sai_error_set(SAI_EINVAL, "group norm: channels %d not divisible by groups %d", c, groups);
    const int cg = c / groups;
    if (cg == 1) return sai_norm_row_stats(x, (int64_t)n * c, s, mean, var); /* instance norm */
    const int64_t items = (int64_t)n * groups;
    const int nt = sai_nn_threads_for(items);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t it = 0; it < items; it++) {
        double m, v;
        /* cg contiguous rows */
        stats_rows(x, cg, 0, cg, s, &m, &v, x + it * cg * s);
        mean[it] = (float)m;
        var[it] = (float)v;
    }
    return SAI_OK;
}

static inline int64_t stat_index(int per_channel, int64_t i, int ch, int c, int cg)
{
    return per_channel ? ch : (i / c) * (c / cg) + ch / cg;
}

sai_status sai_norm_apply(const float *x, int n, int c, int64_t s, int groups, int per_channel,
                          const float *mean, const float *invstd, const float *gamma,
                          const float *beta, float *y)
{
    SAI_NN_CHECK_PTR(x, "input");
    SAI_NN_CHECK_PTR(y, "output");
    if (groups < 1 || c % groups) return sai_error_set(SAI_EINVAL, "norm: bad groups %d", groups);
    const int cg = c / groups;
    const int64_t rows = (int64_t)n * c;
    const int nt = sai_nn_threads_for(rows);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const int ch = (int)(r % c);
        const int64_t si = stat_index(per_channel, r, ch, c, cg);
        const float sc = invstd[si] * (gamma ? gamma[ch] : 1.0f);
        const float sh = (beta ? beta[ch] : 0.0f) - mean[si] * sc;
        const float *p = x + r * s;
        float *q = y + r * s;
        for (int64_t j = 0; j < s; j++) q[j] = p[j] * sc + sh;
    }
    return SAI_OK;
}

sai_status sai_norm_backward(const float *x, const float *dy, int n, int c, int64_t s, int groups,
                             int per_channel, int batch_stats, const float *mean, const float *invstd,
                             const float *gamma, float *dx, float *dgamma, float *dbeta)
{
    SAI_NN_CHECK_PTR(x, "input");
    SAI_NN_CHECK_PTR(dy, "grad_output");
    if (groups < 1 || c % groups) return sai_error_set(SAI_EINVAL, "norm: bad groups %d", groups);
    const int cg = c / groups;
    /* per (n, c) row: sum dy and sum dy * xhat */
    const int64_t rows = (int64_t)n * c;
    double *rs = sai_nn_scratch(SAI_NN_WS_ACC, (size_t)rows * 2 * sizeof(double));
    if (!rs) return SAI_ENOMEM;
    const int nt = sai_nn_threads_for(rows);
    /* instance norm (one statistic per row): the same sums 8 rows at a time (bn_act.c) */
    const int by_rows = cg == 1 && !per_channel;
    if (by_rows) {
        sai_status rc = sai_norm_row_grad_sums(x, dy, rows, s, mean, invstd, rs);
        if (rc) return rc;
    }
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t r = 0; r < (by_rows ? 0 : rows); r++) {
        const int ch = (int)(r % c);
        const int64_t si = stat_index(per_channel, r, ch, c, cg);
        const float m = mean[si];
        const float *p = x + r * s, *g = dy + r * s;
        double a = 0.0, b = 0.0;
        float fa = 0.0f, fb = 0.0f;
        for (int64_t j = 0; j < s; j++) {
            fa += g[j];
            fb += g[j] * (p[j] - m);
            if ((j & 1023) == 1023) {
                a += fa;
                b += fb;
                fa = fb = 0.0f;
            }
        }
        rs[2 * r] = a + fa;
        rs[2 * r + 1] = (b + fb) * invstd[si]; /* sum dy * xhat */
    }
    if (dgamma || dbeta) {
        for (int ch = 0; ch < c; ch++) {
            double a = 0.0, b = 0.0;
            for (int i = 0; i < n; i++) {
                a += rs[2 * ((int64_t)i * c + ch)];
                b += rs[2 * ((int64_t)i * c + ch) + 1];
            }
            if (dbeta) dbeta[ch] = (float)a;
            if (dgamma) dgamma[ch] = (float)b;
        }
    }
    if (!dx) return SAI_OK;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const int ch = (int)(r % c);
        const int64_t si = stat_index(per_channel, r, ch, c, cg);
        const float gam = gamma ? gamma[ch] : 1.0f;
        const float is = invstd[si], m = mean[si];
        const float *p = x + r * s, *g = dy + r * s;
        float *q = dx + r * s;
        if (!batch_stats) {
            const float k = gam * is;
            for (int64_t j = 0; j < s; j++) q[j] = g[j] * k;
            continue;
        }
        double mdy, mdyx; /* means of d xhat and d xhat * xhat over the statistic's set */
        if (per_channel) {
            double a = 0.0, b = 0.0;
            for (int i = 0; i < n; i++) {
                a += rs[2 * ((int64_t)i * c + ch)];
                b += rs[2 * ((int64_t)i * c + ch) + 1];
            }
            const double cnt = (double)n * s;
            mdy = a * gam / cnt;
            mdyx = b * gam / cnt;
        } else {
            const int64_t i = r / c;
            const int g0 = (ch / cg) * cg;
            double a = 0.0, b = 0.0;
            for (int cc = g0; cc < g0 + cg; cc++) {
                const float gm = gamma ? gamma[cc] : 1.0f;
                a += rs[2 * (i * c + cc)] * gm;
                b += rs[2 * (i * c + cc) + 1] * gm;
            }
            const double cnt = (double)cg * s;
            mdy = a / cnt;
            mdyx = b / cnt;
        }
        const float fm = (float)mdy, fx = (float)mdyx;
        for (int64_t j = 0; j < s; j++) {
            const float xh = (p[j] - m) * is;
            q[j] = is * (g[j] * gam - fm - xh * fx);
        }
    }
    return SAI_OK;
}
