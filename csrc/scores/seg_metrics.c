/* seg_metrics.c: border extraction and exact Euclidean distance transform for
 * segmentation distance metrics (HD, HD95, ASSD; SCORES.md section 11).
 * Border definition as MedPy (medpy/metric/binary.py): mask XOR its erosion
 * with the chosen connectivity, image edge treated as background.
 * EDT: Felzenszwalb P, Huttenlocher D. Distance transforms of sampled
 * functions. Theory of Computing 2012;8:415-428 (separable lower envelope of
 * parabolas), with per-axis physical spacing. */
#include "sc_internal.h"

static int prep_shape(int ndim, const int64_t *shape, int64_t s3[3], int64_t *total)
{
    if (ndim < 1 || ndim > 3) return 0;
    s3[0] = s3[1] = s3[2] = 1;
    for (int k = 0; k < ndim; k++) {
        if (shape[k] < 0) return 0;
        s3[3 - ndim + k] = shape[k];
    }
    *total = s3[0] * s3[1] * s3[2];
    return 1;
}

sai_status sai_seg_surface(int ndim, const int64_t *shape, const uint8_t *mask, int connectivity,
                           uint8_t *surface)
{
    int64_t s[3], total;
    if (!prep_shape(ndim, shape, s, &total)) return sai_error_set(SAI_EINVAL, "seg_surface: ndim must be 1..3");
    if (connectivity < 1 || connectivity > ndim)
        return sai_error_set(SAI_EINVAL, "connectivity must be in 1..%d, got %d", ndim, connectivity);
    /* neighbour offsets in the padded 3-D frame */
    int off[26][3], no = 0;
    for (int a = -1; a <= 1; a++)
        for (int b = -1; b <= 1; b++)
            for (int c = -1; c <= 1; c++) {
                int nz = (a != 0) + (b != 0) + (c != 0);
                if (nz == 0 || nz > connectivity) continue;
                if ((ndim < 3 && a != 0) || (ndim < 2 && b != 0)) continue; /* padded axes */
                off[no][0] = a; off[no][1] = b; off[no][2] = c; no++;
            }
#pragma omp parallel for num_threads(sai_get_num_threads()) schedule(static) if (total > 65536)
    for (int64_t i = 0; i < s[0]; i++)
        for (int64_t j = 0; j < s[1]; j++)
            for (int64_t k = 0; k < s[2]; k++) {
                int64_t idx = (i * s[1] + j) * s[2] + k;
                uint8_t border = 0;
                if (mask[idx]) {
                    for (int t = 0; t < no && !border; t++) {
                        int64_t ii = i + off[t][0], jj = j + off[t][1], kk = k + off[t][2];
                        if (ii < 0 || jj < 0 || kk < 0 || ii >= s[0] || jj >= s[1] || kk >= s[2] ||
                            !mask[(ii * s[1] + jj) * s[2] + kk])
                            border = 1;
                    }
                }
                surface[idx] = border;
            }
    return SAI_OK;
}

/* One 1-D pass: d[q] = min_p ((q-p)*w)^2 + f[p] over a line of length m. */
static void edt_line(const double *f, double *d, int64_t m, double w, int64_t *v, double *z)
{
    int64_t k = -1;
    double w2 = w * w;
    for (int64_t q = 0; q < m; q++) {
        if (isinf(f[q])) continue;
        double fq = f[q] + w2 * (double)q * (double)q;
        while (k >= 0) {
            int64_t p = v[k];
            double s = (fq - (f[p] + w2 * (double)p * (double)p)) / (2.0 * w2 * (double)(q - p));
            if (s <= z[k]) k--;
            else { k++; v[k] = q; z[k] = s; break; }
        }
        if (k < 0) { k = 0; v[0] = q; z[0] = -INFINITY; }
    }
    if (k < 0) {
        for (int64_t q = 0; q < m; q++) d[q] = INFINITY;
        return;
    }
    int64_t j = 0;
    for (int64_t q = 0; q < m; q++) {
        while (j < k && z[j + 1] < (double)q) j++;
        double dq = (double)(q - v[j]) * w;
        d[q] = dq * dq + f[v[j]];
    }
}

sai_status sai_seg_edt_sq(int ndim, const int64_t *shape, const double *spacing,
                          const uint8_t *feature, double *out)
{
    int64_t s[3], total;
    if (!prep_shape(ndim, shape, s, &total)) return sai_error_set(SAI_EINVAL, "seg_edt: ndim must be 1..3");
    double w[3] = {1.0, 1.0, 1.0};
    for (int k = 0; k < ndim; k++) {
        if (!(spacing[k] > 0.0) || !isfinite(spacing[k]))
            return sai_error_set(SAI_EINVAL, "spacing[%d] must be a positive finite number", k);
        w[3 - ndim + k] = spacing[k];
    }
    for (int64_t i = 0; i < total; i++) out[i] = feature[i] ? 0.0 : INFINITY;
    int64_t maxm = s[0] > s[1] ? s[0] : s[1];
    if (s[2] > maxm) maxm = s[2];
    for (int a = 0; a < 3; a++) {
        int64_t m = s[a];
        if (m <= 1 || total == 0) continue;
        int64_t stride = a == 0 ? s[1] * s[2] : (a == 1 ? s[2] : 1);
        int64_t nlines = total / m;
        int failed = 0;
#pragma omp parallel num_threads(sai_get_num_threads()) if (total > 65536)
        {
            double *f = sai_alloc(sizeof(double) * (size_t)(3 * maxm + 1));
            int64_t *v = sai_alloc(sizeof(int64_t) * (size_t)maxm);
            if (!f || !v) {
#pragma omp atomic write
                failed = 1;
            }
#pragma omp for schedule(static)
            for (int64_t l = 0; l < nlines; l++) {
                if (!f || !v) continue;
                double *d = f + maxm, *z = f + 2 * maxm;
                int64_t base = (l / stride) * m * stride + (l % stride);
                for (int64_t q = 0; q < m; q++) f[q] = out[base + q * stride];
                edt_line(f, d, m, w[a], v, z);
                for (int64_t q = 0; q < m; q++) out[base + q * stride] = d[q];
            }
            sai_free(f);
            sai_free(v);
        }
        if (failed) return sai_error_set(SAI_ENOMEM, "seg_edt: out of memory");
    }
    return SAI_OK;
}
