"""Bone segmentation of pelvic CT for the SIJ CT pipeline (threshold placeholder).

Interface used by :mod:`sacroai.pipelines.sij_ct`:

* ``CTBoneSegmenter.from_weights(path=None)`` and ``.segment(ct) -> Volume``:
  uint8 labels on the input grid, 0 background, 1 sacrum, 2 left hip bone,
  3 right hip bone;
* ``joint_rois(labels, *, contact_mm=4.5, size_mm=(48, 48, 48)) -> dict``: per
  side ``"left"``/``"right"`` the contact zone between sacrum and hip bone.

This implementation has no weights: bone is ``HU > 450`` (after a light
smoothing), the largest connected components are labelled by their world x
(the central one is the sacrum), and a hip bone fused to the sacrum (total
ankylosis) is split off at a sagittal plane mirrored from the other joint or,
when both are fused, at 37 % of the body's half-width.  It works on the
phantoms of :mod:`sacroai.phantoms.sij_ct`; a trained segmenter replaces it.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..volume import Volume

BONE_HU = 450.0  # cortex (800-1100 HU) stays connected; a blurred joint space does not bridge
MIN_BONE_ML = 5.0
FUSED_CUT_FRACTION = 0.37  # sacroiliac joint |x| / body half-width on the phantoms (44 / 122 mm)


def _world_x(vol: Volume) -> np.ndarray:
    """World x (mm) of every voxel, shape ``vol.spatial_shape``."""
    idx = np.indices(vol.spatial_shape, dtype=np.float64)
    a = np.asarray(vol.affine, dtype=np.float64)
    return a[0, 0] * idx[0] + a[0, 1] * idx[1] + a[0, 2] * idx[2] + a[0, 3]


class CTBoneSegmenter:
    """Sacrum and hip bones on pelvic CT (HU) by thresholding and connected components."""

    def __init__(self, bone_hu: float = BONE_HU):
        self.bone_hu = float(bone_hu)

    @classmethod
    def from_weights(cls, path=None) -> "CTBoneSegmenter":
        """The segmenter (this threshold version has no weights; ``path`` is ignored)."""
        return cls()

    def segment(self, ct: Volume) -> Volume:
        """uint8 labels on ``ct``'s grid: 0 background, 1 sacrum, 2 left hip bone, 3 right hip bone."""
        arr = np.asarray(ct.array, dtype=np.float32)
        sp = np.asarray(ct.spacing[:3], dtype=np.float64)
        smooth = ndimage.gaussian_filter(arr, sigma=(0.5 / sp).tolist())
        bone = smooth > self.bone_hu
        for k in range(bone.shape[2]):  # the trabecular interior dips under the threshold
            bone[..., k] = ndimage.binary_fill_holes(bone[..., k])
        comp, n = ndimage.label(bone)
        labels = np.zeros(arr.shape, np.uint8)
        if n == 0:
            return Volume(labels, ct.affine)
        voxel_ml = float(np.prod(sp)) / 1000.0
        sizes = np.bincount(comp.ravel())[1:] * voxel_ml
        keep = [i + 1 for i in np.argsort(-sizes) if sizes[i] >= MIN_BONE_ML][:6]
        x = _world_x(ct)
        body = smooth > -500
        half_width = float(np.abs(x[body]).max()) if body.any() else float(np.abs(x).max())
        central = {c: float(np.mean(np.abs(x[comp == c]) < 15.0)) for c in keep}
        if not keep or max(central.values()) == 0:
            return Volume(labels, ct.affine)
        sacrum = max(keep, key=lambda c: central[c])
        labels[comp == sacrum] = 1
        hips = {}
        for c in keep:
            if c == sacrum:
                continue
            xc = float(x[comp == c].mean())
            side = 2 if xc < 0 else 3
            if side not in hips or sizes[c - 1] > sizes[hips[side] - 1]:
                hips[side] = c
        for side, c in hips.items():
            labels[comp == c] = side
        missing = [s for s in (2, 3) if s not in hips]
        if missing:  # fused joint(s): split the sacrum component at a sagittal plane
            cut = {}
            for s in missing:
                other = 5 - s
                if other in hips:
                    zone = _contact(labels, other, sp, 4.5)[0]
                    cut[s] = float(np.abs(x[zone]).mean()) if zone.any() else FUSED_CUT_FRACTION * half_width
                else:
                    cut[s] = FUSED_CUT_FRACTION * half_width
            sac = labels == 1
            for s in missing:
                on_side = (x < 0) if s == 2 else (x > 0)
                labels[sac & on_side & (np.abs(x) > cut[s])] = s
        return Volume(labels, ct.affine)


def _contact(labels: np.ndarray, hip: int, spacing, contact_mm: float):
    """Sacrum and hip-bone voxels closer than ``contact_mm`` to the other bone."""
    sac, hb = labels == 1, labels == hip
    zone = np.zeros(labels.shape, bool)
    if not sac.any() or not hb.any():
        return zone, 0
    # only the overlap of the two bones' boxes (grown by contact_mm) can hold contact voxels
    margin = np.ceil(contact_mm / np.asarray(spacing, dtype=np.float64)).astype(int) + 1
    lo_s, hi_s = _bbox(sac)
    lo_h, hi_h = _bbox(hb)
    lo = np.maximum(np.maximum(lo_s, lo_h) - margin, 0)
    hi = np.minimum(np.minimum(hi_s, hi_h) + margin, labels.shape)
    if np.any(hi <= lo):
        return zone, 0
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    s_b, h_b = sac[box], hb[box]
    d_to_hip = ndimage.distance_transform_edt(~h_b, sampling=spacing)
    d_to_sac = ndimage.distance_transform_edt(~s_b, sampling=spacing)
    zone[box] = (s_b & (d_to_hip <= contact_mm)) | (h_b & (d_to_sac <= contact_mm))
    return zone, int(zone.sum())


def _bbox(mask: np.ndarray) -> tuple:
    idx = [np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != ax))) for ax in range(mask.ndim)]
    return np.array([i[0] for i in idx]), np.array([i[-1] + 1 for i in idx])


def joint_rois(labels: Volume, *, contact_mm: float = 4.5, size_mm=(48, 48, 48)) -> dict:
    """The two sacroiliac joints from a bone label map.

    Returns per side ``"left"``/``"right"``: ``centre_mm`` (RAS world mm of the
    contact-zone centroid), ``centre_ijk``, ``n_contact_voxels``, ``slices``
    (k indices with contact voxels), ``found`` (bool) and ``box`` (``(start,
    stop)`` voxel index triples of a ``size_mm`` box around the centre, clipped
    to the grid).
    """
    lab = np.asarray(labels.array)
    sp = np.asarray(labels.spacing[:3], dtype=np.float64)
    out = {}
    for side, hip in (("left", 2), ("right", 3)):
        zone, n = _contact(lab, hip, sp, float(contact_mm))
        if n == 0:
            out[side] = {"centre_mm": None, "centre_ijk": None, "n_contact_voxels": 0, "slices": [],
                         "found": False, "box": None}
            continue
        ijk = np.argwhere(zone).mean(axis=0)
        half = np.asarray(size_mm, dtype=np.float64) / 2.0 / sp
        start = np.maximum(np.floor(ijk - half), 0).astype(int)
        stop = np.minimum(np.ceil(ijk + half), lab.shape[:3]).astype(int)
        out[side] = {"centre_mm": tuple(float(v) for v in labels.world(ijk)),
                     "centre_ijk": tuple(float(v) for v in ijk), "n_contact_voxels": n,
                     "slices": [int(k) for k in np.nonzero(zone.any(axis=(0, 1)))[0]],
                     "found": True, "box": (tuple(int(v) for v in start), tuple(int(v) for v in stop))}
    return out
