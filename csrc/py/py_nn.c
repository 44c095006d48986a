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

#include "py_nn_util.h"
#include "sacroai/sai_nn.h"


/* ------------------------------------------------------------ block cache */
#define CACHE_SLOTS 512 /* a DenseNet-121 training step recycles ~600 blocks; 96 slots missed a quarter of them */
#define CACHE_MIN_BYTES (1u << 20)
#define CACHE_MAX_TOTAL ((size_t)1536 << 20)
static struct {
    void *p;
    size_t n;
} g_cache[CACHE_SLOTS];
static size_t g_cache_total;
static unsigned long long g_cache_hits, g_cache_misses;

static void *block_get(size_t n)
{
    int best = -1;
    for (int i = 0; i < CACHE_SLOTS; i++)
        if (g_cache[i].p && g_cache[i].n >= n && g_cache[i].n <= n + n / 4 &&
            (best < 0 || g_cache[i].n < g_cache[best].n))
            best = i;
    if (best >= 0) {
        g_cache_hits++;
        void *p = g_cache[best].p;
        g_cache_total -= g_cache[best].n;
        g_cache[best].p = NULL;
        return p;
    }
    g_cache_misses++;
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

/* Declared in py_nn_util.h for the other nn wrapper files. */
PyArrayObject *sai_py_nn_new_f32(int nd, const npy_intp *dims) { return new_f32(nd, dims); }

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
    int st[3], pad[3], dil[3], groups, relu = 0;
    if (!PyArg_ParseTuple(args, "OOO(iii)(iii)(iii)i|p", &xo, &wo, &bo, &st[0], &st[1], &st[2],
                          &pad[0], &pad[1], &pad[2], &dil[0], &dil[1], &dil[2], &groups, &relu))
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
    g.relu_out = relu;
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

/* x [n, c, *S] and p [n, 1, *S] (same n and S) as C-contiguous float32; s = prod(S). */
static int gate_args(PyObject *xo, PyObject *po, PyArrayObject **x, PyArrayObject **p, npy_intp *s)
{
    *x = in_f32(xo, "x", 3, 32);
    if (!*x) return -1;
    *p = in_f32(po, "coefficients", PyArray_NDIM(*x), PyArray_NDIM(*x));
    if (!*p) {
        Py_DECREF(*x);
        return -1;
    }
    *s = 1;
    int ok = PyArray_DIM(*p, 0) == PyArray_DIM(*x, 0) && PyArray_DIM(*p, 1) == 1;
    for (int i = 2; i < PyArray_NDIM(*x); i++) {
        *s *= PyArray_DIM(*x, i);
        ok = ok && PyArray_DIM(*p, i) == PyArray_DIM(*x, i);
    }
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "attention gate: coefficients must have shape [N, 1, *S] of x [N, C, *S]");
        Py_DECREF(*x);
        Py_DECREF(*p);
        return -1;
    }
    return 0;
}

static PyObject *py_gate_forward(PyObject *self, PyObject *args)
{
    PyObject *xo, *po;
    if (!PyArg_ParseTuple(args, "OO", &xo, &po)) return NULL;
    PyArrayObject *x, *p;
    npy_intp s;
    if (gate_args(xo, po, &x, &p, &s)) return NULL;
    PyArrayObject *y = new_f32(PyArray_NDIM(x), PyArray_DIMS(x));
    sai_status rc = SAI_ENOMEM;
    if (y) SAI_CALL(rc, sai_gate_forward(CF32(x), CF32(p), DIM(x, 0), DIM(x, 1), s, F32(y)));
    Py_DECREF(x);
    Py_DECREF(p);
    if (!y) return NULL;
    if (rc) {
        Py_DECREF(y);
        return sai_py_raise(rc);
    }
    return (PyObject *)y;
}

static PyObject *py_gate_backward(PyObject *self, PyObject *args)
{
    PyObject *go, *xo, *po;
    if (!PyArg_ParseTuple(args, "OOO", &go, &xo, &po)) return NULL;
    PyArrayObject *x, *p;
    npy_intp s;
    if (gate_args(xo, po, &x, &p, &s)) return NULL;
    PyArrayObject *g = in_f32(go, "grad_output", PyArray_NDIM(x), PyArray_NDIM(x));
    PyArrayObject *dx = NULL, *dp = NULL;
    sai_status rc = SAI_ENOMEM;
    if (g && !PyArray_SAMESHAPE(g, x)) {
        PyErr_SetString(PyExc_ValueError, "attention gate: grad_output must have the shape of x");
        goto done;
    }
    if (!g || !(dx = new_f32(PyArray_NDIM(x), PyArray_DIMS(x))) || !(dp = new_f32(PyArray_NDIM(p), PyArray_DIMS(p))))
        goto done;
    SAI_CALL(rc, sai_gate_backward(CF32(g), CF32(x), CF32(p), DIM(x, 0), DIM(x, 1), s, F32(dx), F32(dp)));
    if (rc) sai_py_raise(rc);
done:
    Py_DECREF(x);
    Py_DECREF(p);
    Py_XDECREF(g);
    if (rc || PyErr_Occurred()) {
        Py_XDECREF(dx);
        Py_XDECREF(dp);
        return NULL;
    }
    return Py_BuildValue("NN", dx, dp);
}

static PyObject *py_conv_tile_bytes(PyObject *self, PyObject *args)
{
    long long f, b;
    if (!PyArg_ParseTuple(args, "LL", &f, &b)) return NULL;
    sai_conv_set_tile_bytes(f, b);
    Py_RETURN_NONE;
}

static PyObject *py_conv_use_packed(PyObject *self, PyObject *args)
{
    int level;
    if (!PyArg_ParseTuple(args, "i", &level)) return NULL;
    sai_conv_use_packed(level);
    Py_RETURN_NONE;
}

static PyObject *py_conv_use_winograd(PyObject *self, PyObject *args)
{
    int on, min_channels = 0;
    if (!PyArg_ParseTuple(args, "p|i", &on, &min_channels)) return NULL;
    sai_conv_use_winograd(on, min_channels);
    Py_RETURN_NONE;
}

static PyObject *py_conv_winograd_tile_2d(PyObject *self, PyObject *args)
{
    int m;
    if (!PyArg_ParseTuple(args, "i", &m)) return NULL;
    sai_conv_winograd_tile_2d(m);
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


/* ------------------------------------------------------------ helpers for [n, c, s] ops */
static void ncs(PyArrayObject *a, int *n, int *c, int64_t *s)
{
    *n = DIM(a, 0);
    *c = PyArray_NDIM(a) > 1 ? DIM(a, 1) : 1;
    int64_t t = 1;
    for (int i = 2; i < PyArray_NDIM(a); i++) t *= PyArray_DIM(a, i);
    *s = t;
}

static PyArrayObject *like(PyArrayObject *a)
{
    return new_f32(PyArray_NDIM(a), PyArray_DIMS(a));
}

static int same_shape(PyArrayObject *a, PyArrayObject *b, const char *what)
{
    if (PyArray_NDIM(a) != PyArray_NDIM(b) ||
        !PyArray_CompareLists(PyArray_DIMS(a), PyArray_DIMS(b), PyArray_NDIM(a))) {
        PyErr_Format(PyExc_ValueError, "%s: arrays must have the same shape", what);
        return 0;
    }
    return 1;
}

#define RET_STATUS(rc)             \
    do {                           \
        if (rc) {                  \
            sai_py_raise(rc);      \
            goto done;             \
        }                          \
    } while (0)

/* ------------------------------------------------------------ normalization */
static PyObject *py_norm_stats(PyObject *self, PyObject *args)
{
    PyObject *xo;
    int groups; /* 0: per channel over the batch (batch norm) */
    if (!PyArg_ParseTuple(args, "Oi", &xo, &groups)) return NULL;
    PyArrayObject *x = in_f32(xo, "input", 2, 32), *m = NULL, *v = NULL;
    PyObject *res = NULL;
    if (!x) return NULL;
    int n, c;
    int64_t s;
    ncs(x, &n, &c, &s);
    npy_intp k = groups == 0 ? c : (npy_intp)n * groups;
    if (groups < 0 || (groups > 0 && c % groups)) {
        PyErr_SetString(PyExc_ValueError, "norm: channels must be divisible by groups");
        goto done;
    }
    if (!(m = new_f32(1, &k)) || !(v = new_f32(1, &k))) goto done;
    sai_status rc;
    if (groups == 0)
        SAI_CALL(rc, sai_bn_stats(CF32(x), n, c, s, F32(m), F32(v)));
    else
        SAI_CALL(rc, sai_gn_stats(CF32(x), n, c, s, groups, F32(m), F32(v)));
    RET_STATUS(rc);
    res = Py_BuildValue("(OO)", m, v);
done:
    Py_XDECREF(x);
    Py_XDECREF(m);
    Py_XDECREF(v);
    return res;
}

/* norm_apply(x, groups (0 = per channel), mean, invstd, gamma|None, beta|None) -> y */
static PyObject *py_norm_apply(PyObject *self, PyObject *args)
{
    PyObject *xo, *mo, *io, *go, *bo;
    int groups;
    if (!PyArg_ParseTuple(args, "OiOOOO", &xo, &groups, &mo, &io, &go, &bo)) return NULL;
    PyArrayObject *x = NULL, *m = NULL, *is = NULL, *ga = NULL, *be = NULL, *y = NULL;
    PyObject *res = NULL;
    if (!(x = in_f32(xo, "input", 2, 32)) || !(m = in_f32(mo, "mean", 1, 1)) || !(is = in_f32(io, "invstd", 1, 1)))
        goto done;
    if (go != Py_None && !(ga = in_f32(go, "weight", 1, 1))) goto done;
    if (bo != Py_None && !(be = in_f32(bo, "bias", 1, 1))) goto done;
    int n, c;
    int64_t s;
    ncs(x, &n, &c, &s);
    if (groups < 0 || (groups > 0 && c % groups)) {
        PyErr_SetString(PyExc_ValueError, "norm: channels must be divisible by groups");
        goto done;
    }
    npy_intp k = groups == 0 ? c : (npy_intp)n * groups;
    if (!len_is(m, k, "mean") || !len_is(is, k, "invstd") || !len_is(ga, c, "weight") || !len_is(be, c, "bias"))
        goto done;
    if (!(y = like(x))) goto done;
    sai_status rc;
    SAI_CALL(rc, sai_norm_apply(CF32(x), n, c, s, groups ? groups : 1, groups == 0, CF32(m), CF32(is),
                                ga ? CF32(ga) : NULL, be ? CF32(be) : NULL, F32(y)));
    RET_STATUS(rc);
    res = (PyObject *)y;
    y = NULL;
done:
    Py_XDECREF(x);
    Py_XDECREF(m);
    Py_XDECREF(is);
    Py_XDECREF(ga);
    Py_XDECREF(be);
    Py_XDECREF(y);
    return res;
}

/* norm_backward(x, dy, groups, batch_stats, mean, invstd, gamma|None, want_dx, want_affine)
 *   -> (dx|None, dgamma|None, dbeta|None) */
static PyObject *py_norm_backward(PyObject *self, PyObject *args)
{
    PyObject *xo, *dyo, *mo, *io, *go;
    int groups, batch_stats, want_dx, want_affine;
    if (!PyArg_ParseTuple(args, "OOipOOOpp", &xo, &dyo, &groups, &batch_stats, &mo, &io, &go, &want_dx,
                          &want_affine))
        return NULL;
    PyArrayObject *x = NULL, *dy = NULL, *m = NULL, *is = NULL, *ga = NULL, *dx = NULL, *dg = NULL, *db = NULL;
    PyObject *res = NULL;
    if (!(x = in_f32(xo, "input", 2, 32)) || !(dy = in_f32(dyo, "grad_output", 2, 32)) ||
        !(m = in_f32(mo, "mean", 1, 1)) || !(is = in_f32(io, "invstd", 1, 1)))
        goto done;
    if (go != Py_None && !(ga = in_f32(go, "weight", 1, 1))) goto done;
    if (!same_shape(x, dy, "norm backward")) goto done;
    int n, c;
    int64_t s;
    ncs(x, &n, &c, &s);
    if (groups < 0 || (groups > 0 && c % groups)) {
        PyErr_SetString(PyExc_ValueError, "norm: channels must be divisible by groups");
        goto done;
    }
    npy_intp k = groups == 0 ? c : (npy_intp)n * groups, cc = c;
    if (!len_is(m, k, "mean") || !len_is(is, k, "invstd") || !len_is(ga, c, "weight")) goto done;
    if (want_dx && !(dx = like(x))) goto done;
    if (want_affine && (!(dg = new_f32(1, &cc)) || !(db = new_f32(1, &cc)))) goto done;
    sai_status rc;
    SAI_CALL(rc, sai_norm_backward(CF32(x), CF32(dy), n, c, s, groups ? groups : 1, groups == 0, batch_stats,
                                   CF32(m), CF32(is), ga ? CF32(ga) : NULL, dx ? F32(dx) : NULL,
                                   dg ? F32(dg) : NULL, db ? F32(db) : NULL));
    RET_STATUS(rc);
    res = Py_BuildValue("(OOO)", dx ? (PyObject *)dx : Py_None, dg ? (PyObject *)dg : Py_None,
                        db ? (PyObject *)db : Py_None);
done:
    Py_XDECREF(x);
    Py_XDECREF(dy);
    Py_XDECREF(m);
    Py_XDECREF(is);
    Py_XDECREF(ga);
    Py_XDECREF(dx);
    Py_XDECREF(dg);
    Py_XDECREF(db);
    return res;
}

/* ------------------------------------------------------------ activations */
static PyObject *py_act_forward(PyObject *self, PyObject *args)
{
    PyObject *xo;
    int kind;
    float slope;
    if (!PyArg_ParseTuple(args, "iOf", &kind, &xo, &slope)) return NULL;
    PyArrayObject *x = in_f32(xo, "input", 0, 32), *y = NULL;
    if (!x) return NULL;
    if (!(y = like(x))) {
        Py_DECREF(x);
        return NULL;
    }
    sai_status rc;
    SAI_CALL(rc, sai_act_forward((sai_act_kind)kind, CF32(x), PyArray_SIZE(x), slope, F32(y)));
    Py_DECREF(x);
    if (rc) {
        Py_DECREF(y);
        return sai_py_raise(rc);
    }
    return (PyObject *)y;
}

static PyObject *py_act_backward(PyObject *self, PyObject *args)
{
    PyObject *so, *go;
    int kind;
    float slope;
    if (!PyArg_ParseTuple(args, "iOOf", &kind, &so, &go, &slope)) return NULL;
    PyArrayObject *sv = NULL, *dy = NULL, *dx = NULL;
    PyObject *res = NULL;
    if (!(sv = in_f32(so, "saved", 0, 32)) || !(dy = in_f32(go, "grad_output", 0, 32))) goto done;
    if (!same_shape(sv, dy, "activation backward") || !(dx = like(dy))) goto done;
    sai_status rc;
    SAI_CALL(rc, sai_act_backward((sai_act_kind)kind, CF32(sv), CF32(dy), PyArray_SIZE(dy), slope, F32(dx)));
    RET_STATUS(rc);
    res = (PyObject *)dx;
    dx = NULL;
done:
    Py_XDECREF(sv);
    Py_XDECREF(dy);
    Py_XDECREF(dx);
    return res;
}

static PyObject *py_prelu(PyObject *self, PyObject *args)
{
    PyObject *xo, *dyo, *wo;
    if (!PyArg_ParseTuple(args, "OOO", &xo, &dyo, &wo)) return NULL;
    PyArrayObject *x = NULL, *dy = NULL, *w = NULL, *out = NULL, *dw = NULL;
    PyObject *res = NULL;
    if (!(x = in_f32(xo, "input", 1, 32)) || !(w = in_f32(wo, "weight", 1, 1))) goto done;
    if (dyo != Py_None && !(dy = in_f32(dyo, "grad_output", 1, 32))) goto done;
    if (dy && !same_shape(x, dy, "PReLU backward")) goto done;
    int n, c;
    int64_t s;
    ncs(x, &n, &c, &s);
    int nw = (int)PyArray_SIZE(w);
    if (nw != 1 && nw != c) {
        PyErr_Format(PyExc_ValueError, "PReLU: weight has %d elements, expected 1 or %d", nw, c);
        goto done;
    }
    if (!(out = like(x))) goto done;
    sai_status rc;
    if (!dy) {
        SAI_CALL(rc, sai_prelu_forward(CF32(x), n, c, s, CF32(w), nw, F32(out)));
        RET_STATUS(rc);
        res = (PyObject *)out;
        out = NULL;
    } else {
        npy_intp k = nw;
        if (!(dw = new_f32(1, &k))) goto done;
        SAI_CALL(rc, sai_prelu_backward(CF32(x), CF32(dy), n, c, s, CF32(w), nw, F32(out), F32(dw)));
        RET_STATUS(rc);
        res = Py_BuildValue("(OO)", out, dw);
    }
done:
    Py_XDECREF(x);
    Py_XDECREF(dy);
    Py_XDECREF(w);
    Py_XDECREF(out);
    Py_XDECREF(dw);
    return res;
}

/* softmax(x_or_y, dy|None, log) over axis 1: forward when dy is None, else backward from y */
static PyObject *py_softmax(PyObject *self, PyObject *args)
{
    PyObject *xo, *dyo;
    int log;
    if (!PyArg_ParseTuple(args, "OOp", &xo, &dyo, &log)) return NULL;
    PyArrayObject *x = NULL, *dy = NULL, *out = NULL;
    PyObject *res = NULL;
    if (!(x = in_f32(xo, "input", 2, 32))) goto done;
    if (dyo != Py_None && (!(dy = in_f32(dyo, "grad_output", 2, 32)) || !same_shape(x, dy, "softmax backward")))
        goto done;
    int n, c;
    int64_t s;
    ncs(x, &n, &c, &s);
    if (!(out = like(x))) goto done;
    sai_status rc;
    if (dy)
        SAI_CALL(rc, sai_softmax_backward(CF32(x), CF32(dy), n, c, s, log, F32(out)));
    else
        SAI_CALL(rc, sai_softmax_forward(CF32(x), n, c, s, log, F32(out)));
    RET_STATUS(rc);
    res = (PyObject *)out;
    out = NULL;
done:
    Py_XDECREF(x);
    Py_XDECREF(dy);
    Py_XDECREF(out);
    return res;
}

/* ------------------------------------------------------------ pooling */
static int pool_geom(sai_pool_geom *g, PyArrayObject *a5, const int in[3], const int k[3], const int s[3],
                     const int p[3], const int d[3], int ceil_mode, int include_pad)
{
    memset(g, 0, sizeof *g);
    g->nc = (int64_t)PyArray_DIM(a5, 0) * PyArray_DIM(a5, 1);
    for (int a = 0; a < 3; a++) {
        g->in[a] = in[a];
        g->k[a] = k[a];
        g->stride[a] = s[a];
        g->pad[a] = p[a];
        g->dil[a] = d[a];
    }
    g->ceil_mode = ceil_mode;
    g->count_include_pad = include_pad;
    sai_status rc = sai_pool_geom_init(g);
    if (rc) {
        sai_py_raise(rc);
        return -1;
    }
    return 0;
}

/* pool_forward(kind 0 max / 1 avg, x5, k3, s3, p3, d3, ceil, include_pad) -> y (max: (y, idx)) */
static PyObject *py_pool_forward(PyObject *self, PyObject *args)
{
    PyObject *xo;
    int kind, k[3], s[3], p[3], d[3], ceil_mode, include_pad;
    if (!PyArg_ParseTuple(args, "iO(iii)(iii)(iii)(iii)pp", &kind, &xo, &k[0], &k[1], &k[2], &s[0], &s[1],
                          &s[2], &p[0], &p[1], &p[2], &d[0], &d[1], &d[2], &ceil_mode, &include_pad))
        return NULL;
    PyArrayObject *x = in_f32(xo, "input", 5, 5), *y = NULL, *idx = NULL;
    PyObject *res = NULL;
    if (!x) return NULL;
    int in[3] = {DIM(x, 2), DIM(x, 3), DIM(x, 4)};
    sai_pool_geom g;
    if (pool_geom(&g, x, in, k, s, p, d, ceil_mode, include_pad)) goto done;
    npy_intp dims[5] = {PyArray_DIM(x, 0), PyArray_DIM(x, 1), g.out[0], g.out[1], g.out[2]};
    if (!(y = new_f32(5, dims))) goto done;
    sai_status rc;
    if (kind == 0 || kind == 2) { /* 2: max without indices (inference) */
        if (kind == 0 && !(idx = new_array(5, dims, NPY_INT64))) goto done;
        SAI_CALL(rc, sai_maxpool_forward(&g, CF32(x), F32(y), idx ? (int64_t *)PyArray_DATA(idx) : NULL));
        RET_STATUS(rc);
        res = Py_BuildValue("(OO)", y, idx ? (PyObject *)idx : Py_None);
    } else {
        SAI_CALL(rc, sai_avgpool_forward(&g, CF32(x), F32(y)));
        RET_STATUS(rc);
        res = (PyObject *)y;
        y = NULL;
    }
done:
    Py_XDECREF(x);
    Py_XDECREF(y);
    Py_XDECREF(idx);
    return res;
}

/* pool_backward(kind, dy5, idx|None, in3, k3, s3, p3, d3, ceil, include_pad) -> dx */
static PyObject *py_pool_backward(PyObject *self, PyObject *args)
{
    PyObject *dyo, *io;
    int kind, in[3], k[3], s[3], p[3], d[3], ceil_mode, include_pad;
    if (!PyArg_ParseTuple(args, "iOO(iii)(iii)(iii)(iii)(iii)pp", &kind, &dyo, &io, &in[0], &in[1], &in[2],
                          &k[0], &k[1], &k[2], &s[0], &s[1], &s[2], &p[0], &p[1], &p[2], &d[0], &d[1], &d[2],
                          &ceil_mode, &include_pad))
        return NULL;
    PyArrayObject *dy = in_f32(dyo, "grad_output", 5, 5), *idx = NULL, *dx = NULL;
    PyObject *res = NULL;
    if (!dy) return NULL;
    sai_pool_geom g;
    if (pool_geom(&g, dy, in, k, s, p, d, ceil_mode, include_pad)) goto done;
    if (g.out[0] != DIM(dy, 2) || g.out[1] != DIM(dy, 3) || g.out[2] != DIM(dy, 4)) {
        PyErr_SetString(PyExc_ValueError, "pool backward: grad_output size does not match the geometry");
        goto done;
    }
    npy_intp dims[5] = {PyArray_DIM(dy, 0), PyArray_DIM(dy, 1), in[0], in[1], in[2]};
    if (!(dx = new_f32(5, dims))) goto done;
    sai_status rc;
    if (kind == 0) {
        if (!(idx = sai_py_array(io, "indices", NPY_INT64, 5, 5, IN_FLAGS, 0))) goto done;
        if (!same_shape(idx, dy, "max pool backward")) goto done;
        SAI_CALL(rc, sai_maxpool_backward(&g, CF32(dy), (const int64_t *)PyArray_DATA(idx), F32(dx)));
    } else {
        SAI_CALL(rc, sai_avgpool_backward(&g, CF32(dy), F32(dx)));
    }
    RET_STATUS(rc);
    res = (PyObject *)dx;
    dx = NULL;
done:
    Py_XDECREF(dy);
    Py_XDECREF(idx);
    Py_XDECREF(dx);
    return res;
}

/* adaptive_avgpool(a5, size3, backward): forward size3 = output size; backward size3 = input size */
static PyObject *py_adaptive_avgpool(PyObject *self, PyObject *args)
{
    PyObject *ao;
    int sz[3], backward;
    if (!PyArg_ParseTuple(args, "O(iii)p", &ao, &sz[0], &sz[1], &sz[2], &backward)) return NULL;
    PyArrayObject *a = in_f32(ao, backward ? "grad_output" : "input", 5, 5), *r = NULL;
    if (!a) return NULL;
    int have[3] = {DIM(a, 2), DIM(a, 3), DIM(a, 4)};
    for (int i = 0; i < 3; i++)
        if (sz[i] < 1) {
            Py_DECREF(a);
            PyErr_SetString(PyExc_ValueError, "adaptive pool: sizes must be >= 1");
            return NULL;
        }
    npy_intp dims[5] = {PyArray_DIM(a, 0), PyArray_DIM(a, 1), sz[0], sz[1], sz[2]};
    if (!(r = new_f32(5, dims))) {
        Py_DECREF(a);
        return NULL;
    }
    sai_status rc;
    int64_t nc = (int64_t)dims[0] * dims[1];
    if (backward)
        SAI_CALL(rc, sai_adaptive_avgpool_backward(nc, sz, have, CF32(a), F32(r)));
    else
        SAI_CALL(rc, sai_adaptive_avgpool_forward(nc, have, sz, CF32(a), F32(r)));
    Py_DECREF(a);
    if (rc) {
        Py_DECREF(r);
        return sai_py_raise(rc);
    }
    return (PyObject *)r;
}

/* ------------------------------------------------------------ upsampling */
/* upsample(a5, size3, mode, align, scale3, backward): size3 = output (fwd) or input (bwd) size */
static PyObject *py_upsample(PyObject *self, PyObject *args)
{
    PyObject *ao;
    int sz[3], mode, align, backward;
    double sc[3];
    if (!PyArg_ParseTuple(args, "O(iii)ip(ddd)p", &ao, &sz[0], &sz[1], &sz[2], &mode, &align, &sc[0], &sc[1],
                          &sc[2], &backward))
        return NULL;
    PyArrayObject *a = in_f32(ao, backward ? "grad_output" : "input", 5, 5), *r = NULL;
    if (!a) return NULL;
    int have[3] = {DIM(a, 2), DIM(a, 3), DIM(a, 4)};
    for (int i = 0; i < 3; i++)
        if (sz[i] < 1) {
            Py_DECREF(a);
            PyErr_SetString(PyExc_ValueError, "upsample: sizes must be >= 1");
            return NULL;
        }
    npy_intp dims[5] = {PyArray_DIM(a, 0), PyArray_DIM(a, 1), sz[0], sz[1], sz[2]};
    if (!(r = new_f32(5, dims))) {
        Py_DECREF(a);
        return NULL;
    }
    sai_status rc;
    int64_t nc = (int64_t)dims[0] * dims[1];
    if (backward)
        SAI_CALL(rc, sai_upsample_backward(nc, sz, have, mode, align, sc, CF32(a), F32(r)));
    else
        SAI_CALL(rc, sai_upsample_forward(nc, have, sz, mode, align, sc, CF32(a), F32(r)));
    Py_DECREF(a);
    if (rc) {
        Py_DECREF(r);
        return sai_py_raise(rc);
    }
    return (PyObject *)r;
}

/* ------------------------------------------------------------ linear and dropout */
static PyObject *py_linear_forward(PyObject *self, PyObject *args)
{
    PyObject *xo, *wo, *bo;
    if (!PyArg_ParseTuple(args, "OOO", &xo, &wo, &bo)) return NULL;
    PyArrayObject *x = NULL, *w = NULL, *b = NULL, *y = NULL;
    PyObject *res = NULL;
    if (!(x = in_f32(xo, "input", 2, 2)) || !(w = in_f32(wo, "weight", 2, 2))) goto done;
    if (bo != Py_None && !(b = in_f32(bo, "bias", 1, 1))) goto done;
    if (DIM(x, 1) != DIM(w, 1) || !len_is(b, DIM(w, 0), "bias")) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "linear: input features and weight disagree");
        goto done;
    }
    npy_intp dims[2] = {PyArray_DIM(x, 0), PyArray_DIM(w, 0)};
    if (!(y = new_f32(2, dims))) goto done;
    sai_status rc;
    SAI_CALL(rc, sai_linear_forward(CF32(x), CF32(w), b ? CF32(b) : NULL, DIM(x, 0), DIM(x, 1), DIM(w, 0), F32(y)));
    RET_STATUS(rc);
    res = (PyObject *)y;
    y = NULL;
done:
    Py_XDECREF(x);
    Py_XDECREF(w);
    Py_XDECREF(b);
    Py_XDECREF(y);
    return res;
}

static PyObject *py_linear_backward(PyObject *self, PyObject *args)
{
    PyObject *xo, *wo, *go;
    int want_dx, want_db;
    if (!PyArg_ParseTuple(args, "OOOpp", &xo, &wo, &go, &want_dx, &want_db)) return NULL;
    PyArrayObject *x = NULL, *w = NULL, *dy = NULL, *dx = NULL, *dw = NULL, *db = NULL;
    PyObject *res = NULL;
    if (!(x = in_f32(xo, "input", 2, 2)) || !(w = in_f32(wo, "weight", 2, 2)) ||
        !(dy = in_f32(go, "grad_output", 2, 2)))
        goto done;
    if (DIM(x, 1) != DIM(w, 1) || DIM(dy, 0) != DIM(x, 0) || DIM(dy, 1) != DIM(w, 0)) {
        PyErr_SetString(PyExc_ValueError, "linear backward: shapes disagree");
        goto done;
    }
    npy_intp xd[2] = {PyArray_DIM(x, 0), PyArray_DIM(x, 1)}, bd = PyArray_DIM(w, 0);
    if (!(dw = like(w)) || (want_dx && !(dx = new_f32(2, xd))) || (want_db && !(db = new_f32(1, &bd)))) goto done;
    sai_status rc;
    SAI_CALL(rc, sai_linear_backward(CF32(x), CF32(w), CF32(dy), DIM(x, 0), DIM(x, 1), DIM(w, 0),
                                     dx ? F32(dx) : NULL, F32(dw), db ? F32(db) : NULL));
    RET_STATUS(rc);
    res = Py_BuildValue("(OOO)", dx ? (PyObject *)dx : Py_None, dw, db ? (PyObject *)db : Py_None);
done:
    Py_XDECREF(x);
    Py_XDECREF(w);
    Py_XDECREF(dy);
    Py_XDECREF(dx);
    Py_XDECREF(dw);
    Py_XDECREF(db);
    return res;
}

static PyObject *py_dropout(PyObject *self, PyObject *args)
{
    PyObject *xo;
    float p;
    unsigned long long seed;
    if (!PyArg_ParseTuple(args, "OfK", &xo, &p, &seed)) return NULL;
    PyArrayObject *x = in_f32(xo, "input", 0, 32), *y = NULL;
    if (!x) return NULL;
    if (!(y = like(x))) {
        Py_DECREF(x);
        return NULL;
    }
    sai_status rc;
    SAI_CALL(rc, sai_dropout(CF32(x), PyArray_SIZE(x), p, (uint64_t)seed, F32(y)));
    Py_DECREF(x);
    if (rc) {
        Py_DECREF(y);
        return sai_py_raise(rc);
    }
    return (PyObject *)y;
}

static PyObject *py_cache_stats(PyObject *self, PyObject *noargs)
{
    int used = 0;
    for (int i = 0; i < CACHE_SLOTS; i++) used += g_cache[i].p != NULL;
    return Py_BuildValue("{s:K,s:K,s:n,s:i}", "hits", g_cache_hits, "misses", g_cache_misses, "cached_bytes",
                         (Py_ssize_t)g_cache_total, "cached_blocks", used);
}

static PyObject *py_release(PyObject *self, PyObject *noargs)
{
    sai_nn_workspace_release();
    for (int i = 0; i < CACHE_SLOTS; i++)
        if (g_cache[i].p) {
            sai_free(g_cache[i].p);
            g_cache[i].p = NULL;
        }
    g_cache_total = 0;
    Py_RETURN_NONE;
}

#define SAI_NN_OPS_METHODS                                                                              \
    {"nn_norm_stats", py_norm_stats, METH_VARARGS, "nn_norm_stats(x, groups) -> (mean, var); groups 0 = batch norm"}, \
    {"nn_norm_apply", py_norm_apply, METH_VARARGS, "nn_norm_apply(x, groups, mean, invstd, gamma, beta) -> y"},   \
    {"nn_norm_backward", py_norm_backward, METH_VARARGS,                                                  \
     "nn_norm_backward(x, dy, groups, batch_stats, mean, invstd, gamma, want_dx, want_affine)"},          \
    {"nn_act_forward", py_act_forward, METH_VARARGS, "nn_act_forward(kind, x, slope) -> y"},            \
    {"nn_act_backward", py_act_backward, METH_VARARGS, "nn_act_backward(kind, saved, dy, slope) -> dx"}, \
    {"nn_prelu", py_prelu, METH_VARARGS, "nn_prelu(x, dy|None, w) -> y or (dx, dw)"},                  \
    {"nn_softmax", py_softmax, METH_VARARGS, "nn_softmax(x_or_y, dy|None, log) -> y or dx"},           \
    {"nn_pool_forward", py_pool_forward, METH_VARARGS, "nn_pool_forward(kind, x5, k, s, p, d, ceil, include_pad)"}, \
    {"nn_pool_backward", py_pool_backward, METH_VARARGS,                                                  \
     "nn_pool_backward(kind, dy5, idx, in3, k, s, p, d, ceil, include_pad) -> dx"},                       \
    {"nn_adaptive_avgpool", py_adaptive_avgpool, METH_VARARGS, "nn_adaptive_avgpool(a5, size3, backward)"}, \
    {"nn_upsample", py_upsample, METH_VARARGS, "nn_upsample(a5, size3, mode, align, scale3, backward)"},  \
    {"nn_linear_forward", py_linear_forward, METH_VARARGS, "nn_linear_forward(x, w, b) -> y"},          \
    {"nn_linear_backward", py_linear_backward, METH_VARARGS,                                              \
     "nn_linear_backward(x, w, dy, want_dx, want_db) -> (dx, dw, db)"},                                   \
    {"nn_dropout", py_dropout, METH_VARARGS, "nn_dropout(x, p, seed) -> y (also the backward of dy)"},  \
    {"nn_block_cache_stats", py_cache_stats, METH_NOARGS, "nn_block_cache_stats() -> dict of output-block cache counters"}, \
    {"nn_workspace_release", py_release, METH_NOARGS, "free the calling thread's nn scratch memory and the cached output blocks"},

PyMethodDef sai_py_nn_methods[] = {
    {"nn_conv_forward", py_conv_forward, METH_VARARGS,
     "nn_conv_forward(x5, w5, b|None, stride3, pad3, dil3, groups, relu=False) -> y5 (relu: ReLU fused)"},
    {"nn_conv_backward_data", py_conv_backward_data, METH_VARARGS,
     "nn_conv_backward_data(dy5, w5, b|None, in_size3, stride3, pad3, dil3, groups) -> dx5"},
    {"nn_conv_backward_weight", py_conv_backward_weight, METH_VARARGS,
     "nn_conv_backward_weight(x5, dy5, k3, stride3, pad3, dil3, groups, want_bias) -> (dw, db|None)"},
    {"nn_channel_sum", py_channel_sum, METH_VARARGS, "nn_channel_sum(t) -> per-channel sums"},
    {"nn_gate_forward", py_gate_forward, METH_VARARGS, "nn_gate_forward(x, p) -> x * p (p: [N, 1, *S])"},
    {"nn_gate_backward", py_gate_backward, METH_VARARGS,
     "nn_gate_backward(g, x, p) -> (g * p, sum over channels of g * x)"},
    {"nn_conv_tile_bytes", py_conv_tile_bytes, METH_VARARGS, "nn_conv_tile_bytes(fwd, bwd): tuning"},
    {"nn_conv_use_winograd", py_conv_use_winograd, METH_VARARGS,
     "nn_conv_use_winograd(on, min_channels=0): Winograd F(2,3) for 3x3(x3) stride-1 layers (default on, >= 8 channels)"},
    {"nn_conv_winograd_tile_2d", py_conv_winograd_tile_2d, METH_VARARGS,
     "nn_conv_winograd_tile_2d(m): forward tile of kernel-depth-1 Winograd layers, 2 (default) or 4"},
    {"nn_conv_use_packed", py_conv_use_packed, METH_VARARGS,
     "nn_conv_use_packed(level): 2 packed AVX-512 GEMM + implicit path for <= 32 output channels (default), 3 implicit for all unit-stride layers, 1 packed on im2col tiles, 0 OpenBLAS"},
    {"nn_sgemm", py_sgemm, METH_VARARGS, "nn_sgemm(a, b) -> a @ b through sai_sgemm"},
    SAI_NN_OPS_METHODS
    {NULL, NULL, 0, NULL},
};

extern PyMethodDef sai_py_nn_train_methods[]; /* py_nn_train.c */
extern PyMethodDef sai_py_nn_fused_methods[]; /* py_nn_fused.c */

int sai_py_nn_init(PyObject *m)
{
    if (PyModule_AddFunctions(m, sai_py_nn_train_methods) < 0) return -1;
    if (PyModule_AddFunctions(m, sai_py_nn_fused_methods) < 0) return -1;
    return 0;
}
