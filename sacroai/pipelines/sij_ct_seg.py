"""Sacrum and hip-bone segmentation on pelvic CT, and the sacroiliac-joint ROIs.

``CTBoneSegmenter.from_weights().segment(ct)`` labels a pelvic CT (HU, any
orientation and spacing) with 1 sacrum, 2 left hip bone, 3 right hip bone;
:func:`joint_rois` finds each sacroiliac joint as the zone where the sacrum
and that side's hip bone meet.

The network is an nnU-Net-style 2-D ``PlainConvUNet`` applied to axial
slices (2.5-D: the slice and its two neighbours as channels) on a 3 mm RAS
grid, with nnU-Net's CT normalisation (clip to the 0.5/99.5 percentiles of
the training bones' HU, z-score with their mean/std); by default the softmax
of the scan and of its left-right mirror (hip classes swapped) are averaged.
Per label the largest 3-D component (and pieces >= 25 % of it) is kept.  It was trained on
procedural phantoms only (``sacroai.phantoms.generate_pelvis_ct`` and
``generate_sij_ct``); see ``weights/sij_ct_bones.json`` for how it transfers
to a real CT.
"""
from __future__ import annotations

import os

import numpy as np
from scipy import ndimage

from .. import _core
from ..nn.inference import predict
from ..nn.models import PlainConvUNet
from ..nn.weights import load_weights, read_model_card
from ..transforms import CTNormalizer, reorient, resample, resample_labels
from ..volume import Volume

__all__ = ["CTBoneSegmenter", "joint_rois", "bones_model", "prepare", "SPACING_MM", "WEIGHTS_FILE", "LABELS"]

SPACING_MM = 3.0            # network grid (isotropic, RAS)
CONTEXT = 1                 # neighbouring slices on each side given as channels
MULTIPLE = 16               # 5 stages pool 4 times
FEATURES = (8, 16, 32, 64, 64)
WEIGHTS_FILE = "sij_ct_bones.safetensors"
LABELS = {0: "background", 1: "sacrum", 2: "left hip bone", 3: "right hip bone"}
HU_AIR = -1024.0
_WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "weights")


def bones_model(rng=0) -> PlainConvUNet:
    """The segmentation network: [N, 3, I, J] normalised HU -> [N, 4, I, J] logits."""
    return PlainConvUNet(spatial_dims=2, input_channels=2 * CONTEXT + 1, num_classes=4,
                         features_per_stage=FEATURES, n_conv_per_stage=2, n_conv_per_stage_decoder=1,
                         rng=rng)


def _check_ct(ct) -> Volume:
    if not isinstance(ct, Volume):
        raise TypeError(f"ct must be a sacroai.Volume (load it with sacroai.load), got {type(ct).__name__}")
    if ct.ndim != 3 or ct.spatial_ndim != 3:
        raise ValueError(f"ct must be a 3-D volume (one CT series), got array shape {ct.array.shape}; "
                         "the segmenter needs a 3-D pelvic CT in HU")
    if min(ct.shape) < 2:
        raise ValueError(f"ct must have at least 2 voxels along each axis, got shape {ct.shape}")
    a = np.asarray(ct.array)
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise TypeError(f"ct must hold numbers (HU), got dtype {a.dtype}")
    lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
    if not (lo < -400 and hi > 150 and lo >= -3100 and hi <= 40000):
        raise ValueError(f"ct does not look like CT in Hounsfield units (min {lo:g}, max {hi:g}); expected air "
                         "below -400 HU and bone above 150 HU: rescale it to HU (slope/intercept) first")
    return ct


def prepare(ct: Volume) -> Volume:
    """``ct`` reoriented to RAS and resampled (linear) to the 3 mm network grid, float32 HU."""
    vol = reorient(ct, "RAS")
    return resample(vol, spacing=(SPACING_MM,) * 3, order=1, anisotropic=False)


def slices_input(hu: np.ndarray, normalizer: CTNormalizer) -> np.ndarray:
    """(I, J, K) HU on the network grid -> (K, 3, I', J') float32 (normalised, padded to ×16, 2.5-D)."""
    norm = np.asarray(normalizer(np.asarray(hu, np.float32)), np.float32)
    pad_val = float(np.asarray(normalizer(np.array([HU_AIR], np.float32)))[0])
    ni, nj, nk = norm.shape
    pi, pj = -(-ni // MULTIPLE) * MULTIPLE, -(-nj // MULTIPLE) * MULTIPLE
    oi, oj = (pi - ni) // 2, (pj - nj) // 2
    padded = np.full((pi, pj, nk), pad_val, np.float32)
    padded[oi:oi + ni, oj:oj + nj] = norm
    k = np.arange(nk)
    chans = [padded[:, :, np.clip(k + d, 0, nk - 1)] for d in range(-CONTEXT, CONTEXT + 1)]
    return np.ascontiguousarray(np.stack(chans, axis=0).transpose(3, 0, 1, 2))


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _unpad(out: np.ndarray, ni: int, nj: int) -> np.ndarray:
    pi, pj = out.shape[-2:]
    oi, oj = (pi - ni) // 2, (pj - nj) // 2
    return out[..., oi:oi + ni, oj:oj + nj]


def _largest_components(lab: np.ndarray) -> np.ndarray:
    """Keep, per label, the largest 26-connected component (plus pieces ≥ 25 % of it)."""
    out = np.zeros_like(lab)
    st = np.ones((3, 3, 3), bool)
    for c in (1, 2, 3):
        cc, n = ndimage.label(lab == c, structure=st)
        if n == 0:
            continue
        sizes = np.bincount(cc.ravel())[1:]
        keep = np.nonzero(sizes >= 0.25 * sizes.max())[0] + 1
        out[np.isin(cc, keep)] = c
    return out


class CTBoneSegmenter:
    """Sacrum / left hip bone / right hip bone segmentation of a pelvic CT.

    Parameters
    ----------
    model : the network (:func:`bones_model`) with trained weights
    normalizer : the fitted :class:`sacroai.transforms.CTNormalizer`
    card : the model card (dict), optional
    batch_size : slices per forward pass
    mirror : also run the left-right mirrored scan and average (test-time augmentation)
    """

    def __init__(self, model, normalizer: CTNormalizer, card: dict | None = None, batch_size: int = 16,
                 mirror: bool = True):
        self.model, self.normalizer, self.card = model, normalizer, dict(card or {})
        self.batch_size, self.mirror = int(batch_size), bool(mirror)

    @classmethod
    def from_weights(cls, path: str | None = None, **kwargs) -> "CTBoneSegmenter":
        """Load the shipped weights (``weights/sij_ct_bones.safetensors``) or ``path``."""
        path = os.path.join(_WEIGHTS_DIR, WEIGHTS_FILE) if path is None else os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"weights file not found: {path}; train it with "
                                    "python weights/train_sij_ct_bones.py")
        model = bones_model(rng=0)
        card = load_weights(model, path) or read_model_card(path) or {}
        if "normalizer" not in card:
            raise ValueError(f"{path}: the model card has no 'normalizer' entry (CT normalisation); "
                             "weights written by weights/train_sij_ct_bones.py carry it")
        model.eval()
        return cls(model, CTNormalizer.from_dict(card["normalizer"]), card=card, **kwargs)

    def probabilities(self, grid: Volume) -> np.ndarray:
        """Softmax (4, I, J, K) on the RAS network grid ``grid`` (from :func:`prepare`)."""
        hu = np.asarray(grid.array, np.float32)
        x = slices_input(hu, self.normalizer)
        p = _softmax(predict(self.model, x, batch_size=self.batch_size))     # (K, 4, I', J')
        if self.mirror:
            # left-right mirrored pass: the mirrored left hip bone is the right one
            pm = _softmax(predict(self.model, np.ascontiguousarray(x[:, :, ::-1]), batch_size=self.batch_size))
            p = 0.5 * (p + pm[:, [0, 1, 3, 2], ::-1])
        p = _unpad(p, *hu.shape[:2])
        return np.ascontiguousarray(p.transpose(1, 2, 3, 0))

    def segment_grid(self, grid: Volume) -> np.ndarray:
        """Labels (I, J, K) uint8 on the RAS network grid."""
        lab = self.probabilities(grid).argmax(axis=0).astype(np.uint8)
        return _largest_components(lab)

    def segment(self, ct: Volume) -> Volume:
        """Label ``ct`` (HU): uint8 Volume on ``ct``'s grid, 0 background, 1 sacrum, 2 left, 3 right hip bone."""
        ct = _check_ct(ct)
        grid = prepare(ct)
        lab = self.segment_grid(grid)
        back = resample_labels(Volume(lab, grid.affine), affine=ct.affine, shape=ct.shape)
        return Volume(np.asarray(back.array, np.uint8), ct.affine, header=ct.header)

    __call__ = segment


def _within(mask, spacing, radius_mm):
    """Voxels within ``radius_mm`` (Euclidean, in mm) of ``mask``: its dilation by a ball of that
    radius, from the exact distance transform (a ball-shaped ``binary_dilation`` costs
    O(ball volume) per voxel; this is linear in the volume)."""
    d2 = _core.scores_seg_edt_sq(np.ascontiguousarray(mask, dtype=np.uint8), np.asarray(spacing, np.float64))
    return d2 <= radius_mm * radius_mm * (1.0 + 1e-12)


def joint_rois(labels: Volume, *, contact_mm: float = 4.5, size_mm=(48, 48, 48)) -> dict:
    """Locate the left and right sacroiliac joints in a label map (1 sacrum, 2 left, 3 right hip bone).

    The joint on a side is the contact zone: the sacrum voxels within ``contact_mm``
    of that side's hip bone and the hip-bone voxels within ``contact_mm`` of the
    sacrum.  Sides are assigned by world x (RAS+, patient left = negative x)
    relative to the sacrum's centroid, never by array index.

    Returns ``{"left": {...}, "right": {...}}``, each with ``found`` (bool),
    ``reason`` (why not found, else None), ``centre_mm`` (x, y, z world, the
    contact-zone centroid), ``centre_ijk`` (voxel index, float), ``n_contact_voxels``,
    ``slices`` ((k_first, k_last) of the contact zone along the array's third axis),
    ``box`` ((i0, i1), (j0, j1), (k0, k1)) half-open voxel ranges of a ``size_mm`` box
    (round(size_mm / spacing) voxels per axis) centred on the centre, clipped to the volume,
    and ``size_mm``.
    """
    if not isinstance(labels, Volume):
        raise TypeError(f"labels must be a sacroai.Volume (from CTBoneSegmenter.segment), got {type(labels).__name__}")
    lab = np.asarray(labels.array)
    if lab.ndim != 3:
        raise ValueError(f"labels must be a 3-D label volume, got array shape {lab.shape}")
    if not np.issubdtype(lab.dtype, np.integer) and lab.dtype != np.bool_:
        raise TypeError(f"labels must hold integer labels 0-3, got dtype {lab.dtype}")
    contact_mm = float(contact_mm)
    if not (np.isfinite(contact_mm) and contact_mm > 0):
        raise ValueError(f"contact_mm must be a positive distance in mm, got {contact_mm!r}")
    size = np.broadcast_to(np.asarray(size_mm, float), (3,))
    if not np.all(np.isfinite(size)) or np.any(size <= 0):
        raise ValueError(f"size_mm must be 3 positive sizes in mm, got {size_mm!r}")
    sacrum = lab == 1
    if not sacrum.any():
        raise ValueError("no sacrum found: is this a pelvic CT covering the sacroiliac joints? "
                         "(labels has no voxel with label 1)")
    aff = labels.affine
    sp = np.sqrt((aff[:3, :3] ** 2).sum(axis=0))
    idx = np.argwhere(sacrum)
    mid_x = float(labels.world(idx.mean(axis=0))[0])
    near_sacrum = _within(sacrum, sp, contact_mm)
    out = {}
    for side, code in (("left", 2), ("right", 3)):
        res = {"found": False, "reason": None, "centre_mm": None, "centre_ijk": None, "n_contact_voxels": 0,
               "slices": None, "box": None, "size_mm": tuple(float(s) for s in size)}
        hip = lab == code
        if not hip.any():
            res["reason"] = f"no {LABELS[code]} (label {code}) in labels"
            out[side] = res
            continue
        zone = (sacrum & _within(hip, sp, contact_mm)) | (hip & near_sacrum)
        pts = np.argwhere(zone)
        if len(pts):  # the side is decided in world x (RAS+), never by array index
            xs = labels.world(pts)[:, 0]
            pts = pts[xs < mid_x] if side == "left" else pts[xs > mid_x]
        if len(pts) == 0:
            res["reason"] = (f"the sacrum and the {LABELS[code]} do not come within {contact_mm:g} mm of each "
                             f"other on the {side} side")
            out[side] = res
            continue
        c = pts.mean(axis=0)
        n = np.maximum(np.rint(size / sp), 1).astype(int)          # voxels per side of the box
        start = np.floor(c - n / 2.0 + 0.5).astype(int)              # centred on the centroid
        box = tuple((int(max(start[a], 0)), int(min(start[a] + n[a], lab.shape[a]))) for a in range(3))
        res.update(found=True, centre_ijk=tuple(float(v) for v in c),
                   centre_mm=tuple(float(v) for v in labels.world(c)),
                   n_contact_voxels=int(len(pts)), slices=(int(pts[:, 2].min()), int(pts[:, 2].max())), box=box)
        out[side] = res
    return out
