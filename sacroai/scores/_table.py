"""Vectorised cohort tables: one core call for N rows given as columns.

A table is a pandas DataFrame or a dict of equal-length 1-D arrays, one row
per patient / visit / reader.  Cell conventions: NaN or None = null;
for SPARCC SIJ quadrants the string "na" (or the number -2) = quadrant absent.
A bad cell marks only its row (status "error", reason, field); other rows are
scored.  Column names are the system's field names (see COLUMNS)."""
import numpy as np

from .. import _core
from . import _validate as V
from ._activity import ASDAS_ITEMS, ASDAS_STATES, BASDAI_ITEMS, DAS28_STATES
from ._radiographic import KL_LABELS, MNY_CLINICAL, MSASSS_SITES
from ._sparcc import SIDES, SIJ_QUADRANTS

SIJ_COLUMNS = tuple(f"s{s + 1}_{side}_{item}" for s in range(6) for side in SIDES
                    for item in SIJ_QUADRANTS + ("intense", "deep"))

COLUMNS = {
    "sparcc_sij": SIJ_COLUMNS,
    "asdas_crp": ASDAS_ITEMS + ("crp_mg_l",),
    "asdas_esr": ASDAS_ITEMS + ("esr_mm_h",),
    "asdas_change": ("baseline", "followup"),
    "basdai": BASDAI_ITEMS,
    "das28": ("tjc28", "sjc28"),  # plus esr_mm_h and/or crp_mg_l, optional patient_global_mm
    "mny": ("left", "right"),      # plus optional clinical columns
    "kl": ("grade",),
    "msasss": MSASSS_SITES,
}


class _Pre:
    """Row errors found while converting cells (before the core call)."""

    def __init__(self, n):
        self.reason = np.zeros(n, np.int8)
        self.field = np.full(n, "", dtype=object)

    def flag(self, mask, reason, field):
        new = mask & (self.reason == 0)
        self.reason[new] = V.REASONS.index(reason)
        self.field[new] = field


def _column(table, name, n, pre, required=True):
    if name not in table:
        if required:
            raise KeyError(f"table is missing column {name!r}")
        return None
    col = table[name]
    col = np.asarray(col.to_numpy() if hasattr(col, "to_numpy") else col)
    if col.shape != (n,):
        raise ValueError(f"table column {name!r} must have shape ({n},), got {col.shape}")
    return col


def _as_float(col, name, pre):
    """Float64 column; non-numeric cells flag malformed_input."""
    if col.dtype.kind in "iuf":
        return col.astype(np.float64)
    if col.dtype.kind == "b":
        pre.flag(np.ones(col.shape, bool), "malformed_input", name)
        return np.full(col.shape, np.nan)
    out = np.full(col.shape, np.nan)
    for i, v in enumerate(col):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            continue
        if isinstance(v, (bool, np.bool_, str)) or not isinstance(v, (int, float, np.integer, np.floating)):
            pre.flag(np.arange(col.size) == i, "malformed_input", name)
        else:
            out[i] = float(v)
    return out


def _as_grade(col, name, pre, na_ok=False):
    """int8 grade column: NaN/None -> NULL, "na" -> NA (when allowed),
    non-integral or huge numbers -> SAI_SC_BAD (value_out_of_range in the core)."""
    if col.dtype.kind == "O" and na_ok:
        is_na = np.array([isinstance(v, str) and v == "na" for v in col])
        col = np.where(is_na, -2.0, col)
        col = np.asarray(col)
    f = _as_float(col, name, pre)
    out = np.full(f.shape, V.NULL, np.int8)
    ok = ~np.isnan(f)
    integral = ok & (f == np.floor(f)) & (np.abs(f) < 100)
    out[integral] = f[integral].astype(np.int8)
    out[ok & ~integral] = -100
    if not na_ok:
        out[out == V.NA] = -100
    return out


def _rows_result(n, st, re, fi, pre, field_name):
    status = np.array(V.STATUS, dtype=object)[st]
    reason = np.array(V.REASONS, dtype=object)[re]
    field = np.array([field_name(int(k)) if s == 2 else "" for k, s in zip(fi, st)], dtype=object)
    bad = pre.reason > 0
    status[bad] = "error"
    reason[bad] = np.array(V.REASONS, dtype=object)[pre.reason[bad]]
    field[bad] = pre.field[bad]
    reason[status != "error"] = None
    return {"row": np.arange(n), "status": status, "reason": reason, "field": field}, bad | (st == 2)


def _nullable(a, err, null=-1):
    out = a.astype(np.float64)
    out[(a == null) | err] = np.nan
    return out


def _names(codes, names, err):
    lut = np.array(list(names) + [None], dtype=object)
    c = codes.astype(np.int64)
    c[(c < 0) | err] = len(names)
    return lut[c]


def score_columns(system, table):
    """Score a columnar table in one core call; returns a dict of columns."""
    n = len(next(iter(table.values()))) if isinstance(table, dict) else len(table)
    pre = _Pre(n)
    st, re, fi = V.rows_out(n)
    if system == "sparcc_sij":
        grid = np.empty((n, 6, 2, 6), np.int8)
        for s in range(6):
            for k, side in enumerate(SIDES):
                for j, item in enumerate(SIJ_QUADRANTS + ("intense", "deep")):
                    name = f"s{s + 1}_{side}_{item}"
                    grid[:, s, k, j] = _as_grade(_column(table, name, n, pre), name, pre, na_ok=j < 4)
        quad = np.ascontiguousarray(grid[..., :4])
        intense, deep = np.ascontiguousarray(grid[..., 4]), np.ascontiguousarray(grid[..., 5])
        out = np.empty((n, 13), np.int32)
        _core.scores_sparcc_sij(n, quad, intense, deep, st, re, fi, out)

        def fname(i):
            if i < 48:
                return f"s{i // 8 + 1}_{SIDES[(i // 4) % 2]}_{SIJ_QUADRANTS[i % 4]}"
            k = (i - 48) % 12
            return f"s{k // 2 + 1}_{SIDES[k % 2]}_{'intense' if i < 60 else 'deep'}"

        res, err = _rows_result(n, st, re, fi, pre, fname)
        names = ("total", "left", "right", "quadrant_sum", "intensity_sum", "depth_sum", "partial_total")
        for c, name in enumerate(names):
            res[name] = _nullable(out[:, c], err)
        for s in range(6):
            res[f"slice{s + 1}"] = _nullable(out[:, 7 + s], err)
        return res
    if system in ("asdas_crp", "asdas_esr"):
        kind = 0 if system == "asdas_crp" else 1
        cols = COLUMNS[system]
        x = [np.ascontiguousarray(_as_float(_column(table, c, n, pre), c, pre)) for c in cols]
        rounded = 0
        if "coefficients" in table:
            vals = set(np.asarray(table["coefficients"]).tolist())
            if not vals <= {"published", "rounded"} or len(vals) > 1:
                raise ValueError("table column 'coefficients' must hold one of 'published'/'rounded' for all rows")
            rounded = int(vals == {"rounded"})
        score, used, state = np.empty(n), np.empty(n), np.empty(n, np.int8)
        _core.scores_asdas(n, kind, rounded, *x, st, re, fi, score, used, state)
        res, err = _rows_result(n, st, re, fi, pre, lambda i: cols[i])
        score[err] = np.nan
        res["score"] = score
        res["state"] = _names(state, ASDAS_STATES, err)
        if kind == 0:
            used[err] = np.nan
            res["crp_used"] = used
        return res
    if system == "asdas_change":
        b, f = (np.ascontiguousarray(_as_float(_column(table, c, n, pre), c, pre)) for c in ("baseline", "followup"))
        delta, imp, maj = np.empty(n), np.empty(n, np.int8), np.empty(n, np.int8)
        _core.scores_asdas_change(n, b, f, st, re, fi, delta, imp, maj)
        res, err = _rows_result(n, st, re, fi, pre, lambda i: ("baseline", "followup")[i])
        delta[err] = np.nan
        res["delta"] = delta
        res["clinically_important_improvement"] = _names(imp, (False, True), err)
        res["major_improvement"] = _names(maj, (False, True), err)
        return res
    if system == "basdai":
        q = np.ascontiguousarray(np.stack([_as_float(_column(table, c, n, pre), c, pre) for c in BASDAI_ITEMS], 1))
        score, active = np.empty(n), np.empty(n, np.int8)
        _core.scores_basdai(n, q, st, re, fi, score, active)
        res, err = _rows_result(n, st, re, fi, pre, lambda i: BASDAI_ITEMS[i])
        score[err] = np.nan
        res["score"] = score
        res["active"] = _names(active, (False, True), err)
        return res
    if system == "das28":
        tjc = _as_float(_column(table, "tjc28", n, pre), "tjc28", pre)
        sjc = _as_float(_column(table, "sjc28", n, pre), "sjc28", pre)
        esr = _column(table, "esr_mm_h", n, pre, required=False)
        crp = _column(table, "crp_mg_l", n, pre, required=False)
        gh = _column(table, "patient_global_mm", n, pre, required=False)
        esr = np.full(n, np.nan) if esr is None else _as_float(esr, "esr_mm_h", pre)
        crp = np.full(n, np.nan) if crp is None else _as_float(crp, "crp_mg_l", pre)
        pre.flag(~np.isnan(esr) & ~np.isnan(crp), "ambiguous_input", "esr_mm_h")
        pre.flag(np.isnan(esr) & np.isnan(crp), "missing_field", "esr_mm_h")
        use_esr = ~np.isnan(esr)
        four = gh is not None
        ghv = _as_float(gh, "patient_global_mm", pre) if four else np.full(n, np.nan)
        variant = np.where(use_esr, 0, 2).astype(np.int8) + (0 if four else 1)
        apr = np.where(use_esr, esr, crp)
        score, state = np.empty(n), np.empty(n, np.int8)
        _core.scores_das28(n, variant.astype(np.int8), tjc, sjc, apr, ghv, st, re, fi, score, state)
        res, err = _rows_result(n, st, re, fi, pre,
                                lambda i: ("tjc28", "sjc28", "esr_mm_h/crp_mg_l", "patient_global_mm")[i])
        score[err] = np.nan
        res["score"] = score
        res["state"] = _names(state, DAS28_STATES, err)
        res["variant"] = _names(variant, ("esr4", "esr3", "crp4", "crp3"), err)
        return res
    if system == "mny":
        g = np.ascontiguousarray(np.stack([_as_grade(_column(table, c, n, pre), c, pre) for c in ("left", "right")], 1))
        has = all(c in table for c in MNY_CLINICAL)
        if has:
            c = np.stack([_as_grade(_column(table, k, n, pre), k, pre) for k in MNY_CLINICAL], 1)
        else:
            c = np.full((n, 3), V.NULL, np.int8)
        crit, c3, ast = np.empty(n, np.int8), np.empty((n, 2), np.int8), np.empty(n, np.int8)
        _core.scores_mny(n, g, np.ascontiguousarray(c), np.full(n, int(has), np.int8), st, re, fi, crit, c3, ast)
        res, err = _rows_result(n, st, re, fi, pre, lambda i: (("left", "right") + MNY_CLINICAL)[i])
        res["radiographic_criterion"] = _names(crit, (False, True), err)
        res["class3_left"] = _nullable(c3[:, 0], err)
        res["class3_right"] = _nullable(c3[:, 1], err)
        if has:
            res["as_status"] = _names(ast, ("not_met", "probable", "definite"), err)
        return res
    if system == "kl":
        g = _as_grade(_column(table, "grade", n, pre), "grade", pre)
        oa = np.empty(n, np.int8)
        _core.scores_kl(n, g, st, re, fi, oa)
        res, err = _rows_result(n, st, re, fi, pre, lambda i: "grade")
        res["radiographic_oa"] = _names(oa, (False, True), err)
        res["label"] = _names(np.where(err, -1, g), KL_LABELS, err)
        return res
    if system == "msasss":
        x = np.ascontiguousarray(np.stack([_as_grade(_column(table, c, n, pre), c, pre) for c in MSASSS_SITES], 1))
        impute = 0
        if "impute" in table:
            vals = set(np.asarray(table["impute"]).tolist())
            if not vals <= {"none", "segment_mean"} or len(vals) > 1:
                raise ValueError("table column 'impute' must hold one of 'none'/'segment_mean' for all rows")
            impute = int(vals == {"segment_mean"})
        out, nimp, unp = np.empty((n, 3)), np.empty(n, np.int32), np.empty(n, np.int32)
        _core.scores_msasss(n, x, impute, st, re, fi, out, nimp, unp)
        res, err = _rows_result(n, st, re, fi, pre, lambda i: MSASSS_SITES[i])
        out[err] = np.nan
        res["cervical"], res["lumbar"], res["total"] = out[:, 0], out[:, 1], out[:, 2]
        res["n_imputed"] = nimp
        return res
    raise ValueError(f"system {system!r} has no columnar form; pass a list of dicts "
                     f"(columnar systems: {sorted(COLUMNS)})")
