"""Decision curve analysis (Vickers & Elkin 2006; dcurves conventions).

NB(pt) = TP/n - FP/n · pt/(1 - pt), a case counted positive when risk >= pt.
Treat-all: prevalence - (1 - prevalence)·pt/(1 - pt); treat-none: 0.
Interventions avoided per 100 = (NB_model - NB_all) · (1 - pt)/pt · 100 (NaN at pt = 0).
"""
from dataclasses import dataclass, field
from typing import Dict

import numpy as np

from .. import _core
from ._validation import (as_1d_float, as_binary, check_conf_level, check_probabilities, complete_cases,
                          groups_to_codes, resolve_seed)

TREAT_ALL = "Treat all"
TREAT_NONE = "Treat none"


@dataclass
class DecisionCurveResult:
    """net_benefit[name] and interventions_avoided[name] are arrays over `thresholds`;
    names are the models plus "Treat all" and "Treat none".  bands[name] = (low, high)
    bootstrap percentile bands when n_boot > 0."""
    thresholds: np.ndarray
    net_benefit: Dict[str, np.ndarray]
    interventions_avoided: Dict[str, np.ndarray]
    prevalence: float
    n: int
    bands: Dict[str, tuple] = field(default_factory=dict)
    extra: Dict = field(default_factory=dict)
    convention: str = "positive if risk >= pt; NB = TP/n - FP/n * pt/(1-pt)"


def _net_benefit_weighted(y, r, thresholds, W):
    """NB for each row of frequency weights W (B, n): (B, T)."""
    odds = thresholds / (1 - thresholds)
    order = np.argsort(r, kind="stable")
    r_sorted = r[order]
    # cumulative weights from the top: weight of cases with risk >= pt
    Wy = (W * y)[:, order]
    Wn = (W * (1 - y))[:, order]
    tp_tail = np.concatenate([np.cumsum(Wy[:, ::-1], axis=1)[:, ::-1], np.zeros((len(W), 1))], axis=1)
    fp_tail = np.concatenate([np.cumsum(Wn[:, ::-1], axis=1)[:, ::-1], np.zeros((len(W), 1))], axis=1)
    first = np.searchsorted(r_sorted, thresholds, side="left")
    n = W.sum(axis=1, keepdims=True)
    return tp_tail[:, first] / n - fp_tail[:, first] / n * odds


def decision_curve(y_true, risks, *, thresholds=None, n_boot=0, conf_level=0.95, seed=None, groups=None,
                   nan_policy="raise"):
    """Net benefit of each model against treat-all and treat-none.

    Parameters
    ----------
    y_true : (n,) 0/1 outcome.
    risks : dict name -> (n,) predicted risks in [0, 1] (or one array, named "model").
    thresholds : threshold probabilities in [0, 1); default 0.00, 0.01, ..., 0.99.
        A threshold >= 1 raises.
    n_boot : bootstrap replicates for percentile bands (0 = none); resampling stratified
        by outcome, or of patients (stratified by any positive row) when `groups` is
        given; explicit `seed`.
    nan_policy : "raise" (default) or "omit" (rows complete in y_true and every model).
    """
    y = as_binary(y_true, "y_true")
    if not isinstance(risks, dict):
        risks = {"model": risks}
    if not risks:
        raise ValueError("risks must hold at least one model")
    R = {}
    for name, r in risks.items():
        if name in (TREAT_ALL, TREAT_NONE):
            raise ValueError(f"model name {name!r} is reserved")
        a = as_1d_float(r, f"risks[{name!r}]")
        if len(a) != len(y):
            raise ValueError(f"risks[{name!r}] has {len(a)} values but y_true has {len(y)}")
        R[name] = a
    names = ["y_true"] + [f"risks[{k!r}]" for k in R]
    cleaned = complete_cases(nan_policy, names, [y] + list(R.values()))
    keep = None
    if len(cleaned[0]) != len(y):
        keep = ~np.isnan(y)
        for a in R.values():
            keep &= ~np.isnan(a)
        if groups is not None:
            groups = np.asarray(groups)[keep]
    y = cleaned[0]
    R = dict(zip(R.keys(), cleaned[1:]))
    for name, a in R.items():
        check_probabilities(a, f"risks[{name!r}]")
    if thresholds is None:
        thresholds = np.round(np.arange(100) / 100, 2)
    thresholds = as_1d_float(thresholds, "thresholds")
    if ((thresholds >= 1) | (thresholds < 0) | np.isnan(thresholds)).any():
        raise ValueError("thresholds must be in [0, 1): net benefit is undefined at pt >= 1")
    n = len(y)
    prev = float(y.mean())
    odds = thresholds / (1 - thresholds)
    nb = {name: _net_benefit_weighted(y, r, thresholds, np.ones((1, n)))[0] for name, r in R.items()}
    nb[TREAT_ALL] = prev - (1 - prev) * odds
    nb[TREAT_NONE] = np.zeros_like(thresholds)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(thresholds > 0, (1 - thresholds) / thresholds * 100, np.nan)
    avoided = {name: (v - nb[TREAT_ALL]) * factor for name, v in nb.items()}
    res = DecisionCurveResult(thresholds=thresholds, net_benefit=nb, interventions_avoided=avoided,
                              prevalence=prev, n=n)
    if n_boot:
        conf_level = check_conf_level(conf_level)
        seed_used = resolve_seed(seed)
        if groups is None:
            counts = _core.stats_boot_counts(y.astype(np.int64), 2, int(n_boot), seed_used)
            W = counts.astype(np.float64)
        else:
            codes = groups_to_codes(groups, n)
            strata = np.zeros(codes.max() + 1, dtype=np.int64)
            np.maximum.at(strata, codes, y.astype(np.int64))  # patient has a positive row
            counts = _core.stats_boot_counts(strata, 2, int(n_boot), seed_used)
            W = counts[:, codes].astype(np.float64)
        q = [(1 - conf_level) / 2, (1 + conf_level) / 2]
        for name, r in R.items():
            reps = _net_benefit_weighted(y, r, thresholds, W)
            lo, hi = np.quantile(reps, q, axis=0)
            res.bands[name] = (lo, hi)
        prev_b = (W * y).sum(axis=1, keepdims=True) / W.sum(axis=1, keepdims=True)
        lo, hi = np.quantile(prev_b - (1 - prev_b) * odds, q, axis=0)
        res.bands[TREAT_ALL] = (lo, hi)
        res.extra.update(seed=seed_used, n_boot=int(n_boot))
    return res
