/* py_nn_util.h: helpers shared by the nn wrapper files (py_nn.c, py_nn_fused.c). */
#ifndef SAI_PY_NN_UTIL_H
#define SAI_PY_NN_UTIL_H

#include "py_util.h"

#define F32(p) ((float *)PyArray_DATA(p))
#define CF32(p) ((const float *)PyArray_DATA(p))
#define IN_FLAGS (NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED)

/* A C-contiguous float32 view or copy of o (new reference), errors naming `name`. */
static inline PyArrayObject *in_f32(PyObject *o, const char *name, int nd_min, int nd_max)
{
    return sai_py_array(o, name, NPY_FLOAT32, nd_min, nd_max, IN_FLAGS, 0);
}

/* 1 when a is NULL or has n elements; else a ValueError naming `what`, 0. */
static inline int len_is(PyArrayObject *a, npy_intp n, const char *what)
{
    if (a && PyArray_SIZE(a) != n) {
        PyErr_Format(PyExc_ValueError, "%s must have %zd elements, got %zd", what, (Py_ssize_t)n,
                     (Py_ssize_t)PyArray_SIZE(a));
        return 0;
    }
    return 1;
}

/* A new float32 array from the nn output-block cache (py_nn.c). */
PyArrayObject *sai_py_nn_new_f32(int nd, const npy_intp *dims);

#endif
