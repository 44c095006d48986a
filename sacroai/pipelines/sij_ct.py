"""SIJ CT: modified New York grades, erosion and ankylosis calls and Grad-CAM++ maps from a pelvic CT.

Steps (:meth:`SIJCTPipeline.run`):

1. input checks: a 3-D CT in Hounsfield units (air near -1000 HU, bone above
   300 HU) with voxels of 0.2-6 mm;
2. bone segmentation (sacrum, left and right hip bone) and the two joints'
   contact zones (:mod:`sacroai.pipelines.sij_ct_seg`, injectable);
3. one region of interest per joint: ``ROI_SHAPE`` voxels of ``ROI_SPACING_MM``
   (50 × 60 × 70 mm) centred on the contact zone, the left joint mirrored in x
   so that both run medial (sacrum) → lateral (ilium) along the first axis,
   windowed with the bone window (level 400, width 1800 HU) to [-1, 1];
4. a 3-D CNN grades each joint on the modified New York scale (5-class
   softmax); the 3-class probabilities (0-I / II / III-IV) are sums of it;
5. the patient's radiographic criterion from both grades with
   :func:`sacroai.scores.mny` (a joint not found is passed as ``None``);
6. two 2-D CNNs score each axial ROI slice for erosion and for ankylosis
   (bone bridging); a patient is positive when any joint has at least ``k``
   slices with probability >= ``threshold`` (defaults from the weights' cards,
   chosen on validation phantoms);
7. Grad-CAM++ maps of the grade and of the positive slices, as Volumes on
   the input grid.

Every result carries an audit trail.  The shipped weights were trained on
CT phantoms only (see the model cards); they must be retrained on annotated
patient scans before any clinical use.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from ..nn.inference import predict
from ..nn.models import CNN3D
from ..nn.weights import load_weights, read_model_card
from ..transforms import ct_window
from ..volume import Volume

WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "weights")
GRADER_FILE = "sij_ct_grader.safetensors"
EROSION_FILE = "sij_ct_erosion.safetensors"
ANKYLOSIS_FILE = "sij_ct_ankylosis.safetensors"
SIDES = ("left", "right")
ROI_SHAPE = (40, 48, 28)              # medial->lateral, posterior->anterior, inferior->superior (voxels)
ROI_SPACING_MM = (1.25, 1.25, 2.5)
WINDOW_HU = (400.0, 1800.0)          # bone window: level, width
DEFAULT_RULE = {"k": 2, "threshold": 0.5}
GRADE_NAMES = ("0 normal", "I suspicious", "II minimal", "III moderate", "IV ankylosis")
CLASS3_NAMES = ("0-I", "II", "III-IV")
MIN_SPACING_MM, MAX_SPACING_MM = 0.2, 6.0


def grader_model(rng=0) -> CNN3D:
    """3-D CNN: 1 channel (windowed ROI, ``ROI_SHAPE``) -> 5 logits (mNY grades 0-4)."""
    return CNN3D(spatial_dims=3, in_channels=1, num_classes=5, channels=(8, 16, 32, 64), dropout=0.3, rng=rng)


def slice_model(rng=0) -> CNN3D:
    """2-D CNN: 1 channel (one axial ROI slice, ``ROI_SHAPE[:2]``) -> 2 logits (absent, present)."""
    return CNN3D(spatial_dims=2, in_channels=1, num_classes=2, channels=(8, 16, 32, 32), dropout=0.3, rng=rng)


GRADER_CAM_LAYER = "features.block3.relu"
SLICE_CAM_LAYER = "features.block2.relu"


# ---------------------------------------------------------------- input checks and ROI geometry

def check_ct(ct) -> Volume:
    """Validate a pelvic CT in HU; returns it.  Raises TypeError/ValueError naming ``ct``."""
    if not isinstance(ct, Volume):
        raise TypeError(f"ct must be a sacroai.Volume (a 3-D CT in HU with its affine), not {type(ct).__name__}")
    if len(ct.spatial_shape) != 3 or ct.array.ndim != 3:
        raise ValueError(f"ct must be a 3-D volume (one channel), got array shape {tuple(ct.array.shape)}; "
                         f"the pipeline needs an axial pelvic CT in Hounsfield units")
    sp = np.asarray(ct.spacing, dtype=np.float64)
    if not np.all(np.isfinite(sp)) or np.any(sp < MIN_SPACING_MM) or np.any(sp > MAX_SPACING_MM):
        raise ValueError(f"ct: voxel size {tuple(round(float(s), 3) for s in sp)} mm is implausible; the pipeline "
                         f"needs voxels of {MIN_SPACING_MM}-{MAX_SPACING_MM} mm (slices <= {MAX_SPACING_MM} mm)")
    arr = np.asarray(ct.array)
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"ct must hold real numbers (HU), got dtype {arr.dtype}")
    sample = arr[::2, ::2, ::2].astype(np.float32)
    if not np.all(np.isfinite(sample)):
        raise ValueError("ct contains NaN or infinite values; the pipeline needs a CT in Hounsfield units")
    lo, hi = (float(v) for v in np.percentile(sample, [1, 99.9]))
    bone = float(np.mean(sample > 300.0))
    if lo > -800.0 or hi < 300.0 or bone < 1e-3:
        raise ValueError(f"ct: intensities look like MR (1st-99.9th percentile {lo:.0f} to {hi:.0f}, "
                         f"{100 * bone:.2f} % of voxels above 300); the pipeline needs a CT in Hounsfield units "
                         f"(air ≈ -1000 HU, bone > 300 HU)")
    if min(s * n for s, n in zip(sp, ct.spatial_shape)) < 60.0:
        raise ValueError(f"ct: the field of view {tuple(round(float(s * n)) for s, n in zip(sp, ct.spatial_shape))}"
                         f" mm is too small; the pipeline needs a pelvic CT covering both sacroiliac joints")
    return ct


def roi_affine(centre_mm, side: str, ct: Volume | None = None) -> np.ndarray:
    """Voxel -> world affine of a joint's ROI grid (``ROI_SHAPE`` at ``ROI_SPACING_MM``).

    The first axis runs medial -> lateral on both sides (mirrored for the left
    joint).  With ``ct`` the ROI's first voxel is snapped to the nearest CT voxel centre, so
    a CT on the ROI spacing is sampled without interpolation.
    """
    c = np.asarray(centre_mm, dtype=np.float64)
    sign = -1.0 if side == "left" else 1.0
    a = np.diag([sign * ROI_SPACING_MM[0], ROI_SPACING_MM[1], ROI_SPACING_MM[2], 1.0])
    a[:3, 3] = c - a[:3, :3] @ ((np.asarray(ROI_SHAPE, dtype=np.float64) - 1) / 2.0)
    if ct is not None:  # the ROI's first voxel on a voxel centre of the CT
        a[:3, 3] = ct.world(np.round(ct.index(a[:3, 3])))
    return a


def crop_roi(ct: Volume, affine_roi: np.ndarray, cval: float = -1000.0) -> np.ndarray:
    """HU of ``ct`` on a ROI grid (float32, ``ROI_SHAPE``), trilinear, air outside the scan."""
    m = np.linalg.inv(np.asarray(ct.affine, dtype=np.float64)) @ affine_roi
    arr = np.asarray(ct.array, dtype=np.float32)
    return ndimage.affine_transform(arr, m[:3, :3], offset=m[:3, 3], output_shape=ROI_SHAPE, order=1,
                                    cval=cval, mode="constant").astype(np.float32)


def roi_to_input(values: np.ndarray, affine_roi: np.ndarray, ct: Volume) -> np.ndarray:
    """A map on a ROI grid resampled (trilinear, 0 outside) onto ``ct``'s grid."""
    m = np.linalg.inv(affine_roi) @ np.asarray(ct.affine, dtype=np.float64)
    return ndimage.affine_transform(np.asarray(values, dtype=np.float32), m[:3, :3], offset=m[:3, 3],
                                    output_shape=tuple(ct.spatial_shape), order=1, cval=0.0, mode="constant")


def normalize(hu: np.ndarray) -> np.ndarray:
    """Bone window (level 400, width 1800 HU) mapped to [-1, 1], float32."""
    return np.asarray(ct_window(np.asarray(hu, dtype=np.float32), WINDOW_HU[0], WINDOW_HU[1],
                                out_range=(-1.0, 1.0)), dtype=np.float32)


def collapse3(p5: np.ndarray) -> np.ndarray:
    """5-grade probabilities (..., 5) -> 3-class (..., 3): 0-I, II, III-IV."""
    p5 = np.asarray(p5)
    return np.stack([p5[..., 0] + p5[..., 1], p5[..., 2], p5[..., 3] + p5[..., 4]], axis=-1)


def patient_rule(slice_probs: dict, k: int, threshold: float) -> dict:
    """``positive`` if any joint has at least ``k`` slices with probability >= ``threshold``.

    ``slice_probs``: side -> 1-D slice probabilities (a missing joint: None).
    Returns ``positive``, ``k``, ``threshold`` and ``n_positive_slices`` per side.
    """
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be at least 1 positive slice, got {k}")
    if not 0.0 < float(threshold) < 1.0:
        raise ValueError(f"threshold must be a slice probability in (0, 1), got {threshold}")
    n = {s: (None if p is None else int(np.sum(np.asarray(p) >= threshold))) for s, p in slice_probs.items()}
    return {"positive": any(v is not None and v >= k for v in n.values()), "k": k, "threshold": float(threshold),
            "n_positive_slices": n}


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float64)


# ---------------------------------------------------------------- result

@dataclass
class SIJCTResult:
    """One CT's results.  ``joints[side]`` holds ``found``, ``grade`` (0-4 or None), ``p_grade`` (5),
    ``p_class3`` (3), ``class3``, ``centre_mm``, ``roi_affine``, ``roi_slices`` (input slice index of each ROI
    slice), ``p_erosion`` / ``p_ankylosis`` per ROI slice.  Maps are Volumes on the input grid."""

    ct: Volume
    labels: Volume
    joints: dict
    mny: dict
    erosion: dict
    ankylosis: dict
    cams: dict = field(default_factory=dict)
    audit: list = field(default_factory=list)

    def summary(self) -> dict:
        """JSON-friendly per-patient summary with the audit trail."""
        joints = {}
        for s, j in self.joints.items():
            joints[s] = {"found": j["found"], "grade": j["grade"], "class3": j["class3"],
                         "p_grade": None if j["p_grade"] is None else [float(v) for v in j["p_grade"]],
                         "p_class3": None if j["p_class3"] is None else [float(v) for v in j["p_class3"]],
                         "centre_mm": None if j["centre_mm"] is None else [float(v) for v in j["centre_mm"]],
                         "erosion_slices": j.get("erosion_slices", []),
                         "ankylosis_slices": j.get("ankylosis_slices", [])}
        return {"joints": joints, "mny": dict(self.mny),
                "radiographic_criterion": self.mny.get("radiographic_criterion"),
                "erosion": dict(self.erosion), "ankylosis": dict(self.ankylosis), "audit": list(self.audit)}

    def overlay(self, path: str | None = None, which: str = "grader"):
        """Figure: per joint, the axial slice with the most Grad-CAM++ mass of ``which``
        ("grader", "erosion" or "ankylosis") with the map over the CT (bone window)."""
        from ..plotting._mpl import pyplot
        from ..plotting.displays import overlay_heatmap

        if which not in ("grader", "erosion", "ankylosis"):
            raise ValueError(f"which must be 'grader', 'erosion' or 'ankylosis', got {which!r}")
        plt = pyplot()
        fig, axes = plt.subplots(1, 2, figsize=(7.0, 3.8), squeeze=False)
        ct = np.asarray(self.ct.array, dtype=np.float32)
        cam = self.cams.get(which)
        cam_arr = None if cam is None else np.asarray(cam.array)
        for ax, side in zip(axes[0], SIDES):
            j = self.joints[side]
            ax.axis("off")
            if not j["found"]:
                ax.set_title(f"{side}: joint not found", fontsize=8)
                continue
            k = int(round(self.ct.index(j["centre_mm"])[2]))
            if cam_arr is not None:
                i0 = int(round(self.ct.index(j["centre_mm"])[0]))
                half = ct.shape[0] // 2
                part = cam_arr[:half] if i0 < half else cam_arr[half:]
                mass = part.sum(axis=(0, 1))
                if mass.max() > 0:
                    k = int(np.argmax(mass))
            img = np.clip((ct[..., k] + 500.0) / 1800.0, 0, 1).T
            if cam_arr is not None:
                overlay_heatmap(img, cam_arr[..., k].T, ax=ax)
            else:
                ax.imshow(img, cmap="gray", origin="lower")
            ic, jc = (int(round(v)) for v in self.ct.index(j["centre_mm"])[:2])
            half = int(round(45.0 / self.ct.spacing[0]))  # a 90 mm field around the joint
            ax.set_xlim(ic - half, ic + half)
            ax.set_ylim(jc - half, jc + half)
            ax.set_title(f"{side}: grade {j['grade']}  slice {k}", fontsize=8)
        crit = self.mny.get("radiographic_criterion")
        fig.suptitle(f"mNY criterion {crit}; erosion {self.erosion.get('positive')}, "
                     f"ankylosis {self.ankylosis.get('positive')}  (Grad-CAM++ {which})", fontsize=9)
        fig.tight_layout()
        if path:
            fig.savefig(path, dpi=110)
            plt.close(fig)
        return fig


# ---------------------------------------------------------------- pipeline

def _coarser_than_training(ct: Volume) -> str:
    """A warning when the CT's voxels are much coarser than the ROI grid the networks learned on."""
    sp = sorted(float(v) for v in ct.spacing)
    in_plane, through = max(sp[:2]), sp[2]
    if in_plane > 1.6 * ROI_SPACING_MM[0] or through > 1.6 * ROI_SPACING_MM[2]:
        return (f"voxels of {in_plane:.2g} mm in plane and {through:.2g} mm between slices are coarser than the "
                f"{ROI_SPACING_MM[0]} x {ROI_SPACING_MM[1]} x {ROI_SPACING_MM[2]} mm the grader and slice detectors "
                f"were trained on: the joint ROIs are reliable, the grades and erosion/ankylosis calls are not "
                f"(a thin-slice reconstruction, <= 1.25 mm in plane and <= 2.5 mm slices, is needed)")
    return ""


class SIJCTPipeline:
    """The SIJ CT pipeline: segmenter, mNY grader, erosion and ankylosis slice detectors.

    ``segmenter`` needs ``segment(ct) -> Volume`` (labels 0-3); ``joint_rois`` is
    the function that turns labels into joint centres (default the one of
    :mod:`sacroai.pipelines.sij_ct_seg`), called with ``contact_mm``.  ``erosion_rule`` / ``ankylosis_rule``
    are ``{"k": int, "threshold": float}``.
    """

    def __init__(self, segmenter, grader, erosion, ankylosis, *, erosion_rule=None, ankylosis_rule=None,
                 joint_rois=None, contact_mm: float = 7.0, batch_size: int = 28):
        self.segmenter = segmenter
        self.grader = grader
        self.erosion_net = erosion
        self.ankylosis_net = ankylosis
        self.erosion_rule = dict(erosion_rule or DEFAULT_RULE)
        self.ankylosis_rule = dict(ankylosis_rule or DEFAULT_RULE)
        if joint_rois is None:
            from .sij_ct_seg import joint_rois
        self.joint_rois = joint_rois
        self.contact_mm = float(contact_mm)  # > the widest joint space of grade III (5 mm)
        self.batch_size = int(batch_size)

    @classmethod
    def from_weights(cls, path: str | None = None, segmenter=None, **kwargs) -> "SIJCTPipeline":
        """Load the shipped weights (``weights/`` of the package by default) and their rules."""
        folder = path or WEIGHTS_DIR
        files = (GRADER_FILE, EROSION_FILE, ANKYLOSIS_FILE)
        missing = [f for f in files if not os.path.exists(os.path.join(folder, f))]
        if missing:
            raise FileNotFoundError(f"SIJ CT weights {missing} not found in {folder}; "
                                    f"train them with `python weights/train_sij_ct.py`")
        nets = []
        for f, make in zip(files, (grader_model, slice_model, slice_model)):
            m = make()
            load_weights(m, os.path.join(folder, f))
            m.eval()
            nets.append(m)
        rules = {}
        for name, f in (("erosion_rule", EROSION_FILE), ("ankylosis_rule", ANKYLOSIS_FILE)):
            card = read_model_card(os.path.join(folder, f)) or {}
            if "patient_rule" in card:
                rules[name] = {"k": int(card["patient_rule"]["k"]),
                               "threshold": float(card["patient_rule"]["threshold"])}
        if segmenter is None:
            from .sij_ct_seg import CTBoneSegmenter
            segmenter = CTBoneSegmenter.from_weights()
        return cls(segmenter, *nets, **{**rules, **kwargs})

    @staticmethod
    def cards(path: str | None = None) -> dict:
        folder = path or WEIGHTS_DIR
        return {f: read_model_card(os.path.join(folder, f)) for f in (GRADER_FILE, EROSION_FILE, ANKYLOSIS_FILE)}

    # ------------------------------------------------------------ steps
    def rois(self, ct: Volume, centres: dict) -> dict:
        """Per side with a centre: ``(affine, windowed ROI (ROI_SHAPE), input slice index per ROI slice)``."""
        out = {}
        for side in SIDES:
            c = centres.get(side)
            if c is None:
                continue
            a = roi_affine(c, side, ct)
            zs = (a @ np.c_[np.zeros((ROI_SHAPE[2], 2)), np.arange(ROI_SHAPE[2]), np.ones(ROI_SHAPE[2])].T)[:3].T
            ks = ct.index(zs)[:, 2]
            out[side] = (a, normalize(crop_roi(ct, a)), [float(v) for v in ks])
        return out

    def grade(self, x: np.ndarray) -> np.ndarray:
        """5-grade probabilities (n, 5) of windowed ROIs ``x`` (n, *ROI_SHAPE)."""
        return _softmax(predict(self.grader, np.asarray(x, np.float32)[:, None], batch_size=2))

    def slice_probabilities(self, net, x: np.ndarray) -> np.ndarray:
        """Probability per axial slice (n, ROI_SHAPE[2]) of windowed ROIs ``x`` (n, *ROI_SHAPE)."""
        x = np.asarray(x, np.float32)
        n, _, _, nk = x.shape
        sl = np.ascontiguousarray(np.moveaxis(x, 3, 1).reshape(n * nk, 1, *x.shape[1:3]))
        return _softmax(predict(net, sl, batch_size=self.batch_size))[:, 1].reshape(n, nk)

    def run(self, ct: Volume, *, explain: bool = True, labels: Volume | None = None) -> SIJCTResult:
        """Run every step on one CT (a Volume in HU) and return a :class:`SIJCTResult`.

        ``labels``: a bone label map to use instead of the segmenter's (e.g. ground truth).
        ``explain=False`` skips the Grad-CAM++ maps.
        """
        from ..scores import mny

        ct = check_ct(ct)
        audit = [f"input: shape {tuple(ct.spatial_shape)}, voxel {tuple(round(float(s), 3) for s in ct.spacing)} mm, "
                 f"orientation {ct.orientation}"]
        coarse = _coarser_than_training(ct)
        if coarse:
            audit.append(f"warning: {coarse}")
        if labels is None:
            if self.segmenter is None:
                raise ValueError("labels: this pipeline has no segmenter, so it needs bone labels (0 background, "
                                 "1 sacrum, 2 left hip bone, 3 right hip bone) on the CT grid")
            labels = self.segmenter.segment(ct)
            audit.append(f"segmentation: {type(self.segmenter).__name__}")
        else:
            audit.append("segmentation: labels given by the caller")
        if tuple(labels.spatial_shape) != tuple(ct.spatial_shape):
            raise ValueError(f"labels shape {tuple(labels.spatial_shape)} differs from the ct's "
                             f"{tuple(ct.spatial_shape)}; the pipeline needs labels on the CT grid")
        found = self.joint_rois(labels, contact_mm=self.contact_mm)
        centres = {s: (found[s]["centre_mm"] if found[s]["found"] else None) for s in SIDES}
        for s in SIDES:
            audit.append(f"{s} joint: " + (f"contact zone {found[s]['n_contact_voxels']} voxels, centre "
                                           f"{tuple(round(v, 1) for v in centres[s])} mm" if centres[s] is not None
                                           else "not found (no sacrum / hip bone contact)"))
        if all(c is None for c in centres.values()):
            raise ValueError("ct: no sacroiliac joint found (the segmentation gives no contact between sacrum and "
                             "either hip bone); the pipeline needs a pelvic CT in HU covering both sacroiliac joints")
        rois = self.rois(ct, centres)
        present = [s for s in SIDES if s in rois]
        x = np.stack([rois[s][1] for s in present])
        p5 = self.grade(x)
        pe = self.slice_probabilities(self.erosion_net, x)
        pa = self.slice_probabilities(self.ankylosis_net, x)
        joints = {}
        for s in SIDES:
            if s not in rois:
                joints[s] = {"found": False, "grade": None, "class3": None, "p_grade": None, "p_class3": None,
                             "centre_mm": None, "roi_affine": None, "roi_slices": None, "p_erosion": None,
                             "p_ankylosis": None}
                continue
            i = present.index(s)
            p3 = collapse3(p5[i])
            joints[s] = {"found": True, "grade": int(np.argmax(p5[i])), "class3": int(np.argmax(p3)),
                         "p_grade": p5[i], "p_class3": p3, "centre_mm": centres[s], "roi_affine": rois[s][0],
                         "roi_slices": rois[s][2], "p_erosion": pe[i], "p_ankylosis": pa[i]}
        score = mny(left=joints["left"]["grade"], right=joints["right"]["grade"])
        ero = patient_rule({s: joints[s]["p_erosion"] for s in SIDES}, **self.erosion_rule)
        ank = patient_rule({s: joints[s]["p_ankylosis"] for s in SIDES}, **self.ankylosis_rule)
        for s in present:
            j = joints[s]
            for name, rule in (("erosion", ero), ("ankylosis", ank)):
                pos = np.flatnonzero(j[f"p_{name}"] >= rule["threshold"])
                j[f"{name}_slices"] = [int(round(j["roi_slices"][r])) for r in pos]
            audit.append(f"{s} joint: grade {j['grade']} (p {j['p_grade'].max():.2f}), "
                         f"{len(j['erosion_slices'])} erosion slices {j['erosion_slices']}, "
                         f"{len(j['ankylosis_slices'])} ankylosis slices {j['ankylosis_slices']}")
        audit.append(f"mNY: radiographic criterion {score.get('radiographic_criterion')} ({score.get('status')})")
        audit.append(f"erosion: positive {ero['positive']} (any joint with >= {ero['k']} slices at p >= "
                     f"{ero['threshold']})")
        audit.append(f"ankylosis: positive {ank['positive']} (any joint with >= {ank['k']} slices at p >= "
                     f"{ank['threshold']})")
        res = SIJCTResult(ct=ct, labels=labels, joints=joints, mny=score, erosion=ero, ankylosis=ank, audit=audit)
        if explain:
            res.cams = self.explain(ct, joints, rois, ero, ank)
        return res

    def explain(self, ct: Volume, joints: dict, rois: dict, ero: dict, ank: dict) -> dict:
        """Grad-CAM++ Volumes on the input grid: the grader's predicted grade per joint, and the
        slice detectors' positive class on the slices at or above their threshold."""
        from ..explain import grad_cam_plus_plus

        shape = tuple(ct.spatial_shape)
        maps = {"grader": np.zeros(shape, np.float32), "erosion": np.zeros(shape, np.float32),
                "ankylosis": np.zeros(shape, np.float32)}
        for s, (a, x, _) in rois.items():
            cam = grad_cam_plus_plus(self.grader, x[None, None], GRADER_CAM_LAYER, class_index=joints[s]["grade"])
            maps["grader"] = np.maximum(maps["grader"], roi_to_input(cam, a, ct))
            for name, net, rule in (("erosion", self.erosion_net, ero), ("ankylosis", self.ankylosis_net, ank)):
                p = joints[s][f"p_{name}"]
                stack = np.zeros(ROI_SHAPE, np.float32)
                for r in np.flatnonzero(p >= rule["threshold"]):
                    stack[..., r] = grad_cam_plus_plus(net, np.ascontiguousarray(x[None, None, :, :, r]),
                                                       SLICE_CAM_LAYER, class_index=1) * float(p[r])
                if stack.any():
                    maps[name] = np.maximum(maps[name], roi_to_input(stack, a, ct))
        return {k: Volume(v, ct.affine) for k, v in maps.items()}
