"""Patient-level splitters, leakage check, nnU-Net export and cross_validate backends."""
import json

import numpy as np
import pytest

from sacroai.stats import (LeakageError, PatientKFold, RepeatedStratifiedPatientKFold,
                           StratifiedPatientKFold, check_no_leakage, cross_validate,
                           export_nnunet_splits, nested_splits)


def sij_cohort(n_patients=40, seed=0):
    """Two sacroiliac joints per patient, some patients with 2 visits; outcome per joint."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        visits = 1 + (rng.random() < 0.3)
        sick = rng.random() < 0.35
        for v in range(visits):
            for side in ("L", "R"):
                rows.append((f"P{p:03d}", side, v, int(sick and rng.random() < 0.8)))
    groups = np.array([r[0] for r in rows])
    y = np.array([r[3] for r in rows])
    X = rng.normal(size=(len(rows), 3)) + y[:, None]
    return X, y, groups


@pytest.mark.parametrize("splitter", [PatientKFold(5), PatientKFold(4, shuffle=True, random_state=1),
                                      StratifiedPatientKFold(5), StratifiedPatientKFold(3, shuffle=True,
                                                                                        random_state=2)])
def test_patients_never_split_and_every_row_tested_once(splitter):
    X, y, g = sij_cohort()
    seen = np.zeros(len(y), dtype=int)
    for train, test in splitter.split(X, y, g):
        assert not set(g[train]) & set(g[test])
        assert len(train) + len(test) == len(y)
        seen[test] += 1
        if isinstance(splitter, StratifiedPatientKFold):
            assert set(y[test]) == {0, 1} and set(y[train]) == {0, 1}
    assert (seen == 1).all()
    assert splitter.get_n_splits(X, y, g) == splitter.n_splits


def test_stratified_never_single_class_even_when_tight():
    X, y, g = sij_cohort(30, seed=4)
    n_pos_patients = len(set(g[y == 1]))
    for k in range(2, min(n_pos_patients, 8) + 1):
        for tr, te in StratifiedPatientKFold(k, shuffle=True, random_state=k).split(X, y, g):
            assert set(y[te]) == {0, 1}
    with pytest.raises(ValueError, match="fewer than n_splits"):
        list(StratifiedPatientKFold(n_pos_patients + 1).split(X, y, g))


def test_splitter_works_with_sklearn_cross_val_score():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    X, y, g = sij_cohort()
    s = cross_val_score(LogisticRegression(), X, y, groups=g, cv=StratifiedPatientKFold(4), scoring="roc_auc")
    assert len(s) == 4


def test_repeated_and_nested():
    X, y, g = sij_cohort()
    rep = RepeatedStratifiedPatientKFold(3, n_repeats=4, random_state=0)
    splits = list(rep.split(X, y, g))
    assert len(splits) == rep.get_n_splits() == 12
    assert any(not np.array_equal(splits[0][1], s[1]) for s in splits[3:])
    for train, test, inner in nested_splits(StratifiedPatientKFold(3), PatientKFold(2), X, y, g):
        for itr, iva in inner:
            assert set(itr) | set(iva) == set(train)
            assert not set(g[itr]) & set(g[iva]) and not set(g[iva]) & set(g[test])


def test_leakage_check_fails_loudly():
    g = np.array(["a", "a", "b", "c"])
    with pytest.raises(LeakageError, match="a"):
        check_no_leakage([0, 2], [1, 3], g)
    check_no_leakage([0, 1], [2, 3], g)

    class Leaky:
        def split(self, X, y, groups):
            yield np.arange(0, 10), np.arange(5, 20)

    X, y, gg = sij_cohort()
    with pytest.raises(LeakageError):
        cross_validate(lambda a, b, c: np.zeros(len(c)), X, y, gg, Leaky())


def test_export_nnunet_splits(tmp_path):
    X, y, g = sij_cohort()
    splits = list(StratifiedPatientKFold(5).split(X, y, g))
    path = tmp_path / "splits_final.json"
    out = export_nnunet_splits(splits, g, path)
    data = json.loads(path.read_text())
    assert data == out and len(data) == 5
    assert sorted(sum((f["val"] for f in data), [])) == sorted(set(g))
    for f in data:
        assert set(f.keys()) == {"train", "val"} and not set(f["train"]) & set(f["val"])


def _fit_predict(Xtr, ytr, Xte):
    from sacroai.stats import logistic_regression
    return logistic_regression(Xtr, ytr).predict_proba(Xte)


def test_cross_validate_serial_threads_and_fallback(monkeypatch):
    X, y, g = sij_cohort()
    serial = cross_validate(_fit_predict, X, y, g, StratifiedPatientKFold(4))
    assert not np.isnan(serial.oof).any() and len(serial.fold_metrics) == 4
    assert serial.extra["backend"] == "serial"
    par = cross_validate(_fit_predict, X, y, g, StratifiedPatientKFold(4), n_jobs=2)
    np.testing.assert_allclose(par.oof, serial.oof, rtol=1e-12)
    import builtins
    real_import = builtins.__import__

    def no_joblib(name, *a, **k):
        if name == "joblib":
            raise ImportError("no joblib")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_joblib)
    fb = cross_validate(_fit_predict, X, y, g, StratifiedPatientKFold(4), n_jobs=2)
    assert fb.extra["backend"] == "threads"
    np.testing.assert_allclose(fb.oof, serial.oof, rtol=1e-12)


def test_cross_validate_on_dask_local_cluster():
    distributed = pytest.importorskip("dask.distributed")
    X, y, g = sij_cohort()
    serial = cross_validate(_fit_predict, X, y, g, StratifiedPatientKFold(3))
    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=1,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        res = cross_validate(_fit_predict, X, y, g, StratifiedPatientKFold(3), client=client)
    assert res.extra["backend"] == "dask"
    np.testing.assert_allclose(res.oof, serial.oof, rtol=1e-12)
    assert res.metric_summary()["auc"][0] == pytest.approx(serial.metric_summary()["auc"][0])


def test_splitter_bad_inputs():
    X, y, g = sij_cohort()
    with pytest.raises(ValueError, match="groups"):
        list(PatientKFold(3).split(X, y))
    with pytest.raises(ValueError, match="n_splits"):
        PatientKFold(1)
    with pytest.raises(ValueError, match="patients"):
        list(PatientKFold(5).split(X[:4], y[:4], ["a", "a", "b", "b"]))
    with pytest.raises(ValueError, match="single class"):
        list(StratifiedPatientKFold(2).split(X, np.zeros(len(y)), g))


def test_cross_validate_repeated_splitter_collects_each_repeat():
    X, y, g = sij_cohort()
    res = cross_validate(_fit_predict, X, y, g, RepeatedStratifiedPatientKFold(3, n_repeats=2, random_state=0))
    assert res.oof.shape == (2, len(y)) and not np.isnan(res.oof).any()
    assert len(res.fold_metrics) == 6


def test_stacking_end_to_end_with_out_of_fold_predictions():
    import statsmodels.api as sm
    from sacroai.stats import stack_predictions
    X, y, g = sij_cohort(60, seed=5)
    oof_a = cross_validate(lambda a, b, c: _fit_predict(a[:, :2], b, c[:, :2]), X, y, g,
                           StratifiedPatientKFold(4)).oof
    oof_b = cross_validate(lambda a, b, c: _fit_predict(a[:, 2:], b, c[:, 2:]), X, y, g,
                           StratifiedPatientKFold(4)).oof
    age = np.random.default_rng(0).normal(50, 10, len(y))
    res = stack_predictions(np.column_stack([oof_a, oof_b]), y, covariates=age, names=["imgA", "imgB", "age"])
    F = np.column_stack([np.log(oof_a / (1 - oof_a)), np.log(oof_b / (1 - oof_b)), age])
    m = sm.Logit(y, sm.add_constant(F)).fit(disp=0, tol=1e-14)
    np.testing.assert_allclose(res.model.coef, m.params, rtol=1e-6)


def test_import_does_not_pull_optional_dependencies():
    import subprocess
    import sys
    code = ("import sys, sacroai.stats, sacroai.plotting; "
            "print(sorted(m for m in ('matplotlib', 'sklearn', 'joblib', 'pandas', 'dask', 'statsmodels') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=__import__("os").path.dirname(__import__("os").path.dirname(__file__)))
    assert out.stdout.strip() == "[]"
