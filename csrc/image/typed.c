/* typed.c: element-type dispatch for loading voxels as float. */
#include "image_internal.h"

int sai_dtype_size(sai_dtype dt)
{
    switch (dt) {
    case SAI_DT_U8: case SAI_DT_I8: return 1;
    case SAI_DT_U16: case SAI_DT_I16: return 2;
    case SAI_DT_U32: case SAI_DT_I32: case SAI_DT_F32: return 4;
    default: return 8;
    }
}

#define DISPATCH(DT, MACRO)                         \
    switch (DT) {                                   \
    case SAI_DT_U8: MACRO(uint8_t); break;          \
    case SAI_DT_I8: MACRO(int8_t); break;           \
    case SAI_DT_U16: MACRO(uint16_t); break;        \
    case SAI_DT_I16: MACRO(int16_t); break;         \
    case SAI_DT_U32: MACRO(uint32_t); break;        \
    case SAI_DT_I32: MACRO(int32_t); break;         \
    case SAI_DT_U64: MACRO(uint64_t); break;        \
    case SAI_DT_I64: MACRO(int64_t); break;         \
    case SAI_DT_F32: MACRO(float); break;           \
    case SAI_DT_F64: MACRO(double); break;          \
    }

void sai_load_float(const void *src, sai_dtype dt, int64_t off, int64_t count, float *dst)
{
#define LOAD(T)                                                           \
    {                                                                     \
        const T *s = (const T *)src + off;                                \
        for (int64_t v = 0; v < count; v++) dst[v] = (float)s[v];         \
    }
    DISPATCH(dt, LOAD)
#undef LOAD
}

void sai_axpy_typed(const void *src, sai_dtype dt, int64_t off, int64_t count, float w, float *dst)
{
#define AXPY(T)                                                           \
    {                                                                     \
        const T *s = (const T *)src + off;                                \
        for (int64_t v = 0; v < count; v++) dst[v] += w * (float)s[v];    \
    }
    DISPATCH(dt, AXPY)
#undef AXPY
}
