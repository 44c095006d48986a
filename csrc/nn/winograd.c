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
 * packed AVX-512 GEMM), handed to the threads in runs of about two depth
 * tiles.  For each block the input transform writes V[point][c_in][48]; then, 8 output
 * channels at a time, one GEMM per point gives M[point][8][48] =
 * U[point] V[point] and the output transform writes those channels' outputs.
 * The tiles of a block are vector lanes in both transforms, 16 at a time
 * across W rows.  Each thread keeps the zero-padded input planes of its
 * current depth tile in a ring of plane slots (ring_fill), rows stored as
 * even | odd columns, so no padded copy of the whole input is made.
 *
 * Layers with kernel depth 1 (2-D, stored as depth-1 3-D) transform only H
 * and W; conv_algorithm("fast") gives them F(4x4, 3x3) (winograd43.c).  Only
 * groups == 1, dilation 1, stride 1 qualify (sai_conv_winograd_ok); the
 * weight gradient is in winograd_weight.c.
 */
#include <string.h>

#include "nn_internal.h"
#include "gemm_avx512.h"
#include "winograd.h"

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

#include "winograd_simd.h"
#define WG_BUILD 1
#define WG_AVX512 __attribute__((target("avx512f")))
#else
#define WG_BUILD 0
#endif

#define NB 48 /* tiles per block: one column panel of sai_gemm8x48 */

int sai_winograd_enabled = 1;
static int g_min_channels = 8;
static int g_tile_2d = 2; /* outputs per tile side for kernel-depth-1 layers (4: F(4, 3)) */

void sai_conv_use_winograd(int on, int min_channels)
{
    sai_winograd_enabled = on ? 1 : 0;
    if (min_channels > 0) g_min_channels = min_channels;
}

void sai_conv_winograd_tile_2d(int m) { g_tile_2d = m == 2 ? 2 : 4; }

int sai_conv_winograd_ok(const sai_conv_geom *g)
{
    if (!WG_BUILD || !sai_winograd_enabled || !sai_gemm8x48_available()) return 0;
    if (g->groups != 1 || g->c_in < g_min_channels || g->c_out < g_min_channels) return 0;
    if (g->k[1] != 3 || g->k[2] != 3) return 0;
    if (!(g->k[0] == 3 || (g->k[0] == 1 && g->pad[0] == 0))) return 0;
    for (int a = 0; a < 3; a++)
        if (g->stride[a] != 1 || g->dil[a] != 1) return 0;
    return 1;
}

int sai_conv_winograd_forward_ok(const sai_conv_geom *g)
{
    if (!sai_conv_winograd_ok(g)) return 0;
    /* the weights are transformed on every call (P points x c_out x c_in):
     * with few tiles and many channels that costs more than the products
     * saved (measured: 3-D 256 -> 256 channels at 8^3, 64 tiles, 1.2x slower;
     * 128 -> 128 at 16^3 2x faster; 2-D 512 -> 512 at 7^2, 256 tiles, 1.2x
     * faster) */
    sai_wg_plan pl;
    sai_wg_plan_init(g, g_tile_2d, &pl);
    const int64_t need = (int64_t)pl.P * g->c_out * g->c_in / 32768;
    return pl.ntiles >= (need > 64 ? need : 64);
}

int sai_conv_winograd_forward_applies_relu(const sai_conv_geom *g)
{
    return sai_conv_winograd_forward_ok(g) && !(g->k[0] == 1 && g_tile_2d == 4); /* F(4, 3) has no epilogue */
}

#if WG_BUILD

/* G k along one axis for 16 input channels at once: (k0, k1, k2) -> the 4
 * values k0, (k0 + k1 + k2) / 2, (k0 - k1 + k2) / 2, k2. */
#define G3(k0, k1, k2, o)                                                          \
    do {                                                                           \
        const __m512 s_ = _mm512_add_ps(k0, k2), h_ = _mm512_set1_ps(0.5f);        \
        o[0] = k0;                                                                 \
        o[1] = _mm512_mul_ps(_mm512_add_ps(s_, k1), h_);                           \
        o[2] = _mm512_mul_ps(_mm512_sub_ps(s_, k1), h_);                           \
        o[3] = k2;                                                                 \
    } while (0)

/* U[point][co][ci] = G g G^T, 16 input channels per vector, for output
 * channels [co0, co1); u is [P][co][ci]. */
WG_AVX512 static void weight_transform_rows(const sai_conv_geom *g, const float *w, int co0, int co1, float *u)
{
    const int co_n = g->c_out, ci_n = g->c_in, kd = g->k[0], taps = kd * 9;
    const __m512i vidx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32(taps));
    for (int co = co0; co < co1; co++)
        for (int ci0 = 0; ci0 < ci_n; ci0 += 16) {
            const int n = ci_n - ci0 < 16 ? ci_n - ci0 : 16;
            const __mmask16 m = sai_lane_mask(n);
            const float *base = w + ((size_t)co * ci_n + ci0) * taps;
            __m512 k[27], t1[3][3][4], t2[3][4][4];
            for (int t = 0; t < taps; t++)
                k[t] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, vidx, base + t, 4);
            for (int i = 0; i < kd; i++)
                for (int j = 0; j < 3; j++) G3(k[(i * 3 + j) * 3], k[(i * 3 + j) * 3 + 1], k[(i * 3 + j) * 3 + 2],
                                               t1[i][j]);
            for (int i = 0; i < kd; i++)
                for (int c = 0; c < 4; c++) {
                    __m512 o[4];
                    G3(t1[i][0][c], t1[i][1][c], t1[i][2][c], o);
                    for (int b = 0; b < 4; b++) t2[i][b][c] = o[b];
                }
            for (int b = 0; b < 4; b++)
                for (int c = 0; c < 4; c++) {
                    __m512 o[4];
                    if (kd == 1) {
                        o[0] = t2[0][b][c];
                    } else {
                        G3(t2[0][b][c], t2[1][b][c], t2[2][b][c], o);
                    }
                    for (int a = 0; a < (kd == 1 ? 1 : 4); a++)
                        _mm512_mask_storeu_ps(u + ((size_t)(a * 16 + b * 4 + c) * co_n + co) * ci_n + ci0, m, o[a]);
                }
        }
}

/* U[point][co][ci] = G g G^T for every (co, ci), then each point's co x ci
 * matrix packed for sai_gemm8x48 into up + point * apg. */
static void weight_transform(const sai_conv_geom *g, const sai_wg_plan *pl, const float *w, float *u, float *up,
                             size_t apg)
{
    const int co_n = g->c_out, ci_n = g->c_in;
    const int nt = sai_nn_threads_for((int64_t)co_n * ci_n / 1024 + 1);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int tid = SAI_TID(), nth = nt > 1 ? omp_get_num_threads() : 1;
        weight_transform_rows(g, w, (int)((int64_t)co_n * tid / nth), (int)((int64_t)co_n * (tid + 1) / nth), u);
    }
    const int ntp = sai_nn_threads_for(pl->P);
#pragma omp parallel for num_threads(ntp) if (ntp > 1) schedule(static)
    for (int q = 0; q < pl->P; q++) sai_pack_a8(u + (size_t)q * co_n * ci_n, co_n, ci_n, up + (size_t)q * apg);
}

/* e[i] = r[2 i], o[i] = r[2 i + 1] for i < half (r holds 2 half floats + 32 of slack). */
WG_AVX512 static void deinterleave(const float *r, int half, float *e, float *o)
{
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    for (int i = 0; i < half; i += 16) {
        const __mmask16 m = sai_lane_mask(half - i);
        const __m512 lo = _mm512_loadu_ps(r + 2 * i), hi = _mm512_loadu_ps(r + 2 * i + 16);
        _mm512_mask_storeu_ps(e + i, m, _mm512_permutex2var_ps(lo, ev, hi));
        _mm512_mask_storeu_ps(o + i, m, _mm512_permutex2var_ps(lo, od, hi));
    }
}

/* The zero-padded input planes that the tiles of depth tile td of sample ni
 * read (padded planes td * md .. + ad - 1), for every input channel, kept in
 * a ring of ad plane slots xs[ci][slot][PH][PW]: padded plane P sits in slot
 * P mod ad, so the next depth tile refills only the planes it does not share.
 * ring[slot] records which (sample, plane) a slot holds; poff[a] receives the
 * offset of the tile's plane a within a channel's slots.  With split, each
 * padded row is stored as its even columns then its odd columns (PW / 2
 * each), so the F(2, 3) input transform reads a tile's 4 columns as 4 plain
 * vectors (tmp: a row of PW + 32 floats). */
static void ring_fill(const sai_conv_geom *g, const sai_wg_plan *pl, const float *x, int64_t ni, int td, float *xs,
                      int64_t ring[4], int64_t poff[4], int split, float *tmp)
{
    const int64_t isp = (int64_t)g->in[0] * g->in[1] * g->in[2], plane = (int64_t)pl->PH * pl->PW;
    const int64_t ssp = pl->ad * plane;
    for (int a = 0; a < pl->ad; a++) {
        const int P = td * pl->md + a, slot = P % pl->ad;
        const int64_t key = ni * pl->PD + P;
        poff[a] = slot * plane;
        if (ring[slot] == key) continue;
        ring[slot] = key;
        const int sd = P - g->pad[0];
        for (int ci = 0; ci < g->c_in; ci++) {
            const float *src = x + (ni * g->c_in + ci) * isp;
            float *dst = xs + ci * ssp + slot * plane;
            if (sd < 0 || sd >= g->in[0]) {
                memset(dst, 0, (size_t)plane * sizeof(float));
                continue;
            }
            for (int h = 0; h < pl->PH; h++) {
                float *row = dst + (int64_t)h * pl->PW;
                const int sh = h - g->pad[1];
                if (sh < 0 || sh >= g->in[1]) {
                    memset(row, 0, (size_t)pl->PW * sizeof(float));
                    continue;
                }
                const int left = g->pad[2], right = pl->PW - left - g->in[2];
                float *r = split ? tmp : row;
                memset(r, 0, (size_t)left * sizeof(float));
                memcpy(r + left, src + ((int64_t)sd * g->in[1] + sh) * g->in[2], (size_t)g->in[2] * sizeof(float));
                if (right > 0) memset(r + left + g->in[2], 0, (size_t)right * sizeof(float));
                if (split) deinterleave(tmp, pl->PW / 2, row, row + pl->PW / 2);
            }
        }
    }
}

/* One run of a chunk's tiles within a W row: sample, depth, height and first
 * column tile, first lane, count. */
typedef struct {
    int64_t ni;
    int td, th, tw, lane, len;
} wg_seg;

/* The next chunk of up to 16 consecutive tiles of a block, from lane onwards
 * (tiles t0 + lane ...; nb in the block), as runs within W rows; with
 * same_depth, the chunk stops where the depth tile changes (the input ring
 * holds one depth tile).  Returns the chunk's lanes. */
static int next_chunk(const sai_wg_plan *pl, int64_t t0, int lane, int nb, int same_depth, wg_seg *segs, int *ns)
{
    int n = 0;
    *ns = 0;
    while (n < 16 && lane + n < nb) {
        const int64_t gt = t0 + lane + n, r = gt / pl->TW;
        const int tw = (int)(gt % pl->TW), th = (int)(r % pl->TH);
        const int64_t k = r / pl->TH; /* ni * TD + td */
        if (same_depth && n > 0 && k != segs[0].ni * pl->TD + segs[0].td) break;
        int len = pl->TW - tw;
        if (len > 16 - n) len = 16 - n;
        if (len > nb - lane - n) len = nb - lane - n;
        wg_seg *sg = &segs[(*ns)++];
        sg->ni = k / pl->TD;
        sg->td = (int)(k % pl->TD);
        sg->th = th;
        sg->tw = tw;
        sg->lane = n;
        sg->len = len;
        n += len;
    }
    return n;
}

/* Input transform of one chunk of up to 16 tiles, which may span several W
 * rows (segs), from the split (even | odd columns) planes xc + poff[a];
 * point q goes to v + q * pstride (lanes masked to n). */
WG_AVX512 static void input_chunk_split(const sai_wg_plan *pl, const float *xc, const int64_t *poff,
                                        const wg_seg *segs, int nseg, int n, float *v, size_t pstride, float *buf)
{
    const __mmask16 mk = sai_lane_mask(n);
    const int half = pl->PW / 2;
    for (int a = 0; a < pl->ad; a++) {
        __m512 w[4][4];
        for (int b = 0; b < 4; b++) {
            __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
            for (int s = 0; s < nseg; s++) {
                /* lane l of the segment reads tile tw + (l - lane): shift the row pointers back by lane */
                const float *e = xc + poff[a] + (int64_t)(2 * segs[s].th + b) * pl->PW + segs[s].tw - segs[s].lane;
                const float *o = e + half;
                const __mmask16 k = (__mmask16)(sai_lane_mask(segs[s].lane + segs[s].len) & ~sai_lane_mask(segs[s].lane));
                c0 = _mm512_mask_loadu_ps(c0, k, e);
                c1 = _mm512_mask_loadu_ps(c1, k, o);
                c2 = _mm512_mask_loadu_ps(c2, k, e + 1);
                c3 = _mm512_mask_loadu_ps(c3, k, o + 1);
            }
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

/* Output transform of one chunk of up to 16 tiles (segs, which may span W
 * rows, depth tiles and samples) for output channel co: point q is read from
 * m + q * pstride; writes y[ni][co] (channel volumes osp apart). */
WG_AVX512 static void output_chunk(const sai_conv_geom *g, const sai_wg_plan *pl, const float *m, size_t pstride,
                                   const wg_seg *segs, int nseg, float bias, int relu, float *y, int co,
                                   int64_t osp, float *buf)
{
    const __m512i il_lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i il_hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const int OD = g->out[0], OH = g->out[1], OW = g->out[2];
    __m512 out[2][2][2];
    for (int a = 0; a < pl->ad; a++) {
        __m512 y4[4][2];
        for (int b = 0; b < 4; b++) {
            const float *mq = m + (size_t)(a * 16 + b * 4) * pstride;
            AT4(_mm512_loadu_ps(mq), _mm512_loadu_ps(mq + pstride), _mm512_loadu_ps(mq + 2 * pstride),
                _mm512_loadu_ps(mq + 3 * pstride), y4[b][0], y4[b][1]);
        }
        for (int k = 0; k < 2; k++) {
            __m512 z0, z1;
            AT4(y4[0][k], y4[1][k], y4[2][k], y4[3][k], z0, z1);
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
    __m512 lo[2][2], hi[2][2]; /* the outputs of lanes 0-7 and 8-15, interleaved along W */
    for (int i = 0; i < pl->md; i++)
        for (int j = 0; j < 2; j++) {
            __m512 v0 = _mm512_add_ps(out[i][j][0], bv), v1 = _mm512_add_ps(out[i][j][1], bv);
            if (relu) { /* v > 0 ? v : 0, as the ReLU module (NaN and -0 give 0) */
                const __m512 z = _mm512_setzero_ps();
                v0 = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v0, z, _CMP_GT_OQ), v0);
                v1 = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v1, z, _CMP_GT_OQ), v1);
            }
            lo[i][j] = _mm512_permutex2var_ps(v0, il_lo, v1);
            hi[i][j] = _mm512_permutex2var_ps(v0, il_hi, v1);
        }
    for (int s = 0; s < nseg; s++) {
        const wg_seg *sg = &segs[s];
        const int ow0 = 2 * sg->tw, l2 = 2 * sg->lane;
        const int nvalid = OW - ow0 < 2 * sg->len ? OW - ow0 : 2 * sg->len;
        /* floats [l2, l2 + nvalid) of the 32 interleaved outputs belong to this run */
        const uint32_t bits = (uint32_t)(((uint64_t)1 << (l2 + nvalid)) - 1) & ~(uint32_t)(((uint64_t)1 << l2) - 1);
        const __mmask16 mlo = (__mmask16)(bits & 0xFFFF), mhi = (__mmask16)(bits >> 16);
        float *yc = y + (sg->ni * g->c_out + co) * osp;
        for (int i = 0; i < pl->md; i++) {
            const int odp = sg->td * pl->md + i;
            if (odp >= OD) break;
            for (int j = 0; j < 2; j++) {
                const int ohp = 2 * sg->th + j;
                if (ohp >= OH) break;
                /* shifted back by l2 so that float l2 lands on column ow0 */
                float *row = yc + ((int64_t)odp * OH + ohp) * OW + ow0 - l2;
                _mm512_mask_storeu_ps(row, mlo, lo[i][j]);
                _mm512_mask_storeu_ps(row + 16, mhi, hi[i][j]);
            }
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
    sai_wg_plan pl;
    sai_wg_plan_init(g, g_tile_2d, &pl);
    const int f43 = pl.m == 4;
    const int ci_n = g->c_in, co_n = g->c_out;
    /* each thread pads only the input planes of its current depth tile (a
     * slab), so the scratch does not grow with the volume */
    const int64_t ssp = (int64_t)pl.ad * pl.PH * pl.PW, slack = 2 * (int64_t)pl.PW + 128;
    const size_t slab_size = sai_nn_per_thread((size_t)(ci_n * ssp + slack));
    const size_t apg = (size_t)(co_n + 7) / 8 * 8 * ci_n;
    float *up = sai_nn_scratch(SAI_NN_WS_ACC, ((size_t)pl.P * apg + (size_t)pl.P * co_n * ci_n) * sizeof(float));
    if (!up) return SAI_ENOMEM;
    if (f43) {
        float *u = up + (size_t)pl.P * apg;
        sai_wg43_weight_transform(w, co_n, ci_n, u);
        const int ntp = sai_nn_threads_for(pl.P);
#pragma omp parallel for num_threads(ntp) if (ntp > 1) schedule(static)
        for (int q = 0; q < pl.P; q++) sai_pack_a8(u + (size_t)q * co_n * ci_n, co_n, ci_n, up + (size_t)q * apg);
    } else {
        weight_transform(g, &pl, w, up + (size_t)pl.P * apg, up, apg);
    }

    const int64_t items = (pl.ntiles + NB - 1) / NB;
    const int nt = sai_nn_threads_for(items);
    /* point strides one cache line longer than a point's matrix, so the 64
     * stores of a tile's transform do not all fall into the same L1 sets.
     * The products are made 8 output channels at a time, so the 8 x 48 x P
     * block that the output transform reads stays in L1 (2-D) or L2 (3-D). */
    const size_t pv = (size_t)ci_n * NB + 16, pm = 8 * NB + 16;
    const size_t vsize = (size_t)pl.P * pv, msize = (size_t)pl.P * pm;
    const size_t per = sai_nn_per_thread(vsize + msize + 1024 + slab_size + (size_t)pl.PW + 64); /* + a row for ring_fill */
    float *ws = sai_nn_scratch(SAI_NN_WS_TMP, (size_t)nt * per * sizeof(float));
    if (!ws) return SAI_ENOMEM;
    const int64_t osp = (int64_t)g->out[0] * g->out[1] * g->out[2];
    /* Threads take runs of about two depth tiles (2-D: two samples) at a time:
     * consecutive items share padded planes in the ring, and handing runs out
     * on demand evens out threads that run at different speeds (a static split
     * left one thread waiting ~10% of the time at 2 threads).  Every tile is
     * computed the same way whichever thread takes it, so results do not
     * depend on the schedule. */
    const int64_t per_depth = ((int64_t)pl.TH * pl.TW + NB - 1) / NB;
    int64_t chunk = 2 * per_depth, cap = items / (8 * (int64_t)nt);
    if (chunk > cap) chunk = cap;
    if (chunk < 1) chunk = 1;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *v = ws + (size_t)SAI_TID() * per;
        float *mm = v + vsize;
        float *buf = mm + msize;
        float *xs = buf + 1024, *rowtmp = xs + slab_size;
        int64_t ring[4] = {-1, -1, -1, -1}, poff[4] = {0, 0, 0, 0}, cur = -1;
        memset(xs + ci_n * ssp, 0, (size_t)slack * sizeof(float));
#pragma omp for schedule(dynamic, chunk)
        for (int64_t it = 0; it < items; it++) {
            const int64_t t0 = it * NB;
            const int nb = (int)(pl.ntiles - t0 < NB ? pl.ntiles - t0 : NB);
            if (f43) {
                FOR_CHUNKS(&pl, t0, nb, {
                    if (ni * pl.TD + td != cur) {
                        ring_fill(g, &pl, x, ni, td, xs, ring, poff, 0, rowtmp);
                        cur = ni * pl.TD + td;
                    }
                    for (int ci = 0; ci < ci_n; ci++) /* 2-D: one plane, in slot 0 */
                        sai_wg43_input_chunk(&pl, xs + ci * ssp, 0, th, tw, len, v + (size_t)ci * NB + lane, pv);
                });
            } else {
                /* chunks of 16 consecutive tiles, across W rows but within one depth tile */
                for (int lane = 0; lane < nb;) {
                    wg_seg segs[16];
                    int ns;
                    const int n = next_chunk(&pl, t0, lane, nb, 1, segs, &ns);
                    if (ns == 0) break; /* not reached: lane < nb gives one run at least */
                    const int64_t key = segs[0].ni * pl.TD + segs[0].td;
                    if (key != cur) {
                        ring_fill(g, &pl, x, segs[0].ni, segs[0].td, xs, ring, poff, 1, rowtmp);
                        cur = key;
                    }
                    for (int ci = 0; ci < ci_n; ci++)
                        input_chunk_split(&pl, xs + ci * ssp, poff, segs, ns, n, v + (size_t)ci * NB + lane, pv, buf);
                    lane += n;
                }
            }
            for (int c0 = 0; c0 < co_n; c0 += 8) {
                const int rows = co_n - c0 < 8 ? co_n - c0 : 8;
                for (int q = 0; q < pl.P; q++)
                    sai_gemm8x48(rows, nb, ci_n, up + (size_t)q * apg + (size_t)c0 * ci_n, v + (size_t)q * pv,
                                 mm + (size_t)q * pm, NB, 0, NULL);
                if (f43) {
                    FOR_CHUNKS(&pl, t0, nb, {
                        for (int r = 0; r < rows; r++)
                            sai_wg43_output_chunk(g, mm + (size_t)r * NB + lane, pm, td, th, tw, len,
                                                  b ? b[c0 + r] : 0.0f, y + (ni * co_n + c0 + r) * osp);
                    });
                } else {
                    for (int lane = 0; lane < nb;) {
                        wg_seg segs[16];
                        int ns;
                        const int n = next_chunk(&pl, t0, lane, nb, 0, segs, &ns);
                        for (int r = 0; r < rows; r++)
                            output_chunk(g, &pl, mm + (size_t)r * NB + lane, pm, segs, ns, b ? b[c0 + r] : 0.0f,
                                         g->relu_out, y, c0 + r, osp, buf);
                        lane += n;
                    }
                }
            }
        }
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

#endif
