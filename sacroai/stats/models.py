"""Regression models for diagnostic studies: unpenalised logistic regression (IRLS),
linear regression with standardized coefficients, nomogram points and stacking.

scikit-learn's LogisticRegression is penalised (C = 1) by default; these fits are
plain maximum likelihood.  Perfect or quasi-perfect separation raises
:class:`SeparationError` (never a silent number).
"""
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np
from scipy import stats as _st

from ._validation import check_conf_level, expit


class SeparationError(ValueError):
    """The outcome is (quasi-)perfectly separated by the predictors: the maximum
    likelihood estimate does not exist."""


def _design(X, names, add_intercept):
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(f"X must be 1-D or 2-D (n, p), got shape {X.shape}")
    if names is None:
        names = [f"x{j}" for j in range(X.shape[1])]
    names = list(names)
    if len(names) != X.shape[1]:
        raise ValueError(f"names has {len(names)} entries but X has {X.shape[1]} columns")
    if add_intercept:
        X = np.column_stack([np.ones(len(X)), X])
        names = ["intercept"] + names
    return X, names


def _check_rows(X, y, offset, nan_policy="raise"):
    if len(y) != len(X):
        raise ValueError(f"X and y must have the same length, got {len(X)} and {len(y)}")
    if offset is not None and len(offset) != len(y):
        raise ValueError(f"offset must have one value per row ({len(y)}), got {len(offset)}")
    bad = np.isnan(X).any(axis=1) | np.isnan(y)
    if offset is not None:
        bad |= np.isnan(offset)
    if bad.any():
        if nan_policy != "omit":
            raise ValueError(f"X, y or offset contain NaN in {int(bad.sum())} row(s); "
                             "pass nan_policy='omit' for the complete-case fit")
        X, y = X[~bad], y[~bad]
        offset = None if offset is None else offset[~bad]
    return X, y, offset


def separation_check(X, y, tol=1e-7):
    """True when some direction b != 0 has (2y-1)·Xb >= 0 for every row
    (complete or quasi-complete separation), by the linear programme of Konis (2007)."""
    from scipy.optimize import linprog
    s = 2 * y - 1
    scale = np.maximum(np.abs(X).max(axis=0), 1e-300)
    A = (s[:, None] * X) / scale
    res = linprog(-A.sum(axis=0), A_ub=-A, b_ub=np.zeros(len(A)), bounds=[(-1, 1)] * X.shape[1],
                  method="highs")
    return bool(res.status == 0 and -res.fun > tol * max(1.0, len(y)))


def irls_logistic(X, y, offset=None, max_iter=100, tol=1e-12):
    """Newton/IRLS for logit(P(y=1)) = X b + offset.  Returns (b, covariance, loglik, n_iter).
    Raises SeparationError when the MLE does not exist."""
    n, p = X.shape
    if np.linalg.matrix_rank(X) < p:
        raise ValueError("the design matrix X is rank deficient (collinear columns)")
    off = np.zeros(n) if offset is None else offset

    def loglik(beta):
        eta = X @ beta + off
        return float(np.sum(y * eta - np.logaddexp(0, eta)))

    b = np.zeros(p)
    ll = loglik(b)
    converged = False
    for it in range(1, max_iter + 1):
        mu = expit(X @ b + off)
        w = mu * (1 - mu)
        try:
            step = np.linalg.solve(X.T @ (X * w[:, None]), X.T @ (y - mu))
        except np.linalg.LinAlgError:  # the information matrix degenerates under separation
            break
        if not np.all(np.isfinite(step)):
            break
        for _ in range(30):  # step halving keeps the log-likelihood non-decreasing
            ll_new = loglik(b + step)
            if ll_new >= ll - 1e-12 * (1 + abs(ll)):
                break
            step = step / 2
        b = b + step
        ll = ll_new
        if np.max(np.abs(step)) <= tol * (1 + np.max(np.abs(b))) * 100:
            converged = True
            break
    else:
        converged = False
    # Separation shows as fitted probabilities running to 0/1 or as no convergence;
    # only then is the (slower) linear-programming check run.
    mu = expit(X @ b + off)
    if not converged or np.any((mu < 1e-8) | (mu > 1 - 1e-8)):
        if separation_check(X, y):
            raise SeparationError("perfect or quasi-perfect separation: the outcome is predicted exactly "
                                  "by a combination of the predictors, so the maximum likelihood estimate "
                                  "does not exist")
    if not converged:
        raise ValueError(f"logistic regression did not converge in {max_iter} iterations")
    mu = expit(X @ b + off)
    cov = np.linalg.inv(X.T @ (X * (mu * (1 - mu))[:, None]))
    return b, cov, ll, it


@dataclass
class LogisticResult:
    """Unpenalised logistic regression fit.  Arrays are aligned with `names`."""
    names: List[str]
    coef: np.ndarray
    se: np.ndarray
    z: np.ndarray
    p_value: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    odds_ratio: np.ndarray
    or_ci_low: np.ndarray
    or_ci_high: np.ndarray
    cov: np.ndarray
    loglik: float
    loglik_null: float
    n: int
    n_iter: int
    conf_level: float
    add_intercept: bool
    x_ranges: Optional[np.ndarray] = None
    convention: str = "unpenalised ML (IRLS), Wald z and intervals"

    def linear_predictor(self, X):
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            X = X[:, None]
        if self.add_intercept:
            X = np.column_stack([np.ones(len(X)), X])
        return X @ self.coef

    def predict_proba(self, X):
        """P(y = 1) for new rows X (n, p) without the intercept column."""
        return expit(self.linear_predictor(X))

    def lr_test(self, other):
        """Likelihood-ratio test of this model against a nested smaller model."""
        from .results import TestResult
        df = len(self.coef) - len(other.coef)
        if df <= 0:
            raise ValueError("other must be nested in this model (fewer coefficients)")
        stat = 2 * (self.loglik - other.loglik)
        return TestResult(statistic=stat, p_value=float(_st.chi2.sf(stat, df)), df=df,
                          method="likelihood-ratio")

    def summary(self):
        rows = [f"{'term':>14s} {'coef':>10s} {'se':>9s} {'OR':>9s} {'p':>9s}"]
        for j, nm in enumerate(self.names):
            rows.append(f"{nm:>14s} {self.coef[j]:10.4f} {self.se[j]:9.4f} {self.odds_ratio[j]:9.4f} "
                        f"{self.p_value[j]:9.3g}")
        return "\n".join(rows)


def logistic_regression(X, y, *, names=None, add_intercept=True, offset=None, conf_level=0.95,
                        nan_policy="raise", max_iter=100):
    """Fit logit P(y=1) = b0 + X b (+ offset) by unpenalised maximum likelihood.

    X : (n, p) predictors (no intercept column; one is added unless add_intercept=False).
    y : (n,) outcome 0/1.
    Returns LogisticResult with coefficients, SEs, Wald z/p, Wald CIs, odds ratios,
    log-likelihoods (model and intercept-only) for likelihood-ratio tests.
    Raises SeparationError under (quasi-)complete separation.
    """
    from ._validation import as_binary
    conf_level = check_conf_level(conf_level)
    Xd, names = _design(X, names, add_intercept)
    y = as_binary(y, "y")
    off = None if offset is None else np.asarray(offset, dtype=np.float64)
    Xd, y, off = _check_rows(Xd, y, off, nan_policy)
    if y.min() == y.max():
        raise ValueError("y has only one class: need both 0 and 1")
    b, cov, ll, it = irls_logistic(Xd, y, off, max_iter=max_iter)
    se = np.sqrt(np.diag(cov))
    z = b / se
    zc = _st.norm.ppf(0.5 + conf_level / 2)
    if add_intercept and off is None:
        pbar = y.mean()
        ll0 = float(len(y) * (pbar * np.log(pbar) + (1 - pbar) * np.log(1 - pbar)))
    else:
        ll0 = float("nan")
    Xraw = Xd[:, 1:] if add_intercept else Xd
    ranges = np.vstack([Xraw.min(axis=0), Xraw.max(axis=0)]).T if Xraw.shape[1] else None
    return LogisticResult(names=names, coef=b, se=se, z=z, p_value=2 * _st.norm.sf(np.abs(z)),
                          ci_low=b - zc * se, ci_high=b + zc * se, odds_ratio=np.exp(b),
                          or_ci_low=np.exp(b - zc * se), or_ci_high=np.exp(b + zc * se), cov=cov,
                          loglik=ll, loglik_null=ll0, n=len(y), n_iter=it, conf_level=conf_level,
                          add_intercept=add_intercept, x_ranges=ranges)


@dataclass
class LinearResult:
    names: List[str]
    coef: np.ndarray
    se: np.ndarray
    t: np.ndarray
    p_value: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    std_coef: np.ndarray
    r_squared: float
    adj_r_squared: float
    sigma: float
    df_resid: int
    n: int
    convention: str = "OLS; standardized beta = b * SD(x) / SD(y) (SD with n-1); NaN for the intercept"


def linear_regression(X, y, *, names=None, add_intercept=True, conf_level=0.95, nan_policy="raise"):
    """Ordinary least squares with t-based SEs/CIs and standardized coefficients (beta)."""
    conf_level = check_conf_level(conf_level)
    Xd, names = _design(X, names, add_intercept)
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}")
    Xd, y, _ = _check_rows(Xd, y, None, nan_policy)
    n, p = Xd.shape
    if n <= p:
        raise ValueError(f"need more rows ({n}) than coefficients ({p})")
    if np.linalg.matrix_rank(Xd) < p:
        raise ValueError("the design matrix X is rank deficient (collinear columns)")
    b, *_ = np.linalg.lstsq(Xd, y, rcond=None)
    resid = y - Xd @ b
    df = n - p
    s2 = resid @ resid / df
    cov = s2 * np.linalg.inv(Xd.T @ Xd)
    se = np.sqrt(np.diag(cov))
    t = b / se
    tc = _st.t.ppf(0.5 + conf_level / 2, df)
    sd_x = Xd.std(axis=0, ddof=1)
    std = np.where(sd_x > 0, b * sd_x / y.std(ddof=1), np.nan)
    tss = np.sum((y - y.mean()) ** 2) if add_intercept else np.sum(y ** 2)
    r2 = 1 - resid @ resid / tss
    adj = 1 - (1 - r2) * (n - int(add_intercept)) / df
    return LinearResult(names=names, coef=b, se=se, t=t, p_value=2 * _st.t.sf(np.abs(t), df),
                        ci_low=b - tc * se, ci_high=b + tc * se, std_coef=std, r_squared=float(r2),
                        adj_r_squared=float(adj), sigma=float(np.sqrt(s2)), df_resid=df, n=n)


@dataclass
class Nomogram:
    """Points scale of a fitted logistic model (Harrell's nomogram).

    Each predictor j contributes points = 100 · |b_j| (x - x_ref) / max_k |b_k| · range_k,
    where the predictor with the widest effect (|b|·range) spans 0-100 points; x_ref is
    the end of the range giving 0 points.  `total_to_probability` maps total points
    to the predicted probability."""
    names: List[str]
    coef: np.ndarray
    x_min: np.ndarray
    x_max: np.ndarray
    intercept: float
    points_per_unit: np.ndarray
    x_zero: np.ndarray
    scale: float = field(default=1.0)

    def points(self, X):
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        return np.abs(self.points_per_unit) * np.abs(X - self.x_zero)

    def total_points(self, X):
        return self.points(X).sum(axis=1)

    def total_to_probability(self, total):
        lp = self.intercept + np.sum(self.coef * self.x_zero) + np.asarray(total, dtype=np.float64) / self.scale
        return expit(lp)


def nomogram(model: LogisticResult, x_min=None, x_max=None):
    """Build the nomogram points scale of a fitted logistic model (with intercept).
    x_min/x_max default to the observed ranges of the predictors."""
    if not model.add_intercept:
        raise ValueError("nomogram needs a model fitted with an intercept")
    b = model.coef[1:]
    lo = model.x_ranges[:, 0] if x_min is None else np.asarray(x_min, dtype=np.float64)
    hi = model.x_ranges[:, 1] if x_max is None else np.asarray(x_max, dtype=np.float64)
    effect = np.abs(b) * (hi - lo)
    if effect.max() <= 0:
        raise ValueError("every predictor has zero effect over its range")
    scale = 100.0 / effect.max()  # points per unit of linear predictor
    x_zero = np.where(b >= 0, lo, hi)
    return Nomogram(names=model.names[1:], coef=b, x_min=lo, x_max=hi, intercept=float(model.coef[0]),
                    points_per_unit=b * scale, x_zero=x_zero, scale=scale)


@dataclass
class StackingResult:
    model: LogisticResult
    feature_names: List[str]
    oof_predictions: np.ndarray


def stack_predictions(oof_predictions, y, *, covariates=None, names=None, link="logit",
                      conf_level=0.95):
    """Combine base models' OUT-OF-FOLD predicted probabilities (n, k) with clinical
    covariates (n, q) in an unpenalised logistic meta-model.

    The caller must pass out-of-fold predictions (e.g. ``cross_validate(...).oof``):
    fitting the meta-learner on in-fold predictions overstates performance.
    link="logit" feeds logit(p) of each base model (p must be in (0, 1)); "identity" feeds p.
    """
    from ._validation import check_probabilities, logit
    P = np.asarray(oof_predictions, dtype=np.float64)
    if P.ndim == 1:
        P = P[:, None]
    if np.isnan(P).any():
        raise ValueError("oof_predictions contains NaN: every row needs an out-of-fold prediction")
    check_probabilities(P, "oof_predictions", open_interval=(link == "logit"))
    if link == "logit":
        F = logit(P)
    elif link == "identity":
        F = P
    else:
        raise ValueError(f"link must be 'logit' or 'identity', got {link!r}")
    k = F.shape[1]
    base_names = [f"model{j}" for j in range(k)]
    if covariates is not None:
        C = np.asarray(covariates, dtype=np.float64)
        C = C[:, None] if C.ndim == 1 else C
        if len(C) != len(F):
            raise ValueError(f"covariates must have one row per prediction ({len(F)}), got {len(C)}")
        F = np.column_stack([F, C])
        base_names += [f"cov{j}" for j in range(C.shape[1])]
    names = base_names if names is None else list(names)
    fit = logistic_regression(F, y, names=names, conf_level=conf_level)
    return StackingResult(model=fit, feature_names=names, oof_predictions=P)
