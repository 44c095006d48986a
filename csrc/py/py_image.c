/* py_image.c: Python wrappers of the image core (csrc/image/). */
#include "py_util.h"
#include "sacroai/sai_image.h"

/* An input volume as a C-contiguous array of 3 dimensions (the Python layer
 * adds a leading 1 for 2-D images); any supported dtype. */
static PyArrayObject *volume_arg(PyObject *obj, const char *name, sai_dtype *dt)
{
    PyArrayObject *a = sai_py_array(obj, name, -1, 3, 3, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED, 0);
    if (!a) return NULL;
    int t = sai_py_dtype(PyArray_TYPE(a));
    if (t < 0) {
        PyErr_Format(PyExc_TypeError, "%s has unsupported dtype %S", name, (PyObject *)PyArray_DESCR(a));
        Py_DECREF(a);
        return NULL;
    }
    *dt = (sai_dtype)t;
    return a;
}

static int out_arg(PyObject *obj, const char *name, int ndim, PyArrayObject **arr, sai_dtype *dt)
{
    if (!PyArray_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be a numpy.ndarray", name);
        return -1;
    }
    PyArrayObject *a = (PyArrayObject *)obj;
    if (PyArray_NDIM(a) != ndim || !PyArray_IS_C_CONTIGUOUS(a) || !PyArray_ISWRITEABLE(a) ||
        (PyArray_TYPE(a) != NPY_FLOAT32 && PyArray_TYPE(a) != NPY_FLOAT64)) {
        PyErr_Format(PyExc_ValueError, "%s must be a writeable C-contiguous float32/float64 array of %d dimensions",
                     name, ndim);
        return -1;
    }
    *arr = a;
    *dt = PyArray_TYPE(a) == NPY_FLOAT32 ? SAI_DT_F32 : SAI_DT_F64;
    return 0;
}

static PyObject *py_resample_separable(PyObject *self, PyObject *args)
{
    PyObject *in_obj, *out_obj;
    double sc[3], off[3], cval;
    int order[3], mode;
    if (!PyArg_ParseTuple(args, "OO(ddd)(ddd)(iii)id", &in_obj, &out_obj, &sc[0], &sc[1], &sc[2],
                          &off[0], &off[1], &off[2], &order[0], &order[1], &order[2], &mode, &cval))
        return NULL;
    sai_dtype dt, odt;
    PyArrayObject *out;
    if (out_arg(out_obj, "out", 3, &out, &odt)) return NULL;
    PyArrayObject *in = volume_arg(in_obj, "vol", &dt);
    if (!in) return NULL;
    int64_t n[3], m[3];
    for (int d = 0; d < 3; d++) {
        n[d] = PyArray_DIM(in, d);
        m[d] = PyArray_DIM(out, d);
    }
    sai_status rc;
    SAI_CALL(rc, sai_resample_separable(PyArray_DATA(in), dt, n, PyArray_DATA(out), odt, m, sc, off,
                                        order, mode, cval));
    Py_DECREF(in);
    if (rc) return sai_py_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *py_spline_coefficients(PyObject *self, PyObject *args)
{
    PyObject *in_obj, *out_obj;
    if (!PyArg_ParseTuple(args, "OO", &in_obj, &out_obj)) return NULL;
    sai_dtype dt, odt;
    PyArrayObject *out;
    if (out_arg(out_obj, "out", 3, &out, &odt)) return NULL;
    if (odt != SAI_DT_F32) {
        PyErr_SetString(PyExc_TypeError, "out must be float32");
        return NULL;
    }
    PyArrayObject *in = volume_arg(in_obj, "vol", &dt);
    if (!in) return NULL;
    int64_t n[3];
    for (int d = 0; d < 3; d++) {
        n[d] = PyArray_DIM(in, d);
        int64_t want = n[d] + (n[d] > 1 ? 2 * SAI_SPLINE_PAD : 0);
        if (PyArray_DIM(out, d) != want) {
            Py_DECREF(in);
            PyErr_Format(PyExc_ValueError, "out axis %d must have %lld voxels", d, (long long)want);
            return NULL;
        }
    }
    sai_status rc;
    SAI_CALL(rc, sai_spline_coefficients(PyArray_DATA(in), dt, n, (float *)PyArray_DATA(out)));
    Py_DECREF(in);
    if (rc) return sai_py_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *py_resample_gather(PyObject *self, PyObject *args)
{
    PyObject *src_obj, *out_obj, *mat_obj;
    int order, mode;
    double cval;
    long long n[3];
    if (!PyArg_ParseTuple(args, "O(LLL)OOiid", &src_obj, &n[0], &n[1], &n[2], &out_obj, &mat_obj,
                          &order, &mode, &cval))
        return NULL;
    sai_dtype odt;
    PyArrayObject *out;
    if (out_arg(out_obj, "out", 3, &out, &odt)) return NULL;
    PyArrayObject *src = sai_py_array(src_obj, "vol", NPY_FLOAT32, 3, 3,
                                      NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED, 0);
    if (!src) return NULL;
    PyArrayObject *mat = sai_py_array(mat_obj, "matrix", NPY_FLOAT64, 2, 2,
                                      NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED, 1);
    if (!mat) {
        Py_DECREF(src);
        return NULL;
    }
    if (PyArray_DIM(mat, 0) != 3 || PyArray_DIM(mat, 1) != 4) {
        Py_DECREF(src);
        Py_DECREF(mat);
        PyErr_SetString(PyExc_ValueError, "matrix must be 3x4");
        return NULL;
    }
    int64_t nn[3] = {n[0], n[1], n[2]}, m[3];
    for (int d = 0; d < 3; d++) {
        m[d] = PyArray_DIM(out, d);
        int64_t want = nn[d] + ((order == 3 && nn[d] > 1) ? 2 * SAI_SPLINE_PAD : 0);
        if (PyArray_DIM(src, d) != want) {
            Py_DECREF(src);
            Py_DECREF(mat);
            PyErr_Format(PyExc_ValueError, "vol axis %d must have %lld voxels", d, (long long)want);
            return NULL;
        }
    }
    sai_status rc;
    SAI_CALL(rc, sai_resample_gather((const float *)PyArray_DATA(src), nn, PyArray_DATA(out), odt, m,
                                     (const double *)PyArray_DATA(mat), order, mode, cval));
    Py_DECREF(src);
    Py_DECREF(mat);
    if (rc) return sai_py_raise(rc);
    Py_RETURN_NONE;
}


/* Any-shape contiguous input (flattened view) of a supported dtype. */
static PyArrayObject *flat_arg(PyObject *obj, const char *name, sai_dtype *dt)
{
    PyArrayObject *a = sai_py_array(obj, name, -1, 0, NPY_MAXDIMS, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED, 0);
    if (!a) return NULL;
    int t = sai_py_dtype(PyArray_TYPE(a));
    if (t < 0) {
        PyErr_Format(PyExc_TypeError, "%s has unsupported dtype %S", name, (PyObject *)PyArray_DESCR(a));
        Py_DECREF(a);
        return NULL;
    }
    *dt = (sai_dtype)t;
    return a;
}

static PyObject *py_intensity_stats(PyObject *self, PyObject *args)
{
    PyObject *in_obj, *mask_obj, *q_obj;
    int nonzero, clip_lo, clip_hi;
    if (!PyArg_ParseTuple(args, "OOpOii", &in_obj, &mask_obj, &nonzero, &q_obj, &clip_lo, &clip_hi))
        return NULL;
    sai_dtype dt;
    PyArrayObject *in = flat_arg(in_obj, "vol", &dt);
    if (!in) return NULL;
    PyArrayObject *mask = NULL, *q = NULL;
    if (mask_obj != Py_None) {
        mask = sai_py_array(mask_obj, "mask", NPY_UINT8, 0, NPY_MAXDIMS, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED, 0);
        if (!mask) goto fail;
        if (PyArray_SIZE(mask) != PyArray_SIZE(in)) {
            PyErr_SetString(PyExc_ValueError, "mask must have as many voxels as vol");
            goto fail;
        }
    }
    q = sai_py_array(q_obj, "q", NPY_FLOAT64, 1, 1, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED, 1);
    if (!q) goto fail;
    int nq = (int)PyArray_DIM(q, 0);
    double qv[64];
    if (nq > 64) {
        PyErr_SetString(PyExc_ValueError, "at most 64 percentiles at once");
        goto fail;
    }
    double mean, sd, mn, mx;
    int64_t n;
    sai_status rc;
    SAI_CALL(rc, sai_intensity_stats(PyArray_DATA(in), dt, PyArray_SIZE(in),
                                     mask ? (const uint8_t *)PyArray_DATA(mask) : NULL, nonzero,
                                     (const double *)PyArray_DATA(q), nq, qv, clip_lo, clip_hi, &mean,
                                     &sd, &n, &mn, &mx));
    Py_DECREF(in);
    Py_XDECREF(mask);
    Py_DECREF(q);
    if (rc) return sai_py_raise(rc);
    PyObject *ql = PyList_New(nq);
    if (!ql) return NULL;
    for (int i = 0; i < nq; i++) PyList_SET_ITEM(ql, i, PyFloat_FromDouble(qv[i]));
    return Py_BuildValue("NddLdd", ql, mean, sd, (long long)n, mn, mx);
fail:
    Py_DECREF(in);
    Py_XDECREF(mask);
    Py_XDECREF(q);
    return NULL;
}

static PyObject *py_affine_clip(PyObject *self, PyObject *args)
{
    PyObject *in_obj, *out_obj;
    double lo, hi, shift, scale;
    if (!PyArg_ParseTuple(args, "OOdddd", &in_obj, &out_obj, &lo, &hi, &shift, &scale)) return NULL;
    sai_dtype dt, odt;
    PyArrayObject *out;
    if (!PyArray_Check(out_obj)) return PyErr_Format(PyExc_TypeError, "out must be an ndarray");
    if (out_arg(out_obj, "out", PyArray_NDIM((PyArrayObject *)out_obj), &out, &odt)) return NULL;
    PyArrayObject *in = flat_arg(in_obj, "vol", &dt);
    if (!in) return NULL;
    if (PyArray_SIZE(in) != PyArray_SIZE(out)) {
        Py_DECREF(in);
        return PyErr_Format(PyExc_ValueError, "out must have as many elements as vol");
    }
    sai_status rc;
    SAI_CALL(rc, sai_affine_clip(PyArray_DATA(in), dt, PyArray_SIZE(in), PyArray_DATA(out), odt, lo, hi,
                                 shift, scale));
    Py_DECREF(in);
    if (rc) return sai_py_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *py_piecewise_linear(PyObject *self, PyObject *args)
{
    PyObject *in_obj, *out_obj, *xp_obj, *fp_obj;
    if (!PyArg_ParseTuple(args, "OOOO", &in_obj, &out_obj, &xp_obj, &fp_obj)) return NULL;
    sai_dtype dt, odt;
    PyArrayObject *out;
    if (!PyArray_Check(out_obj)) return PyErr_Format(PyExc_TypeError, "out must be an ndarray");
    if (out_arg(out_obj, "out", PyArray_NDIM((PyArrayObject *)out_obj), &out, &odt)) return NULL;
    PyArrayObject *in = flat_arg(in_obj, "vol", &dt);
    if (!in) return NULL;
    PyArrayObject *xp = sai_py_array(xp_obj, "landmarks", NPY_FLOAT64, 1, 1, NPY_ARRAY_CARRAY_RO, 1);
    PyArrayObject *fp = xp ? sai_py_array(fp_obj, "standard", NPY_FLOAT64, 1, 1, NPY_ARRAY_CARRAY_RO, 1) : NULL;
    sai_status rc = SAI_OK;
    if (!xp || !fp) goto fail;
    if (PyArray_SIZE(in) != PyArray_SIZE(out) || PyArray_DIM(xp, 0) != PyArray_DIM(fp, 0)) {
        PyErr_SetString(PyExc_ValueError, "sizes of vol/out or landmarks/standard differ");
        goto fail;
    }
    SAI_CALL(rc, sai_piecewise_linear(PyArray_DATA(in), dt, PyArray_SIZE(in), PyArray_DATA(out), odt,
                                      (const double *)PyArray_DATA(xp), (const double *)PyArray_DATA(fp),
                                      (int)PyArray_DIM(xp, 0)));
    Py_DECREF(in);
    Py_DECREF(xp);
    Py_DECREF(fp);
    if (rc) return sai_py_raise(rc);
    Py_RETURN_NONE;
fail:
    Py_DECREF(in);
    Py_XDECREF(xp);
    Py_XDECREF(fp);
    return NULL;
}


static PyArrayObject *f32_volume(PyObject *obj, const char *name)
{
    return sai_py_array(obj, name, NPY_FLOAT32, 3, 3, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED, 0);
}

static int same_shape3(PyArrayObject *a, PyArrayObject *b, const char *name)
{
    for (int d = 0; d < 3; d++)
        if (PyArray_DIM(a, d) != PyArray_DIM(b, d)) {
            PyErr_Format(PyExc_ValueError, "%s must have the input's shape", name);
            return -1;
        }
    return 0;
}

static PyObject *py_gaussian(PyObject *self, PyObject *args)
{
    PyObject *in_obj, *out_obj;
    double sg[3], trunc;
    if (!PyArg_ParseTuple(args, "OO(ddd)d", &in_obj, &out_obj, &sg[0], &sg[1], &sg[2], &trunc)) return NULL;
    PyArrayObject *out;
    sai_dtype odt;
    if (out_arg(out_obj, "out", 3, &out, &odt)) return NULL;
    PyArrayObject *in = f32_volume(in_obj, "vol");
    if (!in) return NULL;
    if (odt != SAI_DT_F32 || same_shape3(in, out, "out")) {
        Py_DECREF(in);
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "out must be float32");
        return NULL;
    }
    int64_t n[3] = {PyArray_DIM(in, 0), PyArray_DIM(in, 1), PyArray_DIM(in, 2)};
    sai_status rc;
    SAI_CALL(rc, sai_gaussian_filter((const float *)PyArray_DATA(in), n, (float *)PyArray_DATA(out), sg, trunc));
    Py_DECREF(in);
    if (rc) return sai_py_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *py_gradient(PyObject *self, PyObject *args)
{
    PyObject *in_obj, *out_obj;
    int axis;
    double h;
    if (!PyArg_ParseTuple(args, "OOid", &in_obj, &out_obj, &axis, &h)) return NULL;
    PyArrayObject *out;
    sai_dtype odt;
    if (out_arg(out_obj, "out", 3, &out, &odt)) return NULL;
    PyArrayObject *in = f32_volume(in_obj, "vol");
    if (!in) return NULL;
    if (odt != SAI_DT_F32 || same_shape3(in, out, "out")) {
        Py_DECREF(in);
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "out must be float32");
        return NULL;
    }
    int64_t n[3] = {PyArray_DIM(in, 0), PyArray_DIM(in, 1), PyArray_DIM(in, 2)};
    sai_status rc;
    SAI_CALL(rc, sai_gradient((const float *)PyArray_DATA(in), n, axis, h, (float *)PyArray_DATA(out)));
    Py_DECREF(in);
    if (rc) return sai_py_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *py_hessian_eig(PyObject *self, PyObject *args)
{
    PyObject *grads_obj, *eig_obj, *sp_obj;
    double scale2;
    if (!PyArg_ParseTuple(args, "OOOd", &grads_obj, &sp_obj, &eig_obj, &scale2)) return NULL;
    if (!PyTuple_Check(grads_obj) || (PyTuple_GET_SIZE(grads_obj) != 2 && PyTuple_GET_SIZE(grads_obj) != 3))
        return PyErr_Format(PyExc_TypeError, "grads must be a tuple of 2 or 3 arrays");
    int ndim = (int)PyTuple_GET_SIZE(grads_obj);
    PyArrayObject *g[3] = {NULL, NULL, NULL}, *sp = NULL, *eig = NULL;
    const float *gp[3];
    PyObject *res = NULL;
    for (int a = 0; a < ndim; a++) {
        g[a] = f32_volume(PyTuple_GET_ITEM(grads_obj, a), "grads");
        if (!g[a] || (a && same_shape3(g[0], g[a], "grads"))) goto done;
        gp[a] = (const float *)PyArray_DATA(g[a]);
    }
    sp = sai_py_array(sp_obj, "spacing", NPY_FLOAT64, 1, 1, NPY_ARRAY_CARRAY_RO, 1);
    if (!sp) goto done;
    if (PyArray_DIM(sp, 0) != ndim) {
        PyErr_SetString(PyExc_ValueError, "spacing must have one value per derivative");
        goto done;
    }
    eig = sai_py_array(eig_obj, "eig", NPY_FLOAT32, 4, 4, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_WRITEABLE, 0);
    if (!eig) goto done;
    int64_t n[3] = {PyArray_DIM(g[0], 0), PyArray_DIM(g[0], 1), PyArray_DIM(g[0], 2)};
    if (PyArray_DIM(eig, 0) != n[0] || PyArray_DIM(eig, 1) != n[1] || PyArray_DIM(eig, 2) != n[2] ||
        PyArray_DIM(eig, 3) != ndim) {
        PyErr_SetString(PyExc_ValueError, "eig must have shape grads.shape + (ndim,)");
        goto done;
    }
    double mx = 0;
    sai_status rc;
    SAI_CALL(rc, sai_hessian_eigenvalues(gp, n, (const double *)PyArray_DATA(sp), ndim, scale2,
                                         (float *)PyArray_DATA(eig), &mx));
    if (rc) {
        sai_py_raise(rc);
        goto done;
    }
    res = PyFloat_FromDouble(mx);
done:
    for (int a = 0; a < 3; a++) Py_XDECREF(g[a]);
    Py_XDECREF(sp);
    Py_XDECREF(eig);
    return res;
}

static PyObject *py_frangi_response(PyObject *self, PyObject *args)
{
    PyObject *eig_obj, *out_obj;
    double alpha, beta, c;
    int black;
    if (!PyArg_ParseTuple(args, "OOdddp", &eig_obj, &out_obj, &alpha, &beta, &c, &black)) return NULL;
    PyArrayObject *eig = sai_py_array(eig_obj, "eig", NPY_FLOAT32, 2, NPY_MAXDIMS, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED, 0);
    if (!eig) return NULL;
    PyArrayObject *out = sai_py_array(out_obj, "out", NPY_FLOAT32, 1, NPY_MAXDIMS, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_WRITEABLE, 0);
    if (!out) {
        Py_DECREF(eig);
        return NULL;
    }
    int ndim = (int)PyArray_DIM(eig, PyArray_NDIM(eig) - 1);
    if (PyArray_SIZE(out) * ndim != PyArray_SIZE(eig)) {
        Py_DECREF(eig);
        Py_DECREF(out);
        return PyErr_Format(PyExc_ValueError, "out must have one value per eigenvalue tuple");
    }
    sai_status rc;
    SAI_CALL(rc, sai_frangi_response((const float *)PyArray_DATA(eig), PyArray_SIZE(out), ndim, alpha, beta, c,
                                     black, (float *)PyArray_DATA(out)));
    Py_DECREF(eig);
    Py_DECREF(out);
    if (rc) return sai_py_raise(rc);
    Py_RETURN_NONE;
}


static void capsule_free(PyObject *cap)
{
    sai_free(PyCapsule_GetPointer(cap, "sacroai.image.buffer"));
}

/* image_empty(shape, dtype, fortran) -> uninitialised ndarray in core memory
 * (64-byte aligned, huge-page advised: big outputs fault in ~30x faster). */
static PyObject *py_empty(PyObject *self, PyObject *args)
{
    PyObject *shape_obj, *dtype_obj;
    int fortran = 0;
    if (!PyArg_ParseTuple(args, "OO|p", &shape_obj, &dtype_obj, &fortran)) return NULL;
    PyArray_Dims dims = {NULL, 0};
    if (!PyArray_IntpConverter(shape_obj, &dims)) return NULL;
    PyArray_Descr *descr = NULL;
    if (!PyArray_DescrConverter(dtype_obj, &descr)) {
        PyDimMem_FREE(dims.ptr);
        return NULL;
    }
    size_t nbytes = (size_t)PyDataType_ELSIZE(descr);
    for (int i = 0; i < dims.len; i++) {
        if (dims.ptr[i] < 0 || !sai_mul_size(nbytes, (size_t)dims.ptr[i], &nbytes)) {
            PyDimMem_FREE(dims.ptr);
            Py_DECREF(descr);
            return PyErr_Format(PyExc_ValueError, "shape is negative or too large");
        }
    }
    void *buf = sai_alloc(nbytes ? nbytes : 1);
    if (!buf) {
        PyDimMem_FREE(dims.ptr);
        Py_DECREF(descr);
        return sai_py_raise(SAI_ENOMEM);
    }
    PyObject *arr = PyArray_NewFromDescr(&PyArray_Type, descr, dims.len, dims.ptr, NULL, buf,
                                         NPY_ARRAY_WRITEABLE | NPY_ARRAY_ALIGNED |
                                             (fortran ? NPY_ARRAY_F_CONTIGUOUS : NPY_ARRAY_C_CONTIGUOUS),
                                         NULL);
    PyDimMem_FREE(dims.ptr);
    if (!arr) {
        sai_free(buf);
        return NULL;
    }
    PyObject *cap = PyCapsule_New(buf, "sacroai.image.buffer", capsule_free);
    if (!cap) {
        Py_DECREF(arr);
        sai_free(buf);
        return NULL;
    }
    if (PyArray_SetBaseObject((PyArrayObject *)arr, cap) < 0) {
        Py_DECREF(arr);
        return NULL;
    }
    return arr;
}

PyMethodDef sai_py_image_methods[] = {
    {"image_empty", py_empty, METH_VARARGS,
     "image_empty(shape, dtype, fortran=False) -> uninitialised array in aligned, huge-page advised memory"},
    {"image_gaussian", py_gaussian, METH_VARARGS, "image_gaussian(vol_f32, out, sigma_vox3, truncate)"},
    {"image_gradient", py_gradient, METH_VARARGS, "image_gradient(vol_f32, out, axis, spacing)"},
    {"image_hessian_eigenvalues", py_hessian_eig, METH_VARARGS,
     "image_hessian_eigenvalues(grads_tuple, spacing, eig_out, scale2) -> max Frobenius norm"},
    {"image_frangi_response", py_frangi_response, METH_VARARGS,
     "image_frangi_response(eig, out, alpha, beta, c, black_ridges)"},
    {"image_intensity_stats", py_intensity_stats, METH_VARARGS,
     "image_intensity_stats(vol, mask_u8_or_None, nonzero, q, clip_lo, clip_hi) -> (qvals, mean, std, n, min, max)"},
    {"image_affine_clip", py_affine_clip, METH_VARARGS, "image_affine_clip(vol, out, lo, hi, shift, scale)"},
    {"image_piecewise_linear", py_piecewise_linear, METH_VARARGS,
     "image_piecewise_linear(vol, out, landmarks, standard)"},
    {"image_resample_separable", py_resample_separable, METH_VARARGS,
     "image_resample_separable(vol, out, scale, offset, orders, mode, cval)"},
    {"image_spline_coefficients", py_spline_coefficients, METH_VARARGS,
     "image_spline_coefficients(vol, out)"},
    {"image_resample_gather", py_resample_gather, METH_VARARGS,
     "image_resample_gather(src, n, out, matrix3x4, order, mode, cval)"},
    {NULL, NULL, 0, NULL},
};

int sai_py_image_init(PyObject *m) { return 0; }
