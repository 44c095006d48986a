/* resample.c: separable resampling with per-axis coefficient tables.
 *
 * Plan for an output (m0, m1, m2) from an input (n0, n1, n2):
 *  - axis 0 with order 3: the input is prefiltered along axis 0 in tiles of
 *    a few axis-1 rows (edge-padded) and interpolated into one intermediate
 *    T of shape (m0, n1, n2) float32 — the only full-size scratch;
 *  - otherwise each output plane o0 is a weighted sum of 1-2 input planes
 *    (whole planes: vectorizes), computed per thread;
 *  - then per output plane (in parallel): optional prefilter along axis 1,
 *    weighted sums of whole rows for axis 1, optional prefilter of each row,
 *    and a gather with per-index weights along the contiguous axis 2.
 * Linear operators along different axes commute, so prefiltering after the
 * axis-0 interpolation equals SciPy's prefilter-then-interpolate.
 */
#include <string.h>

#include "image_internal.h"

#define TILE_ROWS 4

static void plane_to_output(const float *row_src, int64_t row_len, const sai_axis_table *t2,
                            void *out, sai_dtype out_dt, int64_t out_off)
{
    const int taps = t2->taps;
    const int64_t m2 = t2->n_out;
    if (out_dt == SAI_DT_F32) {
        float *o = (float *)out + out_off;
        for (int64_t j = 0; j < m2; j++) {
            const int32_t *ix = t2->idx + j * taps;
            const float *w = t2->w + j * taps;
            float s = 0.f;
            for (int k = 0; k < taps; k++) s += w[k] * row_src[ix[k]];
            o[j] = s;
        }
    } else {
        double *o = (double *)out + out_off;
        for (int64_t j = 0; j < m2; j++) {
            const int32_t *ix = t2->idx + j * taps;
            const float *w = t2->w + j * taps;
            float s = 0.f;
            for (int k = 0; k < taps; k++) s += w[k] * row_src[ix[k]];
            o[j] = s;
        }
    }
    (void)row_len;
}

/* Copy a (rows x len) float block into a padded (rows + 2p) x len block. */
static void pad_rows(const float *src, int64_t rows, int64_t len, int64_t p, float *dst)
{
    memcpy(dst + p * len, src, (size_t)(rows * len) * sizeof(float));
    for (int64_t r = 0; r < p; r++) {
        memcpy(dst + r * len, src, (size_t)len * sizeof(float));
        memcpy(dst + (p + rows + r) * len, src + (rows - 1) * len, (size_t)len * sizeof(float));
    }
}

sai_status sai_resample_separable(const void *in, sai_dtype dt, const int64_t n[3], void *out,
                                  sai_dtype out_dt, const int64_t m[3], const double scale[3],
                                  const double offset[3], const int order[3], int mode,
                                  double cval)
{
    if (out_dt != SAI_DT_F32 && out_dt != SAI_DT_F64)
        return sai_error_set(SAI_ETYPE, "output must be float32 or float64");
    for (int d = 0; d < 3; d++) {
        if (n[d] < 1 || m[d] < 1)
            return sai_error_set(SAI_EINVAL, "shapes must be positive (axis %d: in %lld, out %lld)", d,
                                 (long long)n[d], (long long)m[d]);
        if (n[d] + 2 * SAI_SPLINE_PAD > INT32_MAX)
            return sai_error_set(SAI_EINVAL, "axis %d is too long", d);
    }
    sai_axis_table t[3];
    memset(t, 0, sizeof(t));
    float *T = NULL, *scratch = NULL;
    sai_status rc = SAI_OK;
    for (int d = 0; d < 3 && rc == SAI_OK; d++)
        rc = sai_axis_table_build(&t[d], n[d], m[d], scale[d], offset[d], order[d], mode);
    if (rc) goto done;

    const int64_t n1 = n[1], n2 = n[2], m0 = m[0], m1 = m[1], m2 = m[2];
    const int64_t plane = n1 * n2;
    const int nth = sai_get_num_threads();
    const int64_t p1 = t[1].pad, p2 = t[2].pad;
    const int64_t row2 = n2 + 2 * p2;                  /* row length after axis-2 padding */
    const int64_t s_sz = plane;                        /* source plane */
    const int64_t p_sz = (n1 + 2 * p1) * n2;           /* axis-1 padded plane */
    const int64_t r_sz = m1 * row2;                    /* after axis-1 pass */
    const int64_t per_thread = s_sz + p_sz + r_sz + n2 + 64;
    int failed = 0;

    if (order[0] == 3) {
        size_t tsz;
        if (!sai_mul_size((size_t)m0 * (size_t)plane, sizeof(float), &tsz)) {
            rc = sai_error_set(SAI_EINVAL, "intermediate volume too large");
            goto done;
        }
        T = sai_alloc(tsz);
        const int64_t nrow_tiles = (n1 + TILE_ROWS - 1) / TILE_ROWS;
        const int64_t L = n[0] + 2 * SAI_SPLINE_PAD;
        const int64_t tile_vec = TILE_ROWS * n2;
        float *tiles = sai_alloc((size_t)nth * (size_t)(L * tile_vec + tile_vec + 16) * sizeof(float));
        if (!T || !tiles) {
            sai_free(tiles);
            rc = sai_error_set(SAI_ENOMEM, "out of memory for the resampling intermediate");
            goto done;
        }
#pragma omp parallel for num_threads(nth) schedule(dynamic, 1)
        for (int64_t tr = 0; tr < nrow_tiles; tr++) {
            int tid = 0;
#ifdef _OPENMP
            tid = omp_get_thread_num();
#endif
            float *buf = tiles + (size_t)tid * (size_t)(L * tile_vec + tile_vec + 16);
            float *acc = buf + L * tile_vec;
            const int64_t r0 = tr * TILE_ROWS;
            const int64_t nr = (r0 + TILE_ROWS <= n1) ? TILE_ROWS : n1 - r0;
            const int64_t vec = nr * n2;
            for (int64_t i = 0; i < n[0]; i++)
                sai_load_float(in, dt, i * plane + r0 * n2, vec, buf + (i + SAI_SPLINE_PAD) * vec);
            for (int64_t p = 0; p < SAI_SPLINE_PAD; p++) {
                memcpy(buf + p * vec, buf + SAI_SPLINE_PAD * vec, (size_t)vec * sizeof(float));
                memcpy(buf + (SAI_SPLINE_PAD + n[0] + p) * vec,
                       buf + (SAI_SPLINE_PAD + n[0] - 1) * vec, (size_t)vec * sizeof(float));
            }
            sai_spline_prefilter_lines(buf, L, vec, vec, acc);
            for (int64_t o = 0; o < m0; o++) {
                float *dst = T + o * plane + r0 * n2;
                const int32_t *ix = t[0].idx + o * 4;
                const float *w = t[0].w + o * 4;
                const float *a = buf + ix[0] * vec, *b = buf + ix[1] * vec;
                const float *c = buf + ix[2] * vec, *e = buf + ix[3] * vec;
                for (int64_t v = 0; v < vec; v++)
                    dst[v] = w[0] * a[v] + w[1] * b[v] + w[2] * c[v] + w[3] * e[v];
            }
        }
        sai_free(tiles);
    }

    scratch = sai_alloc((size_t)nth * (size_t)per_thread * sizeof(float));
    if (!scratch) {
        rc = sai_error_set(SAI_ENOMEM, "out of memory for resampling scratch");
        goto done;
    }
    const int osz = out_dt == SAI_DT_F32 ? 4 : 8;
#pragma omp parallel for num_threads(nth) schedule(dynamic, 1)
    for (int64_t o0 = 0; o0 < m0; o0++) {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        float *S = scratch + (size_t)tid * (size_t)per_thread;
        float *P = S + s_sz;
        float *R = P + p_sz;
        float *acc = R + r_sz;
        const float *src;
        /* 1. the source plane for this output plane */
        if (T) {
            src = T + o0 * plane;
        } else {
            const int32_t *ix = t[0].idx + o0 * t[0].taps;
            const float *w = t[0].w + o0 * t[0].taps;
            if (t[0].taps == 1 || w[1] == 0.f) {
                sai_load_float(in, dt, (int64_t)ix[0] * plane, plane, S);
                if (t[0].taps == 2 && w[0] != 1.f)
                    for (int64_t v = 0; v < plane; v++) S[v] *= w[0];
            } else {
                memset(S, 0, (size_t)plane * sizeof(float));
                for (int k = 0; k < t[0].taps; k++)
                    if (w[k] != 0.f) sai_axpy_typed(in, dt, (int64_t)ix[k] * plane, plane, w[k], S);
            }
            src = S;
        }
        /* 2. axis 1: optional prefilter, then weighted sums of rows */
        if (p1) {
            pad_rows(src, n1, n2, p1, P);
            sai_spline_prefilter_lines(P, n1 + 2 * p1, n2, n2, acc);
            src = P;
        }
        for (int64_t j = 0; j < m1; j++) {
            const int32_t *ix = t[1].idx + j * t[1].taps;
            const float *w = t[1].w + j * t[1].taps;
            float *dst = R + j * row2 + p2;
            const float *a = src + (int64_t)ix[0] * n2;
            if (t[1].taps == 1) {
                memcpy(dst, a, (size_t)n2 * sizeof(float));
            } else if (t[1].taps == 2) {
                const float *b = src + (int64_t)ix[1] * n2;
                for (int64_t v = 0; v < n2; v++) dst[v] = w[0] * a[v] + w[1] * b[v];
            } else {
                const float *b = src + (int64_t)ix[1] * n2, *c = src + (int64_t)ix[2] * n2,
                            *e = src + (int64_t)ix[3] * n2;
                for (int64_t v = 0; v < n2; v++)
                    dst[v] = w[0] * a[v] + w[1] * b[v] + w[2] * c[v] + w[3] * e[v];
            }
            /* 3. axis 2: optional per-row prefilter, then gather */
            if (p2) {
                float *row = R + j * row2;
                for (int64_t p = 0; p < p2; p++) {
                    row[p] = dst[0];
                    row[p2 + n2 + p] = dst[n2 - 1];
                }
                sai_spline_prefilter_lines(row, row2, 1, 1, acc);
            }
            plane_to_output(R + j * row2, row2, &t[2], out, out_dt, (o0 * m1 + j) * m2);
        }
    }
    (void)osz;
    (void)failed;

    if (mode == SAI_MODE_CONSTANT) {
        /* cval wherever any axis coordinate falls outside the input */
#pragma omp parallel for num_threads(nth)
        for (int64_t o0 = 0; o0 < m0; o0++) {
            for (int64_t j = 0; j < m1; j++) {
                int all = t[0].outside[o0] || t[1].outside[j];
                int64_t base = (o0 * m1 + j) * m2;
                for (int64_t k = 0; k < m2; k++) {
                    if (all || t[2].outside[k]) {
                        if (out_dt == SAI_DT_F32) ((float *)out)[base + k] = (float)cval;
                        else ((double *)out)[base + k] = cval;
                    }
                }
            }
        }
    }

done:
    sai_free(T);
    sai_free(scratch);
    for (int d = 0; d < 3; d++) sai_axis_table_free(&t[d]);
    return rc;
}
