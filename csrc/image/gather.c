/* gather.c: resampling onto an arbitrary grid (x = M o + b), not separable.
 * Each output voxel gathers its 1, 8 or 64 neighbours directly. */
#include <math.h>
#include <string.h>

#include "image_internal.h"

static inline int64_t clampi(int64_t i, int64_t hi) { return i < 0 ? 0 : (i > hi ? hi : i); }

static inline void bspline_weights(double f, float w[4])
{
    /* taps at s-1.. s+2 for x = s + f, 0 <= f < 1 */
    double g = 1.0 - f;
    w[0] = (float)(g * g * g / 6.0);
    w[1] = (float)(2.0 / 3.0 - f * f + 0.5 * f * f * f);
    w[2] = (float)(2.0 / 3.0 - g * g + 0.5 * g * g * g);
    w[3] = (float)(f * f * f / 6.0);
}

sai_status sai_resample_gather(const float *src, const int64_t n[3], void *out, sai_dtype out_dt,
                               const int64_t m[3], const double mat[12], int order, int mode,
                               double cval)
{
    if (order != 0 && order != 1 && order != 3)
        return sai_error_set(SAI_EINVAL, "order must be 0, 1 or 3, got %d", order);
    if (out_dt != SAI_DT_F32 && out_dt != SAI_DT_F64)
        return sai_error_set(SAI_ETYPE, "output must be float32 or float64");
    int64_t pad[3], len[3];
    for (int d = 0; d < 3; d++) {
        if (n[d] < 1 || m[d] < 1) return sai_error_set(SAI_EINVAL, "shapes must be positive");
        pad[d] = (order == 3 && n[d] > 1) ? SAI_SPLINE_PAD : 0;
        len[d] = n[d] + 2 * pad[d];
    }
    const int64_t st0 = len[1] * len[2], st1 = len[2];
    const int nth = sai_get_num_threads();
#pragma omp parallel for num_threads(nth) schedule(static)
    for (int64_t i = 0; i < m[0]; i++) {
        for (int64_t j = 0; j < m[1]; j++) {
            for (int64_t k = 0; k < m[2]; k++) {
                double x[3];
                int outside = 0;
                for (int d = 0; d < 3; d++) {
                    const double *r = mat + 4 * d;
                    x[d] = r[0] * i + r[1] * j + r[2] * k + r[3];
                    if (x[d] < -1e-6 || x[d] > (double)(n[d] - 1) + 1e-6) outside = 1;
                }
                double v;
                if (outside && mode == SAI_MODE_CONSTANT) {
                    v = cval;
                } else if (order == 0) {
                    int64_t a = clampi((int64_t)floor(x[0] + 0.5), n[0] - 1);
                    int64_t b = clampi((int64_t)floor(x[1] + 0.5), n[1] - 1);
                    int64_t c = clampi((int64_t)floor(x[2] + 0.5), n[2] - 1);
                    v = src[a * st0 + b * st1 + c];
                } else if (order == 1) {
                    int64_t ix[3][2];
                    float w[3][2];
                    for (int d = 0; d < 3; d++) {
                        double q = x[d] < 0 ? 0 : (x[d] > n[d] - 1 ? (double)(n[d] - 1) : x[d]);
                        int64_t s = (int64_t)floor(q);
                        double f = q - (double)s;
                        ix[d][0] = clampi(s, n[d] - 1);
                        ix[d][1] = clampi(s + 1, n[d] - 1);
                        w[d][0] = (float)(1.0 - f);
                        w[d][1] = (float)f;
                    }
                    float acc = 0.f;
                    for (int a = 0; a < 2; a++)
                        for (int b = 0; b < 2; b++) {
                            const float *row = src + ix[0][a] * st0 + ix[1][b] * st1;
                            acc += w[0][a] * w[1][b] * (w[2][0] * row[ix[2][0]] + w[2][1] * row[ix[2][1]]);
                        }
                    v = acc;
                } else {
                    int64_t ix[3][4];
                    float w[3][4];
                    for (int d = 0; d < 3; d++) {
                        if (n[d] == 1) {
                            for (int t = 0; t < 4; t++) { ix[d][t] = 0; w[d][t] = t == 0 ? 1.f : 0.f; }
                            continue;
                        }
                        double q = x[d];
                        double lim = (double)SAI_SPLINE_PAD;
                        if (mode == SAI_MODE_CONSTANT) lim = 0;
                        if (q < -lim) q = -lim;
                        if (q > n[d] - 1 + lim) q = (double)(n[d] - 1) + lim;
                        int64_t s = (int64_t)floor(q);
                        bspline_weights(q - (double)s, w[d]);
                        for (int t = 0; t < 4; t++) ix[d][t] = clampi(s - 1 + t + pad[d], len[d] - 1);
                    }
                    float acc = 0.f;
                    for (int a = 0; a < 4; a++) {
                        if (w[0][a] == 0.f) continue;
                        for (int b = 0; b < 4; b++) {
                            const float *row = src + ix[0][a] * st0 + ix[1][b] * st1;
                            float r = 0.f;
                            for (int c = 0; c < 4; c++) r += w[2][c] * row[ix[2][c]];
                            acc += w[0][a] * w[1][b] * r;
                        }
                    }
                    v = acc;
                }
                int64_t o = (i * m[1] + j) * m[2] + k;
                if (out_dt == SAI_DT_F32) ((float *)out)[o] = (float)v;
                else ((double *)out)[o] = v;
            }
        }
    }
    return SAI_OK;
}

sai_status sai_spline_coefficients(const void *in, sai_dtype dt, const int64_t n[3], float *coef)
{
    int64_t pad[3], len[3];
    for (int d = 0; d < 3; d++) {
        if (n[d] < 1) return sai_error_set(SAI_EINVAL, "shapes must be positive");
        pad[d] = n[d] > 1 ? SAI_SPLINE_PAD : 0;
        len[d] = n[d] + 2 * pad[d];
    }
    const int64_t st0 = len[1] * len[2], st1 = len[2];
    const int nth = sai_get_num_threads();
    const size_t per = (size_t)(st0 + 16 + 15) / 16 * 16; /* cache-line aligned per thread */
    float *acc = sai_alloc((size_t)nth * per * sizeof(float));
    if (!acc) return sai_error_set(SAI_ENOMEM, "out of memory for spline scratch");
    /* copy with edge padding, and prefilter along axes 2 and 1 per plane */
#pragma omp parallel for num_threads(nth) schedule(static)
    for (int64_t a = 0; a < len[0]; a++) {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        float *scr = acc + (size_t)tid * per;
        int64_t ia = clampi(a - pad[0], n[0] - 1);
        float *pl = coef + a * st0;
        for (int64_t b = 0; b < len[1]; b++) {
            int64_t ib = clampi(b - pad[1], n[1] - 1);
            float *row = pl + b * st1;
            sai_load_float(in, dt, (ia * n[1] + ib) * n[2], n[2], row + pad[2]);
            for (int64_t p = 0; p < pad[2]; p++) {
                row[p] = row[pad[2]];
                row[pad[2] + n[2] + p] = row[pad[2] + n[2] - 1];
            }
            if (n[2] > 1) sai_spline_prefilter_lines(row, len[2], 1, 1, scr);
        }
        if (n[1] > 1) sai_spline_prefilter_lines(pl, len[1], st1, st1, scr);
    }
    /* axis 0: planes as vectors, in column blocks so threads share the work */
    if (n[0] > 1) {
        const int64_t blk = 4096;
        const int64_t nblk = (st0 + blk - 1) / blk;
        float *tmp = sai_alloc((size_t)nth * (size_t)(len[0] * blk + blk) * sizeof(float));
        if (!tmp) {
            sai_free(acc);
            return sai_error_set(SAI_ENOMEM, "out of memory for spline scratch");
        }
#pragma omp parallel for num_threads(nth) schedule(dynamic, 1)
        for (int64_t bi = 0; bi < nblk; bi++) {
            int tid = 0;
#ifdef _OPENMP
            tid = omp_get_thread_num();
#endif
            float *t = tmp + (size_t)tid * (size_t)(len[0] * blk + blk);
            int64_t c0 = bi * blk, nc = (c0 + blk <= st0) ? blk : st0 - c0;
            for (int64_t a = 0; a < len[0]; a++) memcpy(t + a * nc, coef + a * st0 + c0, (size_t)nc * sizeof(float));
            sai_spline_prefilter_lines(t, len[0], nc, nc, t + len[0] * blk);
            for (int64_t a = 0; a < len[0]; a++) memcpy(coef + a * st0 + c0, t + a * nc, (size_t)nc * sizeof(float));
        }
        sai_free(tmp);
    }
    sai_free(acc);
    return SAI_OK;
}
