"""Train the SIJ CT pipeline's networks on CT phantoms, evaluate them, write ``weights/``.

``python weights/train_sij_ct.py`` calls :func:`train_sij_ct`.  Training crops
are taken around the phantoms' own ground-truth joint centres (jittered, so
the networks tolerate a segmenter's centre errors); validation and held-out
test phantoms go through the whole pipeline, segmenter included.  The same
seed and thread count give the same files byte for byte: phantoms, jitter,
initial weights and batch order all come from the seed, the core's
reductions have a fixed order and the model cards hold no timestamps.
"""
from __future__ import annotations

import os

import numpy as np

from .. import config
from ..nn.losses import CrossEntropyLoss
from ..nn.optim import Adam
from ..nn.schedules import CosineAnnealingLR
from ..nn.weights import save_weights
from ..phantoms.sij_ct import _cohort_grades, class3, generate_sij_ct, radiographic_criterion
from ..train import fit
from . import sij_ct as pipe

SPLITS = {"train": 1, "val": 2, "test": 3}
JITTER_MM = (3.0, 12.0, 6.0)   # uniform half-ranges of the training centre jitter (x, y, z)
RULE_KS = (1, 2, 3, 4, 5, 6)
RULE_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def phantom(seed: int, split: str, i: int):
    """Phantom ``i`` of a split.  Training grades are uniform 0-4 per joint; validation and test
    phantoms follow the cohort's mix (half axSpA, bilateral disease of varying stage)."""
    rng = np.random.default_rng([int(seed), SPLITS[split], int(i)])
    if split == "train":
        grades = {s: int(g) for s, g in zip(pipe.SIDES, rng.integers(0, 5, size=2))}
    else:
        grades = _cohort_grades(rng, bool(rng.random() < 0.5))
    return generate_sij_ct(rng, grades)


def truth_of(ph) -> dict:
    """Per-patient ground truth in the form :func:`evaluate_rows` uses."""
    j = ph.joints
    return {"grades": dict(ph.grades), "criterion": radiographic_criterion(ph.grades["left"], ph.grades["right"]),
            "erosion": any(len(j[s]["erosion_slices"]) > 0 for s in pipe.SIDES),
            "ankylosis": any(len(j[s]["ankylosis_slices"]) > 0 for s in pipe.SIDES)}


def joint_crops(ph, rng=None, n_crops: int = 1) -> tuple:
    """Windowed ROIs around the ground-truth joint centres and their targets.

    Returns ``x`` (n, *ROI_SHAPE) float32, ``grade`` (n,) int64, ``erosion`` and
    ``ankylosis`` (n, ROI_SHAPE[2]) int64 per ROI slice (0 outside the scan).
    With ``rng`` each crop's centre is jittered by up to ``JITTER_MM``.
    """
    xs, gs, es, ans = [], [], [], []
    nk = ph.ct.spatial_shape[2]
    for side in pipe.SIDES:
        jt = ph.joints[side]
        for _ in range(n_crops):
            c = np.asarray(jt["roi_centre_mm"], dtype=np.float64)
            if rng is not None:
                c = c + rng.uniform(-1, 1, size=3) * np.asarray(JITTER_MM)
            a = pipe.roi_affine(c, side, ph.ct)
            xs.append(pipe.normalize(pipe.crop_roi(ph.ct, a)))
            gs.append(jt["grade"])
            k0 = int(round(ph.ct.index(a[:3, 3])[2]))
            ks = k0 + np.arange(pipe.ROI_SHAPE[2])
            inside = (ks >= 0) & (ks < nk)
            for name, out in (("erosion", es), ("ankylosis", ans)):
                flags = np.zeros(pipe.ROI_SHAPE[2], np.int64)
                flags[inside] = np.asarray(jt[name], bool)[ks[inside]]
                out.append(flags)
    return np.stack(xs), np.asarray(gs, np.int64), np.stack(es), np.stack(ans)


def _slices(x: np.ndarray, flags: np.ndarray) -> tuple:
    """(n, I, J, K) ROIs -> (n*K, 1, I, J) slices and their (n*K,) labels."""
    n, ni, nj, nk = x.shape
    return (np.ascontiguousarray(np.moveaxis(x, 3, 1).reshape(n * nk, 1, ni, nj)),
            np.ascontiguousarray(flags.reshape(n * nk)))


def _accuracy(logits, target):
    return float(np.mean(np.argmax(logits, axis=1) == np.asarray(target).ravel()))


def _balanced_accuracy(logits, target):
    pred, t = np.argmax(logits, axis=1), np.asarray(target).ravel()
    rec = [np.mean(pred[t == c] == c) for c in np.unique(t)]
    return float(np.mean(rec))


# ---------------------------------------------------------------- evaluation

def pipeline_row(result, truth: dict) -> dict:
    """One patient's predictions next to the truth (JSON-friendly)."""
    row = {"truth": truth, "grades": {}, "p_grade": {}, "p_erosion": {}, "p_ankylosis": {}}
    for s in pipe.SIDES:
        j = result.joints[s]
        row["grades"][s] = j["grade"]
        row["p_grade"][s] = None if j["p_grade"] is None else [float(v) for v in j["p_grade"]]
        row["p_erosion"][s] = None if j["p_erosion"] is None else [float(v) for v in j["p_erosion"]]
        row["p_ankylosis"][s] = None if j["p_ankylosis"] is None else [float(v) for v in j["p_ankylosis"]]
    row["criterion"] = result.mny.get("radiographic_criterion")
    row["erosion"] = bool(result.erosion["positive"])
    row["ankylosis"] = bool(result.ankylosis["positive"])
    return row


def _rule_calls(rows, name, k, threshold):
    return np.array([int(pipe.patient_rule(r[f"p_{name}"], k, threshold)["positive"]) for r in rows])


def choose_rule(rows: list, name: str) -> dict:
    """The (k, threshold) with the highest Youden index (sensitivity + specificity - 1) on ``rows``;
    ties go to the lower threshold, then the smaller k."""
    truth = np.array([int(r["truth"][name]) for r in rows])
    best = None
    for thr in RULE_THRESHOLDS:
        for k in RULE_KS:
            pred = _rule_calls(rows, name, k, thr)
            sens = float(np.mean(pred[truth == 1])) if (truth == 1).any() else 0.0
            spec = float(np.mean(pred[truth == 0] == 0)) if (truth == 0).any() else 0.0
            j = sens + spec - 1.0
            if best is None or j > best["youden"] + 1e-12:
                best = {"k": k, "threshold": thr, "youden": j, "sensitivity": sens, "specificity": spec}
    return best


def _estimate(e) -> dict:
    return {"estimate": float(e.estimate), "ci_low": float(e.ci_low), "ci_high": float(e.ci_high), "n": int(e.n)}


def evaluate_rows(rows: list, erosion_rule: dict, ankylosis_rule: dict, conf_level: float = 0.95) -> dict:
    """Held-out metrics of pipeline rows (:func:`pipeline_row`).

    Per joint: one-vs-rest AUC of each 3-class class (0-I, II, III-IV) with its
    DeLong interval (and a percentile bootstrap over patients, since a patient's two
    joints are not independent), the 5-grade and 3-class confusion matrices, quadratic-weighted
    kappa of grades.  Per patient: accuracy of the mNY criterion; erosion and
    ankylosis sensitivity/specificity (Wilson intervals) of the k-slice rule and
    the sweep over k at the rule's threshold.
    """
    from ..stats import cohen_kappa, confusion_matrix, diagnostic_accuracy, roc_auc

    t5, p5, pid = [], [], []
    for i, r in enumerate(rows):
        for s in pipe.SIDES:
            if r["p_grade"][s] is not None:
                t5.append(r["truth"]["grades"][s])
                p5.append(r["p_grade"][s])
                pid.append(i)
    t5, p5, pid = np.asarray(t5, np.int64), np.asarray(p5, np.float64), np.asarray(pid)
    t3, p3 = np.array([class3(int(g)) for g in t5]), pipe.collapse3(p5)
    g5, g3 = p5.argmax(axis=1), p3.argmax(axis=1)
    out = {"n_patients": len(rows), "n_joints": int(len(t5)),
           "n_joints_not_found": int(2 * len(rows) - len(t5)), "auc_class3": {}}
    for c, name in enumerate(pipe.CLASS3_NAMES):
        y = (t3 == c).astype(int)
        if 0 < y.sum() < len(y):
            out["auc_class3"][name] = _estimate(roc_auc(y, p3[:, c], conf_level=conf_level))
            out["auc_class3"][name]["n_pos"] = int(y.sum())
            # both joints of a patient are correlated: a bootstrap over patients as a second interval
            try:
                boot = roc_auc(y, p3[:, c], ci="bootstrap", groups=pid, n_boot=1000, seed=0, conf_level=conf_level)
                out["auc_class3"][name]["ci_bootstrap_patients"] = [float(boot.ci_low), float(boot.ci_high)]
            except ValueError:  # too few patients with and without the class
                out["auc_class3"][name]["ci_bootstrap_patients"] = None
        else:
            out["auc_class3"][name] = {"estimate": None, "n_pos": int(y.sum()),
                                       "note": "one class only among the held-out joints"}
    cm5 = confusion_matrix(t5, g5, labels=list(range(5)))
    cm3 = confusion_matrix(t3, g3, labels=[0, 1, 2])
    out["confusion_5"] = cm5.matrix.tolist()
    out["confusion_3"] = cm3.matrix.tolist()
    out["accuracy_5"] = _estimate(cm5.accuracy)
    out["accuracy_3"] = _estimate(cm3.accuracy)
    kappa = cohen_kappa(t5, g5, weights="quadratic", labels=list(range(5)))
    out["kappa_quadratic"] = {"estimate": float(kappa.estimate), "ci_low": float(kappa.ci_low),
                              "ci_high": float(kappa.ci_high)}
    crit_t = np.array([int(r["truth"]["criterion"]) for r in rows])
    crit_p = np.array([int(bool(r["criterion"])) for r in rows])  # undecidable counts as negative
    out["criterion"] = _accuracy_dict(diagnostic_accuracy(crit_t, crit_p, conf_level=conf_level))
    for name, rule in (("erosion", erosion_rule), ("ankylosis", ankylosis_rule)):
        truth = np.array([int(r["truth"][name]) for r in rows])
        pred = _rule_calls(rows, name, rule["k"], rule["threshold"])
        res = _accuracy_dict(diagnostic_accuracy(truth, pred, conf_level=conf_level))
        res["rule"] = {"k": int(rule["k"]), "threshold": float(rule["threshold"])}
        res["n_positive"] = int(truth.sum())
        sweep = []
        for k in RULE_KS:
            pk = _rule_calls(rows, name, k, rule["threshold"])
            sweep.append({"k": k, "sensitivity": float(np.mean(pk[truth == 1])) if truth.any() else None,
                          "specificity": float(np.mean(pk[truth == 0] == 0)) if (truth == 0).any() else None})
        res["k_sweep"] = sweep
        out[name] = res
    return out


def _accuracy_dict(a) -> dict:
    return {"sensitivity": _estimate(a.sensitivity), "specificity": _estimate(a.specificity),
            "accuracy": _estimate(a.accuracy), "tp": int(a.tp), "fp": int(a.fp), "fn": int(a.fn), "tn": int(a.tn)}


def run_phantoms(pipeline, seed: int, split: str, n: int, explain: bool = False, progress: bool = False) -> list:
    """Pipeline rows of the first ``n`` phantoms of ``split``."""
    it = range(int(n))
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc=f"SIJ CT pipeline ({split})", unit="patient")
    rows = []
    for i in it:
        ph = phantom(seed, split, i)
        rows.append(pipeline_row(pipeline.run(ph.ct, explain=explain), truth_of(ph)))
    return rows


# ---------------------------------------------------------------- training

def train_sij_ct(out_dir: str = "weights", seed: int = 0, n_train: int = 100, n_val: int = 24, n_test: int = 40,
                 crops: int = 2, epochs_grader: int = 20, epochs_slices: int = 5, threads: int | None = None,
                 progress: bool = True) -> dict:
    """Train the grader and both slice detectors, choose the k-slice rules on the validation phantoms,
    evaluate the whole pipeline on the held-out phantoms and write weights and cards.

    Phantoms: ``phantom(seed, "train", 0..n_train-1)`` (``crops`` jittered crops per
    joint), ``"val"`` (rule choice and per-epoch monitoring) and ``"test"`` (held out).
    Returns the held-out metrics (also in the model cards).
    """
    from .sij_ct_seg import CTBoneSegmenter

    if threads is not None:
        config.set_num_threads(threads)
    os.makedirs(out_dir, exist_ok=True)
    jitter = np.random.default_rng([int(seed), 99])
    parts = [joint_crops(phantom(seed, "train", i), jitter, crops) for i in range(n_train)]
    x, g, e, a = (np.concatenate([p[j] for p in parts]) for j in range(4))
    vparts = [joint_crops(phantom(seed, "val", i)) for i in range(n_val)]
    xv, gv, ev, av = (np.concatenate([p[j] for p in vparts]) for j in range(4))

    grader = pipe.grader_model(rng=seed)
    opt = Adam(grader.parameters(), lr=2e-3)
    # cosine decay to 0: the last epoch's weights are the ones kept, so they must have settled
    hist = fit(grader, CrossEntropyLoss(), opt, (x[:, None], g), (xv[:, None], gv), epochs=epochs_grader,
               batch_size=8, seed=seed, metrics={"accuracy": _accuracy}, progress=progress,
               scheduler=CosineAnnealingLR(opt, T_max=max(int(epochs_grader), 1)))
    train_info = {"grader": {"epochs": epochs_grader, "samples": int(len(g)),
                             "val_accuracy_last": hist[-1]["val_accuracy"] if hist else None,
                             "grade_counts": np.bincount(g, minlength=5).tolist(),
                             "optimizer": "Adam lr 2e-3, cosine decay to 0, batch 8, cross-entropy"}}
    nets = {}
    for name, flags, vflags, s_off in (("erosion", e, ev, 1), ("ankylosis", a, av, 2)):
        xs, ys = _slices(x, flags)
        xvs, yvs = _slices(xv, vflags)
        pos = max(int(ys.sum()), 1)
        w1 = float(min(8.0, np.sqrt((len(ys) - pos) / pos)))  # up-weight the rarer positive slices
        net = pipe.slice_model(rng=seed + s_off)
        opt = Adam(net.parameters(), lr=2e-3)
        hist = fit(net, CrossEntropyLoss(weight=np.array([1.0, w1], np.float32)), opt,
                   (xs, ys), (xvs, yvs), epochs=epochs_slices, batch_size=32, seed=seed + s_off,
                   metrics={"balanced_accuracy": _balanced_accuracy}, progress=progress,
                   scheduler=CosineAnnealingLR(opt, T_max=max(int(epochs_slices), 1)))
        nets[name] = net
        train_info[name] = {"epochs": epochs_slices, "slices": int(len(ys)), "positive_slices": int(ys.sum()),
                            "positive_class_weight": w1,
                            "optimizer": "Adam lr 2e-3, cosine decay to 0, batch 32, weighted cross-entropy",
                            "val_balanced_accuracy_last": hist[-1]["val_balanced_accuracy"] if hist else None}

    for m in (grader, *nets.values()):
        m.eval()
    pipeline = pipe.SIJCTPipeline(CTBoneSegmenter.from_weights(), grader, nets["erosion"], nets["ankylosis"])
    val_rows = run_phantoms(pipeline, seed, "val", n_val, progress=progress)
    rules = {name: choose_rule(val_rows, name) for name in ("erosion", "ankylosis")}
    pipeline.erosion_rule = {k: rules["erosion"][k] for k in ("k", "threshold")}
    pipeline.ankylosis_rule = {k: rules["ankylosis"][k] for k in ("k", "threshold")}
    test_rows = run_phantoms(pipeline, seed, "test", n_test, progress=progress)
    metrics = evaluate_rows(test_rows, pipeline.erosion_rule, pipeline.ankylosis_rule)

    common = {
        "trained_on": (f"{n_train} SIJ CT phantoms (sacroai.phantoms.sij_ct.generate_sij_ct, generator "
                       f"default_rng([{seed}, 1, i]) for i < {n_train}, grades uniform 0-4 per joint), "
                       f"{crops} crops per joint around the true joint centre jittered by up to "
                       f"{JITTER_MM} mm; never on patient data"),
        "validated_on": f"{n_val} phantoms default_rng([{seed}, 2, i]), cohort grade mix, through the whole pipeline",
        "held_out": (f"{n_test} phantoms default_rng([{seed}, 3, i]), cohort grade mix, whole pipeline with the "
                     f"shipped CT bone segmenter (sacroai.pipelines.sij_ct_seg, weights/sij_ct_bones)"),
        "input": (f"ROI {list(pipe.ROI_SHAPE)} voxels at {list(pipe.ROI_SPACING_MM)} mm around the joint's "
                  f"contact zone, first axis medial->lateral (left joint mirrored), HU bone window level "
                  f"{pipe.WINDOW_HU[0]} width {pipe.WINDOW_HU[1]} mapped to [-1, 1]"),
        "seed": int(seed), "threads": config.get_num_threads(),
        "limits": "phantoms only: must be retrained and validated on annotated patient CT before any clinical use",
        "held_out_phantoms": metrics, "created": None,
    }
    save_weights(grader, os.path.join(out_dir, pipe.GRADER_FILE), card=dict(
        common, architecture="CNN3D(spatial_dims=3, in_channels=1, num_classes=5, channels=(8, 16, 32, 64), "
                             "dropout=0.3)",
        classes=list(pipe.GRADE_NAMES), class3=list(pipe.CLASS3_NAMES), training=train_info["grader"]))
    for name, fname in (("erosion", pipe.EROSION_FILE), ("ankylosis", pipe.ANKYLOSIS_FILE)):
        save_weights(nets[name], os.path.join(out_dir, fname), card=dict(
            common, architecture="CNN3D(spatial_dims=2, in_channels=1, num_classes=2, channels=(8, 16, 32, 32), "
                                 "dropout=0.3)",
            classes=["absent", name], input_slice="one axial ROI slice (ROI_SHAPE[:2])",
            training=train_info[name],
            patient_rule={"k": rules[name]["k"], "threshold": rules[name]["threshold"],
                          "validation_youden": rules[name]["youden"],
                          "validation_sensitivity": rules[name]["sensitivity"],
                          "validation_specificity": rules[name]["specificity"],
                          "chosen_on": (f"the {n_val} validation phantoms: highest Youden index over k "
                                        f"{list(RULE_KS)} and slice thresholds {list(RULE_THRESHOLDS)}, ties to "
                                        f"the lower threshold, then the smaller k")}))
    return {"held_out": metrics, "rules": rules, "training": train_info}
