"""Diagnostic-study statistics with documented conventions (the project's STATISTICS spec).

ROC/AUC with DeLong and bootstrap intervals, accuracy at a threshold, calibration,
decision curves, agreement, group tests, regression models and patient-level
cross-validation.  Hot loops (sorting, DeLong placements, bootstrap) run in the
C core (``sacroai._core.stats_*``).  Results are small dataclasses holding the
estimate, its interval, the method, n and the convention used.
"""
from .results import AUCResult, Estimate, TestResult
from .roc import (MulticlassAUC, YoudenResult, average_precision, delong_covariance, delong_test,
                  delong_test_multi, delong_test_unpaired,
                  multiclass_auc, precision_recall_curve, roc_auc, roc_curve, youden_threshold)
from .threshold import AccuracyResult, ConfusionResult, confusion_matrix, diagnostic_accuracy, proportion_ci
from .calibration import (CalibrationCurve, CalibrationFit, Recalibrator, brier_score, calibration_curve,
                          calibration_fit, calibration_in_the_large, calibration_slope, hosmer_lemeshow)
from .models import (LinearResult, LogisticResult, Nomogram, SeparationError, StackingResult, linear_regression,
                     logistic_regression, nomogram, stack_predictions)
from .dca import DecisionCurveResult, decision_curve
from .agreement import (BlandAltmanResult, ICCResult, SDCResult, bland_altman, cohen_kappa, fleiss_kappa, icc,
                        pearson, smallest_detectable_change, spearman)
from .group_tests import (benjamini_hochberg, chi2_test, fisher_exact, kruskal_wallis, mann_whitney,
                          ttest)
from .resample import auc_difference_bootstrap, bootstrap_ci, bootstrap_indices
from .cv import (CVResult, LeakageError, PatientKFold, RepeatedStratifiedPatientKFold, StratifiedPatientKFold,
                 check_no_leakage, cross_validate, export_nnunet_splits, nested_splits)

__all__ = [
    # results
    "Estimate", "AUCResult", "TestResult",
    # ranking
    "roc_curve", "roc_auc", "delong_test", "delong_test_unpaired", "delong_test_multi", "delong_covariance", "precision_recall_curve",
    "average_precision", "youden_threshold", "multiclass_auc", "YoudenResult", "MulticlassAUC",
    # accuracy at a threshold
    "proportion_ci", "diagnostic_accuracy", "confusion_matrix", "AccuracyResult", "ConfusionResult",
    # calibration
    "calibration_curve", "calibration_fit", "calibration_in_the_large", "calibration_slope", "brier_score",
    "hosmer_lemeshow", "Recalibrator", "CalibrationCurve", "CalibrationFit",
    # decision curves
    "decision_curve", "DecisionCurveResult",
    # agreement
    "icc", "cohen_kappa", "fleiss_kappa", "bland_altman", "pearson", "spearman", "smallest_detectable_change",
    "ICCResult", "BlandAltmanResult", "SDCResult",
    # group tests
    "mann_whitney", "kruskal_wallis", "ttest", "chi2_test", "fisher_exact", "benjamini_hochberg",
    # models
    "logistic_regression", "linear_regression", "nomogram", "stack_predictions", "SeparationError",
    "LogisticResult", "LinearResult", "Nomogram", "StackingResult",
    # bootstrap
    "bootstrap_indices", "bootstrap_ci", "auc_difference_bootstrap",
    # cross-validation
    "PatientKFold", "StratifiedPatientKFold", "RepeatedStratifiedPatientKFold", "nested_splits",
    "check_no_leakage", "cross_validate", "export_nnunet_splits", "LeakageError", "CVResult",
]
