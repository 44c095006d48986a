"""Intensity normalization: z-score, percentile clipping, CT windowing,
nnU-Net CT normalization, Nyúl–Udupa histogram standardization, min–max.

Statistics are computed in C: percentiles match
``numpy.percentile(..., method="linear")`` exactly (8/16-bit integer images
from one histogram pass, others by selection on a copy); standard deviations
are population ones (``ddof=0``).  All functions accept a
:class:`sacroai.Volume` or an array and return the same kind, float32 by
default.
"""
from __future__ import annotations

import json
import numbers

import numpy as np

from .. import _core
from ..volume import Volume
from ._common import check_mask

_SUPPORTED = {np.dtype(t) for t in (np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32,
                                    np.uint64, np.int64, np.float32, np.float64)}


def _split(vol):
    if isinstance(vol, Volume):
        return vol.array, vol
    if isinstance(vol, np.ndarray):
        return vol, None
    try:
        return np.asarray(vol), None
    except Exception:
        raise TypeError(f"vol must be a sacroai.Volume or a numpy.ndarray, not {type(vol).__name__}") from None


def _wrap(out, like):
    return like.with_array(out) if like is not None else out


def _prep(arr):
    """A C-contiguous array of a supported dtype with the voxels of ``arr``.

    Fortran-ordered input (a NIfTI memory view) is used through its
    transpose, without a copy; voxel order does not matter for statistics
    and element-wise maps as long as masks and outputs follow (see _mask_u8, _map).
    """
    if arr.dtype == np.bool_:
        arr = arr.view(np.uint8)
    elif arr.dtype not in _SUPPORTED or not arr.dtype.isnative:
        arr = arr.astype(np.float64)
    if arr.ndim > 1 and arr.flags.f_contiguous and not arr.flags.c_contiguous:
        return _Prepared(arr.T, True)
    return _Prepared(np.ascontiguousarray(arr), False)


class _Prepared:
    """Contiguous voxels for the core, and whether they are the transpose of the input."""

    __slots__ = ("a", "transposed")

    def __init__(self, a, transposed):
        self.a, self.transposed = a, transposed


def _mask_u8(mask, shape, transposed=False):
    if mask is None:
        return None
    m = check_mask(mask, shape)
    return np.ascontiguousarray(m.T if transposed else m).view(np.uint8)


def _out_dtype(dtype):
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dt}")
    return dt


def _check_q(q, name):
    if isinstance(q, bool) or not isinstance(q, (numbers.Real, np.floating, np.integer)) or not (0 <= q <= 100):
        raise ValueError(f"{name} must be a percentile in [0, 100], got {q!r}")
    return float(q)


def _stats(arr, mask=None, nonzero=False, q=(), clip=(-1, -1)):
    a = _prep(arr)
    m = _mask_u8(mask, arr.shape, transposed=a.transposed)
    qs = np.asarray(q, dtype=np.float64).ravel()
    qv, mean, sd, n, mn, mx = _core.image_intensity_stats(a.a, m, bool(nonzero), qs, clip[0], clip[1])
    return a, qv, mean, sd, n, mn, mx


def _map(a, shape, lo, hi, shift, scale, dtype):
    """out = (clip(a, lo, hi) - shift) * scale with the voxel layout of ``shape``;
    ``a`` is _prep's output (the transpose of a Fortran-ordered input)."""
    out = _core.image_empty(a.a.shape, dtype)
    _core.image_affine_clip(a.a, out, float(lo), float(hi), float(shift), float(scale))
    return out.T if a.transposed else out


def percentile(vol, q, mask=None, nonzero=False):
    """``numpy.percentile(values, q, method="linear")`` of the selected voxels.

    Parameters
    ----------
    vol : Volume or ndarray
    q : float or sequence of float in [0, 100]
    mask : bool array of vol's shape, optional; nonzero : only voxels != 0.

    Returns a float or an array like ``q``; NaN when nothing is selected.
    """
    arr, _ = _split(vol)
    scalar = np.ndim(q) == 0
    qs = [_check_q(x, "q") for x in np.atleast_1d(q).tolist()]
    _, qv, *_ = _stats(arr, mask, nonzero, qs)
    return float(qv[0]) if scalar else np.asarray(qv)


def zscore(vol, mask=None, nonzero=False, clip_percentiles=None, dtype=np.float32):
    """``(x - mean) / std`` with the statistics of the selected voxels.

    Parameters
    ----------
    mask : bool array, optional
        Voxels that define mean and std (all voxels are transformed).
    nonzero : bool
        Use only voxels != 0 for the statistics (nnU-Net's MRI setting).
    clip_percentiles : (lower, upper), optional
        First clip the whole image to these percentiles of the selected
        voxels (e.g. ``(0.5, 99.5)``); mean and std are then of the clipped values.
    dtype : float32 or float64

    Notes
    -----
    Population std (ddof=0).  When the std is 0 (a constant region) the
    result is ``x - mean`` (std taken as 1) rather than NaN/inf.  An empty
    selection raises ValueError.
    """
    arr, like = _split(vol)
    dt = _out_dtype(dtype)
    q, clip = (), (-1, -1)
    if clip_percentiles is not None:
        lo_q, hi_q = _pair(clip_percentiles, "clip_percentiles")
        q, clip = (lo_q, hi_q), (0, 1)
    a, qv, mean, sd, n, *_ = _stats(arr, mask, nonzero, q, clip)
    if n == 0:
        raise ValueError("mask selects no voxels: cannot compute mean and std")
    lo, hi = (qv[0], qv[1]) if q else (-np.inf, np.inf)
    scale = 1.0 / sd if sd > 0 else 1.0
    return _wrap(_map(a, arr.shape, lo, hi, mean, scale, dt), like)


def _pair(p, name):
    try:
        lo, hi = p
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (lower, upper), got {p!r}") from None
    lo, hi = _check_q(lo, name), _check_q(hi, name)
    if lo > hi:
        raise ValueError(f"{name} must have lower <= upper, got {p!r}")
    return lo, hi


def clip_percentiles(vol, lower=0.5, upper=99.5, mask=None, nonzero=False, out_range=None,
                     dtype=np.float32):
    """Clip to the [lower, upper] percentiles of the selected voxels.

    ``out_range=(a, b)`` also rescales linearly so that the lower percentile
    maps to ``a`` and the upper to ``b``.
    """
    arr, like = _split(vol)
    dt = _out_dtype(dtype)
    lo_q, hi_q = _pair((lower, upper), "lower/upper")
    a, qv, *_ , n, _, _ = _stats(arr, mask, nonzero, (lo_q, hi_q))
    if n == 0:
        raise ValueError("mask selects no voxels")
    lo, hi = qv
    shift, scale = 0.0, 1.0
    if out_range is not None:
        ra, rb = _range(out_range)
        scale = (rb - ra) / (hi - lo) if hi > lo else 0.0
        shift = lo - ra / scale if scale else lo
    return _wrap(_map(a, arr.shape, lo, hi, shift, scale, dt) if out_range is None or scale
                 else np.full(arr.shape, _range(out_range)[0], dt), like)


def _range(r):
    try:
        a, b = (float(x) for x in r)
    except (TypeError, ValueError):
        raise ValueError(f"out_range must be a pair (low, high), got {r!r}") from None
    if not (np.isfinite(a) and np.isfinite(b)):
        raise ValueError(f"out_range must be finite, got {r!r}")
    return a, b


def minmax(vol, out_range=(0.0, 1.0), mask=None, dtype=np.float32):
    """Rescale linearly so that the min/max of the selected voxels map to ``out_range``.
    A constant image maps to ``out_range[0]``."""
    arr, like = _split(vol)
    dt = _out_dtype(dtype)
    ra, rb = _range(out_range)
    a, _, _, _, n, mn, mx = _stats(arr, mask)
    if n == 0:
        raise ValueError("mask selects no voxels")
    if mx <= mn:
        return _wrap(np.full(arr.shape, ra, dt), like)
    scale = (rb - ra) / (mx - mn)
    return _wrap(_map(a, arr.shape, -np.inf, np.inf, mn - ra / scale, scale, dt), like)


def ct_window(vol, level, width, out_range=(0.0, 1.0), dtype=np.float32):
    """CT windowing: clip to ``[level - width/2, level + width/2]`` (HU) and map to ``out_range``.

    Common windows: bone level 400 / width 1800 (or 300/1500), soft tissue 40/400.
    """
    arr, like = _split(vol)
    dt = _out_dtype(dtype)
    if not (np.isfinite(level)):
        raise ValueError(f"level must be a finite HU value, got {level!r}")
    if not (np.isfinite(width) and width > 0):
        raise ValueError(f"width must be > 0 HU, got {width!r}")
    ra, rb = _range(out_range)
    lo, hi = level - width / 2.0, level + width / 2.0
    scale = (rb - ra) / (hi - lo)
    return _wrap(_map(_prep(arr), arr.shape, lo, hi, lo - ra / scale, scale, dt), like)


class _Fitted:
    """to_dict/from_dict/save/load for fitted normalizers (JSON beside model weights)."""

    kind = ""

    def to_dict(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, d: dict):
        raise NotImplementedError

    def save(self, path) -> None:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=2)

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))

    def _need_fit(self):
        if not getattr(self, "fitted", False):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() or load()")


class CTNormalizer(_Fitted):
    """nnU-Net's CT normalization, fitted on a training set.

    ``fit`` pools the foreground voxels (mask != 0) of all training cases,
    takes their 0.5 and 99.5 percentiles and the mean/std of the pooled
    values; ``__call__`` clips a scan to the percentiles and z-scores it
    with the pooled mean/std: ``(clip(x, lo, hi) - mean) / max(std, 1e-8)``.

    Parameters
    ----------
    lower, upper : percentiles (default 0.5, 99.5)
    samples_per_case : int or None
        None pools every foreground voxel; an int draws that many voxels per
        case at random (nnU-Net uses 10000), from ``seed``.
    """

    kind = "ct"

    def __init__(self, lower=0.5, upper=99.5, samples_per_case=None, seed=0):
        self.lower, self.upper = _pair((lower, upper), "lower/upper")
        self.samples_per_case = samples_per_case
        self.seed = seed
        self.fitted = False
        self.clip_low = self.clip_high = self.mean = self.std = None

    def fit(self, volumes, masks):
        vols, msks = list(volumes), list(masks)
        if len(vols) != len(msks) or not vols:
            raise ValueError(f"volumes and masks must be non-empty and of equal length, got "
                             f"{len(vols)} and {len(msks)}")
        rng = np.random.default_rng(self.seed)
        pooled = []
        for i, (v, m) in enumerate(zip(vols, msks)):
            arr, _ = _split(v)
            mk = check_mask(m, arr.shape, name=f"masks[{i}]")
            fg = np.asarray(arr)[mk]
            if self.samples_per_case is not None and fg.size > 0:
                fg = rng.choice(fg, int(self.samples_per_case), replace=True)
            pooled.append(fg.astype(np.float64))
        allv = np.concatenate(pooled)
        if allv.size == 0:
            raise ValueError("masks select no foreground voxels")
        # nnU-Net: percentiles and mean/std of the pooled (unclipped) foreground values
        _, qv, mean, sd, *_ = _stats(allv, None, False, (self.lower, self.upper))
        self.clip_low, self.clip_high = float(qv[0]), float(qv[1])
        self.mean, self.std = float(mean), float(sd)
        self.fitted = True
        return self

    def __call__(self, vol, dtype=np.float32):
        self._need_fit()
        arr, like = _split(vol)
        dt = _out_dtype(dtype)
        out = _map(_prep(arr), arr.shape, self.clip_low, self.clip_high, self.mean,
                   1.0 / max(self.std, 1e-8), dt)
        return _wrap(out, like)

    def to_dict(self):
        self._need_fit()
        return {"kind": self.kind, "lower": self.lower, "upper": self.upper,
                "clip_low": self.clip_low, "clip_high": self.clip_high, "mean": self.mean,
                "std": self.std}

    @classmethod
    def from_dict(cls, d):
        if d.get("kind") != cls.kind:
            raise ValueError(f"not a CT normalizer dictionary (kind={d.get('kind')!r})")
        obj = cls(d["lower"], d["upper"])
        obj.clip_low, obj.clip_high = float(d["clip_low"]), float(d["clip_high"])
        obj.mean, obj.std = float(d["mean"]), float(d["std"])
        obj.fitted = True
        return obj


class NyulNormalizer(_Fitted):
    """Nyúl–Udupa piecewise-linear histogram standardization (MRI).

    Landmarks are the percentiles ``pc_low``, the deciles (``landmarks``)
    and ``pc_high`` of each image's foreground (mask, or voxels above the
    image mean when no mask is given).  ``fit`` maps each training image's
    [pc_low, pc_high] linearly to ``standard_range`` and averages the mapped
    landmarks; ``__call__`` maps a new image's landmarks onto those standard
    ones piecewise linearly (linear extrapolation beyond the ends).
    """

    kind = "nyul"

    def __init__(self, landmarks=(10, 20, 30, 40, 50, 60, 70, 80, 90), pc_low=1.0, pc_high=99.0,
                 standard_range=(0.0, 100.0)):
        self.pcs = [_check_q(pc_low, "pc_low")] + [_check_q(x, "landmarks") for x in landmarks] + \
            [_check_q(pc_high, "pc_high")]
        if np.any(np.diff(self.pcs) <= 0):
            raise ValueError(f"landmarks must increase strictly between pc_low and pc_high, got {self.pcs}")
        self.standard_range = _range(standard_range)
        self.standard = None
        self.fitted = False

    def _landmarks(self, arr, mask):
        if mask is None:
            a, _, mean, *_ = _stats(arr)
            m = np.asarray(arr) > mean
        else:
            m = check_mask(mask, np.shape(arr))
        a, qv, *_, n, _, _ = _stats(arr, m, False, self.pcs)
        if n == 0:
            raise ValueError("mask selects no voxels")
        qv = np.asarray(qv)
        if np.any(np.diff(qv) <= 0):
            raise ValueError("image landmarks are not strictly increasing (too few distinct intensities)")
        return qv

    def fit(self, volumes, masks=None):
        vols = list(volumes)
        msks = list(masks) if masks is not None else [None] * len(vols)
        if not vols or len(msks) != len(vols):
            raise ValueError("volumes must be non-empty and masks (if given) of the same length")
        s1, s2 = self.standard_range
        mapped = []
        for v, m in zip(vols, msks):
            arr, _ = _split(v)
            lm = self._landmarks(arr, m)
            mapped.append(s1 + (lm - lm[0]) / (lm[-1] - lm[0]) * (s2 - s1))
        self.standard = np.mean(mapped, axis=0)
        self.fitted = True
        return self

    def __call__(self, vol, mask=None, dtype=np.float32):
        self._need_fit()
        arr, like = _split(vol)
        dt = _out_dtype(dtype)
        lm = self._landmarks(arr, mask)
        a = _prep(arr)
        out = _core.image_empty(a.a.shape, dt)
        _core.image_piecewise_linear(a.a, out, lm, np.asarray(self.standard, np.float64))
        return _wrap(out.T if a.transposed else out, like)

    def to_dict(self):
        self._need_fit()
        return {"kind": self.kind, "percentiles": list(self.pcs),
                "standard_range": list(self.standard_range), "standard": [float(x) for x in self.standard]}

    @classmethod
    def from_dict(cls, d):
        if d.get("kind") != cls.kind:
            raise ValueError(f"not a Nyul normalizer dictionary (kind={d.get('kind')!r})")
        p = d["percentiles"]
        obj = cls(p[1:-1], p[0], p[-1], d["standard_range"])
        obj.standard = np.asarray(d["standard"], dtype=np.float64)
        obj.fitted = True
        return obj
