"""Every Display renders to a non-empty PNG with the Agg backend."""
import numpy as np
import pytest

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sacroai import plotting  # noqa: E402
from sacroai.stats import logistic_regression, nomogram  # noqa: E402


@pytest.fixture(scope="module")
def study():
    rng = np.random.default_rng(0)
    y = (rng.random(200) < 0.4).astype(int)
    p1 = np.clip(1 / (1 + np.exp(-(2 * y - 1 + rng.normal(size=200)))), 1e-3, 1 - 1e-3)
    p2 = np.clip(0.5 * p1 + 0.25 + 0.1 * rng.normal(size=200), 0.01, 0.99)
    return y, {"model A": p1, "model B": p2}


def assert_png(fig, path):
    fig.savefig(path, dpi=60)
    from matplotlib.image import imread
    img = imread(path)
    assert path.stat().st_size > 2000
    assert img.shape[0] > 50 and img.std() > 0.01  # something was drawn
    plt.close(fig)


def test_roc_pr_calibration_dca(study, tmp_path):
    y, risks = study
    d = plotting.RocDisplay.from_predictions(y, risks)
    assert d.plot() is d
    assert len(d.ax_.lines) >= 3
    assert_png(d.figure_, tmp_path / "roc.png")
    for disp in (plotting.PrecisionRecallDisplay.from_predictions(y, risks),
                 plotting.CalibrationDisplay.from_predictions(y, risks),
                 plotting.DecisionCurveDisplay.from_predictions(y, risks, n_boot=50, seed=1)):
        assert disp.plot() is disp
        assert_png(disp.figure_, tmp_path / f"{type(disp).__name__}.png")


def test_confusion_bland_altman_nomogram(study, tmp_path):
    rng = np.random.default_rng(1)
    yt = rng.integers(0, 5, 100)
    d = plotting.ConfusionMatrixDisplay.from_predictions(yt, np.clip(yt + rng.integers(-1, 2, 100), 0, 4)).plot()
    assert_png(d.figure_, tmp_path / "cm.png")
    a = rng.normal(100, 10, 30)
    d = plotting.BlandAltmanDisplay.from_measurements(a, a + rng.normal(1, 3, 30)).plot(units="mm")
    assert_png(d.figure_, tmp_path / "ba.png")
    X = rng.normal(size=(200, 2))
    yy = (rng.random(200) < 1 / (1 + np.exp(-(X[:, 0] - 0.5 * X[:, 1])))).astype(int)
    d = plotting.NomogramDisplay(nomogram(logistic_regression(X, yy, names=["BME", "age"]))).plot()
    assert_png(d.figure_, tmp_path / "nomo.png")


def test_overlay_heatmap(tmp_path):
    fig, ax = plt.subplots()
    img = np.add.outer(np.arange(64), np.arange(64)).astype(float)
    plotting.overlay_heatmap(img, np.exp(-((np.arange(64) - 32) ** 2)[:, None] / 50.0) * np.ones(64), ax=ax)
    assert_png(fig, tmp_path / "cam.png")
    with pytest.raises(ValueError, match="shape"):
        plotting.overlay_heatmap(img, np.ones((10, 10)))


@pytest.mark.parametrize("ext", ["png", "pdf", "html"])
def test_report_one_page(study, tmp_path, ext):
    y, risks = study
    path = tmp_path / f"report.{ext}"
    fig = plotting.report(y, risks, path, title="SIJ MRI model")
    assert path.stat().st_size > 5000
    if ext == "html":
        text = path.read_text()
        assert "data:image/png;base64" in text and "model A" in text
    plt.close(fig)
    with pytest.raises(ValueError, match="path must end"):
        plotting.report(y, risks, tmp_path / "r.docx")
    plt.close("all")


def test_roc_bootstrap_band_contains_curve(study, tmp_path):
    from sacroai.plotting.displays import _bootstrap_roc_band
    from sacroai.stats import roc_curve
    y, risks = study
    p = risks["model A"]
    grid, lo, hi = _bootstrap_roc_band(y, p, 0.95, 400, 1, np.linspace(0, 1, 101))
    fpr, tpr, _ = roc_curve(y, p)
    sens = tpr[np.searchsorted(fpr, grid, side="right") - 1]
    assert np.all(lo <= hi) and np.mean((lo <= sens + 1e-12) & (sens <= hi + 1e-12)) > 0.95
    # each replicate is the weighted ROC step function (scikit-learn with sample_weight)
    from sklearn.metrics import roc_curve as sk_roc
    from sacroai import _core
    from sacroai.plotting.displays import _bootstrap_roc_curves
    grid = np.linspace(0, 1, 101)
    curves = _bootstrap_roc_curves(y, p, 3, 7, grid)
    W = _core.stats_boot_counts(np.asarray(y, dtype=np.int64), 2, 3, 7)
    for b in range(3):
        f, t, _ = sk_roc(y, p, sample_weight=W[b], drop_intermediate=False)
        np.testing.assert_allclose(curves[b], t[np.searchsorted(f, grid, side="right") - 1], rtol=1e-12)
    d = plotting.RocDisplay.from_predictions(y, risks, band="bootstrap", n_boot=100).plot()
    assert_png(d.figure_, tmp_path / "roc_boot.png")
    with pytest.raises(ValueError, match="band"):
        plotting.RocDisplay.from_predictions(y, risks, band="delong")
