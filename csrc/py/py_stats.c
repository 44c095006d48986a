/* py_stats.c: Python wrappers of the stats core (csrc/stats/).
 * The Python layer (sacroai/stats) validates values; these wrappers check
 * dtypes, shapes and lengths. */
#include "py_util.h"
#include "sacroai/sai_stats.h"

#define IN_FLAGS (NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED)

static PyArrayObject *vec(PyObject *obj, const char *name, int typenum)
{
    return sai_py_array(obj, name, typenum, 1, 1, IN_FLAGS, 1);
}

static int same_length(PyArrayObject *a, const char *na, PyArrayObject *b, const char *nb)
{
    if (PyArray_DIM(a, 0) != PyArray_DIM(b, 0)) {
        PyErr_Format(PyExc_ValueError, "%s and %s must have the same length, got %zd and %zd", na, nb,
                     (Py_ssize_t)PyArray_DIM(a, 0), (Py_ssize_t)PyArray_DIM(b, 0));
        return 0;
    }
    return 1;
}

static PyObject *new_vec(npy_intp n, int typenum) { return PyArray_SimpleNew(1, &n, typenum); }

/* argsort(x: float64[n]) -> int64[n], stable ascending */
static PyObject *py_argsort(PyObject *self, PyObject *args)
{
    PyObject *xo;
    if (!PyArg_ParseTuple(args, "O:stats_argsort", &xo)) return NULL;
    PyArrayObject *x = vec(xo, "x", NPY_FLOAT64);
    if (!x) return NULL;
    npy_intp n = PyArray_DIM(x, 0);
    PyArrayObject *out = (PyArrayObject *)new_vec(n, NPY_INT64);
    if (!out) {
        Py_DECREF(x);
        return NULL;
    }
    sai_status rc;
    SAI_CALL(rc, sai_stats_argsort(PyArray_DATA(x), (int64_t)n, PyArray_DATA(out)));
    Py_DECREF(x);
    if (rc) {
        Py_DECREF(out);
        return sai_py_raise(rc);
    }
    return (PyObject *)out;
}

/* roc_counts(score, y) -> (thresholds float64[k], tps int64[k], fps int64[k]) */
static PyObject *py_roc_counts(PyObject *self, PyObject *args)
{
    PyObject *so, *yo;
    if (!PyArg_ParseTuple(args, "OO:stats_roc_counts", &so, &yo)) return NULL;
    PyArrayObject *s = vec(so, "y_score", NPY_FLOAT64), *y = s ? vec(yo, "y_true", NPY_UINT8) : NULL;
    PyObject *thr = NULL, *tps = NULL, *fps = NULL, *res = NULL;
    if (!y || !same_length(y, "y_true", s, "y_score")) goto done;
    npy_intp n = PyArray_DIM(s, 0);
    thr = new_vec(n, NPY_FLOAT64);
    tps = new_vec(n, NPY_INT64);
    fps = new_vec(n, NPY_INT64);
    if (!thr || !tps || !fps) goto done;
    int64_t k = 0;
    sai_status rc;
    SAI_CALL(rc, sai_stats_roc_counts(PyArray_DATA(s), PyArray_DATA(y), (int64_t)n,
                                      PyArray_DATA((PyArrayObject *)thr), PyArray_DATA((PyArrayObject *)tps),
                                      PyArray_DATA((PyArrayObject *)fps), &k));
    if (rc) {
        sai_py_raise(rc);
        goto done;
    }
    res = Py_BuildValue("(OOOL)", thr, tps, fps, (long long)k);
done:
    Py_XDECREF(s);
    Py_XDECREF(y);
    Py_XDECREF(thr);
    Py_XDECREF(tps);
    Py_XDECREF(fps);
    return res;
}

/* delong_placements(score, y) -> (auc, v10 float64[m], v01 float64[n-m]) */
static PyObject *py_delong(PyObject *self, PyObject *args)
{
    PyObject *so, *yo;
    if (!PyArg_ParseTuple(args, "OO:stats_delong_placements", &so, &yo)) return NULL;
    PyArrayObject *s = vec(so, "y_score", NPY_FLOAT64), *y = s ? vec(yo, "y_true", NPY_UINT8) : NULL;
    PyObject *v10 = NULL, *v01 = NULL, *res = NULL;
    if (!y || !same_length(y, "y_true", s, "y_score")) goto done;
    npy_intp n = PyArray_DIM(s, 0), m = 0;
    const uint8_t *yy = PyArray_DATA(y);
    for (npy_intp i = 0; i < n; i++) m += yy[i] != 0;
    v10 = new_vec(m, NPY_FLOAT64);
    v01 = new_vec(n - m, NPY_FLOAT64);
    if (!v10 || !v01) goto done;
    double auc = NAN;
    sai_status rc;
    SAI_CALL(rc, sai_stats_delong_placements(PyArray_DATA(s), yy, (int64_t)n, &auc,
                                             PyArray_DATA((PyArrayObject *)v10),
                                             PyArray_DATA((PyArrayObject *)v01)));
    if (rc) {
        sai_py_raise(rc);
        goto done;
    }
    res = Py_BuildValue("(dOO)", auc, v10, v01);
done:
    Py_XDECREF(s);
    Py_XDECREF(y);
    Py_XDECREF(v10);
    Py_XDECREF(v01);
    return res;
}

/* boot_counts(unit_stratum int64[u], n_strata, n_boot, seed) -> int32[n_boot, u] */
static PyObject *py_boot_counts(PyObject *self, PyObject *args)
{
    PyObject *uo;
    long long n_strata, n_boot;
    unsigned long long seed;
    if (!PyArg_ParseTuple(args, "OLLK:stats_boot_counts", &uo, &n_strata, &n_boot, &seed)) return NULL;
    if (n_boot < 1) return PyErr_Format(PyExc_ValueError, "n_boot must be >= 1, got %lld", n_boot);
    PyArrayObject *us = vec(uo, "unit_stratum", NPY_INT64);
    if (!us) return NULL;
    npy_intp dims[2] = {(npy_intp)n_boot, PyArray_DIM(us, 0)};
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(2, dims, NPY_INT32);
    if (!out) {
        Py_DECREF(us);
        return NULL;
    }
    sai_status rc;
    SAI_CALL(rc, sai_stats_boot_counts(PyArray_DATA(us), (int64_t)dims[1], n_strata, n_boot,
                                       (uint64_t)seed, PyArray_DATA(out)));
    Py_DECREF(us);
    if (rc) {
        Py_DECREF(out);
        return sai_py_raise(rc);
    }
    return (PyObject *)out;
}

/* boot_auc(score, y, unit, unit_stratum, n_strata, n_boot, seed) -> float64[n_boot] */
static PyObject *py_boot_auc(PyObject *self, PyObject *args)
{
    PyObject *so, *yo, *uo, *uso;
    long long n_strata, n_boot;
    unsigned long long seed;
    if (!PyArg_ParseTuple(args, "OOOOLLK:stats_boot_auc", &so, &yo, &uo, &uso, &n_strata, &n_boot, &seed))
        return NULL;
    if (n_boot < 1) return PyErr_Format(PyExc_ValueError, "n_boot must be >= 1, got %lld", n_boot);
    PyArrayObject *s = vec(so, "y_score", NPY_FLOAT64), *y = s ? vec(yo, "y_true", NPY_UINT8) : NULL;
    PyArrayObject *u = y ? vec(uo, "unit", NPY_INT64) : NULL;
    PyArrayObject *us = u ? vec(uso, "unit_stratum", NPY_INT64) : NULL;
    PyObject *out = NULL;
    if (!us || !same_length(y, "y_true", s, "y_score") || !same_length(u, "unit", s, "y_score")) goto done;
    out = new_vec((npy_intp)n_boot, NPY_FLOAT64);
    if (!out) goto done;
    sai_status rc;
    SAI_CALL(rc, sai_stats_boot_auc(PyArray_DATA(s), PyArray_DATA(y), PyArray_DATA(u),
                                    (int64_t)PyArray_DIM(s, 0), PyArray_DATA(us), (int64_t)PyArray_DIM(us, 0),
                                    n_strata, n_boot, (uint64_t)seed, PyArray_DATA((PyArrayObject *)out)));
    if (rc) {
        Py_CLEAR(out);
        sai_py_raise(rc);
    }
done:
    Py_XDECREF(s);
    Py_XDECREF(y);
    Py_XDECREF(u);
    Py_XDECREF(us);
    return out;
}

PyMethodDef sai_py_stats_methods[] = {
    {"stats_argsort", py_argsort, METH_VARARGS, "stats_argsort(x) -> stable ascending order (int64)"},
    {"stats_roc_counts", py_roc_counts, METH_VARARGS,
     "stats_roc_counts(score, y) -> (thresholds, tps, fps, k): first k entries valid, highest score first"},
    {"stats_delong_placements", py_delong, METH_VARARGS,
     "stats_delong_placements(score, y) -> (auc, v10 per positive, v01 per negative)"},
    {"stats_boot_counts", py_boot_counts, METH_VARARGS,
     "stats_boot_counts(unit_stratum, n_strata, n_boot, seed) -> int32 draw counts (n_boot, n_units)"},
    {"stats_boot_auc", py_boot_auc, METH_VARARGS,
     "stats_boot_auc(score, y, unit, unit_stratum, n_strata, n_boot, seed) -> AUC per replicate"},
    {NULL, NULL, 0, NULL},
};

int sai_py_stats_init(PyObject *m) { return 0; }
