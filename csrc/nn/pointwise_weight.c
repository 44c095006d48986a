/* pointwise_weight.c: the weight gradient of 1x1(x1) convolutions with few
 * channels, dw[co][ci] = sum over samples and positions of dy[co] x[ci].
 *
 * With c_out and c_in small (attention gates, segmentation heads) a GEMM
 * over the long position axis wastes most of its micro-tile and packs both
 * operands; here blocks of 4 x 4 channel pairs keep 16 running dot products
 * in registers while the positions stream past.  Positions are split into
 * fixed chunks summed in a fixed order, so the result does not depend on the
 * thread count's scheduling.
 */
#include <string.h>

#include "nn_internal.h"
#include "winograd.h"

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

#include "simd_avx512.h"
#define PW_AVX512 __attribute__((target("avx512f")))

#define CHUNK 4096 /* positions per work item */

int sai_conv_pointwise_weight_ok(const sai_conv_geom *g)
{
    if (!sai_winograd_enabled || !sai_gemm8x48_available()) return 0;
    for (int a = 0; a < 3; a++)
        if (g->k[a] != 1 || g->stride[a] != 1 || g->pad[a] != 0) return 0;
    return g->groups == 1 && g->c_out <= 32 && g->c_in <= 64;
}

/* out[i][j] = sum_s a[i][s] b[j][s] over s < len for i < ni, j < nj (<= 4 each). */
PW_AVX512 static void dots4x4(const float *a, int64_t lda, int ni, const float *b, int64_t ldb, int nj, int64_t len,
                              float out[4][4])
{
    __m512 acc[4][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) acc[i][j] = _mm512_setzero_ps();
    const float *ar[4], *br[4];
    for (int i = 0; i < 4; i++) ar[i] = a + (int64_t)(i < ni ? i : 0) * lda;
    for (int j = 0; j < 4; j++) br[j] = b + (int64_t)(j < nj ? j : 0) * ldb;
    for (int64_t s = 0; s < len; s += 16) {
        const int n = len - s < 16 ? (int)(len - s) : 16;
        const __mmask16 m = sai_lane_mask(n);
        __m512 bv[4];
        for (int j = 0; j < 4; j++) bv[j] = _mm512_maskz_loadu_ps(m, br[j] + s);
        for (int i = 0; i < 4; i++) {
            const __m512 av = _mm512_maskz_loadu_ps(m, ar[i] + s);
            for (int j = 0; j < 4; j++) acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
        }
    }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) out[i][j] = _mm512_reduce_add_ps(acc[i][j]);
}

sai_status sai_conv_backward_weight_pointwise(const sai_conv_geom *g, const float *x, const float *dy, float *dw)
{
    const int co_n = g->c_out, ci_n = g->c_in;
    const int64_t sp = (int64_t)g->in[0] * g->in[1] * g->in[2];
    const int64_t per_n = (sp + CHUNK - 1) / CHUNK, items = (int64_t)g->n * per_n;
    const size_t wsz = (size_t)co_n * ci_n;
    /* one partial per work item, summed in item order afterwards */
    float *part = sai_nn_scratch(SAI_NN_WS_ACC, (size_t)items * wsz * sizeof(float));
    if (!part) return SAI_ENOMEM;
    const int nt = sai_nn_threads_for(items);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t it = 0; it < items; it++) {
        const int64_t ni = it / per_n, s0 = (it % per_n) * CHUNK;
        const int64_t len = sp - s0 < CHUNK ? sp - s0 : CHUNK;
        const float *xs = x + ni * ci_n * sp + s0, *ds = dy + ni * co_n * sp + s0;
        float *p = part + (size_t)it * wsz;
        for (int co = 0; co < co_n; co += 4)
            for (int ci = 0; ci < ci_n; ci += 4) {
                const int ni4 = co_n - co < 4 ? co_n - co : 4, nj4 = ci_n - ci < 4 ? ci_n - ci : 4;
                float out[4][4];
                dots4x4(ds + (int64_t)co * sp, sp, ni4, xs + (int64_t)ci * sp, sp, nj4, len, out);
                for (int i = 0; i < ni4; i++)
                    for (int j = 0; j < nj4; j++) p[(size_t)(co + i) * ci_n + ci + j] = out[i][j];
            }
    }
    const int ntr = sai_nn_threads_for((int64_t)wsz / 16 + 1);
#pragma omp parallel for num_threads(ntr) if (ntr > 1) schedule(static)
    for (int64_t k = 0; k < (int64_t)wsz; k++) {
        double s = 0.0;
        for (int64_t it = 0; it < items; it++) s += part[(size_t)it * wsz + k];
        dw[k] = (float)s;
    }
    return SAI_OK;
}

#else

int sai_conv_pointwise_weight_ok(const sai_conv_geom *g)
{
    (void)g;
    return 0;
}

sai_status sai_conv_backward_weight_pointwise(const sai_conv_geom *g, const float *x, const float *dy, float *dw)
{
    (void)g, (void)x, (void)dy, (void)dw;
    return sai_error_set(SAI_EINTERNAL, "conv: the pointwise kernel needs an x86-64 AVX-512 build");
}

#endif
