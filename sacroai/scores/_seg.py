"""Segmentation overlap and surface-distance metrics (SCORES.md section 11).

Borders as in MedPy (mask XOR its erosion, image edge = background); distances
between voxel centres in physical units from an exact Euclidean distance
transform computed in the C core (``scores_seg_edt_sq``)."""

import numpy as np

from .. import _core
from . import _validate as V
from ._engine import System

INF = "inf"


def _mask(value, path):
    try:
        if isinstance(value, np.ndarray):
            a = value
        else:
            a = np.array(value)
    except (ValueError, TypeError):
        raise V.Reject("malformed_input", path)
    if a.dtype == np.bool_:
        a = a.astype(np.uint8)
    if a.dtype.kind not in "iuf" or a.ndim < 1 or a.ndim > 3 or a.size == 0:
        raise V.Reject("malformed_input", path)
    if not np.all((a == 0) | (a == 1)):
        raise V.Reject("value_out_of_range", path)
    return np.ascontiguousarray(a, dtype=np.uint8)


def surface(mask, connectivity=1):
    """Border voxels (uint8) of a 1-3-D mask; see SCORES.md 11.2."""
    return _core.scores_seg_surface(np.ascontiguousarray(mask, dtype=np.uint8), int(connectivity))


def distance_to(feature, spacing):
    """Euclidean distance (physical units) from every voxel to the nearest non-zero voxel."""
    feature = np.ascontiguousarray(feature, dtype=np.uint8)
    return np.sqrt(_core.scores_seg_edt_sq(feature, np.asarray(spacing, np.float64)))


def _p95(x):
    return float(np.percentile(x, 95.0))  # linear interpolation, rank 0.95 (n - 1)


def compute(pred, ref, spacing, connectivity):
    """All metrics as a dict (floats; inf / None per the empty-mask rules)."""
    n_p, n_r = int(pred.sum()), int(ref.sum())
    inter = int(np.count_nonzero(pred & ref))
    union = n_p + n_r - inter
    res = {"dice": 1.0 if n_p + n_r == 0 else 2.0 * inter / (n_p + n_r),
           "jaccard": 1.0 if union == 0 else inter / union,
           "rvd": None if n_r == 0 else (n_p - n_r) / n_r}
    names = ("hd", "hd95", "hd95_pooled", "assd", "assd_mean_of_means")
    empty = "both" if n_p == 0 and n_r == 0 else ("pred" if n_p == 0 else ("ref" if n_r == 0 else "none"))
    if empty != "none":
        res.update({k: (None if empty == "both" else INF) for k in names})
    else:
        sp_, sr = surface(pred, connectivity), surface(ref, connectivity)
        d_pr = distance_to(sr, spacing)[sp_.astype(bool)]
        d_rp = distance_to(sp_, spacing)[sr.astype(bool)]
        pooled = np.concatenate([d_pr, d_rp])
        res.update({"hd": float(max(d_pr.max(), d_rp.max())),
                    "hd95": max(_p95(d_pr), _p95(d_rp)),
                    "hd95_pooled": _p95(pooled),
                    "assd": float(pooled.sum() / pooled.size),
                    "assd_mean_of_means": float((d_pr.mean() + d_rp.mean()) / 2.0)})
    res.update({"empty": empty, "n_pred": n_p, "n_ref": n_r, "n_intersection": inter})
    return res


class SegMetrics(System):
    """Input: {"pred": mask, "ref": mask, "spacing": [..] (optional, mm per axis),
    "connectivity": 1..ndim (optional, default 1)}; masks are 1-3-D arrays of 0/1."""

    name = "seg_metrics"

    def parse(self, data):
        V.mapping(data, "")
        V.keys(data, "", ("pred", "ref"), ("spacing", "connectivity"))
        pred, ref = _mask(data["pred"], "pred"), _mask(data["ref"], "ref")
        if pred.shape != ref.shape:
            raise V.Reject("shape_mismatch", "ref")
        nd = pred.ndim
        sp = data.get("spacing")
        if sp is None:
            spacing = [1.0] * nd
        else:
            sp = V.sequence(sp, "spacing", nd)
            spacing = [V.real(v, V.join("spacing", k), 0.0, null=False, lo_open=True) for k, v in enumerate(sp)]
        conn = V.grade(data.get("connectivity", 1), "connectivity", 1, nd, null=False)
        return {"items": [(pred, ref, spacing, conn)]}, None

    def stack(self, parts):
        return {"items": [it for p in parts for it in p["items"]]}

    def run(self, b, n, group):
        st, re, fi = np.zeros(n, np.int8), np.zeros(n, np.int8), np.full(n, -1, np.int32)
        return {"status": st, "reason": re, "field": fi, "res": [compute(*it) for it in b["items"]]}

    def result(self, out, i, ctx):
        return dict(out["res"][i])
