/* py_config.c: the thread knob and what the core was built and linked with. */
#include "py_util.h"
#include "sacroai/sai_io.h"

#ifndef SAI_BUILD_CFLAGS
#define SAI_BUILD_CFLAGS "unknown"
#endif
#ifndef SAI_BUILD_BLAS
#define SAI_BUILD_BLAS "unknown"
#endif
#ifndef SAI_BUILD_NIFTI
#define SAI_BUILD_NIFTI "unknown"
#endif
#ifndef SAI_BUILD_DEFLATE
#define SAI_BUILD_DEFLATE "unknown"
#endif

static PyObject *py_set_num_threads(PyObject *self, PyObject *args)
{
    int n;
    if (!PyArg_ParseTuple(args, "i:set_num_threads", &n)) return NULL;
    if (n < 1) return PyErr_Format(PyExc_ValueError, "n must be a positive thread count, got %d", n);
    sai_set_num_threads(n);
    Py_RETURN_NONE;
}

static PyObject *py_get_num_threads(PyObject *self, PyObject *noargs)
{
    return PyLong_FromLong(sai_get_num_threads());
}

static PyObject *py_build_info(PyObject *self, PyObject *noargs)
{
    static const char *const parallel[] = {"sequential", "pthreads", "openmp"};
    int mode = sai_blas_parallel_mode();
    const char *corename = sai_blas_corename();
    const char *config = sai_blas_config();
    return Py_BuildValue(
        "{s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:s,s:s,s:i,s:i}",
        "blas_build", SAI_BUILD_BLAS,
        "blas_corename", corename ? corename : "unknown",
        "blas_config", config ? config : "unknown",
        "blas_parallel", (mode >= 0 && mode <= 2) ? parallel[mode] : "unknown",
        "blas_threads", sai_blas_get_num_threads(),
        "nifti_build", SAI_BUILD_NIFTI,
        "deflate", sai_deflate_backend(),
        "cflags", SAI_BUILD_CFLAGS,
        "compiler", "gcc " __VERSION__,
        "openmp", sai_openmp_version(),
        "threads", sai_get_num_threads());
}

PyMethodDef sai_py_config_methods[] = {
    {"set_num_threads", py_set_num_threads, METH_VARARGS,
     "set_num_threads(n): threads for OpenBLAS and the core's OpenMP loops."},
    {"get_num_threads", py_get_num_threads, METH_NOARGS, "get_num_threads() -> int"},
    {"build_info", py_build_info, METH_NOARGS, "build_info() -> dict of build and link facts"},
    {NULL, NULL, 0, NULL},
};

int sai_py_config_init(PyObject *m) { return 0; }
