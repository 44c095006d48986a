"""Seeded random augmentation for training, and :class:`Compose`.

Every random transform draws its parameters from an explicit seed or
``numpy.random.Generator`` (its own, or the one :class:`Compose` passes
down) and records what it drew in ``last_params`` (a dict), so a training
run can be replayed and logged.

Spatial transforms (flip, affine) act on the voxel array and keep the
affine unchanged: the augmented scan is a *different* anatomy on the same
grid, which is what a network should see.  Call ``t(image, label)`` to
transform a label map identically (nearest-neighbour); intensity
transforms leave labels alone.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..volume import Volume
from ._common import as_volume, spatial_ndim
from .resample import _gather


def as_generator(seed) -> np.random.Generator:
    """A Generator from None, an int seed or a Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (numbers.Integral, np.integer)):
        return np.random.default_rng(seed)
    raise TypeError(f"seed must be None, an int or a numpy.random.Generator, not {type(seed).__name__}")


def _range(val, name, *, around=None, positive=False):
    """A (low, high) pair: a number x means (-x, x), or (around - x, around + x)."""
    if isinstance(val, (numbers.Real, np.number)) and not isinstance(val, bool):
        x = float(val)
        if x < 0:
            raise ValueError(f"{name} must be >= 0, got {val!r}")
        lo, hi = ((-x, x) if around is None else (around - x, around + x))
    else:
        try:
            lo, hi = (float(v) for v in val)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number or a (low, high) pair, got {val!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo > hi:
        raise ValueError(f"{name} must be a finite (low, high) pair with low <= high, got {val!r}")
    if positive and lo <= 0:
        raise ValueError(f"{name} must be > 0, got {val!r}")
    return lo, hi


def _check_p(p):
    if not (isinstance(p, (numbers.Real, np.number)) and 0 <= p <= 1):
        raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
    return float(p)


class RandomTransform:
    """Base: ``p`` is the probability of applying; ``last_params`` records the draw."""

    spatial = False

    def __init__(self, p: float = 1.0, seed=None):
        self.p = _check_p(p)
        self.rng = as_generator(seed)
        self.last_params: dict = {}

    def draw(self, rng: np.random.Generator, vol: Volume) -> dict:
        raise NotImplementedError

    def apply(self, vol: Volume, params: dict, label: bool = False) -> Volume:
        raise NotImplementedError

    def __call__(self, vol, label=None, rng=None):
        vol = as_volume(vol)
        g = self.rng if rng is None else as_generator(rng)
        applied = bool(g.random() < self.p)
        params = self.draw(g, vol) if applied else {}
        params["applied"] = applied
        self.last_params = params
        out = self.apply(vol, params) if applied else vol
        if label is None:
            return out
        lab = as_volume(label, "label")
        if lab.array.shape[:spatial_ndim(vol)] != vol.array.shape[:spatial_ndim(vol)]:
            raise ValueError(f"label has shape {lab.array.shape} but the image has {vol.array.shape}")
        if applied and self.spatial:
            lab = self.apply(lab, params, label=True)
        return out, lab


class RandomFlip(RandomTransform):
    """Mirror each of ``axes`` (spatial voxel axes) with probability ``p_axis``."""

    spatial = True

    def __init__(self, axes=(0, 1, 2), p_axis: float = 0.5, p: float = 1.0, seed=None):
        super().__init__(p, seed)
        self.axes = tuple(int(a) for a in axes)
        self.p_axis = _check_p(p_axis)

    def draw(self, rng, vol):
        nsp = spatial_ndim(vol)
        bad = [a for a in self.axes if not 0 <= a < nsp]
        if bad:
            raise ValueError(f"axes {bad} are not spatial axes of a {nsp}-D volume")
        return {"flip": [a for a in self.axes if rng.random() < self.p_axis]}

    def apply(self, vol, params, label=False):
        arr = vol.array
        for a in params["flip"]:
            arr = np.flip(arr, axis=a)
        return vol.with_array(np.ascontiguousarray(arr))


def _rotation(angles):
    """Rotation matrix from angles (rad) about axes 0, 1, 2 (3-D) or one angle (2-D)."""
    if len(angles) == 1:
        c, s = np.cos(angles[0]), np.sin(angles[0])
        return np.array([[c, -s], [s, c]])
    r = np.eye(3)
    for ax, th in enumerate(angles):
        c, s = np.cos(th), np.sin(th)
        i, j = [k for k in range(3) if k != ax]
        m = np.eye(3)
        m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
        r = m @ r
    return r


class RandomAffine(RandomTransform):
    """Small rotation (degrees, about each axis) and isotropic scaling about the
    volume centre, in voxel-index space, same grid.  Images use ``order``
    (linear by default), labels nearest; outside the volume: edge values."""

    spatial = True

    def __init__(self, rotation_deg=10.0, scale=(0.9, 1.1), order: int = 1, p: float = 1.0, seed=None):
        super().__init__(p, seed)
        self.rotation = _range(rotation_deg, "rotation_deg")
        self.scale = _range(scale, "scale", positive=True)
        if order not in (0, 1, 3):
            raise ValueError(f"order must be 0, 1 or 3, got {order!r}")
        self.order = order

    def draw(self, rng, vol):
        nsp = spatial_ndim(vol)
        nang = 1 if nsp == 2 else 3
        return {"rotation_deg": [float(rng.uniform(*self.rotation)) for _ in range(nang)],
                "scale": float(rng.uniform(*self.scale))}

    def apply(self, vol, params, label=False):
        nsp = spatial_ndim(vol)
        arr = vol.array
        r = _rotation(np.deg2rad(params["rotation_deg"]))
        lin = r / params["scale"]               # output index offset -> input offset
        c = (np.asarray(arr.shape[:nsp], dtype=np.float64) - 1) / 2
        mat = np.zeros((3, 4))
        mat[:nsp, :nsp] = lin
        mat[:nsp, 3] = c - lin @ c
        order = 0 if label else self.order
        extra = arr.shape[nsp:]
        out = np.empty(arr.shape, dtype=np.float32)
        for idx in np.ndindex(*extra) if extra else [()]:
            sl = (Ellipsis,) + idx
            o = np.empty(arr.shape[:nsp], np.float32)
            _gather(np.asarray(arr[sl]), o, mat, order, 0, 0.0)
            out[sl] = o
        if label:
            out = np.rint(out).astype(arr.dtype)
        return vol.with_array(out)


class RandomIntensityShift(RandomTransform):
    """Add a constant drawn from ``shift`` (a number x means (-x, x), image units)."""

    def __init__(self, shift=0.1, p: float = 1.0, seed=None):
        super().__init__(p, seed)
        self.shift = _range(shift, "shift")

    def draw(self, rng, vol):
        return {"shift": float(rng.uniform(*self.shift))}

    def apply(self, vol, params, label=False):
        return vol.with_array(vol.array.astype(np.float32) + np.float32(params["shift"]))


class RandomIntensityScale(RandomTransform):
    """Multiply by a factor drawn from ``scale`` (a number x means (1-x, 1+x))."""

    def __init__(self, scale=0.1, p: float = 1.0, seed=None):
        super().__init__(p, seed)
        self.scale = _range(scale, "scale", around=1.0)

    def draw(self, rng, vol):
        return {"scale": float(rng.uniform(*self.scale))}

    def apply(self, vol, params, label=False):
        return vol.with_array(vol.array.astype(np.float32) * np.float32(params["scale"]))


class RandomGamma(RandomTransform):
    """Gamma on the min–max range: ``min + range * ((x - min) / range) ** gamma``,
    gamma drawn log-uniformly from ``gamma`` (a (low, high) pair, > 0)."""

    def __init__(self, gamma=(0.7, 1.5), p: float = 1.0, seed=None):
        super().__init__(p, seed)
        self.gamma = _range(gamma, "gamma", positive=True)

    def draw(self, rng, vol):
        lo, hi = np.log(self.gamma)
        return {"gamma": float(np.exp(rng.uniform(lo, hi)))}

    def apply(self, vol, params, label=False):
        a = vol.array.astype(np.float32)
        mn, mx = float(a.min()), float(a.max())
        if mx <= mn:
            return vol.with_array(a)
        rngv = mx - mn
        return vol.with_array((mn + rngv * ((a - mn) / rngv) ** np.float32(params["gamma"])).astype(np.float32))


class RandomNoise(RandomTransform):
    """Add Gaussian noise; its std is drawn uniformly from ``std`` (image units)."""

    def __init__(self, std=(0.0, 0.1), p: float = 1.0, seed=None):
        super().__init__(p, seed)
        self.std = _range(std, "std", around=None)
        if self.std[0] < 0:
            raise ValueError(f"std must be >= 0, got {std!r}")

    def draw(self, rng, vol):
        s = float(rng.uniform(*self.std))
        return {"std": s, "noise_seed": int(rng.integers(2 ** 63 - 1))}

    def apply(self, vol, params, label=False):
        g = np.random.default_rng(params["noise_seed"])
        noise = g.standard_normal(vol.array.shape, dtype=np.float32) * np.float32(params["std"])
        return vol.with_array(vol.array.astype(np.float32) + noise)


class RandomBiasField(RandomTransform):
    """Multiply by a smooth field ``exp(sum c_ijk x^i y^j z^k)`` (i+j+k <= order,
    coordinates in [-1, 1] over the volume), coefficients uniform in
    ``(-coefficients, coefficients)`` — an MRI coil-sensitivity model."""

    def __init__(self, coefficients=0.5, order: int = 3, p: float = 1.0, seed=None):
        super().__init__(p, seed)
        self.coefficients = _range(coefficients, "coefficients")
        if not (isinstance(order, numbers.Integral) and 0 <= order <= 6):
            raise ValueError(f"order must be an integer in [0, 6], got {order!r}")
        self.order = int(order)

    def _powers(self, nsp):
        rng3 = range(self.order + 1)
        if nsp == 2:
            return [(i, j) for i in rng3 for j in rng3 if i + j <= self.order]
        return [(i, j, k) for i in rng3 for j in rng3 for k in rng3 if i + j + k <= self.order]

    def draw(self, rng, vol):
        pw = self._powers(spatial_ndim(vol))
        return {"powers": pw, "coefficients": [float(rng.uniform(*self.coefficients)) for _ in pw]}

    def apply(self, vol, params, label=False):
        nsp = spatial_ndim(vol)
        shp = vol.array.shape[:nsp]
        grids = [np.linspace(-1, 1, n, dtype=np.float32) if n > 1 else np.zeros(1, np.float32) for n in shp]
        logf = np.zeros(shp, np.float32)
        for pw, c in zip(params["powers"], params["coefficients"]):
            term = np.float32(c)
            for ax, e in enumerate(pw):
                sh = [1] * nsp
                sh[ax] = shp[ax]
                term = term * (grids[ax] ** e).reshape(sh)
            logf += term
        field = np.exp(logf)
        field = field.reshape(shp + (1,) * (vol.array.ndim - nsp))
        return vol.with_array(vol.array.astype(np.float32) * field)


class Compose:
    """Apply transforms in order.  With ``seed``, one Generator drives all the
    random transforms (reproducible as a whole); ``last_params`` lists
    ``(name, params)`` of the last call.  Plain callables ``f(vol) -> vol``
    (e.g. ``functools.partial(zscore, nonzero=True)``) are allowed too."""

    def __init__(self, transforms, seed=None):
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"transforms must be callables, got {type(t).__name__}")
        self.rng = None if seed is None else as_generator(seed)
        self.last_params: list = []

    def __call__(self, vol, label=None):
        params = []
        for t in self.transforms:
            if isinstance(t, RandomTransform):
                res = t(vol, label, rng=self.rng)
                params.append((type(t).__name__, dict(t.last_params)))
                if label is None:
                    vol = res
                else:
                    vol, label = res
            else:
                vol = t(vol)
                params.append((getattr(t, "__name__", type(t).__name__), {}))
        self.last_params = params
        return vol if label is None else (vol, label)
