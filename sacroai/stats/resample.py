"""Generic bootstrap on the C core's seeded resampling streams.

The draws depend only on (seed, replicate, strata, units), never on the data or
the number of threads, so two statistics bootstrapped with the same seed use the
same resamples (paired comparisons)."""
import numpy as np
from scipy import stats as _st

from .. import _core
from ._validation import check_conf_level, groups_to_codes, resolve_seed
from .results import Estimate


def bootstrap_indices(n, *, y=None, groups=None, n_boot=2000, seed=None):
    """Row indices of each bootstrap replicate, as a list of int64 arrays.

    y : stratify by outcome (rows of each class resampled separately).
    groups : patient ids; patients are resampled with replacement (all their rows
        follow).  With both, patients are stratified by whether they have any positive row.
    seed : int, numpy Generator or None (fresh entropy)."""
    n = int(n)
    seed_used = resolve_seed(seed)
    if groups is None:
        unit = np.arange(n, dtype=np.int64)
        strata = np.zeros(n, dtype=np.int64) if y is None else np.asarray(y).astype(np.int64)
        n_strata = 1 if y is None else 2
    else:
        unit = groups_to_codes(groups, n)
        n_units = int(unit.max()) + 1
        if y is None:
            strata, n_strata = np.zeros(n_units, dtype=np.int64), 1
        else:
            strata = np.zeros(n_units, dtype=np.int64)
            np.maximum.at(strata, unit, np.asarray(y).astype(np.int64))
            n_strata = 2
    if y is not None and len(np.asarray(y)) != n:
        raise ValueError(f"y must have {n} values, got {len(np.asarray(y))}")
    counts = _core.stats_boot_counts(strata, n_strata, int(n_boot), seed_used)
    rows_of_unit = None
    if groups is not None:
        order = np.argsort(unit, kind="stable")
        starts = np.r_[0, np.cumsum(np.bincount(unit, minlength=len(strata)))]
        rows_of_unit = [order[starts[u]:starts[u + 1]] for u in range(len(strata))]
    out = []
    for c in counts:
        if rows_of_unit is None:
            out.append(np.repeat(np.arange(n, dtype=np.int64), c))
        else:
            out.append(np.concatenate([np.tile(rows_of_unit[u], k) for u, k in enumerate(c) if k]))
    return out


def bootstrap_ci(statistic, *arrays, y=None, groups=None, n_boot=2000, conf_level=0.95, seed=None):
    """Percentile bootstrap interval (R type 7) of ``statistic(*resampled_arrays)``.

    arrays : equally long arrays resampled together by row.
    y, groups : stratification by outcome and/or resampling of patients (see
        bootstrap_indices).  Replicates where the statistic raises ValueError or
        returns NaN are dropped (their number is in ``extra['n_failed']``).
    The point estimate is the statistic on the original data."""
    conf_level = check_conf_level(conf_level)
    arrs = [np.asarray(a) for a in arrays]
    if not arrs:
        raise ValueError("give at least one array to resample")
    n = len(arrs[0])
    if any(len(a) != n for a in arrs):
        raise ValueError("arrays must have the same length")
    seed_used = resolve_seed(seed)
    est = float(statistic(*arrs))
    reps = []
    failed = 0
    for idx in bootstrap_indices(n, y=y, groups=groups, n_boot=n_boot, seed=seed_used):
        try:
            v = float(statistic(*[a[idx] for a in arrs]))
        except ValueError:
            v = float("nan")
        if np.isnan(v):
            failed += 1
        else:
            reps.append(v)
    if not reps:
        raise ValueError("the statistic failed on every bootstrap replicate")
    lo, hi = np.quantile(reps, [(1 - conf_level) / 2, (1 + conf_level) / 2])
    return Estimate(estimate=est, ci_low=float(lo), ci_high=float(hi), se=float(np.std(reps, ddof=1)),
                    method="bootstrap-percentile", n=n, conf_level=conf_level,
                    convention="percentile type 7; " + ("patients resampled" if groups is not None else "rows resampled")
                    + ("; stratified by outcome" if y is not None else ""),
                    extra={"seed": seed_used, "n_boot": int(n_boot), "n_failed": failed, "replicates": np.array(reps)})


def auc_difference_bootstrap(y_true, score_a, score_b, *, groups=None, n_boot=2000, conf_level=0.95, seed=None):
    """Paired bootstrap comparison of two AUCs on the same cases (pROC's method="bootstrap").

    Both scores use the same resamples (same seed).  D = (AUC_a - AUC_b) / SD(replicate
    differences), two-sided normal p; percentile interval of the difference."""
    from .roc import roc_auc
    ra = roc_auc(y_true, score_a, ci="bootstrap", groups=groups, n_boot=n_boot, seed=resolve_seed(seed),
                 conf_level=conf_level)
    rb = roc_auc(y_true, score_b, ci="bootstrap", groups=groups, n_boot=n_boot, seed=ra.extra["seed"],
                 conf_level=conf_level)
    d = ra.replicates - rb.replicates
    d = d[~np.isnan(d)]
    diff = ra.estimate - rb.estimate
    sd = float(np.std(d, ddof=1))
    z = diff / sd if sd > 0 else (0.0 if diff == 0 else float(np.copysign(np.inf, diff)))
    lo, hi = np.quantile(d, [(1 - conf_level) / 2, (1 + conf_level) / 2])
    from .results import TestResult
    return TestResult(statistic=float(z), p_value=float(2 * _st.norm.sf(abs(z))), method="paired bootstrap",
                      estimate=float(diff), ci_low=float(lo), ci_high=float(hi), n=ra.n,
                      extra={"auc_a": ra.estimate, "auc_b": rb.estimate, "sd": sd, "seed": ra.extra["seed"]})
