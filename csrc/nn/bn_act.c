/* bn_act.c: batch norm over the leading channels of [n, c_total, s], fused
 * with a residual add and ReLU (see sai_nn_bn_act.h).
 *
 * Bit-identity with norm.c: each row (sample i, channel ch) is reduced with
 * the same float partial sums, flushed into a double every 1024 elements,
 * and the per-row doubles are combined per channel in sample order.  Only
 * the schedule differs: ROWS rows are reduced together as independent
 * dependency chains (a single float chain runs at one add per FP-add
 * latency; with AVX2 an 8x8 transpose puts the 8 rows in the 8 lanes of a
 * vector), and the rows of all channels are spread over the threads.  With
 * >= 8 samples the training forward and the backward finish one channel at
 * a time (statistics or sums, then the output rows) while its rows are in
 * cache.  Element-wise passes keep the operation order of norm.c/act.c and
 * never contract a*b+c into an FMA (ISO C mode, no "fma" target).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn_internal.h"
#include "sacroai/sai_nn_bn_act.h"

#define ROWS 8
#define FLUSH 1024 /* float partial sums go into a double after this many elements */

typedef struct {
    const float *x; /* row (i, ch) starts at x + i * c_total * s + ch * s */
    int n, c, c_total;
    int64_t s;
} rows_view;

static inline const float *row_ptr(const rows_view *v, int64_t r)
{
    const int64_t i = r / v->c, ch = r % v->c;
    return v->x + (i * v->c_total + ch) * v->s;
}

/* out[k] = sum of rows p[k] (float partials flushed into a double per FLUSH elements). */
static void sum_rows(const float *const *p, int nr, int64_t s, double *out)
{
    double a[ROWS] = {0};
    float f[ROWS] = {0};
    if (nr == ROWS) {
        for (int64_t j0 = 0; j0 < s; j0 += FLUSH) {
            const int64_t j1 = j0 + FLUSH < s ? j0 + FLUSH : s;
            for (int64_t j = j0; j < j1; j++)
                for (int k = 0; k < ROWS; k++) f[k] += p[k][j];
            if (j1 - j0 == FLUSH)
                for (int k = 0; k < ROWS; k++) {
                    a[k] += f[k];
                    f[k] = 0.0f;
                }
        }
    } else {
        for (int k = 0; k < nr; k++)
            for (int64_t j0 = 0; j0 < s; j0 += FLUSH) {
                const int64_t j1 = j0 + FLUSH < s ? j0 + FLUSH : s;
                for (int64_t j = j0; j < j1; j++) f[k] += p[k][j];
                if (j1 - j0 == FLUSH) {
                    a[k] += f[k];
                    f[k] = 0.0f;
                }
            }
    }
    for (int k = 0; k < nr; k++) out[k] = a[k] + f[k];
}

/* out[k] = sum of (p[k] - m[k])^2, same partial-sum scheme. */
static void sumsq_rows(const float *const *p, const float *m, int nr, int64_t s, double *out)
{
    double a[ROWS] = {0};
    float f[ROWS] = {0};
    if (nr == ROWS) {
        for (int64_t j0 = 0; j0 < s; j0 += FLUSH) {
            const int64_t j1 = j0 + FLUSH < s ? j0 + FLUSH : s;
            for (int64_t j = j0; j < j1; j++)
                for (int k = 0; k < ROWS; k++) {
                    const float d = p[k][j] - m[k];
                    f[k] += d * d;
                }
            if (j1 - j0 == FLUSH)
                for (int k = 0; k < ROWS; k++) {
                    a[k] += f[k];
                    f[k] = 0.0f;
                }
        }
    } else {
        for (int k = 0; k < nr; k++)
            for (int64_t j0 = 0; j0 < s; j0 += FLUSH) {
                const int64_t j1 = j0 + FLUSH < s ? j0 + FLUSH : s;
                for (int64_t j = j0; j < j1; j++) {
                    const float d = p[k][j] - m[k];
                    f[k] += d * d;
                }
                if (j1 - j0 == FLUSH) {
                    a[k] += f[k];
                    f[k] = 0.0f;
                }
            }
    }
    for (int k = 0; k < nr; k++) out[k] = a[k] + f[k];
}

/* ---- AVX2 versions for full groups of ROWS == 8 rows: an 8x8 transpose puts element j of
 * the 8 rows into the 8 lanes of one vector, so each lane accumulates its own row in exactly
 * the scalar order (no FMA: only "avx2" is enabled, and ISO C forbids contraction). */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#define SAI_AVX2 __attribute__((target("avx2")))
#define HAVE_AVX2_PATH 1

static int have_avx2(void)
{
    static int cached = -1;
    if (cached < 0) cached = __builtin_cpu_supports("avx2") ? 1 : 0;
    return cached;
}

static SAI_AVX2 inline void tr8(__m256 *r)
{
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

static SAI_AVX2 inline void load8(const float *const *p, int64_t j, __m256 *r)
{
    for (int k = 0; k < 8; k++) r[k] = _mm256_loadu_ps(p[k] + j);
    tr8(r);
}

/* sum (m == NULL) or centred sum of squares of 8 rows */
static SAI_AVX2 void moments8_avx2(const float *const *p, const float *m, int64_t s, double *out)
{
    double a[ROWS] = {0};
    float f[ROWS] = {0};
    const __m256 mv = m ? _mm256_loadu_ps(m) : _mm256_setzero_ps();
    for (int64_t j0 = 0; j0 < s; j0 += FLUSH) {
        const int64_t j1 = j0 + FLUSH < s ? j0 + FLUSH : s;
        __m256 acc = _mm256_loadu_ps(f);
        int64_t j = j0;
        __m256 r[8];
        if (m) {
            for (; j + 8 <= j1; j += 8) {
                load8(p, j, r);
                for (int e = 0; e < 8; e++) {
                    const __m256 d = _mm256_sub_ps(r[e], mv);
                    acc = _mm256_add_ps(acc, _mm256_mul_ps(d, d));
                }
            }
        } else {
            for (; j + 8 <= j1; j += 8) {
                load8(p, j, r);
                for (int e = 0; e < 8; e++) acc = _mm256_add_ps(acc, r[e]);
            }
        }
        _mm256_storeu_ps(f, acc);
        for (; j < j1; j++)
            for (int k = 0; k < ROWS; k++) {
                if (m) {
                    const float d = p[k][j] - m[k];
                    f[k] += d * d;
                } else {
                    f[k] += p[k][j];
                }
            }
        if (j1 - j0 == FLUSH)
            for (int k = 0; k < ROWS; k++) {
                a[k] += f[k];
                f[k] = 0.0f;
            }
    }
    for (int k = 0; k < ROWS; k++) out[k] = a[k] + f[k];
}

/* out[2k] = sum g', out[2k+1] = (sum g' (x - m)) * invstd of 8 rows; g' ReLU-masked when relu */
static SAI_AVX2 void grad8_avx2(const float *const *p, const float *const *g, const float *m, const float *is,
                                const float *sc, const float *sh, int relu, int64_t s, double *out)
{
    double a[ROWS] = {0}, b[ROWS] = {0};
    float fa[ROWS] = {0}, fb[ROWS] = {0};
    const __m256 mv = _mm256_loadu_ps(m), scv = _mm256_loadu_ps(sc), shv = _mm256_loadu_ps(sh);
    const __m256 zero = _mm256_setzero_ps();
    for (int64_t j0 = 0; j0 < s; j0 += FLUSH) {
        const int64_t j1 = j0 + FLUSH < s ? j0 + FLUSH : s;
        __m256 va = _mm256_loadu_ps(fa), vb = _mm256_loadu_ps(fb);
        int64_t j = j0;
        __m256 xr[8], gr[8];
        for (; j + 8 <= j1; j += 8) {
            load8(p, j, xr);
            load8(g, j, gr);
            for (int e = 0; e < 8; e++) {
                __m256 gm = gr[e];
                if (relu) {
                    const __m256 y = _mm256_add_ps(_mm256_mul_ps(xr[e], scv), shv);
                    gm = _mm256_and_ps(_mm256_cmp_ps(y, zero, _CMP_GT_OQ), gm);
                }
                va = _mm256_add_ps(va, gm);
                vb = _mm256_add_ps(vb, _mm256_mul_ps(gm, _mm256_sub_ps(xr[e], mv)));
            }
        }
        _mm256_storeu_ps(fa, va);
        _mm256_storeu_ps(fb, vb);
        for (; j < j1; j++)
            for (int k = 0; k < ROWS; k++) {
                const float xv = p[k][j], gv = g[k][j];
                const float gm = relu ? ((xv * sc[k] + sh[k]) > 0.0f ? gv : 0.0f) : gv;
                fa[k] += gm;
                fb[k] += gm * (xv - m[k]);
            }
        if (j1 - j0 == FLUSH)
            for (int k = 0; k < ROWS; k++) {
                a[k] += fa[k];
                b[k] += fb[k];
                fa[k] = fb[k] = 0.0f;
            }
    }
    for (int k = 0; k < ROWS; k++) {
        out[2 * k] = a[k] + fa[k];
        out[2 * k + 1] = (b[k] + fb[k]) * is[k];
    }
}
#else
#define HAVE_AVX2_PATH 0
static int have_avx2(void) { return 0; }
#endif

/* Set to 0 to force the scalar reductions (tests compare both). */
static int g_use_simd = 1;

void sai_bn_act_use_simd(int on) { g_use_simd = on ? 1 : 0; }

static int simd_ok(int nr) { return HAVE_AVX2_PATH && g_use_simd && nr == ROWS && have_avx2(); }

static int64_t groups_of(int64_t rows) { return (rows + ROWS - 1) / ROWS; }

/* Sums (m == NULL) or centred sums of squares of nr <= ROWS rows: 8 rows in AVX2 lanes when
 * possible, the scalar loops otherwise (the same float operations either way). */
static void row_moments(const float *const *p, const float *m, int nr, int64_t s, double *out)
{
#if HAVE_AVX2_PATH
    if (simd_ok(nr)) {
        moments8_avx2(p, m, s, out);
        return;
    }
#endif
    if (m)
        sumsq_rows(p, m, nr, s, out);
    else
        sum_rows(p, nr, s, out);
}

static sai_status check_dims(int n, int c, int c_total, int64_t s)
{
    if (n < 1 || c < 1 || s < 1 || c > c_total)
        return sai_error_set(SAI_EINVAL, "batch norm: bad shape n=%d c=%d c_total=%d s=%lld", n, c, c_total,
                             (long long)s);
    return SAI_OK;
}

sai_status sai_bn_stats_range(const float *x, int n, int c, int c_total, int64_t s, float *mean, float *var)
{
    SAI_NN_CHECK_PTR(x, "input");
    SAI_NN_CHECK_PTR(mean, "mean");
    SAI_NN_CHECK_PTR(var, "var");
    sai_status rc = check_dims(n, c, c_total, s);
    if (rc) return rc;
    const rows_view v = {x, n, c, c_total, s};
    const int64_t rows = (int64_t)n * c, ng = groups_of(rows);
    double *rs = sai_nn_scratch(SAI_NN_WS_ACC, (size_t)rows * sizeof(double) + (size_t)c * sizeof(double));
    if (!rs) return SAI_ENOMEM;
    double *dmean = rs + rows;
    const double cnt = (double)n * s;
    const int nt = sai_nn_threads_for(ng);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
#pragma omp for schedule(static)
        for (int64_t gi = 0; gi < ng; gi++) {
            const float *p[ROWS];
            const int64_t r0 = gi * ROWS;
            const int nr = (int)(rows - r0 < ROWS ? rows - r0 : ROWS);
            for (int k = 0; k < nr; k++) p[k] = row_ptr(&v, r0 + k);
            row_moments(p, NULL, nr, s, rs + r0);
        }
#pragma omp for schedule(static)
        for (int ch = 0; ch < c; ch++) {
            double sum = 0.0;
            for (int i = 0; i < n; i++) sum += rs[(int64_t)i * c + ch];
            dmean[ch] = sum / cnt;
        }
#pragma omp for schedule(static)
        for (int64_t gi = 0; gi < ng; gi++) {
            const float *p[ROWS];
            float m[ROWS];
            const int64_t r0 = gi * ROWS;
            const int nr = (int)(rows - r0 < ROWS ? rows - r0 : ROWS);
            for (int k = 0; k < nr; k++) {
                p[k] = row_ptr(&v, r0 + k);
                m[k] = (float)dmean[(r0 + k) % c];
            }
            row_moments(p, m, nr, s, rs + r0);
        }
#pragma omp for schedule(static)
        for (int ch = 0; ch < c; ch++) {
            double ss = 0.0;
            for (int i = 0; i < n; i++) ss += rs[(int64_t)i * c + ch];
            mean[ch] = (float)dmean[ch];
            var[ch] = (float)(ss / cnt);
        }
    }
    return SAI_OK;
}

sai_status sai_norm_row_stats(const float *x, int64_t rows, int64_t s, float *mean, float *var)
{
    SAI_NN_CHECK_PTR(x, "input");
    SAI_NN_CHECK_PTR(mean, "mean");
    SAI_NN_CHECK_PTR(var, "var");
    if (rows < 1 || s < 1) return sai_error_set(SAI_EINVAL, "norm: bad shape rows=%lld s=%lld", (long long)rows,
                                                (long long)s);
    const int64_t ng = groups_of(rows);
    const double cnt = (double)s;
    const int nt = sai_nn_threads_for(ng);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t gi = 0; gi < ng; gi++) {
        const float *p[ROWS];
        double sums[ROWS], ss[ROWS], dm[ROWS];
        float m[ROWS];
        const int64_t r0 = gi * ROWS;
        const int nr = (int)(rows - r0 < ROWS ? rows - r0 : ROWS);
        for (int k = 0; k < nr; k++) p[k] = x + (r0 + k) * s;
        row_moments(p, NULL, nr, s, sums);
        for (int k = 0; k < nr; k++) {
            dm[k] = (0.0 + sums[k]) / cnt; /* as norm.c's stats_rows with one row per statistic */
            m[k] = (float)dm[k];
        }
        row_moments(p, m, nr, s, ss);
        for (int k = 0; k < nr; k++) {
            mean[r0 + k] = (float)dm[k];
            var[r0 + k] = (float)((0.0 + ss[k]) / cnt);
        }
    }
    return SAI_OK;
}

static inline void scale_shift(int ch, const float *mean, const float *invstd, const float *gamma,
                               const float *beta, float *sc, float *sh)
{
    /* the expressions of sai_norm_apply */
    *sc = invstd[ch] * (gamma ? gamma[ch] : 1.0f);
    *sh = (beta ? beta[ch] : 0.0f) - mean[ch] * *sc;
}

/* One output row of the forward (the expressions of sai_norm_apply, then residual, ReLU). */
static inline __attribute__((always_inline)) void fwd_row_impl(const float *p, const float *e, float sc, float sh,
                                                                int relu, int64_t s, float *q)
{
    if (e) {
        if (relu)
            for (int64_t j = 0; j < s; j++) {
                const float v = (p[j] * sc + sh) + e[j];
                q[j] = v > 0.0f ? v : 0.0f;
            }
        else
            for (int64_t j = 0; j < s; j++) q[j] = (p[j] * sc + sh) + e[j];
    } else if (relu) {
        for (int64_t j = 0; j < s; j++) {
            const float v = p[j] * sc + sh;
            q[j] = v > 0.0f ? v : 0.0f;
        }
    } else {
        for (int64_t j = 0; j < s; j++) q[j] = p[j] * sc + sh;
    }
}

static void fwd_row_plain(const float *p, const float *e, float sc, float sh, int relu, int64_t s, float *q)
{
    fwd_row_impl(p, e, sc, sh, relu, s, q);
}
#if HAVE_AVX2_PATH
static SAI_AVX2 void fwd_row_avx2(const float *p, const float *e, float sc, float sh, int relu, int64_t s, float *q)
{
    fwd_row_impl(p, e, sc, sh, relu, s, q);
}
#endif

sai_status sai_bn_act_forward(const float *x, int n, int c, int c_total, int64_t s, const float *mean,
                              const float *invstd, const float *gamma, const float *beta,
                              const float *residual, int relu, float *y)
{
    SAI_NN_CHECK_PTR(x, "input");
    SAI_NN_CHECK_PTR(y, "output");
    SAI_NN_CHECK_PTR(mean, "mean");
    SAI_NN_CHECK_PTR(invstd, "invstd");
    sai_status rc = check_dims(n, c, c_total, s);
    if (rc) return rc;
    const int64_t rows = (int64_t)n * c;
    const int nt = sai_nn_threads_for(rows);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const int64_t i = r / c;
        const int ch = (int)(r % c);
        float sc, sh;
        scale_shift(ch, mean, invstd, gamma, beta, &sc, &sh);
        const float *p = x + (i * c_total + ch) * s, *e = residual ? residual + r * s : NULL;
#if HAVE_AVX2_PATH
        if (simd_ok(ROWS)) {
            fwd_row_avx2(p, e, sc, sh, relu, s, y + r * s);
            continue;
        }
#endif
        fwd_row_plain(p, e, sc, sh, relu, s, y + r * s);
    }
    return SAI_OK;
}

/* Per row: out[2k] = sum g', out[2k+1] = (sum g' (x - m)) * invstd, g' the gradient (ReLU-masked
 * beforehand by mask_rows when the norm feeds a ReLU). */
static void grad_rows(const float *const *p, const float *const *g, const float *m, int nr,
                      int64_t j0, int64_t j1, double *a, double *b, float *fa, float *fb)
{
    if (nr == ROWS) {
        for (int64_t j = j0; j < j1; j++)
            for (int k = 0; k < ROWS; k++) {
                const float gv = g[k][j];
                fa[k] += gv;
                fb[k] += gv * (p[k][j] - m[k]);
            }
    } else {
        for (int k = 0; k < nr; k++)
            for (int64_t j = j0; j < j1; j++) {
                const float gv = g[k][j];
                fa[k] += gv;
                fb[k] += gv * (p[k][j] - m[k]);
            }
    }
    if (j1 - j0 == FLUSH)
        for (int k = 0; k < nr; k++) {
            a[k] += fa[k];
            b[k] += fb[k];
            fa[k] = fb[k] = 0.0f;
        }
}

/* The row sums of one group of rows, FLUSH elements at a time.  With relu the
 * masked gradient of each chunk is first written to tmp (a vectorisable loop;
 * a select inside the chained reduction would compile to branches). */
static void grad_group(const float *const *p, const float *const *g, const float *m, const float *is,
                       const float *sc, const float *sh, int relu, int nr, int64_t s, float *tmp, double *out)
{
    double a[ROWS] = {0}, b[ROWS] = {0};
    float fa[ROWS] = {0}, fb[ROWS] = {0};
    const float *gp[ROWS];
    for (int64_t j0 = 0; j0 < s; j0 += FLUSH) {
        const int64_t j1 = j0 + FLUSH < s ? j0 + FLUSH : s;
        if (relu) {
            for (int k = 0; k < nr; k++) {
                const float *pk = p[k], *gk = g[k];
                float *t = tmp + (int64_t)k * FLUSH - j0;
                const float sck = sc[k], shk = sh[k];
                for (int64_t j = j0; j < j1; j++) {
                    const float gv = gk[j];
                    t[j] = (pk[j] * sck + shk) > 0.0f ? gv : 0.0f;
                }
                gp[k] = t;
            }
        } else {
            for (int k = 0; k < nr; k++) gp[k] = g[k];
        }
        grad_rows(p, gp, m, nr, j0, j1, a, b, fa, fb);
    }
    for (int k = 0; k < nr; k++) {
        out[2 * k] = a[k] + fa[k];
        out[2 * k + 1] = (b[k] + fb[k]) * is[k];
    }
}

sai_status sai_norm_row_grad_sums(const float *x, const float *dy, int64_t rows, int64_t s, const float *mean,
                                  const float *invstd, double *out)
{
    const int64_t ng = groups_of(rows);
    const int nt = sai_nn_threads_for(ng);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t gi = 0; gi < ng; gi++) {
        const float *p[ROWS], *g[ROWS];
        const int64_t r0 = gi * ROWS;
        const int nr = (int)(rows - r0 < ROWS ? rows - r0 : ROWS);
        for (int k = 0; k < nr; k++) {
            p[k] = x + (r0 + k) * s;
            g[k] = dy + (r0 + k) * s;
        }
#if HAVE_AVX2_PATH
        if (simd_ok(nr)) {
            static const float unused[ROWS] = {0}; /* scale/shift of the ReLU mask, off here */
            grad8_avx2(p, g, mean + r0, invstd + r0, unused, unused, 0, s, out + 2 * r0);
            continue;
        }
#endif
        grad_group(p, g, mean + r0, invstd + r0, NULL, NULL, 0, nr, s, NULL, out + 2 * r0);
    }
    return SAI_OK;
}

typedef struct {
    rows_view v;
    const float *dy, *mean, *invstd, *gamma, *beta;
    int relu, batch_stats, accumulate, dx_c_total;
    float *dx;
} bwd_args;

/* Row sums of the rows r[0..nr) (see grad_group) into rs[2 r], rs[2 r + 1]. */
static void reduce_rows(const bwd_args *A, const int64_t *r, int nr, float *tmp, double *rs)
{
    const float *p[ROWS], *g[ROWS];
    float m[ROWS], is[ROWS], sc[ROWS], sh[ROWS];
    double out[2 * ROWS];
    const int c = A->v.c;
    for (int k = 0; k < nr; k++) {
        const int ch = (int)(r[k] % c);
        p[k] = row_ptr(&A->v, r[k]);
        g[k] = A->dy + r[k] * A->v.s;
        m[k] = A->mean[ch];
        is[k] = A->invstd[ch];
        scale_shift(ch, A->mean, A->invstd, A->gamma, A->beta, &sc[k], &sh[k]);
    }
#if HAVE_AVX2_PATH
    if (simd_ok(nr))
        grad8_avx2(p, g, m, is, sc, sh, A->relu, A->v.s, out);
    else
#endif
        grad_group(p, g, m, is, sc, sh, A->relu, nr, A->v.s, tmp, out);
    for (int k = 0; k < nr; k++) {
        rs[2 * r[k]] = out[2 * k];
        rs[2 * r[k] + 1] = out[2 * k + 1];
    }
}

/* Per-channel totals (A, B) in sample order, and dgamma/dbeta. */
static void channel_totals(const bwd_args *A, int ch, const double *rs, double *chs, float *dgamma, float *dbeta)
{
    const int c = A->v.c;
    double a = 0.0, b = 0.0;
    for (int i = 0; i < A->v.n; i++) {
        a += rs[2 * ((int64_t)i * c + ch)];
        b += rs[2 * ((int64_t)i * c + ch) + 1];
    }
    chs[2 * ch] = a;
    chs[2 * ch + 1] = b;
    if (dbeta) dbeta[ch] = (float)a;
    if (dgamma) dgamma[ch] = (float)b;
}

/* dx of row r (the expressions of sai_norm_backward, after the ReLU mask).  Inlined into a
 * plain and an AVX2 copy: the same element-wise operations, vectorised 4 or 8 wide. */
static inline __attribute__((always_inline)) void dx_row_impl(const bwd_args *A, int64_t r, const double *chs)
{
    const int c = A->v.c, relu = A->relu, accumulate = A->accumulate;
    const int64_t s = A->v.s, i = r / c;
    const int ch = (int)(r % c);
    const float gam = A->gamma ? A->gamma[ch] : 1.0f;
    const float is = A->invstd[ch], m = A->mean[ch];
    float sc, sh;
    scale_shift(ch, A->mean, A->invstd, A->gamma, A->beta, &sc, &sh);
    const float *p = row_ptr(&A->v, r), *g = A->dy + r * s;
    float *q = A->dx + (i * A->dx_c_total + ch) * s;
    if (!A->batch_stats) {
        const float k = gam * is;
        if (relu && accumulate)
            for (int64_t j = 0; j < s; j++) {
                const float gv = g[j], gm = (p[j] * sc + sh) > 0.0f ? gv : 0.0f;
                q[j] = q[j] + gm * k;
            }
        else if (relu)
            for (int64_t j = 0; j < s; j++) {
                const float gv = g[j], gm = (p[j] * sc + sh) > 0.0f ? gv : 0.0f;
                q[j] = gm * k;
            }
        else if (accumulate)
            for (int64_t j = 0; j < s; j++) q[j] = q[j] + g[j] * k;
        else
            for (int64_t j = 0; j < s; j++) q[j] = g[j] * k;
        return;
    }
    const double cnt = (double)A->v.n * s;
    const double mdy = chs[2 * ch] * gam / cnt, mdyx = chs[2 * ch + 1] * gam / cnt;
    const float fm = (float)mdy, fx = (float)mdyx;
    if (relu && accumulate)
        for (int64_t j = 0; j < s; j++) {
            const float xv = p[j], gv = g[j];
            const float gm = (xv * sc + sh) > 0.0f ? gv : 0.0f;
            const float xh = (xv - m) * is;
            const float d = is * (gm * gam - fm - xh * fx);
            q[j] = q[j] + d;
        }
    else if (relu)
        for (int64_t j = 0; j < s; j++) {
            const float xv = p[j], gv = g[j];
            const float gm = (xv * sc + sh) > 0.0f ? gv : 0.0f;
            const float xh = (xv - m) * is;
            q[j] = is * (gm * gam - fm - xh * fx);
        }
    else if (accumulate)
        for (int64_t j = 0; j < s; j++) {
            const float xh = (p[j] - m) * is;
            const float d = is * (g[j] * gam - fm - xh * fx);
            q[j] = q[j] + d;
        }
    else
        for (int64_t j = 0; j < s; j++) {
            const float xh = (p[j] - m) * is;
            q[j] = is * (g[j] * gam - fm - xh * fx);
        }
}

static void dx_row_plain(const bwd_args *A, int64_t r, const double *chs) { dx_row_impl(A, r, chs); }
#if HAVE_AVX2_PATH
static SAI_AVX2 void dx_row_avx2(const bwd_args *A, int64_t r, const double *chs) { dx_row_impl(A, r, chs); }
#endif

static void dx_row(const bwd_args *A, int64_t r, const double *chs)
{
#if HAVE_AVX2_PATH
    if (simd_ok(ROWS)) {
        dx_row_avx2(A, r, chs);
        return;
    }
#endif
    dx_row_plain(A, r, chs);
}

sai_status sai_bn_act_backward(const float *x, const float *dy, int n, int c, int c_total, int64_t s,
                               int batch_stats, const float *mean, const float *invstd, const float *gamma,
                               const float *beta, int relu, float *dx, int dx_c_total, int accumulate,
                               float *dgamma, float *dbeta)
{
    SAI_NN_CHECK_PTR(x, "input");
    SAI_NN_CHECK_PTR(dy, "grad_output");
    SAI_NN_CHECK_PTR(mean, "mean");
    SAI_NN_CHECK_PTR(invstd, "invstd");
    sai_status rc = check_dims(n, c, c_total, s);
    if (rc) return rc;
    if (dx && dx_c_total < c) return sai_error_set(SAI_EINVAL, "batch norm backward: dx has %d < %d channels",
                                                   dx_c_total, c);
    const bwd_args A = {{x, n, c, c_total, s}, dy, mean, invstd, gamma, beta, relu, batch_stats, accumulate,
                        dx_c_total, dx};
    const int64_t rows = (int64_t)n * c, ng = groups_of(rows);
    const int need_sums = batch_stats || dgamma || dbeta;
    /* per row (sum g', sum g' xhat), then per channel (A, B) */
    double *rs = sai_nn_scratch(SAI_NN_WS_ACC, ((size_t)rows * 2 + (size_t)c * 2) * sizeof(double));
    if (!rs) return SAI_ENOMEM;
    double *chs = rs + 2 * rows;
    if (n >= ROWS) {
        /* One channel at a time: its sums, then its dx while its rows are still in cache. */
        const int nt = sai_nn_threads_for(c);
#pragma omp parallel num_threads(nt) if (nt > 1)
        {
            float tmp[ROWS * FLUSH]; /* 32 KiB of masked gradient per thread (scalar path) */
#pragma omp for schedule(static)
            for (int ch = 0; ch < c; ch++) {
                if (need_sums) {
                    for (int i0 = 0; i0 < n; i0 += ROWS) {
                        int64_t r[ROWS];
                        const int nr = n - i0 < ROWS ? n - i0 : ROWS;
                        for (int k = 0; k < nr; k++) r[k] = (int64_t)(i0 + k) * c + ch;
                        reduce_rows(&A, r, nr, tmp, rs);
                    }
                    channel_totals(&A, ch, rs, chs, dgamma, dbeta);
                }
                if (dx)
                    for (int i = 0; i < n; i++) dx_row(&A, (int64_t)i * c + ch, chs);
            }
        }
        return SAI_OK;
    }
    /* Few samples: groups of consecutive rows across channels, then every dx row. */
    const int nt = sai_nn_threads_for(rows);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        if (need_sums) {
            float tmp[ROWS * FLUSH];
#pragma omp for schedule(static)
            for (int64_t gi = 0; gi < ng; gi++) {
                int64_t r[ROWS];
                const int64_t r0 = gi * ROWS;
                const int nr = (int)(rows - r0 < ROWS ? rows - r0 : ROWS);
                for (int k = 0; k < nr; k++) r[k] = r0 + k;
                reduce_rows(&A, r, nr, tmp, rs);
            }
#pragma omp for schedule(static)
            for (int ch = 0; ch < c; ch++) channel_totals(&A, ch, rs, chs, dgamma, dbeta);
        }
        if (dx) {
#pragma omp for schedule(static)
            for (int64_t r = 0; r < rows; r++) dx_row(&A, r, chs);
        }
    }
    return SAI_OK;
}

sai_status sai_bn_act_forward_train(const float *x, int n, int c, int c_total, int64_t s, double eps,
                                    const float *gamma, const float *beta, const float *residual, int relu,
                                    float *y, float *mean, float *var, float *invstd)
{
    SAI_NN_CHECK_PTR(x, "input");
    SAI_NN_CHECK_PTR(y, "output");
    SAI_NN_CHECK_PTR(mean, "mean");
    SAI_NN_CHECK_PTR(var, "var");
    SAI_NN_CHECK_PTR(invstd, "invstd");
    sai_status rc = check_dims(n, c, c_total, s);
    if (rc) return rc;
    if (n < ROWS) {
        rc = sai_bn_stats_range(x, n, c, c_total, s, mean, var);
        if (rc) return rc;
        for (int ch = 0; ch < c; ch++) invstd[ch] = (float)(1.0 / sqrt((double)var[ch] + eps));
        return sai_bn_act_forward(x, n, c, c_total, s, mean, invstd, gamma, beta, residual, relu, y);
    }
    /* One channel at a time: both statistics passes and the output while its rows are cached.
     * Per-row sums and their per-channel combination are those of sai_bn_stats_range. */
    const rows_view v = {x, n, c, c_total, s};
    const double cnt = (double)n * s;
    const int nt = sai_nn_threads_for(c);
    int oom = 0;
#pragma omp parallel num_threads(nt) if (nt > 1) reduction(| : oom)
    {
        double *rs = malloc((size_t)n * sizeof(double));
        if (!rs) oom = 1;
#pragma omp for schedule(static)
        for (int ch = 0; ch < c; ch++) {
            if (!rs) continue;
            const float *p[ROWS];
            float m[ROWS];
            for (int i0 = 0; i0 < n; i0 += ROWS) {
                const int nr = n - i0 < ROWS ? n - i0 : ROWS;
                for (int k = 0; k < nr; k++) p[k] = row_ptr(&v, (int64_t)(i0 + k) * c + ch);
                row_moments(p, NULL, nr, s, rs + i0);
            }
            double sum = 0.0;
            for (int i = 0; i < n; i++) sum += rs[i];
            const double dmean = sum / cnt;
            for (int k = 0; k < ROWS; k++) m[k] = (float)dmean;
            for (int i0 = 0; i0 < n; i0 += ROWS) {
                const int nr = n - i0 < ROWS ? n - i0 : ROWS;
                for (int k = 0; k < nr; k++) p[k] = row_ptr(&v, (int64_t)(i0 + k) * c + ch);
                row_moments(p, m, nr, s, rs + i0);
            }
            double ss = 0.0;
            for (int i = 0; i < n; i++) ss += rs[i];
            mean[ch] = (float)dmean;
            var[ch] = (float)(ss / cnt);
            /* F.invstd: float64 1 / sqrt(var + eps), rounded to float32 */
            invstd[ch] = (float)(1.0 / sqrt((double)var[ch] + eps));
            float sc, sh;
            scale_shift(ch, mean, invstd, gamma, beta, &sc, &sh);
            for (int i = 0; i < n; i++) {
                const int64_t r = (int64_t)i * c + ch;
                const float *e = residual ? residual + r * s : NULL;
#if HAVE_AVX2_PATH
                if (simd_ok(ROWS)) {
                    fwd_row_avx2(row_ptr(&v, r), e, sc, sh, relu, s, y + r * s);
                    continue;
                }
#endif
                fwd_row_plain(row_ptr(&v, r), e, sc, sh, relu, s, y + r * s);
            }
        }
        free(rs);
    }
    if (oom) return sai_error_set(SAI_ENOMEM, "batch norm: out of memory");
    return SAI_OK;
}
