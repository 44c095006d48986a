"""Accuracy at a threshold: sensitivity, specificity, PPV, NPV, accuracy with Wilson
(default, no continuity correction) or Clopper-Pearson intervals, and multi-class
confusion matrices (e.g. Kellgren-Lawrence grades 0-4) with per-class metrics.

A zero denominator gives NaN for that measure (never a silent 0)."""
from dataclasses import dataclass, field
from typing import Dict

import numpy as np
from scipy import stats as _st

from ._validation import as_1d_float, as_binary, check_conf_level, complete_cases
from .results import Estimate

CI_METHODS = ("wilson", "clopper-pearson")


def proportion_ci(count, nobs, *, conf_level=0.95, method="wilson"):
    """Interval for a binomial proportion count/nobs.

    method : "wilson" (score interval, no continuity correction; default) or
        "clopper-pearson" (exact, from beta quantiles).  nobs = 0 gives (NaN, NaN).
    Works elementwise on arrays."""
    conf_level = check_conf_level(conf_level)
    k = np.asarray(count, dtype=np.float64)
    n = np.asarray(nobs, dtype=np.float64)
    if np.any(k < 0) or np.any(k > n):
        raise ValueError("count must be between 0 and nobs")
    alpha = 1 - conf_level
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "wilson":
            z = _st.norm.ppf(1 - alpha / 2)
            denom = n + z * z
            center = (k + z * z / 2) / denom
            half = z / denom * np.sqrt(k * (n - k) / n + z * z / 4)
            lo, hi = center - half, center + half
        elif method == "clopper-pearson":
            lo = np.where(k > 0, _st.beta.ppf(alpha / 2, k, n - k + 1), 0.0)
            hi = np.where(k < n, _st.beta.ppf(1 - alpha / 2, k + 1, n - k), 1.0)
        else:
            raise ValueError(f"method must be one of {CI_METHODS}, got {method!r}")
    lo = np.where(n > 0, lo, np.nan)
    hi = np.where(n > 0, hi, np.nan)
    if lo.ndim == 0:
        return float(lo), float(hi)
    return lo, hi


def _prop(k, n, conf_level, method):
    est = k / n if n > 0 else float("nan")
    lo, hi = proportion_ci(k, n, conf_level=conf_level, method=method)
    return Estimate(estimate=float(est), ci_low=lo, ci_high=hi, method=method, n=int(n),
                    conf_level=conf_level, extra={"count": int(k)})


@dataclass
class AccuracyResult:
    """2x2 accuracy measures; each an Estimate with its interval."""
    tp: int
    fp: int
    fn: int
    tn: int
    sensitivity: Estimate
    specificity: Estimate
    ppv: Estimate
    npv: Estimate
    accuracy: Estimate
    threshold: float = float("nan")
    convention: str = "positive if score >= threshold; zero denominator -> NaN"

    def as_dict(self):
        return {k: getattr(self, k) for k in ("sensitivity", "specificity", "ppv", "npv", "accuracy")}


def diagnostic_accuracy(y_true, y_pred=None, *, y_score=None, threshold=None, conf_level=0.95,
                        method="wilson", nan_policy="raise"):
    """Sensitivity, specificity, PPV, NPV and accuracy with intervals.

    Give either binary predictions `y_pred` (0/1) or `y_score` with `threshold`
    (positive if score >= threshold)."""
    y = as_binary(y_true, "y_true")
    if (y_pred is None) == (y_score is None):
        raise ValueError("give exactly one of y_pred or y_score (with threshold)")
    if y_pred is not None:
        pred = as_binary(y_pred, "y_pred")
        y, pred = complete_cases(nan_policy, ["y_true", "y_pred"], [y, pred])
    else:
        if threshold is None:
            raise ValueError("threshold is required with y_score")
        s = as_1d_float(y_score, "y_score")
        y, s = complete_cases(nan_policy, ["y_true", "y_score"], [y, s])
        pred = (s >= threshold).astype(np.float64)
    if method not in CI_METHODS:
        raise ValueError(f"method must be one of {CI_METHODS}, got {method!r}")
    conf_level = check_conf_level(conf_level)
    tp = int(np.sum((y == 1) & (pred == 1)))
    fp = int(np.sum((y == 0) & (pred == 1)))
    fn = int(np.sum((y == 1) & (pred == 0)))
    tn = int(np.sum((y == 0) & (pred == 0)))
    return AccuracyResult(tp=tp, fp=fp, fn=fn, tn=tn,
                          sensitivity=_prop(tp, tp + fn, conf_level, method),
                          specificity=_prop(tn, tn + fp, conf_level, method),
                          ppv=_prop(tp, tp + fp, conf_level, method),
                          npv=_prop(tn, tn + fn, conf_level, method),
                          accuracy=_prop(tp + tn, tp + fp + fn + tn, conf_level, method),
                          threshold=float("nan") if threshold is None else float(threshold))


@dataclass
class ConfusionResult:
    """matrix[i, j] = count with true label labels[i] and predicted label labels[j].
    per_class[label] is the one-vs-rest AccuracyResult of that class."""
    labels: np.ndarray
    matrix: np.ndarray
    per_class: Dict = field(default_factory=dict)
    accuracy: Estimate = None

    def table(self):
        rows = ["label  sens    spec    ppv     npv"]
        for lab, r in self.per_class.items():
            rows.append(f"{lab!s:5s} " + " ".join(f"{getattr(r, m).estimate:7.3f}"
                                                  for m in ("sensitivity", "specificity", "ppv", "npv")))
        return "\n".join(rows)


def confusion_matrix(y_true, y_pred, *, labels=None, conf_level=0.95, method="wilson"):
    """Confusion matrix of multi-class grades with one-vs-rest per-class metrics.
    `labels` fixes the order (default: sorted union of observed labels)."""
    yt = np.asarray(y_true)
    yp = np.asarray(y_pred)
    if yt.ndim != 1 or yp.ndim != 1:
        raise ValueError("y_true and y_pred must be 1-D")
    if len(yt) != len(yp):
        raise ValueError(f"y_true and y_pred must have the same length, got {len(yt)} and {len(yp)}")
    for nm, a in (("y_true", yt), ("y_pred", yp)):
        if a.dtype.kind == "f" and np.isnan(a).any():
            raise ValueError(f"{nm} contains NaN")
    labels = np.union1d(yt, yp) if labels is None else np.asarray(labels)
    index = {lab: i for i, lab in enumerate(labels.tolist())}
    for nm, a in (("y_true", yt), ("y_pred", yp)):
        unknown = set(np.unique(a).tolist()) - set(index)
        if unknown:
            raise ValueError(f"{nm} has labels not in labels: {sorted(unknown)[:5]}")
    K = len(labels)
    M = np.zeros((K, K), dtype=np.int64)
    np.add.at(M, (np.array([index[v] for v in yt.tolist()], dtype=np.int64),
                  np.array([index[v] for v in yp.tolist()], dtype=np.int64)), 1)
    per = {}
    for i, lab in enumerate(labels.tolist()):
        per[lab] = diagnostic_accuracy((yt == lab).astype(int), (yp == lab).astype(int),
                                       conf_level=conf_level, method=method)
    acc = _prop(int(np.trace(M)), int(M.sum()), check_conf_level(conf_level), method)
    return ConfusionResult(labels=labels, matrix=M, per_class=per, accuracy=acc)
