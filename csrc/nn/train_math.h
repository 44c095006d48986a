/* train_math.h: branch-free float exp/log for the loss kernels (internal).
 *
 * Cephes-style range reduction and minimax polynomials (max error about
 * 2 ulp over the float range), written without calls or branches so that
 * `#pragma omp simd` loops vectorize with plain SSE2.  NaN inputs propagate.
 *
 * Under the default -ftrapping-math GCC will not if-convert a floating
 * operation that only one arm of a conditional needs, so conditionals here
 * only select between values that are needed anyway (or constants).
 */
#ifndef SAI_NN_TRAIN_MATH_H
#define SAI_NN_TRAIN_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float sai_bits_to_float(int32_t i)
{
    float f;
    memcpy(&f, &i, sizeof f);
    return f;
}

static inline int32_t sai_float_to_bits(float f)
{
    int32_t i;
    memcpy(&i, &f, sizeof i);
    return i;
}

/* All-ones when cond is true, else 0; and a bitwise choice between floats.
 * GCC turns `c ? a : b` on floats into branches it then cannot if-convert
 * (it moves the arithmetic of a or b under the condition); a bitwise blend
 * keeps the loop straight-line. */
static inline int32_t sai_mask(int cond) { return -(int32_t)(cond != 0); }

static inline float sai_blendf(int32_t mask, float if_set, float if_clear)
{
    return sai_bits_to_float((sai_float_to_bits(if_set) & mask) |
                             (sai_float_to_bits(if_clear) & ~mask));
}

/* exp(x); results below ~1.2e-38 are returned as that value (no denormals,
 * never 0), results above ~8.6e37 saturate there; NaN stays NaN. */
static inline float sai_expf(float x)
{
    /* one select for both ends (two chained selects defeat GCC's if-conversion) */
    const float c = fabsf(x) > 87.33654f ? copysignf(87.33654f, x) : x;
    /* round(c / ln 2) with the 1.5 * 2^23 trick (no rounding instruction needed) */
    const float magic = 12582912.0f;
    float fx = (c * 1.44269504088896341f + magic) - magic;
    float r = c - fx * 0.693359375f;
    r = r - fx * -2.12194440e-4f;
    float y = 1.9875691500e-4f;
    y = y * r + 1.3981999507e-3f;
    y = y * r + 8.3334519073e-3f;
    y = y * r + 4.1665795894e-2f;
    y = y * r + 1.6666665459e-1f;
    y = y * r + 5.0000001201e-1f;
    y = y * (r * r) + r + 1.0f;
    const int32_t n = (int32_t)fx;
    const float scale = sai_bits_to_float((n + 127) << 23);
    return y * scale; /* a NaN input stays NaN through c, r and y */
}

/* log(x) for normal positive x (the callers guarantee x >= 1e-38); NaN stays NaN. */
static inline float sai_logf(float x)
{
    const int32_t bits = sai_float_to_bits(x);
    float e = (float)(((bits >> 23) & 0xff) - 126);
    float m = sai_bits_to_float((bits & 0x007fffff) | 0x3f000000); /* in [0.5, 1) */
    /* selects only: floating operations inside a conditional would block
     * if-conversion (and so vectorization) under the default -ftrapping-math */
    const int32_t small = sai_mask(m < 0.707106781186547524f);
    e = e - (float)(small & 1);
    m = sai_blendf(small, m + m, m) - 1.0f;
    const float z = m * m;
    float y = 7.0376836292e-2f;
    y = y * m - 1.1514610310e-1f;
    y = y * m + 1.1676998740e-1f;
    y = y * m - 1.2420140846e-1f;
    y = y * m + 1.4249322787e-1f;
    y = y * m - 1.6668057665e-1f;
    y = y * m + 2.0000714765e-1f;
    y = y * m - 2.4999993993e-1f;
    y = y * m + 3.3333331174e-1f;
    y = y * m * z;
    y += -2.12194440e-4f * e;
    y += -0.5f * z;
    float out = m + y;
    out += 0.693359375f * e;
    return out + (x - x); /* NaN (and inf) inputs give NaN */
}

/* log(1 + t) for t in [0, 1], accurate for tiny t (Goldberg's trick). */
static inline float sai_log1pf_unit(float t)
{
    const float u = 1.0f + t;
    const float d = u - 1.0f;
    const int32_t exact = sai_mask(d == 0.0f); /* 1 + t rounded to 1: log1p(t) = t */
    const float r = sai_logf(u) * (t / (d + (float)(exact & 1)));
    return sai_blendf(exact, t, r);
}

#endif
