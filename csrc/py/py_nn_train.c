/* py_nn_train.c: Python wrappers of the losses and optimizer steps
 * (csrc/nn/loss.c, csrc/nn/optim.c).  Registered from py_nn.c. */
#include "py_util.h"
#include "sacroai/sai_nn_train.h"

#define IN_FLAGS (NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED)

/* An input buffer as a C-contiguous array of `typenum` (copied if needed). */
static PyArrayObject *in_array(PyObject *obj, const char *name, int typenum, int nd_min, int nd_max)
{
    return sai_py_array(obj, name, typenum, nd_min, nd_max, IN_FLAGS, 0);
}

/* A buffer updated in place: must already be float32, C-contiguous, writeable. */
static PyArrayObject *inout_array(PyObject *obj, const char *name)
{
    if (!PyArray_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be a numpy.ndarray, not %s", name, Py_TYPE(obj)->tp_name);
        return NULL;
    }
    PyArrayObject *a = (PyArrayObject *)obj;
    if (PyArray_TYPE(a) != NPY_FLOAT32) {
        PyErr_Format(PyExc_TypeError, "%s must have dtype float32, not %S", name, (PyObject *)PyArray_DESCR(a));
        return NULL;
    }
    if (!PyArray_IS_C_CONTIGUOUS(a) || !PyArray_ISWRITEABLE(a) || !PyArray_ISALIGNED(a)) {
        PyErr_Format(PyExc_ValueError, "%s must be a writeable, aligned, C-contiguous array", name);
        return NULL;
    }
    Py_INCREF(obj);
    return a;
}

static int same_size(PyArrayObject *a, PyArrayObject *b, const char *an, const char *bn)
{
    if (PyArray_SIZE(a) != PyArray_SIZE(b)) {
        PyErr_Format(PyExc_ValueError, "%s has %zd elements but %s has %zd", bn,
                     (Py_ssize_t)PyArray_SIZE(b), an, (Py_ssize_t)PyArray_SIZE(a));
        return 0;
    }
    return 1;
}

static PyArrayObject *new_like(PyArrayObject *a, int typenum)
{
    return (PyArrayObject *)PyArray_SimpleNew(PyArray_NDIM(a), PyArray_DIMS(a), typenum);
}

static PyObject *py_cross_entropy(PyObject *self, PyObject *args)
{
    PyObject *lo, *to, *wo;
    float smoothing;
    long long ignore;
    int want_grad;
    if (!PyArg_ParseTuple(args, "OOOfLp", &lo, &to, &wo, &smoothing, &ignore, &want_grad)) return NULL;
    PyArrayObject *logits = NULL, *target = NULL, *weight = NULL, *loss = NULL, *wsum = NULL, *grad = NULL;
    PyObject *result = NULL;
    if (!(logits = in_array(lo, "logits", NPY_FLOAT32, 3, 3))) goto done;
    if (!(target = in_array(to, "target", NPY_INT64, 2, 2))) goto done;
    npy_intp n = PyArray_DIM(logits, 0), c = PyArray_DIM(logits, 1), s = PyArray_DIM(logits, 2);
    if (PyArray_DIM(target, 0) != n || PyArray_DIM(target, 1) != s) {
        PyErr_SetString(PyExc_ValueError, "target shape does not match logits (n, s)");
        goto done;
    }
    if (wo != Py_None) {
        if (!(weight = in_array(wo, "weight", NPY_FLOAT32, 1, 1))) goto done;
        if (PyArray_DIM(weight, 0) != c) {
            PyErr_Format(PyExc_ValueError, "weight must have %zd entries (one per class), got %zd",
                         (Py_ssize_t)c, (Py_ssize_t)PyArray_DIM(weight, 0));
            goto done;
        }
    }
    if (!(loss = new_like(target, NPY_FLOAT32)) || !(wsum = new_like(target, NPY_FLOAT32))) goto done;
    if (want_grad && !(grad = new_like(logits, NPY_FLOAT32))) goto done;
    sai_status rc;
    SAI_CALL(rc, sai_nn_cross_entropy(PyArray_DATA(logits), n, c, s, PyArray_DATA(target),
                                      weight ? PyArray_DATA(weight) : NULL, smoothing, ignore,
                                      PyArray_DATA(loss), PyArray_DATA(wsum),
                                      grad ? PyArray_DATA(grad) : NULL));
    if (rc) {
        sai_py_raise(rc);
        goto done;
    }
    result = Py_BuildValue("OOO", loss, wsum, grad ? (PyObject *)grad : Py_None);
done:
    Py_XDECREF(logits);
    Py_XDECREF(target);
    Py_XDECREF(weight);
    Py_XDECREF(loss);
    Py_XDECREF(wsum);
    Py_XDECREF(grad);
    return result;
}

typedef sai_status (*pair_loss_fn)(const float *, const float *, int64_t, float *, float *);

static PyObject *pair_loss(PyObject *args, pair_loss_fn fn)
{
    PyObject *xo, *yo;
    int want_grad;
    if (!PyArg_ParseTuple(args, "OOp", &xo, &yo, &want_grad)) return NULL;
    PyArrayObject *x = NULL, *y = NULL, *loss = NULL, *grad = NULL;
    PyObject *result = NULL;
    if (!(x = in_array(xo, "input", NPY_FLOAT32, 0, NPY_MAXDIMS))) goto done;
    if (!(y = in_array(yo, "target", NPY_FLOAT32, 0, NPY_MAXDIMS))) goto done;
    if (!same_size(x, y, "input", "target")) goto done;
    if (!(loss = new_like(x, NPY_FLOAT32))) goto done;
    if (want_grad && !(grad = new_like(x, NPY_FLOAT32))) goto done;
    sai_status rc;
    SAI_CALL(rc, fn(PyArray_DATA(x), PyArray_DATA(y), PyArray_SIZE(x), PyArray_DATA(loss),
                    grad ? PyArray_DATA(grad) : NULL));
    if (rc) {
        sai_py_raise(rc);
        goto done;
    }
    result = Py_BuildValue("OO", loss, grad ? (PyObject *)grad : Py_None);
done:
    Py_XDECREF(x);
    Py_XDECREF(y);
    Py_XDECREF(loss);
    Py_XDECREF(grad);
    return result;
}

static PyObject *py_squared_error(PyObject *self, PyObject *args) { return pair_loss(args, sai_nn_squared_error); }
static PyObject *py_absolute_error(PyObject *self, PyObject *args) { return pair_loss(args, sai_nn_absolute_error); }

static PyObject *py_bce_logits(PyObject *self, PyObject *args)
{
    PyObject *xo, *yo, *pwo, *wo;
    int want_grad;
    if (!PyArg_ParseTuple(args, "OOOOp", &xo, &yo, &pwo, &wo, &want_grad)) return NULL;
    PyArrayObject *x = NULL, *y = NULL, *pw = NULL, *w = NULL, *loss = NULL, *grad = NULL;
    PyObject *result = NULL;
    if (!(x = in_array(xo, "input", NPY_FLOAT32, 0, NPY_MAXDIMS))) goto done;
    if (!(y = in_array(yo, "target", NPY_FLOAT32, 0, NPY_MAXDIMS))) goto done;
    if (!same_size(x, y, "input", "target")) goto done;
    if (pwo != Py_None && (!(pw = in_array(pwo, "pos_weight", NPY_FLOAT32, 0, NPY_MAXDIMS)) ||
                           !same_size(x, pw, "input", "pos_weight")))
        goto done;
    if (wo != Py_None && (!(w = in_array(wo, "weight", NPY_FLOAT32, 0, NPY_MAXDIMS)) ||
                          !same_size(x, w, "input", "weight")))
        goto done;
    if (!(loss = new_like(x, NPY_FLOAT32))) goto done;
    if (want_grad && !(grad = new_like(x, NPY_FLOAT32))) goto done;
    sai_status rc;
    SAI_CALL(rc, sai_nn_bce_logits(PyArray_DATA(x), PyArray_DATA(y), pw ? PyArray_DATA(pw) : NULL,
                                   w ? PyArray_DATA(w) : NULL, PyArray_SIZE(x), PyArray_DATA(loss),
                                   grad ? PyArray_DATA(grad) : NULL));
    if (rc) {
        sai_py_raise(rc);
        goto done;
    }
    result = Py_BuildValue("OO", loss, grad ? (PyObject *)grad : Py_None);
done:
    Py_XDECREF(x);
    Py_XDECREF(y);
    Py_XDECREF(pw);
    Py_XDECREF(w);
    Py_XDECREF(loss);
    Py_XDECREF(grad);
    return result;
}

static PyObject *py_focal_sigmoid(PyObject *self, PyObject *args)
{
    PyObject *xo, *yo;
    float gamma, alpha;
    int want_grad;
    if (!PyArg_ParseTuple(args, "OOffp", &xo, &yo, &gamma, &alpha, &want_grad)) return NULL;
    PyArrayObject *x = NULL, *y = NULL, *loss = NULL, *grad = NULL;
    PyObject *result = NULL;
    if (!(x = in_array(xo, "input", NPY_FLOAT32, 0, NPY_MAXDIMS))) goto done;
    if (!(y = in_array(yo, "target", NPY_FLOAT32, 0, NPY_MAXDIMS))) goto done;
    if (!same_size(x, y, "input", "target")) goto done;
    if (!(loss = new_like(x, NPY_FLOAT32))) goto done;
    if (want_grad && !(grad = new_like(x, NPY_FLOAT32))) goto done;
    sai_status rc;
    SAI_CALL(rc, sai_nn_focal_sigmoid(PyArray_DATA(x), PyArray_DATA(y), PyArray_SIZE(x), gamma, alpha,
                                      PyArray_DATA(loss), grad ? PyArray_DATA(grad) : NULL));
    if (rc) {
        sai_py_raise(rc);
        goto done;
    }
    result = Py_BuildValue("OO", loss, grad ? (PyObject *)grad : Py_None);
done:
    Py_XDECREF(x);
    Py_XDECREF(y);
    Py_XDECREF(loss);
    Py_XDECREF(grad);
    return result;
}

static PyObject *py_softmax_channels(PyObject *self, PyObject *args)
{
    PyObject *xo;
    if (!PyArg_ParseTuple(args, "O", &xo)) return NULL;
    PyArrayObject *x = in_array(xo, "input", NPY_FLOAT32, 3, 3);
    if (!x) return NULL;
    PyArrayObject *p = new_like(x, NPY_FLOAT32);
    if (!p) {
        Py_DECREF(x);
        return NULL;
    }
    sai_status rc;
    SAI_CALL(rc, sai_nn_softmax_channels(PyArray_DATA(x), PyArray_DIM(x, 0), PyArray_DIM(x, 1),
                                         PyArray_DIM(x, 2), PyArray_DATA(p)));
    Py_DECREF(x);
    if (rc) {
        Py_DECREF(p);
        return sai_py_raise(rc);
    }
    return (PyObject *)p;
}

static PyObject *py_softmax_channels_backward(PyObject *self, PyObject *args)
{
    PyObject *po, *go;
    if (!PyArg_ParseTuple(args, "OO", &po, &go)) return NULL;
    PyArrayObject *p = NULL, *g = NULL, *gx = NULL;
    PyObject *result = NULL;
    if (!(p = in_array(po, "probabilities", NPY_FLOAT32, 3, 3))) goto done;
    if (!(g = in_array(go, "grad", NPY_FLOAT32, 3, 3))) goto done;
    if (!PyArray_SAMESHAPE(p, g)) {
        PyErr_SetString(PyExc_ValueError, "grad must have the shape of probabilities");
        goto done;
    }
    if (!(gx = new_like(p, NPY_FLOAT32))) goto done;
    sai_status rc;
    SAI_CALL(rc, sai_nn_softmax_channels_backward(PyArray_DATA(p), PyArray_DATA(g), PyArray_DIM(p, 0),
                                                  PyArray_DIM(p, 1), PyArray_DIM(p, 2), PyArray_DATA(gx)));
    if (rc) {
        sai_py_raise(rc);
        goto done;
    }
    result = (PyObject *)gx;
    Py_INCREF(result);
done:
    Py_XDECREF(p);
    Py_XDECREF(g);
    Py_XDECREF(gx);
    return result;
}

static PyObject *py_dice_sums(PyObject *self, PyObject *args)
{
    PyObject *po, *to;
    int squared;
    if (!PyArg_ParseTuple(args, "OOp", &po, &to, &squared)) return NULL;
    PyArrayObject *p = NULL, *t = NULL, *out = NULL;
    PyObject *result = NULL;
    if (!(p = in_array(po, "input", NPY_FLOAT32, 2, 2))) goto done;
    if (!(t = in_array(to, "target", NPY_FLOAT32, 2, 2))) goto done;
    if (!PyArray_SAMESHAPE(p, t)) {
        PyErr_SetString(PyExc_ValueError, "target must have the shape of input (rows, s)");
        goto done;
    }
    npy_intp dims[2] = {PyArray_DIM(p, 0), 3};
    if (!(out = (PyArrayObject *)PyArray_SimpleNew(2, dims, NPY_FLOAT64))) goto done;
    sai_status rc;
    SAI_CALL(rc, sai_nn_dice_sums(PyArray_DATA(p), PyArray_DATA(t), PyArray_DIM(p, 0), PyArray_DIM(p, 1),
                                  squared, PyArray_DATA(out)));
    if (rc) {
        sai_py_raise(rc);
        goto done;
    }
    result = (PyObject *)out;
    Py_INCREF(result);
done:
    Py_XDECREF(p);
    Py_XDECREF(t);
    Py_XDECREF(out);
    return result;
}

static PyObject *py_sgd_step(PyObject *self, PyObject *args)
{
    PyObject *po, *go, *bo;
    double lr, momentum, dampening, wd;
    int nesterov, maximize, first;
    if (!PyArg_ParseTuple(args, "OOOddddppp", &po, &go, &bo, &lr, &momentum, &dampening, &wd,
                          &nesterov, &maximize, &first))
        return NULL;
    PyArrayObject *p = NULL, *g = NULL, *b = NULL;
    PyObject *result = NULL;
    if (!(p = inout_array(po, "param"))) goto done;
    if (!(g = in_array(go, "grad", NPY_FLOAT32, 0, NPY_MAXDIMS)) || !same_size(p, g, "param", "grad")) goto done;
    if (bo != Py_None && (!(b = inout_array(bo, "momentum_buffer")) || !same_size(p, b, "param", "momentum_buffer")))
        goto done;
    sai_status rc;
    SAI_CALL(rc, sai_nn_sgd_step(PyArray_DATA(p), PyArray_DATA(g), b ? PyArray_DATA(b) : NULL,
                                 PyArray_SIZE(p), lr, momentum, dampening, wd, nesterov, maximize, first));
    if (rc) {
        sai_py_raise(rc);
        goto done;
    }
    result = Py_None;
    Py_INCREF(result);
done:
    Py_XDECREF(p);
    Py_XDECREF(g);
    Py_XDECREF(b);
    return result;
}

static PyObject *py_adam_step(PyObject *self, PyObject *args)
{
    PyObject *po, *go, *mo, *vo, *vmo;
    double lr, b1, b2, eps, wd;
    int decoupled, maximize;
    long long step;
    if (!PyArg_ParseTuple(args, "OOOOOdddddppL", &po, &go, &mo, &vo, &vmo, &lr, &b1, &b2, &eps, &wd,
                          &decoupled, &maximize, &step))
        return NULL;
    PyArrayObject *p = NULL, *g = NULL, *m = NULL, *v = NULL, *vm = NULL;
    PyObject *result = NULL;
    if (!(p = inout_array(po, "param"))) goto done;
    if (!(g = in_array(go, "grad", NPY_FLOAT32, 0, NPY_MAXDIMS)) || !same_size(p, g, "param", "grad")) goto done;
    if (!(m = inout_array(mo, "exp_avg")) || !same_size(p, m, "param", "exp_avg")) goto done;
    if (!(v = inout_array(vo, "exp_avg_sq")) || !same_size(p, v, "param", "exp_avg_sq")) goto done;
    if (vmo != Py_None && (!(vm = inout_array(vmo, "max_exp_avg_sq")) || !same_size(p, vm, "param", "max_exp_avg_sq")))
        goto done;
    sai_status rc;
    SAI_CALL(rc, sai_nn_adam_step(PyArray_DATA(p), PyArray_DATA(g), PyArray_DATA(m), PyArray_DATA(v),
                                  vm ? PyArray_DATA(vm) : NULL, PyArray_SIZE(p), lr, b1, b2, eps, wd,
                                  decoupled, maximize, step));
    if (rc) {
        sai_py_raise(rc);
        goto done;
    }
    result = Py_None;
    Py_INCREF(result);
done:
    Py_XDECREF(p);
    Py_XDECREF(g);
    Py_XDECREF(m);
    Py_XDECREF(v);
    Py_XDECREF(vm);
    return result;
}

PyMethodDef sai_py_nn_train_methods[] = {
    {"nn_cross_entropy", py_cross_entropy, METH_VARARGS,
     "nn_cross_entropy(logits (n,c,s) f32, target (n,s) i64, weight|None, label_smoothing, ignore_index, "
     "want_grad) -> (loss (n,s), weight_of_target (n,s), grad (n,c,s)|None)"},
    {"nn_bce_logits", py_bce_logits, METH_VARARGS,
     "nn_bce_logits(x, y, pos_weight|None, weight|None, want_grad) -> (loss, grad|None); same-size f32"},
    {"nn_focal_sigmoid", py_focal_sigmoid, METH_VARARGS,
     "nn_focal_sigmoid(x, y, gamma, alpha (<0: none), want_grad) -> (loss, grad|None)"},
    {"nn_squared_error", py_squared_error, METH_VARARGS, "nn_squared_error(x, y, want_grad) -> (loss, grad|None)"},
    {"nn_absolute_error", py_absolute_error, METH_VARARGS, "nn_absolute_error(x, y, want_grad) -> (loss, grad|None)"},
    {"nn_softmax_channels", py_softmax_channels, METH_VARARGS, "nn_softmax_channels(x (n,c,s)) -> p"},
    {"nn_softmax_channels_backward", py_softmax_channels_backward, METH_VARARGS,
     "nn_softmax_channels_backward(p, grad_p) -> grad_x"},
    {"nn_dice_sums", py_dice_sums, METH_VARARGS,
     "nn_dice_sums(p (rows,s), t (rows,s), squared) -> (rows, 3) f64 [sum p*t, sum p, sum t]"},
    {"nn_sgd_step", py_sgd_step, METH_VARARGS,
     "nn_sgd_step(param, grad, momentum_buffer|None, lr, momentum, dampening, weight_decay, nesterov, "
     "maximize, first) -> None (in place)"},
    {"nn_adam_step", py_adam_step, METH_VARARGS,
     "nn_adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq|None, lr, beta1, beta2, eps, "
     "weight_decay, decoupled, maximize, step) -> None (in place)"},
    {NULL, NULL, 0, NULL},
};
