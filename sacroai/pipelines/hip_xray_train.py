"""Train the hip radiograph multi-task DenseNet on phantoms and write ``weights/``.

``python weights/train_hip_xray.py`` calls :func:`train_hip_xray`.  The same
seed and thread count give the same files byte for byte: phantoms, initial
weights, batch order and augmentation all come from the seed, the core's
reductions have a fixed order, and the model card holds no timestamp.

Training phantoms: AP pelvis radiographs (``generate_hip_xray``) whose two
hips each get a K-L grade (phantom convention) drawn uniformly from 0-4 and
OARSI features from ``random_hip_features`` for that grade, so every grade
of every head is represented.  Both hips of a phantom are used (the left
one mirrored, as in the pipeline), each cropped around the femoral head the
pipeline's own locator finds.
"""
from __future__ import annotations

import os

import numpy as np

from .. import config
from ..nn.optim import Adam
from ..nn.schedules import CosineAnnealingLR
from ..nn.weights import save_weights
from ..phantoms.hip_xray import SIDES, generate_hip_xray, random_hip_features
from ..train import fit
from . import hip_xray as pipe
from . import hip_xray_prep as prep


def phantom(seed: int):
    """The phantom of ``seed``: both hips with a uniformly drawn phantom K-L grade."""
    rng = np.random.default_rng(seed)
    feats = {side: random_hip_features(rng, int(rng.integers(0, 5))) for side in SIDES}
    return generate_hip_xray(rng, feats)


def training_arrays(seeds, progress: bool = False) -> tuple:
    """(crops [2n, 1, 104, 104] float32, targets [2n, 5] int64, truth rows) for the phantoms of ``seeds``."""
    xs, ys, rows = [], [], []
    it = seeds
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(list(seeds), desc="hip phantoms", unit="phantom", leave=False)
    for s in it:
        ph = phantom(int(s))
        loc = prep.locate_heads(ph.image)
        for side in SIDES:
            xs.append(prep.hip_crop(ph.image, loc[side]["centre_mm"], side))
            heads = pipe.heads_from_oarsi(ph.hips[side]["features"])
            ys.append([heads[k] for k in pipe.HEADS])
            rows.append({"seed": int(s), "side": side, "features": ph.hips[side]["features"],
                         "kl": ph.hips[side]["kl"], "croft": ph.hips[side]["croft"]})
    return np.stack(xs)[:, None].astype(np.float32), np.asarray(ys, dtype=np.int64), rows


def augment(x, y, rng):
    """Shift each crop by up to ±3 pixels (2.4 mm, the locator's error and more) and scale its contrast."""
    out = np.empty_like(x)
    for i in range(len(x)):
        dr, dc = rng.integers(-3, 4, size=2)
        out[i] = np.roll(x[i], (int(dr), int(dc)), axis=(-2, -1))
    scale = rng.uniform(0.9, 1.1, size=(len(x), 1, 1, 1)).astype(np.float32)
    return out * scale, y


def feature_agreement(pred: np.ndarray, true: np.ndarray) -> dict:
    """Per head: accuracy (Wilson 95% CI), linear and quadratic weighted Cohen's kappa (95% CI), confusion matrix."""
    from ..stats import cohen_kappa, confusion_matrix, proportion_ci

    out = {}
    for j, (name, k) in enumerate(pipe.HEADS.items()):
        p, t = pred[:, j], true[:, j]
        labels = list(range(k))
        hits = int((p == t).sum())
        lo, hi = proportion_ci(hits, len(t))
        rec = {"n": int(len(t)), "accuracy": hits / len(t), "accuracy_ci": [float(lo), float(hi)],
               "confusion_matrix": confusion_matrix(t, p, labels=labels).matrix.tolist(), "labels": labels}
        for w in ("linear", "quadratic"):
            kap = cohen_kappa(t, p, weights=w, labels=labels)
            rec[f"kappa_{w}"] = float(kap.estimate)
            rec[f"kappa_{w}_ci"] = [float(kap.ci_low), float(kap.ci_high)]
        out[name] = rec
    return out


def evaluate_on_phantoms(pipeline, seeds, progress: bool = False) -> dict:
    """Held-out agreement of the pipeline with the phantoms' truth, per head and for Croft and K-L."""
    from ..stats import cohen_kappa

    x, y, rows = training_arrays(seeds, progress)
    pred, _ = pipeline.grade_crops(x[:, 0])
    res = {"n_hips": int(len(y)), "features": feature_agreement(pred, y)}
    croft_p, croft_t, kl_p, kl_t = [], [], [], []
    for g, r in zip(pred, rows):
        grades = {name: int(g[j]) for j, name in enumerate(pipe.HEADS)}
        c = pipe.hip_grade(grades)["croft_grade"]
        t = r["croft"]
        croft_p.append(-1 if c is None else c)
        croft_t.append(-1 if t is None else min(t, 4))   # deformity is not assessed: Croft 5 counts as 4
        kl_p.append(pipe.kl_from_grades(grades)["grade"])
        kl_t.append(r["kl"])
    croft_p, croft_t, kl_p, kl_t = map(np.asarray, (croft_p, croft_t, kl_p, kl_t))
    res["croft_accuracy"] = float(np.mean(croft_p == croft_t))
    res["rhoa_croft_accuracy"] = float(np.mean((croft_p >= 3) == (croft_t >= 3)))
    res["kl_accuracy"] = float(np.mean(kl_p == kl_t))
    res["kl_kappa_quadratic"] = float(cohen_kappa(kl_t, kl_p, weights="quadratic", labels=list(range(5))).estimate)
    res["kl_radiographic_oa_accuracy"] = float(np.mean((kl_p >= 2) == (kl_t >= 2)))
    return res


def train_hip_xray(out_dir: str = "weights", seed: int = 0, n_train: int = 500, n_val: int = 40, n_test: int = 100,
                   epochs: int = 24, batch_size: int = 16, lr: float = 3e-3, threads: int | None = None,
                   backbone: dict | None = None, progress: bool = True) -> dict:
    """Train the multi-task DenseNet on phantoms; write ``hip_xray_multitask.safetensors`` and its card.

    Phantom seeds (two hips each): training ``seed*100000 + [0, n_train)``, validation the
    next ``n_val``, held-out test the next ``n_test`` (never seen in training).
    ``backbone`` overrides the DenseNet settings (tests use a tiny one; it is stored in the card).
    Returns the held-out metrics written into the card.
    """
    if threads is not None:
        config.set_num_threads(threads)
    os.makedirs(out_dir, exist_ok=True)
    base = seed * 100000
    tr = range(base, base + n_train)
    va = range(base + n_train, base + n_train + n_val)
    te = range(base + n_train + n_val, base + n_train + n_val + n_test)
    xtr, ytr, _ = training_arrays(tr, progress)
    xva, yva, _ = training_arrays(va, progress)
    backbone = dict(backbone or {})
    model = pipe.hip_model(rng=seed, **backbone)
    # inverse-frequency class weights per head (capped), so rare grades are not ignored
    class_weights = {}
    for j, (name, k) in enumerate(pipe.HEADS.items()):
        counts = np.bincount(ytr[:, j], minlength=k).astype(np.float64)
        w = np.where(counts > 0, counts.sum() / (k * np.maximum(counts, 1)), 1.0)
        class_weights[name] = np.clip(w, 0.2, 5.0).astype(np.float32)
    loss = pipe.HeadsLoss(class_weights=class_weights)
    opt = Adam(model.parameters(), lr=lr)
    sched = CosineAnnealingLR(opt, T_max=max(epochs, 1), eta_min=lr * 0.02)

    def mean_acc(logits, targets):
        return float(np.mean(pipe.grades_from_logits(logits)[0] == targets))

    hist = fit(model, loss, opt, (xtr, ytr), (xva, yva), epochs=epochs, batch_size=batch_size, seed=seed,
               scheduler=sched, metrics={"mean_accuracy": mean_acc}, progress=progress, augment=augment,
               monitor="val_mean_accuracy", mode="max")
    pipeline = pipe.HipXrayPipeline(model.eval())
    metrics = evaluate_on_phantoms(pipeline, te, progress)

    cfg = dict(pipe.BACKBONE, **backbone)
    card = {
        "architecture": pipe.ARCHITECTURE if not backbone else f"HipNet with DenseNet settings {cfg}",
        "backbone": {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()},
        "heads": {name: {"classes": k, "target": "max(" + ", ".join(pipe.HEAD_SOURCES[name]) + ")"}
                  for name, k in pipe.HEADS.items()},
        "input": (f"one hip per sample: {prep.CROP_PX} x {prep.CROP_PX} pixels at {prep.GRID_MM} mm "
                  f"({prep.CROP_PX * prep.GRID_MM:.1f} mm square) centred on the femoral head found by the circle "
                  "Hough locator, z-scored per crop, the left hip mirrored (lateral on the crop's left)"),
        "kl_rule": pipe.KL_RULE,
        "hip_grade": "Croft via sacroai.scores.oarsi_hip; femoral head deformity not assessed (Croft 5 reported as 4)",
        "trained_on": (f"{2 * n_train} hips of {n_train} AP pelvis radiograph phantoms "
                       f"(sacroai.phantoms.generate_hip_xray, seeds {tr.start}-{tr.stop - 1}, per-hip phantom K-L "
                       f"grade uniform 0-4, features from random_hip_features); validated on {2 * n_val} hips "
                       f"(seeds {va.start}-{va.stop - 1}), tested on {2 * n_test} held-out hips (seeds "
                       f"{te.start}-{te.stop - 1}); never on patient radiographs"),
        "training": {"epochs": epochs, "batch_size": batch_size, "optimizer": f"Adam lr {lr}, cosine to {lr * 0.02}",
                     "loss": "sum of per-head cross-entropies with inverse-frequency class weights (clipped 0.2-5)",
                     "augmentation": "shift +-3 pixels, contrast x0.9-1.1",
                     "val_mean_accuracy_last": hist[-1]["val_mean_accuracy"],
                     "val_mean_accuracy_best": max(h["val_mean_accuracy"] for h in hist),
                     "weights_from": "the last epoch"},
        "held_out_phantoms": metrics,
        "seed": seed, "threads": config.get_num_threads(),
        "limits": "phantom-trained only: not validated on patient radiographs; K-L is a phantom convention",
        "created": None,  # no timestamp: the same seed gives the same file
    }
    save_weights(model, os.path.join(out_dir, pipe.WEIGHTS_FILE), card=card)
    return metrics
