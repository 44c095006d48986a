/* roc.c: ROC counts and DeLong placement values from one sort of the pooled scores. */
#include <math.h>

#include "sacroai/sai_stats.h"

static sai_status check_labels(const uint8_t *y, int64_t n, int64_t *n_pos)
{
    int64_t p = 0;
    for (int64_t i = 0; i < n; i++) {
        if (y[i] > 1) return sai_error_set(SAI_EINVAL, "y_true[%lld] = %d is not 0 or 1", (long long)i, y[i]);
        p += y[i];
    }
    *n_pos = p;
    return SAI_OK;
}

sai_status sai_stats_roc_counts(const double *score, const uint8_t *y, int64_t n,
                                double *thresholds, int64_t *tps, int64_t *fps, int64_t *n_thr)
{
    int64_t n_pos = 0;
    sai_status rc = check_labels(y, n, &n_pos);
    if (rc) return rc;
    int64_t *order = sai_alloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t));
    if (!order) return SAI_ENOMEM;
    if ((rc = sai_stats_argsort(score, n, order))) {
        sai_free(order);
        return rc;
    }
    int64_t k = 0, tp = 0, fp = 0;
    for (int64_t i = n - 1; i >= 0;) { /* from the highest score down */
        double v = score[order[i]];
        while (i >= 0 && score[order[i]] == v) {
            if (y[order[i]]) tp++; else fp++;
            i--;
        }
        thresholds[k] = v;
        tps[k] = tp;
        fps[k] = fp;
        k++;
    }
    *n_thr = k;
    sai_free(order);
    return SAI_OK;
}

sai_status sai_stats_delong_placements(const double *score, const uint8_t *y, int64_t n,
                                       double *auc, double *v10, double *v01)
{
    int64_t m = 0;
    sai_status rc = check_labels(y, n, &m);
    if (rc) return rc;
    int64_t nn = n - m;
    if (m == 0 || nn == 0)
        return sai_error_set(SAI_EINVAL, "DeLong needs at least one positive and one negative "
                                         "(got %lld positives, %lld negatives)", (long long)m, (long long)nn);
    int64_t *order = sai_alloc((size_t)n * sizeof(int64_t));
    /* position of each observation among its own class, in input order */
    int64_t *class_pos = sai_alloc((size_t)n * sizeof(int64_t));
    if (!order || !class_pos) {
        sai_free(order);
        sai_free(class_pos);
        return SAI_ENOMEM;
    }
    if ((rc = sai_stats_argsort(score, n, order))) {
        sai_free(order);
        sai_free(class_pos);
        return rc;
    }
    int64_t ip = 0, in = 0;
    for (int64_t i = 0; i < n; i++) class_pos[i] = y[i] ? ip++ : in++;
    /* Walk tie groups in ascending order: a positive in a group gets the
     * negatives below plus half the tied negatives; a negative gets the
     * positives above plus half the tied positives. */
    int64_t neg_below = 0, pos_below = 0;
    double sum10 = 0.0;
    const double inv_m = 1.0 / (double)m, inv_n = 1.0 / (double)nn;
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        double v = score[order[i]];
        int64_t gp = 0, gn = 0;
        while (j < n && score[order[j]] == v) {
            if (y[order[j]]) gp++; else gn++;
            j++;
        }
        double p10 = ((double)neg_below + 0.5 * (double)gn) * inv_n;
        double p01 = ((double)(m - pos_below - gp) + 0.5 * (double)gp) * inv_m;
        for (int64_t t = i; t < j; t++) {
            int64_t o = order[t];
            if (y[o]) v10[class_pos[o]] = p10; else v01[class_pos[o]] = p01;
        }
        sum10 += (double)gp * p10;
        neg_below += gn;
        pos_below += gp;
        i = j;
    }
    *auc = sum10 * inv_m;
    sai_free(order);
    sai_free(class_pos);
    return SAI_OK;
}
