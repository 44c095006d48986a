/* gemm_avx512.h: packed AVX-512 GEMM used by the convolution (internal). */
#ifndef SAI_GEMM_AVX512_H
#define SAI_GEMM_AVX512_H

#include <stdint.h>

/* 1 when the CPU supports AVX-512F and this build has the kernel. */
int sai_gemm8x48_available(void);
/* Pack row-major a [m x k] into panels of 8 rows, ap[(m+7)/8][k][8] (zero rows padded). */
void sai_pack_a8(const float *a, int m, int k, float *ap);
/* The same with row stride lda. */
void sai_pack_a8_ld(const float *a, int m, int k, int64_t lda, float *ap);
/* c[m x n] (row stride ldc) = (accumulate ? c : bias per row or 0) + A * B with A packed by
 * sai_pack_a8 and B packed as bp[(n+47)/48][k][48]. */
void sai_gemm8x48(int m, int n, int k, const float *ap, const float *bp, float *c, int ldc, int accumulate,
                  const float *bias);

/* B panels from rows of x [n][K][S]: bp[p][k][t] = row k0 + k, column j0 + 48 p + t, where
 * column j is position j % S of sample j / S (k < kc, 48 p + t < nj; the last panel's
 * tail is left unset).  With prefetch the same rows of the next nj columns are prefetched. */
void sai_pack_rows48(const float *x, int K, int64_t S, int64_t j0, int nj, int k0, int kc, int prefetch, float *bp);
/* Pack the transpose of col [k x n] (row stride ld) as B panels of 48 of its
 * rows: bp[p][q][t] = col[(48 p + t) ld + q], zero past row k. */
void sai_pack_bt48(const float *col, int k, int n, int64_t ld, float *bp);
/* Implicit-GEMM form for unit-stride rows: B row kk is the n floats at
 * base + offs[kk] (contiguous; read with masks, so no padding is needed past
 * the end).  c[m x n] = bias + A * B. */
void sai_gemm8x48_rows(int m, int n, int k, const float *ap, const float *base, const int64_t *offs, float *c,
                       int ldc, const float *bias);

#endif
