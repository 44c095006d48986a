/* loss.c: loss functions with their gradients (element-wise, unreduced).
 *
 * Each output element is written by one thread and every inner sum runs in
 * a fixed order in double precision, so the results are identical for any
 * thread count.  Reductions over elements are left to the caller. */
#include <math.h>

#include "sacroai/sai_nn_train.h"

/* Parallelize only when there is enough work to pay for the team. */
#define SAI_LOSS_PAR_MIN 32768

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
    const double eps = label_smoothing;
    double wtotal = 0.0;
    for (int64_t k = 0; k < c; k++) wtotal += weight ? (double)weight[k] : 1.0;
    const int64_t positions = n * s;
    int64_t bad_target = INT64_MIN;
    int bad = 0;
#pragma omp parallel for num_threads(sai_get_num_threads()) if (positions * c > SAI_LOSS_PAR_MIN)
    for (int64_t pos = 0; pos < positions; pos++) {
        const int64_t i = pos / s, j = pos % s;
        const float *x = logits + i * c * s + j;
        float *g = grad ? grad + i * c * s + j : NULL;
        const int64_t y = target[pos];
        if (y == ignore_index) {
            loss[pos] = 0.0f;
            wsum[pos] = 0.0f;
            if (g)
                for (int64_t k = 0; k < c; k++) g[k * s] = 0.0f;
            continue;
        }
        if (y < 0 || y >= c) {
#pragma omp critical(sai_ce_bad)
            {
                bad = 1;
                bad_target = y;
            }
            continue;
        }
        double mx = x[0];
        for (int64_t k = 1; k < c; k++)
            if (x[k * s] > mx) mx = x[k * s];
        double se = 0.0;
        for (int64_t k = 0; k < c; k++) se += exp((double)x[k * s] - mx);
        const double lse = mx + log(se);
        const double wy = weight ? (double)weight[y] : 1.0;
        double smooth = 0.0;
        if (eps > 0.0)
            for (int64_t k = 0; k < c; k++)
                smooth += (weight ? (double)weight[k] : 1.0) * (lse - (double)x[k * s]);
        loss[pos] = (float)((1.0 - eps) * wy * (lse - (double)x[y * s]) + eps / (double)c * smooth);
        wsum[pos] = (float)wy;
        if (g) {
            const double scale = (1.0 - eps) * wy + eps / (double)c * wtotal;
            for (int64_t k = 0; k < c; k++) {
                const double p = exp((double)x[k * s] - lse);
                double gk = p * scale - eps / (double)c * (weight ? (double)weight[k] : 1.0);
                if (k == y) gk -= (1.0 - eps) * wy;
                g[k * s] = (float)gk;
            }
        }
    }
    if (bad)
        return sai_error_set(SAI_EINVAL,
                             "target holds class %lld, outside [0, %lld) and not ignore_index %lld",
                             (long long)bad_target, (long long)c, (long long)ignore_index);
    return SAI_OK;
}

/* log(1 + exp(-|x|)) + max(-x, 0) = softplus(-x), computed stably. */
static inline double softplus_neg(double x)
{
    return log1p(exp(-fabs(x))) + (x < 0.0 ? -x : 0.0);
}

static inline double sigmoid(double x)
{
    if (x >= 0.0) return 1.0 / (1.0 + exp(-x));
    const double e = exp(x);
    return e / (1.0 + e);
}

sai_status sai_nn_bce_logits(const float *x, const float *y, const float *pos_weight,
                             const float *weight, int64_t count, float *loss, float *grad)
{
    if (bad_count(count, "bce_with_logits")) return SAI_EINVAL;
#pragma omp parallel for num_threads(sai_get_num_threads()) if (count > SAI_LOSS_PAR_MIN)
    for (int64_t i = 0; i < count; i++) {
        const double xi = x[i], yi = y[i];
        const double lw = pos_weight ? 1.0 + ((double)pos_weight[i] - 1.0) * yi : 1.0;
        const double w = weight ? (double)weight[i] : 1.0;
        loss[i] = (float)(w * ((1.0 - yi) * xi + lw * softplus_neg(xi)));
        if (grad) grad[i] = (float)(w * ((1.0 - yi) - lw * sigmoid(-xi)));
    }
    return SAI_OK;
}

sai_status sai_nn_focal_sigmoid(const float *x, const float *y, int64_t count, float gamma,
                                float alpha, float *loss, float *grad)
{
    if (bad_count(count, "focal_loss")) return SAI_EINVAL;
    if (!(gamma >= 0.0f)) return sai_error_set(SAI_EINVAL, "gamma must be >= 0, got %g", (double)gamma);
    const double gm = gamma;
#pragma omp parallel for num_threads(sai_get_num_threads()) if (count > SAI_LOSS_PAR_MIN)
    for (int64_t i = 0; i < count; i++) {
        const double xi = x[i], yi = y[i];
        const double p = sigmoid(xi);
        const double ce = (1.0 - yi) * xi + softplus_neg(xi);
        const double q = 1.0 - (p * yi + (1.0 - p) * (1.0 - yi)); /* 1 - p_t */
        const double at = alpha >= 0.0f ? alpha * yi + (1.0 - alpha) * (1.0 - yi) : 1.0;
        const double mod = gm == 0.0 ? 1.0 : pow(q, gm);
        loss[i] = (float)(at * ce * mod);
        if (grad) {
            /* d(1-p_t)/dx = -p (1 - p) (2y - 1) */
            double dmod = 0.0;
            if (gm != 0.0 && q > 0.0) dmod = gm * pow(q, gm - 1.0) * (-p * (1.0 - p) * (2.0 * yi - 1.0));
            grad[i] = (float)(at * ((p - yi) * mod + ce * dmod));
        }
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
    const int64_t positions = n * s;
#pragma omp parallel for num_threads(sai_get_num_threads()) if (positions * c > SAI_LOSS_PAR_MIN)
    for (int64_t pos = 0; pos < positions; pos++) {
        const int64_t off = (pos / s) * c * s + pos % s;
        const float *xi = x + off;
        float *pi = p + off;
        double mx = xi[0];
        for (int64_t k = 1; k < c; k++)
            if (xi[k * s] > mx) mx = xi[k * s];
        double se = 0.0;
        for (int64_t k = 0; k < c; k++) se += exp((double)xi[k * s] - mx);
        for (int64_t k = 0; k < c; k++) pi[k * s] = (float)(exp((double)xi[k * s] - mx) / se);
    }
    return SAI_OK;
}

sai_status sai_nn_softmax_channels_backward(const float *p, const float *grad_p, int64_t n,
                                            int64_t c, int64_t s, float *grad_x)
{
    if (n < 0 || s < 0 || c < 1) return sai_error_set(SAI_EINVAL, "softmax backward: bad shape");
    const int64_t positions = n * s;
#pragma omp parallel for num_threads(sai_get_num_threads()) if (positions * c > SAI_LOSS_PAR_MIN)
    for (int64_t pos = 0; pos < positions; pos++) {
        const int64_t off = (pos / s) * c * s + pos % s;
        double dot = 0.0;
        for (int64_t k = 0; k < c; k++) dot += (double)grad_p[off + k * s] * (double)p[off + k * s];
        for (int64_t k = 0; k < c; k++)
            grad_x[off + k * s] = (float)((double)p[off + k * s] * ((double)grad_p[off + k * s] - dot));
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
        for (int64_t i = 0; i < s; i++) {
            const double a = pr[i], b = tr[i];
            inter += a * b;
            ps += squared ? a * a : a;
            ts += squared ? b * b : b;
        }
        out[3 * r] = inter;
        out[3 * r + 1] = ps;
        out[3 * r + 2] = ts;
    }
    return SAI_OK;
}
