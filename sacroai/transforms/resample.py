"""Resampling of volumes and label maps onto new voxel grids.

Grid convention (the same as ``scipy.ndimage.affine_transform`` with a
diagonal matrix): the first voxel centre keeps its world position, the new
shape is ``round(shape * old_spacing / new_spacing)``, and output voxel ``o``
samples the input at the continuous index ``o * new_spacing / old_spacing``.
The returned affine is ``affine @ diag(new_spacing / old_spacing, 1)``, so
voxel centres map to world coordinates consistently.

Extra axes (time, channels) are *trailing*, as in nibabel arrays
``[i, j, k, c]``; each is resampled independently.
"""
from __future__ import annotations

import numpy as np

from .. import _core
from .. import _geometry as geo
from ..volume import Volume
from ._common import as_volume, check_order, per_axis, spatial_ndim

_MODES = {"nearest": 0, "constant": 1}
_SUPPORTED = {np.dtype(t) for t in (np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32,
                                    np.uint64, np.int64, np.float32, np.float64)}


def _native(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.bool_:
        return arr.view(np.uint8)
    if arr.dtype not in _SUPPORTED or not arr.dtype.isnative:
        return arr.astype(np.float32 if arr.dtype.itemsize <= 4 else np.float64)
    return arr


def _check_dtype(dtype) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dt}")
    return dt


def anisotropic_axis(spacing, threshold: float = 3.0):
    """The thick axis when max/min spacing > ``threshold`` (nnU-Net's rule), else None."""
    sp = np.asarray(spacing, dtype=np.float64)
    if sp.size < 3 or sp.max() / sp.min() <= threshold:
        return None
    return int(np.argmax(sp))


def target_spacing(spacings, shapes=None, anisotropy_threshold: float = 3.0) -> tuple:
    """A cohort's target voxel spacing (mm), as nnU-Net plans it.

    Parameters
    ----------
    spacings : array_like, (n_cases, n_axes)
        Voxel spacing of each training case in mm.
    shapes : array_like, (n_cases, n_axes), optional
        Voxel shapes.  nnU-Net also requires the thick axis to have fewer
        than ``1/threshold`` as many voxels as the other axes; without shapes
        only the spacing condition is checked.

    Returns
    -------
    tuple of float
        The per-axis median spacing, except that for anisotropic cohorts
        (median thick spacing > ``threshold`` times the largest other median)
        the thick axis takes the 10th percentile of its spacings (but at
        least the largest other spacing + 1e-5).
    """
    sp = np.asarray(spacings, dtype=np.float64)
    if sp.ndim != 2 or sp.shape[0] < 1:
        raise ValueError(f"spacings must have shape (n_cases, n_axes), got {sp.shape}")
    if not np.all(np.isfinite(sp)) or np.any(sp <= 0):
        raise ValueError("spacings must be positive and finite (mm)")
    target = np.percentile(sp, 50, axis=0)
    worst = int(np.argmax(target))
    others = [i for i in range(sp.shape[1]) if i != worst]
    if not others:
        return tuple(float(v) for v in target)
    other_sp = max(target[i] for i in others)
    aniso = target[worst] > anisotropy_threshold * other_sp
    if shapes is not None:
        sz = np.asarray(shapes, dtype=np.float64)
        if sz.shape != sp.shape:
            raise ValueError(f"shapes must have the shape of spacings {sp.shape}, got {sz.shape}")
        med = np.percentile(sz, 50, axis=0)
        aniso = aniso and med[worst] * anisotropy_threshold < min(med[i] for i in others)
    if aniso:
        t = float(np.percentile(sp[:, worst], 10))
        if t < other_sp:
            t = max(other_sp, t) + 1e-5
        target[worst] = t
    return tuple(float(v) for v in target)


def _loop_channels(arr: np.ndarray, nsp: int, out_spatial, dtype, fn) -> np.ndarray:
    """Apply fn(spatial_array, out_array) to each trailing-channel slice."""
    extra = arr.shape[nsp:]
    if not extra:
        # Fortran-ordered input (NIfTI views) gets a Fortran-ordered output: no copies
        fortran = arr.ndim > 1 and arr.flags.f_contiguous and not arr.flags.c_contiguous
        # core memory: huge-page advised, so a big fresh output faults in quickly
        out = _core.image_empty(tuple(int(x) for x in out_spatial), dtype, fortran)
        fn(arr, out)
        return out
    out = np.empty(tuple(out_spatial) + extra, dtype=dtype)
    for idx in np.ndindex(*extra):
        sl = (Ellipsis,) + idx
        o = np.empty(tuple(out_spatial), dtype=dtype)
        fn(arr[sl], o)
        out[sl] = o
    return out


def _separable(src: np.ndarray, out: np.ndarray, scale, offset, orders, mode: int, cval: float):
    """Run the C kernel on a 2-D/3-D array; F-ordered input runs transposed (no copy)."""
    scale, offset, orders = list(scale), list(offset), list(orders)
    if src.ndim == 2:
        src, out = src[None], out[None]
        scale, offset, orders = [1.0] + scale, [0.0] + offset, [0] + orders
    if not src.flags.c_contiguous and src.flags.f_contiguous:
        direct = out.flags.f_contiguous and not out.flags.c_contiguous
        res = out.T if direct else np.empty(out.shape[::-1], dtype=out.dtype)
        _core.image_resample_separable(_native(src.T), res, tuple(scale[::-1]), tuple(offset[::-1]),
                                       tuple(orders[::-1]), mode, cval)
        if not direct:
            out[...] = res.T
        return
    src = np.ascontiguousarray(_native(src))
    if out.flags.c_contiguous:
        _core.image_resample_separable(src, out, tuple(scale), tuple(offset), tuple(orders), mode, cval)
    else:
        res = np.empty(out.shape, dtype=out.dtype)
        _core.image_resample_separable(src, res, tuple(scale), tuple(offset), tuple(orders), mode, cval)
        out[...] = res


def _gather(src: np.ndarray, out: np.ndarray, mat: np.ndarray, order: int, mode: int, cval: float):
    """General grid: x = mat[:, :3] @ o + mat[:, 3] (3x4, spatial axes)."""
    if src.ndim == 2:
        src, out = src[None], out[None]
        m = np.zeros((3, 4))
        m[1:, 1:3] = mat[:2, :2]
        m[1:, 3] = mat[:2, 3]
        mat = m
    n = src.shape
    src = _native(src)
    if order == 3:
        coef = np.empty(tuple(s + (24 if s > 1 else 0) for s in n), dtype=np.float32)
        _core.image_spline_coefficients(np.ascontiguousarray(src), coef)
    else:
        coef = np.ascontiguousarray(src, dtype=np.float32)
    res = out if out.flags.c_contiguous else np.empty(out.shape, out.dtype)
    _core.image_resample_gather(coef, tuple(int(s) for s in n), res,
                                np.ascontiguousarray(mat, dtype=np.float64), order, mode, cval)
    if res is not out:
        out[...] = res


def resample(vol, spacing=None, shape=None, affine=None, order: int = 1, mode: str = "nearest",
             cval: float = 0.0, anisotropic="auto", dtype=np.float32) -> Volume:
    """Resample ``vol`` to a new voxel spacing, shape or target grid.

    Parameters
    ----------
    vol : sacroai.Volume (or ndarray, taken as 1 mm voxels)
        2-D or 3-D, any integer/float dtype; trailing extra axes (channels,
        time) are resampled one by one.
    spacing : float or sequence of float, optional
        New voxel size in mm (one per spatial axis, or one for all).
    shape : sequence of int, optional
        New spatial shape.  Alone: the spacing becomes
        ``old_spacing * old_shape / shape``; with ``spacing``: overrides the
        rounded shape; with ``affine``: the target grid's shape (required).
    affine : (4, 4) array_like, optional
        Target grid (e.g. another scan's affine, with its ``shape``).  A
        target whose axes are parallel to the input's runs the separable
        kernel; any other affine a direct gather (nearest, trilinear or
        tricubic B-spline).
    order : {0, 1, 3}
        Nearest, linear or cubic B-spline (with SciPy's prefilter on the
        edge-padded input, so values match ``scipy.ndimage`` with
        ``mode="nearest"``).
    mode : {"nearest", "constant"}
        Outside the input: extend the edge values ("nearest", as SciPy) or
        write ``cval`` where a sample falls outside ``[0, n-1]`` on any axis.
    anisotropic : "auto" or False
        "auto": when max/min of the input (or target) spacing is > 3 (nnU-Net),
        the thick axis is interpolated with order 0 and the others with
        ``order``.  Ignored when ``affine`` is given.
    dtype : float32 or float64
        Output dtype.  Interpolation is computed in float32 either way.

    Returns
    -------
    Volume with the resampled array (``dtype``) and its affine.
    """
    vol = as_volume(vol)
    order = check_order(order)
    if mode not in _MODES:
        raise ValueError(f"mode must be 'nearest' or 'constant', got {mode!r}")
    dt = _check_dtype(dtype)
    if anisotropic not in ("auto", False, None):
        raise ValueError(f"anisotropic must be 'auto' or False, got {anisotropic!r}")
    plan = _plan(vol, spacing, shape, affine, order, anisotropic)
    cval = float(cval)
    if plan.separable:
        fn = lambda s, o: _separable(s, o, plan.scale, plan.offset, plan.orders, _MODES[mode], cval)
    else:
        fn = lambda s, o: _gather(s, o, plan.mat, order, _MODES[mode], cval)
    out = _loop_channels(vol.array, plan.nsp, plan.m, dt, fn)
    return Volume(out, plan.affine, header=vol.header)


class _Plan:
    """Target grid: spatial shape m, affine, and the index map to the input
    (separable: x = scale * o + offset with per-axis orders; else mat, 3x4)."""

    def __init__(self, nsp, m, affine, separable, scale=None, offset=None, orders=None, mat=None):
        self.nsp, self.m, self.affine, self.separable = nsp, m, affine, separable
        self.scale, self.offset, self.orders, self.mat = scale, offset, orders, mat


def _plan(vol, spacing, shape, affine, order, anisotropic) -> _Plan:
    nsp = spatial_ndim(vol)
    n = np.asarray(vol.array.shape[:nsp], dtype=np.int64)
    old_sp = np.asarray(geo.voxel_sizes(vol.affine, nsp))
    if affine is not None:
        if spacing is not None:
            raise ValueError("give either spacing or affine (with shape), not both")
        if shape is None:
            raise ValueError("shape is required with affine: the target grid's spatial shape")
        tgt = geo.check_affine(affine, "affine")
        m = per_axis(shape, nsp, "shape", integer=True)
        mat = np.linalg.inv(vol.affine) @ tgt          # output index -> input index
        lin = mat[:nsp, :nsp]
        off_diag = lin - np.diag(np.diag(lin))
        _check_order3(order, n, [order] * nsp, "vol")
        if np.abs(off_diag).max(initial=0.0) <= 1e-9 * max(1.0, np.abs(lin).max()):
            return _Plan(nsp, m, tgt, True, np.diag(lin).copy(), mat[:nsp, 3].copy(), [order] * nsp)
        return _Plan(nsp, m, tgt, False, mat=mat[:3].copy())

    if spacing is None and shape is None:
        raise ValueError("give spacing (mm), shape, or affine with shape")
    if spacing is not None:
        new_sp = per_axis(spacing, nsp, "spacing")
        if shape is not None:
            m = per_axis(shape, nsp, "shape", integer=True)
        else:
            m = np.maximum(np.round(n * old_sp / new_sp), 1).astype(np.int64)
    else:
        m = per_axis(shape, nsp, "shape", integer=True)
        new_sp = old_sp * n / m
    scale = new_sp / old_sp
    orders = [order] * nsp
    if anisotropic == "auto" and order > 0 and nsp == 3:
        ax = anisotropic_axis(old_sp)
        if ax is None:
            ax = anisotropic_axis(new_sp)
        if ax is not None:
            orders[ax] = 0
    _check_order3(order, n, orders, "vol")
    t = np.eye(4)
    t[np.arange(nsp), np.arange(nsp)] = scale
    return _Plan(nsp, m, vol.affine @ t, True, scale, np.zeros(nsp), orders)


def _check_order3(order, n, orders, name):
    for d, (nd, od) in enumerate(zip(n, orders)):
        if od == 3 and nd < 2:
            raise ValueError(f"{name} has a single voxel along axis {d}: order 3 needs at least 2 "
                             f"(use order 0 or 1 for that volume)")


def resample_labels(vol, spacing=None, shape=None, affine=None, method: str = "nearest") -> Volume:
    """Resample a label map without creating new labels.

    Parameters
    ----------
    vol : sacroai.Volume of integers (or booleans)
    spacing, shape, affine : as :func:`resample`.
    method : {"nearest", "linear"}
        "nearest": order 0.  "linear": each label's one-hot mask is resampled
        linearly and the label with the largest weight wins (smoother
        boundaries; ties go to the smaller label).

    Returns
    -------
    Volume with the input's dtype; its set of labels is a subset of the input's.
    """
    vol = as_volume(vol)
    arr = vol.array
    if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
        raise TypeError(f"vol must hold integer labels, not {arr.dtype}")
    if method == "nearest":
        # float32 holds every integer label below 2**24 exactly; larger ones go through float64
        small = arr.size == 0 or arr.dtype == np.bool_ or (int(arr.min()) > -2**24 and int(arr.max()) < 2**24)
        res = resample(vol, spacing, shape, affine, order=0, anisotropic=False,
                       dtype=np.float32 if small else np.float64)
        return Volume(res.array.astype(arr.dtype), res.affine, header=vol.header)
    if method != "linear":
        raise ValueError(f"method must be 'nearest' or 'linear', got {method!r}")
    plan = _plan(vol, spacing, shape, affine, 1, False)
    nsp = plan.nsp
    if arr.ndim != nsp:
        raise ValueError(f"vol must be a single label map (no extra axes), got shape {arr.shape}")
    labels = np.unique(arr)
    best = np.full(tuple(plan.m), labels[0], dtype=arr.dtype)
    score = np.full(tuple(plan.m), -1.0, dtype=np.float32)
    n = np.asarray(arr.shape)
    for lab in labels:
        onehot = (arr == lab).view(np.uint8)
        if not plan.separable:
            r = np.empty(tuple(plan.m), np.float32)
            _gather(onehot, r, plan.mat, 1, 0, 0.0)
            win = (Ellipsis,)
        else:
            # only the output block whose samples can see this label (its bounding box + 1 voxel)
            lo, hi = _bbox(onehot)
            lo, hi = np.maximum(lo - 1, 0), np.minimum(hi + 1, n)
            win, sub_off = [], []
            for d in range(nsp):
                x = np.clip(plan.scale[d] * np.arange(plan.m[d]) + plan.offset[d], 0, n[d] - 1)
                hit = np.nonzero((x > lo[d] - 1) & (x < hi[d]))[0]
                if hit.size == 0:
                    break
                win.append(slice(int(hit[0]), int(hit[-1]) + 1))
                sub_off.append(plan.scale[d] * hit[0] + plan.offset[d] - lo[d])
            else:
                sub = onehot[tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))]
                r = np.empty(tuple(w.stop - w.start for w in win), np.float32)
                _separable(sub, r, plan.scale, sub_off, [1] * nsp, 0, 0.0)
                win = tuple(win)
            if len(win) != nsp:
                continue  # the label falls between output samples
        sc = score[win]
        upd = r > sc
        best[win][upd] = lab
        score[win] = np.where(upd, r, sc)
    return Volume(best, plan.affine, header=vol.header)


def _bbox(mask):
    """(lo, hi) index bounds of the nonzero voxels (hi exclusive)."""
    lo, hi = [], []
    for ax in range(mask.ndim):
        other = tuple(a for a in range(mask.ndim) if a != ax)
        nz = np.nonzero(mask.any(axis=other))[0]
        lo.append(nz[0])
        hi.append(nz[-1] + 1)
    return np.array(lo), np.array(hi)
