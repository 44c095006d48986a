"""Slow, obviously-correct NumPy/SciPy twins of the image kernels."""
from __future__ import annotations

import numpy as np
import scipy.ndimage as ndi


def resample_scipy(arr, matrix, offset, output_shape, order):
    """scipy.ndimage.affine_transform on float64 with mode="nearest"."""
    return ndi.affine_transform(np.asarray(arr, dtype=np.float64), matrix, offset=offset,
                                output_shape=tuple(output_shape), order=order, mode="nearest")


def percentile_ref(values, q, mask=None):
    v = np.asarray(values, dtype=np.float64)
    if mask is not None:
        v = v[np.asarray(mask, bool)]
    return np.percentile(v.ravel(), q, method="linear")


def zscore_ref(values, mask=None):
    v = np.asarray(values, dtype=np.float64)
    sel = v[np.asarray(mask, bool)] if mask is not None else v
    mu, sd = sel.mean(), sel.std()
    return (v - mu) / sd if sd > 0 else v - mu


def hessian_eigen_ref(img, sigma, spacing):
    """Scale-normalised Hessian eigenvalues (sorted by |.|) of Gaussian-smoothed img (mm units)."""
    img = np.asarray(img, dtype=np.float64)
    sp = np.asarray(spacing, dtype=np.float64)
    sm = ndi.gaussian_filter(img, sigma / sp, mode="nearest", truncate=4.0)
    nd = img.ndim
    grads = np.gradient(sm, *sp)
    H = np.empty(img.shape + (nd, nd))
    for a in range(nd):
        ga = np.gradient(grads[a], *sp)
        for b in range(nd):
            H[..., a, b] = ga[b]
    H = 0.5 * (H + np.swapaxes(H, -1, -2)) * sigma ** 2
    ev = np.linalg.eigvalsh(H)
    idx = np.argsort(np.abs(ev), axis=-1, kind="stable")
    return np.take_along_axis(ev, idx, axis=-1)


def frangi_ref(img, sigmas, spacing, alpha=0.5, beta=0.5, c=None, black_ridges=False):
    """Frangi vesselness, max over scales (formula of Frangi et al. 1998 as skimage)."""
    out = None
    cc = c
    for s in sigmas:
        ev = hessian_eigen_ref(img, s, spacing)
        nd = ev.shape[-1]
        if cc is None:  # skimage: half the max Hessian norm, at the first scale
            cc = 0.5 * np.sqrt((ev ** 2).sum(-1)).max()
        S2 = (ev ** 2).sum(-1)
        if nd == 2:
            l1, l2 = ev[..., 0], ev[..., 1]
            with np.errstate(divide="ignore", invalid="ignore"):
                rb2 = np.where(l2 != 0, (l1 / l2) ** 2, 0.0)
            v = np.exp(-rb2 / (2 * beta ** 2)) * (1 - np.exp(-S2 / (2 * cc ** 2))) if cc > 0 else 0 * S2
            bad = (l2 > 0) if not black_ridges else (l2 < 0)
        else:
            l1, l2, l3 = ev[..., 0], ev[..., 1], ev[..., 2]
            with np.errstate(divide="ignore", invalid="ignore"):
                ra2 = np.where(l3 != 0, (l2 / l3) ** 2, 0.0)
                rb2 = np.where(l2 * l3 != 0, l1 ** 2 / np.abs(l2 * l3), 0.0)
            v = ((1 - np.exp(-ra2 / (2 * alpha ** 2))) * np.exp(-rb2 / (2 * beta ** 2))
                 * (1 - np.exp(-S2 / (2 * cc ** 2)))) if cc > 0 else 0 * S2
            bad = ((l2 > 0) | (l3 > 0)) if not black_ridges else ((l2 < 0) | (l3 < 0))
        v = np.where(bad, 0.0, v)
        out = v if out is None else np.maximum(out, v)
    return out
