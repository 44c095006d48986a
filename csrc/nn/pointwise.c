/* pointwise.c: 1x1(x1) stride-1 convolutions on the packed AVX-512 GEMM.
 *
 * y[n][co][s] = b[co] + sum_ci w[co][ci] x[n][ci][s] is one GEMM per sample
 * whose B operand is the input itself.  The input gradient of such a layer
 * is the same product with the transposed weight (conv.c routes it here), so
 * both passes of every DenseNet / ResNet bottleneck 1x1 layer run on this.
 *
 * An sgemm call on the raw input packs B with 16 x 16 transposes and first
 * zeroes C (OpenBLAS's beta pass); here B is packed once per tile of columns
 * into the 48-column panels of sai_gemm8x48, reading each input row as one
 * contiguous run while the same rows of the next tile are prefetched, and C
 * is written by the kernel directly.  Input channels are cut into chunks of
 * 256 (a multiple of the kernel's 128-deep K blocks, so the result is the
 * same as one pass over all of K) and the tile of C stays in L2 between
 * chunks.  Columns are positions of one sample; when a sample has fewer
 * positions than a tile (deep layers, 7 x 7), tiles run across samples and
 * are scattered to the output afterwards.
 *
 * Tiles are fixed by the shape, each summed in a fixed order, and split over
 * threads in contiguous ranges, so results do not depend on the thread count.
 * Used under conv_algorithm "auto" / "fast" (sai_winograd_enabled); "gemm"
 * keeps the original sgemm path bit for bit.
 */
#include <string.h>

#include "nn_internal.h"
#include "gemm_avx512.h"
#include "winograd.h"

#define PW_TILE_BYTES (384 * 1024) /* one packed B tile: sized to stay in L2 beside A and C */
#define PW_KCHUNK 256              /* input channels per pass when there are more than 384 */

int sai_conv_pointwise_ok(const sai_conv_geom *g)
{
    if (!sai_winograd_enabled || !sai_gemm8x48_available() || g->groups != 1) return 0;
    for (int a = 0; a < 3; a++)
        if (g->k[a] != 1 || g->stride[a] != 1 || g->pad[a] != 0) return 0;
    return 1;
}

typedef struct {
    int M, K, kc;       /* output rows, input channels, channels per chunk */
    int64_t S, J;       /* positions per sample, positions of all samples */
    int T;              /* columns per tile (a multiple of 48 unless the whole of S) */
    int joint;          /* tiles run across samples */
    int64_t per_sample; /* tiles per sample (when not joint) */
    int64_t ntiles;
} pw_plan;

static void plan_init(const sai_conv_geom *g, pw_plan *p)
{
    p->M = g->c_out;
    p->K = g->c_in;
    p->kc = p->K <= 384 ? p->K : PW_KCHUNK;
    p->S = (int64_t)g->in[0] * g->in[1] * g->in[2];
    p->J = (int64_t)g->n * p->S;
    int64_t t = PW_TILE_BYTES / ((int64_t)p->kc * (int64_t)sizeof(float));
    t = t < 96 ? 96 : t > 1536 ? 1536 : t;
    t = t / 48 * 48;
    p->joint = p->S < t && g->n > 1;
    if (p->joint) {
        p->T = (int)t;
        p->per_sample = 0;
        p->ntiles = (p->J + t - 1) / t;
    } else {
        /* balanced tiles of whole panels, so the last one is not a sliver */
        const int64_t n = (p->S + t - 1) / t;
        int64_t tb = ((p->S + n - 1) / n + 47) / 48 * 48;
        p->T = (int)(tb < p->S ? tb : p->S);
        p->per_sample = (p->S + p->T - 1) / p->T;
        p->ntiles = (int64_t)g->n * p->per_sample;
    }
}

sai_status sai_conv_forward_pointwise(const sai_conv_geom *g, const float *x, const float *w, const float *b,
                                      float *y)
{
    pw_plan p;
    plan_init(g, &p);
    const int chunks = (p.K + p.kc - 1) / p.kc;
    const size_t apc = (size_t)(p.M + 7) / 8 * 8 * p.kc; /* one chunk of packed A */
    float *apk = sai_nn_scratch(SAI_NN_WS_ACC, (size_t)chunks * apc * sizeof(float));
    if (!apk) return SAI_ENOMEM;
    for (int c = 0; c < chunks; c++) {
        const int k0 = c * p.kc, kc = p.K - k0 < p.kc ? p.K - k0 : p.kc;
        sai_pack_a8_ld(w + k0, p.M, kc, p.K, apk + (size_t)c * apc);
    }
    const size_t Tp = (size_t)(p.T + 47) / 48 * 48;
    const size_t per = sai_nn_per_thread((size_t)p.kc * Tp + (p.joint ? (size_t)p.M * p.T : 0));
    const int nt = sai_nn_threads_for(p.ntiles);
    float *ws = sai_nn_scratch(SAI_NN_WS_COLS, (size_t)nt * per * sizeof(float));
    if (!ws) return SAI_ENOMEM;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *bp = ws + (size_t)SAI_TID() * per;
        float *ctmp = p.joint ? bp + (size_t)p.kc * Tp : NULL;
#pragma omp for schedule(static)
        for (int64_t it = 0; it < p.ntiles; it++) {
            int64_t j0;
            int nj;
            float *c;
            int ldc;
            if (p.joint) {
                j0 = it * p.T;
                nj = (int)(p.J - j0 < p.T ? p.J - j0 : p.T);
                c = ctmp;
                ldc = nj;
            } else {
                const int64_t ni = it / p.per_sample, s0 = (it % p.per_sample) * p.T;
                j0 = ni * p.S + s0;
                nj = (int)(p.S - s0 < p.T ? p.S - s0 : p.T);
                c = y + ni * p.M * p.S + s0;
                ldc = (int)p.S;
            }
            const int prefetch = j0 + nj < p.J;
            for (int ch = 0; ch < chunks; ch++) {
                const int k0 = ch * p.kc, kc = p.K - k0 < p.kc ? p.K - k0 : p.kc;
                sai_pack_rows48(x, p.K, p.S, j0, nj, k0, kc, prefetch, bp);
                sai_gemm8x48(p.M, nj, kc, apk + (size_t)ch * apc, bp, c, ldc, ch > 0, ch == 0 ? b : NULL);
            }
            if (p.joint) {
                for (int64_t j = j0, off = 0; off < nj;) {
                    const int64_t ni = j / p.S, s = j % p.S;
                    const int64_t len = p.S - s < nj - off ? p.S - s : nj - off;
                    for (int m = 0; m < p.M; m++)
                        memcpy(y + (ni * p.M + m) * p.S + s, ctmp + (size_t)m * nj + off, (size_t)len * sizeof(float));
                    off += len;
                    j += len;
                }
            }
        }
    }
    return SAI_OK;
}
