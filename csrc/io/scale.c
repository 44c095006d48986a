/* scale.c: dst = src * slope + inter (NIfTI scl_slope / scl_inter), parallel. */
#include "sacroai/sai_io.h"

#define SCALE_LOOP(ST, DT)                                                          \
    do {                                                                            \
        const ST *s = (const ST *)src;                                              \
        DT *d = (DT *)dst;                                                          \
        _Pragma("omp parallel for schedule(static) num_threads(nthreads) if(n > 65536)") \
        for (int64_t i = 0; i < n; i++) d[i] = (DT)((double)s[i] * slope + inter);  \
    } while (0)

#define SCALE_FROM(ST)                                                         \
    do {                                                                       \
        if (dst_type == SAI_DT_F32) SCALE_LOOP(ST, float);                     \
        else SCALE_LOOP(ST, double);                                           \
    } while (0)

sai_status sai_scale(const void *src, sai_dtype src_type, int64_t n, double slope, double inter,
                     void *dst, sai_dtype dst_type)
{
    if (dst_type != SAI_DT_F32 && dst_type != SAI_DT_F64)
        return sai_error_set(SAI_ETYPE, "scaled output must be float32 or float64");
    int nthreads = sai_get_num_threads();
    switch (src_type) {
    case SAI_DT_U8: SCALE_FROM(uint8_t); break;
    case SAI_DT_I8: SCALE_FROM(int8_t); break;
    case SAI_DT_U16: SCALE_FROM(uint16_t); break;
    case SAI_DT_I16: SCALE_FROM(int16_t); break;
    case SAI_DT_U32: SCALE_FROM(uint32_t); break;
    case SAI_DT_I32: SCALE_FROM(int32_t); break;
    case SAI_DT_U64: SCALE_FROM(uint64_t); break;
    case SAI_DT_I64: SCALE_FROM(int64_t); break;
    case SAI_DT_F32: SCALE_FROM(float); break;
    case SAI_DT_F64: SCALE_FROM(double); break;
    default: return sai_error_set(SAI_ETYPE, "unsupported source type for scaling");
    }
    return SAI_OK;
}
