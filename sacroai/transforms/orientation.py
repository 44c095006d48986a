"""Reorientation: permute and flip voxel axes, no interpolation."""
from __future__ import annotations

import numpy as np

from .. import _geometry as geo
from ..volume import Volume
from ._common import as_volume, spatial_ndim


def reorient(vol, codes: str = "RAS") -> Volume:
    """Return ``vol`` with its voxel axes pointing towards ``codes``.

    Parameters
    ----------
    vol : sacroai.Volume
        2-D (radiograph, give 2 codes) or 3-D with optional trailing axes
        (time/channels), which are kept as they are.
    codes : str
        Target axis codes, one letter per spatial axis from R/L, A/P, S/I,
        e.g. ``"RAS"`` (nibabel's canonical) or ``"LPS"`` (ITK/DICOM).

    Returns
    -------
    Volume
        A view of the array (axes transposed and flipped, nothing copied or
        interpolated) and the affine that keeps every voxel at its world
        position.
    """
    vol = as_volume(vol)
    nsp = spatial_ndim(vol)
    target = geo.codes_to_ornt(codes)
    if len(target) != nsp:
        raise ValueError(f"codes must have {nsp} letters for a {nsp}-D volume, got {codes!r}")
    current = geo.io_orientation(vol.affine, nsp)
    arr = vol.array
    perm, flips = [], []
    for world_ax, sign in target:
        hits = np.nonzero(current[:, 0] == world_ax)[0]
        if hits.size != 1:
            raise ValueError(f"codes {codes!r} name a world axis the {nsp}-D volume does not span "
                             f"(its orientation is {geo.ornt_to_codes(current)!r})")
        src = int(hits[0])
        perm.append(src)
        flips.append(current[src, 1] != sign)
    extra = list(range(nsp, arr.ndim))
    out = arr.transpose(perm + extra)
    index = tuple(slice(None, None, -1) if f else slice(None) for f in flips)
    out = out[index]
    # new voxel index t on axis a maps to old index: perm[a] <- (n-1-t) if flipped else t
    t = np.zeros((4, 4))
    t[3, 3] = 1.0
    for a, (src, f) in enumerate(zip(perm, flips)):
        if f:
            t[src, a] = -1.0
            t[src, 3] = arr.shape[src] - 1
        else:
            t[src, a] = 1.0
    if nsp == 2:
        t[2, 2] = 1.0
    return Volume(out, vol.affine @ t, header=vol.header)
