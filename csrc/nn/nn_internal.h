/* nn_internal.h: helpers shared by the nn kernels (not public). */
#ifndef SAI_NN_INTERNAL_H
#define SAI_NN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "sacroai/sai_nn.h"

#ifdef _OPENMP
#include <omp.h>
#define SAI_TID() omp_get_thread_num()
#else
#define SAI_TID() 0
#endif

/* Plain C loops that are hot get an AVX-512 clone chosen at load time (the
 * build targets baseline x86-64).  -std=c11 keeps -ffp-contract=off and no
 * reassociation, so every clone computes the same bits. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define SAI_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SAI_CLONES
#endif

/* Scratch slots of the calling thread's workspace (grow-only, reused). */
enum { SAI_NN_WS_COLS = 0, SAI_NN_WS_WEIGHTS = 1, SAI_NN_WS_ACC = 2, SAI_NN_WS_TMP = 3, SAI_NN_WS_COUNT = 4 };
/* NULL (with SAI_ENOMEM set) on failure. */
void *sai_nn_scratch(int slot, size_t nbytes);

#define SAI_NN_CHECK_PTR(p, name)                                                   \
    do {                                                                            \
        if (!(p)) return sai_error_set(SAI_EINVAL, "%s: %s must not be NULL", __func__, name); \
    } while (0)

/* 1 when the CPU runs AVX-512F and this build has the AVX-512 kernels (checked once; gemm_avx512.c). */
int sai_nn_avx512(void);

/* Mean and variance of each of `rows` contiguous rows of length s (instance norm), bit-identical
 * to norm.c's scalar row reduction but 8 rows at a time (bn_act.c). */
sai_status sai_norm_row_stats(const float *x, int64_t rows, int64_t s, float *mean, float *var);

/* out[2r] = sum of dy and out[2r + 1] = sum of dy (x - mean[r]) * invstd[r] over each of `rows`
 * contiguous rows (instance-norm backward), bit-identical to norm.c's scalar loop (bn_act.c). */
sai_status sai_norm_row_grad_sums(const float *x, const float *dy, int64_t rows, int64_t s, const float *mean,
                                  const float *invstd, double *out);

/* Max pooling with 2 x 2 (x 2) windows and stride 2, no padding (pool_fast.c). */
int sai_maxpool2_fast_ok(const sai_pool_geom *g);
sai_status sai_maxpool2_forward_fast(const sai_pool_geom *g, const float *x, float *y, int64_t *indices);

/* ReLU (relu = 1) and LeakyReLU over [lo, hi), AVX-512 (act_avx512.c; only where sai_nn_avx512()). */
void sai_act_rect_forward(const float *x, float *y, int64_t lo, int64_t hi, int relu, float slope);
void sai_act_rect_backward(const float *saved, const float *dy, float *dx, int64_t lo, int64_t hi, int relu,
                           float slope);

/* Floats per thread in a shared scratch array, rounded up to whole cache
 * lines: every thread's segment then starts 64-byte aligned like thread 0's
 * (a misaligned segment split every vector load and store of that thread in
 * two, and made the Winograd transforms of the second thread 2x slower). */
static inline size_t sai_nn_per_thread(size_t floats) { return (floats + 15) / 16 * 16; }

static inline int sai_nn_threads_for(int64_t items)
{
    int nt = sai_get_num_threads();
    if (nt < 1) nt = 1;
    if (items < nt) nt = (int)(items < 1 ? 1 : items);
    return nt;
}

#endif
