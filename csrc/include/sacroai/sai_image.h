/* sai_image.h: preprocessing kernels (resampling, normalization, filters).
 *
 * Volumes are C-contiguous 3-D arrays of shape (n0, n1, n2); a 2-D image is
 * passed as (1, n1, n2).  Index convention for resampling (as
 * scipy.ndimage.affine_transform with mode "nearest"): output voxel o samples
 * the input at the continuous index x = scale * o + offset (separable case) or
 * x = M o + b (general case).
 */
#ifndef SAI_IMAGE_H
#define SAI_IMAGE_H

#include "sacroai/sai_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Edge padding (voxels per side) of cubic B-spline coefficient lines: with
 * mode "nearest" the input is edge-extended by this much before the
 * prefilter, as scipy.ndimage does. */
#define SAI_SPLINE_PAD 12

enum { SAI_MODE_NEAREST = 0, SAI_MODE_CONSTANT = 1 };

/* Separable resampling, per-axis spline order (0, 1 or 3).
 * in: dtype `dt`, shape n[3]; out: SAI_DT_F32 or SAI_DT_F64, shape m[3].
 * Coordinates outside the input: mode NEAREST extends edges (order 3
 * interpolates the edge-padded spline as SciPy); mode CONSTANT writes cval
 * where any axis coordinate lies outside [0, n-1]. */
sai_status sai_resample_separable(const void *in, sai_dtype dt, const int64_t n[3], void *out,
                                  sai_dtype out_dt, const int64_t m[3], const double scale[3],
                                  const double offset[3], const int order[3], int mode,
                                  double cval);

/* Cubic B-spline coefficients of an edge-padded volume: coef has shape
 * (n[d] + 2 * pad[d]) with pad[d] = SAI_SPLINE_PAD where n[d] > 1, else 0. */
sai_status sai_spline_coefficients(const void *in, sai_dtype dt, const int64_t n[3], float *coef);

/* General (non-separable) resampling: x = mat[0:3, 0:3] o + mat[:, 3].
 * src is float32: the input itself (order 0/1) or the coefficients of
 * sai_spline_coefficients (order 3); n is the unpadded input shape. */
sai_status sai_resample_gather(const float *src, const int64_t n[3], void *out, sai_dtype out_dt,
                               const int64_t m[3], const double mat[12], int order, int mode,
                               double cval);

/* ---- normalization (normalize.c) ---- */
/* Percentiles and moments of the voxels selected by `mask` (uint8, nonzero =
 * selected; NULL = all) and, when `nonzero`, by value != 0.
 * qvals[i] = numpy.percentile(selected, q[i], method="linear") exactly
 * (8/16-bit integers: one histogram pass; other types: selection on a copy;
 * any NaN selected gives NaN).  mean/std (population) are of the selected
 * values clipped to [qvals[clip_lo], qvals[clip_hi]] (index -1: no clip on
 * that side).  n_used = number of selected voxels; 0 leaves results NaN. */
sai_status sai_intensity_stats(const void *in, sai_dtype dt, int64_t count, const uint8_t *mask,
                               int nonzero, const double *q, int nq, double *qvals, int clip_lo,
                               int clip_hi, double *mean, double *std, int64_t *n_used,
                               double *vmin, double *vmax);
/* out = (clip(in, lo, hi) - shift) * scale, float32/float64 out. */
sai_status sai_affine_clip(const void *in, sai_dtype dt, int64_t count, void *out,
                           sai_dtype out_dt, double lo, double hi, double shift, double scale);
/* Piecewise-linear intensity map through increasing knots xp -> fp (Nyul),
 * extrapolated linearly with the end segments. */
sai_status sai_piecewise_linear(const void *in, sai_dtype dt, int64_t count, void *out,
                                sai_dtype out_dt, const double *xp, const double *fp, int nk);

/* ---- filters (filters.c) ---- */
/* Separable Gaussian smoothing, sigma in voxels per axis (0: no smoothing
 * along that axis), kernel truncated at `truncate` sigmas, edges "nearest".
 * in and out float32 of shape n; in-place allowed. */
sai_status sai_gaussian_filter(const float *in, const int64_t n[3], float *out,
                               const double sigma[3], double truncate);
/* Hessian by central differences of a (smoothed) float32 volume with voxel
 * spacing sp; eigenvalues sorted by absolute value |l1|<=|l2|<=|l3| written
 * to eig (shape n + (ndim,)).  ndim 2 uses axes 1, 2 only. */
sai_status sai_hessian_eigenvalues(const float *in, const int64_t n[3], const double sp[3],
                                   int ndim, double scale2, float *eig);
/* Frangi vesselness of sorted eigenvalues, combined into out by max. */
sai_status sai_frangi_response(const float *eig, int64_t count, int ndim, double alpha,
                               double beta, double c, int black_ridges, float *out);

#ifdef __cplusplus
}
#endif
#endif
