"""Train the SIJ MRI pipeline's networks on phantoms and write ``weights/``.

``python weights/train_sij_mri.py`` calls :func:`train_sij_mri`.  The same
seed and thread count give the same files byte for byte: phantoms,
initial weights and batch order all come from the seed, the core's
reductions have a fixed order, and the model cards hold no timestamps.
"""
from __future__ import annotations

import json
import os

import numpy as np

from .. import config
from ..nn.losses import DiceCELoss
from ..nn.optim import Adam
from ..nn.weights import save_weights
from ..phantoms import generate_sij_mri, random_lesions
from ..phantoms.sij_mri import asas_positive
from ..stats import icc
from ..train import fit
from . import sij_mri as pipe
from . import sij_mri_prep as prep


def _phantom(seed: int, p_active: float = 0.6):
    rng = np.random.default_rng(seed)
    active = bool(rng.random() < p_active)
    return generate_sij_mri(rng, random_lesions(rng, active=active), fat_lesions=int(rng.integers(0, 3)))


def training_arrays(seeds) -> dict:
    """Network inputs and targets for the phantoms of ``seeds`` (one sample per slice)."""
    xb, yb, xm, ym = [], [], [], []
    for s in seeds:
        ph = _phantom(s)
        vol = prep.canonical(ph.stir)  # phantoms are generated in RSA already
        g = prep.network_grid(vol, prep.BONES_SPACING_MM)
        xb.append(g.array)
        yb.append(prep.labels_to_grid(ph.bones, vol, g))
        g = prep.network_grid(vol, prep.BME_SPACING_MM)
        region = prep.labels_to_grid((ph.quadrants > 0).astype(np.int16), vol, g).astype(np.float32)
        xm.append(np.concatenate([g.array, region], axis=1))
        ym.append(prep.labels_to_grid(ph.bme.astype(np.int16), vol, g))
    return {"bones": (np.concatenate(xb), np.concatenate(yb)), "bme": (np.concatenate(xm), np.concatenate(ym))}


def dice(pred: np.ndarray, truth: np.ndarray) -> float:
    p, t = np.asarray(pred, bool), np.asarray(truth, bool)
    s = p.sum() + t.sum()
    return float(2.0 * (p & t).sum() / s) if s else 1.0


def _fg_dice(pred_logits, target):
    return dice(pred_logits.argmax(axis=1) > 0, target[:, 0] > 0)


def evaluate_on_phantoms(pipeline, seeds) -> dict:
    """Run the whole pipeline on held-out phantoms and compare with their ground truth."""
    from ..scores import evaluate

    rows = []
    for s in seeds:
        ph = _phantom(s)
        truth = evaluate("sparcc_sij", ph.sheet)
        try:
            res = pipeline.run(ph.stir)
        except ValueError as exc:  # no joint found: counts as a failure, scored 0
            rows.append({"seed": int(s), "sparcc_pred": 0.0, "sparcc_truth": truth["total"], "dice_sacrum": 0.0,
                         "dice_ilium": 0.0, "dice_bme": 0.0, "active_truth": int(asas_positive(ph.asas)),
                         "asas_pred": 0, "features": {}, "error": str(exc)})
            continue
        rows.append({"seed": int(s), "sparcc_pred": res.features["sparcc_total"], "sparcc_truth": truth["total"],
                     "dice_sacrum": dice(res.bones == 1, ph.bones == 1), "dice_ilium": dice(res.bones == 2, ph.bones == 2),
                     "dice_bme": dice(res.bme, ph.bme) if ph.bme.any() or res.bme.any() else None,
                     "active_truth": int(asas_positive(ph.asas)), "asas_pred": int(bool(res.asas.get("positive"))),
                     "features": res.features})
    pred = np.array([r["sparcc_pred"] for r in rows], float)
    true = np.array([r["sparcc_truth"] for r in rows], float)
    agreement = icc(np.column_stack([pred, true])).table["ICC(2,1)"]
    bme = [r["dice_bme"] for r in rows if r["dice_bme"] is not None]
    return {"n": len(rows), "rows": rows,
            "sparcc_icc_2_1": float(agreement.estimate),
            "sparcc_icc_ci": [float(agreement.ci_low), float(agreement.ci_high)],
            "dice_sacrum_mean": float(np.mean([r["dice_sacrum"] for r in rows])),
            "dice_ilium_mean": float(np.mean([r["dice_ilium"] for r in rows])),
            "dice_bme_mean": float(np.mean(bme)) if bme else None,
            "asas_accuracy": float(np.mean([r["active_truth"] == r["asas_pred"] for r in rows]))}


def train_sij_mri(out_dir: str = "weights", seed: int = 0, n_train: int = 40, n_val: int = 8, n_test: int = 16,
                  epochs_bones: int = 6, epochs_bme: int = 10, threads: int | None = None,
                  progress: bool = True) -> dict:
    """Train both networks and the activity model; write weights, cards and the classifier.

    Phantom seeds: training ``seed*100000 + [0, n_train)``, validation the
    next ``n_val``, held-out test the next ``n_test`` (never seen in training).
    Returns the held-out metrics written into the model cards.
    """
    if threads is not None:
        config.set_num_threads(threads)
    os.makedirs(out_dir, exist_ok=True)
    base = seed * 100000
    tr, va = range(base, base + n_train), range(base + n_train, base + n_train + n_val)
    te = range(base + n_train + n_val, base + n_train + n_val + n_test)
    data_tr, data_va = training_arrays(tr), training_arrays(va)

    common = {"trained_on": f"{n_train} SIJ MRI phantoms (sacroai.phantoms.generate_sij_mri, seeds {tr.start}-{tr.stop - 1}),"
                            f" validated on {n_val}, tested on {n_test} held-out phantoms; never on patient data",
              "input": "semicoronal STIR reoriented to RSA, z-scored over non-zero voxels, one slice per sample",
              "seed": seed, "threads": config.get_num_threads()}
    models = {}
    for name, make, epochs, lr in (("bones", pipe.bones_model, epochs_bones, 3e-3),
                                   ("bme", pipe.bme_model, epochs_bme, 3e-3)):
        model = make(rng=seed)
        loss = DiceCELoss(softmax=True, to_onehot_y=True)
        opt = Adam(model.parameters(), lr=lr)
        hist = fit(model, loss, opt, data_tr[name], data_va[name], epochs=epochs, batch_size=16, seed=seed,
                   metrics={"dice_fg": _fg_dice}, progress=progress, monitor="val_dice_fg", mode="max")
        best = max(hist, key=lambda h: h["val_dice_fg"])
        models[name] = (model, {"epochs": epochs, "val_dice_fg_last": hist[-1]["val_dice_fg"],
                                "val_dice_fg_best": best["val_dice_fg"]})

    pipeline = pipe.SIJMRIPipeline(models["bones"][0], models["bme"][0])
    # the activity model is fitted on the validation phantoms' pipeline outputs
    feats, labels = [], []
    for s in va:
        ph = _phantom(s)
        try:
            f = pipeline.run(ph.stir).features
        except ValueError:  # an undertrained network finds no joint (tiny test runs)
            f = dict.fromkeys(pipe.FEATURES, 0.0)
        feats.append(f)
        labels.append(int(asas_positive(ph.asas)))
    pipeline.classifier = pipe.fit_activity_model(feats, labels)
    metrics = evaluate_on_phantoms(pipeline, te)
    held_out = {k: v for k, v in metrics.items() if k != "rows"}

    cards = {
        "bones": {"architecture": "UNet(spatial_dims=2, in_channels=1, out_channels=3, features=(16, 32, 64, 128))",
                  "classes": ["background", "sacrum", "ilium"], "spacing_mm": [prep.BONES_SPACING_MM] * 2},
        "bme": {"architecture": "AttentionUNet(spatial_dims=2, in_channels=2, out_channels=2, channels=(8, 16, 32, 64))",
                "channels": ["STIR", "quadrant region (0/1)"], "classes": ["background", "bone marrow oedema"],
                "spacing_mm": [prep.BME_SPACING_MM] * 2},
    }
    for name, fname in (("bones", pipe.BONES_FILE), ("bme", pipe.BME_FILE)):
        model, training = models[name]
        card = dict(cards[name], **common, training=training, held_out_phantoms=held_out,
                    created=None)  # no timestamp: the same seed gives the same file
        save_weights(model, os.path.join(out_dir, fname), card=card)
    clf = dict(pipeline.classifier, trained_on=f"pipeline outputs on the {n_val} validation phantoms",
               held_out_phantoms=held_out)
    tmp = os.path.join(out_dir, pipe.CLASSIFIER_FILE + ".tmp")
    with open(tmp, "w") as f:
        json.dump(clf, f, indent=1, sort_keys=True)
    os.replace(tmp, os.path.join(out_dir, pipe.CLASSIFIER_FILE))
    return metrics
