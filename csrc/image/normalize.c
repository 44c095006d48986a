/* normalize.c: intensity statistics (percentiles, moments) and maps.
 *
 * Percentiles follow numpy.percentile(method="linear") bit for bit: the
 * virtual index n*q + (1 - q) - 1, then NumPy's two-sided lerp.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image_internal.h"

#define HIST_BINS 65536

static int is_hist_type(sai_dtype dt)
{
    return dt == SAI_DT_U8 || dt == SAI_DT_I8 || dt == SAI_DT_U16 || dt == SAI_DT_I16;
}

/* NumPy's _lerp: a + (b-a) t, or b - (b-a)(1-t) when t >= 0.5 */
static double np_lerp(double a, double b, double t, int f32)
{
    double d = f32 ? (double)((float)b - (float)a) : b - a; /* NumPy takes b - a in the input dtype */
    return t >= 0.5 ? b - d * (1.0 - t) : a + d * t;
}

static void virtual_index(int64_t n, double qpct, int64_t *lo, int64_t *hi, double *gamma)
{
    double q = qpct / 100.0;
    double vi = (double)(n - 1) * q; /* NumPy's "linear" virtual index */
    double p = floor(vi);
    *gamma = vi - p;
    int64_t a = (int64_t)p;
    if (a < 0) a = 0;
    if (a > n - 1) a = n - 1;
    int64_t b = a + 1 > n - 1 ? n - 1 : (int64_t)p + 1;
    if (b < 0) b = 0;
    *lo = a;
    *hi = b;
    if (vi < 0) *gamma = 0; /* NumPy clips the index; lerp of equal ends */
}

/* ---------------- histogram path (8/16-bit integers) ---------------- */
static int64_t bin_offset(sai_dtype dt) { return (dt == SAI_DT_I8) ? 128 : (dt == SAI_DT_I16 ? 32768 : 0); }

/* Branch-free counting into 4 interleaved 32-bit sub-histograms: runs of
 * equal values (air at -1000 HU) would otherwise chain every increment on
 * the previous store to the same bin, and a voxel outside the mask adds 0
 * instead of a hard-to-predict branch.  Blocks of < 2^32 voxels per
 * sub-histogram, then flushed into the 64-bit histogram `h`. */
#define HIST_BLOCK ((int64_t)1 << 30)
#define WEIGHT(i) (uint32_t)(nonzero ? ((x[i] != 0) & (!mask || mask[i] != 0)) : (!mask || mask[i] != 0))
#define HIST_RANGE(T)                                                                  \
    {                                                                                  \
        const T *x = (const T *)in;                                                    \
        for (int64_t b0 = i0; b0 < i1; b0 += HIST_BLOCK) {                             \
            const int64_t b1 = b0 + HIST_BLOCK < i1 ? b0 + HIST_BLOCK : i1;            \
            int64_t i = b0;                                                            \
            if (!mask && !nonzero) {                                                   \
                for (; i + 4 <= b1; i += 4) {                                          \
                    h4[(int64_t)x[i] + off]++;                                         \
                    h4[HIST_BINS + (int64_t)x[i + 1] + off]++;                         \
                    h4[2 * HIST_BINS + (int64_t)x[i + 2] + off]++;                     \
                    h4[3 * HIST_BINS + (int64_t)x[i + 3] + off]++;                     \
                }                                                                      \
            } else {                                                                   \
                for (; i + 4 <= b1; i += 4) {                                          \
                    h4[(int64_t)x[i] + off] += WEIGHT(i);                              \
                    h4[HIST_BINS + (int64_t)x[i + 1] + off] += WEIGHT(i + 1);          \
                    h4[2 * HIST_BINS + (int64_t)x[i + 2] + off] += WEIGHT(i + 2);      \
                    h4[3 * HIST_BINS + (int64_t)x[i + 3] + off] += WEIGHT(i + 3);      \
                }                                                                      \
            }                                                                          \
            for (; i < b1; i++) h4[(int64_t)x[i] + off] += WEIGHT(i);                  \
            for (int64_t k = 0; k < HIST_BINS; k++) {                                  \
                h[k] += (int64_t)h4[k] + h4[HIST_BINS + k] + h4[2 * HIST_BINS + k] +   \
                        h4[3 * HIST_BINS + k];                                         \
                h4[k] = h4[HIST_BINS + k] = h4[2 * HIST_BINS + k] = h4[3 * HIST_BINS + k] = 0; \
            }                                                                          \
        }                                                                              \
    }

static sai_status hist_stats(const void *in, sai_dtype dt, int64_t count, const uint8_t *mask,
                             int nonzero, const double *q, int nq, double *qvals, int clip_lo,
                             int clip_hi, double *mean, double *std, int64_t *n_used, double *vmin,
                             double *vmax)
{
    const int nth = sai_threads_for(count);
    int64_t *hist = sai_calloc((size_t)(nth + 1) * HIST_BINS * sizeof(int64_t));
    uint32_t *sub = sai_calloc((size_t)nth * 4 * HIST_BINS * sizeof(uint32_t));
    if (!hist || !sub) {
        sai_free(hist);
        sai_free(sub);
        return sai_error_set(SAI_ENOMEM, "out of memory for the histogram");
    }
    const int64_t off = bin_offset(dt);
#pragma omp parallel num_threads(nth)
    {
        int tid = 0, nt = 1;
#ifdef _OPENMP
        tid = omp_get_thread_num();
        nt = omp_get_num_threads();
#endif
        int64_t *h = hist + (size_t)(tid + 1) * HIST_BINS;
        uint32_t *h4 = sub + (size_t)tid * 4 * HIST_BINS;
        const int64_t per = (count + nt - 1) / nt;
        const int64_t i0 = per * tid < count ? per * tid : count;
        const int64_t i1 = i0 + per < count ? i0 + per : count;
        switch (dt) {
        case SAI_DT_U8: HIST_RANGE(uint8_t) break;
        case SAI_DT_I8: HIST_RANGE(int8_t) break;
        case SAI_DT_U16: HIST_RANGE(uint16_t) break;
        default: HIST_RANGE(int16_t) break;
        }
    }
    sai_free(sub);
    int64_t *H = hist;
    for (int t = 1; t <= nth; t++)
        for (int64_t b = 0; b < HIST_BINS; b++) H[b] += hist[(size_t)t * HIST_BINS + b];
    int64_t n = 0, bmin = -1, bmax = -1;
    for (int64_t b = 0; b < HIST_BINS; b++)
        if (H[b]) {
            if (bmin < 0) bmin = b;
            bmax = b;
            n += H[b];
        }
    *n_used = n;
    if (n == 0) {
        sai_free(hist);
        return SAI_OK;
    }
    *vmin = (double)(bmin - off);
    *vmax = (double)(bmax - off);
    /* value at sorted rank r: walk the cumulative histogram (q are few) */
    for (int i = 0; i < nq; i++) {
        int64_t lo, hi;
        double g;
        virtual_index(n, q[i], &lo, &hi, &g);
        double va = NAN, vb = NAN;
        int64_t cum = 0;
        for (int64_t b = bmin; b <= bmax; b++) {
            int64_t c2 = cum + H[b];
            if (isnan(va) && lo < c2) va = (double)(b - off);
            if (hi < c2) {
                vb = (double)(b - off);
                break;
            }
            cum = c2;
        }
        qvals[i] = np_lerp(va, vb, g, 0);
    }
    double lo_c = clip_lo >= 0 ? qvals[clip_lo] : -INFINITY;
    double hi_c = clip_hi >= 0 ? qvals[clip_hi] : INFINITY;
    double s = 0;
    for (int64_t b = bmin; b <= bmax; b++) {
        if (!H[b]) continue;
        double v = fmin(fmax((double)(b - off), lo_c), hi_c);
        s += v * (double)H[b];
    }
    double mu = s / (double)n, ss = 0;
    for (int64_t b = bmin; b <= bmax; b++) {
        if (!H[b]) continue;
        double v = fmin(fmax((double)(b - off), lo_c), hi_c) - mu;
        ss += v * v * (double)H[b];
    }
    *mean = mu;
    *std = sqrt(ss / (double)n);
    sai_free(hist);
    return SAI_OK;
}

/* ---------------- selection path ---------------- */
static int cmp_f32(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}
static int cmp_f64(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Introselect: Hoare quickselect with a median-of-three pivot; after
 * 2 log2(n) + 16 rounds without converging (adversarial input) the
 * remaining range is sorted instead, so the worst case is O(n log n). */
#define DEFINE_SELECT(NAME, T, CMP)                                               \
    static void NAME(T *a, int64_t n, int64_t k)                                  \
    {                                                                             \
        int64_t l = 0, r = n - 1;                                                 \
        int budget = 16;                                                          \
        for (int64_t m = n; m > 1; m >>= 1) budget += 2;                          \
        while (r > l) {                                                           \
            if (budget-- == 0) {                                                  \
                qsort(a + l, (size_t)(r - l + 1), sizeof(T), CMP);                \
                return;                                                           \
            }                                                                     \
            int64_t m = l + (r - l) / 2;                                          \
            T x = a[l], y = a[m], z = a[r];                                       \
            T piv = (x < y) ? ((y < z) ? y : (x < z ? z : x)) : ((x < z) ? x : (y < z ? z : y)); \
            int64_t i = l, j = r;                                                 \
            while (i <= j) {                                                      \
                while (a[i] < piv) i++;                                           \
                while (piv < a[j]) j--;                                           \
                if (i <= j) {                                                     \
                    T t = a[i]; a[i] = a[j]; a[j] = t;                            \
                    i++; j--;                                                     \
                }                                                                 \
            }                                                                     \
            if (k <= j) r = j;                                                    \
            else if (k >= i) l = i;                                               \
            else return;                                                          \
        }                                                                         \
    }
DEFINE_SELECT(select_f32, float, cmp_f32)
DEFINE_SELECT(select_f64, double, cmp_f64)

static sai_status select_stats(const void *in, sai_dtype dt, int64_t count, const uint8_t *mask,
                               int nonzero, const double *q, int nq, double *qvals, int clip_lo,
                               int clip_hi, double *mean, double *std, int64_t *n_used,
                               double *vmin, double *vmax)
{
    const int use_f32 = dt == SAI_DT_F32;
    const size_t esz = use_f32 ? sizeof(float) : sizeof(double);
    void *buf = sai_alloc((size_t)(count > 0 ? count : 1) * esz);
    if (!buf) return sai_error_set(SAI_ENOMEM, "out of memory for the percentile copy");
    int64_t n = 0, nnan = 0;
#define COPY(T)                                                                         \
    {                                                                                   \
        const T *x = (const T *)in;                                                     \
        for (int64_t i = 0; i < count; i++) {                                           \
            if (mask && !mask[i]) continue;                                             \
            if (nonzero && x[i] == 0) continue;                                         \
            if (use_f32) ((float *)buf)[n++] = (float)x[i];                             \
            else ((double *)buf)[n++] = (double)x[i];                                   \
            if (x[i] != x[i]) nnan++;                                                   \
        }                                                                               \
    }
    switch (dt) {
    case SAI_DT_U32: COPY(uint32_t) break;
    case SAI_DT_I32: COPY(int32_t) break;
    case SAI_DT_U64: COPY(uint64_t) break;
    case SAI_DT_I64: COPY(int64_t) break;
    case SAI_DT_F32: COPY(float) break;
    case SAI_DT_F64: COPY(double) break;
    default: break;
    }
#undef COPY
    *n_used = n;
    if (n == 0) {
        sai_free(buf);
        return SAI_OK;
    }
    if (nnan) {
        for (int i = 0; i < nq; i++) qvals[i] = NAN;
        *mean = *std = *vmin = *vmax = NAN;
        sai_free(buf);
        return SAI_OK;
    }
    double mn = INFINITY, mx = -INFINITY;
    for (int i = 0; i < nq; i++) {
        int64_t lo, hi;
        double g;
        virtual_index(n, q[i], &lo, &hi, &g);
        double va, vb;
        if (use_f32) {
            float *a = buf;
            select_f32(a, n, lo);
            va = a[lo];
            float m2 = a[lo];
            if (hi > lo) {
                m2 = INFINITY;
                for (int64_t j = lo + 1; j < n; j++) m2 = a[j] < m2 ? a[j] : m2;
            }
            vb = m2;
        } else {
            double *a = buf;
            select_f64(a, n, lo);
            va = a[lo];
            double m2 = a[lo];
            if (hi > lo) {
                m2 = INFINITY;
                for (int64_t j = lo + 1; j < n; j++) m2 = a[j] < m2 ? a[j] : m2;
            }
            vb = m2;
        }
        qvals[i] = np_lerp(va, vb, g, use_f32);
    }
    double lo_c = clip_lo >= 0 ? qvals[clip_lo] : -INFINITY;
    double hi_c = clip_hi >= 0 ? qvals[clip_hi] : INFINITY;
    double s = 0;
    const int nth = sai_threads_for(n);
#pragma omp parallel for num_threads(nth) reduction(+ : s) reduction(min : mn) reduction(max : mx)
    for (int64_t i = 0; i < n; i++) {
        double v = use_f32 ? (double)((float *)buf)[i] : ((double *)buf)[i];
        mn = v < mn ? v : mn;
        mx = v > mx ? v : mx;
        s += fmin(fmax(v, lo_c), hi_c);
    }
    double mu = s / (double)n, ss = 0;
#pragma omp parallel for num_threads(nth) reduction(+ : ss)
    for (int64_t i = 0; i < n; i++) {
        double v = use_f32 ? (double)((float *)buf)[i] : ((double *)buf)[i];
        double d = fmin(fmax(v, lo_c), hi_c) - mu;
        ss += d * d;
    }
    *mean = mu;
    *std = sqrt(ss / (double)n);
    *vmin = mn;
    *vmax = mx;
    sai_free(buf);
    return SAI_OK;
}

sai_status sai_intensity_stats(const void *in, sai_dtype dt, int64_t count, const uint8_t *mask,
                               int nonzero, const double *q, int nq, double *qvals, int clip_lo,
                               int clip_hi, double *mean, double *std, int64_t *n_used,
                               double *vmin, double *vmax)
{
    for (int i = 0; i < nq; i++) {
        if (!(q[i] >= 0.0 && q[i] <= 100.0))
            return sai_error_set(SAI_EINVAL, "percentiles must be in [0, 100], got %g", q[i]);
        qvals[i] = NAN;
    }
    if (clip_lo >= nq || clip_hi >= nq) return sai_error_set(SAI_EINVAL, "clip index out of range");
    *mean = *std = *vmin = *vmax = NAN;
    *n_used = 0;
    if (is_hist_type(dt))
        return hist_stats(in, dt, count, mask, nonzero, q, nq, qvals, clip_lo, clip_hi, mean, std,
                          n_used, vmin, vmax);
    return select_stats(in, dt, count, mask, nonzero, q, nq, qvals, clip_lo, clip_hi, mean, std,
                        n_used, vmin, vmax);
}

#define DISPATCH_IN(MACRO)                               \
    switch (dt) {                                        \
    case SAI_DT_U8: MACRO(uint8_t); break;               \
    case SAI_DT_I8: MACRO(int8_t); break;                \
    case SAI_DT_U16: MACRO(uint16_t); break;             \
    case SAI_DT_I16: MACRO(int16_t); break;              \
    case SAI_DT_U32: MACRO(uint32_t); break;             \
    case SAI_DT_I32: MACRO(int32_t); break;              \
    case SAI_DT_U64: MACRO(uint64_t); break;             \
    case SAI_DT_I64: MACRO(int64_t); break;              \
    case SAI_DT_F32: MACRO(float); break;                \
    case SAI_DT_F64: MACRO(double); break;               \
    }

/* The map pass is bound by conversion throughput on a single core: let the
 * loader pick an AVX2/AVX-512 build of it where the CPU has one. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
sai_status sai_affine_clip(const void *in, sai_dtype dt, int64_t count, void *out,
                           sai_dtype out_dt, double lo, double hi, double shift, double scale)
{
    if (out_dt != SAI_DT_F32 && out_dt != SAI_DT_F64)
        return sai_error_set(SAI_ETYPE, "output must be float32 or float64");
    const int nth = sai_threads_for(count);
    if (out_dt == SAI_DT_F32) {
        const float l = (float)lo, h = (float)hi, sh = (float)shift, sc = (float)scale;
        float *o = out;
#define MAP32(T)                                                                     \
    {                                                                                \
        const T *x = (const T *)in;                                                  \
        _Pragma("omp parallel for num_threads(nth) schedule(static)")                \
        for (int64_t i = 0; i < count; i++) {                                        \
            float v = (float)x[i];                                                   \
            v = v < l ? l : v;                                                       \
            v = v > h ? h : v;                                                       \
            o[i] = (v - sh) * sc;                                                    \
        }                                                                            \
    }
        DISPATCH_IN(MAP32)
#undef MAP32
    } else {
        double *o = out;
#define MAP64(T)                                                                     \
    {                                                                                \
        const T *x = (const T *)in;                                                  \
        _Pragma("omp parallel for num_threads(nth) schedule(static)")                \
        for (int64_t i = 0; i < count; i++) {                                        \
            double v = (double)x[i];                                                 \
            v = v < lo ? lo : v;                                                     \
            v = v > hi ? hi : v;                                                     \
            o[i] = (v - shift) * scale;                                              \
        }                                                                            \
    }
        DISPATCH_IN(MAP64)
#undef MAP64
    }
    return SAI_OK;
}

sai_status sai_piecewise_linear(const void *in, sai_dtype dt, int64_t count, void *out,
                                sai_dtype out_dt, const double *xp, const double *fp, int nk)
{
    if (out_dt != SAI_DT_F32 && out_dt != SAI_DT_F64)
        return sai_error_set(SAI_ETYPE, "output must be float32 or float64");
    if (nk < 2) return sai_error_set(SAI_EINVAL, "at least 2 landmarks are needed, got %d", nk);
    for (int i = 1; i < nk; i++)
        if (!(xp[i] > xp[i - 1]))
            return sai_error_set(SAI_EINVAL, "landmarks must be strictly increasing");
    const int nth = sai_threads_for(count);
#define PWL(T)                                                                       \
    {                                                                                \
        const T *x = (const T *)in;                                                  \
        _Pragma("omp parallel for num_threads(nth) schedule(static)")                \
        for (int64_t i = 0; i < count; i++) {                                        \
            double v = (double)x[i];                                                 \
            int s = 0;                                                               \
            while (s < nk - 2 && v >= xp[s + 1]) s++;                                \
            double r = fp[s] + (v - xp[s]) * (fp[s + 1] - fp[s]) / (xp[s + 1] - xp[s]); \
            if (out_dt == SAI_DT_F32) ((float *)out)[i] = (float)r;                  \
            else ((double *)out)[i] = r;                                             \
        }                                                                            \
    }
    DISPATCH_IN(PWL)
#undef PWL
    return SAI_OK;
}
