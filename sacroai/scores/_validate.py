"""Input checks shared by every score system (SCORES.md section 0.2).

A check that fails raises :class:`Reject` with the spec's reason code and the
path of the offending field (e.g. ``slices[2].left.quadrants[1]``).
"""
import math
import numbers

import numpy as np

NULL = -1   # int8 sentinel: unreadable
NA = -2     # int8 sentinel: unit absent (SPARCC SIJ only)

REASONS = ("", "malformed_input", "missing_field", "unknown_field", "value_out_of_range",
           "wrong_slice_count", "bonus_without_lesion", "unknown_level", "duplicate_level",
           "pd_without_synovial_hypertrophy", "duplicate_joint", "empty_input", "ambiguous_input",
           "shape_mismatch")
STATUS = ("ok", "incomplete", "error")


class Reject(Exception):
    """An input that breaks the call contract: ``reason`` code and ``field`` path."""

    def __init__(self, reason, field=""):
        super().__init__(f"{reason} at {field or '<input>'}")
        self.reason = reason
        self.field = field


def join(path, key):
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def mapping(value, path):
    if not isinstance(value, dict):
        raise Reject("malformed_input", path)
    return value


def keys(d, path, required, optional=()):
    """Reject unknown keys first, then missing ones."""
    allowed = set(required) | set(optional)
    for k in d:
        if k not in allowed:
            raise Reject("unknown_field", join(path, k))
    for k in required:
        if k not in d:
            raise Reject("missing_field", join(path, k))


def sequence(value, path, length=None, reason="malformed_input"):
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        raise Reject("malformed_input", path)
    if length is not None and len(value) != length:
        raise Reject(reason, path)
    return value


def _is_number(v):
    return isinstance(v, (numbers.Real, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def grade(v, path, lo, hi, null=True, na=False):
    """An integer grade in lo..hi; integral floats accepted (2.0 -> 2)."""
    if v is None:
        if null:
            return NULL
        raise Reject("malformed_input", path)
    if isinstance(v, str):
        if na and v == "na":
            return NA
        raise Reject("malformed_input" if v != "na" else "value_out_of_range", path)
    if not _is_number(v):
        raise Reject("malformed_input", path)
    f = float(v)
    if not math.isfinite(f) or f != math.floor(f) or f < lo or f > hi:
        raise Reject("value_out_of_range", path)
    return int(f)


def boolean(v, path, null=True):
    """JSON true/false (or null) -> 1/0 (NULL)."""
    if v is None:
        if null:
            return NULL
        raise Reject("malformed_input", path)
    if isinstance(v, (bool, np.bool_)):
        return int(bool(v))
    raise Reject("malformed_input", path)


def real(v, path, lo=-math.inf, hi=math.inf, null=True, lo_open=False):
    """A finite number in [lo, hi] (or (lo, hi] when lo_open); null -> NaN."""
    if v is None:
        if null:
            return math.nan
        raise Reject("malformed_input", path)
    if not _is_number(v):
        raise Reject("malformed_input", path)
    f = float(v)
    if not math.isfinite(f) or f > hi or f < lo or (lo_open and f <= lo):
        raise Reject("value_out_of_range", path)
    return f


def option(v, path, choices):
    if not isinstance(v, str):
        raise Reject("malformed_input", path)
    if v not in choices:
        raise Reject("value_out_of_range", path)
    return v


def rows_out(n):
    """Per-row status/reason/field arrays for a core call."""
    return np.empty(n, np.int8), np.empty(n, np.int8), np.empty(n, np.int32)


def none_if(v, null=-1):
    v = int(v)
    return None if v == null else v


def tri(v):
    """int8 three-valued logic -> True/False/None."""
    v = int(v)
    return None if v < 0 else bool(v)
