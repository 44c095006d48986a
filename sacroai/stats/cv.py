"""Patient-level cross-validation with scikit-learn's splitter protocol
(``split(X, y, groups)``, ``get_n_splits``).

A patient (``groups`` id) is never split across folds, so both sacroiliac joints,
left/right hips and all visits of one patient stay together.  The stratified
splitter never produces an empty or single-class fold (it raises instead).
``cross_validate`` collects out-of-fold predictions and per-fold metrics, running
folds in threads (joblib when installed, else concurrent.futures) or on a Dask
cluster when given a ``dask.distributed.Client``.
"""
import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

import numpy as np


class LeakageError(ValueError):
    """A patient appears in both the training and the test part of a split."""


def _groups(groups, n):
    if groups is None:
        raise ValueError("groups (one patient id per row) is required: rows of one patient must stay "
                         "in one fold")
    g = np.asarray(groups)
    if g.ndim != 1 or len(g) != n:
        raise ValueError(f"groups must be 1-D with one id per row ({n}), got shape {g.shape}")
    uniq, codes = np.unique(g, return_inverse=True)
    return uniq, codes


def _n_rows(X, y, groups):
    for a in (X, y, groups):
        if a is not None:
            return len(a)
    raise ValueError("give at least one of X, y or groups")


def _rng(random_state):
    if isinstance(random_state, np.random.Generator):
        return random_state
    return np.random.default_rng(random_state)


class PatientKFold:
    """K folds of patients, balanced by number of rows (largest patients first,
    each to the fold with fewest rows).  ``shuffle`` randomises the order of
    equally sized patients (explicit ``random_state``)."""

    def __init__(self, n_splits=5, *, shuffle=False, random_state=None):
        if int(n_splits) < 2:
            raise ValueError(f"n_splits must be >= 2, got {n_splits}")
        self.n_splits = int(n_splits)
        self.shuffle = shuffle
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None):
        return self.n_splits

    def _assign(self, codes, n_groups, y, rng):
        sizes = np.bincount(codes, minlength=n_groups)
        order = rng.permutation(n_groups) if self.shuffle else np.arange(n_groups)
        order = order[np.argsort(-sizes[order], kind="stable")]
        fold = np.empty(n_groups, dtype=np.int64)
        load = np.zeros(self.n_splits)
        for gidx in order:
            f = int(np.argmin(load))
            fold[gidx] = f
            load[f] += sizes[gidx]
        return fold

    def split(self, X=None, y=None, groups=None):
        n = _n_rows(X, y, groups)
        uniq, codes = _groups(groups, n)
        if len(uniq) < self.n_splits:
            raise ValueError(f"cannot make {self.n_splits} folds from {len(uniq)} patients")
        rng = _rng(self.random_state)
        fold_of_group = self._assign(codes, len(uniq), None if y is None else np.asarray(y), rng)
        fold_of_row = fold_of_group[codes]
        for f in range(self.n_splits):
            test = np.flatnonzero(fold_of_row == f)
            train = np.flatnonzero(fold_of_row != f)
            check_no_leakage(train, test, groups)
            yield train, test


class StratifiedPatientKFold(PatientKFold):
    """Patient folds stratified by the patient-level outcome (the largest label among
    the patient's rows: a patient with any positive joint counts as positive).

    Within each class, patients (largest first) go to the fold holding the fewest rows
    of that class, so every fold gets a patient of every class before any gets two.
    Raises when a class has fewer patients than folds (a fold would lack that class)."""

    def _assign(self, codes, n_groups, y, rng):
        if y is None:
            raise ValueError("StratifiedPatientKFold needs y")
        if np.asarray(y).dtype.kind == "f" and np.isnan(y).any():
            raise ValueError("y contains NaN")
        patient_label = np.full(n_groups, -np.inf)
        np.maximum.at(patient_label, codes, np.asarray(y, dtype=np.float64))
        sizes = np.bincount(codes, minlength=n_groups)
        classes = np.unique(patient_label)
        if len(classes) < 2:
            raise ValueError("y has a single class: stratified folds need at least two")
        fold = np.empty(n_groups, dtype=np.int64)
        total_load = np.zeros(self.n_splits)
        for c in classes:
            members = np.flatnonzero(patient_label == c)
            if len(members) < self.n_splits:
                raise ValueError(f"class {c:g} has {len(members)} patients, fewer than n_splits="
                                 f"{self.n_splits}: some fold would lack that class")
            if self.shuffle:
                members = rng.permutation(members)
            members = members[np.argsort(-sizes[members], kind="stable")]
            load = np.zeros(self.n_splits)
            for gidx in members:
                # fewest rows of this class, then fewest rows overall
                f = int(np.lexsort((total_load, load))[0])
                fold[gidx] = f
                load[f] += sizes[gidx]
                total_load[f] += sizes[gidx]
        return fold


class RepeatedStratifiedPatientKFold:
    """StratifiedPatientKFold repeated with different shuffles (n_repeats x n_splits splits)."""

    def __init__(self, n_splits=5, *, n_repeats=10, random_state=None, stratified=True):
        self.n_splits, self.n_repeats = int(n_splits), int(n_repeats)
        if self.n_repeats < 1:
            raise ValueError(f"n_repeats must be >= 1, got {n_repeats}")
        self.random_state = random_state
        self.stratified = stratified

    def get_n_splits(self, X=None, y=None, groups=None):
        return self.n_splits * self.n_repeats

    def split(self, X=None, y=None, groups=None):
        rng = _rng(self.random_state)
        cls = StratifiedPatientKFold if self.stratified else PatientKFold
        for _ in range(self.n_repeats):
            inner = cls(self.n_splits, shuffle=True, random_state=rng)
            yield from inner.split(X, y, groups)


def nested_splits(outer, inner, X=None, y=None, groups=None):
    """Nested cross-validation: yields (train, test, inner_splits) where inner_splits are
    (train, validation) index pairs into the ORIGINAL rows, all within `train`."""
    yv = None if y is None else np.asarray(y)
    gv = np.asarray(groups)
    for train, test in outer.split(X, yv, gv):
        inner_list = [(train[a], train[b]) for a, b in
                      inner.split(None, None if yv is None else yv[train], gv[train])]
        yield train, test, inner_list


def check_no_leakage(train_idx, test_idx, groups):
    """Raise LeakageError when a patient id occurs in both train and test rows."""
    g = np.asarray(groups)
    shared = np.intersect1d(g[np.asarray(train_idx, dtype=np.int64)], g[np.asarray(test_idx, dtype=np.int64)])
    if len(shared):
        raise LeakageError(f"{len(shared)} patient(s) appear in both train and test, e.g. {shared[:5].tolist()}")
    overlap = np.intersect1d(train_idx, test_idx)
    if len(overlap):
        raise LeakageError(f"{len(overlap)} row(s) appear in both train and test")


def export_nnunet_splits(splits, case_ids, path=None):
    """nnU-Net's splits_final.json: a list with one {"train": [...], "val": [...]} per fold,
    listing case identifiers (each listed once, in first-seen order).

    splits : iterable of (train_idx, test_idx) over rows; case_ids : (n,) identifier per row.
    Writes `path` when given; returns the list."""
    ids = np.asarray(case_ids).astype(str)

    def uniq(idx):
        seen, out = set(), []
        for c in ids[np.asarray(idx, dtype=np.int64)]:
            if c not in seen:
                seen.add(c)
                out.append(str(c))
        return out

    out = []
    for train, test in splits:
        tr, va = uniq(train), uniq(test)
        if set(tr) & set(va):
            raise LeakageError("a case identifier appears in both train and val; splits must keep cases together")
        out.append({"train": tr, "val": va})
    if path is not None:
        with open(os.fspath(path), "w") as fh:
            json.dump(out, fh, indent=4)
    return out


@dataclass
class CVResult:
    """Out-of-fold predictions (`oof`, NaN for rows never tested), the fold that tested
    each row (-1 if none), per-fold metrics and the splits used.  With a repeated
    splitter, `oof` and `fold_of_row` gain a leading axis (n_repeats, n, ...)."""
    oof: np.ndarray
    fold_of_row: np.ndarray
    fold_metrics: List[Dict[str, float]]
    splits: List[tuple]
    extra: Dict[str, Any] = field(default_factory=dict)

    def metric_summary(self):
        """Mean and SD (n - 1) of each metric across folds."""
        keys = self.fold_metrics[0].keys() if self.fold_metrics else []
        return {k: (float(np.mean([m[k] for m in self.fold_metrics])),
                    float(np.std([m[k] for m in self.fold_metrics], ddof=1)) if len(self.fold_metrics) > 1
                    else float("nan")) for k in keys}


def _take(a, idx):
    if a is None:
        return None
    if hasattr(a, "iloc"):
        return a.iloc[idx]
    return np.asarray(a)[idx] if not isinstance(a, np.ndarray) else a[idx]


def _default_metrics(y_true, pred):
    from .roc import roc_auc
    y = np.asarray(y_true)
    p = np.asarray(pred)
    if p.ndim == 1 and set(np.unique(y).tolist()) <= {0, 1} and len(np.unique(y)) == 2:
        return {"auc": roc_auc(y, p, ci=None).estimate}
    return {}


def _run_fold(fit_predict, X, y, train, test, metrics):
    pred = np.asarray(fit_predict(_take(X, train), _take(y, train), _take(X, test)))
    if len(pred) != len(test):
        raise ValueError(f"fit_predict returned {len(pred)} predictions for {len(test)} test rows")
    m = metrics(_take(y, test), pred) if metrics is not None else _default_metrics(_take(y, test), pred)
    return pred, m


def cross_validate(fit_predict: Callable, X, y, groups, splitter=None, *, metrics: Optional[Callable] = None,
                   n_jobs=1, client=None, check_leakage=True):
    """Cross-validate a model given as ``fit_predict(X_train, y_train, X_test) -> predictions``.

    Parameters
    ----------
    X, y, groups : rows (NumPy arrays or pandas objects), outcomes and patient ids.
    splitter : object with ``split(X, y, groups)`` (default StratifiedPatientKFold(5)).
    metrics : ``metrics(y_test, pred) -> dict`` per fold (default: AUC for binary y).
    n_jobs : folds run in parallel threads (joblib if installed, else
        concurrent.futures) when > 1; -1 uses all cores.
    client : a ``dask.distributed.Client``; folds are submitted to the cluster.
    check_leakage : raise LeakageError when a patient is in both train and test.
    """
    n = _n_rows(X, y, groups)
    if groups is None:
        raise ValueError("groups (patient ids) is required")
    if splitter is None:
        splitter = StratifiedPatientKFold(5)
    splits = [(np.asarray(tr), np.asarray(te)) for tr, te in splitter.split(X, y, groups)]
    if check_leakage:
        for tr, te in splits:
            check_no_leakage(tr, te, groups)
    if client is not None:
        futures = [client.submit(_run_fold, fit_predict, X, y, tr, te, metrics, pure=False) for tr, te in splits]
        outs = client.gather(futures)
        backend = "dask"
    elif n_jobs == 1:
        outs = [_run_fold(fit_predict, X, y, tr, te, metrics) for tr, te in splits]
        backend = "serial"
    else:
        workers = os.cpu_count() if n_jobs in (-1, None) else int(n_jobs)
        try:
            from joblib import Parallel, delayed
            outs = Parallel(n_jobs=workers, prefer="threads")(
                delayed(_run_fold)(fit_predict, X, y, tr, te, metrics) for tr, te in splits)
            backend = "joblib-threads"
        except ImportError:
            from concurrent.futures import ThreadPoolExecutor
            with ThreadPoolExecutor(max_workers=workers) as ex:
                outs = list(ex.map(lambda s: _run_fold(fit_predict, X, y, s[0], s[1], metrics), splits))
            backend = "threads"
    # A row tested a second time starts a new repeat (repeated splitters).
    repeat_of_split, rep, tested = [], 0, np.zeros(n, dtype=bool)
    for tr, te in splits:
        if tested[te].any():
            rep += 1
            tested[:] = False
        tested[te] = True
        repeat_of_split.append(rep)
    n_rep = rep + 1
    first = np.asarray(outs[0][0])
    oof = np.full((n_rep, n) + first.shape[1:], np.nan)
    fold_of_row = np.full((n_rep, n), -1, dtype=np.int64)
    for f, ((tr, te), (pred, _), r) in enumerate(zip(splits, outs, repeat_of_split)):
        oof[r, te] = pred
        fold_of_row[r, te] = f
    if n_rep == 1:
        oof, fold_of_row = oof[0], fold_of_row[0]
    return CVResult(oof=oof, fold_of_row=fold_of_row, fold_metrics=[m for _, m in outs], splits=splits,
                    extra={"backend": backend})
