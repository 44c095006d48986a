"""Plots of the statistics as Display objects (matplotlib is imported only when drawing).

Each Display holds the numbers; ``plot(ax=None)`` draws them and returns self
(``.ax_``, ``.figure_``).  ``report(...)`` puts ROC, calibration, decision curve
and a metrics table of one study on one page (PNG, PDF or HTML).
"""
from .displays import (BlandAltmanDisplay, CalibrationDisplay, ConfusionMatrixDisplay, DecisionCurveDisplay,
                       NomogramDisplay, PrecisionRecallDisplay, RocDisplay, overlay_heatmap)
from .report import png_tag, report

__all__ = ["RocDisplay", "PrecisionRecallDisplay", "CalibrationDisplay", "DecisionCurveDisplay",
           "ConfusionMatrixDisplay", "BlandAltmanDisplay", "NomogramDisplay", "overlay_heatmap", "report", "png_tag"]
