/* image_internal.h: helpers shared by the image kernels (not public). */
#ifndef SAI_IMAGE_INTERNAL_H
#define SAI_IMAGE_INTERNAL_H

#include "sacroai/sai_image.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* For each output index along one axis: `taps` source indices and weights.
 * Source indices address the (padded, for order 3) coefficient line. */
typedef struct {
    int64_t n_out, n_src;
    int taps, pad;
    int32_t *idx;
    float *w;
    uint8_t *outside; /* mode constant: output index maps outside the input */
} sai_axis_table;

sai_status sai_axis_table_build(sai_axis_table *t, int64_t n_in, int64_t n_out, double scale,
                                double offset, int order, int mode);
void sai_axis_table_free(sai_axis_table *t);
void sai_spline_prefilter_lines(float *c, int64_t n, int64_t stride, int64_t nvec, float *acc);

/* Convert `count` elements of type dt at `src` (element offset `off`) to float. */
void sai_load_float(const void *src, sai_dtype dt, int64_t off, int64_t count, float *dst);
/* dst[v] += w * src[v] for elements of type dt (fused convert + axpy). */
void sai_axpy_typed(const void *src, sai_dtype dt, int64_t off, int64_t count, float w, float *dst);
int sai_dtype_size(sai_dtype dt);

/* Threads worth waking for `work` elements: small jobs stay on one thread
 * (waking an OpenMP team costs more than they do, worse on a busy machine). */
static inline int sai_threads_for(int64_t work)
{
    return work < ((int64_t)1 << 20) ? 1 : sai_get_num_threads();
}

#endif
