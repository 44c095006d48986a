/* loss.c: loss functions with their gradients (element-wise, unreduced).
 *
 * Float32 arithmetic with the branch-free exp/log of train_math.h, in loops
 * over blocks of contiguous spatial positions so they vectorize.  Each
 * output element is written by one thread and every inner sum (over the
 * classes) runs in a fixed order, so results are identical for any thread
 * count.  Reductions over elements are left to the caller. */
#include <math.h>

#include "sacroai/sai_nn_train.h"
#include "train_math.h"

/* Parallelize only when there is enough work to pay for the team. */
#define SAI_LOSS_PAR_MIN 32768
/* Spatial positions handled together (per-block scratch lives on the stack). */
#define SAI_LOSS_BLOCK 256

static int bad_count(int64_t count, const char *what)
{
    if (count < 0) {
        sai_error_set(SAI_EINVAL, "%s: negative element count %lld", what, (long long)count);
        return 1;
    }
    return 0;
}

sai_status sai_nn_cross_entropy(const float *logits, int64_t n, int64_t c, int64_t s,
                                const int64_t *target, const float *weight,
                                float label_smoothing, int64_t ignore_index, float *loss,
                                float *wsum, float *grad)
{
    if (n < 0 || s < 0 || c < 1)
        return sai_error_set(SAI_EINVAL, "cross_entropy: bad shape n=%lld c=%lld s=%lld",
                             (long long)n, (long long)c, (long long)s);
    if (!(label_smoothing >= 0.0f && label_smoothing <= 1.0f))
        return sai_error_set(SAI_EINVAL, "label_smoothing must be in [0, 1], got %g",
                             (double)label_smoothing);
    for (int64_t pos = 0; pos < n * s; pos++) {
        const int64_t y = target[pos];
        if (y != ignore_index && (y < 0 || y >= c))
            return sai_error_set(SAI_EINVAL,
                                 "target holds class %lld, outside [0, %lld) and not ignore_index %lld",
                                 (long long)y, (long long)c, (long long)ignore_index);
    }
    const float eps = label_smoothing, eps_c = label_smoothing / (float)c;
    float wtotal = 0.0f;
    for (int64_t k = 0; k < c; k++) wtotal += weight ? weight[k] : 1.0f;
    const int64_t nblk = (s + SAI_LOSS_BLOCK - 1) / SAI_LOSS_BLOCK;
    const int64_t tasks = n * nblk;
#pragma omp parallel for num_threads(sai_get_num_threads()) if (n * s * c > SAI_LOSS_PAR_MIN)
    for (int64_t task = 0; task < tasks; task++) {
        const int64_t i = task / nblk, j0 = (task % nblk) * SAI_LOSS_BLOCK;
        const int64_t len = s - j0 < SAI_LOSS_BLOCK ? s - j0 : SAI_LOSS_BLOCK;
        const float *x = logits + i * c * s + j0;
        const int64_t *t = target + i * s + j0;
        float mx[SAI_LOSS_BLOCK], se[SAI_LOSS_BLOCK], lse[SAI_LOSS_BLOCK], sm[SAI_LOSS_BLOCK];
        float scale[SAI_LOSS_BLOCK], cy[SAI_LOSS_BLOCK];
        int32_t yk[SAI_LOSS_BLOCK]; /* target class, -1 when ignored */
        for (int64_t j = 0; j < len; j++) mx[j] = x[j];
        for (int64_t k = 1; k < c; k++) {
            const float *xk = x + k * s;
#pragma omp simd
            for (int64_t j = 0; j < len; j++) mx[j] = xk[j] > mx[j] ? xk[j] : mx[j];
        }
        for (int64_t j = 0; j < len; j++) se[j] = sm[j] = 0.0f;
        for (int64_t k = 0; k < c; k++) {
            const float *xk = x + k * s;
#pragma omp simd
            for (int64_t j = 0; j < len; j++) se[j] += sai_expf(xk[j] - mx[j]);
        }
#pragma omp simd
        for (int64_t j = 0; j < len; j++) lse[j] = mx[j] + sai_logf(se[j]);
        if (eps > 0.0f)
            for (int64_t k = 0; k < c; k++) {
                const float *xk = x + k * s;
                const float wk = weight ? weight[k] : 1.0f;
#pragma omp simd
                for (int64_t j = 0; j < len; j++) sm[j] += wk * (lse[j] - xk[j]);
            }
        float *lo = loss + i * s + j0, *ws = wsum + i * s + j0;
        for (int64_t j = 0; j < len; j++) {
            const int64_t y = t[j];
            if (y == ignore_index) {
                lo[j] = ws[j] = 0.0f;
                scale[j] = cy[j] = 0.0f;
                yk[j] = -1;
                continue;
            }
            const float wy = weight ? weight[y] : 1.0f;
            lo[j] = (1.0f - eps) * wy * (lse[j] - x[y * s + j]) + eps_c * sm[j];
            ws[j] = wy;
            scale[j] = (1.0f - eps) * wy + eps_c * wtotal;
            cy[j] = (1.0f - eps) * wy;
            yk[j] = (int32_t)y;
        }
        if (grad) {
            float *g = grad + i * c * s + j0;
            for (int64_t k = 0; k < c; k++) {
                const float *xk = x + k * s;
                float *gk = g + k * s;
                const float sk = eps_c * (weight ? weight[k] : 1.0f);
#pragma omp simd
                for (int64_t j = 0; j < len; j++) {
                    const float p = sai_expf(xk[j] - lse[j]);
                    const float hit = sai_blendf(sai_mask(yk[j] == (int32_t)k), cy[j], 0.0f);
                    gk[j] = sai_blendf(sai_mask(yk[j] < 0), 0.0f, p * scale[j] - sk - hit);
                }
            }
        }
    }
    return SAI_OK;
}

/* Element-wise kernels run over blocks with unconditional loads and stores
 * (optional inputs are materialized per block), so the loops vectorize. */
#define BLOCK_LOOP(count)                                                                  \
    const int64_t nblk_ = ((count) + SAI_LOSS_BLOCK - 1) / SAI_LOSS_BLOCK;                 \
    _Pragma("omp parallel for num_threads(sai_get_num_threads()) if ((count) > SAI_LOSS_PAR_MIN)") \
    for (int64_t b_ = 0; b_ < nblk_; b_++)

sai_status sai_nn_bce_logits(const float *x, const float *y, const float *pos_weight,
                             const float *weight, int64_t count, float *loss, float *grad)
{
    if (bad_count(count, "bce_with_logits")) return SAI_EINVAL;
    BLOCK_LOOP(count)
    {
        const int64_t i0 = b_ * SAI_LOSS_BLOCK;
        const int64_t len = count - i0 < SAI_LOSS_BLOCK ? count - i0 : SAI_LOSS_BLOCK;
        float pw[SAI_LOSS_BLOCK], w[SAI_LOSS_BLOCK], g[SAI_LOSS_BLOCK];
        for (int64_t j = 0; j < len; j++) {
            pw[j] = pos_weight ? pos_weight[i0 + j] : 1.0f;
            w[j] = weight ? weight[i0 + j] : 1.0f;
        }
        const float *xb = x + i0, *yb = y + i0;
        float *lb = loss + i0;
#pragma omp simd
        for (int64_t j = 0; j < len; j++) {
            const float xi = xb[j], yi = yb[j];
            const float lw = 1.0f + (pw[j] - 1.0f) * yi;
            const float e = sai_expf(-fabsf(xi)); /* exp(-|x|) in (0, 1] */
            const float softplus_neg = sai_log1pf_unit(e) + 0.5f * (fabsf(xi) - xi); /* + max(-x, 0) */
            lb[j] = w[j] * ((1.0f - yi) * xi + lw * softplus_neg);
            const float sig_neg = sai_blendf(sai_mask(xi >= 0.0f), e, 1.0f) / (1.0f + e); /* sigmoid(-x) */
            g[j] = w[j] * ((1.0f - yi) - lw * sig_neg);
        }
        if (grad)
            for (int64_t j = 0; j < len; j++) grad[i0 + j] = g[j];
    }
    return SAI_OK;
}

sai_status sai_nn_focal_sigmoid(const float *x, const float *y, int64_t count, float gamma,
                                float alpha, float *loss, float *grad)
{
    if (bad_count(count, "focal_loss")) return SAI_EINVAL;
    if (!(gamma >= 0.0f)) return sai_error_set(SAI_EINVAL, "gamma must be >= 0, got %g", (double)gamma);
    const float tiny = 1e-37f;
    const float a1 = alpha >= 0.0f ? alpha : 1.0f, a0 = alpha >= 0.0f ? 1.0f - alpha : 1.0f;
    BLOCK_LOOP(count)
    {
        const int64_t i0 = b_ * SAI_LOSS_BLOCK;
        const int64_t len = count - i0 < SAI_LOSS_BLOCK ? count - i0 : SAI_LOSS_BLOCK;
        const float *xb = x + i0, *yb = y + i0;
        float *lb = loss + i0;
        float g[SAI_LOSS_BLOCK];
#pragma omp simd
        for (int64_t j = 0; j < len; j++) {
            const float xi = xb[j], yi = yb[j];
            const float e = sai_expf(-fabsf(xi));
            const float inv = 1.0f / (1.0f + e), einv = e * inv;
            const int32_t pos = sai_mask(xi >= 0.0f);
            const float p = sai_blendf(pos, inv, einv);  /* sigmoid(x) */
            const float pm = sai_blendf(pos, einv, inv); /* 1 - p, without cancellation */
            const float ce = (1.0f - yi) * xi + sai_log1pf_unit(e) + 0.5f * (fabsf(xi) - xi);
            const float q = yi * pm + (1.0f - yi) * p;   /* 1 - p_t */
            const float at = a1 * yi + a0 * (1.0f - yi);
            /* q^gamma and q^(gamma-1) through exp/log with q >= 1e-37, which also
             * gives exactly 1 for gamma = 0 and gamma = 1 */
            const float lq = sai_logf(sai_blendf(sai_mask(q > tiny), q, tiny));
            const float mod = sai_expf(gamma * lq);
            lb[j] = at * ce * mod;
            /* d(1 - p_t)/dx = -p (1 - p) (2y - 1) */
            const float dmod = gamma * sai_expf((gamma - 1.0f) * lq) * (-p * pm * (2.0f * yi - 1.0f));
            g[j] = at * ((p - yi) * mod + ce * dmod);
        }
        if (grad)
            for (int64_t j = 0; j < len; j++) grad[i0 + j] = g[j];
    }
    return SAI_OK;
}

sai_status sai_nn_squared_error(const float *x, const float *y, int64_t count, float *loss,
                                float *grad)
{
    if (bad_count(count, "mse_loss")) return SAI_EINVAL;
#pragma omp parallel for simd num_threads(sai_get_num_threads()) if (count > SAI_LOSS_PAR_MIN)
    for (int64_t i = 0; i < count; i++) {
        const float d = x[i] - y[i];
        loss[i] = d * d;
        if (grad) grad[i] = 2.0f * d;
    }
    return SAI_OK;
}

sai_status sai_nn_absolute_error(const float *x, const float *y, int64_t count, float *loss,
                                 float *grad)
{
    if (bad_count(count, "l1_loss")) return SAI_EINVAL;
#pragma omp parallel for simd num_threads(sai_get_num_threads()) if (count > SAI_LOSS_PAR_MIN)
    for (int64_t i = 0; i < count; i++) {
        const float d = x[i] - y[i];
        loss[i] = fabsf(d);
        if (grad) grad[i] = (float)((d > 0.0f) - (d < 0.0f));
    }
    return SAI_OK;
}

sai_status sai_nn_softmax_channels(const float *x, int64_t n, int64_t c, int64_t s, float *p)
{
    if (n < 0 || s < 0 || c < 1) return sai_error_set(SAI_EINVAL, "softmax: bad shape");
    const int64_t nblk = (s + SAI_LOSS_BLOCK - 1) / SAI_LOSS_BLOCK;
#pragma omp parallel for num_threads(sai_get_num_threads()) if (n * s * c > SAI_LOSS_PAR_MIN)
    for (int64_t task = 0; task < n * nblk; task++) {
        const int64_t i = task / nblk, j0 = (task % nblk) * SAI_LOSS_BLOCK;
        const int64_t len = s - j0 < SAI_LOSS_BLOCK ? s - j0 : SAI_LOSS_BLOCK;
        const float *xi = x + i * c * s + j0;
        float *pi = p + i * c * s + j0;
        float mx[SAI_LOSS_BLOCK], se[SAI_LOSS_BLOCK];
        for (int64_t j = 0; j < len; j++) {
            mx[j] = xi[j];
            se[j] = 0.0f;
        }
        for (int64_t k = 1; k < c; k++) {
            const float *xk = xi + k * s;
#pragma omp simd
            for (int64_t j = 0; j < len; j++) mx[j] = xk[j] > mx[j] ? xk[j] : mx[j];
        }
        for (int64_t k = 0; k < c; k++) {
            const float *xk = xi + k * s;
            float *pk = pi + k * s;
#pragma omp simd
            for (int64_t j = 0; j < len; j++) {
                pk[j] = sai_expf(xk[j] - mx[j]);
                se[j] += pk[j];
            }
        }
#pragma omp simd
        for (int64_t j = 0; j < len; j++) se[j] = 1.0f / se[j];
        for (int64_t k = 0; k < c; k++) {
            float *pk = pi + k * s;
#pragma omp simd
            for (int64_t j = 0; j < len; j++) pk[j] *= se[j];
        }
    }
    return SAI_OK;
}

sai_status sai_nn_softmax_channels_backward(const float *p, const float *grad_p, int64_t n,
                                            int64_t c, int64_t s, float *grad_x)
{
    if (n < 0 || s < 0 || c < 1) return sai_error_set(SAI_EINVAL, "softmax backward: bad shape");
    const int64_t nblk = (s + SAI_LOSS_BLOCK - 1) / SAI_LOSS_BLOCK;
#pragma omp parallel for num_threads(sai_get_num_threads()) if (n * s * c > SAI_LOSS_PAR_MIN)
    for (int64_t task = 0; task < n * nblk; task++) {
        const int64_t i = task / nblk, j0 = (task % nblk) * SAI_LOSS_BLOCK;
        const int64_t len = s - j0 < SAI_LOSS_BLOCK ? s - j0 : SAI_LOSS_BLOCK;
        const int64_t off = i * c * s + j0;
        float dot[SAI_LOSS_BLOCK];
        for (int64_t j = 0; j < len; j++) dot[j] = 0.0f;
        for (int64_t k = 0; k < c; k++) {
            const float *pk = p + off + k * s, *gk = grad_p + off + k * s;
#pragma omp simd
            for (int64_t j = 0; j < len; j++) dot[j] += gk[j] * pk[j];
        }
        for (int64_t k = 0; k < c; k++) {
            const float *pk = p + off + k * s, *gk = grad_p + off + k * s;
            float *ok = grad_x + off + k * s;
#pragma omp simd
            for (int64_t j = 0; j < len; j++) ok[j] = pk[j] * (gk[j] - dot[j]);
        }
    }
    return SAI_OK;
}

sai_status sai_nn_dice_sums(const float *p, const float *t, int64_t rows, int64_t s,
                            int squared, double *out)
{
    if (rows < 0 || s < 0) return sai_error_set(SAI_EINVAL, "dice: bad shape");
#pragma omp parallel for num_threads(sai_get_num_threads()) if (rows * s > SAI_LOSS_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *pr = p + r * s, *tr = t + r * s;
        double inter = 0.0, ps = 0.0, ts = 0.0;
        /* float partial sums over short runs, accumulated in double: fixed order */
        for (int64_t j0 = 0; j0 < s; j0 += SAI_LOSS_BLOCK) {
            const int64_t len = s - j0 < SAI_LOSS_BLOCK ? s - j0 : SAI_LOSS_BLOCK;
            float a = 0.0f, b = 0.0f, d = 0.0f;
#pragma omp simd reduction(+ : a, b, d)
            for (int64_t j = j0; j < j0 + len; j++) {
                a += pr[j] * tr[j];
                b += squared ? pr[j] * pr[j] : pr[j];
                d += squared ? tr[j] * tr[j] : tr[j];
            }
            inter += a;
            ps += b;
            ts += d;
        }
        out[3 * r] = inter;
        out[3 * r + 1] = ps;
        out[3 * r + 2] = ts;
    }
    return SAI_OK;
}
