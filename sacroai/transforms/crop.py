"""Cropping and padding with the affine kept right.

Every function returns a :class:`sacroai.Volume` whose affine places each
kept voxel at the same world position as before (a crop starting at index
``s`` moves the origin to ``affine @ [s, 1]``).
"""
from __future__ import annotations

import numpy as np

from ..volume import Volume
from ._common import as_volume, check_mask, per_axis, spatial_ndim


def _shifted(affine: np.ndarray, start, nsp: int) -> np.ndarray:
    t = np.eye(4)
    t[:nsp, 3] = start
    return affine @ t


def _window(arr: np.ndarray, start, size, cval) -> np.ndarray:
    """arr[start : start + size] per spatial axis; outside filled with cval."""
    nsp = len(size)
    out = np.full(tuple(size) + arr.shape[nsp:], cval, dtype=arr.dtype)
    src, dst = [], []
    for s, n, m in zip(start, arr.shape[:nsp], size):
        lo, hi = max(s, 0), min(s + m, n)
        if hi <= lo:
            return out
        src.append(slice(lo, hi))
        dst.append(slice(lo - s, hi - s))
    out[tuple(dst)] = arr[tuple(src)]
    return out


def bounding_box(mask) -> tuple:
    """``(start, stop)`` index arrays of the nonzero voxels of ``mask``; raises if empty."""
    m = np.asarray(mask.array if isinstance(mask, Volume) else mask)
    nz = np.nonzero(m)
    if nz[0].size == 0:
        raise ValueError("mask is empty: nothing to crop to")
    return np.array([a.min() for a in nz]), np.array([a.max() + 1 for a in nz])


def crop_to_mask(vol, mask, margin=0) -> Volume:
    """Crop ``vol`` to the bounding box of ``mask`` (nonzero voxels).

    Parameters
    ----------
    vol : Volume
    mask : Volume or array with vol's spatial shape
    margin : int or sequence of int
        Extra voxels kept on each side (clipped at the volume's edges).

    Returns
    -------
    Volume: a view of ``vol.array`` with the shifted affine.
    """
    vol = as_volume(vol)
    nsp = spatial_ndim(vol)
    m = check_mask(mask, vol.shape[:nsp])
    marg = per_axis(margin, nsp, "margin", positive=False, integer=True)
    if np.any(marg < 0):
        raise ValueError(f"margin must be >= 0 voxels, got {marg.tolist()}")
    lo, hi = bounding_box(m)
    lo = np.maximum(lo - marg, 0)
    hi = np.minimum(hi + marg, vol.shape[:nsp])
    sl = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
    return Volume(vol.array[sl], _shifted(vol.affine, lo, nsp), header=vol.header)


def crop_or_pad(vol, shape, cval=0) -> Volume:
    """Centre-crop or pad ``vol`` to the spatial ``shape``.

    Axes longer than ``shape`` lose ``(n - m) // 2`` voxels at the start;
    shorter ones gain ``(m - n) // 2`` voxels of ``cval`` at the start.
    """
    vol = as_volume(vol)
    nsp = spatial_ndim(vol)
    m = per_axis(shape, nsp, "shape", integer=True)
    n = np.asarray(vol.shape[:nsp])
    start = (n - m) // 2  # negative when padding
    out = _window(vol.array, start, m, cval)
    return Volume(out, _shifted(vol.affine, start, nsp), header=vol.header)


def extract_patch(vol, center_mm, size, cval=0) -> Volume:
    """A patch of ``size`` voxels centred on the world point ``center_mm``.

    The centre voxel is the nearest voxel to ``center_mm``; the patch starts
    ``size // 2`` voxels before it.  Parts outside the volume are ``cval``.
    """
    vol = as_volume(vol)
    nsp = spatial_ndim(vol)
    sz = per_axis(size, nsp, "size", integer=True)
    c = np.asarray(center_mm, dtype=np.float64).ravel()
    if c.size != 3 or not np.all(np.isfinite(c)):
        raise ValueError(f"center_mm must be 3 finite world coordinates (mm), got {c.tolist()}")
    idx = vol.index(c)[:nsp]
    centre = np.floor(idx + 0.5).astype(np.int64)
    start = centre - sz // 2
    out = _window(vol.array, start, sz, cval)
    return Volume(out, _shifted(vol.affine, start, nsp), header=vol.header)
