"""Diagnostic-study statistics with documented conventions (see the STATISTICS spec).

ROC/AUC with DeLong and bootstrap intervals, accuracy at a threshold, calibration,
decision curves, agreement, group tests, regression models and patient-level
cross-validation.  Hot loops run in the C core (sacroai._core.stats_*).
"""
from .results import AUCResult, Estimate, TestResult
from .roc import (average_precision, delong_test, delong_test_unpaired, multiclass_auc,
                  precision_recall_curve, roc_auc, roc_curve, youden_threshold)
