"""Train the DLR study's demo weights on multi-sequence phantoms and write ``weights/``.

``python weights/train_dlr.py`` calls :func:`train_dlr`: a phantom training
cohort goes through :meth:`DLRStudy.fit_cv` (patient-level stratified
K-fold: the out-of-fold probabilities fit the stacker and the combined
model) and :meth:`DLRStudy.fit_final` (each sequence's network retrained on
all training patients); a separate held-out phantom cohort (never seen in
training) gives the metrics written into the model cards.  The same seed
and thread count give the same files byte for byte (no timestamps, no
timings in the files).
"""
from __future__ import annotations

import time

import numpy as np

from .. import config
from ..phantoms.sij_mri_multiseq import generate_multiseq_cohort
from .dlr import DLRStudy, evaluate_models


def cohort_seeds(seed: int) -> tuple:
    """(training cohort seed, held-out cohort seed) of a training run."""
    return seed * 1000 + 11, seed * 1000 + 12


def held_out_metrics(study: DLRStudy, cases) -> dict:
    """Apply a fitted study to ``cases`` and evaluate every model against their outcome."""
    pred = study.predict(cases)
    y = np.array([int(c[study.outcome]) for c in cases], dtype=np.int64)
    risks = {k: pred[k] for k in list(study.sequences) + ["ensemble", "clinical", "combined"]}
    out = evaluate_models(y, risks, study.sequences)
    out.update(n=int(len(y)), prevalence=float(y.mean()))
    return out


def train_dlr(out_dir: str = "weights", seed: int = 0, n_train: int = 100, n_test: int = 100, folds: int = 5,
              epochs: int = 15, width: int = 4, threads: int | None = None, progress: bool = True) -> dict:
    """Fit the DLR study on phantoms and write its weights; returns held-out and CV metrics and timings."""
    if threads is not None:
        config.set_num_threads(threads)
    s_train, s_test = cohort_seeds(seed)
    t0 = time.perf_counter()
    train = generate_multiseq_cohort(n_train, seed=s_train, id_prefix="T", progress=progress)
    test = generate_multiseq_cohort(n_test, seed=s_test, id_prefix="H", progress=progress)
    study = DLRStudy(width=width, folds=folds, seed=seed, epochs=epochs, progress=progress)
    t1 = time.perf_counter()
    cv = study.fit_cv(train)
    study.fit_final(train)
    t_train = time.perf_counter() - t1
    held = held_out_metrics(study, test)
    n_pos = int(sum(c["axspa"] for c in train))
    card = {"trained_on": f"{n_train} multi-sequence SIJ MRI phantoms ({n_pos} axSpA) from "
                          f"sacroai.phantoms.sij_mri_multiseq.generate_multiseq_cohort(seed={s_train}); "
                          f"held-out metrics on {n_test} other phantoms (seed={s_test}); never on patient data",
            "training": {"folds": folds, "epochs": epochs, "optimizer": "Adam", "lr": study.lr,
                         "batch_size": study.batch_size, "loss": "BCE on logits, slice labels = patient outcome",
                         "augmentation": "left-right flip",
                         "networks": f"{folds}-fold patient-level CV on the training phantoms gave the out-of-fold "
                                     "probabilities that fit the stacker and the combined model; the shipped "
                                     f"networks were then retrained on all {n_train} training phantoms"},
            "width_note": "narrow networks: the named layouts (block counts, torchvision keys) at width "
                          f"{width} (full: ResNet base_width 64, DenseNet growth 32) on 64x48 crops at 1.6 mm",
            "seed": seed, "threads": config.get_num_threads(), "created": None}
    study.save(out_dir, card=card, held_out=held)
    return {"held_out": held, "cv": cv.metrics, "seconds_training": round(t_train, 1),
            "seconds_total": round(time.perf_counter() - t0, 1)}
