/* act_avx512.c: ReLU and LeakyReLU forward and backward with AVX-512.
 *
 * The scalar loops in act.c compute the same expressions; GCC does not
 * vectorise the LeakyReLU select (the multiply may trap under the default
 * -ftrapping-math), which made it 7x slower than ReLU.  Results are identical
 * to the scalar loops bit for bit, NaN and -0 included.
 */
#include "nn_internal.h"

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

#include "simd_avx512.h"

/* y[i] = x[i] > 0 ? x[i] : x[i] * slope over [lo, hi) (slope 0 with relu: 0, as act.c). */
__attribute__((target("avx512f"))) void sai_act_rect_forward(const float *x, float *y, int64_t lo, int64_t hi,
                                                              int relu, float slope)
{
    const __m512 zero = _mm512_setzero_ps(), s = _mm512_set1_ps(slope);
    for (int64_t i = lo; i < hi; i += 16) {
        const int n = hi - i < 16 ? (int)(hi - i) : 16;
        const __mmask16 m = sai_lane_mask(n);
        const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        const __mmask16 pos = _mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ);
        const __m512 neg = relu ? zero : _mm512_mul_ps(v, s);
        _mm512_mask_storeu_ps(y + i, m, _mm512_mask_blend_ps(pos, neg, v));
    }
}

/* dx[i] = saved[i] > 0 ? dy[i] : dy[i] * slope (relu: 0). */
__attribute__((target("avx512f"))) void sai_act_rect_backward(const float *saved, const float *dy, float *dx,
                                                               int64_t lo, int64_t hi, int relu, float slope)
{
    const __m512 zero = _mm512_setzero_ps(), s = _mm512_set1_ps(slope);
    for (int64_t i = lo; i < hi; i += 16) {
        const int n = hi - i < 16 ? (int)(hi - i) : 16;
        const __mmask16 m = sai_lane_mask(n);
        const __m512 g = _mm512_maskz_loadu_ps(m, dy + i);
        const __mmask16 pos = _mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(m, saved + i), zero, _CMP_GT_OQ);
        const __m512 neg = relu ? zero : _mm512_mul_ps(g, s);
        _mm512_mask_storeu_ps(dx + i, m, _mm512_mask_blend_ps(pos, neg, g));
    }
}

#else

void sai_act_rect_forward(const float *x, float *y, int64_t lo, int64_t hi, int relu, float slope)
{
    (void)x, (void)y, (void)lo, (void)hi, (void)relu, (void)slope;
}
void sai_act_rect_backward(const float *saved, const float *dy, float *dx, int64_t lo, int64_t hi, int relu,
                           float slope)
{
    (void)saved, (void)dy, (void)dx, (void)lo, (void)hi, (void)relu, (void)slope;
}

#endif
