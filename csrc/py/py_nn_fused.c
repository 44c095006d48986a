/* py_nn_fused.c: Python wrappers of the fused batch norm + residual + ReLU
 * kernels (csrc/nn/bn_act.c) and of an uninitialised float32 array from the
 * nn output-block cache.  Registered from py_nn.c.
 *
 * The batch norm functions take x of shape [n, c_total, *spatial]
 * (C-contiguous) and a channel count c <= c_total: only channels [0, c) are
 * used, so a dense block's feature buffer is normalized without a copy.
 */
#include "py_nn_util.h"
#include "sacroai/sai_nn_bn_act.h"

static PyArrayObject *opt_f32(PyObject *o, const char *name, int *ok)
{
    if (o == Py_None) return NULL;
    PyArrayObject *a = in_f32(o, name, 1, 1);
    if (!a) *ok = 0;
    return a;
}

static int64_t spatial_size(PyArrayObject *a)
{
    int64_t t = 1;
    for (int i = 2; i < PyArray_NDIM(a); i++) t *= PyArray_DIM(a, i);
    return t;
}

static int check_c(PyArrayObject *x, int c)
{
    if (c < 1 || c > PyArray_DIM(x, 1)) {
        PyErr_Format(PyExc_ValueError, "channels must be in [1, %zd], got %d", (Py_ssize_t)PyArray_DIM(x, 1), c);
        return 0;
    }
    return 1;
}

/* A [n, c, *spatial of x] shape. */
static void out_dims(PyArrayObject *x, int c, npy_intp *dims)
{
    for (int i = 0; i < PyArray_NDIM(x); i++) dims[i] = PyArray_DIM(x, i);
    dims[1] = c;
}

/* dy (or dx_into) must be [n, k, *spatial of x] with k == c (or >= c). */
static int matches(PyArrayObject *x, PyArrayObject *a, int c, int at_least, const char *what)
{
    int ok = PyArray_NDIM(a) == PyArray_NDIM(x) && PyArray_DIM(a, 0) == PyArray_DIM(x, 0);
    for (int i = 2; ok && i < PyArray_NDIM(x); i++) ok = PyArray_DIM(a, i) == PyArray_DIM(x, i);
    if (ok) ok = at_least ? PyArray_DIM(a, 1) >= c : PyArray_DIM(a, 1) == c;
    if (!ok) PyErr_Format(PyExc_ValueError, "%s must have the batch and spatial sizes of the input and %s%d channels",
                          what, at_least ? "at least " : "", c);
    return ok;
}

/* bn_stats_range(x, c, c_lo=0) -> (mean[c - c_lo], var[c - c_lo]) over channels [c_lo, c) */
static PyObject *py_bn_stats_range(PyObject *self, PyObject *args)
{
    PyObject *xo;
    int c, c_lo = 0;
    if (!PyArg_ParseTuple(args, "Oi|i", &xo, &c, &c_lo)) return NULL;
    PyArrayObject *x = in_f32(xo, "input", 3, 32), *m = NULL, *v = NULL;
    PyObject *res = NULL;
    if (!x) return NULL;
    if (!check_c(x, c)) goto done;
    if (c_lo < 0 || c_lo >= c) {
        PyErr_Format(PyExc_ValueError, "c_lo must be in [0, %d), got %d", c, c_lo);
        goto done;
    }
    npy_intp k = c - c_lo;
    if (!(m = sai_py_nn_new_f32(1, &k)) || !(v = sai_py_nn_new_f32(1, &k))) goto done;
    sai_status rc;
    const int64_t s = spatial_size(x);
    SAI_CALL(rc, sai_bn_stats_range(CF32(x) + (int64_t)c_lo * s, (int)PyArray_DIM(x, 0), c - c_lo,
                                    (int)PyArray_DIM(x, 1), s, F32(m), F32(v)));
    if (rc) {
        sai_py_raise(rc);
        goto done;
    }
    res = Py_BuildValue("(OO)", m, v);
done:
    Py_XDECREF(x);
    Py_XDECREF(m);
    Py_XDECREF(v);
    return res;
}

/* bn_act_forward(x, c, mean, invstd, gamma|None, beta|None, residual|None, relu) -> y[n, c, ...] */
static PyObject *py_bn_act_forward(PyObject *self, PyObject *args)
{
    PyObject *xo, *mo, *io, *go, *bo, *ro;
    int c, relu;
    if (!PyArg_ParseTuple(args, "OiOOOOOp", &xo, &c, &mo, &io, &go, &bo, &ro, &relu)) return NULL;
    PyArrayObject *x = NULL, *m = NULL, *is = NULL, *ga = NULL, *be = NULL, *re = NULL, *y = NULL;
    PyObject *res = NULL;
    int ok = 1;
    if (!(x = in_f32(xo, "input", 3, 32)) || !(m = in_f32(mo, "mean", 1, 1)) || !(is = in_f32(io, "invstd", 1, 1)))
        goto done;
    ga = opt_f32(go, "weight", &ok);
    if (ok) be = opt_f32(bo, "bias", &ok);
    if (!ok || !check_c(x, c)) goto done;
    if (!len_is(m, c, "mean") || !len_is(is, c, "invstd") || !len_is(ga, c, "weight") || !len_is(be, c, "bias"))
        goto done;
    if (ro != Py_None) {
        if (!(re = in_f32(ro, "residual", 3, 32)) || !matches(x, re, c, 0, "residual")) goto done;
    }
    npy_intp dims[32];
    out_dims(x, c, dims);
    if (!(y = sai_py_nn_new_f32(PyArray_NDIM(x), dims))) goto done;
    sai_status rc;
    SAI_CALL(rc, sai_bn_act_forward(CF32(x), (int)PyArray_DIM(x, 0), c, (int)PyArray_DIM(x, 1), spatial_size(x),
                                    CF32(m), CF32(is), ga ? CF32(ga) : NULL, be ? CF32(be) : NULL,
                                    re ? CF32(re) : NULL, relu, F32(y)));
    if (rc) {
        sai_py_raise(rc);
        goto done;
    }
    res = (PyObject *)y;
    y = NULL;
done:
    Py_XDECREF(x);
    Py_XDECREF(m);
    Py_XDECREF(is);
    Py_XDECREF(ga);
    Py_XDECREF(be);
    Py_XDECREF(re);
    Py_XDECREF(y);
    return res;
}

/* bn_act_forward_train(x, c, eps, gamma|None, beta|None, residual|None, relu) -> (y, mean, var, invstd) */
static PyObject *py_bn_act_forward_train(PyObject *self, PyObject *args)
{
    PyObject *xo, *go, *bo, *ro;
    int c, relu;
    double eps;
    if (!PyArg_ParseTuple(args, "OidOOOp", &xo, &c, &eps, &go, &bo, &ro, &relu)) return NULL;
    PyArrayObject *x = NULL, *ga = NULL, *be = NULL, *re = NULL, *y = NULL, *m = NULL, *v = NULL, *is = NULL;
    PyObject *res = NULL;
    int ok = 1;
    if (!(x = in_f32(xo, "input", 3, 32))) goto done;
    ga = opt_f32(go, "weight", &ok);
    if (ok) be = opt_f32(bo, "bias", &ok);
    if (!ok || !check_c(x, c)) goto done;
    if (!len_is(ga, c, "weight") || !len_is(be, c, "bias")) goto done;
    if (ro != Py_None) {
        if (!(re = in_f32(ro, "residual", 3, 32)) || !matches(x, re, c, 0, "residual")) goto done;
    }
    npy_intp dims[32], k = c;
    out_dims(x, c, dims);
    if (!(y = sai_py_nn_new_f32(PyArray_NDIM(x), dims)) || !(m = sai_py_nn_new_f32(1, &k)) ||
        !(v = sai_py_nn_new_f32(1, &k)) || !(is = sai_py_nn_new_f32(1, &k)))
        goto done;
    sai_status rc;
    SAI_CALL(rc, sai_bn_act_forward_train(CF32(x), (int)PyArray_DIM(x, 0), c, (int)PyArray_DIM(x, 1),
                                          spatial_size(x), eps, ga ? CF32(ga) : NULL, be ? CF32(be) : NULL,
                                          re ? CF32(re) : NULL, relu, F32(y), F32(m), F32(v), F32(is)));
    if (rc) {
        sai_py_raise(rc);
        goto done;
    }
    res = Py_BuildValue("(OOOO)", y, m, v, is);
done:
    Py_XDECREF(x);
    Py_XDECREF(ga);
    Py_XDECREF(be);
    Py_XDECREF(re);
    Py_XDECREF(y);
    Py_XDECREF(m);
    Py_XDECREF(v);
    Py_XDECREF(is);
    return res;
}

/* bn_act_backward(x, c, dy, batch_stats, mean, invstd, gamma|None, beta|None, relu, want_affine, dx_into|None)
 *   -> (dx|None, dgamma|None, dbeta|None); with dx_into the input gradient is added to its channels [0, c). */
static PyObject *py_bn_act_backward(PyObject *self, PyObject *args)
{
    PyObject *xo, *dyo, *mo, *io, *go, *bo, *dxo;
    int c, batch_stats, relu, want_affine;
    if (!PyArg_ParseTuple(args, "OiOpOOOOppO", &xo, &c, &dyo, &batch_stats, &mo, &io, &go, &bo, &relu,
                          &want_affine, &dxo))
        return NULL;
    PyArrayObject *x = NULL, *dy = NULL, *m = NULL, *is = NULL, *ga = NULL, *be = NULL, *dx = NULL, *dg = NULL,
                  *db = NULL;
    PyObject *res = NULL;
    int ok = 1, into = dxo != Py_None;
    if (!(x = in_f32(xo, "input", 3, 32)) || !(dy = in_f32(dyo, "grad_output", 3, 32)) ||
        !(m = in_f32(mo, "mean", 1, 1)) || !(is = in_f32(io, "invstd", 1, 1)))
        goto done;
    ga = opt_f32(go, "weight", &ok);
    if (ok) be = opt_f32(bo, "bias", &ok);
    if (!ok || !check_c(x, c) || !matches(x, dy, c, 0, "grad_output")) goto done;
    if (!len_is(m, c, "mean") || !len_is(is, c, "invstd") || !len_is(ga, c, "weight") || !len_is(be, c, "bias"))
        goto done;
    if (into) {
        if (!PyArray_Check(dxo)) {
            PyErr_SetString(PyExc_TypeError, "dx_into must be a numpy.ndarray");
            goto done;
        }
        dx = (PyArrayObject *)dxo;
        Py_INCREF(dx);
        if (PyArray_TYPE(dx) != NPY_FLOAT32 || !PyArray_IS_C_CONTIGUOUS(dx) || !PyArray_ISWRITEABLE(dx) ||
            !PyArray_ISALIGNED(dx)) {
            PyErr_SetString(PyExc_ValueError, "dx_into must be a writeable, aligned, C-contiguous float32 array");
            goto done;
        }
        if (!matches(x, dx, c, 1, "dx_into")) goto done;
    } else {
        npy_intp dims[32];
        out_dims(x, c, dims);
        if (!(dx = sai_py_nn_new_f32(PyArray_NDIM(x), dims))) goto done;
    }
    npy_intp cc = c;
    if (want_affine && (!(dg = sai_py_nn_new_f32(1, &cc)) || !(db = sai_py_nn_new_f32(1, &cc)))) goto done;
    sai_status rc;
    SAI_CALL(rc, sai_bn_act_backward(CF32(x), CF32(dy), (int)PyArray_DIM(x, 0), c, (int)PyArray_DIM(x, 1),
                                     spatial_size(x), batch_stats, CF32(m), CF32(is), ga ? CF32(ga) : NULL,
                                     be ? CF32(be) : NULL, relu, F32(dx), (int)PyArray_DIM(dx, 1), into,
                                     dg ? F32(dg) : NULL, db ? F32(db) : NULL));
    if (rc) {
        sai_py_raise(rc);
        goto done;
    }
    res = Py_BuildValue("(OOO)", into ? Py_None : (PyObject *)dx, dg ? (PyObject *)dg : Py_None,
                        db ? (PyObject *)db : Py_None);
done:
    Py_XDECREF(x);
    Py_XDECREF(dy);
    Py_XDECREF(m);
    Py_XDECREF(is);
    Py_XDECREF(ga);
    Py_XDECREF(be);
    Py_XDECREF(dx);
    Py_XDECREF(dg);
    Py_XDECREF(db);
    return res;
}

/* empty(shape) -> uninitialised C-contiguous float32 array (large ones from the block cache) */
static PyObject *py_empty(PyObject *self, PyObject *args)
{
    PyObject *so;
    if (!PyArg_ParseTuple(args, "O", &so)) return NULL;
    PyArray_Dims shape = {NULL, 0};
    if (!PyArray_IntpConverter(so, &shape)) return NULL;
    PyObject *res = NULL;
    int ok = shape.len >= 1 && shape.len <= 32;
    for (int i = 0; ok && i < shape.len; i++) ok = shape.ptr[i] >= 0;
    if (!ok)
        PyErr_SetString(PyExc_ValueError, "shape must have 1 to 32 non-negative sizes");
    else
        res = (PyObject *)sai_py_nn_new_f32(shape.len, shape.ptr);
    PyDimMem_FREE(shape.ptr);
    return res;
}

static PyObject *py_use_simd(PyObject *self, PyObject *args)
{
    int on;
    if (!PyArg_ParseTuple(args, "p", &on)) return NULL;
    sai_bn_act_use_simd(on);
    Py_RETURN_NONE;
}

PyMethodDef sai_py_nn_fused_methods[] = {
    {"nn_bn_act_use_simd", py_use_simd, METH_VARARGS,
     "nn_bn_act_use_simd(on): testing knob, False forces the scalar batch-norm reductions (same bits)"},
    {"nn_bn_stats_range", py_bn_stats_range, METH_VARARGS,
     "nn_bn_stats_range(x, c, c_lo=0) -> (mean, var) of channels [c_lo, c) of x[n, c_total, ...]"},
    {"nn_bn_act_forward", py_bn_act_forward, METH_VARARGS,
     "nn_bn_act_forward(x, c, mean, invstd, gamma, beta, residual, relu) -> y[n, c, ...]"},
    {"nn_bn_act_forward_train", py_bn_act_forward_train, METH_VARARGS,
     "nn_bn_act_forward_train(x, c, eps, gamma, beta, residual, relu) -> (y, mean, var, invstd)"},
    {"nn_bn_act_backward", py_bn_act_backward, METH_VARARGS,
     "nn_bn_act_backward(x, c, dy, batch_stats, mean, invstd, gamma, beta, relu, want_affine, dx_into) "
     "-> (dx|None, dgamma|None, dbeta|None)"},
    {"nn_empty", py_empty, METH_VARARGS, "nn_empty(shape) -> uninitialised float32 array"},
    {NULL, NULL, 0, NULL},
};
