"""Argument checks shared by the statistics functions (clear errors naming the argument)."""
import numbers

import numpy as np

NAN_POLICIES = ("raise", "omit")


def as_1d_float(x, name):
    """`x` as a 1-D float64 array; TypeError for non-numeric input."""
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be numeric, got {type(x).__name__}: {exc}") from None
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    if np.isinf(a).any():
        raise ValueError(f"{name} contains infinite values")
    return a


def check_same_length(**arrays):
    items = [(k, len(v)) for k, v in arrays.items() if v is not None]
    if len({n for _, n in items}) > 1:
        desc = ", ".join(f"{k} has {n}" for k, n in items)
        raise ValueError(f"arrays must have the same length: {desc}")


def check_nan_policy(nan_policy):
    if nan_policy not in NAN_POLICIES:
        raise ValueError(f"nan_policy must be one of {NAN_POLICIES}, got {nan_policy!r}")


def complete_cases(nan_policy, names, arrays):
    """Drop rows with NaN in any array (nan_policy='omit') or raise (default)."""
    check_nan_policy(nan_policy)
    check_same_length(**dict(zip(names, arrays)))
    bad = np.zeros(len(arrays[0]), dtype=bool)
    for name, a in zip(names, arrays):
        if a is None:
            continue
        miss = np.isnan(a) if a.dtype.kind == "f" else np.zeros(len(a), dtype=bool)
        if miss.ndim > 1:
            miss = miss.any(axis=tuple(range(1, miss.ndim)))
        if miss.any() and nan_policy == "raise":
            raise ValueError(f"{name} contains {int(miss.sum())} NaN value(s); "
                             "pass nan_policy='omit' for the complete-case analysis")
        bad |= miss
    if not bad.any():
        return list(arrays)
    return [None if a is None else a[~bad] for a in arrays]


def as_binary(y, name="y_true"):
    """0/1 outcome as float64 (NaN kept for the nan_policy step). Booleans allowed."""
    a = as_1d_float(y, name)
    ok = np.isnan(a) | (a == 0) | (a == 1)
    if not ok.all():
        bad = np.unique(a[~ok])[:5]
        raise ValueError(f"{name} must be coded 0/1 (1 = positive), found values {bad.tolist()}")
    return a


def require_both_classes(y, name="y_true"):
    n_pos = int(np.sum(y == 1))
    n_neg = int(np.sum(y == 0))
    if n_pos == 0 or n_neg == 0:
        which = "positives" if n_pos == 0 else "negatives"
        raise ValueError(f"{name} has only one class (no {which}): need both 0 and 1")
    return n_pos, n_neg


def check_probabilities(p, name, open_interval=False):
    if ((p < 0) | (p > 1)).any():
        raise ValueError(f"{name} must be probabilities in [0, 1]; found values outside "
                         f"(min {np.nanmin(p):.6g}, max {np.nanmax(p):.6g})")
    if open_interval and ((p == 0) | (p == 1)).any():
        raise ValueError(f"{name} contains probabilities of exactly 0 or 1, whose logit is infinite")


def check_conf_level(conf_level):
    if not isinstance(conf_level, numbers.Real) or not 0 < conf_level < 1:
        raise ValueError(f"conf_level must be in (0, 1), got {conf_level!r}")
    return float(conf_level)


def resolve_seed(seed):
    """An int seed for the C bootstrap from an int, a numpy Generator, or None (fresh entropy)."""
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**63))
    if seed is None:
        return int(np.random.default_rng().integers(0, 2**63))
    if isinstance(seed, numbers.Integral) and seed >= 0:
        return int(seed) % 2**64
    raise ValueError(f"seed must be a non-negative int, a numpy.random.Generator or None, got {seed!r}")


def groups_to_codes(groups, n, name="groups"):
    """Integer codes 0..G-1 for patient ids (any hashable values)."""
    g = np.asarray(groups)
    if g.ndim != 1 or len(g) != n:
        raise ValueError(f"{name} must be 1-D with one id per row ({n}), got shape {g.shape}")
    if g.dtype.kind == "f" and np.isnan(g).any():
        raise ValueError(f"{name} contains NaN")
    _, codes = np.unique(g, return_inverse=True)
    return codes.astype(np.int64)


def logit(p):
    return np.log(p) - np.log1p(-p)


def expit(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))
