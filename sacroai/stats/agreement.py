"""Agreement and reliability: ICC (six Shrout & Fleiss forms), Cohen's and Fleiss' kappa,
Bland-Altman, Pearson/Spearman with intervals, smallest detectable change."""
from dataclasses import dataclass
from typing import Dict

import numpy as np
from scipy import stats as _st

from ._validation import as_1d_float, check_conf_level, complete_cases
from .results import Estimate

# Both naming schemes map to the Shrout & Fleiss form.
ICC_FORMS = {
    "ICC(1,1)": "ICC(1,1)", "ICC1": "ICC(1,1)", "ICC(1)": "ICC(1,1)",
    "ICC(2,1)": "ICC(2,1)", "ICC2": "ICC(2,1)", "ICC(A,1)": "ICC(2,1)",
    "ICC(3,1)": "ICC(3,1)", "ICC3": "ICC(3,1)", "ICC(C,1)": "ICC(3,1)",
    "ICC(1,k)": "ICC(1,k)", "ICC1k": "ICC(1,k)", "ICC(k)": "ICC(1,k)",
    "ICC(2,k)": "ICC(2,k)", "ICC2k": "ICC(2,k)", "ICC(A,k)": "ICC(2,k)",
    "ICC(3,k)": "ICC(3,k)", "ICC3k": "ICC(3,k)", "ICC(C,k)": "ICC(3,k)",
}
ICC_DESCRIPTIONS = {
    "ICC(1,1)": "one-way random, single rater (ICC(1))",
    "ICC(2,1)": "two-way random, absolute agreement, single rater (ICC(A,1))",
    "ICC(3,1)": "two-way mixed, consistency, single rater (ICC(C,1))",
    "ICC(1,k)": "one-way random, mean of k raters",
    "ICC(2,k)": "two-way random, absolute agreement, mean of k raters (ICC(A,k))",
    "ICC(3,k)": "two-way mixed, consistency, mean of k raters (ICC(C,k))",
}


def _wide_ratings(ratings, subjects=None, raters=None):
    """(n_subjects, k_raters) matrix from wide input, or from long input
    (ratings, subjects, raters arrays or a DataFrame with those column names)."""
    if subjects is None and raters is None:
        if hasattr(ratings, "to_numpy"):
            ratings = ratings.to_numpy()
        X = np.asarray(ratings, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(f"ratings must be 2-D (subjects x raters) in wide form, got shape {X.shape}; "
                             "for long form pass subjects= and raters=")
        return X
    if subjects is None or raters is None:
        raise ValueError("long form needs both subjects and raters")
    if isinstance(subjects, str):  # DataFrame with column names
        df = ratings
        if not isinstance(raters, str):
            raise ValueError("give subjects and raters both as column names or both as arrays")
        values_col = [c for c in df.columns if c not in (subjects, raters)]
        if len(values_col) != 1:
            raise ValueError("the long DataFrame must have exactly one rating column besides "
                             f"{subjects!r} and {raters!r}")
        r, s, j = df[values_col[0]].to_numpy(float), df[subjects].to_numpy(), df[raters].to_numpy()
    else:
        r = np.asarray(ratings, dtype=np.float64)
        s, j = np.asarray(subjects), np.asarray(raters)
    if not (len(r) == len(s) == len(j)):
        raise ValueError(f"ratings, subjects and raters must have the same length, got {len(r)}, {len(s)}, {len(j)}")
    su, si = np.unique(s, return_inverse=True)
    ru, ri = np.unique(j, return_inverse=True)
    X = np.full((len(su), len(ru)), np.nan)
    seen = np.zeros_like(X, dtype=bool)
    for a, b, v in zip(si, ri, r):
        if seen[a, b]:
            raise ValueError(f"subject {su[a]!r} has more than one rating from rater {ru[b]!r}")
        seen[a, b] = True
        X[a, b] = v
    return X


@dataclass
class ICCResult:
    """All six ICC forms.  table[form] = Estimate with F, df1, df2, p in extra.
    Pick one with result["ICC(A,1)"] or result["ICC2"] (both naming schemes)."""
    table: Dict[str, Estimate]
    n_subjects: int
    n_raters: int
    n_dropped: int
    mean_squares: Dict[str, float]
    conf_level: float

    def __getitem__(self, form):
        if form not in ICC_FORMS:
            raise KeyError(f"unknown ICC form {form!r}; known: {sorted(ICC_FORMS)}")
        return self.table[ICC_FORMS[form]]


def icc(ratings, *, subjects=None, raters=None, conf_level=0.95):
    """Intraclass correlation coefficients (Shrout & Fleiss 1979; McGraw & Wong names).

    ratings : (n_subjects, k_raters) wide matrix, or long form with `subjects` and
        `raters` (arrays of ids, or column names of a DataFrame `ratings`).
        Subjects with a missing rating are dropped listwise.
    Intervals are F-based as in R psych::ICC (two-sided, conf_level); ICC(2,k)'s
    interval is ICC(2,1)'s transformed by Spearman-Brown.
    """
    conf_level = check_conf_level(conf_level)
    X = _wide_ratings(ratings, subjects, raters)
    keep = ~np.isnan(X).any(axis=1)
    n_dropped = int((~keep).sum())
    X = X[keep]
    n, k = X.shape
    if k < 2:
        raise ValueError(f"ICC needs at least 2 raters, got {k}")
    if n < 2:
        raise ValueError(f"ICC needs at least 2 complete subjects, got {n}")
    grand = X.mean()
    ss_rows = k * np.sum((X.mean(axis=1) - grand) ** 2)
    ss_cols = n * np.sum((X.mean(axis=0) - grand) ** 2)
    ss_tot = np.sum((X - grand) ** 2)
    ss_err = ss_tot - ss_rows - ss_cols
    MSB = ss_rows / (n - 1)
    MSJ = ss_cols / (k - 1)
    MSE = ss_err / ((n - 1) * (k - 1))
    MSW = (ss_cols + ss_err) / (n * (k - 1))
    icc1 = (MSB - MSW) / (MSB + (k - 1) * MSW)
    icc2 = (MSB - MSE) / (MSB + (k - 1) * MSE + k * (MSJ - MSE) / n)
    icc3 = (MSB - MSE) / (MSB + (k - 1) * MSE)
    icc1k = (MSB - MSW) / MSB
    icc2k = (MSB - MSE) / (MSB + (MSJ - MSE) / n)
    icc3k = (MSB - MSE) / MSB
    F11, df11n, df11d = MSB / MSW, n - 1, n * (k - 1)
    F21, df21n, df21d = MSB / MSE, n - 1, (n - 1) * (k - 1)
    p11 = float(_st.f.sf(F11, df11n, df11d))
    p21 = float(_st.f.sf(F21, df21n, df21d))
    a2 = (1 - conf_level) / 2
    F1L = F11 / _st.f.ppf(1 - a2, df11n, df11d)
    F1U = F11 * _st.f.ppf(1 - a2, df11d, df11n)
    F3L = F21 / _st.f.ppf(1 - a2, df21n, df21d)
    F3U = F21 * _st.f.ppf(1 - a2, df21d, df21n)
    ci = {
        "ICC(1,1)": ((F1L - 1) / (F1L + k - 1), (F1U - 1) / (F1U + k - 1)),
        "ICC(3,1)": ((F3L - 1) / (F3L + k - 1), (F3U - 1) / (F3U + k - 1)),
        "ICC(1,k)": (1 - 1 / F1L, 1 - 1 / F1U),
        "ICC(3,k)": (1 - 1 / F3L, 1 - 1 / F3U),
    }
    Fj = MSJ / MSE
    vn = (k - 1) * (n - 1) * (k * icc2 * Fj + n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    vd = (n - 1) * k ** 2 * icc2 ** 2 * Fj ** 2 + (n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    v = vn / vd
    FU = _st.f.ppf(1 - a2, n - 1, v)
    FL = _st.f.ppf(1 - a2, v, n - 1)
    L2 = n * (MSB - FU * MSE) / (FU * (k * MSJ + (k * n - k - n) * MSE) + n * MSB)
    U2 = n * (FL * MSB - MSE) / (k * MSJ + (k * n - k - n) * MSE + n * FL * MSB)
    ci["ICC(2,1)"] = (L2, U2)
    ci["ICC(2,k)"] = (L2 * k / (1 + L2 * (k - 1)), U2 * k / (1 + U2 * (k - 1)))
    est = {"ICC(1,1)": icc1, "ICC(2,1)": icc2, "ICC(3,1)": icc3,
           "ICC(1,k)": icc1k, "ICC(2,k)": icc2k, "ICC(3,k)": icc3k}
    ftest = {"ICC(1,1)": (F11, df11n, df11d, p11), "ICC(1,k)": (F11, df11n, df11d, p11)}
    for f in ("ICC(2,1)", "ICC(3,1)", "ICC(2,k)", "ICC(3,k)"):
        ftest[f] = (F21, df21n, df21d, p21)
    table = {}
    for f, e in est.items():
        F, d1, d2, p = ftest[f]
        table[f] = Estimate(estimate=float(e), ci_low=float(ci[f][0]), ci_high=float(ci[f][1]),
                            method="F (psych::ICC)", n=n, conf_level=conf_level,
                            convention=ICC_DESCRIPTIONS[f],
                            extra={"F": float(F), "df1": d1, "df2": float(d2), "p_value": p})
    return ICCResult(table=table, n_subjects=n, n_raters=k, n_dropped=n_dropped, conf_level=conf_level,
                     mean_squares={"MSB": MSB, "MSJ": MSJ, "MSE": MSE, "MSW": MSW})


def _kappa_weights(K, weights):
    i = np.arange(K)
    d = np.abs(i[:, None] - i[None, :]).astype(np.float64)
    if weights in (None, "none", "unweighted"):
        return (d == 0).astype(np.float64)
    if K < 2:
        return np.ones((K, K))
    if weights == "linear":
        return 1 - d / (K - 1)
    if weights == "quadratic":
        return 1 - (d / (K - 1)) ** 2
    raise ValueError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")


def cohen_kappa(rater1, rater2, *, weights=None, labels=None, conf_level=0.95, nan_policy="raise"):
    """Cohen's kappa for two raters, optionally weighted.

    weights : None (unweighted), "linear" or "quadratic"; weights use the position
        of each category among the observed categories (sorted), or among `labels`.
    SE: large-sample non-null variance of Fleiss, Cohen & Everitt (1969);
    CI = kappa ± z·SE.  All ratings in one category: kappa is NaN.
    nan_policy : "raise" (default) or "omit" (pairs where both raters gave a rating)."""
    conf_level = check_conf_level(conf_level)
    a, b = np.asarray(rater1), np.asarray(rater2)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError("rater1 and rater2 must be 1-D")
    if len(a) != len(b):
        raise ValueError(f"rater1 and rater2 must have the same length, got {len(a)} and {len(b)}")
    if len(a) == 0:
        raise ValueError("no ratings")
    miss = np.zeros(len(a), dtype=bool)
    for nm, x in (("rater1", a), ("rater2", b)):
        if x.dtype.kind == "f" and np.isnan(x).any():
            if nan_policy != "omit":
                raise ValueError(f"{nm} contains NaN; pass nan_policy='omit' for complete pairs")
            miss |= np.isnan(x)
    if nan_policy not in ("raise", "omit"):
        raise ValueError(f"nan_policy must be 'raise' or 'omit', got {nan_policy!r}")
    a, b = a[~miss], b[~miss]
    if len(a) == 0:
        raise ValueError("no complete pairs of ratings")
    cats = np.union1d(a, b) if labels is None else np.asarray(labels)
    idx = {c: i for i, c in enumerate(cats.tolist())}
    for nm, x in (("rater1", a), ("rater2", b)):
        extra = set(np.unique(x).tolist()) - set(idx)
        if extra:
            raise ValueError(f"{nm} has categories not in labels: {sorted(extra)[:5]}")
    K = len(cats)
    T = np.zeros((K, K))
    np.add.at(T, ([idx[v] for v in a.tolist()], [idx[v] for v in b.tolist()]), 1)
    n = T.sum()
    p = T / n
    W = _kappa_weights(K, weights)
    r, c = p.sum(axis=1), p.sum(axis=0)
    po = np.sum(W * p)
    pe = np.sum(W * np.outer(r, c))
    if np.isclose(pe, 1.0, rtol=0, atol=1e-15):
        kappa = se = float("nan")
    else:
        kappa = (po - pe) / (1 - pe)
        wr = W @ c  # w-bar_i. = sum_j p_.j w_ij
        wc = r @ W  # w-bar_.j = sum_i p_i. w_ij
        term = np.sum(p * (W - (wr[:, None] + wc[None, :]) * (1 - kappa)) ** 2)
        var = (term - (kappa - pe * (1 - kappa)) ** 2) / (n * (1 - pe) ** 2)
        se = float(np.sqrt(max(var, 0.0)))
    z = _st.norm.ppf(0.5 + conf_level / 2)
    return Estimate(estimate=float(kappa), ci_low=kappa - z * se, ci_high=kappa + z * se, se=se,
                    method="Fleiss-Cohen-Everitt 1969 non-null SE", n=int(n), conf_level=conf_level,
                    convention=f"weights={weights or 'none'} by category position",
                    extra={"table": T, "labels": cats, "po": float(po), "pe": float(pe)})


def fleiss_kappa(ratings, *, counts=False, labels=None, conf_level=0.95):
    """Fleiss' kappa for several raters per subject.

    ratings : (n_subjects, n_raters) category labels, or with counts=True an
        (n_subjects, n_categories) table of how many raters chose each category
        (same number of raters per subject).
    SE: Fleiss, Nee & Landis (1979) variance under kappa = 0 (for the z test);
    the interval kappa ± z·SE0 is approximate."""
    conf_level = check_conf_level(conf_level)
    R = np.asarray(ratings)
    if R.ndim != 2:
        raise ValueError(f"ratings must be 2-D, got shape {R.shape}")
    if counts:
        T = R.astype(np.float64)
    else:
        if R.dtype.kind == "f" and np.isnan(R).any():
            raise ValueError("ratings contains NaN")
        cats = np.unique(R) if labels is None else np.asarray(labels)
        T = np.stack([(R == c).sum(axis=1) for c in cats], axis=1).astype(np.float64)
    m = T.sum(axis=1)
    if not np.all(m == m[0]) or m[0] < 2:
        raise ValueError("every subject needs the same number (>= 2) of ratings")
    N, m = T.shape[0], m[0]
    pj = T.sum(axis=0) / (N * m)
    Pi = (np.sum(T * T, axis=1) - m) / (m * (m - 1))
    Pbar, Pe = Pi.mean(), np.sum(pj ** 2)
    if np.isclose(Pe, 1.0, rtol=0, atol=1e-15):
        return Estimate(estimate=float("nan"), method="Fleiss", n=N)
    kappa = (Pbar - Pe) / (1 - Pe)
    q = 1 - pj
    s = np.sum(pj * q)
    var0 = 2 / (N * m * (m - 1)) * (s ** 2 - np.sum(pj * q * (q - pj))) / s ** 2
    se0 = float(np.sqrt(var0))
    z = _st.norm.ppf(0.5 + conf_level / 2)
    zstat = kappa / se0
    return Estimate(estimate=float(kappa), ci_low=kappa - z * se0, ci_high=kappa + z * se0, se=se0,
                    method="Fleiss 1971; SE under H0 (Fleiss, Nee & Landis 1979)", n=N,
                    conf_level=conf_level,
                    extra={"z": float(zstat), "p_value": float(2 * _st.norm.sf(abs(zstat))), "n_raters": int(m)})


@dataclass
class BlandAltmanResult:
    """Differences method1 - method2.  bias ± 1.96·SD limits with t-based CIs."""
    bias: Estimate
    sd: float
    lower_loa: Estimate
    upper_loa: Estimate
    means: np.ndarray
    differences: np.ndarray
    n: int
    multiplier: float = 1.96
    convention: str = "d = method1 - method2; SD with n-1; limits' SE^2 = s^2 (1/n + z^2/(2(n-1)))"


def bland_altman(method1, method2, *, conf_level=0.95, multiplier=1.96, nan_policy="raise"):
    """Bland-Altman agreement of two measurement methods on the same subjects."""
    conf_level = check_conf_level(conf_level)
    a = as_1d_float(method1, "method1")
    b = as_1d_float(method2, "method2")
    a, b = complete_cases(nan_policy, ["method1", "method2"], [a, b])
    n = len(a)
    if n < 2:
        raise ValueError(f"Bland-Altman needs at least 2 pairs, got {n}")
    d = a - b
    bias, sd = float(d.mean()), float(d.std(ddof=1))
    t = _st.t.ppf(0.5 + conf_level / 2, n - 1)
    se_bias = sd / np.sqrt(n)
    se_loa = sd * np.sqrt(1 / n + multiplier ** 2 / (2 * (n - 1)))
    lo, hi = bias - multiplier * sd, bias + multiplier * sd
    mk = lambda e, se, name: Estimate(estimate=e, ci_low=e - t * se, ci_high=e + t * se, se=se,  # noqa: E731
                                      method="t", n=n, conf_level=conf_level, convention=name)
    return BlandAltmanResult(bias=mk(bias, se_bias, "mean difference"), sd=sd,
                             lower_loa=mk(lo, se_loa, "lower limit of agreement"),
                             upper_loa=mk(hi, se_loa, "upper limit of agreement"),
                             means=(a + b) / 2, differences=d, n=n, multiplier=multiplier)


def _fisher_ci(r, n, conf_level):
    if n <= 3 or abs(r) >= 1:
        return (float("nan"), float("nan")) if n <= 3 else (float(r), float(r))
    z = np.arctanh(r)
    h = _st.norm.ppf(0.5 + conf_level / 2) / np.sqrt(n - 3)
    return float(np.tanh(z - h)), float(np.tanh(z + h))


def pearson(x, y, *, conf_level=0.95, nan_policy="raise"):
    """Pearson r, two-sided t-test p (n - 2 df), Fisher-z interval with SE 1/sqrt(n - 3)."""
    conf_level = check_conf_level(conf_level)
    a, b = complete_cases(nan_policy, ["x", "y"], [as_1d_float(x, "x"), as_1d_float(y, "y")])
    n = len(a)
    if n < 3:
        raise ValueError(f"correlation needs at least 3 pairs, got {n}")
    da, db = a - a.mean(), b - b.mean()
    den = np.sqrt(np.sum(da * da) * np.sum(db * db))
    if den == 0:
        raise ValueError("x or y is constant: the correlation is undefined")
    r = float(np.clip(np.sum(da * db) / den, -1, 1))
    return _corr_result(r, n, conf_level, "pearson")


def _corr_result(r, n, conf_level, name):
    df = n - 2
    if abs(r) == 1:
        p = 0.0
    else:
        t = r * np.sqrt(df / (1 - r * r))
        p = float(2 * _st.t.sf(abs(t), df))
    lo, hi = _fisher_ci(r, n, conf_level)
    return Estimate(estimate=r, ci_low=lo, ci_high=hi, method="Fisher z", n=n, conf_level=conf_level,
                    convention=f"{name}; p from t with n-2 df; CI Fisher z, SE 1/sqrt(n-3)",
                    extra={"p_value": p})


def spearman(x, y, *, conf_level=0.95, nan_policy="raise"):
    """Spearman rho (Pearson r of mid-ranks), p from the t approximation,
    Fisher-z interval with SE 1/sqrt(n - 3)."""
    conf_level = check_conf_level(conf_level)
    a, b = complete_cases(nan_policy, ["x", "y"], [as_1d_float(x, "x"), as_1d_float(y, "y")])
    if len(a) < 3:
        raise ValueError(f"correlation needs at least 3 pairs, got {len(a)}")
    ra, rb = _st.rankdata(a), _st.rankdata(b)
    res = pearson(ra, rb, conf_level=conf_level)
    res.convention = res.convention.replace("pearson", "spearman (mid-ranks)")
    return res


@dataclass
class SDCResult:
    sem: float
    sdc: float
    sdc_group: float
    icc: Estimate
    n: int
    k: int
    convention: str


def smallest_detectable_change(sessions, *, kind="agreement", conf_level=0.95):
    """Smallest detectable change from test-retest data (de Vet et al. 2006).

    sessions : (n_subjects, k_sessions) wide matrix (k >= 2).
    kind : "agreement" SEM = sqrt(MSE + (MSJ - MSE)/n) (systematic differences count),
        or "consistency" SEM = sqrt(MSE).  SDC = z·sqrt(2)·SEM (z = 1.96 at 95 %),
        SDC_group = SDC / sqrt(n).  For two sessions, consistency SEM = SD(diff)/sqrt(2).
    """
    conf_level = check_conf_level(conf_level)
    r = icc(sessions, conf_level=conf_level)
    ms = r.mean_squares
    n = r.n_subjects
    if kind == "agreement":
        var = ms["MSE"] + max(ms["MSJ"] - ms["MSE"], 0.0) / n
        form = "ICC(2,1)"
    elif kind == "consistency":
        var = ms["MSE"]
        form = "ICC(3,1)"
    else:
        raise ValueError(f"kind must be 'agreement' or 'consistency', got {kind!r}")
    sem = float(np.sqrt(var))
    z = _st.norm.ppf(0.5 + conf_level / 2)
    sdc = float(z * np.sqrt(2) * sem)
    return SDCResult(sem=sem, sdc=sdc, sdc_group=sdc / np.sqrt(n), icc=r[form], n=n, k=r.n_raters,
                     convention=f"{kind} SEM from two-way ANOVA; SDC = z sqrt(2) SEM")
