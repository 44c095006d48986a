/* winograd_weight.c: the weight gradient of 3x3(x3) stride-1 layers by Winograd F(2, 3).
 *
 * The forward pass is y = A^T [(G w) . (B^T x)] per tile, a bilinear form in
 * (w, x); so d loss / d w = G^T [sum over tiles (A dy) . (B^T x)], with A the
 * transpose of the forward A^T.  Per transform point the sum over tiles is a
 * product [c_out x tiles] [tiles x c_in]: 64 products per 8 outputs in 3-D
 * instead of 216, like the forward pass.
 *
 * Here the transforms put channels in the vector lanes: x and dy are first
 * copied channels-last (zero-padded to whole tiles and to 16 channels), a
 * block of tiles is transformed into V[point][tile][c_in] and
 * D[point][tile][c_out], and for each point the outer products of D's and V's
 * rows are summed into a per-thread accumulator [point][c_out][c_in] held in
 * registers across the block (outer_sum_*).  Blocks are split statically over
 * the threads and the partial sums reduced in thread order, so the result is
 * bit-identical from run to run at a given thread count.
 */
#include <string.h>

#include "nn_internal.h"
#include "gemm_avx512.h"
#include "winograd.h"

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

#include "winograd_simd.h"
#define WW_BUILD 1
#define WW_AVX512 __attribute__((target("avx512f")))
#else
#define WW_BUILD 0
#endif

/* Whether every tile's transforms fit in the point-major scratch (see weight_point_major). */
static int point_major_fits(const sai_conv_geom *g, const sai_wg_plan *pl)
{
    const int64_t cip = (g->c_in + 15) / 16 * 16, cop = (g->c_out + 15) / 16 * 16;
    return pl->ntiles <= 1024 && pl->ntiles * pl->P * (cip + cop) * (int64_t)sizeof(float) <= ((int64_t)32 << 20);
}

int sai_conv_winograd_weight_ok(const sai_conv_geom *g)
{
    if (!WW_BUILD || !sai_conv_winograd_ok(g)) return 0;
    /* the accumulators hold P x c_out x c_in floats (one per thread when the
     * tiles are many): 16 MiB at 256 x 256 channels in 3-D.  Above that the
     * weight transform back costs more than it saves (2-D 512 -> 512 at 7^2,
     * batch 16: 1.2x slower than im2col) */
    return (int64_t)g->c_out * g->c_in <= 256 * 256;
}

#if WW_BUILD

static int round16(int c) { return (c + 15) / 16 * 16; }

/* One padded row (sample ni, padded plane dp, padded row hp) of x channels-last:
 * dst[PW][cp], zero-padded in space (as the forward pass) and to cp channels. */
static void x_row(const sai_conv_geom *g, const sai_wg_plan *pl, const float *x, int64_t ni, int dp, int hp, int cp,
                  float *dst)
{
    const int ID = g->in[0], IH = g->in[1], IW = g->in[2];
    memset(dst, 0, (size_t)pl->PW * cp * sizeof(float));
    const int sd = dp - g->pad[0], sh = hp - g->pad[1];
    if (sd < 0 || sd >= ID || sh < 0 || sh >= IH) return;
    float *d0 = dst + (int64_t)g->pad[2] * cp;
    for (int c = 0; c < g->c_in; c++) {
        const float *src = x + (((ni * g->c_in + c) * ID + sd) * IH + sh) * (int64_t)IW;
        for (int w = 0; w < IW; w++) d0[(int64_t)w * cp + c] = src[w];
    }
}

/* One row (sample ni, plane d, row h) of dy channels-last on the tile grid:
 * dst[2 TW][cp], zero past the output and to cp channels. */
static void dy_row(const sai_conv_geom *g, const sai_wg_plan *pl, const float *dy, int64_t ni, int d, int h, int cp,
                   float *dst)
{
    const int OD = g->out[0], OH = g->out[1], OW = g->out[2];
    memset(dst, 0, (size_t)2 * pl->TW * cp * sizeof(float));
    if (d >= OD || h >= OH) return;
    for (int c = 0; c < g->c_out; c++) {
        const float *src = dy + (((ni * g->c_out + c) * OD + d) * OH + h) * (int64_t)OW;
        for (int w = 0; w < OW; w++) dst[(int64_t)w * cp + c] = src[w];
    }
}

/* The planes of x (ad of them) and dy (md) that the tiles of depth tile td of
 * sample ni read, channels-last: x [ad][PH][PW][cip], dy [md][2 TH][2 TW][cop]. */
static void slab(const sai_conv_geom *g, const sai_wg_plan *pl, const float *x, const float *dy, int64_t ni, int td,
                 int cip, int cop, float *xs, float *ds)
{
    const int64_t xrow = (int64_t)pl->PW * cip, drow = (int64_t)2 * pl->TW * cop;
    for (int a = 0; a < pl->ad; a++)
        for (int h = 0; h < pl->PH; h++)
            x_row(g, pl, x, ni, td * pl->md + a, h, cip, xs + ((int64_t)a * pl->PH + h) * xrow);
    for (int a = 0; a < pl->md; a++)
        for (int h = 0; h < 2 * pl->TH; h++)
            dy_row(g, pl, dy, ni, td * pl->md + a, h, cop, ds + ((int64_t)a * 2 * pl->TH + h) * drow);
}

/* Whole channels-last copies (for the point-major order): x [n][PD][PH][PW][cip], dy [n][md TD][2 TH][2 TW][cop]. */
static void channels_last(const sai_conv_geom *g, const sai_wg_plan *pl, const float *x, const float *dy, int cip,
                          int cop, float *xcl, float *dcl)
{
    const int64_t xrows = (int64_t)g->n * pl->PD * pl->PH, drows = (int64_t)g->n * pl->md * pl->TD * 2 * pl->TH;
    const int nt = sai_nn_threads_for((xrows + drows) / 16 + 1);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t r = 0; r < xrows + drows; r++) {
        if (r < xrows) {
            const int hp = (int)(r % pl->PH), dp = (int)((r / pl->PH) % pl->PD);
            x_row(g, pl, x, r / ((int64_t)pl->PH * pl->PD), dp, hp, cip, xcl + r * pl->PW * cip);
        } else {
            const int64_t q = r - xrows, RH = 2 * pl->TH, RD = (int64_t)pl->md * pl->TD;
            dy_row(g, pl, dy, q / (RH * RD), (int)((q / RH) % RD), (int)(q % RH), cop,
                   dcl + q * 2 * pl->TW * cop);
        }
    }
}

/* A e of F(2, 3): e0, e0 + e1, e0 - e1, -e1. */
#define A2(e0, e1, o0, o1, o2, o3)                       \
    do {                                                  \
        o0 = e0;                                          \
        o1 = _mm512_add_ps(e0, e1);                       \
        o2 = _mm512_sub_ps(e0, e1);                       \
        o3 = _mm512_sub_ps(_mm512_setzero_ps(), e1);      \
    } while (0)

/* B^T x B (B^T) of one tile whose channels-last origin is xt (strides sD, sH,
 * sW floats); point q of channel group cg goes to v + q * ps + 16 cg. */
WW_AVX512 static void x_tile(const sai_wg_plan *pl, const float *xt, int64_t sD, int64_t sH, int64_t sW, int cp,
                             float *v, size_t ps, float *buf)
{
    for (int cg = 0; cg < cp; cg += 16) {
        for (int a = 0; a < pl->ad; a++) {
            __m512 w[4][4];
            for (int b = 0; b < 4; b++) {
                const float *r = xt + a * sD + b * sH + cg;
                BT4(_mm512_loadu_ps(r), _mm512_loadu_ps(r + sW), _mm512_loadu_ps(r + 2 * sW),
                    _mm512_loadu_ps(r + 3 * sW), w[b][0], w[b][1], w[b][2], w[b][3]);
            }
            for (int c = 0; c < 4; c++) {
                __m512 s[4];
                BT4(w[0][c], w[1][c], w[2][c], w[3][c], s[0], s[1], s[2], s[3]);
                for (int b = 0; b < 4; b++) {
                    if (pl->ad == 1) _mm512_storeu_ps(v + (size_t)(b * 4 + c) * ps + cg, s[b]);
                    else _mm512_storeu_ps(buf + (a * 16 + b * 4 + c) * 16, s[b]);
                }
            }
        }
        if (pl->ad == 4)
            for (int q = 0; q < 16; q++) {
                __m512 t[4];
                BT4(_mm512_loadu_ps(buf + q * 16), _mm512_loadu_ps(buf + (16 + q) * 16),
                    _mm512_loadu_ps(buf + (32 + q) * 16), _mm512_loadu_ps(buf + (48 + q) * 16), t[0], t[1], t[2],
                    t[3]);
                for (int a = 0; a < 4; a++) _mm512_storeu_ps(v + (size_t)(a * 16 + q) * ps + cg, t[a]);
            }
    }
}

/* A dy A^T of one tile (2 (x 2) x 2 dy values), as x_tile. */
WW_AVX512 static void dy_tile(const sai_wg_plan *pl, const float *dt, int64_t sD, int64_t sH, int64_t sW, int cp,
                              float *v, size_t ps, float *buf)
{
    for (int cg = 0; cg < cp; cg += 16) {
        for (int a = 0; a < pl->md; a++) {
            __m512 w[2][4];
            for (int j = 0; j < 2; j++) {
                const float *r = dt + a * sD + j * sH + cg;
                A2(_mm512_loadu_ps(r), _mm512_loadu_ps(r + sW), w[j][0], w[j][1], w[j][2], w[j][3]);
            }
            for (int c = 0; c < 4; c++) {
                __m512 s[4];
                A2(w[0][c], w[1][c], s[0], s[1], s[2], s[3]);
                for (int b = 0; b < 4; b++) {
                    if (pl->md == 1) _mm512_storeu_ps(v + (size_t)(b * 4 + c) * ps + cg, s[b]);
                    else _mm512_storeu_ps(buf + (a * 16 + b * 4 + c) * 16, s[b]);
                }
            }
        }
        if (pl->md == 2)
            for (int q = 0; q < 16; q++) {
                __m512 t[4];
                A2(_mm512_loadu_ps(buf + q * 16), _mm512_loadu_ps(buf + (16 + q) * 16), t[0], t[1], t[2], t[3]);
                for (int a = 0; a < 4; a++) _mm512_storeu_ps(v + (size_t)(a * 16 + q) * ps + cg, t[a]);
            }
    }
}

/* c[r][0:32] += sum_t a[t lda + r] b[t ldb + 0:32] for r < rows (<= 12): 24 accumulators. */
WW_AVX512 static void outer_sum_12x32(int nt, const float *a, int lda, const float *b, int ldb, float *c, int ldc,
                                      int rows)
{
    __m512 acc[12][2];
#pragma GCC unroll 12
    for (int r = 0; r < 12; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int t = 0; t < nt; t++) {
        const __m512 b0 = _mm512_loadu_ps(b + (size_t)t * ldb), b1 = _mm512_loadu_ps(b + (size_t)t * ldb + 16);
        const float *ar = a + (size_t)t * lda;
#pragma GCC unroll 12
        for (int r = 0; r < 12; r++) {
            const __m512 av = _mm512_set1_ps(ar[r]);
            acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
        }
    }
    for (int r = 0; r < rows; r++) {
        float *cr = c + (size_t)r * ldc;
        _mm512_storeu_ps(cr, _mm512_add_ps(_mm512_loadu_ps(cr), acc[r][0]));
        _mm512_storeu_ps(cr + 16, _mm512_add_ps(_mm512_loadu_ps(cr + 16), acc[r][1]));
    }
}

/* The same for 16 columns and up to 24 rows. */
WW_AVX512 static void outer_sum_24x16(int nt, const float *a, int lda, const float *b, int ldb, float *c, int ldc,
                                      int rows)
{
    __m512 acc[24];
#pragma GCC unroll 24
    for (int r = 0; r < 24; r++) acc[r] = _mm512_setzero_ps();
    for (int t = 0; t < nt; t++) {
        const __m512 b0 = _mm512_loadu_ps(b + (size_t)t * ldb);
        const float *ar = a + (size_t)t * lda;
#pragma GCC unroll 24
        for (int r = 0; r < 24; r++) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(ar[r]), b0, acc[r]);
    }
    for (int r = 0; r < rows; r++) {
        float *cr = c + (size_t)r * ldc;
        _mm512_storeu_ps(cr, _mm512_add_ps(_mm512_loadu_ps(cr), acc[r]));
    }
}

/* acc[co][0:cip] += sum_{t < nt} d[t][co] v[t][0:cip] for one transform point. */
static void point_product(int nt, const float *d, int cop, int co_n, const float *v, int cip, float *acc)
{
    int ci0 = 0;
    for (; ci0 + 32 <= cip; ci0 += 32)
        for (int co0 = 0; co0 < co_n; co0 += 12)
            outer_sum_12x32(nt, d + co0, cop, v + ci0, cip, acc + (size_t)co0 * cip + ci0, cip,
                            co_n - co0 < 12 ? co_n - co0 : 12);
    for (; ci0 < cip; ci0 += 16)
        for (int co0 = 0; co0 < co_n; co0 += 24)
            outer_sum_24x16(nt, d + co0, cop, v + ci0, cip, acc + (size_t)co0 * cip + ci0, cip,
                            co_n - co0 < 24 ? co_n - co0 : 24);
}

/* dw[co][ci] = G^T (sum over the nacc partials of acc[.][point][co][ci]) G, per axis. */
static void weight_from_points(const sai_conv_geom *g, const sai_wg_plan *plp, const float *acc, int nacc,
                               size_t wsz, int cip, float *dw)
{
    const sai_wg_plan pl = *plp;
    const int ci_n = g->c_in, co_n = g->c_out, nt = nacc;
    /* partials summed in thread order: bit-identical from run to run */
    static const float GT[3][4] = {{1, 0.5f, 0.5f, 0}, {0, 0.5f, -0.5f, 0}, {0, 0.5f, 0.5f, 1}};
    const int kd = g->k[0];
    const int64_t pairs = (int64_t)co_n * ci_n;
    const int ntr = sai_nn_threads_for(pairs / 64 + 1);
#pragma omp parallel for num_threads(ntr) if (ntr > 1) schedule(static)
    for (int64_t pr = 0; pr < pairs; pr++) {
        const int64_t co = pr / ci_n, ci = pr % ci_n;
        float m[64], t1[4][4][3], t2[4][3][3];
        for (int q = 0; q < pl.P; q++) {
            const size_t at = ((size_t)q * co_n + co) * cip + ci;
            float s = 0.0f;
            for (int t = 0; t < nt; t++) s += acc[(size_t)t * wsz + at];
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
}

/* Few tiles (the deep levels of a U-Net, where channels are many): every
 * tile is transformed first (threads split the tiles), then each point's
 * product runs over all tiles at once (threads split the points), straight
 * into one accumulator. */
static sai_status weight_point_major(const sai_conv_geom *g, const sai_wg_plan *plp, const float *x,
                                     const float *dy, int cip, int cop, float *dw)
{
    const sai_wg_plan pl = *plp;
    const size_t xsz = (size_t)g->n * pl.psp * cip, dsz = (size_t)g->n * pl.md * pl.TD * 4 * pl.TH * pl.TW * cop;
    float *xcl = sai_nn_scratch(SAI_NN_WS_COLS, (xsz + dsz) * sizeof(float));
    if (!xcl) return SAI_ENOMEM;
    float *dcl = xcl + xsz;
    channels_last(g, &pl, x, dy, cip, cop, xcl, dcl);
    const int co_n = g->c_out;
    const int RD = pl.md * pl.TD, RH = 2 * pl.TH, RW = 2 * pl.TW;
    const int ntl = (int)pl.ntiles;
    const size_t pv = (size_t)ntl * cip + 16, pd = (size_t)ntl * cop + 16;
    const int nt = sai_get_num_threads() < 1 ? 1 : sai_get_num_threads();
    const size_t vd = (size_t)pl.P * (pv + pd) + 64;
    float *v = sai_nn_scratch(SAI_NN_WS_TMP, (vd + (size_t)nt * 1024) * sizeof(float));
    if (!v) return SAI_ENOMEM;
    float *d = v + (size_t)pl.P * pv, *bufs = v + vd;
    const size_t wsz = (size_t)pl.P * co_n * cip;
    float *acc = sai_nn_scratch(SAI_NN_WS_ACC, wsz * sizeof(float));
    if (!acc) return SAI_ENOMEM;
    memset(acc, 0, wsz * sizeof(float));
    const int64_t xsW = cip, xsH = (int64_t)pl.PW * cip, xsD = (int64_t)pl.PH * pl.PW * cip;
    const int64_t dsW = cop, dsH = (int64_t)RW * cop, dsD = (int64_t)RH * RW * cop;
    const int ntt = sai_nn_threads_for(ntl / 8 + 1);
#pragma omp parallel for num_threads(ntt) if (ntt > 1) schedule(static)
    for (int t = 0; t < ntl; t++) {
        const int tw = t % pl.TW, r = t / pl.TW;
        const int th = r % pl.TH, td = (r / pl.TH) % pl.TD;
        const int64_t ni = r / ((int64_t)pl.TH * pl.TD);
        float *buf = bufs + (size_t)SAI_TID() * 1024;
        x_tile(&pl, xcl + (((ni * pl.PD + (int64_t)td * pl.md) * pl.PH + 2 * th) * pl.PW + 2 * tw) * cip, xsD, xsH,
               xsW, cip, v + (size_t)t * cip, pv, buf);
        dy_tile(&pl, dcl + (((ni * RD + (int64_t)td * pl.md) * RH + 2 * th) * RW + 2 * tw) * cop, dsD, dsH, dsW,
                cop, d + (size_t)t * cop, pd, buf);
    }
    const int ntp = sai_nn_threads_for(pl.P);
#pragma omp parallel for num_threads(ntp) if (ntp > 1) schedule(static)
    for (int q = 0; q < pl.P; q++)
        point_product(ntl, d + (size_t)q * pd, cop, co_n, v + (size_t)q * pv, cip, acc + (size_t)q * co_n * cip);
    weight_from_points(g, &pl, acc, 1, wsz, cip, dw);
    return SAI_OK;
}

sai_status sai_conv_backward_weight_winograd(const sai_conv_geom *g, const float *x, const float *dy, float *dw)
{
    sai_wg_plan pl;
    sai_wg_plan_init(g, 2, &pl);
    const int ci_n = g->c_in, co_n = g->c_out, cip = round16(ci_n), cop = round16(co_n);
    const int RH = 2 * pl.TH, RW = 2 * pl.TW;
    if (point_major_fits(g, &pl)) return weight_point_major(g, &pl, x, dy, cip, cop, dw);

    /* tiles per block: the block's V and D (64 points each) stay within ~1 MiB */
    int tb = 4096 / (cip + cop);
    tb = tb < 16 ? 16 : tb > 128 ? 128 : tb;
    const int64_t items = (pl.ntiles + tb - 1) / tb;
    const int nt = sai_nn_threads_for(items);
    const size_t wsz = (size_t)pl.P * co_n * cip;
    float *acc = sai_nn_scratch(SAI_NN_WS_ACC, (size_t)nt * wsz * sizeof(float));
    if (!acc) return SAI_ENOMEM;
    memset(acc, 0, (size_t)nt * wsz * sizeof(float));
    /* point strides one cache line longer than a point's block, so a tile's 64
     * transform stores do not all land in the same L1 sets */
    const size_t pv = (size_t)tb * cip + 16, pd = (size_t)tb * cop + 16;
    /* per thread: V, D, the x and dy planes of the current depth tile (a slab,
     * so scratch memory does not grow with the volume), a transform buffer */
    const size_t xslab = (size_t)pl.ad * pl.PH * pl.PW * cip + 64, dslab = (size_t)pl.md * RH * RW * cop + 64;
    const size_t per = (size_t)pl.P * (pv + pd) + 64 + 1024 + xslab + dslab; /* 64: rows read past c_out */
    float *ws = sai_nn_scratch(SAI_NN_WS_TMP, (size_t)nt * per * sizeof(float));
    if (!ws) return SAI_ENOMEM;
    const int64_t xsW = cip, xsH = (int64_t)pl.PW * cip, xsD = (int64_t)pl.PH * pl.PW * cip;
    const int64_t dsW = cop, dsH = (int64_t)RW * cop, dsD = (int64_t)RH * RW * cop;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int tid = SAI_TID();
        float *v = ws + (size_t)tid * per, *d = v + (size_t)pl.P * pv, *buf = d + (size_t)pl.P * pd + 64;
        float *xs = buf + 1024, *ds = xs + xslab;
        int64_t cur = -1; /* (sample, depth tile) held in the slab */
        float *mine = acc + (size_t)tid * wsz;
#pragma omp for schedule(static)
        for (int64_t it = 0; it < items; it++) {
            const int64_t t0 = it * tb;
            const int nb = (int)(pl.ntiles - t0 < tb ? pl.ntiles - t0 : tb);
            for (int t = 0; t < nb; t++) {
                const int64_t gt = t0 + t;
                const int tw = (int)(gt % pl.TW);
                const int64_t r = gt / pl.TW;
                const int th = (int)(r % pl.TH), td = (int)((r / pl.TH) % pl.TD);
                const int64_t ni = r / ((int64_t)pl.TH * pl.TD);
                if (ni * pl.TD + td != cur) {
                    slab(g, &pl, x, dy, ni, td, cip, cop, xs, ds);
                    cur = ni * pl.TD + td;
                }
                const float *xt = xs + ((int64_t)2 * th * pl.PW + 2 * tw) * cip;
                const float *dt = ds + ((int64_t)2 * th * RW + 2 * tw) * cop;
                x_tile(&pl, xt, xsD, xsH, xsW, cip, v + (size_t)t * cip, pv, buf);
                dy_tile(&pl, dt, dsD, dsH, dsW, cop, d + (size_t)t * cop, pd, buf);
            }
            for (int q = 0; q < pl.P; q++)
                point_product(nb, d + (size_t)q * pd, cop, co_n, v + (size_t)q * pv, cip,
                              mine + (size_t)q * co_n * cip);
        }
    }
    weight_from_points(g, &pl, acc, nt, wsz, cip, dw);
    return SAI_OK;
}

#else

sai_status sai_conv_backward_weight_winograd(const sai_conv_geom *g, const float *x, const float *dy, float *dw)
{
    (void)g, (void)x, (void)dy, (void)dw;
    return sai_error_set(SAI_EINTERNAL, "conv: the Winograd kernel needs an x86-64 AVX-512 build");
}

#endif
