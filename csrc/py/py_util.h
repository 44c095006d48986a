/* py_util.h: shared helpers for the CPython wrappers (only csrc/py/ sees Python). */
#ifndef SAI_PY_UTIL_H
#define SAI_PY_UTIL_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NO_IMPORT_ARRAY
#define PY_ARRAY_UNIQUE_SYMBOL sai_ARRAY_API
#include <numpy/arrayobject.h>

#include "sacroai/sai_common.h"

/* Exceptions created at module init (see module.c). */
extern PyObject *sai_py_SacroaiError;
extern PyObject *sai_py_FileFormatError;
extern PyObject *sai_py_NumericalError;

/* Raise the Python exception that matches `status`, with the core's
 * thread-local message.  Returns NULL for convenient `return`. */
PyObject *sai_py_raise(sai_status status);

/* Run a core call with the GIL released and the thread knob applied:
 *   SAI_CALL(rc, sai_kernel(...));
 * then `if (rc) return sai_py_raise(rc);` */
#define SAI_CALL(rc, expr)              \
    do {                                \
        sai_threads_sync();             \
        Py_BEGIN_ALLOW_THREADS          \
        rc = (expr);                    \
        Py_END_ALLOW_THREADS            \
    } while (0)

/* Map a NumPy type number to the core's element type; -1 if unsupported. */
int sai_py_dtype(int typenum);

/* Return a new reference to `obj` as an array of `typenum` (or any type when
 * typenum < 0) with `flags` (NPY_ARRAY_* requirements), checking ndim in
 * [ndim_min, ndim_max].  Errors name `argname`.  No silent dtype casting:
 * a wrong dtype raises TypeError unless `allow_cast`. */
PyArrayObject *sai_py_array(PyObject *obj, const char *argname, int typenum, int ndim_min,
                            int ndim_max, int flags, int allow_cast);

/* Small dict helpers used when passing header-like structures. */
int sai_py_dict_double(PyObject *d, const char *key, double *out);
int sai_py_dict_int64(PyObject *d, const char *key, int64_t *out);
int sai_py_dict_int(PyObject *d, const char *key, int *out);
int sai_py_dict_text(PyObject *d, const char *key, char *out, size_t cap);
int sai_py_dict_doubles(PyObject *d, const char *key, double *out, Py_ssize_t n);

/* Per-module registration (each py_<module>.c defines these). */
#define SAI_PY_MODULE(name)                       \
    extern PyMethodDef sai_py_##name##_methods[]; \
    int sai_py_##name##_init(PyObject *m);
SAI_PY_MODULE(config)
SAI_PY_MODULE(io)
SAI_PY_MODULE(image)
SAI_PY_MODULE(nn)
SAI_PY_MODULE(scores)
SAI_PY_MODULE(stats)

#endif
