/* resample.c: separable resampling with per-axis coefficient tables.
 *
 * Plan for an output (m0, m1, m2) from an input (n0, n1, n2), in parallel
 * over output planes o0, with per-thread slabs only (no full-size scratch):
 *  1. axis 0: the source plane S (n1 x n2, float32) is a weighted sum of a
 *     few consecutive input planes (whole planes, in L1-sized chunks:
 *     vectorizes).  For order 3 the B-spline prefilter along axis 0 is
 *     folded into these weights: the prefilter of an edge-extended signal
 *     is the FIR sqrt(3) z^|k| (z = sqrt(3) - 2), truncated at |k| <= 16
 *     (|z|^16 < 1e-9), so each output plane combines at most 4 + 32 input
 *     planes.  This equals SciPy's edge padding + IIR prefilter to ~1e-9.
 *  2. axis 2: S is transposed (blocked) so that axis 2 runs over rows; the
 *     optional IIR prefilter and the interpolation are then operations on
 *     whole rows (vectorized across the other axis), giving U (m2 x n1);
 *  3. axis 1: U is transposed back to (n1 x m2), prefiltered (optional) and
 *     combined row-wise straight into the output plane.
 * No gathers: every pass is a weighted sum of contiguous rows.  Linear
 * operators along different axes commute, so prefiltering per axis like
 * this equals SciPy's prefilter-then-interpolate.
 */
#include <math.h>
#include <string.h>

#include "image_internal.h"

#define FIR_HALF 16
#define PLANE_CHUNK 2048

/* Output plane o combines input planes start[o] .. start[o] + count[o] - 1
 * with weights w[o * maxtaps + k]. */
typedef struct {
    int64_t n_out;
    int maxtaps;
    int64_t *start;
    int *count;
    float *w;
} plane_table;

static void plane_table_free(plane_table *p)
{
    sai_free(p->start);
    sai_free(p->count);
    sai_free(p->w);
    memset(p, 0, sizeof(*p));
}

/* Fold the axis-0 interpolation table (and, for order 3, the FIR prefilter
 * of the edge-extended input) into weights over consecutive input planes. */
static sai_status plane_table_build(plane_table *p, const sai_axis_table *t, int64_t n_in, int order)
{
    memset(p, 0, sizeof(*p));
    p->n_out = t->n_out;
    p->maxtaps = order == 3 ? 4 + 2 * FIR_HALF : t->taps;
    p->start = sai_alloc((size_t)t->n_out * sizeof(int64_t));
    p->count = sai_alloc((size_t)t->n_out * sizeof(int));
    p->w = sai_alloc((size_t)t->n_out * p->maxtaps * sizeof(float));
    double *acc = sai_alloc((size_t)(p->maxtaps + 8) * sizeof(double));
    if (!p->start || !p->count || !p->w || !acc) {
        sai_free(acc);
        plane_table_free(p);
        return sai_error_set(SAI_ENOMEM, "out of memory for interpolation tables");
    }
    const double z = sqrt(3.0) - 2.0, h0 = sqrt(3.0);
    for (int64_t o = 0; o < t->n_out; o++) {
        const int32_t *ix = t->idx + o * t->taps;
        const float *w = t->w + o * t->taps;
        int64_t lo = INT64_MAX, hi = INT64_MIN;
        /* input plane range touched */
        for (int k = 0; k < t->taps; k++) {
            int64_t j = (int64_t)ix[k] - t->pad; /* original index of the coefficient */
            int64_t a = order == 3 ? j - FIR_HALF : j, b = order == 3 ? j + FIR_HALF : j;
            a = a < 0 ? 0 : (a > n_in - 1 ? n_in - 1 : a);
            b = b < 0 ? 0 : (b > n_in - 1 ? n_in - 1 : b);
            lo = a < lo ? a : lo;
            hi = b > hi ? b : hi;
        }
        int64_t cnt = hi - lo + 1;
        for (int64_t i = 0; i < cnt; i++) acc[i] = 0.0;
        for (int k = 0; k < t->taps; k++) {
            int64_t j = (int64_t)ix[k] - t->pad;
            if (order != 3) {
                acc[j - lo] += w[k];
                continue;
            }
            double zk = 1.0;
            for (int m = 0; m <= FIR_HALF; m++) {
                double hm = h0 * zk;
                int64_t a = j + m, b = j - m;
                a = a < 0 ? 0 : (a > n_in - 1 ? n_in - 1 : a);
                b = b < 0 ? 0 : (b > n_in - 1 ? n_in - 1 : b);
                acc[a - lo] += (double)w[k] * hm;
                if (m) acc[b - lo] += (double)w[k] * hm;
                zk *= z;
            }
        }
        p->start[o] = lo;
        p->count[o] = (int)cnt;
        for (int64_t i = 0; i < cnt; i++) p->w[o * p->maxtaps + i] = (float)acc[i];
    }
    sai_free(acc);
    return SAI_OK;
}

/* dst (cols x rows) = transpose of src (rows x cols), in cache blocks. */
static void transpose(const float *src, int64_t rows, int64_t cols, float *dst)
{
    const int64_t B = 32;
    for (int64_t r0 = 0; r0 < rows; r0 += B) {
        const int64_t r1 = r0 + B < rows ? r0 + B : rows;
        for (int64_t c0 = 0; c0 < cols; c0 += B) {
            const int64_t c1 = c0 + B < cols ? c0 + B : cols;
            for (int64_t r = r0; r < r1; r++)
                for (int64_t c = c0; c < c1; c++) dst[c * rows + r] = src[r * cols + c];
        }
    }
}

/* out[off + k] = sum_t w[k][t] * row[idx[k][t]] along the contiguous axis. */
static void gather_row(const float *row, const sai_axis_table *t2, void *out, sai_dtype out_dt,
                       int64_t off)
{
    const int taps = t2->taps;
#define GATHER_LOOP(T)                                                  \
    {                                                                   \
        T *o = (T *)out + off;                                          \
        for (int64_t j = 0; j < t2->n_out; j++) {                       \
            const int32_t *ix = t2->idx + j * taps;                     \
            const float *w = t2->w + j * taps;                          \
            float s = 0.f;                                              \
            for (int k = 0; k < taps; k++) s += w[k] * row[ix[k]];      \
            o[j] = s;                                                   \
        }                                                               \
    }
    if (out_dt == SAI_DT_F32) GATHER_LOOP(float)
    else GATHER_LOOP(double)
#undef GATHER_LOOP
}

/* Rows p .. p+rows-1 of buf (row length len) are set; fill p edge copies on each side. */
static void pad_edges(float *buf, int64_t rows, int64_t len, int64_t p)
{
    for (int64_t r = 0; r < p; r++) {
        memcpy(buf + r * len, buf + p * len, (size_t)len * sizeof(float));
        memcpy(buf + (p + rows + r) * len, buf + (p + rows - 1) * len, (size_t)len * sizeof(float));
    }
}

/* dst row o = sum_k w[o][k] * src row idx[o][k] (rows of length len). */
static void combine_rows(const float *src, int64_t len, const sai_axis_table *t, float *dst)
{
    const int taps = t->taps;
    for (int64_t o = 0; o < t->n_out; o++) {
        const int32_t *ix = t->idx + o * taps;
        const float *w = t->w + o * taps;
        float *d = dst + o * len;
        const float *a = src + (int64_t)ix[0] * len;
        if (taps == 1) {
            memcpy(d, a, (size_t)len * sizeof(float));
        } else if (taps == 2) {
            const float *b = src + (int64_t)ix[1] * len;
            const float w0 = w[0], w1 = w[1];
            for (int64_t v = 0; v < len; v++) d[v] = w0 * a[v] + w1 * b[v];
        } else {
            const float *b = src + (int64_t)ix[1] * len, *c = src + (int64_t)ix[2] * len,
                        *e = src + (int64_t)ix[3] * len;
            const float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];
            for (int64_t v = 0; v < len; v++) d[v] = w0 * a[v] + w1 * b[v] + w2 * c[v] + w3 * e[v];
        }
    }
}

/* S = sum_k w[k] * in[plane start + k], in L1-sized chunks. */
static void combine_planes(const void *in, sai_dtype dt, int64_t plane, int64_t start, int count,
                           const float *w, float *S)
{
    if (count == 1 && w[0] == 1.f) {
        sai_load_float(in, dt, start * plane, plane, S);
        return;
    }
    for (int64_t c0 = 0; c0 < plane; c0 += PLANE_CHUNK) {
        const int64_t nc = c0 + PLANE_CHUNK <= plane ? PLANE_CHUNK : plane - c0;
        float *acc = S + c0;
        memset(acc, 0, (size_t)nc * sizeof(float));
        for (int k = 0; k < count; k++)
            if (w[k] != 0.f) sai_axpy_typed(in, dt, (start + k) * plane + c0, nc, w[k], acc);
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
    plane_table pt;
    memset(&pt, 0, sizeof(pt));
    float *scratch = NULL;
    sai_status rc = SAI_OK;
    for (int d = 0; d < 3 && rc == SAI_OK; d++)
        rc = sai_axis_table_build(&t[d], n[d], m[d], scale[d], offset[d], order[d], mode);
    if (rc == SAI_OK) rc = plane_table_build(&pt, &t[0], n[0], order[0]);
    if (rc) goto done;

    const int64_t n1 = n[1], n2 = n[2], m0 = m[0], m1 = m[1], m2 = m[2];
    const int64_t plane = n1 * n2;
    const int nth = sai_threads_for(m0 * m1 * m2 + m0 * plane);
    const int64_t p1 = t[1].pad, p2 = t[2].pad;
    const int64_t s_sz = plane;                        /* S: n1 x n2 */
    const int64_t st_sz = (n2 + 2 * p2) * n1;          /* S transposed, axis-2 padded */
    const int64_t u_sz = (m2 > m1 ? m2 : m1) * (n1 > n2 ? n1 : n2); /* after the first in-plane pass */
    const int64_t v_sz = (n1 + 2 * p1) * m2;           /* U transposed, axis-1 padded */
    const int64_t a_sz = (n1 > m2 ? n1 : m2) + 16;
    const int64_t per_thread = ((s_sz + st_sz + u_sz + v_sz + a_sz + 15) / 16) * 16 + 64;

    scratch = sai_alloc((size_t)nth * (size_t)per_thread * sizeof(float));
    if (!scratch) {
        rc = sai_error_set(SAI_ENOMEM, "out of memory for resampling scratch");
        goto done;
    }
#pragma omp parallel for num_threads(nth) schedule(dynamic, 1)
    for (int64_t o0 = 0; o0 < m0; o0++) {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        float *S = scratch + (size_t)tid * (size_t)per_thread;
        float *ST = S + s_sz;
        float *U = ST + st_sz;
        float *V = U + u_sz;
        float *acc = V + v_sz;
        /* 1. axis 0 */
        combine_planes(in, dt, plane, pt.start[o0], pt.count[o0], pt.w + o0 * pt.maxtaps, S);
        if (!p1 && !p2) {
            /* orders 0/1 in-plane: rows for axis 1, then a gather along axis 2 */
            combine_rows(S, n2, &t[1], U);
            for (int64_t j = 0; j < m1; j++)
                gather_row(U + j * n2, &t[2], out, out_dt, (o0 * m1 + j) * m2);
            continue;
        }
        /* 2. axis 2 over rows of the transpose */
        transpose(S, n1, n2, ST + p2 * n1);
        if (p2) {
            pad_edges(ST, n2, n1, p2);
            sai_spline_prefilter_lines(ST, n2 + 2 * p2, n1, n1, acc);
        }
        combine_rows(ST, n1, &t[2], U);
        /* 3. axis 1 over rows of the transpose back, into the output */
        transpose(U, m2, n1, V + p1 * m2);
        if (p1) {
            pad_edges(V, n1, m2, p1);
            sai_spline_prefilter_lines(V, n1 + 2 * p1, m2, m2, acc);
        }
        if (out_dt == SAI_DT_F32) {
            combine_rows(V, m2, &t[1], (float *)out + o0 * m1 * m2);
        } else {
            double *o = (double *)out + o0 * m1 * m2;
            for (int64_t j = 0; j < m1; j++) {
                sai_axis_table one = t[1];
                one.n_out = 1;
                one.idx = t[1].idx + j * t[1].taps;
                one.w = t[1].w + j * t[1].taps;
                combine_rows(V, m2, &one, acc);
                for (int64_t v = 0; v < m2; v++) o[j * m2 + v] = acc[v];
            }
        }
    }

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
    sai_free(scratch);
    plane_table_free(&pt);
    for (int d = 0; d < 3; d++) sai_axis_table_free(&t[d]);
    return rc;
}
