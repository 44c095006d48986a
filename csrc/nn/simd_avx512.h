/* simd_avx512.h: small AVX-512 helpers shared by the nn kernels (internal;
 * include after <immintrin.h>). */
#ifndef SAI_SIMD_AVX512_H
#define SAI_SIMD_AVX512_H

/* The first n of 16 lanes (n <= 0: none; n >= 16: all). */
static inline __mmask16 sai_lane_mask(int n)
{
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

#endif
