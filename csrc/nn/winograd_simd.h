/* winograd_simd.h: AVX-512 pieces shared by the F(2, 3) kernels (internal;
 * include after <immintrin.h>, from functions compiled for AVX-512F). */
#ifndef SAI_WINOGRAD_SIMD_H
#define SAI_WINOGRAD_SIMD_H

#include "simd_avx512.h"

/* B^T d of F(2, 3) on four vectors: d0 - d2, d1 + d2, d2 - d1, d1 - d3. */
#define BT4(d0, d1, d2, d3, o0, o1, o2, o3) \
    do {                                     \
        o0 = _mm512_sub_ps(d0, d2);          \
        o1 = _mm512_add_ps(d1, d2);          \
        o2 = _mm512_sub_ps(d2, d1);          \
        o3 = _mm512_sub_ps(d1, d3);          \
    } while (0)

#endif
