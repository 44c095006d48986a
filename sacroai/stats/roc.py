"""ROC analysis: curves, AUC with DeLong or bootstrap intervals, DeLong tests,
precision-recall, Youden's threshold and one-vs-rest multi-class AUCs.

Conventions (docs/STATISTICS.md): outcome 0/1 with 1 = positive; a higher score
means more likely positive (never flipped automatically: use
``direction="lower"`` explicitly); ROC thresholds are the observed scores with the
rule ``score >= t``, preceded by ``+inf``; a positive/negative tie counts 1/2.
"""
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

from .. import _core
from ._validation import (as_1d_float, as_binary, check_conf_level, complete_cases,
                          groups_to_codes, require_both_classes, resolve_seed)
from .results import AUCResult, TestResult

DIRECTIONS = ("higher", "lower")


def _prepare(y_true, y_score, nan_policy, direction="higher", extra=()):
    y = as_binary(y_true, "y_true")
    s = as_1d_float(y_score, "y_score")
    names = ["y_true", "y_score"] + [k for k, _ in extra]
    arrays = [y, s] + [v for _, v in extra]
    out = complete_cases(nan_policy, names, arrays)
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    if direction == "lower":
        out[1] = -out[1]
    out[0] = out[0].astype(np.uint8)
    return out


def roc_curve(y_true, y_score, *, drop_intermediate=False, direction="higher", nan_policy="raise"):
    """ROC points at every observed score.

    Parameters
    ----------
    y_true : (n,) 0/1 outcome.
    y_score : (n,) scores, higher = more likely positive.
    drop_intermediate : bool
        False (default, the sacroai convention): one point per distinct observed
        score.  True: drop collinear points exactly like scikit-learn's
        ``roc_curve(drop_intermediate=True)`` (scikit-learn's default).

    Returns
    -------
    fpr, tpr, thresholds : arrays of length k + 1 (k distinct scores);
        ``thresholds[0] = +inf`` (the point (0, 0)), then decreasing scores;
        point j uses the rule ``score >= thresholds[j]``.  With direction="lower"
        the rule is ``score <= thresholds[j]`` and thresholds increase from -inf.
    """
    y, s = _prepare(y_true, y_score, nan_policy, direction)
    require_both_classes(y)
    thr, tps, fps, k = _core.stats_roc_counts(s, y)
    thr, tps, fps = thr[:k], tps[:k].astype(np.float64), fps[:k].astype(np.float64)
    if drop_intermediate and k > 2:
        keep = np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True]
        thr, tps, fps = thr[keep], tps[keep], fps[keep]
    first = np.inf
    if direction == "lower":  # rule score <= t: thresholds increase from -inf
        thr, first = -thr, -np.inf
    return (np.r_[0.0, fps / fps[-1]], np.r_[0.0, tps / tps[-1]], np.r_[first, thr])


def _delong_se(v10, v01):
    m, n = len(v10), len(v01)
    if m < 2 or n < 2:
        return float("nan")
    return float(np.sqrt(np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / n))


def _obuchowski_cov(aucs, v10s, v01s, y, codes):
    """Clustered DeLong covariance of K AUCs on the same cases (Obuchowski 1997,
    Biometrics 53:567): cov_rs = S10_rs/M + S01_rs/N + (S11_rs + S11_sr)/(M N), from
    per-cluster sums of the placement values."""
    n_cl = int(codes.max()) + 1
    K = len(aucs)
    if n_cl < 2:
        return np.full((K, K), np.nan)
    pos, neg = y == 1, y == 0
    M, N = len(v10s[0]), len(v01s[0])
    m_i = np.bincount(codes[pos], minlength=n_cl)
    n_i = np.bincount(codes[neg], minlength=n_cl)
    A = np.array([np.bincount(codes[pos], weights=v, minlength=n_cl) - m_i * t for v, t in zip(v10s, aucs)])
    B = np.array([np.bincount(codes[neg], weights=v, minlength=n_cl) - n_i * t for v, t in zip(v01s, aucs)])
    f = n_cl / (n_cl - 1)
    s10 = f / M * (A @ A.T)
    s01 = f / N * (B @ B.T)
    s11 = f * (A @ B.T)
    return s10 / M + s01 / N + (s11 + s11.T) / (M * N)


def _obuchowski_se(auc, v10, v01, y, codes):
    return float(np.sqrt(max(_obuchowski_cov([auc], [v10], [v01], y, codes)[0, 0], 0.0)))


def roc_auc(y_true, y_score, *, ci="delong", conf_level=0.95, groups=None, n_boot=2000, seed=None,
            direction="higher", nan_policy="raise"):
    """Area under the ROC curve (Mann-Whitney form: ties count 1/2) with an interval.

    Parameters
    ----------
    ci : "delong" (default), "bootstrap" or None.
        DeLong: AUC ± z·sqrt(var(V10)/m + var(V01)/n) (sample variances, n-1) of the
        placement values; Wald interval clipped to [0, 1].  NaN when a class has
        fewer than 2 observations.
        Bootstrap: `n_boot` resamples stratified by outcome (cases and controls
        resampled separately), or, when `groups` (patient ids) are given, patients
        resampled with replacement, separately for patients with and without a
        positive row (replicates that still lack a class are dropped);
        percentile limits with linear interpolation (R type 7); the point estimate
        stays the sample AUC.  `seed`: int or numpy Generator (None draws fresh
        entropy; the seed used is stored in ``result.extra['seed']``).
    direction : "higher" (default) or "lower" (lower score = more likely positive).
    nan_policy : "raise" (default) or "omit" (complete cases).
    groups : patient ids (several rows per patient: both SIJs, visits).  The bootstrap
        resamples patients; ``ci="delong"`` uses Obuchowski's (1997) clustered
        variance of the DeLong placement values (method "delong-clustered").

    Returns
    -------
    AUCResult (estimate, ci_low, ci_high, se, method, n, n_pos, n_neg, replicates).
    """
    if groups is None:
        y, s = _prepare(y_true, y_score, nan_policy, direction)
    else:
        codes = groups_to_codes(groups, len(np.asarray(y_score)))
        y, s, codes_f = _prepare(y_true, y_score, nan_policy, direction,
                                 extra=[("groups", codes.astype(np.float64))])
        codes = np.unique(codes_f.astype(np.int64), return_inverse=True)[1].astype(np.int64)
    conf_level = check_conf_level(conf_level)
    n_pos, n_neg = require_both_classes(y)
    auc, v10, v01 = _core.stats_delong_placements(s, y)
    z = _st.norm.ppf(0.5 + conf_level / 2)
    res = AUCResult(estimate=float(auc), n=len(y), n_pos=n_pos, n_neg=n_neg, conf_level=conf_level,
                    method=str(ci), convention="score >= t, ties 1/2")
    res.se = _delong_se(v10, v01)
    if ci is None:
        res.method = "none"
    elif ci == "delong":
        if groups is not None and len(np.unique(codes)) < len(y):
            res.se = _obuchowski_se(auc, v10, v01, y, codes)
            res.method = "delong-clustered"
            res.convention += "; clustered (Obuchowski 1997) variance by groups"
        res.ci_low = float(np.clip(auc - z * res.se, 0.0, 1.0))
        res.ci_high = float(np.clip(auc + z * res.se, 0.0, 1.0))
        res.convention += "; DeLong Wald interval clipped to [0, 1]"
    elif ci == "bootstrap":
        if int(n_boot) < 1:
            raise ValueError(f"n_boot must be >= 1, got {n_boot}")
        seed_used = resolve_seed(seed)
        if groups is None:
            unit = np.arange(len(y), dtype=np.int64)
            unit_stratum = y.astype(np.int64)
            n_strata = 2
            kind = "stratified by outcome"
        else:
            unit = codes
            unit_stratum = np.zeros(int(codes.max()) + 1, dtype=np.int64)
            np.maximum.at(unit_stratum, codes, y.astype(np.int64))  # patient has a positive row
            n_strata = 2
            kind = "patients resampled, stratified by any positive row"
        reps = _core.stats_boot_auc(s, y, unit, unit_stratum, n_strata, int(n_boot), seed_used)
        ok = reps[~np.isnan(reps)]
        if len(ok) == 0:
            raise ValueError("no bootstrap replicate contained both classes")
        lo, hi = np.quantile(ok, [(1 - conf_level) / 2, (1 + conf_level) / 2])
        res.ci_low, res.ci_high = float(lo), float(hi)
        res.se = float(np.std(ok, ddof=1)) if len(ok) > 1 else float("nan")
        res.method = "bootstrap-percentile"
        res.replicates = reps
        res.extra.update(seed=seed_used, n_boot=int(n_boot), n_valid=int(len(ok)), resampling=kind)
        res.convention += f"; bootstrap {kind}, percentile type 7, se = SD of replicates"
    else:
        raise ValueError(f"ci must be 'delong', 'bootstrap' or None, got {ci!r}")
    return res


def delong_test(y_true, score_a, score_b, *, groups=None, conf_level=0.95, direction="higher",
                nan_policy="raise"):
    """Paired DeLong test of two scores on the same cases.

    z = (AUC_a - AUC_b) / sqrt(V_a + V_b - 2 Cov), two-sided normal p.  Identical
    curves give z = 0, p = 1.  ``estimate`` = AUC_a - AUC_b with its Wald interval;
    ``extra`` holds both AUCs and the 2x2 covariance matrix.
    groups : patient ids; when patients contribute several rows the covariance is
        Obuchowski's (1997) clustered one (method "DeLong paired, clustered").
    """
    y = as_binary(y_true, "y_true")
    a = as_1d_float(score_a, "score_a")
    b = as_1d_float(score_b, "score_b")
    if groups is None:
        y, a, b = complete_cases(nan_policy, ["y_true", "score_a", "score_b"], [y, a, b])
        codes = None
    else:
        codes = groups_to_codes(groups, len(a)).astype(np.float64)
        y, a, b, codes = complete_cases(nan_policy, ["y_true", "score_a", "score_b", "groups"], [y, a, b, codes])
        codes = np.unique(codes.astype(np.int64), return_inverse=True)[1].astype(np.int64)
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    if direction == "lower":
        a, b = -a, -b
    y = y.astype(np.uint8)
    m, n = require_both_classes(y)
    if m < 2 or n < 2:
        raise ValueError("the DeLong variance needs at least 2 positives and 2 negatives")
    conf_level = check_conf_level(conf_level)
    auc_a, v10a, v01a = _core.stats_delong_placements(a, y)
    auc_b, v10b, v01b = _core.stats_delong_placements(b, y)
    clustered = codes is not None and codes.max() + 1 < len(y)
    if clustered:
        S = _obuchowski_cov([auc_a, auc_b], [v10a, v10b], [v01a, v01b], y, codes)
    else:
        S = np.cov(np.vstack([v10a, v10b])) / m + np.cov(np.vstack([v01a, v01b])) / n
    diff = auc_a - auc_b
    var = S[0, 0] + S[1, 1] - 2 * S[0, 1]
    var = max(var, 0.0)
    if diff == 0.0:
        zval, p = 0.0, 1.0
    elif var == 0.0:
        zval, p = float(np.copysign(np.inf, diff)), 0.0
    else:
        zval = diff / np.sqrt(var)
        p = float(2 * _st.norm.sf(abs(zval)))
    zc = _st.norm.ppf(0.5 + conf_level / 2)
    se = float(np.sqrt(var))
    return TestResult(statistic=float(zval), p_value=p,
                      method="DeLong paired, clustered" if clustered else "DeLong paired", estimate=diff,
                      ci_low=diff - zc * se, ci_high=diff + zc * se, n=len(y),
                      extra={"auc_a": auc_a, "auc_b": auc_b, "cov": S, "se": se})


def delong_covariance(y_true, scores, *, groups=None, direction="higher", nan_policy="raise"):
    """AUCs of K scores on the same cases and their DeLong covariance matrix (K, K)
    (Obuchowski's clustered covariance when `groups` repeat patients).

    scores : (n, K) array or sequence of K arrays.  Returns (aucs, cov)."""
    y = as_binary(y_true, "y_true")
    S = np.asarray(scores, dtype=np.float64)
    if S.ndim != 2:
        raise ValueError(f"scores must be (n, K) or a sequence of K arrays, got shape {S.shape}")
    if S.shape[0] != len(y) and S.shape[1] == len(y):
        S = S.T
    if S.shape[0] != len(y):
        raise ValueError(f"scores have {S.shape[0]} rows but y_true has {len(y)}")
    if np.isinf(S).any():
        raise ValueError("scores contain infinite values")
    cols = [S[:, k] for k in range(S.shape[1])]
    names = ["y_true"] + [f"scores[:, {k}]" for k in range(len(cols))]
    arrays = [y] + cols
    if groups is not None:
        arrays.append(groups_to_codes(groups, len(y)).astype(np.float64))
        names.append("groups")
    out = complete_cases(nan_policy, names, arrays)
    y = out[0].astype(np.uint8)
    cols = out[1:1 + len(cols)]
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    if direction == "lower":
        cols = [-c for c in cols]
    m, n = require_both_classes(y)
    if m < 2 or n < 2:
        raise ValueError("the DeLong covariance needs at least 2 positives and 2 negatives")
    comps = [_core.stats_delong_placements(np.ascontiguousarray(c), y) for c in cols]
    aucs = np.array([c[0] for c in comps])
    v10s, v01s = [c[1] for c in comps], [c[2] for c in comps]
    codes = None
    if groups is not None:
        codes = np.unique(out[-1].astype(np.int64), return_inverse=True)[1].astype(np.int64)
    if codes is not None and codes.max() + 1 < len(y):
        return aucs, _obuchowski_cov(aucs, v10s, v01s, y, codes)
    return aucs, np.atleast_2d(np.cov(np.vstack(v10s))) / m + np.atleast_2d(np.cov(np.vstack(v01s))) / n


def delong_test_multi(y_true, scores, *, groups=None, direction="higher", nan_policy="raise"):
    """DeLong (1988) chi-square test that K >= 2 correlated AUCs are all equal:
    X2 = (L a)' (L S L')^-1 (L a) with contrasts L = [I | -1] (each AUC minus the last),
    df = K - 1.  ``extra`` holds the AUCs and the covariance matrix."""
    aucs, cov = delong_covariance(y_true, scores, groups=groups, direction=direction, nan_policy=nan_policy)
    K = len(aucs)
    if K < 2:
        raise ValueError("delong_test_multi needs at least 2 scores")
    L = np.hstack([np.eye(K - 1), -np.ones((K - 1, 1))])
    d = L @ aucs
    V = L @ cov @ L.T
    if np.allclose(d, 0, rtol=0, atol=1e-15):
        stat = 0.0
    else:
        stat = float(d @ np.linalg.pinv(V) @ d)
    df = int(np.linalg.matrix_rank(V)) or K - 1
    return TestResult(statistic=stat, p_value=float(_st.chi2.sf(stat, df)), df=df, method="DeLong chi-square",
                      n=len(np.asarray(y_true)), extra={"aucs": aucs, "cov": cov})


def delong_test_unpaired(y_true_a, score_a, y_true_b, score_b, *, conf_level=0.95, nan_policy="raise"):
    """DeLong test for two AUCs from independent samples: z = (A1 - A2)/sqrt(V1 + V2)."""
    r1 = roc_auc(y_true_a, score_a, nan_policy=nan_policy)
    r2 = roc_auc(y_true_b, score_b, nan_policy=nan_policy)
    conf_level = check_conf_level(conf_level)
    diff = r1.estimate - r2.estimate
    se = float(np.hypot(r1.se, r2.se))
    if np.isnan(se):
        raise ValueError("the DeLong variance needs at least 2 positives and 2 negatives in each sample")
    if diff == 0.0:
        zval, p = 0.0, 1.0
    elif se == 0.0:
        zval, p = float(np.copysign(np.inf, diff)), 0.0
    else:
        zval = diff / se
        p = float(2 * _st.norm.sf(abs(zval)))
    zc = _st.norm.ppf(0.5 + conf_level / 2)
    return TestResult(statistic=float(zval), p_value=p, method="DeLong unpaired", estimate=diff,
                      ci_low=diff - zc * se, ci_high=diff + zc * se, n=(r1.n, r2.n),
                      extra={"auc_a": r1.estimate, "auc_b": r2.estimate, "se": se})


def precision_recall_curve(y_true, y_score, *, direction="higher", nan_policy="raise"):
    """Precision-recall points (scikit-learn's shape, drop_intermediate=False).

    Returns precision, recall (decreasing, ending with the point (recall 0, precision 1))
    and thresholds (increasing, one fewer).  No positives: ValueError.
    """
    y, s = _prepare(y_true, y_score, nan_policy, direction)
    if not (y == 1).any():
        raise ValueError("y_true has no positives: precision-recall is undefined")
    thr, tps, fps, k = _core.stats_roc_counts(s, y)
    thr, tps, fps = thr[:k], tps[:k].astype(np.float64), fps[:k].astype(np.float64)
    if direction == "lower":
        thr = -thr
    ps = tps + fps
    precision = np.where(ps > 0, tps / np.where(ps > 0, ps, 1), 0.0)
    recall = tps / tps[-1]
    return np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0], thr[::-1]


def average_precision(y_true, y_score, *, method="step", direction="higher", nan_policy="raise"):
    """Average precision Σ (R_n - R_{n-1}) P_n (scikit-learn's step-wise sum, default),
    or ``method="trapezoid"`` for the trapezoidal area under the PR points."""
    precision, recall, _ = precision_recall_curve(y_true, y_score, direction=direction,
                                                  nan_policy=nan_policy)
    if method == "step":
        return float(-np.sum(np.diff(recall) * precision[:-1]))
    if method == "trapezoid":
        return float(-np.sum(np.diff(recall) * (precision[:-1] + precision[1:]) / 2))
    raise ValueError(f"method must be 'step' or 'trapezoid', got {method!r}")


@dataclass
class YoudenResult:
    threshold: float
    j: float
    sensitivity: float
    specificity: float
    convention: str = "max sens + spec - 1 over observed scores (rule score >= t); ties: highest threshold"


def youden_threshold(y_true, y_score, *, direction="higher", nan_policy="raise"):
    """Threshold maximising Youden's J = sensitivity + specificity - 1 over the observed
    scores (rule ``score >= t``).  Reports J itself.  Among ties the highest threshold wins."""
    fpr, tpr, thr = roc_curve(y_true, y_score, direction=direction, nan_policy=nan_policy)
    j = tpr[1:] - fpr[1:]
    i = int(np.argmax(j)) + 1
    return YoudenResult(threshold=float(thr[i]), j=float(tpr[i] - fpr[i]), sensitivity=float(tpr[i]),
                        specificity=float(1 - fpr[i]))


@dataclass
class MulticlassAUC:
    labels: np.ndarray
    per_class: np.ndarray
    prevalence: np.ndarray
    macro: float
    weighted: float
    convention: str = "one-vs-rest; macro = mean, weighted = by class prevalence"


def multiclass_auc(y_true, y_score, *, labels=None, nan_policy="raise"):
    """One-vs-rest AUC for each class of a multi-class outcome (e.g. K-L grades 0-4).

    y_true : (n,) class labels; y_score : (n, K) scores, column k for ``labels[k]``
    (``labels`` defaults to the sorted unique values of y_true).
    """
    y = np.asarray(y_true)
    S = np.asarray(y_score, dtype=np.float64)
    if S.ndim != 2:
        raise ValueError(f"y_score must be 2-D (n, n_classes), got shape {S.shape}")
    if len(y) != len(S):
        raise ValueError(f"y_true and y_score must have the same length, got {len(y)} and {len(S)}")
    if nan_policy == "omit":
        keep = ~np.isnan(S).any(axis=1)
        if y.dtype.kind == "f":
            keep &= ~np.isnan(y)
        y, S = y[keep], S[keep]
    elif nan_policy != "raise":
        raise ValueError(f"nan_policy must be 'raise' or 'omit', got {nan_policy!r}")
    elif np.isnan(S).any() or (y.dtype.kind == "f" and np.isnan(y).any()):
        raise ValueError("y_true or y_score contains NaN; pass nan_policy='omit'")
    labels = np.unique(y) if labels is None else np.asarray(labels)
    if len(labels) != S.shape[1]:
        raise ValueError(f"y_score has {S.shape[1]} columns but there are {len(labels)} labels")
    if len(labels) < 2:
        raise ValueError("multiclass_auc needs at least 2 classes")
    aucs = np.array([roc_auc((y == lab).astype(np.uint8), S[:, k], ci=None).estimate
                     for k, lab in enumerate(labels)])
    prev = np.array([np.mean(y == lab) for lab in labels])
    return MulticlassAUC(labels=labels, per_class=aucs, prevalence=prev, macro=float(aucs.mean()),
                         weighted=float(np.sum(aucs * prev) / prev.sum()))
