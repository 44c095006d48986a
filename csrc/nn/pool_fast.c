/* pool_fast.c: AVX-512 max pooling for the windows U-Nets and CNNs use most:
 * kernel 2 and stride 2 in H and W (and in D, or kernel 1 in D), no padding
 * or dilation, every window inside the input.
 *
 * 16 outputs of a row at a time: the two input columns of each window are
 * split into even and odd lanes, and the window's values are scanned in the
 * generic kernel's order (depth, row, column) with its rules: the first
 * maximum wins ties, and a NaN replaces the running maximum (the last NaN
 * wins), as in PyTorch.  Results and indices equal the generic kernel's.
 */
#include <stdint.h>

#include "nn_internal.h"

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

#include "simd_avx512.h"
#define PF_BUILD 1
#define PF_AVX512 __attribute__((target("avx512f")))
#else
#define PF_BUILD 0
#endif

int sai_maxpool2_fast_ok(const sai_pool_geom *g)
{
#if PF_BUILD
    if (!sai_nn_avx512()) return 0;
    if (!((g->k[0] == 2 && g->stride[0] == 2) || (g->k[0] == 1 && g->stride[0] == 1))) return 0;
    for (int a = 0; a < 3; a++) {
        if (g->pad[a] != 0 || g->dil[a] != 1) return 0;
        if ((int64_t)g->out[a] * g->stride[a] + (g->k[a] - g->stride[a]) > g->in[a]) return 0;
    }
    if (g->k[1] != 2 || g->stride[1] != 2 || g->k[2] != 2 || g->stride[2] != 2) return 0;
    return (int64_t)g->in[0] * g->in[1] * g->in[2] < INT32_MAX;
#else
    (void)g;
    return 0;
#endif
}

#if PF_BUILD

PF_AVX512 static void pool_row(const float *const rows[4], const int32_t offs[4], int nrows, int OW, float *y,
                               int64_t *idx)
{
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const __m512i lane2 = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    for (int ow = 0; ow < OW; ow += 16) {
        const int n = OW - ow < 16 ? OW - ow : 16;
        const __mmask16 m = sai_lane_mask(n);
        const __mmask16 mlo = n >= 8 ? (__mmask16)0xFFFF : (__mmask16)((1u << (2 * n)) - 1);
        const __mmask16 mhi = n <= 8 ? (__mmask16)0 : (__mmask16)((1u << (2 * (n - 8))) - 1);
        __m512 best = _mm512_setzero_ps();
        __m512i bi = _mm512_setzero_si512();
        for (int r = 0; r < nrows; r++) {
            const float *p = rows[r] + 2 * ow;
            const __m512 lo = _mm512_maskz_loadu_ps(mlo, p), hi = _mm512_maskz_loadu_ps(mhi, p + 16);
            const __m512i base = _mm512_add_epi32(lane2, _mm512_set1_epi32(offs[r] + 2 * ow));
            for (int kw = 0; kw < 2; kw++) {
                const __m512 v = _mm512_permutex2var_ps(lo, kw ? odd : ev, hi);
                const __m512i vi = kw ? _mm512_add_epi32(base, _mm512_set1_epi32(1)) : base;
                if (r == 0 && kw == 0) {
                    best = v;
                    bi = vi;
                    continue;
                }
                const __mmask16 take =
                    _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
                best = _mm512_mask_mov_ps(best, take, v);
                bi = _mm512_mask_mov_epi32(bi, take, vi);
            }
        }
        _mm512_mask_storeu_ps(y + ow, m, best);
        if (idx) {
            const __m512i i0 = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(bi));
            const __m512i i1 = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(bi, 1));
            _mm512_mask_storeu_epi64(idx + ow, (__mmask8)(m & 0xFF), i0);
            _mm512_mask_storeu_epi64(idx + ow + 8, (__mmask8)(m >> 8), i1);
        }
    }
}

sai_status sai_maxpool2_forward_fast(const sai_pool_geom *g, const float *x, float *y, int64_t *indices)
{
    const int IH = g->in[1], IW = g->in[2];
    const int OD = g->out[0], OH = g->out[1], OW = g->out[2], kd = g->k[0];
    const int64_t isp = (int64_t)g->in[0] * IH * IW, osp = (int64_t)OD * OH * OW;
    const int64_t rows_total = g->nc * OD * OH;
    const int nt = sai_nn_threads_for(rows_total / 64 + 1);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t rr = 0; rr < rows_total; rr++) {
        const int oh = (int)(rr % OH), od = (int)((rr / OH) % OD);
        const int64_t pc = rr / ((int64_t)OH * OD);
        const float *rows[4];
        int32_t offs[4];
        int nrows = 0;
        for (int a = 0; a < kd; a++)
            for (int b = 0; b < 2; b++) {
                const int id = od * g->stride[0] + a, ih = 2 * oh + b;
                offs[nrows] = (int32_t)(((int64_t)id * IH + ih) * IW);
                rows[nrows] = x + pc * isp + offs[nrows];
                nrows++;
            }
        const int64_t o = pc * osp + ((int64_t)od * OH + oh) * OW;
        pool_row(rows, offs, nrows, OW, y + o, indices ? indices + o : NULL);
    }
    return SAI_OK;
}

#else

sai_status sai_maxpool2_forward_fast(const sai_pool_geom *g, const float *x, float *y, int64_t *indices)
{
    (void)g, (void)x, (void)y, (void)indices;
    return sai_error_set(SAI_EINTERNAL, "pool: the AVX-512 kernel is not in this build");
}

#endif
