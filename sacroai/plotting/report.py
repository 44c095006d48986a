"""One-page summary of a diagnostic study: ROC, calibration, decision curve, metrics table."""
import base64
import io
import os

import numpy as np

from ._mpl import pyplot


def png_tag(path, width=None) -> str:
    """An HTML ``<img>`` that embeds the PNG file at ``path`` (base64 data URI), so a
    report page stays one self-contained file; ``width`` in CSS pixels."""
    with open(path, "rb") as f:
        data = base64.b64encode(f.read()).decode()
    w = f' width="{width}"' if width else ""
    return f'<img src="data:image/png;base64,{data}"{w}>'


def _metrics_rows(y_true, risks, threshold, conf_level):
    from ..stats import brier_score, calibration_fit, diagnostic_accuracy, roc_auc
    rows = []
    for name, p in risks.items():
        auc = roc_auc(y_true, p, conf_level=conf_level)
        acc = diagnostic_accuracy(y_true, y_score=p, threshold=threshold, conf_level=conf_level)
        p_arr = np.asarray(p, dtype=float)
        if ((p_arr > 0) & (p_arr < 1)).all():
            try:
                cal = calibration_fit(y_true, p_arr)
                slope = f"{cal.slope.estimate:.2f}"
                citl = f"{cal.citl.estimate:.2f}"
            except ValueError:
                slope = citl = "n/a"
        else:
            slope = citl = "n/a"
        fmt = lambda e: f"{e.estimate:.2f} ({e.ci_low:.2f}-{e.ci_high:.2f})"  # noqa: E731
        rows.append([name, fmt(auc), fmt(acc.sensitivity), fmt(acc.specificity), f"{brier_score(y_true, p):.3f}",
                     citl, slope])
    return ["Model", "AUC (DeLong)", f"Sens @{threshold:g}", f"Spec @{threshold:g}", "Brier", "CITL", "Slope"], rows


def report(y_true, risks, path=None, *, title="Diagnostic performance", threshold=0.5, conf_level=0.95,
           n_bins=10, dca_thresholds=None):
    """Draw ROC + calibration + decision curve + a metrics table on one page.

    risks : dict name -> predicted probabilities (or one array).
    path : output file; the format follows the extension (.png, .pdf, .html - the
        HTML embeds the PNG and the table).  None: return the figure only.
    Returns the matplotlib Figure."""
    from .displays import CalibrationDisplay, DecisionCurveDisplay, RocDisplay
    plt = pyplot()
    risks = risks if isinstance(risks, dict) else {"model": risks}
    fig = plt.figure(figsize=(11, 9.5))
    gs = fig.add_gridspec(3, 2, height_ratios=[1, 1, 0.45])
    RocDisplay.from_predictions(y_true, risks, conf_level=conf_level).plot(ax=fig.add_subplot(gs[0, 0]))
    CalibrationDisplay.from_predictions(y_true, risks, n_bins=n_bins).plot(ax=fig.add_subplot(gs[0, 1]))
    kw = {} if dca_thresholds is None else {"thresholds": dca_thresholds}
    DecisionCurveDisplay.from_predictions(y_true, risks, **kw).plot(ax=fig.add_subplot(gs[1, :]))
    header, rows = _metrics_rows(y_true, risks, threshold, conf_level)
    tax = fig.add_subplot(gs[2, :])
    tax.set_axis_off()
    table = tax.table(cellText=rows, colLabels=header, loc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        path = os.fspath(path)
        ext = os.path.splitext(path)[1].lower()
        if ext in (".png", ".pdf", ".svg"):
            fig.savefig(path, dpi=120)
        elif ext in (".html", ".htm"):
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=110)
            img = base64.b64encode(buf.getvalue()).decode("ascii")
            trs = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
            ths = "".join(f"<th>{h}</th>" for h in header)
            html = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head><body>"
                    f"<h1>{title}</h1><img alt='{title}' src='data:image/png;base64,{img}'/>"
                    f"<table border='1'><tr>{ths}</tr>{trs}</table></body></html>")
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(html)
        else:
            raise ValueError(f"path must end in .png, .pdf, .svg or .html, got {path!r}")
    return fig
