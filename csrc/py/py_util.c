/* py_util.c: status -> exception mapping, array and dict helpers. */
#include "py_util.h"

PyObject *sai_py_SacroaiError;
PyObject *sai_py_FileFormatError;
PyObject *sai_py_NumericalError;

PyObject *sai_py_raise(sai_status status)
{
    const char *msg = sai_error_message();
    if (!msg || !*msg) msg = "sacroai core error";
    PyObject *type;
    switch (status) {
    case SAI_EINVAL: type = PyExc_ValueError; break;
    case SAI_ETYPE: type = PyExc_TypeError; break;
    case SAI_ENOMEM: type = PyExc_MemoryError; break;
    case SAI_EIO: type = PyExc_OSError; break;
    case SAI_ENOENT: type = PyExc_FileNotFoundError; break;
    case SAI_EFORMAT: type = sai_py_FileFormatError; break;
    case SAI_ENUMERIC: type = sai_py_NumericalError; break;
    default: type = PyExc_RuntimeError; break;
    }
    PyErr_SetString(type, msg);
    sai_error_clear();
    return NULL;
}

int sai_py_dtype(int typenum)
{
    switch (typenum) {
    case NPY_UINT8: return SAI_DT_U8;
    case NPY_INT8: return SAI_DT_I8;
    case NPY_UINT16: return SAI_DT_U16;
    case NPY_INT16: return SAI_DT_I16;
    case NPY_UINT32: return SAI_DT_U32;
    case NPY_INT32: return SAI_DT_I32;
    case NPY_UINT64: return SAI_DT_U64;
    case NPY_INT64: return SAI_DT_I64;
    case NPY_FLOAT32: return SAI_DT_F32;
    case NPY_FLOAT64: return SAI_DT_F64;
    default: break;
    }
    /* long / longlong aliases */
    if (typenum == NPY_LONG) return sizeof(long) == 8 ? SAI_DT_I64 : SAI_DT_I32;
    if (typenum == NPY_ULONG) return sizeof(long) == 8 ? SAI_DT_U64 : SAI_DT_U32;
    if (typenum == NPY_LONGLONG) return SAI_DT_I64;
    if (typenum == NPY_ULONGLONG) return SAI_DT_U64;
    return -1;
}

PyArrayObject *sai_py_array(PyObject *obj, const char *argname, int typenum, int ndim_min,
                            int ndim_max, int flags, int allow_cast)
{
    if (!PyArray_Check(obj) && !allow_cast) {
        PyErr_Format(PyExc_TypeError, "%s must be a numpy.ndarray, not %s", argname,
                     Py_TYPE(obj)->tp_name);
        return NULL;
    }
    if (typenum >= 0 && PyArray_Check(obj) && !allow_cast &&
        !PyArray_EquivTypenums(PyArray_TYPE((PyArrayObject *)obj), typenum)) {
        PyArray_Descr *want = PyArray_DescrFromType(typenum);
        PyErr_Format(PyExc_TypeError, "%s must have dtype %S, not %S", argname, (PyObject *)want,
                     (PyObject *)PyArray_DESCR((PyArrayObject *)obj));
        Py_XDECREF(want);
        return NULL;
    }
    PyArray_Descr *descr = typenum >= 0 ? PyArray_DescrFromType(typenum) : NULL;
    PyArrayObject *arr = (PyArrayObject *)PyArray_FromAny(obj, descr, 0, 0, flags, NULL);
    if (!arr) return NULL;
    int nd = PyArray_NDIM(arr);
    if (nd < ndim_min || nd > ndim_max) {
        if (ndim_min == ndim_max)
            PyErr_Format(PyExc_ValueError, "%s must have %d dimensions, got %d", argname, ndim_min, nd);
        else
            PyErr_Format(PyExc_ValueError, "%s must have %d to %d dimensions, got %d", argname,
                         ndim_min, ndim_max, nd);
        Py_DECREF(arr);
        return NULL;
    }
    return arr;
}

static PyObject *dict_item(PyObject *d, const char *key)
{
    PyObject *v = PyDict_GetItemString(d, key); /* borrowed */
    if (!v && !PyErr_Occurred()) PyErr_Format(PyExc_KeyError, "header field '%s' is missing", key);
    return v;
}

int sai_py_dict_double(PyObject *d, const char *key, double *out)
{
    PyObject *v = dict_item(d, key);
    if (!v) return -1;
    *out = PyFloat_AsDouble(v);
    if (*out == -1.0 && PyErr_Occurred()) {
        PyErr_Format(PyExc_TypeError, "header field '%s' must be a number", key);
        return -1;
    }
    return 0;
}

int sai_py_dict_int64(PyObject *d, const char *key, int64_t *out)
{
    PyObject *v = dict_item(d, key);
    if (!v) return -1;
    long long x = PyLong_AsLongLong(v);
    if (x == -1 && PyErr_Occurred()) {
        PyErr_Format(PyExc_TypeError, "header field '%s' must be an integer", key);
        return -1;
    }
    *out = x;
    return 0;
}

int sai_py_dict_int(PyObject *d, const char *key, int *out)
{
    int64_t x;
    if (sai_py_dict_int64(d, key, &x)) return -1;
    if (x < INT32_MIN || x > INT32_MAX) {
        PyErr_Format(PyExc_ValueError, "header field '%s' is out of range", key);
        return -1;
    }
    *out = (int)x;
    return 0;
}

int sai_py_dict_text(PyObject *d, const char *key, char *out, size_t cap)
{
    PyObject *v = dict_item(d, key);
    if (!v) return -1;
    const char *s;
    Py_ssize_t n;
    if (PyBytes_Check(v)) {
        s = PyBytes_AS_STRING(v);
        n = PyBytes_GET_SIZE(v);
    } else if (PyUnicode_Check(v)) {
        s = PyUnicode_AsUTF8AndSize(v, &n);
        if (!s) return -1;
    } else {
        PyErr_Format(PyExc_TypeError, "header field '%s' must be text", key);
        return -1;
    }
    if ((size_t)n >= cap) {
        PyErr_Format(PyExc_ValueError, "header field '%s' holds at most %zu bytes, got %zd", key,
                     cap - 1, n);
        return -1;
    }
    memset(out, 0, cap);
    memcpy(out, s, (size_t)n);
    return 0;
}

int sai_py_dict_doubles(PyObject *d, const char *key, double *out, Py_ssize_t n)
{
    PyObject *v = dict_item(d, key);
    if (!v) return -1;
    PyArrayObject *a = (PyArrayObject *)PyArray_FROMANY(v, NPY_FLOAT64, 0, 2, NPY_ARRAY_CARRAY_RO);
    if (!a) return -1;
    if (PyArray_SIZE(a) != n) {
        PyErr_Format(PyExc_ValueError, "header field '%s' must hold %zd numbers, got %zd", key, n,
                     (Py_ssize_t)PyArray_SIZE(a));
        Py_DECREF(a);
        return -1;
    }
    memcpy(out, PyArray_DATA(a), (size_t)n * sizeof(double));
    Py_DECREF(a);
    return 0;
}
