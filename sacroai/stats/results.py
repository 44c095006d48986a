"""Small result records: estimate, interval, method, n and the convention used."""
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

import numpy as np


@dataclass
class Estimate:
    """A point estimate with its interval.

    `method` names the interval ("delong", "bootstrap-percentile", "wilson", ...);
    `convention` states the rule followed where peers differ."""
    estimate: float
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    method: str = ""
    n: int = 0
    conf_level: float = 0.95
    se: float = float("nan")
    convention: str = ""
    extra: Dict[str, Any] = field(default_factory=dict)

    @property
    def ci(self):
        return (self.ci_low, self.ci_high)

    def __float__(self):
        return float(self.estimate)


@dataclass
class AUCResult(Estimate):
    """AUC with its interval; `n_pos`/`n_neg` count cases and controls.
    For bootstrap intervals, `replicates` holds the replicate AUCs."""
    n_pos: int = 0
    n_neg: int = 0
    replicates: Optional[np.ndarray] = None


@dataclass
class TestResult:
    """A hypothesis test: statistic, two-sided p-value unless `alternative` says otherwise."""
    statistic: float
    p_value: float
    method: str
    df: Optional[float] = None
    estimate: Optional[float] = None
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    effect_size: Optional[float] = None
    effect_size_name: str = ""
    alternative: str = "two-sided"
    n: Any = None
    extra: Dict[str, Any] = field(default_factory=dict)

    # keep pytest from collecting this class
    __test__ = False
