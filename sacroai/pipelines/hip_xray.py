"""Hip OA on AP pelvis radiographs: per-hip crops → multi-task DenseNet → OARSI features → Croft and K-L.

Steps (:meth:`HipXrayPipeline.run`):

1. check the input: a 2-D radiograph Volume with a known pixel spacing
   (:func:`sacroai.pipelines.hip_xray_prep.check_radiograph`; files are read by
   :func:`sacroai.io.radiograph.load_radiograph`, which turns MONOCHROME1 into
   bone-bright values);
2. locate both femoral heads (circle Hough transform, 1 mm grid) and crop
   each hip: a fixed 83.2 mm square at 0.8 mm pixels (104 × 104), z-scored,
   the left hip mirrored so both crops show the lateral side on the left;
3. a multi-task DenseNet (one backbone, five heads) grades each crop;
4. the feature grades give the Croft grade through ``sacroai.scores.oarsi_hip``
   and a K-L grade through the rule named below, then ``sacroai.scores.kl``.

The five heads and how they map to the OARSI atlas keys (SCORES.md 7.2)
-------------------------------------------------------------------------
=========================  =======  ===================================================
head                       classes  target (from the OARSI keys)
=========================  =======  ===================================================
``femoral_osteophytes``    0-3      ``max(fos_superior, fos_inferior)``
``acetabular_osteophytes`` 0-3      ``max(aos_superior, aos_inferior)`` (aos_inferior is 0/1)
``jsn``                    0-3      ``max(jsn_superior, jsn_medial)``
``sclerosis``              0/1      ``sclerosis``
``cysts``                  0/1      ``cysts``
=========================  =======  ===================================================

The heads grade the worst site of each feature, so the per-site OARSI sums
(``osteophyte_sum`` 0-10, ``jsn_sum`` 0-6) are **not** recoverable and the
pipeline does not report them.  Femoral-head deformity has no head.

Hip grade (Croft, SCORES.md 7.3)
--------------------------------
Croft depends only on which features are present, so it is computed exactly
from the heads: the five grades are passed to ``sacroai.scores.oarsi_hip`` as
``fos_superior = femoral``, ``aos_superior = acetabular``, ``jsn_superior =
jsn``, ``sclerosis``, ``cysts`` (other sites 0) with
``femoral_head_deformity = False``, because deformity is not assessed.
Consequently the pipeline's Croft grade is 0-4: a hip whose true Croft grade
is 5 (grade 4 plus deformity) is reported as 4.  ``rhoa_croft`` (Croft ≥ 3)
is unaffected.

K-L grade: which rule
---------------------
SCORES.md 7.3: no validated published rule converts OARSI features into a
K-L grade, and ``sacroai.scores.kl`` only takes a grade.  The K-L grade reported
here is the **phantom convention** :func:`sacroai.phantoms.hip_xray.implied_kl`
(written from the K-L hip wording of SCORES.md 7.1) **applied to the predicted
feature grades**; that rule uses only the worst osteophyte grade, the worst
narrowing grade, sclerosis and cysts, so the five heads determine it exactly.
It is the label the phantoms carry, not a clinical K-L reading: on patient
radiographs it is a feature-derived surrogate.  The grade is then passed to
``sacroai.scores.kl`` for ``radiographic_oa`` (K-L ≥ 2) and the label.

Limits of the shipped weights: trained on phantoms only (see the model card,
``weights/hip_xray_multitask.json``); retrain on annotated radiographs before
any use on patients.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from ..nn.inference import predict
from ..nn.losses import CrossEntropyLoss
from ..nn.models import DenseNet, MultiTask
from ..nn.weights import load_weights, read_model_card
from ..volume import Volume
from . import hip_xray_prep as prep

WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "weights")
WEIGHTS_FILE = "hip_xray_multitask.safetensors"
HEADS = OrderedDict([("femoral_osteophytes", 4), ("acetabular_osteophytes", 4), ("jsn", 4),
                     ("sclerosis", 2), ("cysts", 2)])
HEAD_SOURCES = {"femoral_osteophytes": ("fos_superior", "fos_inferior"),
                "acetabular_osteophytes": ("aos_superior", "aos_inferior"),
                "jsn": ("jsn_superior", "jsn_medial"), "sclerosis": ("sclerosis",), "cysts": ("cysts",)}
BACKBONE = {"growth_rate": 8, "block_config": (2, 4, 6, 4), "num_init_features": 16, "bn_size": 4}
ARCHITECTURE = ("MultiTask(DenseNet(growth_rate=8, block_config=(2, 4, 6, 4), num_init_features=16, bn_size=4, "
                "num_classes=0, spatial_dims=2, in_channels=1), heads femoral_osteophytes 4, "
                "acetabular_osteophytes 4, jsn 4, sclerosis 2, cysts 2 (Linear on the 68 pooled features))")
KL_RULE = ("phantom convention sacroai.phantoms.hip_xray.implied_kl applied to the predicted feature grades "
           "(not a validated clinical rule; SCORES.md 7.3)")
CAM_LAYER = "backbone.features.denseblock3"   # Grad-CAM++ target (6 x 6 for a 104-pixel crop)
MIN_HEAD_SCORE = 0.45   # circle support (prep.circle_support) below which no femoral head was found; phantoms 0.5-1, noise < 0.35


def heads_from_oarsi(features: dict) -> dict:
    """The five head targets of one hip's OARSI feature dict (the mapping in the module docstring)."""
    missing = [k for keys in HEAD_SOURCES.values() for k in keys if k not in features]
    if missing:
        raise ValueError(f"features is missing the OARSI keys {missing}")
    return {head: int(max(int(features[k]) for k in keys)) for head, keys in HEAD_SOURCES.items()}


def _check_grades(grades: dict) -> dict:
    out = {}
    for head, k in HEADS.items():
        if head not in grades:
            raise ValueError(f"grades is missing the head {head!r}; heads are {list(HEADS)}")
        v = grades[head]
        if isinstance(v, (bool, np.bool_)):
            v = int(v)
        if not isinstance(v, (int, np.integer)) or not 0 <= v < k:
            raise ValueError(f"grades[{head!r}] must be an integer 0..{k - 1}, got {v!r}")
        out[head] = int(v)
    return out


def hip_grade(grades: dict) -> dict:
    """Croft grade of one hip from the five head grades, via ``sacroai.scores.oarsi_hip``.

    Returns ``{"croft_grade": 0-4 or None, "rhoa_croft": bool or None, "warnings": [...],
    "deformity_assessed": False}`` (see the module docstring: Croft 5 is reported as 4).
    """
    from ..scores import oarsi_hip

    g = _check_grades(grades)
    r = oarsi_hip(fos_superior=g["femoral_osteophytes"], fos_inferior=0, aos_superior=g["acetabular_osteophytes"],
                  aos_inferior=0, jsn_superior=g["jsn"], jsn_medial=0, sclerosis=bool(g["sclerosis"]),
                  cysts=bool(g["cysts"]), femoral_head_deformity=False)
    if r.get("status") not in ("ok", "incomplete"):  # incomplete: Croft undefined (sclerosis or cysts alone)
        raise ValueError(f"oarsi_hip rejected the grades {g}: {r}")
    return {"croft_grade": r["croft_grade"], "rhoa_croft": r["rhoa_croft"], "warnings": r["warnings"],
            "deformity_assessed": False}


def kl_from_grades(grades: dict) -> dict:
    """K-L grade of one hip by :data:`KL_RULE`, with ``sacroai.scores.kl``'s ``radiographic_oa`` and label."""
    from ..phantoms.hip_xray import implied_kl
    from ..scores import kl

    g = _check_grades(grades)
    grade = implied_kl({"fos_superior": g["femoral_osteophytes"], "aos_superior": g["acetabular_osteophytes"],
                        "jsn_superior": g["jsn"], "sclerosis": g["sclerosis"], "cysts": g["cysts"]})
    r = kl(grade=grade)
    return {"grade": grade, "radiographic_oa": r["radiographic_oa"], "label": r["label"], "rule": KL_RULE}


class HipNet(MultiTask):
    """:class:`MultiTask` whose output is the heads' logits concatenated along axis 1.

    ``forward(x [N, 1, 104, 104]) -> [N, 16]`` (4 + 4 + 4 + 2 + 2 logits, heads in
    :data:`HEADS` order), so the training loop, ``predict`` and Grad-CAM see one array;
    the state-dict keys are MultiTask's (``backbone.*``, ``heads.<name>.*``).
    """

    def forward(self, x):
        return np.ascontiguousarray(np.concatenate(list(super().forward(x).values()), axis=1))

    def backward(self, grad_out):
        g = np.asarray(grad_out, dtype=np.float32)
        return super().backward(OrderedDict((name, np.ascontiguousarray(g[:, sl]))
                                            for name, sl in head_slices().items()))


def head_slices() -> dict:
    """Column slices of each head in :class:`HipNet`'s output."""
    out, start = OrderedDict(), 0
    for name, k in HEADS.items():
        out[name] = slice(start, start + k)
        start += k
    return out


def hip_model(rng=0, **backbone) -> HipNet:
    """The multi-task DenseNet: a small configured :class:`DenseNet` (growth 8, blocks (2, 4, 6, 4),
    16 stem features, 68 pooled features) and five Linear heads.  ``backbone`` overrides the
    DenseNet settings (the tests use a tiny one)."""
    cfg = dict(BACKBONE, **backbone)
    net = DenseNet(cfg["growth_rate"], cfg["block_config"], cfg["num_init_features"], bn_size=cfg["bn_size"],
                   num_classes=0, spatial_dims=2, in_channels=1, rng=rng)
    return HipNet(net, dict(HEADS), rng=rng)


class HeadsLoss:
    """Weighted sum of the heads' cross-entropies for :class:`HipNet`'s concatenated logits.

    ``forward(logits [N, 16], targets [N, 5] int) -> float``; ``backward() -> [N, 16]``.
    ``class_weights`` maps a head to per-class weights (None: unweighted).
    """

    def __init__(self, weights=None, class_weights=None):
        weights = dict(weights or {})
        class_weights = dict(class_weights or {})
        self.weights = OrderedDict((k, float(weights.get(k, 1.0))) for k in HEADS)
        self.losses = OrderedDict((k, CrossEntropyLoss(weight=class_weights.get(k))) for k in HEADS)
        self._n = None

    def forward(self, logits, targets):
        logits = np.asarray(logits, dtype=np.float32)
        t = np.asarray(targets)
        if t.ndim != 2 or t.shape[1] != len(HEADS) or len(t) != len(logits):
            raise ValueError(f"targets must be (N, {len(HEADS)}) integer grades, got shape {t.shape}")
        self._n = logits.shape
        total = 0.0
        for j, (name, sl) in enumerate(head_slices().items()):
            total += self.weights[name] * float(self.losses[name].forward(logits[:, sl], t[:, j].astype(np.int64)))
        return total

    def __call__(self, logits, targets):
        return self.forward(logits, targets)

    def backward(self, grad=1.0):
        if self._n is None:
            raise RuntimeError("HeadsLoss.backward() called before forward()")
        g = np.zeros(self._n, np.float32)
        for name, sl in head_slices().items():
            g[:, sl] = np.asarray(self.losses[name].backward(1.0), np.float32) * np.float32(self.weights[name])
        return g * np.float32(grad)


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def grades_from_logits(logits: np.ndarray) -> tuple:
    """(grades [N, 5] int, probabilities {head: [N, K]}) from :class:`HipNet` logits [N, 16]."""
    logits = np.asarray(logits, dtype=np.float64)
    probs = OrderedDict((name, _softmax(logits[:, sl])) for name, sl in head_slices().items())
    grades = np.stack([p.argmax(axis=1) for p in probs.values()], axis=1).astype(np.int64)
    return grades, probs


@dataclass
class HipResult:
    """The pipeline's output for one AP pelvis radiograph.

    hips : per side ("right" = image left, "left" = image right) a dict with
        ``grades`` (the five heads), ``probabilities`` (per head, per class),
        ``hip_grade`` (Croft via sacroai.scores), ``kl`` (see KL_RULE),
        ``centre_mm`` (row, col of the femoral head), ``head_score``
    crops : per side the network input (104 × 104, 0.8 mm, lateral on the left)
    """

    radiograph: Volume
    hips: dict
    crops: dict
    cams: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """JSON-friendly summary: per hip the grades, probabilities, Croft, K-L and the crop centre."""
        out = {}
        for side, h in self.hips.items():
            out[side] = {"grades": dict(h["grades"]),
                         "probabilities": {k: [round(float(p), 4) for p in v] for k, v in h["probabilities"].items()},
                         "croft_grade": h["hip_grade"]["croft_grade"], "rhoa_croft": h["hip_grade"]["rhoa_croft"],
                         "croft_warnings": list(h["hip_grade"]["warnings"]),
                         "femoral_head_deformity_assessed": False,
                         "kl_grade": h["kl"]["grade"], "kl_radiographic_oa": h["kl"]["radiographic_oa"],
                         "kl_label": h["kl"]["label"],
                         "centre_mm": [round(float(c), 2) for c in h["centre_mm"]],
                         "head_score": round(float(h["head_score"]), 3)}
        out["kl_rule"] = KL_RULE
        out["sides"] = "right = the image's left, left = the image's right (AP display)"
        return out

    def overlay(self, path: str | None = None, head: str | None = None):
        """The radiograph with each crop's box, the grades, and (when computed) a Grad-CAM++ map per crop."""
        from ..plotting._mpl import pyplot
        plt = pyplot()
        img = np.asarray(self.radiograph.array, dtype=np.float64)
        sp = prep.pixel_spacing(self.radiograph)
        has_cam = bool(self.cams)
        fig, axes = plt.subplots(1, 3 if has_cam else 1, figsize=(13 if has_cam else 7, 4.6), squeeze=False)
        ax = axes[0, 0]
        ax.imshow(img, cmap="gray")
        half = prep.CROP_PX * prep.GRID_MM / 2.0
        for side, h in self.hips.items():
            r0, c0 = (h["centre_mm"][0] - half) / sp[0], (h["centre_mm"][1] - half) / sp[1]
            ax.add_patch(plt.Rectangle((c0, r0), 2 * half / sp[1], 2 * half / sp[0], fill=False, color="yellow",
                                       lw=0.8))
            g = h["grades"]
            ax.text(max(c0, 0), r0 - 4, f"{side}: FO{g['femoral_osteophytes']} AO{g['acetabular_osteophytes']} "
                                f"JSN{g['jsn']} S{g['sclerosis']} C{g['cysts']}\nCroft {h['hip_grade']['croft_grade']}"
                                f"  K-L {h['kl']['grade']}", color="yellow", fontsize=7, va="bottom")
        ax.set_title("AP pelvis (patient's right on the image's left)", fontsize=9)
        ax.axis("off")
        if has_cam:
            for ax, side in zip(axes[0, 1:], self.hips):
                cam = self.cams.get(side, {})
                name = head if head in cam else next(iter(cam), None)
                ax.imshow(self.crops[side], cmap="gray")
                if name is not None:
                    ax.imshow(cam[name], cmap="jet", alpha=0.35, vmin=0, vmax=1)
                ax.set_title(f"{side} hip crop (lateral left); Grad-CAM++ {name}", fontsize=8)
                ax.axis("off")
        fig.tight_layout()
        if path:
            fig.savefig(path, dpi=100)
            plt.close(fig)
        return fig


class HipXrayPipeline:
    """AP pelvis radiograph → per-hip OARSI feature grades, Croft grade and K-L (see the module docstring).

    ``model`` is a :class:`HipNet` (``hip_model()``); use :meth:`from_weights` for the shipped one.
    """

    def __init__(self, model: HipNet, batch_size: int = 2, card: dict | None = None):
        if not isinstance(model, HipNet):
            raise TypeError(f"model must be a HipNet (sacroai.pipelines.hip_xray.hip_model()), "
                            f"not {type(model).__name__}")
        self.model = model
        self.batch_size = int(batch_size)
        self.card = card

    @classmethod
    def from_weights(cls, path: str | None = None, **kwargs) -> "HipXrayPipeline":
        """Load the weights file ``path`` (a .safetensors file or a folder holding
        ``hip_xray_multitask.safetensors``; default the package's ``weights/``)."""
        path = path or WEIGHTS_DIR
        if os.path.isdir(path):
            path = os.path.join(path, WEIGHTS_FILE)
        if not os.path.exists(path):
            raise FileNotFoundError(f"hip radiograph weights not found: {path}; train them with "
                                    f"`python weights/train_hip_xray.py`")
        card = read_model_card(path) or {}
        model = hip_model(**{k: tuple(v) if isinstance(v, list) else v
                             for k, v in card.get("backbone", {}).items()})
        load_weights(model, path)
        return cls(model.eval(), card=card, **kwargs)

    @staticmethod
    def cards(path: str | None = None) -> dict:
        path = path or WEIGHTS_DIR
        if os.path.isdir(path):
            path = os.path.join(path, WEIGHTS_FILE)
        return {os.path.basename(path): read_model_card(path)}

    # ------------------------------------------------------------------ steps
    def crops(self, radiograph: Volume) -> tuple:
        """(crops {side: (104, 104) float32}, located {side: {...}}) after the input checks."""
        vol = prep.check_radiograph(radiograph)
        loc = prep.locate_heads(vol)
        for side, h in loc.items():
            if h["score"] < MIN_HEAD_SCORE:
                raise ValueError(f"radiograph: no {side} femoral head found (circle score {h['score']:.2f} < "
                                 f"{MIN_HEAD_SCORE}); the pipeline needs an AP pelvis radiograph showing both hips, "
                                 f"bone bright, the patient's right hip on the image's left")
        return {side: prep.hip_crop(vol, h["centre_mm"], side) for side, h in loc.items()}, loc

    def grade_crops(self, crops: np.ndarray) -> tuple:
        """(grades [N, 5], probabilities {head: [N, K]}) for crops [N, 104, 104]."""
        x = np.asarray(crops, dtype=np.float32)[:, None]
        return grades_from_logits(predict(self.model, x, batch_size=self.batch_size))

    def run(self, radiograph: Volume, explain=False) -> HipResult:
        """Grade both hips of one AP pelvis radiograph.

        ``explain=True`` adds a Grad-CAM++ map per head and hip (``HipResult.cams``); a list of
        head names limits the maps to those heads.
        """
        crops, loc = self.crops(radiograph)
        sides = list(crops)
        grades, probs = self.grade_crops(np.stack([crops[s] for s in sides]))
        hips = {}
        for i, side in enumerate(sides):
            g = {name: int(grades[i, j]) for j, name in enumerate(HEADS)}
            hips[side] = {"grades": g, "probabilities": {k: probs[k][i].tolist() for k in HEADS},
                          "hip_grade": hip_grade(g), "kl": kl_from_grades(g),
                          "centre_mm": loc[side]["centre_mm"], "head_score": loc[side]["score"]}
        heads = None if explain is True else explain
        cams = {side: self.explain(crops[side], heads) for side in sides} if explain else {}
        return HipResult(radiograph=radiograph, hips=hips, crops=crops, cams=cams)

    def run_file(self, path, pixel_spacing=None, explain=False) -> HipResult:
        """Load a PNG, TIFF or DICOM radiograph (``load_radiograph``) and :meth:`run` it.

        ``pixel_spacing=(row_mm, col_mm)`` is required for a PNG and for files that do not store it.
        """
        from ..io.radiograph import load_radiograph

        try:
            vol = load_radiograph(path, pixel_spacing=pixel_spacing)
        except ValueError as exc:
            if "no pixel spacing" in str(exc):
                raise ValueError(f"radiograph: no pixel spacing in {os.fspath(path)} (the file does not store its "
                                 f"pixel size); pass pixel_spacing=(row_mm, col_mm) to run_file; the pipeline needs "
                                 f"it to crop each hip at a fixed {prep.CROP_PX * prep.GRID_MM:.1f} mm and resample "
                                 f"it to {prep.GRID_MM} mm pixels") from None
            raise
        return self.run(vol, explain=explain)

    def explain(self, crop: np.ndarray, heads=None) -> dict:
        """Grad-CAM++ of each head's predicted class on one crop (maps [104, 104] in [0, 1]),
        at the output of the third dense block (``CAM_LAYER``: a 6 x 6 grid of 13.9 mm cells over the
        crop, so the maps are coarse; the last block's 3 x 3 grid is coarser still); ``heads`` limits
        the heads."""
        from ..explain import grad_cam_plus_plus

        unknown = [h for h in (heads or []) if h not in HEADS]
        if unknown:
            raise ValueError(f"heads has unknown names {unknown}; heads are {list(HEADS)}")
        x = np.asarray(crop, dtype=np.float32)[None, None]
        logits = predict(self.model, x, batch_size=1)
        out = {}
        for name, sl in head_slices().items():
            if heads is not None and name not in heads:
                continue
            k = sl.start + int(np.argmax(logits[0, sl]))
            out[name] = np.asarray(grad_cam_plus_plus(self.model, x, CAM_LAYER, class_index=k))
        return out
