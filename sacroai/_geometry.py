"""Affine geometry helpers: voxel sizes, axis codes, orientation transforms.

Conventions (as nibabel): world space is RAS+ in mm; an axis code names the
world direction a voxel axis points *towards* ("R" = index increases towards
the patient's right).  An orientation array has one row per voxel axis:
``[world_axis, +1 | -1]``.
"""
from __future__ import annotations

import numpy as np

_LABELS = (("L", "R"), ("P", "A"), ("I", "S"))


def check_affine(affine, name: str = "affine") -> np.ndarray:
    """Return ``affine`` as a float64 4×4 array, or raise ValueError."""
    a = np.asarray(affine, dtype=np.float64)
    if a.shape != (4, 4):
        raise ValueError(f"{name} must be a 4x4 matrix, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} holds NaN or infinite values")
    if not np.allclose(a[3], [0, 0, 0, 1]):
        raise ValueError(f"{name} must have [0, 0, 0, 1] as its last row, got {a[3].tolist()}")
    return a


def voxel_sizes(affine: np.ndarray, ndim: int = 3) -> tuple:
    """Voxel size in mm along each of the first ``ndim`` voxel axes."""
    return tuple(float(v) for v in np.sqrt((np.asarray(affine)[:3, :ndim] ** 2).sum(axis=0)))


def io_orientation(affine: np.ndarray, ndim: int = 3) -> np.ndarray:
    """Nearest axis-aligned orientation of the voxel axes, shape (ndim, 2).

    The direction cosines are first replaced by the nearest orthonormal
    matrix (polar decomposition), then each voxel axis, in order, takes the
    world axis it is most parallel to among those not yet taken.
    """
    rzs = np.asarray(affine, dtype=np.float64)[:3, :ndim]
    zooms = np.sqrt((rzs ** 2).sum(axis=0))
    zooms[zooms == 0] = 1.0
    rs = rzs / zooms
    u, _, vt = np.linalg.svd(rs, full_matrices=False)
    r = u @ vt
    ornt = np.zeros((ndim, 2), dtype=np.int64)
    for in_ax in range(ndim):
        col = r[:, in_ax]
        out_ax = int(np.argmax(np.abs(col)))
        ornt[in_ax] = (out_ax, 1 if col[out_ax] > 0 else -1)
        r[out_ax, :] = 0.0
    return ornt


def ornt_to_codes(ornt: np.ndarray) -> str:
    """Axis codes ("RAS", "LPI", …) of an orientation array."""
    return "".join(_LABELS[int(ax)][1 if sign > 0 else 0] for ax, sign in ornt)


def codes_to_ornt(codes: str) -> np.ndarray:
    """Orientation array of axis codes such as ``"RAS"``; raises ValueError."""
    if not isinstance(codes, str):
        raise TypeError(f"orientation codes must be a string like 'RAS', not {type(codes).__name__}")
    codes = codes.upper()
    ornt = []
    for c in codes:
        for ax, pair in enumerate(_LABELS):
            if c in pair:
                ornt.append((ax, 1 if c == pair[1] else -1))
                break
        else:
            raise ValueError(f"unknown axis code {c!r} in {codes!r}; use letters from R/L, A/P, S/I")
    axes = [a for a, _ in ornt]
    if len(set(axes)) != len(axes):
        raise ValueError(f"orientation {codes!r} names one world axis twice")
    return np.asarray(ornt, dtype=np.int64)


def axcodes(affine: np.ndarray, ndim: int = 3) -> str:
    """Axis codes of the voxel axes of ``affine``, e.g. ``"RAS"`` or ``"LPS"``."""
    return ornt_to_codes(io_orientation(affine, ndim))


def shape_zoom_affine(shape, zooms, x_flip: bool = True) -> np.ndarray:
    """The Analyze-style affine nibabel uses when a header has no geometry codes.

    Voxel sizes on the diagonal (the first negated when ``x_flip``: Analyze's
    radiological convention) and the array centre at the world origin.
    """
    shape = list(shape[:3]) + [1] * (3 - min(3, len(shape)))
    zooms = list(zooms[:3]) + [1.0] * (3 - min(3, len(zooms)))
    z = np.asarray(zooms, dtype=np.float64)
    if x_flip:
        z[0] = -z[0]
    origin = (np.asarray(shape, dtype=np.float64) - 1) / 2.0
    aff = np.eye(4)
    aff[:3, :3] = np.diag(z)
    aff[:3, 3] = -origin * z
    return aff


def world_grid(shape, affine: np.ndarray) -> np.ndarray:
    """World coordinates (mm) of every voxel of a 3-D grid: float64 array (3, *shape).

    Summed axis by axis with broadcasting instead of ``affine[:3, :3] @ ijk``:
    that (3 x 3) @ (3 x N) product goes to the BLAS NumPy ships with, whose
    pthreads then spin for a while after it returns, and while they spin the
    core's OpenMP kernels run several times slower on a machine with few cores.
    """
    shape = tuple(int(s) for s in shape)
    a = np.asarray(affine, dtype=np.float64)
    axes = [np.arange(n, dtype=np.float64).reshape([-1 if d == k else 1 for d in range(3)])
            for k, n in enumerate(shape)]
    out = np.empty((3,) + shape)
    for r in range(3):
        out[r] = a[r, 3] + a[r, 0] * axes[0] + a[r, 1] * axes[1] + a[r, 2] * axes[2]
    return out
