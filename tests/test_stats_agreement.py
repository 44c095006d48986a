"""Agreement (ICC, kappas, Bland-Altman, correlations, SDC) against published examples,
statsmodels, scikit-learn and SciPy."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from sacroai.stats import (bland_altman, cohen_kappa, fleiss_kappa, icc, pearson,
                           smallest_detectable_change, spearman)

RTOL = 1e-6

# Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges.
SF_TABLE2 = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]],
                     dtype=float)
# Bland & Altman (1986), Lancet, Table 1: PEFR (l/min), first reading of each meter.
WRIGHT = np.array([494, 395, 516, 434, 476, 557, 413, 442, 650, 433, 417, 656, 267, 478, 178, 423, 427.])
MINI_WRIGHT = np.array([512, 430, 520, 428, 500, 600, 364, 380, 658, 445, 432, 626, 260, 477, 259, 350, 451.])


def test_icc_shrout_fleiss_published_values():
    r = icc(SF_TABLE2)
    published = {"ICC(1,1)": .17, "ICC(2,1)": .29, "ICC(3,1)": .71, "ICC(1,4)": .44, "ICC(2,4)": .62,
                 "ICC(3,4)": .91}
    for form, v in published.items():
        assert round(r[form.replace(",4)", ",k)")].estimate, 2) == v
    # both naming schemes
    assert r["ICC(A,1)"] is r["ICC(2,1)"] and r["ICC(C,k)"] is r["ICC3k"] and r["ICC(1)"] is r["ICC1"]


def anova_mean_squares(X):
    """Mean squares from statsmodels' two-way ANOVA on the long table (independent of icc())."""
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm
    n, k = X.shape
    df = pd.DataFrame({"y": X.ravel(), "s": np.repeat(np.arange(n), k).astype(str),
                       "j": np.tile(np.arange(k), n).astype(str)})
    a = anova_lm(smf.ols("y ~ C(s) + C(j)", df).fit())
    MSB, MSJ, MSE = a.loc["C(s)", "mean_sq"], a.loc["C(j)", "mean_sq"], a.loc["Residual", "mean_sq"]
    a1 = anova_lm(smf.ols("y ~ C(s)", df).fit())
    return MSB, MSJ, MSE, a1.loc["Residual", "mean_sq"]


def test_icc_matches_formula_twin_on_anova():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 1)) * 2 + rng.normal(size=(30, 3)) + np.array([0, 0.5, 1.0])
    for data in (SF_TABLE2, X):
        n, k = data.shape
        MSB, MSJ, MSE, MSW = anova_mean_squares(data)
        r = icc(data, conf_level=0.9)
        want = {"ICC(1,1)": (MSB - MSW) / (MSB + (k - 1) * MSW),
                "ICC(2,1)": (MSB - MSE) / (MSB + (k - 1) * MSE + k * (MSJ - MSE) / n),
                "ICC(3,1)": (MSB - MSE) / (MSB + (k - 1) * MSE),
                "ICC(1,k)": (MSB - MSW) / MSB,
                "ICC(2,k)": (MSB - MSE) / (MSB + (MSJ - MSE) / n),
                "ICC(3,k)": (MSB - MSE) / MSB}
        for f, v in want.items():
            assert r[f].estimate == pytest.approx(v, rel=RTOL)
        # Shrout & Fleiss F interval for ICC(3,1) with conf 0.9
        F = MSB / MSE
        FL = F / st.f.ppf(0.95, n - 1, (n - 1) * (k - 1))
        FU = F * st.f.ppf(0.95, (n - 1) * (k - 1), n - 1)
        assert r["ICC(3,1)"].ci_low == pytest.approx((FL - 1) / (FL + k - 1), rel=RTOL)
        assert r["ICC(3,1)"].ci_high == pytest.approx((FU - 1) / (FU + k - 1), rel=RTOL)
        # ICC(2,k) interval = Spearman-Brown transform of ICC(2,1)'s
        L, U = r["ICC(2,1)"].ci
        assert r["ICC(2,k)"].ci_low == pytest.approx(L * k / (1 + (k - 1) * L), rel=RTOL)
        assert r["ICC(2,k)"].ci_high == pytest.approx(U * k / (1 + (k - 1) * U), rel=RTOL)


def test_icc_psych_documented_intervals():
    # R psych::ICC on the Shrout & Fleiss data (psych manual), bounds to 2 decimals
    r = icc(SF_TABLE2)
    psych = {"ICC1": (-0.13, 0.72), "ICC2": (0.02, 0.76), "ICC3": (0.34, 0.95),
             "ICC1k": (-0.88, 0.91), "ICC2k": (0.07, 0.93), "ICC3k": (0.68, 0.99)}
    for f, (lo, hi) in psych.items():
        assert round(r[f].ci_low, 2) == lo and round(r[f].ci_high, 2) == hi


def test_icc_long_form_and_listwise_deletion():
    n, k = SF_TABLE2.shape
    subj = np.repeat([f"p{i}" for i in range(n)], k)
    rater = np.tile(["A", "B", "C", "D"], n)
    long = icc(SF_TABLE2.ravel(), subjects=subj, raters=rater)
    df = pd.DataFrame({"patient": subj, "reader": rater, "score": SF_TABLE2.ravel()})
    from_df = icc(df, subjects="patient", raters="reader")
    wide = icc(SF_TABLE2)
    for f in wide.table:
        assert long.table[f].estimate == pytest.approx(wide.table[f].estimate, rel=1e-12)
        assert from_df.table[f].ci_low == pytest.approx(wide.table[f].ci_low, rel=1e-12)
    X = np.vstack([SF_TABLE2, [1, np.nan, 3, 4]])
    r = icc(X)
    assert r.n_dropped == 1 and r["ICC(2,1)"].estimate == pytest.approx(wide["ICC(2,1)"].estimate, rel=1e-12)


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_kappa_matches_sklearn_and_statsmodels(weights):
    from sklearn.metrics import cohen_kappa_score
    from statsmodels.stats.inter_rater import cohens_kappa
    rng = np.random.default_rng(1)
    a = rng.integers(0, 5, 200)  # K-L grades
    b = np.clip(a + rng.integers(-1, 2, 200), 0, 4)
    r = cohen_kappa(a, b, weights=weights)
    assert r.estimate == pytest.approx(cohen_kappa_score(a, b, weights=weights), rel=RTOL)
    sm = cohens_kappa(r.extra["table"], wt=weights) if weights else cohens_kappa(r.extra["table"])
    assert r.estimate == pytest.approx(sm.kappa, rel=RTOL)
    assert r.se == pytest.approx(sm.std_kappa, rel=RTOL)


def test_cohen_kappa_labels_and_degenerate():
    r1 = cohen_kappa([0, 1, 2], [0, 1, 1], weights="linear")
    r2 = cohen_kappa([0, 1, 2], [0, 1, 1], weights="linear", labels=[0, 1, 2, 3, 4])
    assert r1.estimate != r2.estimate  # positions among labels change the weights
    assert np.isnan(cohen_kappa([1, 1, 1], [1, 1, 1]).estimate)


def test_fleiss_kappa_matches_statsmodels():
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa as sm_fleiss
    rng = np.random.default_rng(2)
    truth = rng.integers(0, 3, 60)
    R = np.where(rng.random((60, 4)) < 0.7, truth[:, None], rng.integers(0, 3, (60, 4)))
    table, _ = aggregate_raters(R)
    r = fleiss_kappa(R)
    assert r.estimate == pytest.approx(sm_fleiss(table, method="fleiss"), rel=RTOL)
    assert fleiss_kappa(table, counts=True).estimate == pytest.approx(r.estimate, rel=1e-12)


def test_bland_altman_1986_peak_flow():
    r = bland_altman(WRIGHT, MINI_WRIGHT)
    assert round(r.bias.estimate, 1) == -2.1 and round(r.sd, 1) == 38.8  # as published
    d = WRIGHT - MINI_WRIGHT
    n = len(d)
    assert r.bias.estimate == pytest.approx(d.mean(), rel=RTOL)
    assert r.sd == pytest.approx(np.std(d, ddof=1), rel=RTOL)
    t = st.t.ppf(0.975, n - 1)
    s = np.std(d, ddof=1)
    assert r.lower_loa.estimate == pytest.approx(d.mean() - 1.96 * s, rel=RTOL)
    assert r.bias.ci_high == pytest.approx(d.mean() + t * s / np.sqrt(n), rel=RTOL)
    se = s * np.sqrt(1 / n + 1.96 ** 2 / (2 * (n - 1)))
    assert r.upper_loa.ci_high == pytest.approx(d.mean() + 1.96 * s + t * se, rel=RTOL)


def test_correlations_match_scipy():
    x, y = WRIGHT, MINI_WRIGHT
    p = pearson(x, y)
    sp = st.pearsonr(x, y)
    assert p.estimate == pytest.approx(sp.statistic, rel=RTOL)
    assert p.extra["p_value"] == pytest.approx(sp.pvalue, rel=RTOL)
    ci = sp.confidence_interval(0.95)
    assert (p.ci_low, p.ci_high) == pytest.approx((ci.low, ci.high), rel=RTOL)
    xs = np.round(x, -2)  # ties
    s = spearman(xs, y)
    ss = st.spearmanr(xs, y)
    assert s.estimate == pytest.approx(ss.statistic, rel=RTOL)
    assert s.extra["p_value"] == pytest.approx(ss.pvalue, rel=RTOL)
    z, h = np.arctanh(s.estimate), 1.959963984540054 / np.sqrt(len(x) - 3)
    assert s.ci_low == pytest.approx(np.tanh(z - h), rel=RTOL)


def test_smallest_detectable_change_two_sessions():
    rng = np.random.default_rng(3)
    true = rng.normal(50, 10, 40)
    X = np.column_stack([true + rng.normal(0, 2, 40), true + 1 + rng.normal(0, 2, 40)])
    r = smallest_detectable_change(X, kind="consistency")
    sd_diff = np.std(X[:, 0] - X[:, 1], ddof=1)
    assert r.sem == pytest.approx(sd_diff / np.sqrt(2), rel=RTOL)
    assert r.sdc == pytest.approx(1.959963984540054 * sd_diff, rel=RTOL)
    assert smallest_detectable_change(X).sem > r.sem  # agreement adds the systematic shift


@pytest.mark.parametrize("call,match", [
    (lambda: icc(np.ones((5, 1))), "at least 2 raters"),
    (lambda: icc([1, 2, 3], subjects=[1, 2, 3]), "both subjects and raters"),
    (lambda: icc([1, 2], subjects=[1, 1], raters=["a", "a"]), "more than one rating"),
    (lambda: cohen_kappa([0, 1], [0, 1, 1]), "same length"),
    (lambda: cohen_kappa([0, 1], [0, 1], weights="cubic"), "weights"),
    (lambda: bland_altman([1, 2, np.nan], [1, 2, 3]), "NaN"),
    (lambda: pearson([1, 1, 1, 1], [1, 2, 3, 4]), "constant"),
    (lambda: fleiss_kappa(np.array([[1, 0], [2, 0]]), counts=True), "same number"),
])
def test_bad_inputs_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_fleiss_kappa_z_matches_irr_printed_output():
    # R irr::kappam.fleiss on 4 subjects x 3 raters, printed: Kappa = 0.745, z = 3.61, p-value = 0.000308
    R = np.array([["A", "A", "A"], ["B", "B", "B"], ["A", "B", "A"], ["C", "C", "C"]])
    r = fleiss_kappa(R)
    assert round(r.estimate, 3) == 0.745
    assert round(r.extra["z"], 2) == 3.61
    assert float(f"{r.extra['p_value']:.3g}") == 0.000308


def test_cohen_kappa_nan_policy():
    a = np.array([0, 1, 2, 2, np.nan, 1.0])
    b = np.array([0, 1, 2, 1, 2, np.nan])
    with pytest.raises(ValueError, match="NaN"):
        cohen_kappa(a, b)
    r = cohen_kappa(a, b, nan_policy="omit")
    assert r.n == 4 and r.estimate == cohen_kappa(a[:4], b[:4]).estimate
