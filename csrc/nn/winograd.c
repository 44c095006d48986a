/* winograd.c: 3x3 and 3x3x3 stride-1 convolution by Winograd F(2, 3).
 *
 * Each axis with a 3-tap kernel is cut into tiles of 2 outputs that read 4
 * inputs; the tile's 4 (2-D: 4 x 4, 3-D: 4 x 4 x 4) inputs are transformed
 * (B^T d B), multiplied point by point with the transformed weights
 * (G g G^T), summed over input channels, and transformed back (A^T m A).
 * A 3x3x3 layer then needs 64 products per 8 outputs instead of 216 (2-D:
 * 16 per 4 instead of 36), which is how a convolution gets past the FMA peak
 * that a direct or im2col kernel is bound by.  F(2, 3) has only 0, +-1 and
 * 1/2 in its matrices, so it rounds like the direct sum to within a few ulp
 * per transform.
 *
 * Work items are blocks of 48 consecutive tiles (one column panel of the
 * packed AVX-512 GEMM).  For each block the input transform writes
 * V[point][c_in][48], one GEMM per point gives M[point][c_out][48] =
 * U[point] V[point], and the output transform writes the block's outputs.
 * The tiles of a block are vector lanes in both transforms; the input is
 * zero-padded once so every tile reads inside the buffer.
 *
 * Layers with kernel depth 1 (2-D, stored as depth-1 3-D) transform only H
 * and W.  Only groups == 1, dilation 1, stride 1 qualify
 * (sai_conv_winograd_ok).
 */
#include <string.h>

#include "nn_internal.h"
#include "gemm_avx512.h"
#include "winograd.h"

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define WG_BUILD 1
#define WG_AVX512 __attribute__((target("avx512f")))
#else
#define WG_BUILD 0
#endif

#define NB 48 /* tiles per block: one column panel of sai_gemm8x48 */

static int g_winograd = 1;
static int g_min_channels = 8;

void sai_conv_use_winograd(int on, int min_channels)
{
    g_winograd = on ? 1 : 0;
    if (min_channels > 0) g_min_channels = min_channels;
}

int sai_conv_winograd_ok(const sai_conv_geom *g)
{
    if (!WG_BUILD || !g_winograd || !sai_gemm8x48_available()) return 0;
    if (g->groups != 1 || g->c_in < g_min_channels || g->c_out < g_min_channels) return 0;
    if (g->k[1] != 3 || g->k[2] != 3) return 0;
    if (!(g->k[0] == 3 || (g->k[0] == 1 && g->pad[0] == 0))) return 0;
    for (int a = 0; a < 3; a++)
        if (g->stride[a] != 1 || g->dil[a] != 1) return 0;
    return 1;
}

#if WG_BUILD

typedef struct {
    int ad;             /* 4 when depth is transformed (3x3x3), 1 for kernel depth 1 */
    int md;             /* outputs per tile along depth: 2 or 1 */
    int P;              /* transform points per tile: ad * 16 */
    int TD, TH, TW;     /* tiles per axis */
    int PD, PH, PW;     /* padded input sizes */
    int64_t psp;        /* padded plane (one channel of one sample) */
    int64_t ntiles;     /* tiles of all samples */
} wg_plan;

static void plan_init(const sai_conv_geom *g, wg_plan *p)
{
    p->ad = g->k[0] == 3 ? 4 : 1;
    p->md = g->k[0] == 3 ? 2 : 1;
    p->P = p->ad * 16;
    p->TD = (g->out[0] + p->md - 1) / p->md;
    p->TH = (g->out[1] + 1) / 2;
    p->TW = (g->out[2] + 1) / 2;
    p->PD = p->ad == 4 ? 2 * p->TD + 2 : g->in[0];
    p->PH = 2 * p->TH + 2;
    p->PW = 2 * p->TW + 2;
    p->psp = (int64_t)p->PD * p->PH * p->PW;
    p->ntiles = (int64_t)g->n * p->TD * p->TH * p->TW;
}

/* U[point][co][ci] = G g G^T for every (co, ci), then each point's co x ci
 * matrix packed for sai_gemm8x48 into up + point * apg. */
static void weight_transform(const sai_conv_geom *g, const wg_plan *pl, const float *w, float *u, float *up,
                             size_t apg)
{
    static const double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
    const int co_n = g->c_out, ci_n = g->c_in, kd = g->k[0];
    for (int co = 0; co < co_n; co++)
        for (int ci = 0; ci < ci_n; ci++) {
            const float *k = w + ((size_t)co * ci_n + ci) * kd * 9;
            double t1[3][3][4], t2[3][4][4];
            for (int i = 0; i < kd; i++)
                for (int j = 0; j < 3; j++)
                    for (int c = 0; c < 4; c++)
                        t1[i][j][c] = G[c][0] * k[(i * 3 + j) * 3] + G[c][1] * k[(i * 3 + j) * 3 + 1] +
                                      G[c][2] * k[(i * 3 + j) * 3 + 2];
            for (int i = 0; i < kd; i++)
                for (int b = 0; b < 4; b++)
                    for (int c = 0; c < 4; c++)
                        t2[i][b][c] = G[b][0] * t1[i][0][c] + G[b][1] * t1[i][1][c] + G[b][2] * t1[i][2][c];
            for (int a = 0; a < pl->ad; a++)
                for (int b = 0; b < 4; b++)
                    for (int c = 0; c < 4; c++) {
                        const double v = kd == 1 ? t2[0][b][c]
                                                 : G[a][0] * t2[0][b][c] + G[a][1] * t2[1][b][c] +
                                                       G[a][2] * t2[2][b][c];
                        u[(((size_t)(a * 16 + b * 4 + c)) * co_n + co) * ci_n + ci] = (float)v;
                    }
        }
    for (int q = 0; q < pl->P; q++) sai_pack_a8(u + (size_t)q * co_n * ci_n, co_n, ci_n, up + (size_t)q * apg);
}

/* Zero-padded copy: input (d, h, w) lands at (d + pad0, h + pad1, w + pad2). */
static void pad_input(const sai_conv_geom *g, const wg_plan *pl, const float *x, float *xp)
{
    const int64_t planes = (int64_t)g->n * g->c_in, isp = (int64_t)g->in[0] * g->in[1] * g->in[2];
    const int nt = sai_nn_threads_for(planes);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t q = 0; q < planes; q++) {
        const float *src = x + q * isp;
        float *dst = xp + q * pl->psp;
        for (int d = 0; d < pl->PD; d++)
            for (int h = 0; h < pl->PH; h++) {
                float *row = dst + ((int64_t)d * pl->PH + h) * pl->PW;
                const int sd = d - g->pad[0], sh = h - g->pad[1];
                if (sd < 0 || sd >= g->in[0] || sh < 0 || sh >= g->in[1]) {
                    memset(row, 0, (size_t)pl->PW * sizeof(float));
                    continue;
                }
                const int left = g->pad[2], right = pl->PW - left - g->in[2];
                memset(row, 0, (size_t)left * sizeof(float));
                memcpy(row + left, src + ((int64_t)sd * g->in[1] + sh) * g->in[2], (size_t)g->in[2] * sizeof(float));
                if (right > 0) memset(row + left + g->in[2], 0, (size_t)right * sizeof(float));
            }
    }
}

static inline __mmask16 lane_mask(int n)
{
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* B^T d for F(2, 3): d0 - d2, d1 + d2, d2 - d1, d1 - d3. */
#define BT4(d0, d1, d2, d3, o0, o1, o2, o3) \
    do {                                     \
        o0 = _mm512_sub_ps(d0, d2);          \
        o1 = _mm512_add_ps(d1, d2);          \
        o2 = _mm512_sub_ps(d2, d1);          \
        o3 = _mm512_sub_ps(d1, d3);          \
    } while (0)

/* Input transform of up to 16 tiles in one W row (tiles tw .. tw + len - 1
 * at depth tile td, height tile th) of one padded channel plane xc; point q
 * goes to v + q * pstride (lanes masked to len). */
WG_AVX512 static void input_chunk(const wg_plan *pl, const float *xc, int td, int th, int tw, int len, float *v,
                                  size_t pstride, float *buf)
{
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const __mmask16 mk = lane_mask(len);
    const int d0 = td * pl->md, h0 = 2 * th;
    for (int a = 0; a < pl->ad; a++) {
        __m512 w[4][4];
        for (int b = 0; b < 4; b++) {
            const float *r = xc + ((int64_t)(d0 + a) * pl->PH + h0 + b) * pl->PW + 2 * tw;
            const __m512 lo = _mm512_loadu_ps(r), hi = _mm512_loadu_ps(r + 16);
            const __m512 lo2 = _mm512_loadu_ps(r + 2), hi2 = _mm512_loadu_ps(r + 18);
            const __m512 c0 = _mm512_permutex2var_ps(lo, ev, hi), c1 = _mm512_permutex2var_ps(lo, od, hi);
            const __m512 c2 = _mm512_permutex2var_ps(lo2, ev, hi2), c3 = _mm512_permutex2var_ps(lo2, od, hi2);
            BT4(c0, c1, c2, c3, w[b][0], w[b][1], w[b][2], w[b][3]);
        }
        for (int c = 0; c < 4; c++) {
            __m512 s0, s1, s2, s3;
            BT4(w[0][c], w[1][c], w[2][c], w[3][c], s0, s1, s2, s3);
            if (pl->ad == 1) {
                _mm512_mask_storeu_ps(v + (size_t)(0 + c) * pstride, mk, s0);
                _mm512_mask_storeu_ps(v + (size_t)(4 + c) * pstride, mk, s1);
                _mm512_mask_storeu_ps(v + (size_t)(8 + c) * pstride, mk, s2);
                _mm512_mask_storeu_ps(v + (size_t)(12 + c) * pstride, mk, s3);
            } else {
                float *o = buf + (size_t)a * 256;
                _mm512_storeu_ps(o + (0 + c) * 16, s0);
                _mm512_storeu_ps(o + (4 + c) * 16, s1);
                _mm512_storeu_ps(o + (8 + c) * 16, s2);
                _mm512_storeu_ps(o + (12 + c) * 16, s3);
            }
        }
    }
    if (pl->ad == 4)
        for (int q = 0; q < 16; q++) {
            __m512 t0, t1, t2, t3;
            BT4(_mm512_loadu_ps(buf + q * 16), _mm512_loadu_ps(buf + 256 + q * 16),
                _mm512_loadu_ps(buf + 512 + q * 16), _mm512_loadu_ps(buf + 768 + q * 16), t0, t1, t2, t3);
            _mm512_mask_storeu_ps(v + (size_t)q * pstride, mk, t0);
            _mm512_mask_storeu_ps(v + (size_t)(16 + q) * pstride, mk, t1);
            _mm512_mask_storeu_ps(v + (size_t)(32 + q) * pstride, mk, t2);
            _mm512_mask_storeu_ps(v + (size_t)(48 + q) * pstride, mk, t3);
        }
}

/* A^T m for F(2, 3): m0 + m1 + m2, m1 - m2 - m3. */
#define AT4(m0, m1, m2, m3, o0, o1)                              \
    do {                                                         \
        o0 = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);           \
        o1 = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);           \
    } while (0)

/* Output transform of up to 16 tiles (as input_chunk) for one output channel:
 * point q is read from m + q * pstride; writes y (that channel's volume). */
WG_AVX512 static void output_chunk(const sai_conv_geom *g, const wg_plan *pl, const float *m, size_t pstride,
                                   int td, int th, int tw, int len, float bias, float *yc, float *buf)
{
    const __m512i il_lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i il_hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const int OD = g->out[0], OH = g->out[1], OW = g->out[2];
    __m512 out[2][2][2];
    for (int a = 0; a < pl->ad; a++) {
        __m512 y[4][2];
        for (int b = 0; b < 4; b++) {
            const float *mq = m + (size_t)(a * 16 + b * 4) * pstride;
            AT4(_mm512_loadu_ps(mq), _mm512_loadu_ps(mq + pstride), _mm512_loadu_ps(mq + 2 * pstride),
                _mm512_loadu_ps(mq + 3 * pstride), y[b][0], y[b][1]);
        }
        for (int k = 0; k < 2; k++) {
            __m512 z0, z1;
            AT4(y[0][k], y[1][k], y[2][k], y[3][k], z0, z1);
            if (pl->ad == 1) {
                out[0][0][k] = z0;
                out[0][1][k] = z1;
            } else {
                _mm512_storeu_ps(buf + (a * 4 + k) * 16, z0);
                _mm512_storeu_ps(buf + (a * 4 + 2 + k) * 16, z1);
            }
        }
    }
    if (pl->ad == 4)
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 2; k++) {
                const int q = j * 2 + k;
                AT4(_mm512_loadu_ps(buf + q * 16), _mm512_loadu_ps(buf + (4 + q) * 16),
                    _mm512_loadu_ps(buf + (8 + q) * 16), _mm512_loadu_ps(buf + (12 + q) * 16), out[0][j][k],
                    out[1][j][k]);
            }
    const __m512 bv = _mm512_set1_ps(bias);
    const int ow0 = 2 * tw;
    int nvalid = OW - ow0 < 2 * len ? OW - ow0 : 2 * len;
    const __mmask16 mlo = lane_mask(nvalid), mhi = lane_mask(nvalid - 16);
    for (int i = 0; i < pl->md; i++) {
        const int odp = td * pl->md + i;
        if (odp >= OD) break;
        for (int j = 0; j < 2; j++) {
            const int ohp = 2 * th + j;
            if (ohp >= OH) break;
            const __m512 v0 = _mm512_add_ps(out[i][j][0], bv), v1 = _mm512_add_ps(out[i][j][1], bv);
            float *row = yc + ((int64_t)odp * OH + ohp) * OW + ow0;
            _mm512_mask_storeu_ps(row, mlo, _mm512_permutex2var_ps(v0, il_lo, v1));
            _mm512_mask_storeu_ps(row + 16, mhi, _mm512_permutex2var_ps(v0, il_hi, v1));
        }
    }
}

/* Calls fn(ni, td, th, tw, lane, len) for each run of <= 16 tiles in one W row
 * among the block's tiles [t0, t0 + nb). */
#define FOR_CHUNKS(pl, t0, nb, BODY)                                                       \
    for (int lane_ = 0; lane_ < (nb);) {                                                   \
        const int64_t gt_ = (t0) + lane_;                                                  \
        const int tw = (int)(gt_ % (pl)->TW);                                              \
        const int64_t r_ = gt_ / (pl)->TW;                                                 \
        const int th = (int)(r_ % (pl)->TH);                                               \
        const int td = (int)((r_ / (pl)->TH) % (pl)->TD);                                  \
        const int64_t ni = r_ / ((int64_t)(pl)->TH * (pl)->TD);                            \
        int len = (pl)->TW - tw;                                                           \
        if (len > (nb) - lane_) len = (nb) - lane_;                                        \
        if (len > 16) len = 16;                                                            \
        const int lane = lane_;                                                            \
        BODY;                                                                              \
        lane_ += len;                                                                      \
    }

sai_status sai_conv_forward_winograd(const sai_conv_geom *g, const float *x, const float *w, const float *b,
                                     float *y)
{
    wg_plan pl;
    plan_init(g, &pl);
    const int ci_n = g->c_in, co_n = g->c_out;
    const int64_t planes = (int64_t)g->n * ci_n;
    const int64_t slack = 2 * (int64_t)pl.PW + 128;
    float *xp = sai_nn_scratch(SAI_NN_WS_COLS, (size_t)(planes * pl.psp + slack) * sizeof(float));
    if (!xp) return SAI_ENOMEM;
    memset(xp + planes * pl.psp, 0, (size_t)slack * sizeof(float));
    const size_t apg = (size_t)(co_n + 7) / 8 * 8 * ci_n;
    float *up = sai_nn_scratch(SAI_NN_WS_ACC, ((size_t)pl.P * apg + (size_t)pl.P * co_n * ci_n) * sizeof(float));
    if (!up) return SAI_ENOMEM;
    weight_transform(g, &pl, w, up + (size_t)pl.P * apg, up, apg);
    pad_input(g, &pl, x, xp);

    const int64_t items = (pl.ntiles + NB - 1) / NB;
    const int nt = sai_nn_threads_for(items);
    /* point strides one cache line longer than a point's matrix, so the 64
     * stores of a tile's transform do not all fall into the same L1 sets */
    const size_t pv = (size_t)ci_n * NB + 16, pm = (size_t)co_n * NB + 16;
    const size_t vsize = (size_t)pl.P * pv, msize = (size_t)pl.P * pm, per = vsize + msize + 1024;
    float *ws = sai_nn_scratch(SAI_NN_WS_TMP, (size_t)nt * per * sizeof(float));
    if (!ws) return SAI_ENOMEM;
    const int64_t osp = (int64_t)g->out[0] * g->out[1] * g->out[2];
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *v = ws + (size_t)SAI_TID() * per;
        float *mm = v + vsize;
        float *buf = mm + msize;
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < items; it++) {
            const int64_t t0 = it * NB;
            const int nb = (int)(pl.ntiles - t0 < NB ? pl.ntiles - t0 : NB);
            FOR_CHUNKS(&pl, t0, nb, {
                const float *xs = xp + ni * ci_n * pl.psp;
                for (int ci = 0; ci < ci_n; ci++)
                    input_chunk(&pl, xs + ci * pl.psp, td, th, tw, len, v + (size_t)ci * NB + lane, pv, buf);
            });
            for (int q = 0; q < pl.P; q++)
                sai_gemm8x48(co_n, nb, ci_n, up + (size_t)q * apg, v + (size_t)q * pv, mm + (size_t)q * pm, NB, 0,
                             NULL);
            FOR_CHUNKS(&pl, t0, nb, {
                for (int co = 0; co < co_n; co++)
                    output_chunk(g, &pl, mm + (size_t)co * NB + lane, pm, td, th, tw, len,
                                 b ? b[co] : 0.0f, y + (ni * co_n + co) * osp, buf);
            });
        }
    }
    return SAI_OK;
}

/* Zero-padded copy of dy on the tile grid: (md TD) x (2 TH) x (2 TW) per plane. */
static void pad_grad(const sai_conv_geom *g, const wg_plan *pl, const float *dy, float *dp, int64_t dsp)
{
    const int OD = g->out[0], OH = g->out[1], OW = g->out[2];
    const int RD = pl->md * pl->TD, RH = 2 * pl->TH, RW = 2 * pl->TW;
    const int64_t planes = (int64_t)g->n * g->c_out, osp = (int64_t)OD * OH * OW;
    const int nt = sai_nn_threads_for(planes);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t q = 0; q < planes; q++) {
        const float *src = dy + q * osp;
        float *dst = dp + q * dsp;
        for (int d = 0; d < RD; d++)
            for (int h = 0; h < RH; h++) {
                float *row = dst + ((int64_t)d * RH + h) * RW;
                if (d >= OD || h >= OH) {
                    memset(row, 0, (size_t)RW * sizeof(float));
                    continue;
                }
                memcpy(row, src + ((int64_t)d * OH + h) * OW, (size_t)OW * sizeof(float));
                if (RW > OW) row[OW] = 0.0f;
            }
    }
}

/* A e for the weight gradient, A = (A^T)^T of F(2, 3): e0, e0 + e1, e0 - e1, -e1. */
#define A2(e0, e1, o0, o1, o2, o3)             \
    do {                                        \
        o0 = e0;                                \
        o1 = _mm512_add_ps(e0, e1);             \
        o2 = _mm512_sub_ps(e0, e1);             \
        o3 = _mm512_sub_ps(_mm512_setzero_ps(), e1); \
    } while (0)

/* Transform of the 2 (x 2 (x 2)) dy values of up to 16 tiles in one W row
 * (as input_chunk) of one padded dy plane dc; point q to v + q * pstride. */
WG_AVX512 static void grad_chunk(const wg_plan *pl, const float *dc, int td, int th, int tw, int len, float *v,
                                 size_t pstride, float *buf)
{
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const __mmask16 mk = lane_mask(len);
    const int RH = 2 * pl->TH, RW = 2 * pl->TW;
    for (int a = 0; a < pl->md; a++) {
        __m512 w[2][4];
        for (int j = 0; j < 2; j++) {
            const float *r = dc + ((int64_t)(td * pl->md + a) * RH + 2 * th + j) * RW + 2 * tw;
            const __m512 lo = _mm512_loadu_ps(r), hi = _mm512_loadu_ps(r + 16);
            const __m512 e0 = _mm512_permutex2var_ps(lo, ev, hi), e1 = _mm512_permutex2var_ps(lo, od, hi);
            A2(e0, e1, w[j][0], w[j][1], w[j][2], w[j][3]);
        }
        for (int c = 0; c < 4; c++) {
            __m512 s0, s1, s2, s3;
            A2(w[0][c], w[1][c], s0, s1, s2, s3);
            if (pl->md == 1) {
                _mm512_mask_storeu_ps(v + (size_t)(0 + c) * pstride, mk, s0);
                _mm512_mask_storeu_ps(v + (size_t)(4 + c) * pstride, mk, s1);
                _mm512_mask_storeu_ps(v + (size_t)(8 + c) * pstride, mk, s2);
                _mm512_mask_storeu_ps(v + (size_t)(12 + c) * pstride, mk, s3);
            } else {
                float *o = buf + (size_t)a * 256;
                _mm512_storeu_ps(o + (0 + c) * 16, s0);
                _mm512_storeu_ps(o + (4 + c) * 16, s1);
                _mm512_storeu_ps(o + (8 + c) * 16, s2);
                _mm512_storeu_ps(o + (12 + c) * 16, s3);
            }
        }
    }
    if (pl->md == 2)
        for (int q = 0; q < 16; q++) {
            __m512 t0, t1, t2, t3;
            A2(_mm512_loadu_ps(buf + q * 16), _mm512_loadu_ps(buf + 256 + q * 16), t0, t1, t2, t3);
            _mm512_mask_storeu_ps(v + (size_t)q * pstride, mk, t0);
            _mm512_mask_storeu_ps(v + (size_t)(16 + q) * pstride, mk, t1);
            _mm512_mask_storeu_ps(v + (size_t)(32 + q) * pstride, mk, t2);
            _mm512_mask_storeu_ps(v + (size_t)(48 + q) * pstride, mk, t3);
        }
}

int sai_conv_winograd_weight_ok(const sai_conv_geom *g)
{
    /* measured: a win for 3-D layers with >= 32 channels (1.2-1.75x over the
     * im2col path); with 16 channels, or in 2-D, the transposes that the
     * tile-major transforms need cost more than the products saved.  The
     * per-thread accumulators hold 64 x c_out x c_in floats: keep them small. */
    return sai_conv_winograd_ok(g) && g->k[0] == 3 && g->c_in >= 32 && g->c_out >= 32 &&
           (int64_t)g->c_out * g->c_in <= 128 * 128;
}

/* dW = G^T [sum over tiles (A dy) (B^T x)^T] G per (co, ci): the same
 * bilinear form as the forward pass with the roles of dy and w swapped. */
sai_status sai_conv_backward_weight_winograd(const sai_conv_geom *g, const float *x, const float *dy, float *dw)
{
    wg_plan pl;
    plan_init(g, &pl);
    const int ci_n = g->c_in, co_n = g->c_out;
    const int64_t planes = (int64_t)g->n * ci_n;
    const int64_t dsp = (int64_t)pl.md * pl.TD * 4 * pl.TH * pl.TW;
    const int64_t slack = 2 * (int64_t)pl.PW + 128;
    const size_t xsz = (size_t)(planes * pl.psp + slack), dsz = (size_t)((int64_t)g->n * co_n * dsp + slack);
    float *xp = sai_nn_scratch(SAI_NN_WS_COLS, (xsz + dsz) * sizeof(float));
    if (!xp) return SAI_ENOMEM;
    float *dp = xp + xsz;
    memset(xp + planes * pl.psp, 0, (size_t)slack * sizeof(float));
    memset(dp + (int64_t)g->n * co_n * dsp, 0, (size_t)slack * sizeof(float));
    pad_input(g, &pl, x, xp);
    pad_grad(g, &pl, dy, dp, dsp);

    const int64_t items = (pl.ntiles + NB - 1) / NB;
    const int nt = sai_nn_threads_for(items);
    const size_t wsz = (size_t)pl.P * co_n * ci_n;
    float *acc = sai_nn_scratch(SAI_NN_WS_ACC, (size_t)nt * wsz * sizeof(float));
    if (!acc) return SAI_ENOMEM;
    memset(acc, 0, (size_t)nt * wsz * sizeof(float));
    const size_t pv = (size_t)ci_n * NB + 16, pg = (size_t)co_n * NB + 16;
    const size_t vsize = (size_t)pl.P * pv, gsize = (size_t)pl.P * pg;
    const size_t bsize = (size_t)(ci_n + 47) / 48 * 48 * NB, asize = (size_t)(co_n + 7) / 8 * 8 * NB;
    const size_t per = vsize + gsize + bsize + asize + 1024;
    float *ws = sai_nn_scratch(SAI_NN_WS_TMP, (size_t)nt * per * sizeof(float));
    if (!ws) return SAI_ENOMEM;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int tid = SAI_TID();
        float *v = ws + (size_t)tid * per, *gv = v + vsize, *bp = gv + gsize, *ap = bp + bsize, *buf = ap + asize;
        float *mine = acc + (size_t)tid * wsz;
        /* static: each thread sums the same blocks, so the result is
         * bit-identical from run to run at a given thread count */
#pragma omp for schedule(static)
        for (int64_t it = 0; it < items; it++) {
            const int64_t t0 = it * NB;
            const int nb = (int)(pl.ntiles - t0 < NB ? pl.ntiles - t0 : NB);
            FOR_CHUNKS(&pl, t0, nb, {
                const float *xs = xp + ni * ci_n * pl.psp;
                for (int ci = 0; ci < ci_n; ci++)
                    input_chunk(&pl, xs + ci * pl.psp, td, th, tw, len, v + (size_t)ci * NB + lane, pv, buf);
                const float *ds = dp + ni * co_n * dsp;
                for (int co = 0; co < co_n; co++)
                    grad_chunk(&pl, ds + co * dsp, td, th, tw, len, gv + (size_t)co * NB + lane, pg, buf);
            });
            for (int q = 0; q < pl.P; q++) {
                sai_pack_bt48(v + (size_t)q * pv, ci_n, nb, NB, bp);
                sai_pack_a8_ld(gv + (size_t)q * pg, co_n, nb, NB, ap);
                sai_gemm8x48(co_n, ci_n, nb, ap, bp, mine + (size_t)q * co_n * ci_n, ci_n, 1, NULL);
            }
        }
    }
    /* sum the threads' partials and transform back: G^T per axis */
    static const float GT[3][4] = {{1, 0.5f, 0.5f, 0}, {0, 0.5f, -0.5f, 0}, {0, 0.5f, 0.5f, 1}};
    const int kd = g->k[0];
    const int64_t pairs = (int64_t)co_n * ci_n;
    const int ntr = sai_nn_threads_for(pairs / 64 + 1);
#pragma omp parallel for num_threads(ntr) if (ntr > 1) schedule(static)
    for (int64_t pr = 0; pr < pairs; pr++) {
        float m[64], t1[4][4][3], t2[4][3][3];
        for (int q = 0; q < pl.P; q++) {
            float s = 0.0f;
            for (int t = 0; t < nt; t++) s += acc[(size_t)t * wsz + (size_t)q * pairs + pr];
            m[q] = s;
        }
        for (int a = 0; a < pl.ad; a++)
            for (int b = 0; b < 4; b++)
                for (int k = 0; k < 3; k++) {
                    const float *r = m + a * 16 + b * 4;
                    t1[a][b][k] = GT[k][0] * r[0] + GT[k][1] * r[1] + GT[k][2] * r[2] + GT[k][3] * r[3];
                }
        for (int a = 0; a < pl.ad; a++)
            for (int j = 0; j < 3; j++)
                for (int k = 0; k < 3; k++)
                    t2[a][j][k] = GT[j][0] * t1[a][0][k] + GT[j][1] * t1[a][1][k] + GT[j][2] * t1[a][2][k] +
                                  GT[j][3] * t1[a][3][k];
        float *out = dw + pr * kd * 9;
        for (int i = 0; i < kd; i++)
            for (int j = 0; j < 3; j++)
                for (int k = 0; k < 3; k++)
                    out[(i * 3 + j) * 3 + k] = kd == 1 ? t2[0][j][k]
                                                       : GT[i][0] * t2[0][j][k] + GT[i][1] * t2[1][j][k] +
                                                             GT[i][2] * t2[2][j][k] + GT[i][3] * t2[3][j][k];
    }
    return SAI_OK;
}

#else

sai_status sai_conv_forward_winograd(const sai_conv_geom *g, const float *x, const float *w, const float *b,
                                     float *y)
{
    (void)g, (void)x, (void)w, (void)b, (void)y;
    return sai_error_set(SAI_EINTERNAL, "conv: the Winograd kernel needs an x86-64 AVX-512 build");
}

int sai_conv_winograd_weight_ok(const sai_conv_geom *g)
{
    (void)g;
    return 0;
}

sai_status sai_conv_backward_weight_winograd(const sai_conv_geom *g, const float *x, const float *dy, float *dw)
{
    (void)g, (void)x, (void)dy, (void)dw;
    return sai_error_set(SAI_EINTERNAL, "conv: the Winograd kernel needs an x86-64 AVX-512 build");
}

#endif
