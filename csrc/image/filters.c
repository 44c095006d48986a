/* filters.c: Gaussian smoothing, gradients, Hessian eigenvalues, Frangi. */
#include <math.h>
#include <string.h>

#include "image_internal.h"

#define COL_BLOCK 256

/* View the volume as (outer, len, inner) around `axis`. */
static void axis_view(const int64_t n[3], int axis, int64_t *outer, int64_t *len, int64_t *inner)
{
    *outer = 1;
    *inner = 1;
    for (int d = 0; d < axis; d++) *outer *= n[d];
    for (int d = axis + 1; d < 3; d++) *inner *= n[d];
    *len = n[axis];
}

/* Contiguous axis: each row is edge-padded into a scratch line, then
 * d[i] = sum_k w[k] t[i + k] with the output index innermost (vectorizes). */
static sai_status convolve_rows(const float *in, float *out, int64_t rows, int64_t len,
                                const float *w, int r)
{
    const int64_t plen = len + 2 * r;
    const int nth = sai_get_num_threads();
    /* each thread's part starts on a cache line, as thread 0's does */
    const size_t per = (size_t)(plen + len + 16 + 15) / 16 * 16;
    float *tmp = sai_alloc((size_t)nth * per * sizeof(float));
    if (!tmp) return sai_error_set(SAI_ENOMEM, "out of memory for the filter scratch");
#pragma omp parallel for num_threads(nth) schedule(static)
    for (int64_t row = 0; row < rows; row++) {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        float *t = tmp + (size_t)tid * per;
        float *acc = t + plen;
        const float *src = in + row * len;
        memcpy(t + r, src, (size_t)len * sizeof(float));
        for (int k = 0; k < r; k++) {
            t[k] = src[0];
            t[r + len + k] = src[len - 1];
        }
        for (int64_t i = 0; i < len; i++) acc[i] = 0.f;
        for (int k = 0; k <= 2 * r; k++) {
            const float wk = w[k];
            const float *a = t + k;
            for (int64_t i = 0; i < len; i++) acc[i] += wk * a[i];
        }
        memcpy(out + row * len, acc, (size_t)len * sizeof(float));
    }
    sai_free(tmp);
    return SAI_OK;
}

static sai_status convolve_axis(const float *in, float *out, const int64_t n[3], int axis,
                                const float *w, int r)
{
    int64_t outer, len, inner;
    axis_view(n, axis, &outer, &len, &inner);
    if (inner == 1) return convolve_rows(in, out, outer, len, w, r);
    const int64_t blk = inner < COL_BLOCK ? inner : COL_BLOCK;
    const int64_t nblk = (inner + blk - 1) / blk;
    const int64_t plen = len + 2 * r;
    const int nth = sai_get_num_threads();
    const size_t per = (size_t)(plen * blk + 15) / 16 * 16; /* cache-line aligned per thread */
    float *tmp = sai_alloc((size_t)nth * per * sizeof(float));
    if (!tmp) return sai_error_set(SAI_ENOMEM, "out of memory for the filter scratch");
#pragma omp parallel for num_threads(nth) schedule(dynamic, 4)
    for (int64_t job = 0; job < outer * nblk; job++) {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        float *t = tmp + (size_t)tid * per;
        const int64_t o = job / nblk, c0 = (job % nblk) * blk;
        const int64_t nc = c0 + blk <= inner ? blk : inner - c0;
        const float *src = in + o * len * inner + c0;
        for (int64_t i = 0; i < plen; i++) {
            int64_t s = i - r;
            s = s < 0 ? 0 : (s > len - 1 ? len - 1 : s);
            memcpy(t + i * nc, src + s * inner, (size_t)nc * sizeof(float));
        }
        float *dst = out + o * len * inner + c0;
        for (int64_t i = 0; i < len; i++) {
            float *d = dst + i * inner;
            for (int64_t v = 0; v < nc; v++) d[v] = 0.f;
            for (int k = 0; k <= 2 * r; k++) {
                const float *a = t + (i + k) * nc;
                const float wk = w[k];
                for (int64_t v = 0; v < nc; v++) d[v] += wk * a[v];
            }
        }
    }
    sai_free(tmp);
    return SAI_OK;
}

sai_status sai_gaussian_filter(const float *in, const int64_t n[3], float *out,
                               const double sigma[3], double truncate)
{
    if (!(truncate > 0)) return sai_error_set(SAI_EINVAL, "truncate must be > 0");
    int64_t total = n[0] * n[1] * n[2];
    if (out != in) memcpy(out, in, (size_t)total * sizeof(float));
    for (int d = 0; d < 3; d++) {
        if (!(sigma[d] >= 0) || !isfinite(sigma[d]))
            return sai_error_set(SAI_EINVAL, "sigma must be >= 0 and finite, got %g", sigma[d]);
        if (sigma[d] == 0 || n[d] < 1) continue;
        double rr = truncate * sigma[d] + 0.5;
        if (rr > 1e7) return sai_error_set(SAI_EINVAL, "sigma %g voxels is too large", sigma[d]);
        int r = (int)rr;
        if (r == 0) continue;
        float *w = sai_alloc((size_t)(2 * r + 1) * sizeof(float));
        if (!w) return sai_error_set(SAI_ENOMEM, "out of memory for the kernel");
        double sum = 0;
        for (int k = -r; k <= r; k++) sum += exp(-0.5 * (double)k * k / (sigma[d] * sigma[d]));
        for (int k = -r; k <= r; k++) w[k + r] = (float)(exp(-0.5 * (double)k * k / (sigma[d] * sigma[d])) / sum);
        sai_status rc = convolve_axis(out, out, n, d, w, r);
        sai_free(w);
        if (rc) return rc;
    }
    return SAI_OK;
}

sai_status sai_gradient(const float *in, const int64_t n[3], int axis, double h, float *out)
{
    if (axis < 0 || axis > 2) return sai_error_set(SAI_EINVAL, "axis must be 0, 1 or 2");
    if (!(h > 0)) return sai_error_set(SAI_EINVAL, "spacing must be > 0, got %g", h);
    int64_t outer, len, inner;
    axis_view(n, axis, &outer, &len, &inner);
    const float i2h = (float)(1.0 / (2.0 * h)), ih = (float)(1.0 / h);
    const int nth = sai_get_num_threads();
#pragma omp parallel for num_threads(nth) schedule(static)
    for (int64_t o = 0; o < outer; o++) {
        const float *s = in + o * len * inner;
        float *d = out + o * len * inner;
        if (len == 1) {
            memset(d, 0, (size_t)inner * sizeof(float));
            continue;
        }
        for (int64_t i = 0; i < len; i++) {
            const float *a, *b;
            float f;
            if (i == 0) { a = s + inner; b = s; f = ih; }
            else if (i == len - 1) { a = s + i * inner; b = s + (i - 1) * inner; f = ih; }
            else { a = s + (i + 1) * inner; b = s + (i - 1) * inner; f = i2h; }
            float *di = d + i * inner;
            for (int64_t v = 0; v < inner; v++) di[v] = (a[v] - b[v]) * f;
        }
    }
    return SAI_OK;
}

/* numpy.gradient of g along `axis` at flat index p, position i on that axis. */
static inline double grad_at(const float *g, int64_t p, int64_t i, int64_t len, int64_t stride, double h)
{
    if (len == 1) return 0.0;
    if (i == 0) return ((double)g[p + stride] - g[p]) / h;
    if (i == len - 1) return ((double)g[p] - g[p - stride]) / h;
    return ((double)g[p + stride] - g[p - stride]) / (2.0 * h);
}

static void sort_abs(double *e, int k)
{
    for (int a = 1; a < k; a++) {
        double v = e[a];
        int b = a - 1;
        while (b >= 0 && fabs(e[b]) > fabs(v)) {
            e[b + 1] = e[b];
            b--;
        }
        e[b + 1] = v;
    }
}

/* Eigenvalues of a symmetric 3x3 matrix (trigonometric method). */
static void eig3(double a00, double a01, double a02, double a11, double a12, double a22, double e[3])
{
    double p1 = a01 * a01 + a02 * a02 + a12 * a12;
    double q = (a00 + a11 + a22) / 3.0;
    if (p1 <= 1e-300) {
        e[0] = a00; e[1] = a11; e[2] = a22;
        return;
    }
    double b00 = a00 - q, b11 = a11 - q, b22 = a22 - q;
    double p2 = b00 * b00 + b11 * b11 + b22 * b22 + 2.0 * p1;
    double p = sqrt(p2 / 6.0);
    double det = b00 * (b11 * b22 - a12 * a12) - a01 * (a01 * b22 - a12 * a02) + a02 * (a01 * a12 - b11 * a02);
    double r = det / (2.0 * p * p * p);
    r = r < -1 ? -1 : (r > 1 ? 1 : r);
    double phi = acos(r) / 3.0;
    double c = cos(phi), sn = sqrt(fmax(0.0, 1.0 - c * c));
    e[0] = q + 2.0 * p * c;
    e[2] = q + 2.0 * p * (-0.5 * c - 0.86602540378443865 * sn); /* cos(phi + 2 pi / 3) */
    e[1] = 3.0 * q - e[0] - e[2];
}

sai_status sai_hessian_eigenvalues(const float *const *grads, const int64_t n[3], const double *sp,
                                   int ndim, double scale2, float *eig, double *max_norm)
{
    if (ndim != 2 && ndim != 3) return sai_error_set(SAI_EINVAL, "ndim must be 2 or 3, got %d", ndim);
    const int first = 3 - ndim;
    int64_t stride[3] = {n[1] * n[2], n[2], 1};
    const int nth = sai_get_num_threads();
    double mx = 0.0;
#pragma omp parallel for num_threads(nth) schedule(static) reduction(max : mx)
    for (int64_t i = 0; i < n[0]; i++) {
        for (int64_t j = 0; j < n[1]; j++) {
            for (int64_t k = 0; k < n[2]; k++) {
                const int64_t p = i * stride[0] + j * stride[1] + k;
                const int64_t pos[3] = {i, j, k};
                double H[3][3];
                for (int a = 0; a < ndim; a++)
                    for (int b = 0; b < ndim; b++) {
                        int ax = first + b;
                        H[a][b] = grad_at(grads[a], p, pos[ax], n[ax], stride[ax], sp[b]);
                    }
                double e[3];
                if (ndim == 3) {
                    eig3(H[0][0] * scale2, 0.5 * (H[0][1] + H[1][0]) * scale2, 0.5 * (H[0][2] + H[2][0]) * scale2,
                         H[1][1] * scale2, 0.5 * (H[1][2] + H[2][1]) * scale2, H[2][2] * scale2, e);
                } else {
                    double a = H[0][0] * scale2, c = H[1][1] * scale2, b = 0.5 * (H[0][1] + H[1][0]) * scale2;
                    double m = 0.5 * (a + c), d = sqrt(0.25 * (a - c) * (a - c) + b * b);
                    e[0] = m - d;
                    e[1] = m + d;
                }
                sort_abs(e, ndim);
                double s = 0;
                for (int t = 0; t < ndim; t++) {
                    eig[p * ndim + t] = (float)e[t];
                    s += e[t] * e[t];
                }
                s = sqrt(s);
                mx = s > mx ? s : mx;
            }
        }
    }
    *max_norm = mx;
    return SAI_OK;
}

sai_status sai_frangi_response(const float *eig, int64_t count, int ndim, double alpha,
                               double beta, double c, int black_ridges, float *out)
{
    if (ndim != 2 && ndim != 3) return sai_error_set(SAI_EINVAL, "ndim must be 2 or 3, got %d", ndim);
    if (!(alpha > 0) || !(beta > 0) || !(c > 0))
        return sai_error_set(SAI_EINVAL, "alpha, beta and c must be > 0 (got %g, %g, %g)", alpha, beta, c);
    const double ia = 1.0 / (2 * alpha * alpha), ib = 1.0 / (2 * beta * beta), ic = 1.0 / (2 * c * c);
    const double sgn = black_ridges ? -1.0 : 1.0; /* bright tubes: l2, l3 < 0 */
    const int nth = sai_get_num_threads();
#pragma omp parallel for num_threads(nth) schedule(static)
    for (int64_t i = 0; i < count; i++) {
        const float *e = eig + i * ndim;
        double v;
        if (ndim == 2) {
            double l1 = e[0], l2 = e[1];
            if (sgn * l2 > 0 || l2 == 0) v = 0;
            else {
                double rb2 = (l1 / l2) * (l1 / l2), s2 = l1 * l1 + l2 * l2;
                v = exp(-rb2 * ib) * (1 - exp(-s2 * ic));
            }
        } else {
            double l1 = e[0], l2 = e[1], l3 = e[2];
            if (sgn * l2 > 0 || sgn * l3 > 0 || l2 == 0 || l3 == 0) v = 0;
            else {
                double ra2 = (l2 / l3) * (l2 / l3), rb2 = l1 * l1 / fabs(l2 * l3);
                double s2 = l1 * l1 + l2 * l2 + l3 * l3;
                v = (1 - exp(-ra2 * ia)) * exp(-rb2 * ib) * (1 - exp(-s2 * ic));
            }
        }
        if ((float)v > out[i]) out[i] = (float)v;
    }
    return SAI_OK;
}
