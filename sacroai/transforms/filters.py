"""Filters: Gaussian smoothing in mm, Hessian eigenvalues, Frangi vesselness.

All work on 2-D images and 3-D volumes (spatial axes only), in float32, with
edges extended by the nearest value (as ``scipy.ndimage`` ``mode="nearest"``).
Derivatives follow ``numpy.gradient`` (central differences inside, one-sided
at the edges) with the voxel spacing in mm.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import _core
from .. import _geometry as geo
from ..volume import Volume
from ._common import as_volume, per_axis, spatial_ndim


def _spatial(vol):
    v = as_volume(vol)
    nsp = spatial_ndim(v)
    if v.array.ndim != nsp:
        raise ValueError(f"vol must be a single-channel 2-D or 3-D volume, got shape {v.array.shape}")
    sp = np.asarray(geo.voxel_sizes(v.affine, nsp))
    return v, nsp, sp


def _as3(arr):
    a = np.ascontiguousarray(arr, dtype=np.float32)
    return a[None] if a.ndim == 2 else a


def gaussian_smooth(vol, sigma_mm, truncate: float = 4.0) -> Volume:
    """Gaussian smoothing with standard deviation ``sigma_mm`` (mm; one per
    axis or one for all; 0 leaves an axis alone).  Matches
    ``scipy.ndimage.gaussian_filter(x, sigma_mm / spacing, mode="nearest")``.
    Returns a float32 Volume."""
    v, nsp, sp = _spatial(vol)
    s = per_axis(sigma_mm, nsp, "sigma_mm", positive=False)
    if np.any(s < 0):
        raise ValueError(f"sigma_mm must be >= 0 mm, got {s.tolist()}")
    if not (isinstance(truncate, numbers.Real) and truncate > 0):
        raise ValueError(f"truncate must be > 0 (in sigmas), got {truncate!r}")
    a = _as3(v.array)
    vox = s / sp
    vox3 = (0.0,) + tuple(vox) if nsp == 2 else tuple(vox)
    out = np.empty_like(a)
    _core.image_gaussian(a, out, tuple(float(x) for x in vox3), float(truncate))
    return v.with_array(out[0] if nsp == 2 else out)


def hessian_eigenvalues(vol, sigma_mm: float) -> np.ndarray:
    """Scale-normalised Hessian eigenvalues at scale ``sigma_mm``.

    The image is smoothed with a Gaussian of ``sigma_mm`` (mm), its Hessian
    taken with ``numpy.gradient`` twice (mm units) and multiplied by
    ``sigma_mm**2`` (Lindeberg's normalisation, so responses are comparable
    across scales).  Returns float32 of shape ``spatial_shape + (ndim,)``,
    eigenvalues sorted by absolute value ``|l1| <= |l2| (<= |l3|)``.
    """
    eig, _ = _hessian(vol, sigma_mm)
    return eig


def _hessian(vol, sigma_mm):
    v, nsp, sp = _spatial(vol)
    if not (isinstance(sigma_mm, numbers.Real) and np.isfinite(sigma_mm) and sigma_mm > 0):
        raise ValueError(f"sigma_mm must be > 0 mm, got {sigma_mm!r}")
    sm = _as3(gaussian_smooth(v, sigma_mm).array)
    first = 3 - nsp
    grads = []
    for a in range(nsp):
        g = np.empty_like(sm)
        _core.image_gradient(sm, g, first + a, float(sp[a]))
        grads.append(g)
    eig = np.empty(sm.shape + (nsp,), dtype=np.float32)
    mx = _core.image_hessian_eigenvalues(tuple(grads), sp.astype(np.float64), eig, float(sigma_mm) ** 2)
    return (eig[0] if nsp == 2 else eig), mx


def frangi(vol, sigmas_mm=(1.0, 2.0, 3.0), alpha: float = 0.5, beta: float = 0.5, c=None,
           black_ridges: bool = False) -> Volume:
    """Frangi vesselness (Frangi et al., MICCAI 1998), maximum over scales.

    With eigenvalues sorted ``|l1| <= |l2| <= |l3|`` of the scale-normalised
    Hessian (see :func:`hessian_eigenvalues`):

    * 3-D: ``V = (1 - exp(-Ra^2 / 2 alpha^2)) exp(-Rb^2 / 2 beta^2) (1 - exp(-S^2 / 2 c^2))``
      with ``Ra = |l2| / |l3|`` (plate vs line), ``Rb = |l1| / sqrt(|l2 l3|)``
      (blob vs line), ``S = sqrt(sum l^2)`` (structure vs noise);
      ``V = 0`` unless ``l2, l3 < 0`` (bright tubes) or ``> 0`` (dark, ``black_ridges``).
    * 2-D: ``V = exp(-Rb^2 / 2 beta^2) (1 - exp(-S^2 / 2 c^2))`` with ``Rb = l1 / l2``,
      ``V = 0`` unless ``l2 < 0`` (bright) or ``> 0`` (dark).

    Parameters
    ----------
    sigmas_mm : sequence of float
        Scales in mm (roughly the vessel radius each scale responds to best).
    alpha, beta : float
        Sensitivity to Ra and Rb (0.5 is the usual choice).
    c : float, optional
        Sensitivity to S.  Default: half the maximum Hessian Frobenius norm
        at the first scale (as scikit-image's ``gamma=None``).
    black_ridges : bool
        Detect dark tubes on a bright background.

    Returns
    -------
    Volume of float32 vesselness in [0, 1].
    """
    v, nsp, sp = _spatial(vol)
    sig = np.atleast_1d(np.asarray(sigmas_mm, dtype=np.float64))
    if sig.size == 0 or not np.all(np.isfinite(sig)) or np.any(sig <= 0):
        raise ValueError(f"sigmas_mm must be positive scales in mm, got {sig.tolist()}")
    for name, val in (("alpha", alpha), ("beta", beta)):
        if not (isinstance(val, numbers.Real) and val > 0):
            raise ValueError(f"{name} must be > 0, got {val!r}")
    if c is not None and not (isinstance(c, numbers.Real) and c > 0):
        raise ValueError(f"c must be > 0 or None, got {c!r}")
    out = np.zeros(v.array.shape, dtype=np.float32)
    cc = c
    for s in sig:
        eig, mx = _hessian(v, float(s))
        if cc is None:
            cc = mx / 2.0 if mx > 0 else 1.0
        _core.image_frangi_response(eig, out, float(alpha), float(beta), float(cc), bool(black_ridges))
    return v.with_array(out)
