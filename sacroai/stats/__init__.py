"""Diagnostic-study statistics with documented conventions (see the STATISTICS spec).

ROC/AUC with DeLong and bootstrap intervals, accuracy at a threshold, calibration,
decision curves, agreement, group tests, regression models and patient-level
cross-validation.  Hot loops run in the C core (sacroai._core.stats_*).
"""
from .results import AUCResult, Estimate, TestResult
from .roc import (average_precision, delong_test, delong_test_unpaired, multiclass_auc,
                  precision_recall_curve, roc_auc, roc_curve, youden_threshold)
from .threshold import AccuracyResult, ConfusionResult, confusion_matrix, diagnostic_accuracy, proportion_ci
from .calibration import (CalibrationCurve, CalibrationFit, Recalibrator, brier_score, calibration_curve,
                          calibration_fit, calibration_in_the_large, calibration_slope, hosmer_lemeshow)
from .models import (LinearResult, LogisticResult, Nomogram, SeparationError, linear_regression,
                     logistic_regression, nomogram, stack_predictions)
from .dca import DecisionCurveResult, decision_curve
from .agreement import (BlandAltmanResult, ICCResult, bland_altman, cohen_kappa, fleiss_kappa, icc,
                        pearson, smallest_detectable_change, spearman)
from .group_tests import (benjamini_hochberg, chi2_test, fisher_exact, kruskal_wallis, mann_whitney,
                          ttest)
from .cv import (CVResult, LeakageError, PatientKFold, RepeatedStratifiedPatientKFold, StratifiedPatientKFold,
                 check_no_leakage, cross_validate, export_nnunet_splits, nested_splits)
