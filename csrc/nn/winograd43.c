/* winograd43.c: Winograd F(4x4, 3x3) transforms for 2-D (kernel depth 1) layers.
 *
 * A tile is 4 x 4 outputs read from 6 x 6 inputs: 36 products per 16 outputs
 * (F(2x2, 3x3): 16 per 4; direct: 144 per 16).  The points are 0, +-1, +-2
 * and infinity (Lavin & Gray), so the transforms have small integer
 * coefficients and the weight transform 1/4, 1/6, 1/12, 1/24; rounding stays
 * within a few 1e-6 relative of the direct sum for float32 activations.
 *
 * These are the three per-tile steps; the blocking, GEMMs and threading are
 * shared with F(2, 3) in winograd.c.  Tiles are vector lanes (16 tiles of
 * one row at a time), as there.
 */
#include "nn_internal.h"
#include "winograd.h"

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

#include "simd_avx512.h"
#define W43_AVX512 __attribute__((target("avx512f")))

void sai_wg43_weight_transform(const float *w, int co_n, int ci_n, float *u)
{
    static const double G[6][3] = {{1.0 / 4, 0, 0},
                                   {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                   {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                   {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                   {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                   {0, 0, 1}};
    const int nt = sai_nn_threads_for((int64_t)co_n * ci_n / 256 + 1);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int co = 0; co < co_n; co++)
        for (int ci = 0; ci < ci_n; ci++) {
            const float *k = w + ((size_t)co * ci_n + ci) * 9;
            double t[3][6];
            for (int j = 0; j < 3; j++)
                for (int c = 0; c < 6; c++)
                    t[j][c] = G[c][0] * k[j * 3] + G[c][1] * k[j * 3 + 1] + G[c][2] * k[j * 3 + 2];
            for (int b = 0; b < 6; b++)
                for (int c = 0; c < 6; c++)
                    u[((size_t)(b * 6 + c) * co_n + co) * ci_n + ci] =
                        (float)(G[b][0] * t[0][c] + G[b][1] * t[1][c] + G[b][2] * t[2][c]);
        }
}

/* B^T d of F(4, 3) on six vectors (in place). */
W43_AVX512 static inline void bt6(__m512 d[6])
{
    const __m512 four = _mm512_set1_ps(4.0f), five = _mm512_set1_ps(5.0f), two = _mm512_set1_ps(2.0f);
    const __m512 a = _mm512_fnmadd_ps(four, d[2], d[4]); /* d4 - 4 d2 */
    const __m512 b = _mm512_fnmadd_ps(four, d[1], d[3]); /* d3 - 4 d1 */
    const __m512 c = _mm512_sub_ps(d[4], d[2]);
    const __m512 e = _mm512_mul_ps(two, _mm512_sub_ps(d[3], d[1]));
    const __m512 o0 = _mm512_add_ps(_mm512_fnmadd_ps(five, d[2], _mm512_mul_ps(four, d[0])), d[4]);
    const __m512 o5 = _mm512_add_ps(_mm512_fnmadd_ps(five, d[3], _mm512_mul_ps(four, d[1])), d[5]);
    d[0] = o0;
    d[1] = _mm512_add_ps(a, b);
    d[2] = _mm512_sub_ps(a, b);
    d[3] = _mm512_add_ps(c, e);
    d[4] = _mm512_sub_ps(c, e);
    d[5] = o5;
}

/* A^T m of F(4, 3): six vectors to four. */
W43_AVX512 static inline void at6(const __m512 m[6], __m512 y[4])
{
    const __m512 s1 = _mm512_add_ps(m[1], m[2]), t1 = _mm512_sub_ps(m[1], m[2]);
    const __m512 s2 = _mm512_add_ps(m[3], m[4]), t2 = _mm512_sub_ps(m[3], m[4]);
    y[0] = _mm512_add_ps(_mm512_add_ps(m[0], s1), s2);
    y[1] = _mm512_fmadd_ps(_mm512_set1_ps(2.0f), t2, t1);
    y[2] = _mm512_fmadd_ps(_mm512_set1_ps(4.0f), s2, s1);
    y[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8.0f), t2, t1), m[5]);
}

/* x[4 t + c] for t < 16, c < 6, from the 80 floats at r. */
W43_AVX512 static inline void load_stride4(const float *r, __m512 d[6])
{
    const __m512i base = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m512 z0 = _mm512_loadu_ps(r), z1 = _mm512_loadu_ps(r + 16), z2 = _mm512_loadu_ps(r + 32),
                 z3 = _mm512_loadu_ps(r + 48), z4 = _mm512_loadu_ps(r + 64);
    for (int c = 0; c < 4; c++) {
        const __m512i idx = _mm512_add_epi32(base, _mm512_set1_epi32(c));
        const __m512 lo = _mm512_permutex2var_ps(z0, idx, z1), hi = _mm512_permutex2var_ps(z2, idx, z3);
        d[c] = _mm512_shuffle_f32x4(lo, hi, 0x44);
    }
    /* c = 4, 5: the c = 0, 1 vectors shifted by one tile, topped up from z4 */
    const __m512i z4i = _mm512_castps_si512(z4);
    d[4] = _mm512_castsi512_ps(_mm512_alignr_epi32(z4i, _mm512_castps_si512(d[0]), 1));
    d[5] = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_alignr_epi32(z4i, z4i, 1), _mm512_castps_si512(d[1]), 1));
}

W43_AVX512 void sai_wg43_input_chunk(const sai_wg_plan *pl, const float *xc, int td, int th, int tw, int len, float *v,
                          size_t pstride)
{
    const __mmask16 mk = sai_lane_mask(len);
    __m512 rows[6][6];
    for (int b = 0; b < 6; b++) {
        const float *r = xc + ((int64_t)td * pl->PH + 4 * th + b) * pl->PW + 4 * tw;
        load_stride4(r, rows[b]);
        bt6(rows[b]);
    }
    for (int c = 0; c < 6; c++) {
        __m512 col[6] = {rows[0][c], rows[1][c], rows[2][c], rows[3][c], rows[4][c], rows[5][c]};
        bt6(col);
        for (int b = 0; b < 6; b++) _mm512_mask_storeu_ps(v + (size_t)(b * 6 + c) * pstride, mk, col[b]);
    }
}

W43_AVX512 void sai_wg43_output_chunk(const sai_conv_geom *g, const float *m, size_t pstride, int td, int th, int tw, int len,
                           float bias, float *yc)
{
    const int OH = g->out[1], OW = g->out[2];
    __m512 z[6][4];
    for (int b = 0; b < 6; b++) {
        __m512 r[6];
        for (int c = 0; c < 6; c++) r[c] = _mm512_loadu_ps(m + (size_t)(b * 6 + c) * pstride);
        at6(r, z[b]);
    }
    const __m512 bv = _mm512_set1_ps(bias);
    const __m512i p01 = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i p01h = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __m512i q0 = _mm512_setr_epi32(0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
    const __m512i q1 = _mm512_setr_epi32(8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
    const int ow0 = 4 * tw, nvalid = OW - ow0 < 4 * len ? OW - ow0 : 4 * len;
    /* outputs (i, k): y[i][k] = A^T over b of z[b][k] */
    __m512 out[4][4];
    for (int k = 0; k < 4; k++) {
        __m512 col[6] = {z[0][k], z[1][k], z[2][k], z[3][k], z[4][k], z[5][k]};
        __m512 yk[4];
        at6(col, yk);
        for (int i = 0; i < 4; i++) out[i][k] = _mm512_add_ps(yk[i], bv);
    }
    for (int i = 0; i < 4; i++) {
        const int oh = 4 * th + i;
        if (oh >= OH) break;
        const __m512 a_lo = _mm512_permutex2var_ps(out[i][0], p01, out[i][1]);
        const __m512 a_hi = _mm512_permutex2var_ps(out[i][0], p01h, out[i][1]);
        const __m512 b_lo = _mm512_permutex2var_ps(out[i][2], p01, out[i][3]);
        const __m512 b_hi = _mm512_permutex2var_ps(out[i][2], p01h, out[i][3]);
        float *row = yc + ((int64_t)td * OH + oh) * OW + ow0;
        const __m512 o[4] = {_mm512_permutex2var_ps(a_lo, q0, b_lo), _mm512_permutex2var_ps(a_lo, q1, b_lo),
                             _mm512_permutex2var_ps(a_hi, q0, b_hi), _mm512_permutex2var_ps(a_hi, q1, b_hi)};
        for (int s = 0; s < 4; s++) {
            const int n = nvalid - 16 * s;
            if (n <= 0) break;
            _mm512_mask_storeu_ps(row + 16 * s, sai_lane_mask(n), o[s]);
        }
    }
}

#endif
