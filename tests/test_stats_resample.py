"""Generic bootstrap: resamples equal the C core's counts; paired AUC comparison."""
import numpy as np
import pytest
from sklearn import metrics

from sacroai import _core
from sacroai.stats import auc_difference_bootstrap, bootstrap_ci, bootstrap_indices, delong_test, roc_auc


def data(seed=0, n=120):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    a = rng.normal(size=n) + y
    b = 0.5 * a + rng.normal(size=n)
    return y, a, b


def test_indices_follow_core_counts_stratified_and_clustered():
    y, _, _ = data()
    idx = bootstrap_indices(len(y), y=y, n_boot=5, seed=3)
    counts = _core.stats_boot_counts(y.astype(np.int64), 2, 5, 3)
    for i, c in zip(idx, counts):
        np.testing.assert_array_equal(np.bincount(i, minlength=len(y)), c)
        assert y[i].sum() == y.sum()  # strata keep their size
    groups = np.arange(len(y)) // 2
    idx = bootstrap_indices(len(y), groups=groups, n_boot=4, seed=9)
    counts = _core.stats_boot_counts(np.zeros(60, dtype=np.int64), 1, 4, 9)
    for i, c in zip(idx, counts):
        np.testing.assert_array_equal(np.bincount(i, minlength=len(y)), c[groups])


def test_bootstrap_ci_of_auc_equals_fused_kernel():
    y, a, _ = data(1)
    gen = bootstrap_ci(lambda yy, ss: metrics.roc_auc_score(yy, ss), y, a, y=y, n_boot=300, seed=5)
    fused = roc_auc(y, a, ci="bootstrap", n_boot=300, seed=5)
    np.testing.assert_allclose(np.sort(gen.extra["replicates"]), np.sort(fused.replicates), rtol=1e-12)
    assert (gen.ci_low, gen.ci_high) == pytest.approx((fused.ci_low, fused.ci_high), rel=1e-12)


def test_paired_bootstrap_agrees_with_delong():
    y, a, b = data(2, 300)
    boot = auc_difference_bootstrap(y, a, b, n_boot=2000, seed=1)
    dl = delong_test(y, a, b)
    assert boot.estimate == pytest.approx(dl.estimate, rel=1e-12)
    assert abs(boot.extra["sd"] - dl.extra["se"]) < 0.2 * dl.extra["se"]


def test_bootstrap_ci_errors():
    with pytest.raises(ValueError, match="same length"):
        bootstrap_ci(np.mean, [1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="every bootstrap replicate"):
        bootstrap_ci(lambda x: float("nan"), [1.0, 2.0], n_boot=3, seed=0)
