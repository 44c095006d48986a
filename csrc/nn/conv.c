/* conv.c: 2D/3D convolution (and its transpose) by im2col + sgemm.
 *
 * Layout NC[D]HW, weight [c_out, c_in/groups, kd, kh, kw]; 2D is 3D with
 * depth 1.  The column matrix is never built whole: output positions are cut
 * into tiles of T flat positions so one tile of columns (K x T floats) stays
 * in the core's L2 cache, and tiles of all samples and groups are spread over
 * the threads (sgemm is then single-threaded inside the parallel region).
 *
 * Fast paths:
 *  - 1x1(x1), stride 1, no padding: the input is already the column matrix.
 *  - backward-data with stride 1 is the forward convolution of dy with the
 *    flipped, transposed weight (padding dil*(k-1) - pad), so it shares the
 *    tiled forward path; other strides use col2im into the zeroed dx.
 *  - backward-weight accumulates per-thread partial weight gradients and
 *    reduces them once.
 */
#include <limits.h>
#include <string.h>

#include "nn_internal.h"
#include "gemm_avx512.h"
#include "winograd.h"

/* Bytes of one column tile; sized for a 1 MiB L2 shared with sgemm's packing. */
static int64_t g_tile_bytes = 384 * 1024;
static int64_t g_tile_bytes_bw = 1536 * 1024;       /* OpenBLAS backward-weight */
static int64_t g_tile_bytes_bw_packed = 384 * 1024; /* packed: col + its transpose stay in L2 */

void sai_conv_set_tile_bytes(int64_t fwd, int64_t bwd)
{
    if (fwd > 0) g_tile_bytes = fwd;
    if (bwd > 0) g_tile_bytes_bw = g_tile_bytes_bw_packed = bwd;
}

static int64_t prod3(const int a[3]) { return (int64_t)a[0] * a[1] * a[2]; }

sai_status sai_conv_geom_init(sai_conv_geom *g)
{
    if (!g) return sai_error_set(SAI_EINVAL, "conv: geometry must not be NULL");
    if (g->n < 1 || g->c_in < 1 || g->c_out < 1 || g->groups < 1)
        return sai_error_set(SAI_EINVAL, "conv: batch (%d), channels (%d -> %d) and groups (%d) must be >= 1",
                             g->n, g->c_in, g->c_out, g->groups);
    if (g->c_in % g->groups || g->c_out % g->groups)
        return sai_error_set(SAI_EINVAL, "conv: in_channels %d and out_channels %d must be divisible by groups %d",
                             g->c_in, g->c_out, g->groups);
    static const char axis[3] = {'D', 'H', 'W'};
    for (int a = 0; a < 3; a++) {
        if (g->k[a] < 1 || g->stride[a] < 1 || g->dil[a] < 1 || g->pad[a] < 0 || g->in[a] < 1)
            return sai_error_set(SAI_EINVAL,
                                 "conv: axis %c needs kernel, stride, dilation, size >= 1 and padding >= 0",
                                 axis[a]);
        int64_t ext = (int64_t)g->dil[a] * (g->k[a] - 1) + 1;
        int64_t span = (int64_t)g->in[a] + 2 * (int64_t)g->pad[a];
        if (span < ext)
            return sai_error_set(SAI_EINVAL,
                                 "conv: axis %c: dilated kernel extent %lld exceeds padded input size %lld",
                                 axis[a], (long long)ext, (long long)span);
        g->out[a] = (int)((span - ext) / g->stride[a] + 1);
    }
    int64_t K = (int64_t)(g->c_in / g->groups) * prod3(g->k);
    if (K > INT_MAX / 16 || prod3(g->in) > INT_MAX || prod3(g->out) > INT_MAX ||
        (int64_t)g->c_out * K > INT_MAX)
        return sai_error_set(SAI_EINVAL, "conv: layer too large for 32-bit GEMM dimensions");
    return SAI_OK;
}

static int tile_cols(int64_t K, int64_t osp, int64_t budget)
{
    int64_t t = budget / (K * (int64_t)sizeof(float));
    if (t < 192) t = 192;
    t = (t + 15) / 16 * 16;
    if (t >= osp) return (int)osp;
    /* balance tiles so the last one is not a sliver */
    int64_t ntiles = (osp + t - 1) / t;
    t = (osp + ntiles - 1) / ntiles;
    return (int)((t + 15) / 16 * 16 < osp ? (t + 15) / 16 * 16 : osp);
}

/* Columns of flat output positions [j0, j0 + nj) for cg input channels; row r
 * of the column matrix starts at col + r * ld. */
SAI_CLONES static void im2col_tile(const sai_conv_geom *g, const float *x, int cg, int64_t j0, int nj,
                        float *col, int ld)
{
    const int ID = g->in[0], IH = g->in[1], IW = g->in[2];
    const int OH = g->out[1], OW = g->out[2];
    const int64_t isp = (int64_t)ID * IH * IW;
    const int ow0 = (int)(j0 % OW);
    const int oh0 = (int)((j0 / OW) % OH);
    const int od0 = (int)(j0 / ((int64_t)OW * OH));
    float *dst = col;
    for (int ci = 0; ci < cg; ci++) {
        const float *src = x + ci * isp;
        for (int kd = 0; kd < g->k[0]; kd++)
            for (int kh = 0; kh < g->k[1]; kh++)
                for (int kw = 0; kw < g->k[2]; kw++, dst += ld) {
                    int ow = ow0, oh = oh0, od = od0, done = 0;
                    const int offw = kw * g->dil[2] - g->pad[2];
                    while (done < nj) {
                        int run = OW - ow;
                        if (run > nj - done) run = nj - done;
                        const int id = od * g->stride[0] - g->pad[0] + kd * g->dil[0];
                        const int ih = oh * g->stride[1] - g->pad[1] + kh * g->dil[1];
                        float *o = dst + done;
                        if (id < 0 || id >= ID || ih < 0 || ih >= IH) {
                            memset(o, 0, (size_t)run * sizeof(float));
                        } else {
                            const float *row = src + ((int64_t)id * IH + ih) * IW;
                            const int iw0 = ow * g->stride[2] + offw;
                            if (g->stride[2] == 1) {
                                int lo = iw0 < 0 ? -iw0 : 0, hi = IW - iw0;
                                if (lo > run) lo = run;
                                if (hi > run) hi = run;
                                if (hi < lo) hi = lo;
                                if (lo) memset(o, 0, (size_t)lo * sizeof(float));
                                if (hi > lo) memcpy(o + lo, row + iw0 + lo, (size_t)(hi - lo) * sizeof(float));
                                if (run > hi) memset(o + hi, 0, (size_t)(run - hi) * sizeof(float));
                            } else {
                                const int sw = g->stride[2];
                                for (int t = 0; t < run; t++) {
                                    const int iw = iw0 + t * sw;
                                    o[t] = (unsigned)iw < (unsigned)IW ? row[iw] : 0.0f;
                                }
                            }
                        }
                        done += run;
                        ow = 0;
                        if (++oh == OH) {
                            oh = 0;
                            od++;
                        }
                    }
                }
    }
}

/* x += columns of positions [j0, j0 + nj) (the adjoint of im2col_tile). */
SAI_CLONES static void col2im_tile(const sai_conv_geom *g, const float *col, int cg, int64_t j0, int nj,
                        float *x)
{
    const int ID = g->in[0], IH = g->in[1], IW = g->in[2];
    const int OH = g->out[1], OW = g->out[2];
    const int64_t isp = (int64_t)ID * IH * IW;
    const int ow0 = (int)(j0 % OW);
    const int oh0 = (int)((j0 / OW) % OH);
    const int od0 = (int)(j0 / ((int64_t)OW * OH));
    const float *srcc = col;
    for (int ci = 0; ci < cg; ci++) {
        float *xp = x + ci * isp;
        for (int kd = 0; kd < g->k[0]; kd++)
            for (int kh = 0; kh < g->k[1]; kh++)
                for (int kw = 0; kw < g->k[2]; kw++, srcc += nj) {
                    int ow = ow0, oh = oh0, od = od0, done = 0;
                    const int offw = kw * g->dil[2] - g->pad[2];
                    const int sw = g->stride[2];
                    while (done < nj) {
                        int run = OW - ow;
                        if (run > nj - done) run = nj - done;
                        const int id = od * g->stride[0] - g->pad[0] + kd * g->dil[0];
                        const int ih = oh * g->stride[1] - g->pad[1] + kh * g->dil[1];
                        if (id >= 0 && id < ID && ih >= 0 && ih < IH) {
                            float *row = xp + ((int64_t)id * IH + ih) * IW;
                            const float *o = srcc + done;
                            const int iw0 = ow * sw + offw;
                            for (int t = 0; t < run; t++) {
                                const int iw = iw0 + t * sw;
                                if ((unsigned)iw < (unsigned)IW) row[iw] += o[t];
                            }
                        }
                        done += run;
                        ow = 0;
                        if (++oh == OH) {
                            oh = 0;
                            od++;
                        }
                    }
                }
    }
}

static int is_pointwise(const sai_conv_geom *g)
{
    for (int a = 0; a < 3; a++)
        if (g->k[a] != 1 || g->stride[a] != 1 || g->pad[a] != 0) return 0;
    return 1;
}

static sai_status check_geom(const sai_conv_geom *g)
{
    sai_conv_geom c = *g;
    sai_status rc = sai_conv_geom_init(&c);
    if (rc) return rc;
    for (int a = 0; a < 3; a++)
        if (c.out[a] != g->out[a])
            return sai_error_set(SAI_EINVAL, "conv: output size %d on axis %d does not match the geometry (%d)",
                                 g->out[a], a, c.out[a]);
    return SAI_OK;
}

/* Segments of a joint column range [j0, j0 + nj) over (sample, position). */
#define FOR_SEGMENTS(j0, nj, osp, ni, a, len, off)                                   \
    for (int64_t j_ = (j0), off = 0, ni, a, len; off < (nj); off += len, j_ += len) \
        if ((ni = j_ / (osp)), (a = j_ % (osp)), (len = (osp) - a < (nj) - off ? (osp) - a : (nj) - off), 1)

static void im2col_joint(const sai_conv_geom *g, const float *x, int gi, int cg, int64_t isp, int64_t osp,
                         int64_t j0, int nj, float *col, int ld)
{
    FOR_SEGMENTS(j0, nj, osp, ni, a, len, off)
    {
        im2col_tile(g, x + (ni * g->c_in + (int64_t)gi * cg) * isp, cg, a, (int)len, col + off, ld);
    }
}

/* The same columns in the packed layout of sai_gemm8x48: panels of 48 columns,
 * each [K][48].  Columns past nj in the last panel are left unset (masked). */
static void im2col_panels(const sai_conv_geom *g, const float *x, int gi, int cg, int64_t isp, int64_t osp,
                          int64_t j0, int nj, int K, float *bp)
{
    for (int p = 0; p * 48 < nj; p++) {
        const int ncols = nj - p * 48 < 48 ? nj - p * 48 : 48;
        im2col_joint(g, x, gi, cg, isp, osp, j0 + (int64_t)p * 48, ncols, bp + (size_t)p * K * 48, 48);
    }
}

/* Kernel choice where the CPU has AVX-512: 2 (default) packed GEMM with the
 * implicit path for unit-stride layers of up to 32 output channels per group,
 * 3 the implicit path for every unit-stride layer, 1 packed GEMM on im2col
 * tiles only, 0 OpenBLAS sgemm everywhere (sai_conv_use_packed; tests and
 * benchmarks). */
static int g_use_packed = 2;
void sai_conv_use_packed(int level) { g_use_packed = level < 0 ? 0 : level > 3 ? 3 : level; }
static int use_packed(void) { return g_use_packed > 0 && sai_gemm8x48_available(); }
static int use_implicit(void) { return g_use_packed > 1 && sai_gemm8x48_available(); }

/* Joint tiles span samples when one sample has fewer output positions than a tile. */
static int use_joint(const sai_conv_geom *g, int K, int64_t osp, int64_t budget, int *T)
{
    const int64_t total = (int64_t)g->n * osp;
    const int Tj = tile_cols(K, total, budget);
    if (g->n > 1 && osp * 2 <= Tj) {
        *T = Tj;
        return 1;
    }
    *T = tile_cols(K, osp, budget);
    return 0;
}

/* Implicit GEMM for layers with unit stride along H and W.  The input is
 * zero-padded once; output positions are enumerated on the padded-width grid
 * q = oh * PW + ow (ow < PW, the PW - OW extra columns are computed and
 * dropped), so for every kernel tap the B operand of 48 consecutive q is 48
 * consecutive floats of the padded input: no column matrix is written. */
static int implicit_ok(const sai_conv_geom *g)
{
    /* measured: a win where im2col costs most relative to the GEMM (few output
     * channels per group, e.g. 3-D 32 -> 32); with 64+ output channels the
     * im2col tiles' sequential reads beat the implicit path's many streams */
    return g->stride[1] == 1 && g->stride[2] == 1 && (g_use_packed > 2 || g->c_out / g->groups <= 32);
}

#define IMPLICIT_Q 192 /* output positions per work item (4 kernel panels) */

static sai_status conv_forward_implicit(const sai_conv_geom *g, const float *x, const float *w, const float *b,
                                        float *y)
{
    const int G = g->groups, cg = g->c_in / G, mg = g->c_out / G;
    const int K = cg * (int)prod3(g->k);
    const int PD = g->in[0] + 2 * g->pad[0], PH = g->in[1] + 2 * g->pad[1], PW = g->in[2] + 2 * g->pad[2];
    const int64_t psp = (int64_t)PD * PH * PW, isp = prod3(g->in), osp = prod3(g->out);
    const int64_t planes = (int64_t)g->n * g->c_in;
    const int64_t slack = 2 * (int64_t)PW + 64 + (int64_t)g->dil[2] * g->k[2];
    float *xp = sai_nn_scratch(SAI_NN_WS_COLS, (size_t)(planes * psp + slack) * sizeof(float));
    if (!xp) return SAI_ENOMEM;
    memset(xp + planes * psp, 0, (size_t)slack * sizeof(float));
    const size_t apg = (size_t)(mg + 7) / 8 * 8 * K;
    float *apk = sai_nn_scratch(SAI_NN_WS_ACC, (size_t)G * apg * sizeof(float) + (size_t)K * sizeof(int64_t));
    if (!apk) return SAI_ENOMEM;
    int64_t *offs = (int64_t *)(apk + (size_t)G * apg);
    for (int gi = 0; gi < G; gi++) sai_pack_a8(w + (size_t)gi * mg * K, mg, K, apk + (size_t)gi * apg);
    {
        int kk = 0;
        for (int ci = 0; ci < cg; ci++)
            for (int kd = 0; kd < g->k[0]; kd++)
                for (int kh = 0; kh < g->k[1]; kh++)
                    for (int kw = 0; kw < g->k[2]; kw++)
                        offs[kk++] = ci * psp + ((int64_t)kd * g->dil[0] * PH + (int64_t)kh * g->dil[1]) * PW +
                                     (int64_t)kw * g->dil[2];
    }
    const int ntp = sai_nn_threads_for(planes);
#pragma omp parallel for num_threads(ntp) if (ntp > 1) schedule(static)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *src = x + pl * isp;
        float *dst = xp + pl * psp;
        for (int d = 0; d < PD; d++)
            for (int h = 0; h < PH; h++) {
                float *row = dst + ((int64_t)d * PH + h) * PW;
                const int sd = d - g->pad[0], sh = h - g->pad[1];
                if (sd < 0 || sd >= g->in[0] || sh < 0 || sh >= g->in[1]) {
                    memset(row, 0, (size_t)PW * sizeof(float));
                    continue;
                }
                const float *sr = src + ((int64_t)sd * g->in[1] + sh) * g->in[2];
                for (int t = 0; t < g->pad[2]; t++) row[t] = 0.0f;
                memcpy(row + g->pad[2], sr, (size_t)g->in[2] * sizeof(float));
                for (int t = g->pad[2] + g->in[2]; t < PW; t++) row[t] = 0.0f;
            }
    }
    const int OD = g->out[0], OH = g->out[1], OW = g->out[2];
    const int64_t qn = (int64_t)OH * PW, nchunks = (qn + IMPLICIT_Q - 1) / IMPLICIT_Q;
    const int64_t items = (int64_t)g->n * G * OD * nchunks;
    const int nt = sai_nn_threads_for(items);
    float *tmp = sai_nn_scratch(SAI_NN_WS_TMP, (size_t)nt * mg * IMPLICIT_Q * sizeof(float));
    if (!tmp) return SAI_ENOMEM;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *ct = tmp + (size_t)SAI_TID() * mg * IMPLICIT_Q;
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < items; it++) {
            const int64_t chunk = it % nchunks;
            const int od = (int)((it / nchunks) % OD);
            const int64_t ng = it / (nchunks * OD);
            const int gi = (int)(ng % G);
            const int64_t ni = ng / G;
            const int64_t q0 = chunk * IMPLICIT_Q;
            const int nq = (int)(qn - q0 < IMPLICIT_Q ? qn - q0 : IMPLICIT_Q);
            const float *base = xp + (ni * g->c_in + (int64_t)gi * cg) * psp +
                                (int64_t)od * g->stride[0] * PH * PW + q0;
            sai_gemm8x48_rows(mg, nq, K, apk + (size_t)gi * apg, base, offs, ct, nq, b ? b + gi * mg : NULL);
            /* keep the columns ow < OW of each padded-width row */
            float *yo = y + (ni * g->c_out + (int64_t)gi * mg) * osp + (int64_t)od * OH * OW;
            for (int64_t q = q0; q < q0 + nq;) {
                const int oh = (int)(q / PW), ow = (int)(q % PW);
                int run = PW - ow;
                if (q + run > q0 + nq) run = (int)(q0 + nq - q);
                const int keep = ow >= OW ? 0 : (ow + run <= OW ? run : OW - ow);
                if (keep > 0)
                    for (int m = 0; m < mg; m++)
                        memcpy(yo + (int64_t)m * osp + (int64_t)oh * OW + ow, ct + (int64_t)m * nq + (q - q0),
                               (size_t)keep * sizeof(float));
                q += run;
            }
        }
    }
    return SAI_OK;
}

static sai_status conv_forward_any(const sai_conv_geom *g, const float *x, const float *w, const float *b,
                                   float *y);

/* Columns computed but unused when one sample's osp positions are cut into
 * tiles of T (rounded down to whole 48-column panels, as the packed path does). */
static int64_t per_sample_panel_waste(int64_t osp, int T)
{
    const int64_t t = T > 48 ? T / 48 * 48 : T, full = osp / t, rest = osp % t;
    const int64_t panels = full * ((t + 47) / 48) + (rest + 47) / 48;
    return panels * 48 - osp;
}

sai_status sai_conv_forward(const sai_conv_geom *g, const float *x, const float *w, const float *b, float *y)
{
    sai_status rc = conv_forward_any(g, x, w, b, y);
    /* the Winograd F(2, 3) output transform applies the ReLU itself; other paths
     * get the ReLU module's kernel, in place */
    if (rc || !g->relu_out || sai_conv_winograd_forward_applies_relu(g)) return rc;
    return sai_act_forward(SAI_ACT_RELU, y, (int64_t)g->n * g->c_out * prod3(g->out), 0.0f, y);
}

static sai_status conv_forward_any(const sai_conv_geom *g, const float *x, const float *w, const float *b,
                                   float *y)
{
    SAI_NN_CHECK_PTR(x, "x");
    SAI_NN_CHECK_PTR(w, "weight");
    SAI_NN_CHECK_PTR(y, "y");
    sai_status rc = check_geom(g);
    if (rc) return rc;
    const int G = g->groups, cg = g->c_in / G, mg = g->c_out / G;
    const int K = cg * (int)prod3(g->k);
    const int64_t isp = prod3(g->in), osp = prod3(g->out);
    if (sai_conv_pointwise_ok(g)) return sai_conv_forward_pointwise(g, x, w, b, y);
    if (sai_conv_winograd_forward_ok(g)) return sai_conv_forward_winograd(g, x, w, b, y);
    if (use_implicit() && !is_pointwise(g) && implicit_ok(g)) return conv_forward_implicit(g, x, w, b, y);
    int T;
    int joint = use_joint(g, K, osp, g_tile_bytes, &T);
    const int packed = use_packed() && !(is_pointwise(g) && !joint);
    if (packed && !joint && g->n > 1 && sai_winograd_enabled && per_sample_panel_waste(osp, T) * 8 > osp) {
        /* per-sample tiles would leave > 1/8 of the 48-column panels empty (a
         * 14x14 output is 2 x 96 + 4 columns): tiles run across samples instead
         * ("auto" only: the output scatter adds the bias after the sum) */
        joint = 1;
        T = tile_cols(K, (int64_t)g->n * osp, g_tile_bytes);
    }
    if (packed && T > 48) T = T / 48 * 48;
    const int pw = !packed && !joint && is_pointwise(g);
    const int64_t ntiles = joint ? ((int64_t)g->n * osp + T - 1) / T : (osp + T - 1) / T;
    const int64_t items = joint ? (int64_t)G * ntiles : (int64_t)g->n * G * ntiles;
    const int nt = sai_nn_threads_for(items);
    const size_t Tp = (size_t)(T + 47) / 48 * 48;
    const size_t per = sai_nn_per_thread((size_t)K * Tp + (joint ? (size_t)mg * T : 0));
    float *ws = NULL;
    if (!pw) {
        ws = sai_nn_scratch(SAI_NN_WS_COLS, (size_t)nt * per * sizeof(float));
        if (!ws) return SAI_ENOMEM;
    }
    const size_t apg = (size_t)(mg + 7) / 8 * 8 * K;
    float *apk = NULL;
    if (packed) {
        apk = sai_nn_scratch(SAI_NN_WS_ACC, (size_t)G * apg * sizeof(float));
        if (!apk) return SAI_ENOMEM;
        for (int gi = 0; gi < G; gi++) sai_pack_a8(w + (size_t)gi * mg * K, mg, K, apk + (size_t)gi * apg);
    }
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *col = pw ? NULL : ws + (size_t)SAI_TID() * per;
        float *ctmp = joint ? col + (size_t)K * Tp : NULL;
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < items; it++) {
            const int64_t tile = it % ntiles;
            const int64_t ng = it / ntiles;
            const int gi = (int)(ng % G);
            const float *wg = w + (int64_t)gi * mg * K;
            if (joint) {
                const int64_t j0 = tile * T, total = (int64_t)g->n * osp;
                const int nj = (int)(total - j0 < T ? total - j0 : T);
                if (packed) {
                    im2col_panels(g, x, gi, cg, isp, osp, j0, nj, K, col);
                    sai_gemm8x48(mg, nj, K, apk + (size_t)gi * apg, col, ctmp, nj, 0, NULL);
                } else {
                    im2col_joint(g, x, gi, cg, isp, osp, j0, nj, col, nj);
                    sai_sgemm(SAI_NO_TRANS, SAI_NO_TRANS, mg, nj, K, 1.0f, wg, K, col, nj, 0.0f, ctmp, nj);
                }
                FOR_SEGMENTS(j0, nj, osp, ni, a, len, off)
                {
                    for (int m = 0; m < mg; m++) {
                        float *dst = y + (ni * g->c_out + (int64_t)gi * mg + m) * osp + a;
                        const float *src = ctmp + (int64_t)m * nj + off;
                        const float bv = b ? b[gi * mg + m] : 0.0f;
                        for (int64_t t = 0; t < len; t++) dst[t] = src[t] + bv;
                    }
                }
                continue;
            }
            const int64_t ni = ng / G;
            const int64_t j0 = tile * T;
            const int nj = (int)(osp - j0 < T ? osp - j0 : T);
            const float *xin = x + (ni * g->c_in + (int64_t)gi * cg) * isp;
            float *yout = y + (ni * g->c_out + (int64_t)gi * mg) * osp + j0;
            if (packed) {
                im2col_panels(g, x, gi, cg, isp, osp, ni * osp + j0, nj, K, col);
                sai_gemm8x48(mg, nj, K, apk + (size_t)gi * apg, col, yout, (int)osp, 0, b ? b + gi * mg : NULL);
                continue;
            }
            float beta = 0.0f;
            if (b) {
                for (int m = 0; m < mg; m++) {
                    float *row = yout + m * osp;
                    const float bv = b[gi * mg + m];
                    for (int t = 0; t < nj; t++) row[t] = bv;
                }
                beta = 1.0f;
            }
            if (pw) {
                sai_sgemm(SAI_NO_TRANS, SAI_NO_TRANS, mg, nj, K, 1.0f, wg, K, xin + j0, (int)isp,
                          beta, yout, (int)osp);
            } else {
                im2col_tile(g, xin, cg, j0, nj, col, nj);
                sai_sgemm(SAI_NO_TRANS, SAI_NO_TRANS, mg, nj, K, 1.0f, wg, K, col, nj, beta, yout,
                          (int)osp);
            }
        }
    }
    return SAI_OK;
}

static void add_channel_bias(float *t, int64_t n, int c, int64_t s, const float *b)
{
    const int nt = sai_nn_threads_for(n * c);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t i = 0; i < n * c; i++) {
        float *p = t + i * s;
        const float bv = b[i % c];
        for (int64_t j = 0; j < s; j++) p[j] += bv;
    }
}

sai_status sai_conv_backward_data(const sai_conv_geom *g, const float *dy, const float *w,
                                  const float *b, float *dx)
{
    SAI_NN_CHECK_PTR(dy, "grad_output");
    SAI_NN_CHECK_PTR(w, "weight");
    SAI_NN_CHECK_PTR(dx, "grad_input");
    sai_status rc = check_geom(g);
    if (rc) return rc;
    const int G = g->groups, cg = g->c_in / G, mg = g->c_out / G;
    const int KK = (int)prod3(g->k);
    const int K = cg * KK;
    const int64_t isp = prod3(g->in), osp = prod3(g->out);

    int unit_stride = 1;
    for (int a = 0; a < 3; a++)
        if (g->stride[a] != 1 || g->dil[a] * (g->k[a] - 1) - g->pad[a] < 0) unit_stride = 0;
    if (unit_stride) {
        /* dx = conv(dy, w'), w'[g][ci][co][flip(k)] = w[g][co][ci][k] */
        sai_conv_geom h = {0};
        h.n = g->n;
        h.c_in = g->c_out;
        h.c_out = g->c_in;
        h.groups = G;
        for (int a = 0; a < 3; a++) {
            h.in[a] = g->out[a];
            h.k[a] = g->k[a];
            h.stride[a] = 1;
            h.dil[a] = g->dil[a];
            h.pad[a] = g->dil[a] * (g->k[a] - 1) - g->pad[a];
        }
        if ((rc = sai_conv_geom_init(&h))) return rc;
        if (h.out[0] != g->in[0] || h.out[1] != g->in[1] || h.out[2] != g->in[2])
            return sai_error_set(SAI_EINTERNAL, "conv backward-data: flipped geometry mismatch");
        float *wf = sai_nn_scratch(SAI_NN_WS_WEIGHTS, (size_t)g->c_out * K * sizeof(float));
        if (!wf) return SAI_ENOMEM;
        /* written row by row of wf (one input channel's filters), split over threads */
        const int ntf = sai_nn_threads_for((int64_t)g->c_out * K / 65536 + 1);
#pragma omp parallel for num_threads(ntf) if (ntf > 1) schedule(static)
        for (int64_t r = 0; r < (int64_t)G * cg; r++) {
            const int64_t gi = r / cg, ci = r % cg;
            for (int co = 0; co < mg; co++) {
                const float *src = w + ((gi * mg + co) * cg + ci) * KK;
                float *dst = wf + ((gi * cg + ci) * mg + co) * KK;
                for (int k = 0; k < KK; k++) dst[KK - 1 - k] = src[k];
            }
        }
        return sai_conv_forward(&h, dy, wf, b, dx);
    }

    /* general strides: dcol = w^T dy per tile, scattered back by col2im */
    memset(dx, 0, (size_t)g->n * g->c_in * isp * sizeof(float));
    const int T = tile_cols(K, osp, g_tile_bytes);
    /* windows that do not overlap (kernel == stride, no padding or dilation:
     * the transposed convolutions that upsample a U-Net): tiles write
     * disjoint parts of dx, so the tiles themselves are split over threads */
    int disjoint = 1;
    for (int a = 0; a < 3; a++)
        if (g->k[a] != g->stride[a] || g->pad[a] != 0 || g->dil[a] != 1) disjoint = 0;
    if (disjoint) {
        const int64_t ntiles = (osp + T - 1) / T, titems = (int64_t)g->n * G * ntiles;
        const int ntd = sai_nn_threads_for(titems);
        const size_t perd = sai_nn_per_thread((size_t)K * T);
        float *wsd = sai_nn_scratch(SAI_NN_WS_COLS, (size_t)ntd * perd * sizeof(float));
        if (!wsd) return SAI_ENOMEM;
#pragma omp parallel num_threads(ntd) if (ntd > 1)
        {
            float *col = wsd + (size_t)SAI_TID() * perd;
#pragma omp for schedule(static)
            for (int64_t it = 0; it < titems; it++) {
                const int64_t tile = it % ntiles, ng = it / ntiles;
                const int gi = (int)(ng % G);
                const int64_t ni = ng / G, j0 = tile * T;
                const int nj = (int)(osp - j0 < T ? osp - j0 : T);
                sai_sgemm(SAI_TRANS, SAI_NO_TRANS, K, nj, mg, 1.0f, w + (int64_t)gi * mg * K, K,
                          dy + (ni * g->c_out + (int64_t)gi * mg) * osp + j0, (int)osp, 0.0f, col, nj);
                col2im_tile(g, col, cg, j0, nj, dx + (ni * g->c_in + (int64_t)gi * cg) * isp);
            }
        }
        if (b) add_channel_bias(dx, g->n, g->c_in, isp, b);
        return SAI_OK;
    }
    /* overlapping windows: a work item owns whole input channels of dx (so
     * col2im never races); with fewer (sample, group) pairs than threads the
     * input channels are split into blocks */
    const int nthr = sai_get_num_threads() < 1 ? 1 : sai_get_num_threads();
    const int cblocks = (int64_t)g->n * G >= nthr ? 1 : (cg < 2 * nthr ? cg : 2 * nthr);
    const int64_t items = (int64_t)g->n * G * cblocks;
    const int nt = sai_nn_threads_for(items);
    /* "auto": the packed AVX-512 GEMM, A = the block's w^T in 8-row panels and B =
     * dy tiles in 48-column panels (OpenBLAS transposes and packs both per call) */
    const int packed = use_packed() && sai_winograd_enabled && osp >= 8 * 48; /* smaller: partial panels */
    const int Tb = packed && T > 48 ? T / 48 * 48 : T;
    const size_t bsz = packed ? sai_nn_per_thread((size_t)mg * ((Tb + 47) / 48 * 48)) : 0;
    const size_t perc = sai_nn_per_thread((size_t)K * Tb) + bsz;
    float *ws = sai_nn_scratch(SAI_NN_WS_COLS, (size_t)nt * perc * sizeof(float));
    if (!ws) return SAI_ENOMEM;
    /* A of every (group, channel block): apk[gi][cb] = panels [kb/8][mg][8] of w^T rows */
    const size_t asz = sai_nn_per_thread((size_t)(K + 8 * cblocks) * mg);
    float *apk_all = NULL;
    if (packed) {
        if (!(apk_all = sai_nn_scratch(SAI_NN_WS_ACC, (size_t)G * cblocks * asz * sizeof(float)))) return SAI_ENOMEM;
        const int nta = sai_nn_threads_for((int64_t)G * cblocks);
#pragma omp parallel for num_threads(nta) if (nta > 1) schedule(static)
        for (int64_t gc = 0; gc < (int64_t)G * cblocks; gc++) {
            const int gi = (int)(gc / cblocks), cb = (int)(gc % cblocks);
            const int c0 = (int)((int64_t)cg * cb / cblocks), c1 = (int)((int64_t)cg * (cb + 1) / cblocks);
            const float *wg = w + (int64_t)gi * mg * K + (int64_t)c0 * KK;
            const int kb = (c1 - c0) * KK;
            float *apk = apk_all + (size_t)gc * asz;
            for (int p = 0; p * 8 < kb; p++) /* apk[p][co][r] = w[co][c0 KK + 8 p + r] */
                for (int co = 0; co < mg; co++) {
                    const float *src = wg + (int64_t)co * K + p * 8;
                    float *dst = apk + ((size_t)p * mg + co) * 8;
                    for (int r = 0; r < 8; r++) dst[r] = p * 8 + r < kb ? src[r] : 0.0f;
                }
        }
    }
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *col = ws + (size_t)SAI_TID() * perc;
        float *bpk = col + sai_nn_per_thread((size_t)K * Tb);
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < items; it++) {
            const int cb = (int)(it % cblocks);
            const int gi = (int)((it / cblocks) % G);
            const int64_t ni = it / ((int64_t)cblocks * G);
            const int c0 = (int)((int64_t)cg * cb / cblocks), c1 = (int)((int64_t)cg * (cb + 1) / cblocks);
            float *xg = dx + (ni * g->c_in + (int64_t)gi * cg + c0) * isp;
            const float *dyg = dy + (ni * g->c_out + (int64_t)gi * mg) * osp;
            const float *wg = w + (int64_t)gi * mg * K + (int64_t)c0 * KK; /* columns of this channel block */
            const int kb = (c1 - c0) * KK;
            const float *apk = packed ? apk_all + (size_t)(gi * cblocks + cb) * asz : NULL;
            for (int64_t j0 = 0; j0 < osp; j0 += Tb) {
                const int nj = (int)(osp - j0 < Tb ? osp - j0 : Tb);
                if (packed) { /* bpk[p][co][t] = dy[ni][gi mg + co][j0 + 48 p + t] */
                    sai_pack_rows48(dy, g->c_out, osp, ni * osp + j0, nj, gi * mg, mg, j0 + nj < osp, bpk);
                    sai_gemm8x48(kb, nj, mg, apk, bpk, col, nj, 0, NULL);
                } else {
                    sai_sgemm(SAI_TRANS, SAI_NO_TRANS, kb, nj, mg, 1.0f, wg, K, dyg + j0, (int)osp, 0.0f, col, nj);
                }
                col2im_tile(g, col, c1 - c0, j0, nj, xg);
            }
        }
    }
    if (b) add_channel_bias(dx, g->n, g->c_in, isp, b);
    return SAI_OK;
}

sai_status sai_channel_sum(const float *t, int n, int c, int64_t s, float *db)
{
    SAI_NN_CHECK_PTR(t, "input");
    SAI_NN_CHECK_PTR(db, "output");
    const int nt = sai_nn_threads_for(c);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int ch = 0; ch < c; ch++) {
        double acc = 0.0;
        for (int i = 0; i < n; i++) {
            const float *p = t + ((int64_t)i * c + ch) * s;
            float part = 0.0f;
            for (int64_t j = 0; j < s; j++) part += p[j];
            acc += part;
        }
        db[ch] = (float)acc;
    }
    return SAI_OK;
}

sai_status sai_conv_backward_weight(const sai_conv_geom *g, const float *x, const float *dy,
                                    float *dw, float *db)
{
    SAI_NN_CHECK_PTR(x, "input");
    SAI_NN_CHECK_PTR(dy, "grad_output");
    SAI_NN_CHECK_PTR(dw, "grad_weight");
    sai_status rc = check_geom(g);
    if (rc) return rc;
    if (sai_conv_pointwise_weight_ok(g)) {
        if ((rc = sai_conv_backward_weight_pointwise(g, x, dy, dw))) return rc;
        return db ? sai_channel_sum(dy, g->n, g->c_out, prod3(g->out), db) : SAI_OK;
    }
    if (sai_conv_winograd_weight_ok(g)) {
        if ((rc = sai_conv_backward_weight_winograd(g, x, dy, dw))) return rc;
        return db ? sai_channel_sum(dy, g->n, g->c_out, prod3(g->out), db) : SAI_OK;
    }
    const int G = g->groups, cg = g->c_in / G, mg = g->c_out / G;
    const int K = cg * (int)prod3(g->k);
    const int64_t isp = prod3(g->in), osp = prod3(g->out);
    const int packed = use_packed();
    int T;
    const int joint = use_joint(g, K, osp, packed ? g_tile_bytes_bw_packed : g_tile_bytes_bw, &T);
    const int pw = !joint && is_pointwise(g);
    const int64_t ntiles = joint ? ((int64_t)g->n * osp + T - 1) / T : (osp + T - 1) / T;
    const int64_t items = joint ? (int64_t)G * ntiles : (int64_t)g->n * G * ntiles;
    const int nt = sai_nn_threads_for(items);
    const size_t wsize = (size_t)g->c_out * K, wstride = sai_nn_per_thread(wsize);
    /* per-thread accumulators.  Packed AVX-512 path: dw [group][mg][K] +=
     * dy [mg x nj] * col^T with col^T packed by 16 x 16 transposes.  OpenBLAS
     * path: dw transposed, [group][K][mg] += col [K x nj] * dy^T, whose long M
     * side suits sgemm better. */
    float *acc = sai_nn_scratch(SAI_NN_WS_ACC, (size_t)nt * wstride * sizeof(float));
    if (!acc) return SAI_ENOMEM;
    memset(acc, 0, (size_t)nt * wstride * sizeof(float));
    const size_t Tp16 = (size_t)(T + 15) / 16 * 16;
    /* column tile, dy tile (joint), packed B and A; each part starts on a cache line */
    const size_t colsz = sai_nn_per_thread((size_t)K * T), dsz = joint ? sai_nn_per_thread((size_t)mg * T) : 0;
    const size_t per = colsz + dsz +
                       (packed ? (size_t)(K + 47) / 48 * 48 * Tp16 + (size_t)(mg + 7) / 8 * 8 * Tp16 : 0);
    float *ws = NULL;
    if (!pw || packed) {
        ws = sai_nn_scratch(SAI_NN_WS_COLS, (size_t)nt * per * sizeof(float));
        if (!ws) return SAI_ENOMEM;
    }
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int tid = SAI_TID();
        float *col = (pw && !packed) ? NULL : ws + (size_t)tid * per;
        float *dtmp = joint ? col + colsz : NULL;
        float *bpk = packed ? col + colsz + dsz : NULL;
        float *apk = packed ? bpk + (size_t)(K + 47) / 48 * 48 * Tp16 : NULL;
        float *mine = acc + (size_t)tid * wstride;
        /* static: each thread always sums the same tiles into its partial dW, so
         * the result is bit-identical from run to run at a given thread count */
#pragma omp for schedule(static)
        for (int64_t it = 0; it < items; it++) {
            const int64_t tile = it % ntiles;
            const int64_t ng = it / ntiles;
            const int gi = (int)(ng % G);
            float *dwg = mine + (size_t)gi * mg * K;
            if (joint) {
                const int64_t j0 = tile * T, total = (int64_t)g->n * osp;
                const int nj = (int)(total - j0 < T ? total - j0 : T);
                im2col_joint(g, x, gi, cg, isp, osp, j0, nj, col, nj);
                FOR_SEGMENTS(j0, nj, osp, ni, a, len, off)
                {
                    for (int m = 0; m < mg; m++)
                        memcpy(dtmp + (int64_t)m * nj + off, dy + (ni * g->c_out + (int64_t)gi * mg + m) * osp + a,
                               (size_t)len * sizeof(float));
                }
                if (packed) {
                    sai_pack_bt48(col, K, nj, nj, bpk);
                    sai_pack_a8_ld(dtmp, mg, nj, nj, apk);
                    sai_gemm8x48(mg, K, nj, apk, bpk, dwg, K, 1, NULL);
                } else {
                    sai_sgemm(SAI_NO_TRANS, SAI_TRANS, K, mg, nj, 1.0f, col, nj, dtmp, nj, 1.0f, dwg, mg);
                }
                continue;
            }
            const int64_t ni = ng / G;
            const int64_t j0 = tile * T;
            const int nj = (int)(osp - j0 < T ? osp - j0 : T);
            const float *xin = x + (ni * g->c_in + (int64_t)gi * cg) * isp;
            const float *dyt = dy + (ni * g->c_out + (int64_t)gi * mg) * osp + j0;
            if (packed) {
                if (pw) {
                    sai_pack_bt48(xin + j0, K, nj, isp, bpk);
                } else {
                    im2col_tile(g, xin, cg, j0, nj, col, nj);
                    sai_pack_bt48(col, K, nj, nj, bpk);
                }
                sai_pack_a8_ld(dyt, mg, nj, osp, apk);
                sai_gemm8x48(mg, K, nj, apk, bpk, dwg, K, 1, NULL);
            } else if (pw) {
                sai_sgemm(SAI_NO_TRANS, SAI_TRANS, K, mg, nj, 1.0f, xin + j0, (int)isp, dyt, (int)osp,
                          1.0f, dwg, mg);
            } else {
                im2col_tile(g, xin, cg, j0, nj, col, nj);
                sai_sgemm(SAI_NO_TRANS, SAI_TRANS, K, mg, nj, 1.0f, col, nj, dyt, (int)osp, 1.0f,
                          dwg, mg);
            }
        }
    }
    /* reduce the threads' partial sums and transpose [g][k][m] -> [g][m][k] */
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t i = 0; i < (int64_t)wsize; i++) {
        const int64_t gi = i / ((int64_t)mg * K), r = i % ((int64_t)mg * K);
        const int64_t m = r / K, k = r % K;
        const size_t src = packed ? (size_t)i : (size_t)(gi * K + k) * mg + m;
        float s = 0.0f;
        for (int t = 0; t < nt; t++) s += acc[(size_t)t * wstride + src];
        dw[i] = s;
    }
    if (db) return sai_channel_sum(dy, g->n, g->c_out, osp, db);
    return SAI_OK;
}
