"""Argument normalisation shared by the transforms."""
from __future__ import annotations

import numbers

import numpy as np

from ..volume import Volume


def as_volume(vol, name: str = "vol") -> Volume:
    """``vol`` as a :class:`sacroai.Volume` (a bare array gets 1 mm voxels)."""
    if isinstance(vol, Volume):
        return vol
    if isinstance(vol, np.ndarray):
        return Volume(vol)
    raise TypeError(f"{name} must be a sacroai.Volume or a numpy.ndarray, not {type(vol).__name__}")


def spatial_ndim(vol: Volume) -> int:
    return 2 if vol.array.ndim == 2 else 3


def per_axis(value, n: int, name: str, *, positive: bool = True, integer: bool = False) -> np.ndarray:
    """A scalar or a length-``n`` sequence as a float (or int) array, checked."""
    if isinstance(value, (numbers.Number, np.number)) and not isinstance(value, bool):
        arr = np.full(n, value, dtype=np.float64)
    else:
        try:
            arr = np.asarray(value, dtype=np.float64).ravel()
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a number or a sequence of {n} numbers, got {value!r}") from None
        if arr.size != n:
            raise ValueError(f"{name} must have {n} values (one per spatial axis), got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {arr.tolist()}")
    if positive and np.any(arr <= 0):
        raise ValueError(f"{name} must be > 0, got {arr.tolist()}")
    if integer:
        if np.any(arr != np.round(arr)):
            raise ValueError(f"{name} must hold integers, got {arr.tolist()}")
        return arr.astype(np.int64)
    return arr


def check_order(order) -> int:
    if isinstance(order, bool) or not isinstance(order, (numbers.Integral, np.integer)) or int(order) not in (0, 1, 3):
        raise ValueError(f"order must be 0 (nearest), 1 (linear) or 3 (cubic B-spline), got {order!r}")
    return int(order)


def check_mask(mask, shape, name: str = "mask") -> np.ndarray:
    """A boolean mask of the given spatial shape (a Volume or an array)."""
    if isinstance(mask, Volume):
        mask = mask.array
    m = np.asarray(mask)
    if m.shape != tuple(shape):
        raise ValueError(f"{name} has shape {m.shape} but the image has shape {tuple(shape)}")
    return m if m.dtype == np.bool_ else (m != 0)
