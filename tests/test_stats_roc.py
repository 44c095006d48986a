"""ROC/AUC/DeLong/bootstrap against scikit-learn and direct DeLong 1988 twins."""
import os
import sys

import numpy as np
import pytest
from sklearn import metrics

sys.path.insert(0, os.path.dirname(__file__))
from reference import stats_ref as ref  # noqa: E402

from sacroai import _core  # noqa: E402
from sacroai.stats import (average_precision, delong_test, delong_test_unpaired,  # noqa: E402
                           multiclass_auc, precision_recall_curve, roc_auc, roc_curve,
                           youden_threshold)

RTOL = 1e-6


@pytest.fixture(scope="module")
def breast_cancer_scores():
    """Real data: Wisconsin breast cancer, out-of-sample scores of two fitted models."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    X, y = load_breast_cancer(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    p_full = cross_val_predict(model, X, y, cv=5, method="predict_proba")[:, 1]
    p_two = cross_val_predict(model, X[:, [0, 1]], y, cv=5, method="predict_proba")[:, 1]
    return y, p_full, p_two, X


def synthetic(n, ties, seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    s = rng.normal(size=n) + y
    if ties:
        s = np.round(s, 1)
    return y, s


def test_argsort_matches_numpy_stable():
    rng = np.random.default_rng(1)
    for n in (0, 1, 5, 33, 1000, 5000):
        x = np.round(rng.normal(size=n), 2)
        x[: n // 10] = -0.0
        np.testing.assert_array_equal(_core.stats_argsort(x), np.argsort(x, kind="stable"))
    x = np.array([np.inf, -np.inf, 1e-310, -1e-310, 0.0, 5.0] * 10)
    np.testing.assert_array_equal(_core.stats_argsort(x), np.argsort(x, kind="stable"))


@pytest.mark.parametrize("drop", [False, True])
def test_roc_curve_matches_sklearn(breast_cancer_scores, drop):
    y, p, p2, _ = breast_cancer_scores
    for s in (p, p2, np.round(p2, 2)):
        ours = roc_curve(y, s, drop_intermediate=drop)
        theirs = metrics.roc_curve(y, s, drop_intermediate=drop)
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a, b, rtol=RTOL)
    assert ours[2][0] == np.inf


def test_auc_ap_match_sklearn(breast_cancer_scores):
    y, p, p2, _ = breast_cancer_scores
    for s in (p, p2, np.round(p2, 1)):
        assert roc_auc(y, s, ci=None).estimate == pytest.approx(metrics.roc_auc_score(y, s), rel=RTOL)
        assert average_precision(y, s) == pytest.approx(metrics.average_precision_score(y, s), rel=RTOL)
        for a, b in zip(precision_recall_curve(y, s), metrics.precision_recall_curve(y, s)):
            np.testing.assert_allclose(a, b, rtol=RTOL)


def test_ap_trapezoid_matches_sklearn_auc_of_pr():
    y, s = synthetic(200, True, 3)
    prec, rec, _ = metrics.precision_recall_curve(y, s)
    assert average_precision(y, s, method="trapezoid") == pytest.approx(metrics.auc(rec, prec), rel=RTOL)


@pytest.mark.parametrize("n,ties,seed", [(10, False, 0), (57, True, 1), (400, True, 2), (300, False, 3)])
def test_delong_matches_direct_formula(n, ties, seed):
    y, s = synthetic(n, ties, seed)
    auc, v10, v01, se = ref.delong_direct(y, s)
    a, c10, c01 = _core.stats_delong_placements(s, y.astype(np.uint8))
    np.testing.assert_allclose(c10, v10, rtol=1e-12)
    np.testing.assert_allclose(c01, v01, rtol=1e-12)
    r = roc_auc(y, s)
    assert r.estimate == pytest.approx(auc, rel=RTOL)
    assert r.se == pytest.approx(se, rel=RTOL)
    assert r.ci_low == pytest.approx(max(0, auc - 1.959963984540054 * se), rel=RTOL)
    assert r.ci_high == pytest.approx(min(1, auc + 1.959963984540054 * se), rel=RTOL)


def test_delong_on_real_data_and_input_layouts(breast_cancer_scores):
    y, p, p2, _ = breast_cancer_scores
    auc, _, _, se = ref.delong_direct(y, p2)
    # read-only, non-contiguous, float32, list input all give the same result
    big = np.repeat(p2, 2)[::2].copy()
    big.setflags(write=False)
    for s in (p2, big, np.asarray(np.vstack([p2, p2]).T)[:, 0], list(p2)):
        r = roc_auc(y, s)
        assert r.estimate == pytest.approx(auc, rel=RTOL) and r.se == pytest.approx(se, rel=RTOL)
    r32 = roc_auc(y.astype(bool), p2.astype(np.float32))
    assert r32.estimate == pytest.approx(metrics.roc_auc_score(y, p2.astype(np.float32)), rel=RTOL)


def test_direction_lower_is_explicit_and_auc_may_be_below_half():
    y, s = synthetic(100, False, 5)
    assert roc_auc(y, -s, ci=None).estimate < 0.5
    assert roc_auc(y, -s, direction="lower").estimate == pytest.approx(roc_auc(y, s).estimate, rel=1e-12)


def test_paired_delong_matches_direct(breast_cancer_scores):
    y, p, p2, _ = breast_cancer_scores
    diff, var = ref.delong_paired_direct(y, p, p2)
    t = delong_test(y, p, p2)
    assert t.estimate == pytest.approx(diff, rel=RTOL)
    z = diff / np.sqrt(var)
    assert t.statistic == pytest.approx(z, rel=RTOL)
    from scipy.stats import norm
    assert t.p_value == pytest.approx(2 * norm.sf(abs(z)), rel=RTOL)
    same = delong_test(y, p, p)
    assert same.statistic == 0 and same.p_value == 1


def test_unpaired_delong():
    y1, s1 = synthetic(80, True, 6)
    y2, s2 = synthetic(120, True, 7)
    a1, _, _, se1 = ref.delong_direct(y1, s1)
    a2, _, _, se2 = ref.delong_direct(y2, s2)
    t = delong_test_unpaired(y1, s1, y2, s2)
    assert t.statistic == pytest.approx((a1 - a2) / np.hypot(se1, se2), rel=RTOL)


def test_bootstrap_counts_match_python_rng_twin():
    strata = np.array([0, 1, 1, 0, 0, 2, 1, 0, 2, 0], dtype=np.int64)
    c = _core.stats_boot_counts(strata, 3, 4, 12345)
    np.testing.assert_array_equal(c, ref.boot_counts(strata, 3, 4, 12345))
    for s in range(3):  # each stratum keeps its size
        np.testing.assert_array_equal(c[:, strata == s].sum(axis=1), (strata == s).sum())


def test_bootstrap_auc_replicates_match_weighted_auc():
    y, s = synthetic(60, True, 8)
    y8 = y.astype(np.uint8)
    unit = np.arange(60, dtype=np.int64)
    counts = _core.stats_boot_counts(y.astype(np.int64), 2, 25, 99)
    reps = _core.stats_boot_auc(s, y8, unit, y.astype(np.int64), 2, 25, 99)
    want = [ref.weighted_auc(y, s, counts[b].astype(float)) for b in range(25)]
    np.testing.assert_allclose(reps, want, rtol=1e-12)
    # the number of threads does not change a replicate
    import sacroai
    old = sacroai.get_num_threads()
    sacroai.set_num_threads(1)
    try:
        np.testing.assert_array_equal(_core.stats_boot_auc(s, y8, unit, y.astype(np.int64), 2, 25, 99), reps)
    finally:
        sacroai.set_num_threads(old)


def test_bootstrap_ci_type7_and_clustered():
    y, s = synthetic(200, True, 9)
    r = roc_auc(y, s, ci="bootstrap", n_boot=500, seed=4)
    assert r.estimate == pytest.approx(metrics.roc_auc_score(y, s), rel=RTOL)
    lo, hi = np.quantile(r.replicates, [0.025, 0.975], method="linear")
    assert (r.ci_low, r.ci_high) == (lo, hi)
    d = roc_auc(y, s)
    assert abs(r.ci_low - d.ci_low) < 0.05 and abs(r.ci_high - d.ci_high) < 0.05
    # same seed, same interval; Generator accepted
    assert roc_auc(y, s, ci="bootstrap", n_boot=500, seed=4).ci == r.ci
    roc_auc(y, s, ci="bootstrap", n_boot=50, seed=np.random.default_rng(0))
    # clustered: two joints per patient, replicate weights = patient draw counts
    groups = np.arange(200) // 2
    rc = roc_auc(y, s, ci="bootstrap", groups=groups, n_boot=30, seed=5)
    patient_pos = np.zeros(100, dtype=np.int64)
    np.maximum.at(patient_pos, groups, y)
    counts = _core.stats_boot_counts(patient_pos, 2, 30, 5)
    want = [ref.weighted_auc(y, s, counts[b][groups].astype(float)) for b in range(30)]
    np.testing.assert_allclose(rc.replicates, want, rtol=1e-12)


def test_youden(breast_cancer_scores):
    y, _, p2, _ = breast_cancer_scores
    r = youden_threshold(y, p2)
    fpr, tpr, thr = metrics.roc_curve(y, p2, drop_intermediate=False)
    j = tpr - fpr
    assert r.j == pytest.approx(j.max(), rel=RTOL)
    pred = p2 >= r.threshold
    sens = pred[y == 1].mean()
    spec = (~pred[y == 0]).mean()
    assert r.j == pytest.approx(sens + spec - 1, rel=RTOL)


def test_multiclass_ovr_matches_sklearn():
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict
    X, y = load_iris(return_X_y=True)
    P = cross_val_predict(LogisticRegression(max_iter=500), X[:, :2], y, cv=3, method="predict_proba")
    r = multiclass_auc(y, P)
    assert r.macro == pytest.approx(metrics.roc_auc_score(y, P, multi_class="ovr", average="macro"), rel=RTOL)
    assert r.weighted == pytest.approx(metrics.roc_auc_score(y, P, multi_class="ovr", average="weighted"),
                                       rel=RTOL)


def test_nan_policy_omit_is_complete_case():
    y, s = synthetic(100, False, 10)
    s2 = s.copy()
    s2[[3, 7]] = np.nan
    with pytest.raises(ValueError, match="y_score.*NaN"):
        roc_auc(y, s2)
    keep = ~np.isnan(s2)
    a = roc_auc(y, s2, nan_policy="omit")
    b = roc_auc(y[keep], s[keep])
    assert (a.estimate, a.se, a.n) == (b.estimate, b.se, b.n)


@pytest.mark.parametrize("call,match", [
    (lambda: roc_auc([1, 1, 1], [0.1, 0.2, 0.3]), "one class"),
    (lambda: roc_auc([0, 0, 0], [0.1, 0.2, 0.3]), "no positives"),
    (lambda: roc_curve([0, 1, 1], [0.1, 0.2]), "same length"),
    (lambda: roc_auc([0, 2, 1], [0.1, 0.2, 0.3]), "y_true must be coded 0/1"),
    (lambda: roc_auc([0, 1, 1], [0.1, 0.2, 0.3], ci="wald"), "ci must be"),
    (lambda: roc_auc([0, 1, 1], [0.1, 0.2, 0.3], conf_level=95), "conf_level"),
    (lambda: roc_auc([0, 1, 1], [0.1, 0.2, 0.3], nan_policy="drop"), "nan_policy"),
    (lambda: average_precision([0, 0, 0], [0.1, 0.2, 0.3]), "no positives"),
    (lambda: delong_test([0, 1, 0, 1], [1, 2, 3, 4], [1, 2, 3]), "same length"),
    (lambda: roc_auc([0, 1], [0.1, np.inf]), "infinite"),
])
def test_bad_inputs_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_single_case_per_class_gives_nan_se():
    r = roc_auc([0, 1], [0.1, 0.9])
    assert r.estimate == 1.0 and np.isnan(r.se) and np.isnan(r.ci_low)


def test_core_wrappers_reject_bad_arguments():
    s = np.array([0.1, 0.2, 0.3])
    y = np.array([0, 1, 1], dtype=np.uint8)
    with pytest.raises(ValueError, match="y_true and y_score"):
        _core.stats_delong_placements(s, y[:2])
    with pytest.raises(ValueError, match="not 0 or 1"):
        _core.stats_roc_counts(s, np.array([0, 2, 1], dtype=np.uint8))
    with pytest.raises(ValueError, match="NaN"):
        _core.stats_argsort(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="unit"):
        _core.stats_boot_auc(s, y, np.array([0, 1, 5]), np.zeros(3, dtype=np.int64), 1, 10, 0)
    with pytest.raises(ValueError, match="n_boot"):
        _core.stats_boot_counts(np.zeros(3, dtype=np.int64), 1, 0, 0)
    with pytest.raises(ValueError, match="stratum"):
        _core.stats_boot_counts(np.array([0, 3], dtype=np.int64), 2, 5, 0)


def test_clustered_delong_matches_obuchowski_twin():
    rng = np.random.default_rng(12)
    groups = np.repeat(np.arange(60), 2)  # two joints per patient
    latent = np.repeat(rng.normal(size=60), 2)
    y = (latent + 0.7 * rng.normal(size=120) > 0.3).astype(int)
    s = np.round(latent + rng.normal(size=120) + y, 1)
    r = roc_auc(y, s, groups=groups)
    assert r.method == "delong-clustered"
    assert r.se == pytest.approx(ref.obuchowski_se(y, s, groups), rel=RTOL)
    assert r.estimate == pytest.approx(metrics.roc_auc_score(y, s), rel=RTOL)
    b = roc_auc(y, s, groups=groups, ci="bootstrap", n_boot=2000, seed=3)
    assert abs(b.se - r.se) < 0.3 * r.se  # same target: the patient-level sampling variance
    # singleton groups: plain DeLong
    assert roc_auc(y, s, groups=np.arange(120)).se == roc_auc(y, s).se


def test_roc_curve_direction_lower_thresholds():
    y, s = synthetic(50, True, 13)
    fpr, tpr, thr = roc_curve(y, s, direction="lower")
    f2, t2, th2 = roc_curve(y, -s)
    np.testing.assert_array_equal(fpr, f2)
    assert thr[0] == -np.inf and np.all(np.diff(thr[1:]) > 0)
    j = 5
    assert tpr[j] == np.mean(s[y == 1] <= thr[j])


def test_clustered_paired_delong_matches_twin():
    rng = np.random.default_rng(14)
    groups = np.repeat(np.arange(50), 2)
    latent = np.repeat(rng.normal(size=50), 2)
    y = (latent + 0.7 * rng.normal(size=100) > 0.3).astype(int)
    a = np.round(latent + rng.normal(size=100) + y, 1)
    b = np.round(0.5 * a + rng.normal(size=100), 1)
    t = delong_test(y, a, b, groups=groups)
    diff, var = ref.obuchowski_paired_var(y, a, b, groups)
    assert t.method == "DeLong paired, clustered"
    assert t.estimate == pytest.approx(diff, rel=RTOL)
    assert t.statistic == pytest.approx(diff / np.sqrt(var), rel=RTOL)
    # its diagonal is the single-score clustered variance
    assert t.extra["cov"][0, 0] == pytest.approx(roc_auc(y, a, groups=groups).se ** 2, rel=RTOL)
    assert delong_test(y, a, b, groups=np.arange(100)).statistic == delong_test(y, a, b).statistic


def test_delong_multi_matches_psi_twin_and_paired_test(breast_cancer_scores):
    from scipy.stats import chi2
    from sacroai.stats import delong_covariance, delong_test_multi
    y, p, p2, X = breast_cancer_scores
    p3 = np.round(X[:, 0], 0)
    S = np.column_stack([p, p2, p3])
    aucs, cov = delong_covariance(y, S)
    comps = [ref.delong_direct(y, S[:, k]) for k in range(3)]
    m, n = (y == 1).sum(), (y == 0).sum()
    want = np.cov(np.vstack([c[1] for c in comps])) / m + np.cov(np.vstack([c[2] for c in comps])) / n
    np.testing.assert_allclose(cov, want, rtol=RTOL)
    np.testing.assert_allclose(aucs, [c[0] for c in comps], rtol=RTOL)
    L = np.array([[1, 0, -1], [0, 1, -1.0]])
    d = L @ aucs
    x2 = d @ np.linalg.inv(L @ want @ L.T) @ d
    t = delong_test_multi(y, S)
    assert t.statistic == pytest.approx(x2, rel=RTOL) and t.df == 2
    assert t.p_value == pytest.approx(chi2.sf(x2, 2), rel=RTOL)
    # with two scores it is the square of the paired z
    t2 = delong_test_multi(y, [p, p2])
    assert t2.statistic == pytest.approx(delong_test(y, p, p2).statistic ** 2, rel=RTOL)


@pytest.mark.parametrize("layout", ["contiguous", "strided", "readonly", "memmap", "float32", "int16",
                                    "fortran-column"])
def test_core_kernels_accept_layouts(layout, tmp_path):
    y, s = synthetic(301, True, 15)
    want = ref.delong_direct(y, s.astype(np.float32).astype(np.float64) if layout == "float32" else
                             (np.round(s * 10).astype(np.int16).astype(np.float64) if layout == "int16" else s))
    y8 = y.astype(np.uint8)
    if layout == "strided":
        buf = np.zeros(2 * len(s))
        buf[::2] = s
        x = buf[::2]
    elif layout == "readonly":
        x = s.copy()
        x.setflags(write=False)
    elif layout == "memmap":
        path = tmp_path / "s.dat"
        s.tofile(path)
        x = np.memmap(path, dtype=np.float64, mode="r", shape=s.shape)
    elif layout == "float32":
        x = s.astype(np.float32)
    elif layout == "int16":
        x = np.round(s * 10).astype(np.int16)
    elif layout == "fortran-column":
        x = np.asfortranarray(np.column_stack([s, s]))[:, 1]
    else:
        x = s
    auc, v10, v01 = _core.stats_delong_placements(x, y8)
    assert auc == pytest.approx(want[0], rel=1e-12)
    np.testing.assert_allclose(v10, want[1], rtol=1e-12)
    thr, tps, fps, k = _core.stats_roc_counts(x, y8)
    assert tps[k - 1] == y.sum() and fps[k - 1] == (1 - y).sum()
