"""Conversions between :class:`~sacroai.Volume` and its peers.

nibabel
    Same conventions as sacroai (RAS+ world, ``[i, j, k]`` arrays): the
    array and affine pass through unchanged.

ITK / SimpleITK / nnU-Net (``(z, y, x)`` arrays, LPS+ world)
    ``sitk.GetArrayFromImage`` returns ``array[k, j, i]`` and the geometry is
    ``spacing`` (x, y, z) in mm, ``origin`` in LPS mm and ``direction`` (a
    row-major 3×3 of unit column vectors in LPS).  World RAS = diag(-1, -1, 1)
    · world LPS, so::

        affine[:3, :3] = F @ D @ diag(spacing),   affine[:3, 3] = F @ origin,
        F = diag(-1, -1, 1)
"""
from __future__ import annotations

import numpy as np

from .. import _geometry as geo
from ..volume import Volume

_LPS = np.diag([-1.0, -1.0, 1.0])


def to_nibabel(volume: Volume):
    """A ``nibabel.Nifti1Image`` with the same array (not copied), affine and
    the header fields nibabel can hold (codes, units, intent, description)."""
    import nibabel as nib

    h = volume.header
    img = nib.Nifti1Image(np.asarray(volume.array), volume.affine)
    hdr = img.header
    img.set_sform(volume.affine, code=int(h.get("sform_code", 0)) or 2)
    img.set_qform(volume.affine, code=int(h.get("qform_code", 0)) or 2)
    hdr.set_xyzt_units(h.get("space_units", "mm") if h.get("space_units") != "unknown" else "mm",
                       h.get("time_units", "sec") if h.get("time_units") not in (None, "unknown") else "sec")
    if h.get("descrip"):
        hdr["descrip"] = h["descrip"][:79]
    if h.get("intent_code"):
        hdr.set_intent(int(h["intent_code"]), tuple(h.get("intent_params", ()))[:3],
                       name=h.get("intent_name", ""), allow_unknown=True)
    if volume.ndim > 3 and h.get("TR"):
        zooms = list(hdr.get_zooms())
        zooms[3] = float(h["TR"])
        hdr.set_zooms(zooms)
    return img


def from_nibabel(img, dtype=None) -> Volume:
    """A Volume from a nibabel image: scaled data as float32 (or ``dtype``),
    unscaled data in its stored type, nibabel's chosen affine."""
    hdr = img.header
    slope, inter = hdr.get_slope_inter() if hasattr(hdr, "get_slope_inter") else (None, None)
    if slope is None and inter is None and dtype is None:
        array = np.asanyarray(img.dataobj)
    else:
        array = img.get_fdata(dtype=np.dtype(dtype or np.float32).type if np.dtype(dtype or np.float32).kind == "f"
                              else np.float64)
        if dtype is not None:
            array = array.astype(dtype, copy=False)
    header = {}
    for key in ("qform_code", "sform_code", "intent_code", "datatype"):
        if key in hdr:
            header[key] = int(hdr[key])
    if "descrip" in hdr:
        header["descrip"] = hdr["descrip"].item().decode("latin-1") if hasattr(hdr["descrip"], "item") else str(hdr["descrip"])
    if hasattr(hdr, "get_qform"):
        header["qform"] = hdr.get_qform()
        header["sform"] = hdr.get_sform()
    return Volume(array, img.affine, header=header)


def to_sitk_array(volume: Volume):
    """Geometry in ITK's terms.

    Returns
    -------
    array_zyx : ndarray
        ``volume.array`` transposed to ``[k, j, i, ...]`` (a view, no copy).
    spacing : tuple of 3 float
        Voxel size (mm) along i, j, k (ITK's x, y, z).
    origin : tuple of 3 float
        World position of voxel (0, 0, 0) in LPS mm.
    direction : tuple of 9 float
        Row-major 3×3 direction cosines in LPS (``sitk.Image.SetDirection``).
    """
    if volume.spatial_ndim != 3:
        raise ValueError("to_sitk_array needs a 3-D volume")
    a = volume.affine
    spacing = np.asarray(geo.voxel_sizes(a, 3))
    direction = _LPS @ a[:3, :3] / spacing
    origin = _LPS @ a[:3, 3]
    arr = volume.array
    axes = (2, 1, 0) + tuple(range(3, arr.ndim))
    return (arr.transpose(axes), tuple(float(s) for s in spacing), tuple(float(o) for o in origin),
            tuple(float(d) for d in direction.ravel()))


def from_sitk_array(array_zyx, spacing, origin, direction) -> Volume:
    """Inverse of :func:`to_sitk_array`: a ``[z, y, x]`` array and ITK geometry."""
    arr = np.asarray(array_zyx)
    if arr.ndim < 3:
        raise ValueError(f"array_zyx must have at least 3 dimensions, got {arr.ndim}")
    spacing = np.asarray(spacing, dtype=np.float64).ravel()
    origin = np.asarray(origin, dtype=np.float64).ravel()
    d = np.asarray(direction, dtype=np.float64).reshape(3, 3)
    if spacing.size != 3 or origin.size != 3:
        raise ValueError("spacing and origin must each have 3 values (x, y, z)")
    if np.any(spacing <= 0) or not np.all(np.isfinite(spacing)):
        raise ValueError(f"spacing must be positive and finite, got {spacing.tolist()}")
    affine = np.eye(4)
    affine[:3, :3] = _LPS @ d @ np.diag(spacing)
    affine[:3, 3] = _LPS @ origin
    axes = (2, 1, 0) + tuple(range(3, arr.ndim))
    return Volume(arr.transpose(axes), affine)
