/* module.c: sacroai._core, assembled from one method table per core module. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define PY_ARRAY_UNIQUE_SYMBOL sai_ARRAY_API
#include <numpy/arrayobject.h>

#include "py_util.h"

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT, "sacroai._core",
    "sacroai's C core: kernels over NumPy buffers (use the sacroai package, not this module).",
    -1, NULL,
};

static int add_exception(PyObject *m, PyObject **slot, const char *name, PyObject *bases,
                         const char *doc)
{
    *slot = PyErr_NewExceptionWithDoc(name, doc, bases, NULL);
    if (!*slot) return -1;
    Py_INCREF(*slot);
    return PyModule_AddObject(m, strrchr(name, '.') + 1, *slot);
}

PyMODINIT_FUNC PyInit__core(void)
{
    import_array();
    PyObject *m = PyModule_Create(&core_module);
    if (!m) return NULL;
    PyObject *fmt_bases = NULL, *num_bases = NULL;
    if (add_exception(m, &sai_py_SacroaiError, "sacroai.SacroaiError", NULL,
                      "Base class of sacroai's own exceptions.") < 0)
        goto fail;
    fmt_bases = PyTuple_Pack(3, sai_py_SacroaiError, PyExc_OSError, PyExc_ValueError);
    num_bases = PyTuple_Pack(2, sai_py_SacroaiError, PyExc_ValueError);
    if (!fmt_bases || !num_bases) goto fail;
    if (add_exception(m, &sai_py_FileFormatError, "sacroai.FileFormatError", fmt_bases,
                      "A file is corrupt, truncated or in an unsupported variant of its format "
                      "(an OSError and a ValueError).") < 0 ||
        add_exception(m, &sai_py_NumericalError, "sacroai.NumericalError", num_bases,
                      "NaN/Inf values or a numerical breakdown (a ValueError).") < 0)
        goto fail;
    Py_CLEAR(fmt_bases);
    Py_CLEAR(num_bases);

    PyMethodDef *tables[] = {sai_py_config_methods, sai_py_io_methods, sai_py_image_methods,
                             sai_py_nn_methods, sai_py_scores_methods, sai_py_stats_methods};
    int (*inits[])(PyObject *) = {sai_py_config_init, sai_py_io_init, sai_py_image_init,
                                  sai_py_nn_init, sai_py_scores_init, sai_py_stats_init};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        if (PyModule_AddFunctions(m, tables[i]) < 0 || inits[i](m) < 0) goto fail;
    }
    return m;
fail:
    Py_XDECREF(fmt_bases);
    Py_XDECREF(num_bases);
    Py_DECREF(m);
    return NULL;
}
