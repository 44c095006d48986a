"""Accuracy at a threshold, calibration and regression models against statsmodels,
scikit-learn and formula twins."""
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats as st
from sklearn import metrics
from sklearn.calibration import calibration_curve as sk_calibration_curve
from statsmodels.stats.proportion import proportion_confint

from sacroai.stats import (Recalibrator, SeparationError, brier_score, calibration_curve,
                           calibration_fit, confusion_matrix, diagnostic_accuracy, hosmer_lemeshow,
                           linear_regression, logistic_regression, nomogram, proportion_ci,
                           stack_predictions)

RTOL = 1e-6


@pytest.fixture(scope="module")
def cancer():
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict
    X, y = load_breast_cancer(return_X_y=True)
    p = cross_val_predict(LogisticRegression(max_iter=5000), X[:, [0, 1, 4]], y, cv=5,
                          method="predict_proba")[:, 1]
    return X, y, p


@pytest.mark.parametrize("method,sm_method", [("wilson", "wilson"), ("clopper-pearson", "beta")])
def test_proportion_ci_matches_statsmodels(method, sm_method):
    for k, n in [(0, 10), (1, 10), (5, 10), (10, 10), (37, 112), (999, 1000)]:
        for cl in (0.9, 0.95):
            lo, hi = proportion_ci(k, n, conf_level=cl, method=method)
            elo, ehi = proportion_confint(k, n, alpha=1 - cl, method=sm_method)
            assert lo == pytest.approx(elo, rel=RTOL, abs=1e-12)
            assert hi == pytest.approx(ehi, rel=RTOL, abs=1e-12)
    assert np.isnan(proportion_ci(0, 0)[0])


def test_diagnostic_accuracy_counts_and_nan(cancer):
    _, y, p = cancer
    r = diagnostic_accuracy(y, y_score=p, threshold=0.5)
    pred = p >= 0.5
    tn, fp, fn, tp = metrics.confusion_matrix(y, pred).ravel()
    assert (r.tp, r.fp, r.fn, r.tn) == (tp, fp, fn, tn)
    assert r.sensitivity.estimate == pytest.approx(metrics.recall_score(y, pred), rel=RTOL)
    assert r.ppv.estimate == pytest.approx(metrics.precision_score(y, pred), rel=RTOL)
    assert r.accuracy.estimate == pytest.approx(metrics.accuracy_score(y, pred), rel=RTOL)
    lo, hi = proportion_confint(tp, tp + fn, method="wilson")
    assert (r.sensitivity.ci_low, r.sensitivity.ci_high) == pytest.approx((lo, hi), rel=RTOL)
    none_pos = diagnostic_accuracy([0, 0, 1, 1], [0, 0, 0, 0])
    assert np.isnan(none_pos.ppv.estimate) and np.isnan(none_pos.ppv.ci_low)


def test_confusion_matrix_multiclass_kl_grades():
    rng = np.random.default_rng(0)
    yt = rng.integers(0, 5, 300)
    yp = np.clip(yt + rng.integers(-1, 2, 300), 0, 4)
    r = confusion_matrix(yt, yp, labels=[0, 1, 2, 3, 4])
    np.testing.assert_array_equal(r.matrix, metrics.confusion_matrix(yt, yp, labels=[0, 1, 2, 3, 4]))
    rec = metrics.recall_score(yt, yp, average=None)
    prec = metrics.precision_score(yt, yp, average=None)
    for k in range(5):
        assert r.per_class[k].sensitivity.estimate == pytest.approx(rec[k], rel=RTOL)
        assert r.per_class[k].ppv.estimate == pytest.approx(prec[k], rel=RTOL)
    with pytest.raises(ValueError, match="y_true has labels not in labels"):
        confusion_matrix([0, 5], [0, 1], labels=[0, 1])


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
@pytest.mark.parametrize("n_bins", [5, 10])
def test_calibration_curve_matches_sklearn(cancer, strategy, n_bins):
    _, y, p = cancer
    c = calibration_curve(y, p, n_bins=n_bins, strategy=strategy)
    t, pp = sk_calibration_curve(y, p, n_bins=n_bins, strategy=strategy)
    np.testing.assert_allclose(c.prob_true, t, rtol=RTOL)
    np.testing.assert_allclose(c.prob_pred, pp, rtol=RTOL)
    assert c.counts.sum() == len(y)


def test_brier_matches_sklearn(cancer):
    _, y, p = cancer
    assert brier_score(y, p) == pytest.approx(metrics.brier_score_loss(y, p), rel=RTOL)


def test_calibration_fit_matches_statsmodels_glm(cancer):
    _, y, p = cancer
    lp = np.log(p / (1 - p))
    r = calibration_fit(y, p)
    m0 = sm.GLM(y, np.ones((len(y), 1)), family=sm.families.Binomial(), offset=lp).fit(tol=1e-14)
    m1 = sm.GLM(y, sm.add_constant(lp), family=sm.families.Binomial()).fit(tol=1e-14)
    assert r.citl.estimate == pytest.approx(m0.params[0], rel=RTOL)
    assert r.citl.se == pytest.approx(m0.bse[0], rel=RTOL)
    assert r.slope.estimate == pytest.approx(m1.params[1], rel=RTOL)
    assert r.intercept_joint.estimate == pytest.approx(m1.params[0], rel=RTOL)
    assert r.slope.se == pytest.approx(m1.bse[1], rel=RTOL)


def hl_twin(y, p, g=10):
    breaks = np.unique(np.quantile(p, np.linspace(0, 1, g + 1)))
    cut = pd.cut(p, breaks, include_lowest=True, right=True)
    df = pd.DataFrame({"g": cut, "y": y, "p": p}).groupby("g", observed=True)
    o1, e1, n = df["y"].sum().values, df["p"].sum().values, df["y"].count().values
    stat = np.sum((o1 - e1) ** 2 / e1) + np.sum(((n - o1) - (n - e1)) ** 2 / (n - e1))
    return stat, len(n)


def test_hosmer_lemeshow_matches_twin(cancer):
    _, y, p = cancer
    for g in (5, 10):
        r = hosmer_lemeshow(y, p, g=g)
        stat, G = hl_twin(y, p, g)
        assert r.statistic == pytest.approx(stat, rel=RTOL)
        assert r.df == G - 2 and r.extra["G"] == G
        assert r.p_value == pytest.approx(st.chi2.sf(stat, G - 2), rel=RTOL)
    # tied quantiles give fewer groups
    pt = np.r_[np.full(50, 0.2), np.linspace(0.3, 0.9, 50)]
    yt = (np.arange(100) % 3 == 0).astype(int)
    r = hosmer_lemeshow(yt, pt)
    stat, G = hl_twin(yt, pt)
    assert r.extra["G"] == G < 10 and r.statistic == pytest.approx(stat, rel=RTOL)


def test_recalibration_platt_and_isotonic(cancer):
    from sklearn.isotonic import IsotonicRegression
    _, y, p = cancer
    val, test = np.arange(len(y)) % 2 == 0, np.arange(len(y)) % 2 == 1
    iso = Recalibrator("isotonic").fit(y[val], p[val])
    ref = IsotonicRegression(out_of_bounds="clip").fit(p[val], y[val])
    np.testing.assert_allclose(iso.transform(p[test]), ref.predict(p[test]), rtol=RTOL, atol=1e-12)
    platt = Recalibrator("platt").fit(y[val], p[val])
    lp = np.log(p / (1 - p))
    m = sm.Logit(y[val], sm.add_constant(lp[val])).fit(disp=0, tol=1e-14)
    np.testing.assert_allclose(platt.transform(p[test]), m.predict(sm.add_constant(lp[test])), rtol=RTOL)
    with pytest.raises(ValueError, match="not fitted"):
        Recalibrator().transform(p)


@pytest.mark.filterwarnings("ignore::statsmodels.tools.sm_exceptions.ConvergenceWarning")
def test_logistic_matches_statsmodels(cancer):
    X, y, _ = cancer
    Xs = X[:, [0, 1, 4]]
    r = logistic_regression(Xs, y, names=["radius", "texture", "smoothness"])
    m = sm.Logit(y, sm.add_constant(Xs)).fit(disp=0, method="newton", tol=1e-14)
    np.testing.assert_allclose(r.coef, m.params, rtol=RTOL)
    np.testing.assert_allclose(r.se, m.bse, rtol=RTOL)
    np.testing.assert_allclose(r.p_value, m.pvalues, rtol=RTOL)
    ci = m.conf_int()
    np.testing.assert_allclose(r.ci_low, ci[:, 0], rtol=RTOL)
    np.testing.assert_allclose(r.or_ci_high, np.exp(ci[:, 1]), rtol=RTOL)
    assert r.loglik == pytest.approx(m.llf, rel=RTOL)
    assert r.loglik_null == pytest.approx(m.llnull, rel=RTOL)
    small = logistic_regression(Xs[:, :1], y)
    lr = r.lr_test(small)
    m_small = sm.Logit(y, sm.add_constant(Xs[:, :1])).fit(disp=0, tol=1e-14)
    assert lr.statistic == pytest.approx(2 * (m.llf - m_small.llf), rel=RTOL)


def test_logistic_separation_raises(cancer):
    X, y, _ = cancer
    with pytest.raises(SeparationError, match="separation"):
        logistic_regression(X, y)  # all 30 features separate the classes
    with pytest.raises(SeparationError):
        logistic_regression([1, 2, 3, 4, 5, 6], [0, 0, 0, 1, 1, 1])
    with pytest.raises(SeparationError):  # quasi-complete
        logistic_regression([1, 2, 3, 3, 4, 5], [0, 0, 0, 1, 1, 1])


def test_linear_regression_matches_statsmodels(cancer):
    X, _, _ = cancer
    y = X[:, 3]
    Xs = X[:, [0, 1, 4]]
    r = linear_regression(Xs, y)
    m = sm.OLS(y, sm.add_constant(Xs)).fit()
    np.testing.assert_allclose(r.coef, m.params, rtol=RTOL)
    np.testing.assert_allclose(r.se, m.bse, rtol=RTOL)
    np.testing.assert_allclose(r.p_value, m.pvalues, rtol=RTOL, atol=1e-300)
    assert r.r_squared == pytest.approx(m.rsquared, rel=RTOL)
    z = (Xs - Xs.mean(0)) / Xs.std(0, ddof=1)
    mz = sm.OLS((y - y.mean()) / y.std(ddof=1), sm.add_constant(z)).fit()
    np.testing.assert_allclose(r.std_coef[1:], mz.params[1:], rtol=RTOL)


def test_nomogram_points_reproduce_probability(cancer):
    X, y, _ = cancer
    Xs = X[:, [0, 1, 4]]
    fit = logistic_regression(Xs, y)
    nomo = nomogram(fit)
    pts = nomo.points(Xs)
    assert pts.min() >= -1e-9 and pts.max() <= 100 + 1e-9
    np.testing.assert_allclose(nomo.total_to_probability(nomo.total_points(Xs)), fit.predict_proba(Xs),
                               rtol=1e-9)


def test_stacking_uses_out_of_fold_predictions(cancer):
    X, y, p = cancer
    r = stack_predictions(np.column_stack([p, np.clip(p ** 2, 1e-6, 1 - 1e-6)]), y, covariates=X[:, 2])
    assert len(r.model.coef) == 4
    with pytest.raises(ValueError, match="exactly 0 or 1"):
        stack_predictions(np.r_[0.0, p[1:]], y)


@pytest.mark.parametrize("call,match", [
    (lambda: calibration_curve([0, 1], [0.2, 1.2]), "in \\[0, 1\\]"),
    (lambda: calibration_fit([0, 1, 1, 0], [0.0, 0.5, 0.7, 0.2]), "exactly 0 or 1"),
    (lambda: brier_score([0, 1, 1], [0.5, 0.5]), "same length"),
    (lambda: brier_score([0, 1, np.nan], [0.5, 0.5, 0.2]), "NaN"),
    (lambda: calibration_curve([0, 1], [0.2, 0.3], strategy="equal"), "strategy"),
    (lambda: proportion_ci(3, 10, method="agresti"), "method"),
    (lambda: diagnostic_accuracy([0, 1], y_score=[0.2, 0.3]), "threshold"),
    (lambda: logistic_regression([[1.0], [2.0]], [0, 1, 1]), "same length"),
    (lambda: logistic_regression([1.0, 2.0, 3.0], [1, 1, 1]), "one class"),
])
def test_bad_inputs_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()
