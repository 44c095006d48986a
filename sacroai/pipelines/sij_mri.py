"""SIJ MRI: from a semicoronal STIR series to SPARCC and an active-sacroiliitis call.

Steps (:meth:`SIJMRIPipeline.run`):

1. reorient to RSA (semicoronal slices posterior → anterior) and check the slice axis;
2. bone segmentation (sacrum, ilium) per slice with a 2-D U-Net at 1.6 mm in-plane;
3. the 8-quadrant map from the bone masks (:func:`sacroai.scores.quadrants_from_joint_masks`);
4. bone-marrow-oedema segmentation per slice with a 2-D attention U-Net at
   0.8 mm in-plane, given the STIR and the quadrant region, kept inside the
   quadrants, components under 10 mm² in-plane dropped as specks;
5. the vessel reference: the median signal of the brightest 10 % of tubular
   voxels (Frangi vesselness, 2–3 mm scales, per slice) outside the bones;
6. SPARCC SIJ from the maps (six consecutive slices with the most joint area)
   and the ASAS 2009 MRI rule;
7. a patient-level probability of active sacroiliitis from the image features
   (a ridge-logistic model shipped with the weights).

Every result carries an audit trail: the slices scored, per joint-slice the
quadrant flags, lesion signal, depth in mm and the reference used.

Limits of the shipped weights: both networks were trained on STIR phantoms
only (see the model cards) and must be retrained on annotated patient scans
before clinical use.  The STIR bone network does not transfer to CT (its Dice
on the real TotalSegmentator CT is near 0); on a CT, ``joint_quadrants(vol,
modality="CT")`` takes the bones from the CT bone segmenter of
:mod:`sacroai.pipelines.sij_ct_seg` instead (trained on CT phantoms; Dice
0.76 sacrum / 0.86 hip bones on that real CT).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np

from ..nn.inference import predict
from ..nn.models import AttentionUNet, UNet
from ..nn.weights import load_weights, read_model_card
from ..scores.from_maps import asas_mri_positive_from_maps, quadrants_from_joint_masks, sparcc_sij_from_maps
from ..transforms import frangi
from ..volume import Volume
from . import sij_mri_prep as prep

WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "weights")
BONES_FILE = "sij_mri_bones.safetensors"
BME_FILE = "sij_mri_bme.safetensors"
CLASSIFIER_FILE = "sij_mri_classifier.json"
FEATURES = ("sparcc_total", "bme_ml", "asas_positive")
MIN_SACRUM_ML, MIN_ILIUM_ML = 10.0, 20.0   # plausibility of the bone segmentation
MIN_JOINT_MM2, MIN_JOINT_SLICES = 200.0, 3  # a joint's quadrants on at least 3 slices
JOINT_GAP_MM = 5.0
MIN_LESION_MM2 = 10.0   # oedema components smaller than this in-plane area are segmentation specks   # bones closer than this across the joint space form the joint line (SIJ space 2-5 mm)


def bones_model(rng=0) -> UNet:
    """2-D U-Net: 1 channel (STIR) -> 3 classes (background, sacrum, ilium)."""
    return UNet(spatial_dims=2, in_channels=1, out_channels=3, features=(16, 32, 64, 128), rng=rng)


def bme_model(rng=0) -> AttentionUNet:
    """2-D attention U-Net: 2 channels (STIR, quadrant region) -> 2 classes (background, oedema)."""
    return AttentionUNet(spatial_dims=2, in_channels=2, out_channels=2, channels=(8, 16, 32, 64), rng=rng)


def vessel_reference(stir: np.ndarray, bones: np.ndarray, spacing, sigmas_mm=(2.0, 3.0)) -> tuple:
    """Presacral vessel signal for the SPARCC intensity flag.

    Returns ``(reference, mask)``: the median STIR signal of the brightest
    10 % of voxels with vesselness >= 25 % of its maximum outside the bones
    (dilated by 4 voxels so the joint space and bone edges are excluded), and
    the mask of those voxels.
    """
    from scipy import ndimage

    nk = stir.shape[2]
    ves = np.stack([np.asarray(frangi(Volume.from_radiograph(stir[..., k], spacing[:2]), sigmas_mm=sigmas_mm).array)
                    for k in range(nk)], axis=-1)
    near_bone = np.stack([ndimage.binary_dilation(bones[..., k] > 0, iterations=4) for k in range(nk)], axis=-1)
    ves[near_bone] = 0.0
    if ves.max() <= 0:
        return float("nan"), np.zeros(stir.shape, bool)
    cand = ves >= 0.25 * ves.max()
    vals = stir[cand]
    top = vals >= np.percentile(vals, 90)
    mask = np.zeros(stir.shape, bool)
    mask[cand] = top
    return float(np.median(vals[top])), mask


@dataclass
class SIJResult:
    """The pipeline's output for one scan (all maps on the canonical RSA grid)."""

    stir: Volume                 # canonical STIR
    bones: np.ndarray            # uint8: 0 background, 1 sacrum, 2 ilium
    quadrants: np.ndarray        # uint8 8-label quadrant map
    bme: np.ndarray              # bool oedema mask
    bme_probability: np.ndarray  # float32
    vessels: np.ndarray          # bool: voxels behind the vessel reference
    vessel_signal: float
    sparcc: dict                 # the evaluate() result plus "slices" and "units" (the audit trail)
    asas: dict
    p_active: float
    features: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """JSON-friendly per-patient summary with the audit trail."""
        return {"sparcc_total": self.sparcc.get("total"), "sparcc_left": self.sparcc.get("left"),
                "sparcc_right": self.sparcc.get("right"), "status": self.sparcc.get("status"),
                "slices": [int(s) for s in self.sparcc.get("slices", [])],
                "units": self.sparcc.get("units"), "asas_positive": bool(self.asas.get("positive")),
                "asas_criterion": self.asas.get("criterion"), "vessel_signal": self.vessel_signal,
                "p_active": self.p_active, "features": self.features}

    def overlay(self, path: str | None = None, slices=None):
        """A figure of the scored slices: STIR, bone and quadrant outlines, oedema in red."""
        from ..plotting._mpl import pyplot
        plt = pyplot()
        ks = list(slices if slices is not None else self.sparcc.get("slices", []))[:6]
        fig, axes = plt.subplots(1, len(ks), figsize=(2.6 * len(ks), 3.2), squeeze=False)
        img = np.asarray(self.stir.array)
        for ax, k in zip(axes[0], ks):
            ax.imshow(img[..., k].T, origin="lower", cmap="gray")
            ax.contour(self.quadrants[..., k].T, levels=np.arange(0.5, 9), colors="yellow", linewidths=0.4)
            ax.contour(self.bme[..., k].T.astype(float), levels=[0.5], colors="red", linewidths=0.8)
            ax.set_title(f"slice {k}", fontsize=8)
            ax.axis("off")
        fig.suptitle(f"SPARCC {self.sparcc.get('total')}  (patient's left on the image's left)", fontsize=9)
        fig.tight_layout()
        if path:
            fig.savefig(path, dpi=110)
            plt.close(fig)
        return fig


class SIJMRIPipeline:
    """The SIJ MRI pipeline with its two networks and the activity model.

    Use :meth:`from_weights` for the shipped weights; ``bones`` and ``bme``
    may also be any sacroai modules with the same inputs and outputs.
    """

    def __init__(self, bones, bme, classifier: dict | None = None, batch_size: int = 8):
        self.bones = bones
        self.bme = bme
        self.classifier = classifier
        self.batch_size = batch_size

    @classmethod
    def from_weights(cls, folder: str | None = None, **kwargs) -> "SIJMRIPipeline":
        """Load the shipped weights (``weights/`` of the package by default)."""
        folder = folder or WEIGHTS_DIR
        missing = [f for f in (BONES_FILE, BME_FILE) if not os.path.exists(os.path.join(folder, f))]
        if missing:
            raise FileNotFoundError(f"SIJ MRI weights {missing} not found in {folder}; "
                                    f"train them with `python weights/train_sij_mri.py`")
        bones, bme = bones_model(), bme_model()
        load_weights(bones, os.path.join(folder, BONES_FILE))
        load_weights(bme, os.path.join(folder, BME_FILE))
        clf = None
        path = os.path.join(folder, CLASSIFIER_FILE)
        if os.path.exists(path):
            with open(path) as f:
                clf = json.load(f)
        return cls(bones, bme, clf, **kwargs)

    @staticmethod
    def cards(folder: str | None = None) -> dict:
        folder = folder or WEIGHTS_DIR
        return {f: read_model_card(os.path.join(folder, f)) for f in (BONES_FILE, BME_FILE)}

    # ------------------------------------------------------------------ steps
    def segment_bones(self, vol: Volume) -> tuple:
        """(labels uint8, probabilities (3, I, J, K)) on ``vol``'s grid."""
        grid = prep.network_grid(vol, prep.BONES_SPACING_MM)
        logits = predict(self.bones, grid.array, batch_size=self.batch_size)
        prob = _softmax(logits)
        labels = grid.unpad(prob.argmax(axis=1)[:, None].astype(np.int16))[0]
        return prep.labels_to_scan(labels, grid, vol).astype(np.uint8), grid

    def joint_quadrants(self, vol: Volume, modality: str = "MR", segmenter=None) -> tuple:
        """Bones and SPARCC quadrants of both joints on ``vol``'s canonical (RSA) grid.

        Parameters
        ----------
        vol : Volume, already canonical (:func:`sij_mri_prep.canonical`); a STIR series for
            ``modality="MR"``, a CT in HU for ``"CT"``.
        modality : "MR" segments with this pipeline's bone network; "CT" with the CT bone
            segmenter of :mod:`sacroai.pipelines.sij_ct_seg` (or ``segmenter``, any object whose
            ``segment(vol)`` returns labels 1 sacrum, 2 and 3 hip bones on ``vol``'s grid).

        Returns
        -------
        (bones, quadrants) : uint8 arrays of ``vol.shape``; bones 1 sacrum, 2 ilium; quadrants
            1-4 left joint, 5-8 right joint (iliac/sacral, upper/lower), split per slice.

        Raises ValueError ("no sacroiliac joint found ...") when too little sacrum or ilium
        is found, or a joint is visible on fewer than 3 slices.
        """
        if modality == "MR":
            bones, _ = self.segment_bones(vol)
        elif modality == "CT":
            if segmenter is None:
                segmenter = self._ct_bones()
            labels = np.asarray(segmenter.segment(vol).array)
            bones = np.where(labels == 1, 1, np.where((labels == 2) | (labels == 3), 2, 0)).astype(np.uint8)
        else:
            raise ValueError(f"modality must be 'MR' or 'CT', got {modality!r}")
        voxel_ml = float(np.prod(vol.spacing)) / 1000.0
        sacrum_ml, ilium_ml = (bones == 1).sum() * voxel_ml, (bones == 2).sum() * voxel_ml
        if sacrum_ml < MIN_SACRUM_ML or ilium_ml < MIN_ILIUM_ML:
            raise ValueError(f"no sacroiliac joint found: the bone segmentation saw {sacrum_ml:.1f} mL of sacrum and "
                             f"{ilium_ml:.1f} mL of ilium (at least {MIN_SACRUM_ML} and {MIN_ILIUM_ML} mL expected; "
                             f"is this a semicoronal SIJ scan?)")
        quads = quadrants_from_joint_masks(bones == 1, bones == 2, affine=vol.affine, slice_axis=2,
                                           split="slice", joint_gap_mm=JOINT_GAP_MM).astype(np.uint8)
        pixel_mm2 = vol.spacing[0] * vol.spacing[1]
        for side, labels in (("left", (1, 2, 3, 4)), ("right", (5, 6, 7, 8))):
            seen = sum(np.isin(quads[..., k], labels).sum() * pixel_mm2 >= MIN_JOINT_MM2 for k in range(vol.shape[2]))
            if seen < MIN_JOINT_SLICES:
                raise ValueError(f"no sacroiliac joint found: the {side} joint is visible on {seen} slices "
                                 f"(at least {MIN_JOINT_SLICES} expected)")
        return bones, quads

    def _ct_bones(self):
        """The shipped CT bone segmenter, loaded on first use and kept for later CTs."""
        if getattr(self, "_ct_segmenter", None) is None:
            from .sij_ct_seg import CTBoneSegmenter
            self._ct_segmenter = CTBoneSegmenter.from_weights()
        return self._ct_segmenter

    def segment_bme(self, vol: Volume, quadrants: np.ndarray, threshold: float = 0.5) -> tuple:
        """(mask bool, probability float32) of oedema on ``vol``'s grid, inside the quadrants."""
        grid = prep.network_grid(vol, prep.BME_SPACING_MM)
        region = prep.labels_to_grid((quadrants > 0).astype(np.int16), vol, grid).astype(np.float32)
        x = np.concatenate([grid.array, region], axis=1)
        prob = _softmax(predict(self.bme, x, batch_size=self.batch_size))[:, 1:2]
        p = prep.probabilities_to_scan(grid.unpad(prob)[0], grid, vol)
        p = np.where(quadrants > 0, p, 0.0).astype(np.float32)
        return _drop_specks(p >= threshold, vol.spacing, MIN_LESION_MM2), p

    def run(self, stir: Volume, check_orientation: bool = True, slices=None) -> SIJResult:
        """Run every step on one STIR series (a Volume) and return a :class:`SIJResult`."""
        vol = prep.canonical(stir)
        if check_orientation:
            prep.check_semicoronal(vol)
        bones, quads = self.joint_quadrants(vol)
        voxel_ml = float(np.prod(vol.spacing)) / 1000.0
        bme, p_bme = self.segment_bme(vol, quads)
        arr = np.asarray(vol.array, dtype=np.float32)
        ref, vessels = vessel_reference(arr, bones, vol.spacing)
        if not np.isfinite(ref):
            ref = float(np.percentile(arr, 99.5))  # no vessel found: the brightest signal
        sparcc = sparcc_sij_from_maps(arr, bme, quads, ref, vol.spacing, slices=slices)
        asas = asas_mri_positive_from_maps(bme, quads)
        feats = {"sparcc_total": float(sparcc["total"] if sparcc.get("total") is not None else
                                       sparcc.get("partial_total", 0)),
                 "bme_ml": float(bme.sum() * voxel_ml), "asas_positive": float(bool(asas.get("positive")))}
        return SIJResult(stir=vol, bones=bones, quadrants=quads, bme=bme, bme_probability=p_bme,
                         vessels=vessels, vessel_signal=ref, sparcc=sparcc, asas=asas,
                         p_active=self.probability(feats), features=feats)

    def probability(self, feats: dict) -> float:
        """Probability of active sacroiliitis from the image features (NaN without a model)."""
        if not self.classifier:
            return float("nan")
        x = np.array([feats[n] for n in self.classifier["features"]], dtype=np.float64)
        z = (x - np.asarray(self.classifier["mean"])) / np.asarray(self.classifier["scale"])
        eta = self.classifier["intercept"] + float(np.dot(self.classifier["coef"], z))
        return float(1.0 / (1.0 + np.exp(-eta)))


def _drop_specks(mask: np.ndarray, spacing, min_area_mm2: float) -> np.ndarray:
    """Remove in-plane connected components smaller than ``min_area_mm2`` on every slice."""
    from scipy import ndimage

    out = mask.copy()
    pixel = spacing[0] * spacing[1]
    for k in range(mask.shape[2]):
        lab, n = ndimage.label(mask[..., k])
        if n:
            area = np.bincount(lab.ravel())[1:] * pixel
            small = np.flatnonzero(area < min_area_mm2) + 1
            out[..., k][np.isin(lab, small)] = False
    return out


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def ridge_logistic(Z: np.ndarray, y, l2: float = 1.0) -> np.ndarray:
    """``[intercept, coef...]`` of a logistic model with an L2 penalty ``l2`` on the
    coefficients (not the intercept), by Newton steps; ``Z`` is (n, p), standardized."""
    Z1 = np.column_stack([np.ones(len(Z)), Z])
    y = np.asarray(y, dtype=np.float64)
    pen = np.r_[0.0, np.full(Z1.shape[1] - 1, l2)]
    beta = np.zeros(Z1.shape[1])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-Z1 @ beta))
        hess = (Z1 * (p * (1 - p))[:, None]).T @ Z1 + np.diag(pen)
        step = np.linalg.solve(hess, Z1.T @ (y - p) - pen * beta)
        beta += step
        if np.max(np.abs(step)) < 1e-10:
            break
    return beta


def fit_activity_model(features: list, labels, l2: float = 1.0) -> dict:
    """Ridge-penalised logistic model of active sacroiliitis on standardized image features.

    The penalty keeps the model finite when the training phantoms separate
    perfectly (an unpenalised fit would diverge).  Returns the JSON-able
    model that :meth:`SIJMRIPipeline.probability` applies.
    """
    X = np.array([[f[n] for n in FEATURES] for f in features], dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale == 0] = 1.0
    beta = ridge_logistic((X - mean) / scale, y, l2)
    return {"features": list(FEATURES), "mean": mean.tolist(), "scale": scale.tolist(),
            "intercept": float(beta[0]), "coef": beta[1:].tolist(), "l2": l2,
            "model": "ridge logistic regression on standardized features"}
