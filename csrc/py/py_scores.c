/* py_scores.c: Python wrappers of the scores core (csrc/scores/).
 *
 * The wrappers are thin: sacroai.scores packs every table into typed,
 * C-contiguous arrays and allocates the outputs; here we check dtype, size
 * and writeability, release the GIL and call the core. */
#include "py_util.h"
#include "sacroai/sai_scores.h"

#define MAXARGS 16

typedef struct {
    PyArrayObject *a[MAXARGS];
    int n;
} holder;

static void release(holder *h)
{
    for (int i = 0; i < h->n; i++) Py_XDECREF(h->a[i]);
    h->n = 0;
}

/* Fetch argument `obj` as a C-contiguous array of `typenum` with `size`
 * elements (size < 0: any).  Outputs must be writeable arrays already. */
static void *get(holder *h, PyObject *obj, const char *name, int typenum, npy_intp size, int output)
{
    int flags = output ? (NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_WRITEABLE | NPY_ARRAY_ALIGNED)
                       : NPY_ARRAY_CARRAY_RO;
    if (output && (!PyArray_Check(obj) || !PyArray_ISCARRAY((PyArrayObject *)obj))) {
        PyErr_Format(PyExc_ValueError, "%s must be a writeable C-contiguous numpy array", name);
        return NULL;
    }
    PyArrayObject *a = sai_py_array(obj, name, typenum, 0, 8, flags, 0);
    if (!a) return NULL;
    h->a[h->n++] = a;
    if (size >= 0 && PyArray_SIZE(a) != size) {
        PyErr_Format(PyExc_ValueError, "%s must hold %zd elements, got %zd", name, (Py_ssize_t)size,
                     (Py_ssize_t)PyArray_SIZE(a));
        return NULL;
    }
    return PyArray_DATA(a);
}

/* Parse exactly `count` positional objects into objs[]. */
static int unpack(PyObject *args, const char *fname, int count, PyObject **objs)
{
    if (!PyTuple_Check(args) || PyTuple_GET_SIZE(args) != count) {
        PyErr_Format(PyExc_TypeError, "%s takes %d arguments", fname, count);
        return -1;
    }
    for (int i = 0; i < count; i++) objs[i] = PyTuple_GET_ITEM(args, i);
    return 0;
}

static int get_n(PyObject *o, int64_t *n)
{
    long long v = PyLong_AsLongLong(o);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (v < 0) { PyErr_SetString(PyExc_ValueError, "n must be >= 0"); return -1; }
    *n = v;
    return 0;
}

#define ROWS(i)                                                             \
    sai_sc_rows rows;                                                        \
    rows.status = get(&h, o[i], "status", NPY_INT8, n, 1);                   \
    rows.reason = rows.status ? get(&h, o[i + 1], "reason", NPY_INT8, n, 1) : NULL; \
    rows.field = rows.reason ? get(&h, o[i + 2], "field", NPY_INT32, n, 1) : NULL; \
    if (!rows.field) goto fail;

#define FINISH(call)                      \
    sai_status rc;                        \
    SAI_CALL(rc, call);                   \
    release(&h);                          \
    if (rc) return sai_py_raise(rc);      \
    Py_RETURN_NONE;                       \
fail:                                     \
    release(&h);                          \
    return NULL;

#define G(var, type, i, name, typenum, size, out) \
    type *var = get(&h, o[i], name, typenum, size, out); \
    if (!var) goto fail;

/* sparcc_sij(n, quad, intense, deep, status, reason, field, out) */
static PyObject *py_sparcc_sij(PyObject *self, PyObject *args)
{
    PyObject *o[8];
    holder h = {.n = 0};
    int64_t n;
    if (unpack(args, "scores_sparcc_sij", 8, o) || get_n(o[0], &n)) return NULL;
    G(q, int8_t, 1, "quad", NPY_INT8, n * 48, 0);
    G(in, int8_t, 2, "intense", NPY_INT8, n * 12, 0);
    G(de, int8_t, 3, "deep", NPY_INT8, n * 12, 0);
    ROWS(4);
    G(out, int32_t, 7, "out", NPY_INT32, n * SAI_SPARCC_SIJ_NOUT, 1);
    FINISH(sai_sparcc_sij(n, q, in, de, rows, out));
}

/* sparcc_spine(n, quad, intense, deep, present, status, reason, field, dvu_score, total, total_all, selected) */
static PyObject *py_sparcc_spine(PyObject *self, PyObject *args)
{
    PyObject *o[12];
    holder h = {.n = 0};
    int64_t n;
    if (unpack(args, "scores_sparcc_spine", 12, o) || get_n(o[0], &n)) return NULL;
    G(q, int8_t, 1, "quad", NPY_INT8, n * 23 * 12, 0);
    G(in, int8_t, 2, "intense", NPY_INT8, n * 69, 0);
    G(de, int8_t, 3, "deep", NPY_INT8, n * 69, 0);
    G(pr, int8_t, 4, "present", NPY_INT8, n * 23, 0);
    ROWS(5);
    G(sc, int32_t, 8, "dvu_score", NPY_INT32, n * 23, 1);
    G(tot, int32_t, 9, "total", NPY_INT32, n, 1);
    G(all, int32_t, 10, "total_all", NPY_INT32, n, 1);
    G(sel, int32_t, 11, "selected", NPY_INT32, n * 6, 1);
    FINISH(sai_sparcc_spine(n, q, in, de, pr, rows, sc, tot, all, sel));
}

/* sparcc_sss(n, quad, halves, status, reason, field, out) */
static PyObject *py_sparcc_sss(PyObject *self, PyObject *args)
{
    PyObject *o[7];
    holder h = {.n = 0};
    int64_t n;
    if (unpack(args, "scores_sparcc_sss", 7, o) || get_n(o[0], &n)) return NULL;
    G(q, int8_t, 1, "quad", NPY_INT8, n * 80, 0);
    G(hv, int8_t, 2, "halves", NPY_INT8, n * 40, 0);
    ROWS(3);
    G(out, int32_t, 6, "out", NPY_INT32, n * SAI_SSS_NOUT, 1);
    FINISH(sai_sparcc_sss(n, q, hv, rows, out));
}

/* msasss(n, sites, impute, status, reason, field, out, n_imputed, unpaired) */
static PyObject *py_msasss(PyObject *self, PyObject *args)
{
    PyObject *o[9];
    holder h = {.n = 0};
    int64_t n;
    if (unpack(args, "scores_msasss", 9, o) || get_n(o[0], &n)) return NULL;
    int impute = (int)PyLong_AsLong(o[2]);
    if (impute == -1 && PyErr_Occurred()) return NULL;
    G(x, int8_t, 1, "sites", NPY_INT8, n * 24, 0);
    ROWS(3);
    G(out, double, 6, "out", NPY_FLOAT64, n * 3, 1);
    G(ni, int32_t, 7, "n_imputed", NPY_INT32, n, 1);
    G(up, int32_t, 8, "unpaired", NPY_INT32, n, 1);
    FINISH(sai_msasss(n, x, impute, rows, out, ni, up));
}

/* mny(n, grades, clinical, has_clinical, status, reason, field, criterion, class3, as_status) */
static PyObject *py_mny(PyObject *self, PyObject *args)
{
    PyObject *o[10];
    holder h = {.n = 0};
    int64_t n;
    if (unpack(args, "scores_mny", 10, o) || get_n(o[0], &n)) return NULL;
    G(g, int8_t, 1, "grades", NPY_INT8, n * 2, 0);
    G(c, int8_t, 2, "clinical", NPY_INT8, n * 3, 0);
    G(hc, int8_t, 3, "has_clinical", NPY_INT8, n, 0);
    ROWS(4);
    G(cr, int8_t, 7, "criterion", NPY_INT8, n, 1);
    G(c3, int8_t, 8, "class3", NPY_INT8, n * 2, 1);
    G(as, int8_t, 9, "as_status", NPY_INT8, n, 1);
    FINISH(sai_mny(n, g, c, hc, rows, cr, c3, as));
}

/* asas_mri_sij(n, lesion_ptr, slice_ptr, slice_idx, typical, suggestive, status, reason, field, positive, criterion) */
static PyObject *py_asas_mri_sij(PyObject *self, PyObject *args)
{
    PyObject *o[11];
    holder h = {.n = 0};
    int64_t n;
    if (unpack(args, "scores_asas_mri_sij", 11, o) || get_n(o[0], &n)) return NULL;
    G(lp, int64_t, 1, "lesion_ptr", NPY_INT64, n + 1, 0);
    npy_intp nl = lp[n];
    G(sp, int64_t, 2, "slice_ptr", NPY_INT64, nl + 1, 0);
    G(si, int32_t, 3, "slice_idx", NPY_INT32, sp[nl], 0);
    G(ty, int8_t, 4, "typical", NPY_INT8, nl, 0);
    G(su, int8_t, 5, "suggestive", NPY_INT8, n, 0);
    ROWS(6);
    G(pos, int8_t, 9, "positive", NPY_INT8, n, 1);
    G(cr, int8_t, 10, "criterion", NPY_INT8, n, 1);
    FINISH(sai_asas_mri_sij(n, lp, sp, si, ty, su, rows, pos, cr));
}

/* asas_axspa(n, months, onset_age, flags, status, reason, field, out) */
static PyObject *py_asas_axspa(PyObject *self, PyObject *args)
{
    PyObject *o[8];
    holder h = {.n = 0};
    int64_t n;
    if (unpack(args, "scores_asas_axspa", 8, o) || get_n(o[0], &n)) return NULL;
    G(mo, double, 1, "months", NPY_FLOAT64, n, 0);
    G(ag, double, 2, "onset_age", NPY_FLOAT64, n, 0);
    G(fl, int8_t, 3, "flags", NPY_INT8, n * 13, 0);
    ROWS(4);
    G(out, int8_t, 7, "out", NPY_INT8, n * 5, 1);
    FINISH(sai_asas_axspa(n, mo, ag, fl, rows, out));
}

/* kl(n, grade, status, reason, field, oa) */
static PyObject *py_kl(PyObject *self, PyObject *args)
{
    PyObject *o[6];
    holder h = {.n = 0};
    int64_t n;
    if (unpack(args, "scores_kl", 6, o) || get_n(o[0], &n)) return NULL;
    G(g, int8_t, 1, "grade", NPY_INT8, n, 0);
    ROWS(2);
    G(oa, int8_t, 5, "oa", NPY_INT8, n, 1);
    FINISH(sai_kl(n, g, rows, oa));
}

/* oarsi_hip(n, feat, status, reason, field, out, warn) */
static PyObject *py_oarsi_hip(PyObject *self, PyObject *args)
{
    PyObject *o[7];
    holder h = {.n = 0};
    int64_t n;
    if (unpack(args, "scores_oarsi_hip", 7, o) || get_n(o[0], &n)) return NULL;
    G(f, int8_t, 1, "feat", NPY_INT8, n * 9, 0);
    ROWS(2);
    G(out, int8_t, 5, "out", NPY_INT8, n * 4, 1);
    G(w, int8_t, 6, "warn", NPY_INT8, n, 1);
    FINISH(sai_oarsi_hip(n, f, rows, out, w));
}

/* svdh(n, joints, status, reason, field, out) */
static PyObject *py_svdh(PyObject *self, PyObject *args)
{
    PyObject *o[6];
    holder h = {.n = 0};
    int64_t n;
    if (unpack(args, "scores_svdh", 6, o) || get_n(o[0], &n)) return NULL;
    G(j, int8_t, 1, "joints", NPY_INT8, n * SAI_SVDH_NJ, 0);
    ROWS(2);
    G(out, int32_t, 5, "out", NPY_INT32, n * 9, 1);
    FINISH(sai_svdh(n, j, rows, out));
}

/* us_synovitis(n, joint_ptr, gs, pd, status, reason, field, combined, out) */
static PyObject *py_us_synovitis(PyObject *self, PyObject *args)
{
    PyObject *o[9];
    holder h = {.n = 0};
    int64_t n;
    if (unpack(args, "scores_us_synovitis", 9, o) || get_n(o[0], &n)) return NULL;
    G(jp, int64_t, 1, "joint_ptr", NPY_INT64, n + 1, 0);
    npy_intp nj = jp[n];
    G(gs, int8_t, 2, "gs", NPY_INT8, nj, 0);
    G(pd, int8_t, 3, "pd", NPY_INT8, nj, 0);
    ROWS(4);
    G(cb, int8_t, 7, "combined", NPY_INT8, nj, 1);
    G(out, int32_t, 8, "out", NPY_INT32, n * 5, 1);
    FINISH(sai_us_synovitis(n, jp, gs, pd, rows, cb, out));
}

/* asdas(n, kind, rounded, bp, dur, pg, pp, apr, status, reason, field, score, apr_used, state) */
static PyObject *py_asdas(PyObject *self, PyObject *args)
{
    PyObject *o[14];
    holder h = {.n = 0};
    int64_t n;
    if (unpack(args, "scores_asdas", 14, o) || get_n(o[0], &n)) return NULL;
    int kind = (int)PyLong_AsLong(o[1]), rounded = (int)PyLong_AsLong(o[2]);
    if (PyErr_Occurred()) return NULL;
    G(bp, double, 3, "back_pain", NPY_FLOAT64, n, 0);
    G(du, double, 4, "morning_stiffness_duration", NPY_FLOAT64, n, 0);
    G(pg, double, 5, "patient_global", NPY_FLOAT64, n, 0);
    G(pp, double, 6, "peripheral_pain_swelling", NPY_FLOAT64, n, 0);
    G(ap, double, 7, "apr", NPY_FLOAT64, n, 0);
    ROWS(8);
    G(sc, double, 11, "score", NPY_FLOAT64, n, 1);
    G(au, double, 12, "apr_used", NPY_FLOAT64, n, 1);
    G(st, int8_t, 13, "state", NPY_INT8, n, 1);
    FINISH(sai_asdas(n, kind, rounded, bp, du, pg, pp, ap, rows, sc, au, st));
}

/* asdas_change(n, baseline, followup, status, reason, field, delta, important, major) */
static PyObject *py_asdas_change(PyObject *self, PyObject *args)
{
    PyObject *o[9];
    holder h = {.n = 0};
    int64_t n;
    if (unpack(args, "scores_asdas_change", 9, o) || get_n(o[0], &n)) return NULL;
    G(b, double, 1, "baseline", NPY_FLOAT64, n, 0);
    G(f, double, 2, "followup", NPY_FLOAT64, n, 0);
    ROWS(3);
    G(d, double, 6, "delta", NPY_FLOAT64, n, 1);
    G(im, int8_t, 7, "important", NPY_INT8, n, 1);
    G(ma, int8_t, 8, "major", NPY_INT8, n, 1);
    FINISH(sai_asdas_change(n, b, f, rows, d, im, ma));
}

/* basdai(n, q, status, reason, field, score, active) */
static PyObject *py_basdai(PyObject *self, PyObject *args)
{
    PyObject *o[7];
    holder h = {.n = 0};
    int64_t n;
    if (unpack(args, "scores_basdai", 7, o) || get_n(o[0], &n)) return NULL;
    G(q, double, 1, "q", NPY_FLOAT64, n * 6, 0);
    ROWS(2);
    G(sc, double, 5, "score", NPY_FLOAT64, n, 1);
    G(ac, int8_t, 6, "active", NPY_INT8, n, 1);
    FINISH(sai_basdai(n, q, rows, sc, ac));
}

/* das28(n, variant, tjc, sjc, apr, gh, status, reason, field, score, state) */
static PyObject *py_das28(PyObject *self, PyObject *args)
{
    PyObject *o[11];
    holder h = {.n = 0};
    int64_t n;
    if (unpack(args, "scores_das28", 11, o) || get_n(o[0], &n)) return NULL;
    G(v, int8_t, 1, "variant", NPY_INT8, n, 0);
    G(t, double, 2, "tjc28", NPY_FLOAT64, n, 0);
    G(s, double, 3, "sjc28", NPY_FLOAT64, n, 0);
    G(a, double, 4, "apr", NPY_FLOAT64, n, 0);
    G(g, double, 5, "patient_global_mm", NPY_FLOAT64, n, 0);
    ROWS(6);
    G(sc, double, 9, "score", NPY_FLOAT64, n, 1);
    G(st, int8_t, 10, "state", NPY_INT8, n, 1);
    FINISH(sai_das28(n, v, t, s, a, g, rows, sc, st));
}

/* seg_surface(mask uint8 C-contiguous 1-3 D, connectivity) -> uint8 array */
static PyObject *py_seg_surface(PyObject *self, PyObject *args)
{
    PyObject *mobj;
    int conn;
    if (!PyArg_ParseTuple(args, "Oi", &mobj, &conn)) return NULL;
    PyArrayObject *m = sai_py_array(mobj, "mask", NPY_UINT8, 1, 3, NPY_ARRAY_CARRAY_RO, 0);
    if (!m) return NULL;
    int nd = PyArray_NDIM(m);
    int64_t shape[3];
    for (int k = 0; k < nd; k++) shape[k] = PyArray_DIM(m, k);
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(nd, PyArray_DIMS(m), NPY_UINT8);
    if (!out) { Py_DECREF(m); return NULL; }
    sai_status rc;
    SAI_CALL(rc, sai_seg_surface(nd, shape, PyArray_DATA(m), conn, PyArray_DATA(out)));
    Py_DECREF(m);
    if (rc) { Py_DECREF(out); return sai_py_raise(rc); }
    return (PyObject *)out;
}

/* seg_edt_sq(feature uint8 1-3 D, spacing float64[ndim]) -> float64 squared distances */
static PyObject *py_seg_edt_sq(PyObject *self, PyObject *args)
{
    PyObject *fobj, *sobj;
    if (!PyArg_ParseTuple(args, "OO", &fobj, &sobj)) return NULL;
    PyArrayObject *f = sai_py_array(fobj, "feature", NPY_UINT8, 1, 3, NPY_ARRAY_CARRAY_RO, 0);
    if (!f) return NULL;
    PyArrayObject *sp = sai_py_array(sobj, "spacing", NPY_FLOAT64, 1, 1, NPY_ARRAY_CARRAY_RO, 1);
    if (!sp) { Py_DECREF(f); return NULL; }
    int nd = PyArray_NDIM(f);
    if (PyArray_SIZE(sp) != nd) {
        PyErr_Format(PyExc_ValueError, "spacing must hold %d numbers, got %zd", nd, (Py_ssize_t)PyArray_SIZE(sp));
        Py_DECREF(f); Py_DECREF(sp);
        return NULL;
    }
    int64_t shape[3];
    for (int k = 0; k < nd; k++) shape[k] = PyArray_DIM(f, k);
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(nd, PyArray_DIMS(f), NPY_FLOAT64);
    if (!out) { Py_DECREF(f); Py_DECREF(sp); return NULL; }
    sai_status rc;
    SAI_CALL(rc, sai_seg_edt_sq(nd, shape, PyArray_DATA(sp), PyArray_DATA(f), PyArray_DATA(out)));
    Py_DECREF(f);
    Py_DECREF(sp);
    if (rc) { Py_DECREF(out); return sai_py_raise(rc); }
    return (PyObject *)out;
}

PyMethodDef sai_py_scores_methods[] = {
    {"scores_sparcc_sij", py_sparcc_sij, METH_VARARGS, "SPARCC SIJ kernel (see sacroai.scores)."},
    {"scores_sparcc_spine", py_sparcc_spine, METH_VARARGS, "SPARCC spine kernel."},
    {"scores_sparcc_sss", py_sparcc_sss, METH_VARARGS, "SPARCC SSS kernel."},
    {"scores_msasss", py_msasss, METH_VARARGS, "mSASSS kernel."},
    {"scores_mny", py_mny, METH_VARARGS, "modified New York kernel."},
    {"scores_asas_mri_sij", py_asas_mri_sij, METH_VARARGS, "ASAS MRI kernel."},
    {"scores_asas_axspa", py_asas_axspa, METH_VARARGS, "ASAS axSpA kernel."},
    {"scores_kl", py_kl, METH_VARARGS, "Kellgren-Lawrence kernel."},
    {"scores_oarsi_hip", py_oarsi_hip, METH_VARARGS, "OARSI hip / Croft kernel."},
    {"scores_svdh", py_svdh, METH_VARARGS, "Sharp/van der Heijde kernel."},
    {"scores_us_synovitis", py_us_synovitis, METH_VARARGS, "EULAR-OMERACT ultrasound kernel."},
    {"scores_asdas", py_asdas, METH_VARARGS, "ASDAS kernel."},
    {"scores_asdas_change", py_asdas_change, METH_VARARGS, "ASDAS change kernel."},
    {"scores_basdai", py_basdai, METH_VARARGS, "BASDAI kernel."},
    {"scores_das28", py_das28, METH_VARARGS, "DAS28 kernel."},
    {"scores_seg_surface", py_seg_surface, METH_VARARGS, "Border voxels of a mask."},
    {"scores_seg_edt_sq", py_seg_edt_sq, METH_VARARGS, "Exact squared Euclidean distance transform."},
    {NULL, NULL, 0, NULL},
};

int sai_py_scores_init(PyObject *m) { return 0; }
