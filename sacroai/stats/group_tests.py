"""Group comparisons with effect sizes: Mann-Whitney, Kruskal-Wallis, t-tests (Student,
Welch, paired), chi-square and Fisher exact tests, Benjamini-Hochberg."""
import numpy as np
from scipy import stats as _st

from ._validation import as_1d_float, check_conf_level, complete_cases
from .results import TestResult

ALTERNATIVES = ("two-sided", "less", "greater")


def _clean(x, name, nan_policy):
    a = as_1d_float(x, name)
    (a,) = complete_cases(nan_policy, [name], [a])
    return a


def _check_alt(alternative):
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}")


def _p_from_z(z, alternative):
    if alternative == "two-sided":
        return float(min(1.0, 2 * _st.norm.sf(abs(z))))
    return float(_st.norm.sf(z) if alternative == "greater" else _st.norm.cdf(z))


def _mw_exact_cdf(n1, n2):
    """Null distribution of U (no ties): counts c[u] of arrangements, by recursion over n."""
    # f(m, n) coefficients of the Gaussian binomial; build with DP on (m, n)
    prev = [np.ones(1)] * (n2 + 1)  # m = 0: only U = 0 for every n
    for m in range(1, n1 + 1):
        cur = [np.ones(1)]  # n = 0
        for n in range(1, n2 + 1):
            a = prev[n]          # last element from sample 1 placed below: U unchanged ... (m-1, n) shifted by n
            b = cur[n - 1]       # (m, n-1)
            size = m * n + 1
            c = np.zeros(size)
            c[n:n + len(a)] += a
            c[:len(b)] += b
            cur.append(c)
        prev = cur
    counts = prev[n2]
    return counts / counts.sum()


def mann_whitney(x, y, *, method="auto", continuity_correction=True, alternative="two-sided",
                 nan_policy="raise"):
    """Mann-Whitney U test.  U is the statistic of the first sample
    (U1 = R1 - n1(n1+1)/2, ties counting 1/2).

    method : "asymptotic" (normal with tie-corrected variance, optional continuity
        correction), "exact" (permutation distribution; only without ties), or
        "auto" (exact when both samples < 8 and no ties, like SciPy).
    Effect sizes: common-language AUC = U1/(n1 n2) (``estimate``) and the
    rank-biserial correlation 2·AUC - 1 (``effect_size``)."""
    _check_alt(alternative)
    a, b = _clean(x, "x", nan_policy), _clean(y, "y", nan_policy)
    n1, n2 = len(a), len(b)
    if n1 == 0 or n2 == 0:
        raise ValueError("x and y must each have at least one observation")
    ranks = _st.rankdata(np.r_[a, b])
    U1 = float(ranks[:n1].sum() - n1 * (n1 + 1) / 2)
    N = n1 + n2
    _, t = np.unique(ranks, return_counts=True)
    ties = bool((t > 1).any())
    if method == "auto":
        method = "exact" if (n1 < 8 and n2 < 8 and not ties) else "asymptotic"
    if method == "exact":
        if ties:
            raise ValueError("the exact Mann-Whitney distribution assumes no ties; use method='asymptotic'")
        pmf = _mw_exact_cdf(n1, n2)
        u = int(round(U1))
        sf = pmf[u:].sum()   # P(U >= u)
        cdf = pmf[:u + 1].sum()
        p = {"greater": sf, "less": cdf, "two-sided": min(1.0, 2 * min(sf, cdf))}[alternative]
    elif method == "asymptotic":
        mu = n1 * n2 / 2
        var = n1 * n2 / 12 * ((N + 1) - np.sum(t ** 3 - t) / (N * (N - 1)))
        if var <= 0:
            p = float("nan")
        else:
            d = U1 - mu
            if continuity_correction:
                if alternative == "two-sided":
                    d = np.sign(d) * max(abs(d) - 0.5, 0.0)
                else:
                    d = d - 0.5 if alternative == "greater" else d + 0.5
            p = _p_from_z(d / np.sqrt(var), alternative)
    else:
        raise ValueError(f"method must be 'auto', 'exact' or 'asymptotic', got {method!r}")
    auc = U1 / (n1 * n2)
    return TestResult(statistic=U1, p_value=float(p), method=f"Mann-Whitney ({method})", estimate=auc,
                      effect_size=2 * auc - 1, effect_size_name="rank-biserial r",
                      alternative=alternative, n=(n1, n2),
                      extra={"continuity_correction": continuity_correction, "ties": ties})


def kruskal_wallis(*samples, nan_policy="raise"):
    """Kruskal-Wallis H (tie-corrected), chi-square with k - 1 df.
    Effect size epsilon^2 = H (N + 1) / (N^2 - 1)."""
    if len(samples) < 2:
        raise ValueError("kruskal_wallis needs at least 2 samples")
    groups = [_clean(s, f"samples[{i}]", nan_policy) for i, s in enumerate(samples)]
    if any(len(g) == 0 for g in groups):
        raise ValueError("every sample needs at least one observation")
    allv = np.concatenate(groups)
    N = len(allv)
    r = _st.rankdata(allv)
    idx = np.cumsum([0] + [len(g) for g in groups])
    H = 12 / (N * (N + 1)) * sum(r[idx[i]:idx[i + 1]].sum() ** 2 / len(g) for i, g in enumerate(groups)) \
        - 3 * (N + 1)
    _, t = np.unique(allv, return_counts=True)
    C = 1 - np.sum(t ** 3 - t) / (N ** 3 - N)
    if C == 0:
        raise ValueError("all values are identical: Kruskal-Wallis is undefined")
    H /= C
    df = len(groups) - 1
    return TestResult(statistic=float(H), p_value=float(_st.chi2.sf(H, df)), df=df, method="Kruskal-Wallis",
                      effect_size=float(H * (N + 1) / (N ** 2 - 1)), effect_size_name="epsilon squared",
                      n=tuple(len(g) for g in groups))


def ttest(x, y=None, *, kind="welch", mu=0.0, conf_level=0.95, alternative="two-sided", nan_policy="raise"):
    """t-tests.  kind: "student" (pooled variance), "welch" (default; Welch-Satterthwaite df),
    "paired" (differences x - y; complete pairs), or "one-sample" (y=None, against mu).

    estimate = mean difference with its t interval.  Effect sizes: Cohen's d with the
    pooled SD (student/welch), d_z = mean(d)/SD(d) (paired/one-sample)."""
    _check_alt(alternative)
    conf_level = check_conf_level(conf_level)
    if kind == "paired":
        if y is None:
            raise ValueError("paired t-test needs y")
        a, b = as_1d_float(x, "x"), as_1d_float(y, "y")
        a, b = complete_cases(nan_policy, ["x", "y"], [a, b])
        d = a - b
        kind_one = True
    elif kind == "one-sample" or y is None:
        d = _clean(x, "x", nan_policy)
        kind, kind_one = "one-sample", True
    else:
        kind_one = False
    if kind_one:
        n = len(d)
        if n < 2:
            raise ValueError("need at least 2 observations (pairs)")
        est = d.mean() - mu
        sd = d.std(ddof=1)
        se = sd / np.sqrt(n)
        df = n - 1
        eff, eff_name = est / sd, "d_z"
        nn = n
    else:
        a, b = _clean(x, "x", nan_policy), _clean(y, "y", nan_policy)
        n1, n2 = len(a), len(b)
        if n1 < 2 or n2 < 2:
            raise ValueError("each sample needs at least 2 observations")
        v1, v2 = a.var(ddof=1), b.var(ddof=1)
        est = a.mean() - b.mean() - mu
        sp = np.sqrt(((n1 - 1) * v1 + (n2 - 1) * v2) / (n1 + n2 - 2))
        if kind == "student":
            se = sp * np.sqrt(1 / n1 + 1 / n2)
            df = n1 + n2 - 2
        elif kind == "welch":
            se = np.sqrt(v1 / n1 + v2 / n2)
            df = (v1 / n1 + v2 / n2) ** 2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1))
        else:
            raise ValueError(f"kind must be 'student', 'welch', 'paired' or 'one-sample', got {kind!r}")
        eff, eff_name = (a.mean() - b.mean()) / sp, "Cohen's d (pooled SD)"
        nn = (n1, n2)
    if se == 0:
        raise ValueError("zero variance: the t statistic is undefined")
    t = est / se
    if alternative == "two-sided":
        p = 2 * _st.t.sf(abs(t), df)
        q = _st.t.ppf(0.5 + conf_level / 2, df)
        lo, hi = est - q * se, est + q * se
    elif alternative == "greater":
        p = _st.t.sf(t, df)
        lo, hi = est - _st.t.ppf(conf_level, df) * se, np.inf
    else:
        p = _st.t.cdf(t, df)
        lo, hi = -np.inf, est + _st.t.ppf(conf_level, df) * se
    return TestResult(statistic=float(t), p_value=float(p), df=float(df), method=f"t-test ({kind})",
                      estimate=float(est + mu), ci_low=float(lo + mu), ci_high=float(hi + mu),
                      effect_size=float(eff), effect_size_name=eff_name, alternative=alternative, n=nn,
                      extra={"se": float(se)})


def _table(table):
    T = np.asarray(table, dtype=np.float64)
    if T.ndim != 2 or min(T.shape) < 2:
        raise ValueError(f"table must be a 2-D contingency table with at least 2 rows and columns, got shape {T.shape}")
    if (T < 0).any() or np.isnan(T).any() or (T != np.round(T)).any():
        raise ValueError("table must hold non-negative integer counts")
    return T


def chi2_test(table, *, correction=True):
    """Pearson chi-square test of independence on an r x c table.

    correction : Yates' continuity correction, applied to 2x2 tables only (R's and
        SciPy's default).  Effect size: Cramer's V (from the uncorrected statistic)."""
    T = _table(table)
    n = T.sum()
    E = np.outer(T.sum(axis=1), T.sum(axis=0)) / n
    if (E == 0).any():
        raise ValueError("a row or column of table sums to zero: expected counts are zero")
    df = (T.shape[0] - 1) * (T.shape[1] - 1)
    X2_raw = np.sum((T - E) ** 2 / E)
    if correction and df == 1:
        d = np.minimum(np.abs(T - E), 0.5)
        X2 = np.sum((np.abs(T - E) - d) ** 2 / E)
    else:
        X2 = X2_raw
    V = np.sqrt(X2_raw / (n * (min(T.shape) - 1)))
    return TestResult(statistic=float(X2), p_value=float(_st.chi2.sf(X2, df)), df=df,
                      method="Pearson chi-square" + (" (Yates)" if correction and df == 1 else ""),
                      effect_size=float(V), effect_size_name="Cramer's V", n=int(n),
                      extra={"expected": E})


def fisher_exact(table, *, alternative="two-sided", conf_level=0.95):
    """Fisher's exact test on a 2x2 table [[a, b], [c, d]], or on an r x c table
    (Freeman-Halton exact enumeration, two-sided only; statistic = probability of
    the observed table).

    Two-sided p sums the hypergeometric probabilities not larger than the observed
    one (relative tolerance 1e-7, as R).  ``estimate`` is the sample odds ratio
    ad/bc (SciPy's); effect_size is the same."""
    _check_alt(alternative)
    T = _table(table)
    if T.shape != (2, 2):
        if alternative != "two-sided":
            raise ValueError("r x c tables support only alternative='two-sided'")
        return _fisher_rxc(T)
    a, b, c, d = (int(v) for v in T.ravel())
    r1, c1, n = a + b, a + c, a + b + c + d
    lo, hi = max(0, c1 - (n - r1)), min(r1, c1)
    support = np.arange(lo, hi + 1)
    pmf = _st.hypergeom.pmf(support, n, r1, c1)
    p_obs = pmf[a - lo]
    if alternative == "two-sided":
        p = pmf[pmf <= p_obs * (1 + 1e-7)].sum()
    elif alternative == "greater":
        p = pmf[support >= a].sum()
    else:
        p = pmf[support <= a].sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        orr = (a * d) / (b * c) if b * c > 0 else (np.inf if a * d > 0 else np.nan)
    return TestResult(statistic=float(orr), p_value=float(min(1.0, p)), method="Fisher exact", estimate=float(orr),
                      effect_size=float(orr), effect_size_name="sample odds ratio", alternative=alternative,
                      n=n)


def _fisher_rxc(T, max_tables=2_000_000):
    """Freeman-Halton extension: exact enumeration of all r x c tables with the observed
    margins; p = total probability of tables no more probable than the observed one
    (relative tolerance 1e-7)."""
    from scipy.special import gammaln
    T = T.astype(np.int64)
    rows, cols = T.sum(axis=1), T.sum(axis=0)
    n = int(T.sum())
    r, c = T.shape
    const = gammaln(rows + 1).sum() + gammaln(cols + 1).sum() - gammaln(n + 1)

    def logp(tab):
        return const - gammaln(tab + 1).sum()

    lp_obs = logp(T)
    limit = lp_obs + np.log1p(1e-7)
    total = 0.0
    count = 0
    cur = np.zeros((r, c), dtype=np.int64)

    def fill(i, j, row_left, col_left):
        # fill cell (i, j) of the first r-1 rows, column by column; the last row is implied
        nonlocal total, count
        if i == r - 1:
            cur[r - 1] = col_left
            count += 1
            if count > max_tables:
                raise ValueError(f"more than {max_tables} tables share these margins: the exact test is too "
                                 "expensive; use chi2_test")
            lp = logp(cur)
            if lp <= limit:
                total += np.exp(lp)
            return
        if j == c - 1:
            v = row_left[i]
            if v > col_left[j]:
                return
            cur[i, j] = v
            col_left[j] -= v
            fill(i + 1, 0, row_left, col_left)
            col_left[j] += v
            return
        # the rest of row i must fit in the remaining columns
        rest_cap = col_left[j + 1:].sum()
        lo = max(0, row_left[i] - rest_cap)
        hi = min(row_left[i], col_left[j])
        for v in range(lo, hi + 1):
            cur[i, j] = v
            row_left[i] -= v
            col_left[j] -= v
            fill(i, j + 1, row_left, col_left)
            row_left[i] += v
            col_left[j] += v

    fill(0, 0, rows.copy(), cols.copy())
    return TestResult(statistic=float(np.exp(lp_obs)), p_value=float(min(1.0, total)),
                      method="Fisher exact (Freeman-Halton, r x c)", n=n,
                      extra={"tables_enumerated": count})


def benjamini_hochberg(p_values):
    """Benjamini-Hochberg adjusted p-values (FDR).  NaN stays in place; m = number of
    non-missing p-values; output in input order."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"p_values must be 1-D, got shape {p.shape}")
    ok = ~np.isnan(p)
    if ((p[ok] < 0) | (p[ok] > 1)).any():
        raise ValueError("p_values must be in [0, 1]")
    out = np.full_like(p, np.nan)
    q = p[ok]
    m = len(q)
    if m == 0:
        return out
    order = np.argsort(q)
    adj = q[order] * m / np.arange(1, m + 1)
    adj = np.minimum.accumulate(adj[::-1])[::-1]
    res = np.empty(m)
    res[order] = np.minimum(adj, 1.0)
    out[ok] = res
    return out
