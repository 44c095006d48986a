"""Group tests against SciPy/statsmodels, decision curves against a direct formula twin."""
import numpy as np
import pytest
from scipy import stats as st

from sacroai import _core
from sacroai.stats import (benjamini_hochberg, chi2_test, decision_curve, fisher_exact, kruskal_wallis,
                           mann_whitney, ttest)

RTOL = 1e-6


@pytest.fixture(scope="module")
def cancer():
    from sklearn.datasets import load_breast_cancer
    X, y = load_breast_cancer(return_X_y=True)
    return X, y


def test_mann_whitney_matches_scipy(cancer):
    X, y = cancer
    a, b = np.round(X[y == 1, 1], 0), np.round(X[y == 0, 1], 0)  # texture, with ties
    for cc in (True, False):
        for alt in ("two-sided", "less", "greater"):
            r = mann_whitney(a, b, method="asymptotic", continuity_correction=cc, alternative=alt)
            s = st.mannwhitneyu(a, b, method="asymptotic", use_continuity=cc, alternative=alt)
            assert r.statistic == s.statistic
            assert r.p_value == pytest.approx(s.pvalue, rel=RTOL)
    r = mann_whitney(a, b)
    assert r.estimate == pytest.approx(r.statistic / (len(a) * len(b)), rel=1e-12)
    rng = np.random.default_rng(0)
    for n1, n2 in [(3, 4), (6, 7), (1, 5)]:
        u, v = rng.normal(size=n1), rng.normal(size=n2) + 0.7
        for alt in ("two-sided", "less", "greater"):
            r = mann_whitney(u, v, method="exact", alternative=alt)
            s = st.mannwhitneyu(u, v, method="exact", alternative=alt)
            assert r.p_value == pytest.approx(s.pvalue, rel=RTOL)


def test_kruskal_matches_scipy(cancer):
    X, y = cancer
    groups = [np.round(X[y == 1, 0]), np.round(X[y == 0, 0]), np.round(X[:50, 0] + 1)]
    r = kruskal_wallis(*groups)
    s = st.kruskal(*groups)
    assert r.statistic == pytest.approx(s.statistic, rel=RTOL)
    assert r.p_value == pytest.approx(s.pvalue, rel=RTOL)
    assert r.df == 2


def test_ttests_match_scipy(cancer):
    X, y = cancer
    a, b = X[y == 1, 0], X[y == 0, 0]
    for kind, eq in (("student", True), ("welch", False)):
        r = ttest(a, b, kind=kind)
        s = st.ttest_ind(a, b, equal_var=eq)
        assert r.statistic == pytest.approx(s.statistic, rel=RTOL)
        assert r.p_value == pytest.approx(s.pvalue, rel=RTOL)
        assert r.df == pytest.approx(s.df, rel=RTOL)
        ci = s.confidence_interval(0.95)
        assert (r.ci_low, r.ci_high) == pytest.approx((ci.low, ci.high), rel=RTOL)
    x1, x2 = X[:100, 0], X[:100, 2] / 6.3
    r = ttest(x1, x2, kind="paired")
    s = st.ttest_rel(x1, x2)
    assert r.statistic == pytest.approx(s.statistic, rel=RTOL) and r.p_value == pytest.approx(s.pvalue, rel=RTOL)
    d = x1 - x2
    assert r.effect_size == pytest.approx(d.mean() / d.std(ddof=1), rel=RTOL)
    r = ttest(a, b, kind="welch", alternative="greater")
    assert r.p_value == pytest.approx(st.ttest_ind(a, b, equal_var=False, alternative="greater").pvalue, rel=RTOL)


def test_chi2_and_fisher_match_scipy():
    for T in ([[12, 5], [3, 9]], [[20, 15, 5], [10, 25, 12]], [[1, 9], [11, 3]]):
        for corr in (True, False):
            r = chi2_test(T, correction=corr)
            s = st.chi2_contingency(T, correction=corr)
            assert r.statistic == pytest.approx(s.statistic, rel=RTOL)
            assert r.p_value == pytest.approx(s.pvalue, rel=RTOL)
    from scipy.stats.contingency import association
    T = np.array([[20, 15, 5], [10, 25, 12]])
    assert chi2_test(T).effect_size == pytest.approx(association(T, method="cramer"), rel=RTOL)
    for T in ([[3, 1], [1, 3]], [[1, 9], [11, 3]], [[10, 2], [3, 15]], [[0, 5], [5, 0]]):
        for alt in ("two-sided", "less", "greater"):
            r = fisher_exact(T, alternative=alt)
            s = st.fisher_exact(T, alternative=alt)
            assert r.p_value == pytest.approx(s.pvalue, rel=RTOL)
            if np.isfinite(s.statistic):
                assert r.estimate == pytest.approx(s.statistic, rel=RTOL)


def test_benjamini_hochberg_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests
    rng = np.random.default_rng(1)
    p = rng.random(40) ** 3
    np.testing.assert_allclose(benjamini_hochberg(p), multipletests(p, method="fdr_bh")[1], rtol=RTOL)
    pn = p.copy()
    pn[[3, 17]] = np.nan
    out = benjamini_hochberg(pn)
    assert np.isnan(out[[3, 17]]).all()
    ok = ~np.isnan(pn)
    np.testing.assert_allclose(out[ok], multipletests(pn[ok], method="fdr_bh")[1], rtol=RTOL)


def nb_twin(y, r, pt):
    n = len(y)
    pos = r >= pt
    tp, fp = np.sum(pos & (y == 1)), np.sum(pos & (y == 0))
    return tp / n - fp / n * pt / (1 - pt)


def test_decision_curve_matches_formula(cancer):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict
    X, y = cancer
    p1 = cross_val_predict(LogisticRegression(max_iter=5000), X[:, [0, 1]], y, cv=5, method="predict_proba")[:, 1]
    p2 = np.round(p1, 1)
    res = decision_curve(y, {"m1": p1, "m2": p2})
    assert np.allclose(res.thresholds, np.arange(100) / 100)
    prev = y.mean()
    for i, pt in enumerate(res.thresholds):
        assert res.net_benefit["m1"][i] == pytest.approx(nb_twin(y, p1, pt), rel=RTOL, abs=1e-15)
        assert res.net_benefit["m2"][i] == pytest.approx(nb_twin(y, p2, pt), rel=RTOL, abs=1e-15)
        assert res.net_benefit["Treat all"][i] == pytest.approx(prev - (1 - prev) * pt / (1 - pt), rel=RTOL)
        if pt > 0:
            want = (nb_twin(y, p1, pt) - (prev - (1 - prev) * pt / (1 - pt))) * (1 - pt) / pt * 100
            assert res.interventions_avoided["m1"][i] == pytest.approx(want, rel=RTOL, abs=1e-12)
    assert np.all(res.net_benefit["Treat none"] == 0)


def test_decision_curve_bootstrap_bands():
    rng = np.random.default_rng(2)
    p = rng.uniform(0.01, 0.99, 120)
    y = (rng.random(120) < p).astype(int)
    pts = np.array([0.1, 0.3, 0.5])
    res = decision_curve(y, {"m": p}, thresholds=pts, n_boot=40, seed=7)
    counts = _core.stats_boot_counts(y.astype(np.int64), 2, 40, 7)
    reps = np.array([[np.sum(w * ((p >= t) * y - (p >= t) * (1 - y) * t / (1 - t))) / w.sum()
                      for t in pts] for w in counts.astype(float)])
    lo, hi = np.quantile(reps, [0.025, 0.975], axis=0)
    np.testing.assert_allclose(res.bands["m"][0], lo, rtol=RTOL)
    np.testing.assert_allclose(res.bands["m"][1], hi, rtol=RTOL)


@pytest.mark.parametrize("call,match", [
    (lambda: decision_curve([0, 1], {"m": [0.2, 0.8]}, thresholds=[0.5, 1.0]), "thresholds"),
    (lambda: decision_curve([0, 1], {"m": [0.2, 1.8]}), "in \\[0, 1\\]"),
    (lambda: decision_curve([0, 1, 1], {"m": [0.2, 0.8]}), "has 2 values"),
    (lambda: mann_whitney([1, 2, 2], [2, 3, 4], method="exact"), "no ties"),
    (lambda: mann_whitney([1, 2, np.nan], [2, 3, 4]), "NaN"),
    (lambda: ttest([1, 2, 3], [1, 2, 3], kind="pooled"), "kind"),
    (lambda: chi2_test([[1, 2], [0, 0]]), "sums to zero"),
    (lambda: fisher_exact([[1, 2, 3], [1, 2, 3]], alternative="less"), "two-sided"),
    (lambda: benjamini_hochberg([0.1, 1.2]), "\\[0, 1\\]"),
])
def test_bad_inputs_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def fisher_rxc_twin(T):
    """Brute force over the free cells; table probabilities from scipy.stats.random_table."""
    import itertools
    T = np.asarray(T)
    rows, cols = T.sum(1), T.sum(0)
    dist = st.random_table(rows, cols)
    p_obs = dist.pmf(T)
    r, c = T.shape
    total = 0.0
    for free in itertools.product(range(int(T.sum()) + 1), repeat=(r - 1) * (c - 1)):
        tab = np.zeros((r, c), dtype=int)
        tab[:r - 1, :c - 1] = np.reshape(free, (r - 1, c - 1))
        tab[:r - 1, c - 1] = rows[:r - 1] - tab[:r - 1, :c - 1].sum(1)
        tab[r - 1] = cols - tab[:r - 1].sum(0)
        if (tab < 0).any():
            continue
        p = dist.pmf(tab)
        if p <= p_obs * (1 + 1e-7):
            total += p
    return total


def test_fisher_rxc_matches_enumeration_twin():
    for T in ([[3, 1, 2], [1, 3, 4]], [[2, 0], [1, 3], [0, 4]], [[1, 2, 0], [0, 1, 3], [2, 0, 1]]):
        assert fisher_exact(T).p_value == pytest.approx(fisher_rxc_twin(T), rel=RTOL)
    # the r x c path on a 2x2 table agrees with the hypergeometric 2x2 test
    from sacroai.stats.group_tests import _fisher_rxc
    assert _fisher_rxc(np.array([[3, 1], [1, 3]])).p_value == pytest.approx(st.fisher_exact([[3, 1], [1, 3]]).pvalue,
                                                                            rel=RTOL)


def test_decision_curve_nan_policy_omit_is_complete_case():
    rng = np.random.default_rng(3)
    p = rng.uniform(0.01, 0.99, 80)
    y = (rng.random(80) < p).astype(float)
    q = p.copy()
    q[[2, 9]] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        decision_curve(y, {"m": q})
    a = decision_curve(y, {"m": q, "p": p}, nan_policy="omit")
    keep = ~np.isnan(q)
    b = decision_curve(y[keep], {"m": p[keep], "p": p[keep]})
    np.testing.assert_array_equal(a.net_benefit["m"], b.net_benefit["m"])
    assert a.n == 78


def test_decision_curve_bands_clustered_by_patient():
    rng = np.random.default_rng(4)
    groups = np.repeat(np.arange(50), 2)
    p = rng.uniform(0.01, 0.99, 100)
    y = (rng.random(100) < p).astype(int)
    res = decision_curve(y, {"m": p}, thresholds=[0.2, 0.4], n_boot=30, seed=2, groups=groups)
    strata = np.zeros(50, dtype=np.int64)
    np.maximum.at(strata, groups, y)
    W = _core.stats_boot_counts(strata, 2, 30, 2)[:, groups].astype(float)
    reps = np.array([[np.sum(w * ((p >= t) * y - (p >= t) * (1 - y) * t / (1 - t))) / w.sum()
                      for t in (0.2, 0.4)] for w in W])
    np.testing.assert_allclose(res.bands["m"][0], np.quantile(reps, 0.025, axis=0), rtol=RTOL)
