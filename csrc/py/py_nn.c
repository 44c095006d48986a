/* py_nn.c: Python wrappers of the nn core (csrc/nn/).
 *
 * The Python layer (sacroai/nn/functional.py) validates shapes and names the
 * layer in its errors; these wrappers re-check what the kernels need for
 * memory safety.  Spatial arrays arrive as 5-D [n, c, d, h, w] (2-D layers add
 * a depth of 1 as a view).  Large outputs come from a small cache of
 * huge-page-advised blocks so repeated layer calls do not fault in fresh
 * 4 KiB pages each time.
 */
#include <string.h>

#include "py_util.h"
#include "sacroai/sai_nn.h"

void sai_conv_set_tile_bytes(int64_t fwd, int64_t bwd); /* conv.c (tuning) */

/* ------------------------------------------------------------ block cache */
#define CACHE_SLOTS 16
#define CACHE_MIN_BYTES (1u << 20)
#define CACHE_MAX_TOTAL ((size_t)1 << 30)
static struct {
    void *p;
    size_t n;
} g_cache[CACHE_SLOTS];
static size_t g_cache_total;

static void *block_get(size_t n)
{
    int best = -1;
    for (int i = 0; i < CACHE_SLOTS; i++)
        if (g_cache[i].p && g_cache[i].n >= n && g_cache[i].n <= n + n / 4 &&
            (best < 0 || g_cache[i].n < g_cache[best].n))
            best = i;
    if (best >= 0) {
        void *p = g_cache[best].p;
        g_cache_total -= g_cache[best].n;
        g_cache[best].p = NULL;
        return p;
    }
    return sai_alloc(n);
}

static void block_put(void *p, size_t n)
{
    if (n >= CACHE_MIN_BYTES && g_cache_total + n <= CACHE_MAX_TOTAL) {
        for (int i = 0; i < CACHE_SLOTS; i++)
            if (!g_cache[i].p) {
                g_cache[i].p = p;
                g_cache[i].n = n;
                g_cache_total += n;
                return;
            }
    }
    sai_free(p);
}

typedef struct {
    void *p;
    size_t n;
} block_info;

static void capsule_free(PyObject *cap)
{
    block_info *bi = (block_info *)PyCapsule_GetPointer(cap, "sacroai.nn.block");
    if (bi) {
        block_put(bi->p, bi->n);
        PyMem_Free(bi);
    }
}

/* A new C-contiguous array of `typenum` (float32 or int64). */
static PyArrayObject *new_array(int nd, const npy_intp *dims, int typenum)
{
    size_t elsize = typenum == NPY_INT64 ? 8 : 4, count = 1;
    for (int i = 0; i < nd; i++) count *= (size_t)dims[i];
    size_t n = count * elsize;
    if (n < CACHE_MIN_BYTES) return (PyArrayObject *)PyArray_EMPTY(nd, dims, typenum, 0);
    void *p = block_get(n);
    if (!p) return (PyArrayObject *)sai_py_raise(SAI_ENOMEM);
    block_info *bi = PyMem_Malloc(sizeof *bi);
    if (!bi) {
        block_put(p, n);
        return (PyArrayObject *)PyErr_NoMemory();
    }
    bi->p = p;
    bi->n = n;
    PyObject *cap = PyCapsule_New(bi, "sacroai.nn.block", capsule_free);
    if (!cap) {
        block_put(p, n);
        PyMem_Free(bi);
        return NULL;
    }
    PyArrayObject *arr = (PyArrayObject *)PyArray_New(&PyArray_Type, nd, (npy_intp *)dims, typenum,
                                                      NULL, p, 0, NPY_ARRAY_CARRAY, NULL);
    if (!arr) {
        Py_DECREF(cap);
        return NULL;
    }
    if (PyArray_SetBaseObject(arr, cap) < 0) {
        Py_DECREF(arr);
        return NULL;
    }
    return arr;
}

static PyArrayObject *new_f32(int nd, const npy_intp *dims) { return new_array(nd, dims, NPY_FLOAT32); }

#define F32(p) ((float *)PyArray_DATA(p))
#define CF32(p) ((const float *)PyArray_DATA(p))
#define IN_FLAGS (NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED)

static PyArrayObject *in_f32(PyObject *o, const char *name, int nd_min, int nd_max)
{
    return sai_py_array(o, name, NPY_FLOAT32, nd_min, nd_max, IN_FLAGS, 0);
}

static PyArrayObject *opt_f32(PyObject *o, const char *name, int nd_min, int nd_max)
{
    if (o == Py_None) return NULL;
    return in_f32(o, name, nd_min, nd_max);
}

#define DIM(a, i) ((int)PyArray_DIM(a, i))

/* ------------------------------------------------------------ convolution */
static int conv_geom_from(sai_conv_geom *g, int n, int c_in, int c_out, int groups, const int in[3],
                          const int k[3], const int st[3], const int pad[3], const int dil[3])
{
    memset(g, 0, sizeof *g);
    g->n = n;
    g->c_in = c_in;
    g->c_out = c_out;
    g->groups = groups;
    for (int a = 0; a < 3; a++) {
        g->in[a] = in[a];
        g->k[a] = k[a];
        g->stride[a] = st[a];
        g->pad[a] = pad[a];
        g->dil[a] = dil[a];
    }
    sai_status rc = sai_conv_geom_init(g);
    if (rc) {
        sai_py_raise(rc);
        return -1;
    }
    return 0;
}

static PyObject *py_conv_forward(PyObject *self, PyObject *args)
{
    PyObject *xo, *wo, *bo;
    int st[3], pad[3], dil[3], groups;
    if (!PyArg_ParseTuple(args, "OOO(iii)(iii)(iii)i", &xo, &wo, &bo, &st[0], &st[1], &st[2],
                          &pad[0], &pad[1], &pad[2], &dil[0], &dil[1], &dil[2], &groups))
        return NULL;
    PyArrayObject *x = NULL, *w = NULL, *b = NULL, *y = NULL;
    PyObject *res = NULL;
    if (!(x = in_f32(xo, "input", 5, 5)) || !(w = in_f32(wo, "weight", 5, 5))) goto done;
    if (bo != Py_None && !(b = opt_f32(bo, "bias", 1, 1))) goto done;
    int in[3] = {DIM(x, 2), DIM(x, 3), DIM(x, 4)}, k[3] = {DIM(w, 2), DIM(w, 3), DIM(w, 4)};
    if (DIM(w, 1) * groups != DIM(x, 1) || (b && DIM(b, 0) != DIM(w, 0))) {
        PyErr_SetString(PyExc_ValueError, "conv: input channels, weight and bias shapes disagree");
        goto done;
    }
    sai_conv_geom g;
    if (conv_geom_from(&g, DIM(x, 0), DIM(x, 1), DIM(w, 0), groups, in, k, st, pad, dil)) goto done;
    npy_intp dims[5] = {g.n, g.c_out, g.out[0], g.out[1], g.out[2]};
    if (!(y = new_f32(5, dims))) goto done;
    sai_status rc;
    SAI_CALL(rc, sai_conv_forward(&g, CF32(x), CF32(w), b ? CF32(b) : NULL, F32(y)));
    if (rc) {
        sai_py_raise(rc);
        goto done;
    }
    res = (PyObject *)y;
    y = NULL;
done:
    Py_XDECREF(x);
    Py_XDECREF(w);
    Py_XDECREF(b);
    Py_XDECREF(y);
    return res;
}

/* conv_backward_data(dy, w, b|None, in_size(3), stride, pad, dil, groups) -> dx */
static PyObject *py_conv_backward_data(PyObject *self, PyObject *args)
{
    PyObject *dyo, *wo, *bo;
    int in[3], st[3], pad[3], dil[3], groups;
    if (!PyArg_ParseTuple(args, "OOO(iii)(iii)(iii)(iii)i", &dyo, &wo, &bo, &in[0], &in[1], &in[2],
                          &st[0], &st[1], &st[2], &pad[0], &pad[1], &pad[2], &dil[0], &dil[1],
                          &dil[2], &groups))
        return NULL;
    PyArrayObject *dy = NULL, *w = NULL, *b = NULL, *dx = NULL;
    PyObject *res = NULL;
    if (!(dy = in_f32(dyo, "grad_output", 5, 5)) || !(w = in_f32(wo, "weight", 5, 5))) goto done;
    if (bo != Py_None && !(b = opt_f32(bo, "bias", 1, 1))) goto done;
    int k[3] = {DIM(w, 2), DIM(w, 3), DIM(w, 4)};
    int c_in = DIM(w, 1) * groups;
    if (DIM(dy, 1) != DIM(w, 0) || (b && DIM(b, 0) != c_in)) {
        PyErr_SetString(PyExc_ValueError, "conv backward: grad_output channels, weight and bias shapes disagree");
        goto done;
    }
    sai_conv_geom g;
    if (conv_geom_from(&g, DIM(dy, 0), c_in, DIM(w, 0), groups, in, k, st, pad, dil)) goto done;
    if (g.out[0] != DIM(dy, 2) || g.out[1] != DIM(dy, 3) || g.out[2] != DIM(dy, 4)) {
        PyErr_Format(PyExc_ValueError, "conv backward: grad_output spatial size (%d, %d, %d) does not match "
                     "the geometry (%d, %d, %d)", DIM(dy, 2), DIM(dy, 3), DIM(dy, 4), g.out[0], g.out[1], g.out[2]);
        goto done;
    }
    npy_intp dims[5] = {g.n, g.c_in, in[0], in[1], in[2]};
    if (!(dx = new_f32(5, dims))) goto done;
    sai_status rc;
    SAI_CALL(rc, sai_conv_backward_data(&g, CF32(dy), CF32(w), b ? CF32(b) : NULL, F32(dx)));
    if (rc) {
        sai_py_raise(rc);
        goto done;
    }
    res = (PyObject *)dx;
    dx = NULL;
done:
    Py_XDECREF(dy);
    Py_XDECREF(w);
    Py_XDECREF(b);
    Py_XDECREF(dx);
    return res;
}

/* conv_backward_weight(x, dy, k(3), stride, pad, dil, groups, want_bias) -> (dw, db|None) */
static PyObject *py_conv_backward_weight(PyObject *self, PyObject *args)
{
    PyObject *xo, *dyo;
    int k[3], st[3], pad[3], dil[3], groups, want_bias;
    if (!PyArg_ParseTuple(args, "OO(iii)(iii)(iii)(iii)ip", &xo, &dyo, &k[0], &k[1], &k[2], &st[0],
                          &st[1], &st[2], &pad[0], &pad[1], &pad[2], &dil[0], &dil[1], &dil[2],
                          &groups, &want_bias))
        return NULL;
    PyArrayObject *x = NULL, *dy = NULL, *dw = NULL, *db = NULL;
    PyObject *res = NULL;
    if (!(x = in_f32(xo, "input", 5, 5)) || !(dy = in_f32(dyo, "grad_output", 5, 5))) goto done;
    int in[3] = {DIM(x, 2), DIM(x, 3), DIM(x, 4)};
    if (DIM(dy, 0) != DIM(x, 0)) {
        PyErr_SetString(PyExc_ValueError, "conv backward: input and grad_output batch sizes differ");
        goto done;
    }
    sai_conv_geom g;
    if (conv_geom_from(&g, DIM(x, 0), DIM(x, 1), DIM(dy, 1), groups, in, k, st, pad, dil)) goto done;
    if (g.out[0] != DIM(dy, 2) || g.out[1] != DIM(dy, 3) || g.out[2] != DIM(dy, 4)) {
        PyErr_SetString(PyExc_ValueError, "conv backward: grad_output spatial size does not match the geometry");
        goto done;
    }
    npy_intp wd[5] = {g.c_out, g.c_in / groups, k[0], k[1], k[2]};
    npy_intp bd[1] = {g.c_out};
    if (!(dw = new_f32(5, wd))) goto done;
    if (want_bias && !(db = new_f32(1, bd))) goto done;
    sai_status rc;
    SAI_CALL(rc, sai_conv_backward_weight(&g, CF32(x), CF32(dy), F32(dw), db ? F32(db) : NULL));
    if (rc) {
        sai_py_raise(rc);
        goto done;
    }
    res = Py_BuildValue("(OO)", dw, db ? (PyObject *)db : Py_None);
done:
    Py_XDECREF(x);
    Py_XDECREF(dy);
    Py_XDECREF(dw);
    Py_XDECREF(db);
    return res;
}

/* channel_sum(t[n, c, ...]) -> [c] */
static PyObject *py_channel_sum(PyObject *self, PyObject *args)
{
    PyObject *to;
    if (!PyArg_ParseTuple(args, "O", &to)) return NULL;
    PyArrayObject *t = in_f32(to, "grad_output", 2, 32);
    if (!t) return NULL;
    npy_intp s = 1;
    for (int i = 2; i < PyArray_NDIM(t); i++) s *= PyArray_DIM(t, i);
    npy_intp cd[1] = {PyArray_DIM(t, 1)};
    PyArrayObject *db = new_f32(1, cd);
    if (!db) {
        Py_DECREF(t);
        return NULL;
    }
    sai_status rc;
    SAI_CALL(rc, sai_channel_sum(CF32(t), DIM(t, 0), DIM(t, 1), s, F32(db)));
    Py_DECREF(t);
    if (rc) {
        Py_DECREF(db);
        return sai_py_raise(rc);
    }
    return (PyObject *)db;
}

static PyObject *py_conv_tile_bytes(PyObject *self, PyObject *args)
{
    long long f, b;
    if (!PyArg_ParseTuple(args, "LL", &f, &b)) return NULL;
    sai_conv_set_tile_bytes(f, b);
    Py_RETURN_NONE;
}

static PyObject *py_sgemm(PyObject *self, PyObject *args)
{
    /* c = a @ b for 2-D float32 arrays (used to measure the BLAS peak). */
    PyObject *ao, *bo;
    if (!PyArg_ParseTuple(args, "OO", &ao, &bo)) return NULL;
    PyArrayObject *a = in_f32(ao, "a", 2, 2), *b = a ? in_f32(bo, "b", 2, 2) : NULL, *c = NULL;
    PyObject *res = NULL;
    if (!a || !b) goto done;
    if (DIM(a, 1) != DIM(b, 0)) {
        PyErr_SetString(PyExc_ValueError, "sgemm: inner dimensions differ");
        goto done;
    }
    npy_intp cd[2] = {DIM(a, 0), DIM(b, 1)};
    if (!(c = new_f32(2, cd))) goto done;
    int m = DIM(a, 0), n = DIM(b, 1), k = DIM(a, 1);
    sai_threads_sync();
    Py_BEGIN_ALLOW_THREADS
    sai_sgemm(SAI_NO_TRANS, SAI_NO_TRANS, m, n, k, 1.0f, CF32(a), k, CF32(b), n, 0.0f, F32(c), n);
    Py_END_ALLOW_THREADS
    res = (PyObject *)c;
    c = NULL;
done:
    Py_XDECREF(a);
    Py_XDECREF(b);
    Py_XDECREF(c);
    return res;
}

PyMethodDef sai_py_nn_methods[] = {
    {"nn_conv_forward", py_conv_forward, METH_VARARGS,
     "nn_conv_forward(x5, w5, b|None, stride3, pad3, dil3, groups) -> y5"},
    {"nn_conv_backward_data", py_conv_backward_data, METH_VARARGS,
     "nn_conv_backward_data(dy5, w5, b|None, in_size3, stride3, pad3, dil3, groups) -> dx5"},
    {"nn_conv_backward_weight", py_conv_backward_weight, METH_VARARGS,
     "nn_conv_backward_weight(x5, dy5, k3, stride3, pad3, dil3, groups, want_bias) -> (dw, db|None)"},
    {"nn_channel_sum", py_channel_sum, METH_VARARGS, "nn_channel_sum(t) -> per-channel sums"},
    {"nn_conv_tile_bytes", py_conv_tile_bytes, METH_VARARGS, "nn_conv_tile_bytes(fwd, bwd): tuning"},
    {"nn_sgemm", py_sgemm, METH_VARARGS, "nn_sgemm(a, b) -> a @ b through sai_sgemm"},
    {NULL, NULL, 0, NULL},
};

extern PyMethodDef sai_py_nn_train_methods[]; /* py_nn_train.c */

int sai_py_nn_init(PyObject *m)
{
    if (PyModule_AddFunctions(m, sai_py_nn_train_methods) < 0) return -1;
    return 0;
}
