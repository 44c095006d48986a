"""Calibration of predicted probabilities: binned curve (scikit-learn's rules),
calibration-in-the-large and slope (unpenalised ML), Brier score, Hosmer-Lemeshow,
and recalibration (Platt/logistic or isotonic) fitted on a validation fold."""
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

from ._validation import (as_1d_float, as_binary, check_conf_level, check_probabilities,
                          complete_cases, expit, logit, require_both_classes)
from .models import logistic_regression
from .results import Estimate, TestResult


def _yp(y_true, y_prob, nan_policy, open_interval=False, name="y_prob"):
    y = as_binary(y_true, "y_true")
    p = as_1d_float(y_prob, name)
    y, p = complete_cases(nan_policy, ["y_true", name], [y, p])
    if len(y) == 0:
        raise ValueError("no observations")
    check_probabilities(p, name, open_interval=open_interval)
    return y, p


@dataclass
class CalibrationCurve:
    """Per non-empty bin: observed fraction of positives, mean predicted probability,
    count.  `bin_edges` are all n_bins + 1 edges; `bin_ids` index the kept bins."""
    prob_true: np.ndarray
    prob_pred: np.ndarray
    counts: np.ndarray
    bin_edges: np.ndarray
    bin_ids: np.ndarray
    strategy: str
    convention: str = "scikit-learn bins: right-closed, first includes 0; empty bins dropped"


def calibration_curve(y_true, y_prob, *, n_bins=10, strategy="uniform", nan_policy="raise"):
    """Binned reliability curve with scikit-learn's rules.

    strategy : "uniform" (equal width on [0, 1]) or "quantile" (edges at
        linear-interpolation percentiles of y_prob).  Bins are right-closed, the
        first includes 0; empty bins are dropped."""
    y, p = _yp(y_true, y_prob, nan_policy)
    if int(n_bins) < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, int(n_bins) + 1)
    elif strategy == "quantile":
        edges = np.percentile(p, np.linspace(0, 1, int(n_bins) + 1) * 100)
    else:
        raise ValueError(f"strategy must be 'uniform' or 'quantile', got {strategy!r}")
    ids = np.searchsorted(edges[1:-1], p)
    total = np.bincount(ids, minlength=int(n_bins))
    sums = np.bincount(ids, weights=p, minlength=int(n_bins))
    trues = np.bincount(ids, weights=y, minlength=int(n_bins))
    keep = np.flatnonzero(total)
    return CalibrationCurve(prob_true=trues[keep] / total[keep], prob_pred=sums[keep] / total[keep],
                            counts=total[keep], bin_edges=edges, bin_ids=keep, strategy=strategy)


def brier_score(y_true, y_prob, *, nan_policy="raise"):
    """Mean squared difference (p - y)^2."""
    y, p = _yp(y_true, y_prob, nan_policy)
    return float(np.mean((p - y) ** 2))


@dataclass
class CalibrationFit:
    """citl: intercept a of logit(P) = a + offset(logit p) (slope fixed at 1);
    slope: b of logit(P) = a + b logit(p); intercept_joint: that a.  Wald intervals."""
    citl: Estimate
    slope: Estimate
    intercept_joint: Estimate
    n: int
    convention: str = "unpenalised ML logistic recalibration on logit(p); Wald intervals"


def _wald(fit, j, conf_level, name):
    return Estimate(estimate=float(fit.coef[j]), ci_low=float(fit.ci_low[j]), ci_high=float(fit.ci_high[j]),
                    se=float(fit.se[j]), method="wald", n=fit.n, conf_level=conf_level, convention=name)


def calibration_fit(y_true, y_prob, *, conf_level=0.95, nan_policy="raise"):
    """Calibration-in-the-large, calibration slope and joint intercept.
    Probabilities of exactly 0 or 1 raise (their logit is infinite)."""
    y, p = _yp(y_true, y_prob, nan_policy, open_interval=True)
    require_both_classes(y)
    conf_level = check_conf_level(conf_level)
    lp = logit(p)
    citl = logistic_regression(np.empty((len(y), 0)), y, offset=lp, conf_level=conf_level)
    joint = logistic_regression(lp, y, names=["logit_p"], conf_level=conf_level)
    return CalibrationFit(citl=_wald(citl, 0, conf_level, "intercept with offset logit(p)"),
                          slope=_wald(joint, 1, conf_level, "slope on logit(p)"),
                          intercept_joint=_wald(joint, 0, conf_level, "intercept with slope free"),
                          n=len(y))


def calibration_in_the_large(y_true, y_prob, **kw):
    """Intercept a of logit(P) = a + offset(logit p) (see calibration_fit)."""
    return calibration_fit(y_true, y_prob, **kw).citl


def calibration_slope(y_true, y_prob, **kw):
    """Slope b of logit(P) = a + b logit(p) (see calibration_fit)."""
    return calibration_fit(y_true, y_prob, **kw).slope


def hosmer_lemeshow(y_true, y_prob, *, g=10, nan_policy="raise"):
    """Hosmer-Lemeshow goodness-of-fit test (ResourceSelection::hoslem.test rules).

    Groups: cut(p, unique(quantile(p, 0:g/g)), include_lowest) with type-7
    quantiles, right-closed; fewer groups when quantiles tie.  Statistic
    sum over groups and both outcomes of (O - E)^2 / E; df = G - 2.
    ``extra`` holds G, observed and expected counts per group."""
    y, p = _yp(y_true, y_prob, nan_policy)
    if int(g) < 3:
        raise ValueError(f"g must be >= 3, got {g}")
    breaks = np.unique(np.quantile(p, np.linspace(0, 1, int(g) + 1)))
    if len(breaks) < 2:
        raise ValueError("all predicted probabilities are equal: Hosmer-Lemeshow needs >= 3 groups")
    ids = np.clip(np.searchsorted(breaks, p, side="left") - 1, 0, len(breaks) - 2)
    G = len(breaks) - 1
    n_g = np.bincount(ids, minlength=G).astype(np.float64)
    o1 = np.bincount(ids, weights=y, minlength=G)
    e1 = np.bincount(ids, weights=p, minlength=G)
    used = n_g > 0
    n_g, o1, e1 = n_g[used], o1[used], e1[used]
    G = len(n_g)
    if G < 3:
        raise ValueError(f"only {G} distinct probability groups: Hosmer-Lemeshow needs >= 3")
    o0, e0 = n_g - o1, n_g - e1
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = float(np.sum((o1 - e1) ** 2 / e1 + (o0 - e0) ** 2 / e0))
    df = G - 2
    return TestResult(statistic=stat, p_value=float(_st.chi2.sf(stat, df)), df=df, method="Hosmer-Lemeshow",
                      n=len(y), extra={"G": G, "observed": np.column_stack([o0, o1]),
                                       "expected": np.column_stack([e0, e1]), "breaks": breaks})


def _pava(y, w):
    """Non-decreasing least-squares fit (pool adjacent violators)."""
    vals, wts, sizes = [], [], []
    for yi, wi in zip(y, w):
        vals.append(yi)
        wts.append(wi)
        sizes.append(1)
        while len(vals) > 1 and vals[-2] > vals[-1]:
            v2, w2, s2 = vals.pop(), wts.pop(), sizes.pop()
            wsum = wts[-1] + w2
            vals[-1] = (vals[-1] * wts[-1] + v2 * w2) / wsum
            wts[-1] = wsum
            sizes[-1] += s2
    return np.repeat(vals, sizes)


class Recalibrator:
    """Recalibration fitted on a validation fold, then applied to new predictions.

    method="platt": logistic recalibration P = expit(a + b logit p) (unpenalised ML;
        p must be in (0, 1)).
    method="isotonic": non-decreasing step function of p (PAVA), linear
        interpolation between fitted points, clipped outside the fitted range
        (scikit-learn's IsotonicRegression(out_of_bounds="clip"))."""

    def __init__(self, method="platt"):
        if method not in ("platt", "isotonic"):
            raise ValueError(f"method must be 'platt' or 'isotonic', got {method!r}")
        self.method = method
        self.fitted_ = False

    def fit(self, y_true, y_prob, nan_policy="raise"):
        y, p = _yp(y_true, y_prob, nan_policy, open_interval=(self.method == "platt"))
        require_both_classes(y)
        if self.method == "platt":
            fit = logistic_regression(logit(p), y, names=["logit_p"])
            self.intercept_, self.slope_ = float(fit.coef[0]), float(fit.coef[1])
            self.model_ = fit
        else:
            xs, inv = np.unique(p, return_inverse=True)
            w = np.bincount(inv).astype(np.float64)
            ys = np.bincount(inv, weights=y) / w
            self.x_ = xs
            self.y_ = _pava(ys, w)
        self.fitted_ = True
        return self

    def transform(self, y_prob):
        if not self.fitted_:
            raise ValueError("Recalibrator is not fitted: call fit(y_true, y_prob) on a validation fold first")
        p = as_1d_float(y_prob, "y_prob")
        check_probabilities(p[~np.isnan(p)], "y_prob", open_interval=(self.method == "platt"))
        if self.method == "platt":
            return expit(self.intercept_ + self.slope_ * logit(p))
        return np.interp(p, self.x_, self.y_)
