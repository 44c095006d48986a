/* py_io.c: wrappers of the NIfTI reader/writer, gunzip, byte swap and scaling. */
#include "py_util.h"
#include "sacroai/sai_io.h"

static PyObject *path_arg(PyObject *obj)
{
    PyObject *bytes = NULL;
    if (!PyUnicode_FSConverter(obj, &bytes)) return NULL;
    return bytes; /* new reference to a bytes object */
}

static PyObject *matrix44(double m[4][4])
{
    npy_intp dims[2] = {4, 4};
    PyArrayObject *a = (PyArrayObject *)PyArray_SimpleNew(2, dims, NPY_FLOAT64);
    if (a) memcpy(PyArray_DATA(a), m, 16 * sizeof(double));
    return (PyObject *)a;
}

static PyObject *doubles(const double *v, npy_intp n)
{
    PyArrayObject *a = (PyArrayObject *)PyArray_SimpleNew(1, &n, NPY_FLOAT64);
    if (a) memcpy(PyArray_DATA(a), v, (size_t)n * sizeof(double));
    return (PyObject *)a;
}

static int set_item(PyObject *d, const char *key, PyObject *v)
{
    if (!v) return -1;
    int r = PyDict_SetItemString(d, key, v);
    Py_DECREF(v);
    return r;
}

static PyObject *info_to_dict(const sai_nifti_info *in)
{
    PyObject *d = PyDict_New();
    if (!d) return NULL;
    PyObject *dims = PyTuple_New(in->ndim);
    if (!dims) goto fail;
    for (int i = 0; i < in->ndim; i++) PyTuple_SET_ITEM(dims, i, PyLong_FromLongLong(in->dim[i + 1]));
    PyObject *exts = PyList_New(in->n_ext);
    if (!exts) {
        Py_DECREF(dims);
        goto fail;
    }
    for (int i = 0; i < in->n_ext; i++)
        PyList_SET_ITEM(exts, i, Py_BuildValue("(iy#)", in->ext[i].code, in->ext[i].data,
                                               (Py_ssize_t)in->ext[i].size));
    double pix[8];
    memcpy(pix, in->pixdim, sizeof pix);
    if (set_item(d, "shape", dims) || set_item(d, "extensions", exts) ||
        set_item(d, "nifti_version", PyLong_FromLong(in->version)) ||
        set_item(d, "two_files", PyBool_FromLong(in->two_files)) ||
        set_item(d, "data_gz", PyBool_FromLong(in->data_gz)) ||
        set_item(d, "swapped", PyBool_FromLong(in->swapped)) ||
        set_item(d, "big_endian", PyBool_FromLong(in->big_endian)) ||
        set_item(d, "vox_offset", PyLong_FromLongLong(in->vox_offset)) ||
        set_item(d, "data_path", PyUnicode_DecodeFSDefault(in->data_path)) ||
        set_item(d, "magic", PyUnicode_FromString(in->magic)) ||
        set_item(d, "datatype", PyLong_FromLong(in->datatype)) ||
        set_item(d, "nbyper", PyLong_FromLong(in->nbyper)) ||
        set_item(d, "swapsize", PyLong_FromLong(in->swapsize)) ||
        set_item(d, "nbytes", PyLong_FromLongLong(in->nbytes)) ||
        set_item(d, "pixdim", doubles(pix, 8)) ||
        set_item(d, "scl_slope", PyFloat_FromDouble(in->scl_slope)) ||
        set_item(d, "scl_inter", PyFloat_FromDouble(in->scl_inter)) ||
        set_item(d, "cal_min", PyFloat_FromDouble(in->cal_min)) ||
        set_item(d, "cal_max", PyFloat_FromDouble(in->cal_max)) ||
        set_item(d, "qform_code", PyLong_FromLong(in->qform_code)) ||
        set_item(d, "sform_code", PyLong_FromLong(in->sform_code)) ||
        set_item(d, "qform", matrix44((double(*)[4])in->qto_xyz)) ||
        set_item(d, "sform", matrix44((double(*)[4])in->sto_xyz)) ||
        set_item(d, "quatern", doubles(in->quatern, 3)) ||
        set_item(d, "qoffset", doubles(in->qoffset, 3)) ||
        set_item(d, "qfac", PyFloat_FromDouble(in->qfac)) ||
        set_item(d, "xyz_units", PyLong_FromLong(in->xyz_units)) ||
        set_item(d, "time_units", PyLong_FromLong(in->time_units)) ||
        set_item(d, "toffset", PyFloat_FromDouble(in->toffset)) ||
        set_item(d, "freq_dim", PyLong_FromLong(in->freq_dim)) ||
        set_item(d, "phase_dim", PyLong_FromLong(in->phase_dim)) ||
        set_item(d, "slice_dim", PyLong_FromLong(in->slice_dim)) ||
        set_item(d, "slice_code", PyLong_FromLong(in->slice_code)) ||
        set_item(d, "slice_start", PyLong_FromLongLong(in->slice_start)) ||
        set_item(d, "slice_end", PyLong_FromLongLong(in->slice_end)) ||
        set_item(d, "slice_duration", PyFloat_FromDouble(in->slice_duration)) ||
        set_item(d, "intent_code", PyLong_FromLong(in->intent_code)) ||
        set_item(d, "intent_params", doubles(in->intent_p, 3)) ||
        set_item(d, "intent_name", PyUnicode_DecodeLatin1(in->intent_name, (Py_ssize_t)strlen(in->intent_name), "replace")) ||
        set_item(d, "descrip", PyUnicode_DecodeLatin1(in->descrip, (Py_ssize_t)strlen(in->descrip), "replace")) ||
        set_item(d, "aux_file", PyUnicode_DecodeLatin1(in->aux_file, (Py_ssize_t)strlen(in->aux_file), "replace")) ||
        set_item(d, "extensions_truncated", PyBool_FromLong(in->ext_truncated)))
        goto fail;
    return d;
fail:
    Py_DECREF(d);
    return NULL;
}

static PyObject *py_nifti_read_info(PyObject *self, PyObject *args)
{
    PyObject *pobj, *pbytes;
    if (!PyArg_ParseTuple(args, "O:nifti_read_info", &pobj)) return NULL;
    if (!(pbytes = path_arg(pobj))) return NULL;
    sai_nifti_info info;
    sai_status rc;
    const char *path = PyBytes_AS_STRING(pbytes);
    SAI_CALL(rc, sai_nifti_read_info(path, &info));
    Py_DECREF(pbytes);
    if (rc) return sai_py_raise(rc);
    PyObject *d = info_to_dict(&info);
    sai_nifti_info_free(&info);
    return d;
}

/* read_file_bytes(path, gz, offset, out): fill the writable uint8 array `out`.
 * gz: inflate the stream from its start; else read from byte `offset`. */
static PyObject *py_read_file_bytes(PyObject *self, PyObject *args)
{
    PyObject *pobj, *pbytes, *outobj;
    int gz;
    long long offset;
    if (!PyArg_ParseTuple(args, "OpLO:read_file_bytes", &pobj, &gz, &offset, &outobj)) return NULL;
    PyArrayObject *out = sai_py_array(outobj, "out", NPY_UINT8, 1, 1,
                                      NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_WRITEABLE, 0);
    if (!out) return NULL;
    if (!(pbytes = path_arg(pobj))) {
        Py_DECREF(out);
        return NULL;
    }
    sai_nifti_info info;
    memset(&info, 0, sizeof info);
    snprintf(info.data_path, sizeof info.data_path, "%s", PyBytes_AS_STRING(pbytes));
    Py_DECREF(pbytes);
    info.data_gz = gz;
    info.vox_offset = offset;
    int64_t size = (int64_t)PyArray_SIZE(out);
    info.nbytes = gz ? size - offset : size;
    sai_status rc;
    if (info.nbytes < 0) {
        Py_DECREF(out);
        return PyErr_Format(PyExc_ValueError, "out is smaller than offset");
    }
    SAI_CALL(rc, sai_nifti_read_data(&info, PyArray_DATA(out), size));
    Py_DECREF(out);
    if (rc) return sai_py_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *py_byteswap(PyObject *self, PyObject *args)
{
    PyObject *obj;
    int size;
    if (!PyArg_ParseTuple(args, "Oi:byteswap", &obj, &size)) return NULL;
    if (size != 2 && size != 4 && size != 8 && size != 16)
        return PyErr_Format(PyExc_ValueError, "swap size must be 2, 4, 8 or 16, got %d", size);
    PyArrayObject *a = sai_py_array(obj, "buffer", NPY_UINT8, 1, 1,
                                    NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_WRITEABLE, 0);
    if (!a) return NULL;
    int64_t n = (int64_t)PyArray_SIZE(a) / size;
    Py_BEGIN_ALLOW_THREADS
    sai_byteswap(PyArray_DATA(a), n, size);
    Py_END_ALLOW_THREADS
    Py_DECREF(a);
    Py_RETURN_NONE;
}

/* scale(src, slope, inter, out): out = src * slope + inter, both contiguous. */
static PyObject *py_scale(PyObject *self, PyObject *args)
{
    PyObject *sobj, *oobj;
    double slope, inter;
    if (!PyArg_ParseTuple(args, "OddO:scale", &sobj, &slope, &inter, &oobj)) return NULL;
    if (!PyArray_Check(sobj) || !PyArray_Check(oobj))
        return PyErr_Format(PyExc_TypeError, "src and out must be numpy arrays");
    PyArrayObject *src = (PyArrayObject *)sobj, *out = (PyArrayObject *)oobj;
    int st = sai_py_dtype(PyArray_TYPE(src)), dt = sai_py_dtype(PyArray_TYPE(out));
    if (st < 0 || !PyArray_ISNOTSWAPPED(src))
        return PyErr_Format(PyExc_TypeError, "src dtype %S cannot be scaled", (PyObject *)PyArray_DESCR(src));
    if (dt != SAI_DT_F32 && dt != SAI_DT_F64)
        return PyErr_Format(PyExc_TypeError, "out must be float32 or float64");
    if (!(PyArray_IS_C_CONTIGUOUS(src) || PyArray_IS_F_CONTIGUOUS(src)) ||
        PyArray_IS_C_CONTIGUOUS(src) != PyArray_IS_C_CONTIGUOUS(out) ||
        !PyArray_ISWRITEABLE(out) || PyArray_SIZE(src) != PyArray_SIZE(out))
        return PyErr_Format(PyExc_ValueError, "src and out must be contiguous in the same order "
                            "and the same size, out writeable");
    sai_status rc;
    SAI_CALL(rc, sai_scale(PyArray_DATA(src), (sai_dtype)st, (int64_t)PyArray_SIZE(src), slope,
                           inter, PyArray_DATA(out), (sai_dtype)dt));
    if (rc) return sai_py_raise(rc);
    Py_RETURN_NONE;
}

static int dict_to_info(PyObject *h, sai_nifti_info *in)
{
    memset(in, 0, sizeof *in);
    PyObject *shape = PyDict_GetItemString(h, "shape");
    if (!shape || !PyTuple_Check(shape)) {
        PyErr_SetString(PyExc_TypeError, "header 'shape' must be a tuple");
        return -1;
    }
    in->ndim = (int)PyTuple_GET_SIZE(shape);
    if (in->ndim < 1 || in->ndim > 7) {
        PyErr_Format(PyExc_ValueError, "NIfTI holds 1 to 7 dimensions, got %d", in->ndim);
        return -1;
    }
    in->dim[0] = in->ndim;
    int64_t nvox = 1;
    for (int i = 0; i < in->ndim; i++) {
        in->dim[i + 1] = PyLong_AsLongLong(PyTuple_GET_ITEM(shape, i));
        if (in->dim[i + 1] <= 0) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "every dimension must be >= 1");
            return -1;
        }
        nvox *= in->dim[i + 1];
    }
    for (int i = in->ndim + 1; i < 8; i++) in->dim[i] = 1;
    double q[16], s[16];
    if (sai_py_dict_int(h, "nifti_version", &in->version) || sai_py_dict_int(h, "datatype", &in->datatype) ||
        sai_py_dict_int(h, "nbyper", &in->nbyper) || sai_py_dict_doubles(h, "pixdim", in->pixdim, 8) ||
        sai_py_dict_double(h, "scl_slope", &in->scl_slope) || sai_py_dict_double(h, "scl_inter", &in->scl_inter) ||
        sai_py_dict_double(h, "cal_min", &in->cal_min) || sai_py_dict_double(h, "cal_max", &in->cal_max) ||
        sai_py_dict_int(h, "qform_code", &in->qform_code) || sai_py_dict_int(h, "sform_code", &in->sform_code) ||
        sai_py_dict_doubles(h, "qform", q, 16) || sai_py_dict_doubles(h, "sform", s, 16) ||
        sai_py_dict_int(h, "xyz_units", &in->xyz_units) || sai_py_dict_int(h, "time_units", &in->time_units) ||
        sai_py_dict_double(h, "toffset", &in->toffset) || sai_py_dict_int(h, "freq_dim", &in->freq_dim) ||
        sai_py_dict_int(h, "phase_dim", &in->phase_dim) || sai_py_dict_int(h, "slice_dim", &in->slice_dim) ||
        sai_py_dict_int(h, "slice_code", &in->slice_code) ||
        sai_py_dict_int64(h, "slice_start", &in->slice_start) ||
        sai_py_dict_int64(h, "slice_end", &in->slice_end) ||
        sai_py_dict_double(h, "slice_duration", &in->slice_duration) ||
        sai_py_dict_int(h, "intent_code", &in->intent_code) ||
        sai_py_dict_doubles(h, "intent_params", in->intent_p, 3) ||
        sai_py_dict_text(h, "intent_name", in->intent_name, 17) ||
        sai_py_dict_text(h, "descrip", in->descrip, 81) ||
        sai_py_dict_text(h, "aux_file", in->aux_file, 25))
        return -1;
    memcpy(in->qto_xyz, q, sizeof q);
    memcpy(in->sto_xyz, s, sizeof s);
    in->nvox = nvox;
    in->nbytes = nvox * in->nbyper;
    PyObject *exts = PyDict_GetItemString(h, "extensions");
    if (exts && exts != Py_None) {
        PyObject *seq = PySequence_Fast(exts, "header 'extensions' must be a list of (code, bytes)");
        if (!seq) return -1;
        Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
        in->ext = calloc((size_t)(n ? n : 1), sizeof *in->ext);
        if (!in->ext) {
            Py_DECREF(seq);
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            int code;
            const char *data;
            Py_ssize_t len;
            if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "iy#", &code, &data, &len)) {
                Py_DECREF(seq);
                return -1;
            }
            /* borrowed: the bytes live in the caller's dict for the call */
            in->ext[i].code = code;
            in->ext[i].size = (int32_t)len;
            in->ext[i].data = (char *)data;
            in->n_ext++;
        }
        Py_DECREF(seq);
    }
    return 0;
}

/* nifti_write(path, header, data, gzip_level): data is a contiguous array
 * whose bytes are the voxels in Fortran order, native byte order. */
static PyObject *py_nifti_write(PyObject *self, PyObject *args)
{
    PyObject *pobj, *h, *dobj, *pbytes;
    int level;
    if (!PyArg_ParseTuple(args, "OO!Oi:nifti_write", &pobj, &PyDict_Type, &h, &dobj, &level)) return NULL;
    sai_nifti_info info;
    if (dict_to_info(h, &info)) {
        free(info.ext);
        return NULL;
    }
    PyArrayObject *data = sai_py_array(dobj, "data", -1, 1, 1, NPY_ARRAY_C_CONTIGUOUS, 0);
    if (!data) {
        free(info.ext);
        return NULL;
    }
    if ((int64_t)PyArray_NBYTES(data) != info.nbytes) {
        free(info.ext);
        Py_DECREF(data);
        return PyErr_Format(PyExc_ValueError, "data holds %zd bytes, the header needs %lld",
                            (Py_ssize_t)PyArray_NBYTES(data), (long long)info.nbytes);
    }
    if (!(pbytes = path_arg(pobj))) {
        free(info.ext);
        Py_DECREF(data);
        return NULL;
    }
    sai_status rc;
    SAI_CALL(rc, sai_nifti_write(PyBytes_AS_STRING(pbytes), &info, PyArray_DATA(data), level));
    free(info.ext);
    Py_DECREF(data);
    Py_DECREF(pbytes);
    if (rc) return sai_py_raise(rc);
    Py_RETURN_NONE;
}

PyMethodDef sai_py_io_methods[] = {
    {"nifti_read_info", py_nifti_read_info, METH_VARARGS, "nifti_read_info(path) -> dict"},
    {"read_file_bytes", py_read_file_bytes, METH_VARARGS, "read_file_bytes(path, gz, offset, out)"},
    {"byteswap", py_byteswap, METH_VARARGS, "byteswap(uint8_buffer, size) in place"},
    {"scale", py_scale, METH_VARARGS, "scale(src, slope, inter, out)"},
    {"nifti_write", py_nifti_write, METH_VARARGS, "nifti_write(path, header, data, gzip_level)"},
    {NULL, NULL, 0, NULL},
};

int sai_py_io_init(PyObject *m) { return 0; }
