"""Preprocessing shared by training and inference of the SIJ MRI pipeline.

Both networks see the scan in one canonical frame: reoriented to "RSA"
(i → the patient's right, j → superior, k → anterior: semicoronal slices
stacked posterior → anterior), in-plane resampled to the network's spacing
(the slice axis is never interpolated: slices are 3–5 mm thick), z-scored
over non-zero voxels (nnU-Net's MRI scheme), and padded in-plane to a
multiple of 8 so that a 4-level U-Net can pool three times.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..transforms import crop_or_pad, reorient, resample, resample_labels, zscore
from ..volume import Volume

CANONICAL = "RSA"
BONES_SPACING_MM = 1.6   # in-plane spacing of the bone network
BME_SPACING_MM = 0.8     # in-plane spacing of the oedema network
MULTIPLE = 8


def canonical(stir: Volume) -> Volume:
    """``stir`` reoriented to RSA; raises when its thick axis is not anterior-posterior."""
    if not isinstance(stir, Volume) or stir.spatial_ndim != 3 or stir.ndim != 3:
        raise ValueError("stir must be a 3-D sacroai.Volume (one semicoronal STIR series)")
    vol = reorient(stir, CANONICAL)
    return vol


def check_semicoronal(vol: Volume) -> None:
    """Semicoronal SIJ MRI has its thickest axis across the slices (anterior-posterior)."""
    sp = vol.spacing
    if sp[2] + 1e-6 < max(sp[0], sp[1]):
        raise ValueError(f"expected semicoronal slices (the thickest voxel axis anterior-posterior); "
                         f"voxel size in RSA order is {tuple(round(s, 2) for s in sp)} mm. "
                         f"Pass check_orientation=False to run on another acquisition.")


@dataclass
class Grid:
    """A network's view of a scan: the padded array and how to map back."""

    array: np.ndarray          # (K, 1, I', J') float32, one slice per sample
    resampled: Volume          # the in-plane resampled (unpadded) volume
    padded_shape: tuple        # (I', J')

    def unpad(self, slices_first: np.ndarray) -> np.ndarray:
        """(K, C, I', J') network output -> (C, I, J, K) on the resampled grid."""
        i, j = self.resampled.shape[:2]
        pi, pj = self.padded_shape
        oi, oj = (pi - i) // 2, (pj - j) // 2
        out = slices_first[:, :, oi:oi + i, oj:oj + j]
        return np.moveaxis(out, 0, -1)


def _padded(n: int) -> int:
    return int(np.ceil(n / MULTIPLE) * MULTIPLE)


def network_grid(vol: Volume, spacing_mm: float) -> Grid:
    """Resample ``vol`` (canonical) in-plane to ``spacing_mm``, z-score, pad, slices first."""
    sk = vol.spacing[2]
    res = resample(vol, spacing=(spacing_mm, spacing_mm, sk), order=1, anisotropic=False)
    norm = zscore(res, nonzero=True)
    shape = (_padded(res.shape[0]), _padded(res.shape[1]), res.shape[2])
    padded = crop_or_pad(norm, shape, cval=float(np.asarray(norm.array).min()))
    arr = np.ascontiguousarray(np.moveaxis(np.asarray(padded.array, dtype=np.float32), 2, 0)[:, None])
    return Grid(array=arr, resampled=res, padded_shape=shape[:2])


def labels_to_grid(labels: np.ndarray, vol: Volume, grid: Grid) -> np.ndarray:
    """Ground-truth labels on ``vol``'s grid -> (K, 1, I', J') int64 on the network grid."""
    lab = resample_labels(Volume(np.asarray(labels, dtype=np.int16), vol.affine),
                          affine=grid.resampled.affine, shape=grid.resampled.shape)
    pi, pj = grid.padded_shape
    padded = crop_or_pad(lab, (pi, pj, lab.shape[2]), cval=0)
    return np.ascontiguousarray(np.moveaxis(np.asarray(padded.array), 2, 0)[:, None].astype(np.int64))


def labels_to_scan(labels_ijk: np.ndarray, grid: Grid, vol: Volume) -> np.ndarray:
    """Labels on the resampled grid -> labels on ``vol``'s grid (nearest, no new classes)."""
    out = resample_labels(Volume(labels_ijk.astype(np.int16), grid.resampled.affine),
                          affine=vol.affine, shape=vol.shape)
    return np.asarray(out.array)


def probabilities_to_scan(prob_ijk: np.ndarray, grid: Grid, vol: Volume) -> np.ndarray:
    """A probability map on the resampled grid -> ``vol``'s grid (linear)."""
    out = resample(Volume(prob_ijk.astype(np.float32), grid.resampled.affine),
                   affine=vol.affine, shape=vol.shape, order=1, anisotropic=False)
    return np.asarray(out.array)
