/* gemm_avx512.c: an AVX-512 GEMM for convolution tiles, C = A * B (+ row bias).
 *
 * A is the weight matrix [M x K] packed in panels of 8 rows ([K][8] each);
 * B is the im2col tile packed in panels of 48 columns ([K][48] each), written
 * directly in that layout by the convolution, so B is packed only once (an
 * sgemm call would copy the column matrix again).  The micro-kernel keeps an
 * 8 x 48 block of C in 24 zmm registers; K is cut into blocks of 128 so a B
 * sub-panel (24 KiB) stays in L1 while all A panels pass over it.
 *
 * Compiled for AVX-512 through function attributes and used only when the
 * CPU reports AVX-512F at run time (sai_gemm8x48_available).
 */
#include <stdint.h>
#include <string.h>

#include "nn_internal.h"
#include "gemm_avx512.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>

#include "simd_avx512.h"
#define SAI_HAVE_AVX512_BUILD 1
#define SAI_AVX512 __attribute__((target("avx512f")))
#else
#define SAI_HAVE_AVX512_BUILD 0
#endif

int sai_nn_avx512(void)
{
#if SAI_HAVE_AVX512_BUILD
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx512f") ? 1 : 0;
    }
    return cached;
#else
    return 0;
#endif
}

int sai_gemm8x48_available(void) { return sai_nn_avx512(); }

void sai_pack_a8_ld(const float *a, int m, int k, int64_t lda, float *ap)
{
    const int panels = (m + 7) / 8;
    for (int p = 0; p < panels; p++) {
        float *dst = ap + (size_t)p * k * 8;
        for (int r = 0; r < 8; r++) {
            const int row = p * 8 + r;
            if (row < m) {
                const float *src = a + (int64_t)row * lda;
                for (int kk = 0; kk < k; kk++) dst[(size_t)kk * 8 + r] = src[kk];
            } else {
                for (int kk = 0; kk < k; kk++) dst[(size_t)kk * 8 + r] = 0.0f;
            }
        }
    }
}

void sai_pack_a8(const float *a, int m, int k, float *ap) { sai_pack_a8_ld(a, m, k, k, ap); }

/* Rows [k0, k0 + kc) of x [n][K][S], columns j0.. (over samples and positions), as
 * 48-column panels; each row is read as one run per sample. */
void sai_pack_rows48(const float *x, int K, int64_t S, int64_t j0, int nj, int k0, int kc, int prefetch,
                      float *bp)
{
    for (int k = 0; k < kc; k++) {
        float *dst = bp + (size_t)k * 48;
        int64_t j = j0;
        int c = 0;
        while (c < nj) {
            const int64_t ni = j / S, s = j % S;
            int len = (int)(S - s < nj - c ? S - s : nj - c);
            const float *src = x + (ni * K + k0 + k) * S + s;
            if (prefetch)
                for (int q = 0; q < len; q += 16) __builtin_prefetch(src + nj + q, 0, 2);
            /* copy [c, c + len) into the panels, split at panel edges */
            for (int done = 0; done < len;) {
                const int col = c + done, run = 48 - col % 48 < len - done ? 48 - col % 48 : len - done;
                memcpy(dst + (size_t)(col / 48) * kc * 48 + col % 48, src + done, (size_t)run * sizeof(float));
                done += run;
            }
            c += len;
            j += len;
        }
    }
}

#if SAI_HAVE_AVX512_BUILD

#define KC 128

SAI_AVX512 static void kern8x48(int kc, const float *ap, const float *bp, float *c, int ldc, int rows,
                                 __mmask16 m0, __mmask16 m1, __mmask16 m2, int load_c, const float *bias)
{
    __m512 c00, c01, c02, c10, c11, c12, c20, c21, c22, c30, c31, c32;
    __m512 c40, c41, c42, c50, c51, c52, c60, c61, c62, c70, c71, c72;
#define INIT_ROW(r)                                                                                  \
    do {                                                                                             \
        c##r##0 = c##r##1 = c##r##2 = _mm512_set1_ps(!load_c && bias && (r) < rows ? bias[r] : 0.0f); \
    } while (0)
    INIT_ROW(0);
    INIT_ROW(1);
    INIT_ROW(2);
    INIT_ROW(3);
    INIT_ROW(4);
    INIT_ROW(5);
    INIT_ROW(6);
    INIT_ROW(7);
#undef INIT_ROW
    for (int k = 0; k < kc; k++) {
        const __m512 b0 = _mm512_loadu_ps(bp);
        const __m512 b1 = _mm512_loadu_ps(bp + 16);
        const __m512 b2 = _mm512_loadu_ps(bp + 32);
        __m512 a;
#define FMA_ROW(r)                                  \
    a = _mm512_set1_ps(ap[r]);                      \
    c##r##0 = _mm512_fmadd_ps(a, b0, c##r##0);      \
    c##r##1 = _mm512_fmadd_ps(a, b1, c##r##1);      \
    c##r##2 = _mm512_fmadd_ps(a, b2, c##r##2);
        FMA_ROW(0)
        FMA_ROW(1)
        FMA_ROW(2)
        FMA_ROW(3)
        FMA_ROW(4)
        FMA_ROW(5)
        FMA_ROW(6)
        FMA_ROW(7)
#undef FMA_ROW
        ap += 8;
        bp += 48;
    }
    /* each K block is summed from zero and then added to C: a two-level sum
     * keeps float32 rounding close to a blocked dot product */
#define STORE_ROW(r)                                                                                      \
    if ((r) < rows) {                                                                                     \
        float *cr = c + (size_t)(r) * ldc;                                                                \
        if (load_c) {                                                                                     \
            c##r##0 = _mm512_add_ps(c##r##0, _mm512_maskz_loadu_ps(m0, cr));                              \
            c##r##1 = _mm512_add_ps(c##r##1, _mm512_maskz_loadu_ps(m1, cr + 16));                         \
            c##r##2 = _mm512_add_ps(c##r##2, _mm512_maskz_loadu_ps(m2, cr + 32));                         \
        }                                                                                                 \
        _mm512_mask_storeu_ps(cr, m0, c##r##0);                                                           \
        _mm512_mask_storeu_ps(cr + 16, m1, c##r##1);                                                      \
        _mm512_mask_storeu_ps(cr + 32, m2, c##r##2);                                                      \
    }
    STORE_ROW(0)
    STORE_ROW(1)
    STORE_ROW(2)
    STORE_ROW(3)
    STORE_ROW(4)
    STORE_ROW(5)
    STORE_ROW(6)
    STORE_ROW(7)
#undef STORE_ROW
}

SAI_AVX512 static void kern8x48_ind(int kc, const float *ap, const float *base, const int64_t *offs, float *c,
                                     int ldc, int rows,
                                 __mmask16 m0, __mmask16 m1, __mmask16 m2, int load_c, const float *bias)
{
    __m512 c00, c01, c02, c10, c11, c12, c20, c21, c22, c30, c31, c32;
    __m512 c40, c41, c42, c50, c51, c52, c60, c61, c62, c70, c71, c72;
#define INIT_ROW(r)                                                                                  \
    do {                                                                                             \
        c##r##0 = c##r##1 = c##r##2 = _mm512_set1_ps(!load_c && bias && (r) < rows ? bias[r] : 0.0f); \
    } while (0)
    INIT_ROW(0);
    INIT_ROW(1);
    INIT_ROW(2);
    INIT_ROW(3);
    INIT_ROW(4);
    INIT_ROW(5);
    INIT_ROW(6);
    INIT_ROW(7);
#undef INIT_ROW
    for (int k = 0; k < kc; k++) {
        const float *bp = base + offs[k];
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, bp);
        const __m512 b1 = _mm512_maskz_loadu_ps(m1, bp + 16);
        const __m512 b2 = _mm512_maskz_loadu_ps(m2, bp + 32);
        __m512 a;
#define FMA_ROW(r)                                  \
    a = _mm512_set1_ps(ap[r]);                      \
    c##r##0 = _mm512_fmadd_ps(a, b0, c##r##0);      \
    c##r##1 = _mm512_fmadd_ps(a, b1, c##r##1);      \
    c##r##2 = _mm512_fmadd_ps(a, b2, c##r##2);
        FMA_ROW(0)
        FMA_ROW(1)
        FMA_ROW(2)
        FMA_ROW(3)
        FMA_ROW(4)
        FMA_ROW(5)
        FMA_ROW(6)
        FMA_ROW(7)
#undef FMA_ROW
        ap += 8;
    }
    /* each K block is summed from zero and then added to C: a two-level sum
     * keeps float32 rounding close to a blocked dot product */
#define STORE_ROW(r)                                                                                      \
    if ((r) < rows) {                                                                                     \
        float *cr = c + (size_t)(r) * ldc;                                                                \
        if (load_c) {                                                                                     \
            c##r##0 = _mm512_add_ps(c##r##0, _mm512_maskz_loadu_ps(m0, cr));                              \
            c##r##1 = _mm512_add_ps(c##r##1, _mm512_maskz_loadu_ps(m1, cr + 16));                         \
            c##r##2 = _mm512_add_ps(c##r##2, _mm512_maskz_loadu_ps(m2, cr + 32));                         \
        }                                                                                                 \
        _mm512_mask_storeu_ps(cr, m0, c##r##0);                                                           \
        _mm512_mask_storeu_ps(cr + 16, m1, c##r##1);                                                      \
        _mm512_mask_storeu_ps(cr + 32, m2, c##r##2);                                                      \
    }
    STORE_ROW(0)
    STORE_ROW(1)
    STORE_ROW(2)
    STORE_ROW(3)
    STORE_ROW(4)
    STORE_ROW(5)
    STORE_ROW(6)
    STORE_ROW(7)
#undef STORE_ROW
}


SAI_AVX512 void sai_gemm8x48(int m, int n, int k, const float *ap, const float *bp, float *c, int ldc,
                             int accumulate, const float *bias)
{
    const int mpanels = (m + 7) / 8, npanels = (n + 47) / 48;
    for (int k0 = 0; k0 < k; k0 += KC) {
        const int kc = k - k0 < KC ? k - k0 : KC;
        const int load_c = accumulate || k0 > 0;
        for (int p = 0; p < npanels; p++) {
            const int ncols = n - p * 48 < 48 ? n - p * 48 : 48;
            const __mmask16 m0 = sai_lane_mask(ncols), m1 = sai_lane_mask(ncols - 16), m2 = sai_lane_mask(ncols - 32);
            const float *bpp = bp + (size_t)p * k * 48 + (size_t)k0 * 48;
            for (int i = 0; i < mpanels; i++) {
                const int rows = m - i * 8 < 8 ? m - i * 8 : 8;
                kern8x48(kc, ap + (size_t)i * k * 8 + (size_t)k0 * 8, bpp, c + (size_t)i * 8 * ldc + p * 48, ldc,
                         rows, m0, m1, m2, load_c, bias ? bias + i * 8 : NULL);
            }
        }
    }
}

/* dst[j * ldd + i] = rows[i][j] for a 16 x 16 block. */
SAI_AVX512 static void transpose16p(const float *const *rows, float *dst, int64_t ldd)
{
    __m512 r[16], t[16];
    for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(rows[i]);
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    /* r[4b + c] holds, in 128-bit lane L, column 4L + c of rows 4b..4b+3 */
    for (int c = 0; c < 4; c++) {
        /* gather lane L of blocks b = 0..3 -> output row 4L + c */
        const __m512 a01lo = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x44);  /* lanes 0,1 of b0 | 0,1 of b1 */
        const __m512 a01hi = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xEE);  /* lanes 2,3 of b0 | 2,3 of b1 */
        const __m512 a23lo = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x44);
        const __m512 a23hi = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xEE);
        t[c] = _mm512_shuffle_f32x4(a01lo, a23lo, 0x88);      /* lane 0: b0, b1, b2, b3 */
        t[4 + c] = _mm512_shuffle_f32x4(a01lo, a23lo, 0xDD);  /* lane 1 */
        t[8 + c] = _mm512_shuffle_f32x4(a01hi, a23hi, 0x88);  /* lane 2 */
        t[12 + c] = _mm512_shuffle_f32x4(a01hi, a23hi, 0xDD); /* lane 3 */
    }
    for (int j = 0; j < 16; j++) _mm512_storeu_ps(dst + j * ldd, t[j]);
}

SAI_AVX512 static void transpose16(const float *src, int64_t lds, float *dst, int64_t ldd)
{
    const float *rows[16];
    for (int i = 0; i < 16; i++) rows[i] = src + i * lds;
    transpose16p(rows, dst, ldd);
}

SAI_AVX512 void sai_pack_bt48(const float *col, int k, int n, int64_t ld, float *bp)
{
    /* bp[p][q][t] = col[(48 p + t) * ld + q] (0 past k), q < n */
    const int panels = (k + 47) / 48;
    for (int p = 0; p < panels; p++) {
        float *dst = bp + (size_t)p * n * 48;
        for (int t0 = 0; t0 < 48; t0 += 16) {
            const int tap0 = p * 48 + t0;
            int q = 0;
            if (tap0 + 16 <= k)
                for (; q + 16 <= n; q += 16) transpose16(col + (int64_t)tap0 * ld + q, ld, dst + (size_t)q * 48 + t0, 48);
            for (; q < n; q++)
                for (int t = 0; t < 16; t++)
                    dst[(size_t)q * 48 + t0 + t] = tap0 + t < k ? col[(int64_t)(tap0 + t) * ld + q] : 0.0f;
        }
    }
}

SAI_AVX512 void sai_gemm8x48_rows(int m, int n, int k, const float *ap, const float *base, const int64_t *offs,
                                  float *c, int ldc, const float *bias)
{
    const int mpanels = (m + 7) / 8, npanels = (n + 47) / 48;
    for (int p = 0; p < npanels; p++) {
        const int ncols = n - p * 48 < 48 ? n - p * 48 : 48;
        const __mmask16 m0 = sai_lane_mask(ncols), m1 = sai_lane_mask(ncols - 16), m2 = sai_lane_mask(ncols - 32);
        for (int k0 = 0; k0 < k; k0 += KC) {
            const int kc = k - k0 < KC ? k - k0 : KC;
            for (int i = 0; i < mpanels; i++) {
                const int rows = m - i * 8 < 8 ? m - i * 8 : 8;
                kern8x48_ind(kc, ap + (size_t)i * k * 8 + (size_t)k0 * 8, base + p * 48, offs + k0,
                             c + (size_t)i * 8 * ldc + p * 48, ldc, rows, m0, m1, m2, k0 > 0,
                             bias ? bias + i * 8 : NULL);
            }
        }
    }
}

#else

void sai_pack_bt48(const float *col, int k, int n, int64_t ld, float *bp)
{
    (void)col, (void)k, (void)n, (void)ld, (void)bp;
}

void sai_gemm8x48_rows(int m, int n, int k, const float *ap, const float *base, const int64_t *offs, float *c,
                       int ldc, const float *bias)
{
    (void)m, (void)n, (void)k, (void)ap, (void)base, (void)offs, (void)c, (void)ldc, (void)bias;
}

void sai_gemm8x48(int m, int n, int k, const float *ap, const float *bp, float *c, int ldc, int accumulate,
                  const float *bias)
{
    (void)m, (void)n, (void)k, (void)ap, (void)bp, (void)c, (void)ldc, (void)accumulate, (void)bias;
}

#endif
