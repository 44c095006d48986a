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
/* Separable Gaussian smoothing as scipy.ndimage.gaussian_filter with mode
 * "nearest": sigma in voxels per axis (0: that axis untouched), kernel
 * radius int(truncate * sigma + 0.5).  float32 in/out of shape n (in == out
 * allowed). */
sai_status sai_gaussian_filter(const float *in, const int64_t n[3], float *out,
                               const double sigma[3], double truncate);
/* numpy.gradient along `axis` (central differences, one-sided at the ends)
 * with spacing h; an axis of length 1 gives 0. */
sai_status sai_gradient(const float *in, const int64_t n[3], int axis, double h, float *out);
/* Hessian eigenvalues from first derivatives grads[0..ndim-1] (the
 * derivatives along the last ndim axes, spacing sp of those axes):
 * H_ab = d/db grad_a (numpy.gradient), symmetrised, times scale2; the
 * eigenvalues sorted by |.| ascending go to eig (shape n + (ndim,)).
 * max_norm receives the largest Frobenius norm sqrt(sum l^2). */
sai_status sai_hessian_eigenvalues(const float *const *grads, const int64_t n[3], const double *sp,
                                   int ndim, double scale2, float *eig, double *max_norm);
/* Frangi vesselness of sorted eigenvalues; out = max(out, V). */
sai_status sai_frangi_response(const float *eig, int64_t count, int ndim, double alpha,
                               double beta, double c, int black_ridges, float *out);

#ifdef __cplusplus
}
#endif
#endif
