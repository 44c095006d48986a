"""Display objects: compute in from_*(), draw in plot(ax=None)."""
from dataclasses import dataclass, field
from typing import Dict, List

import numpy as np

from ._mpl import axes


def _as_dict(scores, default="model"):
    return scores if isinstance(scores, dict) else {default: scores}


def _bootstrap_roc_curves(y, s, n_boot, seed, grid):
    """Sensitivity at each 1 - specificity of `grid` for each replicate (n_boot, len(grid))
    of the seeded stratified bootstrap of the C core (replicate = frequency weights)."""
    from .. import _core
    from ..stats._validation import resolve_seed
    y = np.asarray(y).astype(np.int64)
    s = np.asarray(s, dtype=np.float64)
    W = _core.stats_boot_counts(y, 2, int(n_boot), resolve_seed(seed)).astype(np.float64)
    order = np.argsort(-s, kind="stable")
    s_sorted = s[order]
    last_of_tie = np.r_[s_sorted[1:] != s_sorted[:-1], True]  # cut only between distinct scores
    tp = np.cumsum(W[:, order] * y[order], axis=1)[:, last_of_tie]
    fp = np.cumsum(W[:, order] * (1 - y[order]), axis=1)[:, last_of_tie]
    tpr = np.hstack([np.zeros((len(W), 1)), tp / tp[:, -1:]])
    fpr = np.hstack([np.zeros((len(W), 1)), fp / fp[:, -1:]])
    # step function: sensitivity reached at each 1 - specificity of the grid
    return np.array([tpr[b][np.searchsorted(fpr[b], grid, side="right") - 1] for b in range(len(W))])


def _bootstrap_roc_band(y, s, conf_level, n_boot, seed, grid):
    """Pointwise percentile band (type 7) of the bootstrap sensitivities over `grid`."""
    curves = _bootstrap_roc_curves(y, s, n_boot, seed, grid)
    lo, hi = np.quantile(curves, [(1 - conf_level) / 2, (1 + conf_level) / 2], axis=0)
    return grid, lo, hi


@dataclass
class RocDisplay:
    """ROC curves of several models; the legend gives AUC with its DeLong interval.

    band="wilson" (default): pointwise Wilson interval of the sensitivity at each
    observed threshold.  band="bootstrap": pointwise percentile band of the
    sensitivity over a grid of 1 - specificity (stratified bootstrap, explicit seed).
    band=None: no band."""
    curves: Dict[str, dict]

    @classmethod
    def from_predictions(cls, y_true, scores, *, conf_level=0.95, band="wilson", n_boot=1000, seed=0):
        from ..stats import proportion_ci, roc_auc, roc_curve
        if band not in (None, False, True, "wilson", "bootstrap"):
            raise ValueError(f"band must be 'wilson', 'bootstrap' or None, got {band!r}")
        curves = {}
        for name, s in _as_dict(scores).items():
            fpr, tpr, thr = roc_curve(y_true, s)
            auc = roc_auc(y_true, s, conf_level=conf_level)
            entry = {"fpr": fpr, "tpr": tpr, "auc": auc}
            if band in (True, "wilson"):
                n_pos = auc.n_pos
                lo, hi = proportion_ci(np.round(tpr * n_pos), np.full(len(tpr), n_pos), conf_level=conf_level)
                entry["band"] = (fpr, lo, hi)
            elif band == "bootstrap":
                entry["band"] = _bootstrap_roc_band(y_true, s, conf_level, n_boot, seed, np.linspace(0, 1, 201))
            curves[name] = entry
        return cls(curves)

    def plot(self, ax=None, *, chance=True):
        self.figure_, self.ax_ = fig, ax = axes(ax)
        for name, c in self.curves.items():
            a = c["auc"]
            (line,) = ax.step(c["fpr"], c["tpr"], where="post",
                              label=f"{name}: AUC {a.estimate:.3f} ({a.ci_low:.3f}-{a.ci_high:.3f})")
            if "band" in c:
                x, lo, hi = c["band"]
                ax.fill_between(x, lo, hi, step="post", alpha=0.15, color=line.get_color())
        if chance:
            ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1)
        ax.set(xlabel="1 - specificity", ylabel="Sensitivity", xlim=(0, 1), ylim=(0, 1.01), title="ROC")
        ax.legend(loc="lower right", fontsize="small")
        return self


@dataclass
class PrecisionRecallDisplay:
    curves: Dict[str, dict]
    prevalence: float

    @classmethod
    def from_predictions(cls, y_true, scores):
        from ..stats import average_precision, precision_recall_curve
        curves = {}
        for name, s in _as_dict(scores).items():
            p, r, _ = precision_recall_curve(y_true, s)
            curves[name] = {"precision": p, "recall": r, "ap": average_precision(y_true, s)}
        return cls(curves, float(np.mean(np.asarray(y_true) == 1)))

    def plot(self, ax=None):
        self.figure_, self.ax_ = fig, ax = axes(ax)
        for name, c in self.curves.items():
            ax.step(c["recall"], c["precision"], where="post", label=f"{name}: AP {c['ap']:.3f}")
        ax.axhline(self.prevalence, ls=":", color="grey", lw=1)
        ax.set(xlabel="Recall", ylabel="Precision", xlim=(0, 1), ylim=(0, 1.01), title="Precision-recall")
        ax.legend(loc="lower left", fontsize="small")
        return self


@dataclass
class CalibrationDisplay:
    """Binned calibration curves with a histogram of the predicted probabilities."""
    curves: Dict[str, object]
    probabilities: Dict[str, np.ndarray]

    @classmethod
    def from_predictions(cls, y_true, probs, *, n_bins=10, strategy="uniform"):
        from ..stats import calibration_curve
        probs = _as_dict(probs)
        return cls({k: calibration_curve(y_true, p, n_bins=n_bins, strategy=strategy) for k, p in probs.items()},
                   {k: np.asarray(p, dtype=float) for k, p in probs.items()})

    def plot(self, ax=None, *, histogram=True):
        self.figure_, self.ax_ = fig, ax = axes(ax)
        ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1, label="ideal")
        for name, c in self.curves.items():
            ax.plot(c.prob_pred, c.prob_true, marker="o", ms=4, label=name)
        ax.set(xlabel="Predicted probability", ylabel="Observed fraction", xlim=(0, 1), ylim=(-0.15, 1.01),
               title="Calibration")
        if histogram:
            hx = ax.inset_axes([0, 0, 1, 0.12], sharex=ax)
            hx.hist(list(self.probabilities.values()), bins=20, range=(0, 1), histtype="step")
            hx.set_axis_off()
            self.hist_ax_ = hx
        ax.legend(loc="upper left", fontsize="small")
        return self


@dataclass
class DecisionCurveDisplay:
    result: object

    @classmethod
    def from_predictions(cls, y_true, risks, **kw):
        from ..stats import decision_curve
        return cls(decision_curve(y_true, _as_dict(risks), **kw))

    def plot(self, ax=None, *, ylim=None):
        self.figure_, self.ax_ = fig, ax = axes(ax)
        r = self.result
        for name, nb in r.net_benefit.items():
            style = {"Treat none": dict(color="black", lw=1), "Treat all": dict(color="grey", ls="--")}.get(name, {})
            (line,) = ax.plot(r.thresholds, nb, label=name, **style)
            if name in r.bands:
                ax.fill_between(r.thresholds, *r.bands[name], alpha=0.15, color=line.get_color())
        top = max(r.prevalence, 0.01)
        ax.set(xlabel="Threshold probability", ylabel="Net benefit", title="Decision curve",
               ylim=ylim or (-0.05 * top, 1.1 * top), xlim=(r.thresholds.min(), r.thresholds.max()))
        ax.legend(loc="upper right", fontsize="small")
        return self


@dataclass
class ConfusionMatrixDisplay:
    matrix: np.ndarray
    labels: np.ndarray

    @classmethod
    def from_predictions(cls, y_true, y_pred, labels=None):
        from ..stats import confusion_matrix
        r = confusion_matrix(y_true, y_pred, labels=labels)
        return cls(r.matrix, r.labels)

    def plot(self, ax=None, *, cmap="Blues"):
        self.figure_, self.ax_ = fig, ax = axes(ax)
        im = ax.imshow(self.matrix, cmap=cmap)
        K = len(self.labels)
        thresh = self.matrix.max() / 2 if self.matrix.size else 0
        for i in range(K):
            for j in range(K):
                ax.text(j, i, str(self.matrix[i, j]), ha="center", va="center",
                        color="white" if self.matrix[i, j] > thresh else "black")
        ax.set(xticks=range(K), yticks=range(K), xticklabels=[str(v) for v in self.labels],
               yticklabels=[str(v) for v in self.labels], xlabel="Predicted", ylabel="True", title="Confusion matrix")
        fig.colorbar(im, ax=ax)
        return self


@dataclass
class BlandAltmanDisplay:
    result: object

    @classmethod
    def from_measurements(cls, method1, method2, **kw):
        from ..stats import bland_altman
        return cls(bland_altman(method1, method2, **kw))

    def plot(self, ax=None, *, units=""):
        self.figure_, self.ax_ = fig, ax = axes(ax)
        r = self.result
        ax.scatter(r.means, r.differences, s=14)
        for e, ls in ((r.bias, "-"), (r.lower_loa, "--"), (r.upper_loa, "--")):
            ax.axhline(e.estimate, ls=ls, color="C3")
            ax.axhspan(e.ci_low, e.ci_high, color="C3", alpha=0.08)
            ax.annotate(f"{e.estimate:.2f}", (1.0, e.estimate), xycoords=("axes fraction", "data"),
                        ha="right", va="bottom", fontsize="small")
        u = f" ({units})" if units else ""
        ax.set(xlabel=f"Mean of methods{u}", ylabel=f"Difference (1 - 2){u}", title="Bland-Altman")
        return self


@dataclass
class NomogramDisplay:
    nomogram: object
    probabilities: List[float] = field(default_factory=lambda: [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95])

    def plot(self, ax=None, *, n_ticks=5):
        from ..stats._validation import logit
        new_figure = ax is None
        self.figure_, self.ax_ = fig, ax = axes(ax)
        if new_figure:
            fig.subplots_adjust(left=0.22)  # room for the row labels
        nm = self.nomogram
        rows = ["Points"] + list(nm.names) + ["Total points", "Probability"]
        y = np.arange(len(rows))[::-1]
        ax.hlines(y[0], 0, 100)
        for t in np.linspace(0, 100, 11):
            ax.text(t, y[0] + 0.15, f"{t:.0f}", ha="center", fontsize="x-small")
        for i, name in enumerate(nm.names):
            xs = np.linspace(nm.x_min[i], nm.x_max[i], n_ticks)
            pts = np.abs(nm.points_per_unit[i]) * np.abs(xs - nm.x_zero[i])
            ax.hlines(y[i + 1], pts.min(), pts.max())
            for xv, pv in zip(xs, pts):
                ax.text(pv, y[i + 1] + 0.15, f"{xv:.3g}", ha="center", fontsize="x-small")
        max_total = float(np.sum(np.abs(nm.points_per_unit) * (nm.x_max - nm.x_min)))
        scale = 100.0 / max_total if max_total > 0 else 1.0  # total points drawn on the 0-100 axis
        ax.hlines(y[-2], 0, 100)
        for t in np.linspace(0, max_total, 6):
            ax.text(t * scale, y[-2] + 0.15, f"{t:.0f}", ha="center", fontsize="x-small")
        lp0 = nm.intercept + float(np.sum(nm.coef * nm.x_zero))
        for p in self.probabilities:
            total = (logit(p) - lp0) * nm.scale
            if 0 <= total <= max_total:
                ax.text(total * scale, y[-1] + 0.15, f"{p:g}", ha="center", fontsize="x-small")
                ax.plot([total * scale], [y[-1]], "|", color="black")
        ax.hlines(y[-1], 0, 100, color="black")
        ax.set_yticks(y)
        ax.set_yticklabels(rows)
        ax.set_xlim(-5, 105)
        ax.set_ylim(-0.8, len(rows) - 0.3)
        ax.set_xticks([])
        ax.set_title("Nomogram")
        return self


def overlay_heatmap(image, heatmap, ax=None, *, alpha=0.4, cmap="jet", image_cmap="gray"):
    """Overlay a 2-D map (e.g. Grad-CAM, same shape as the image) on a 2-D image.
    The map is min-max scaled to [0, 1].  Returns the axes."""
    img = np.asarray(image, dtype=float)
    hm = np.asarray(heatmap, dtype=float)
    if img.ndim != 2 or hm.ndim != 2:
        raise ValueError(f"image and heatmap must be 2-D, got {img.shape} and {hm.shape}")
    if img.shape != hm.shape:
        raise ValueError(f"heatmap shape {hm.shape} must equal image shape {img.shape}")
    rng = np.ptp(hm)
    hm = (hm - hm.min()) / rng if rng > 0 else np.zeros_like(hm)
    fig, ax = axes(ax)
    ax.imshow(img, cmap=image_cmap)
    ax.imshow(hm, cmap=cmap, alpha=alpha, vmin=0, vmax=1)
    ax.set_axis_off()
    return ax
