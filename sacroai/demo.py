"""The demo cohort study behind ``sacroai demo``: SIJ MRI, SPARCC and active sacroiliitis.

1. Generate a phantom axSpA cohort (default 60 patients): semicoronal STIR
   phantoms with planted bone-marrow oedema, clinical covariates and two
   readers' SPARCC sheets (:func:`sacroai.phantoms.generate_cohort`).
2. Run the SIJ MRI pipeline with the shipped weights on every scan.
3. Compare with the ground truth and between readers, and build the
   diagnostic models for active sacroiliitis (ASAS 2009 MRI rule on the
   planted lesions): the image model alone, a clinical model (HLA-B27, CRP,
   BASDAI, age, sex) and the combined model, the latter two as logistic
   models with out-of-fold predictions from patient-level 5-fold
   cross-validation (fewer folds when a class has fewer than 5 patients).
4. Write ``<out>/``: ``index.html`` (the page to open), ``report.png`` (ROC with
   DeLong intervals, calibration, decision curve, metrics table),
   ``bland_altman.png``, ``overlays/``, ``metrics.json``,
   ``patients/<id>.json`` (each patient's audit trail) and ``cohort/`` (the scans).
"""
from __future__ import annotations

import csv
import html
import json
import os
import time

import numpy as np

from .plotting.report import png_tag


def _logit(p):
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _oof_logistic(X, y, groups, seed):
    """Out-of-fold probabilities of an unpenalised logistic model.

    When a fold's fit separates or its design is collinear (small cohorts), a
    ridge-penalised fit (lambda 1 on standardized predictors) is used for
    that fold and the result says so.
    """
    from .pipelines.sij_mri import ridge_logistic
    from .stats import SeparationError, StratifiedPatientKFold, logistic_regression

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    oof = np.full(len(y), np.nan)
    penalised = False
    counts = np.bincount(y, minlength=2)
    folds = int(min(5, counts.min()))
    if folds < 2:
        raise ValueError(f"cross-validation needs at least 2 patients with and 2 without active sacroiliitis, "
                         f"got {counts[1]} and {counts[0]}; generate more patients")
    for train, test in StratifiedPatientKFold(n_splits=folds, shuffle=True, random_state=seed).split(X, y, groups):
        mu, sd = X[train].mean(0), X[train].std(0)
        sd[sd == 0] = 1.0
        Ztr, Zte = (X[train] - mu) / sd, (X[test] - mu) / sd
        try:
            fit = logistic_regression(Ztr, y[train])
            beta = np.asarray(fit.coef)
        except (SeparationError, ValueError):  # separation, or a collinear design in a small fold
            penalised = True
            beta = ridge_logistic(Ztr, y[train])
        oof[test] = 1 / (1 + np.exp(-(beta[0] + Zte @ beta[1:])))
    return oof, penalised


def _dice(a, b) -> float:
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    return float(2.0 * (a & b).sum() / (a.sum() + b.sum())) if (a.sum() + b.sum()) else 1.0


# study name -> (module, function) of its demo; each takes out, patients, seed, weights, train, progress
STUDY_DEMOS = {
    "sij_mri": ("sacroai.demo", "run_demo"),
    "sij_ct": ("sacroai.pipelines.sij_ct_demo", "run_demo"),
    "hip_xray": ("sacroai.pipelines.hip_xray_demo", "run_demo"),
    "dlr": ("sacroai.pipelines.dlr_demo", "run_demo"),
}


def run_study_demo(study: str = "sij_mri", *, out: str | None = None, patients: int | None = None, seed: int = 0,
                   weights: str | None = None, train: bool = False, progress: bool = True) -> dict:
    """Run one study's demo on generated phantoms and return its metrics.

    ``study`` is one of ``STUDY_DEMOS``; ``out=None`` and ``patients=None`` take the study's own
    defaults (``report`` / 60 patients for sij_mri, ``report_<study>`` for the others).
    """
    import importlib

    if study not in STUDY_DEMOS:
        raise ValueError(f"study must be one of {', '.join(STUDY_DEMOS)}, got {study!r}")
    module, name = STUDY_DEMOS[study]
    fn = getattr(importlib.import_module(module), name)
    kw = dict(seed=seed, weights=weights, train=train, progress=progress)
    if out is not None:
        kw["out"] = out
    if patients is not None:
        kw["patients"] = patients
    return fn(**kw)


def run_demo(out: str = "report", patients: int = 60, seed: int = 0, weights: str | None = None,
             train: bool = False, progress: bool = True, overlays: int = 3) -> dict:
    """Run the demo study and return its metrics (also in ``<out>/metrics.json``)."""
    if patients < 10:
        raise ValueError(f"patients must be at least 10 (5-fold cross-validation by patient), got {patients}")
    from tqdm.auto import tqdm

    from .cohort import Cohort
    from .io import load
    from .phantoms import generate_cohort
    from .pipelines.sij_mri import SIJMRIPipeline
    from .plotting import report
    from .plotting.displays import BlandAltmanDisplay
    from .stats import bland_altman, delong_test, icc, roc_auc

    t0 = time.perf_counter()
    os.makedirs(out, exist_ok=True)
    if train:
        from .pipelines.sij_mri_train import train_sij_mri
        weights = os.path.join(out, "weights")
        print(f"sacroai demo: training the networks on phantoms into {weights} (takes several minutes)")
        train_sij_mri(weights, seed=seed, progress=progress)
    pipeline = SIJMRIPipeline.from_weights(weights)
    cohort_dir = os.path.join(out, "cohort")
    generate_cohort(cohort_dir, n_patients=patients, seed=seed + 1000, progress=progress)
    cohort = Cohort.read_csv(os.path.join(cohort_dir, "manifest.csv"))
    os.makedirs(os.path.join(out, "patients"), exist_ok=True)
    os.makedirs(os.path.join(out, "overlays"), exist_ok=True)

    rows = []
    it = range(len(cohort))
    it = tqdm(it, desc="SIJ MRI pipeline", unit="patient") if progress else it
    for i in it:
        row = cohort[i]
        res = pipeline.run(cohort.load(i))
        summary = res.summary()
        with open(os.path.join(cohort_dir, row["truth_dir"], "truth.json")) as f:
            truth = json.load(f)
        summary.update(patient=row["patient"], sparcc_truth=truth["sparcc_total"],
                       active_truth=int(truth["active_sacroiliitis"]))
        with open(os.path.join(out, "patients", f"{row['patient']}.json"), "w") as f:
            json.dump(summary, f, indent=1, default=float)
        if i < overlays:
            res.overlay(os.path.join(out, "overlays", f"{row['patient']}.png"))
        # segmentation against the phantom's true masks (phantoms are stored in the canonical frame)
        tdir = os.path.join(cohort_dir, row["truth_dir"])
        true_bones = np.asarray(load(os.path.join(tdir, "bones.nii.gz")).array)
        true_bme = np.asarray(load(os.path.join(tdir, "bme.nii.gz")).array) > 0
        rows.append(dict(row, sparcc_pred=summary["sparcc_total"], p_active=res.p_active,
                         asas_pred=int(summary["asas_positive"]),
                         dice_sacrum=_dice(res.bones == 1, true_bones == 1),
                         dice_ilium=_dice(res.bones == 2, true_bones == 2),
                         dice_bme=_dice(res.bme, true_bme) if true_bme.any() or res.bme.any() else None))
    t_pipe = time.perf_counter() - t0

    # ---------------------------------------------------------------- statistics
    pids = np.array([r["patient"] for r in rows])
    y = np.array([r["active_sacroiliitis"] for r in rows], dtype=np.int64)
    pred = np.array([r["sparcc_pred"] for r in rows], dtype=np.float64)
    true = np.array([r["sparcc_truth"] for r in rows], dtype=np.float64)
    readers = {}
    with open(os.path.join(cohort_dir, "readers.csv")) as f:
        for r in csv.DictReader(f):
            readers.setdefault(r["reader"], {})[r["patient"]] = float(r["sparcc"])
    reader_names = sorted(readers)
    reader_cols = [np.array([readers[n][p] for p in pids]) for n in reader_names]
    icc_truth = icc(np.column_stack([pred, true])).table["ICC(2,1)"]
    icc_readers = icc(np.column_stack(reader_cols)).table["ICC(2,1)"] if len(reader_cols) >= 2 else None
    icc_vs_readers = icc(np.column_stack([pred, np.mean(reader_cols, axis=0)])).table["ICC(2,1)"] if reader_cols else None
    ba = bland_altman(pred, true)

    clinical = np.column_stack([[r["hla_b27"] for r in rows], np.log([r["crp_mg_l"] for r in rows]),
                                [r["basdai"] for r in rows], [r["age"] for r in rows],
                                [1.0 if r["sex"] == "M" else 0.0 for r in rows]])
    p_img = np.array([r["p_active"] for r in rows], dtype=np.float64)
    p_clin, pen_clin = _oof_logistic(clinical, y, pids, seed)
    p_comb, pen_comb = _oof_logistic(np.column_stack([clinical, _logit(p_img)]), y, pids, seed)
    risks = {"image model": p_img, "clinical model": p_clin, "combined model": p_comb}
    aucs = {name: roc_auc(y, p, ci="delong") for name, p in risks.items()}
    tests = {f"combined vs {other}": delong_test(y, p_comb, risks[other]) for other in ("image model", "clinical model")}

    report(y, risks, os.path.join(out, "report.png"), title=f"Active sacroiliitis, {len(y)} phantom patients")
    BlandAltmanDisplay.from_measurements(pred, true).plot(units="SPARCC").figure_.savefig(
        os.path.join(out, "bland_altman.png"), dpi=110)

    def est(e):
        return {"estimate": float(e.estimate), "ci": [float(e.ci_low), float(e.ci_high)], "method": e.method}

    metrics = {
        "patients": len(rows), "seed": seed, "prevalence_active": float(y.mean()),
        "sparcc_icc_2_1_pipeline_vs_truth": est(icc_truth),
        "sparcc_icc_2_1_reader1_vs_reader2": est(icc_readers) if icc_readers else None,
        "sparcc_icc_2_1_pipeline_vs_reader_mean": est(icc_vs_readers) if icc_vs_readers else None,
        "bland_altman": {"bias": float(ba.bias.estimate),
                         "loa": [float(ba.lower_loa.estimate), float(ba.upper_loa.estimate)]},
        "auc": {name: est(a) for name, a in aucs.items()},
        "delong": {k: {"z": float(t.statistic), "p_value": float(t.p_value)} for k, t in tests.items()},
        "asas_from_maps_accuracy": float(np.mean([r["asas_pred"] == r["active_sacroiliitis"] for r in rows])),
        "dice": {"sacrum": float(np.mean([r["dice_sacrum"] for r in rows])),
                 "ilium": float(np.mean([r["dice_ilium"] for r in rows])),
                 "sij_bones": float(np.mean([(r["dice_sacrum"] + r["dice_ilium"]) / 2 for r in rows])),
                 "bme": float(np.mean([r["dice_bme"] for r in rows if r["dice_bme"] is not None]))},
        "penalised_fallback": {"clinical": pen_clin, "combined": pen_comb},
        "seconds": {"pipeline_total": round(t_pipe, 1), "per_patient": round(t_pipe / len(rows), 2),
                    "all": round(time.perf_counter() - t0, 1)},
        "weights": SIJMRIPipeline.cards(weights),
    }
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1, default=float)
    _write_html(out, metrics, rows)
    print(f"sacroai demo: {len(rows)} patients in {metrics['seconds']['all']} s; "
          f"SPARCC ICC(2,1) vs truth {icc_truth.estimate:.3f}; Dice bones {metrics['dice']['sij_bones']:.3f}, "
          f"oedema {metrics['dice']['bme']:.3f}; combined AUC {aucs['combined model'].estimate:.3f} "
          f"[{aucs['combined model'].ci_low:.3f}, {aucs['combined model'].ci_high:.3f}]; open {out}/index.html")
    return metrics


def _write_html(out, metrics, rows):
    def fmt(e):
        return f"{e['estimate']:.3f} [{e['ci'][0]:.3f}, {e['ci'][1]:.3f}]" if e else "n/a"

    table = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{fmt(v)}</td></tr>" for k, v in [
            ("SPARCC ICC(2,1), pipeline vs truth", metrics["sparcc_icc_2_1_pipeline_vs_truth"]),
            ("SPARCC ICC(2,1), reader 1 vs reader 2", metrics["sparcc_icc_2_1_reader1_vs_reader2"]),
            ("SPARCC ICC(2,1), pipeline vs readers' mean", metrics["sparcc_icc_2_1_pipeline_vs_reader_mean"]),
        ] + [(f"AUC (DeLong 95% CI), {name}", a) for name, a in metrics["auc"].items()])
    tests = "".join(f"<tr><td>{html.escape(k)}</td><td>z = {v['z']:.2f}, p = {v['p_value']:.3g}</td></tr>"
                    for k, v in metrics["delong"].items())
    overlays = "".join(png_tag(os.path.join(out, "overlays", f), 900) + "<br>"
                       for f in sorted(os.listdir(os.path.join(out, "overlays"))))
    per_patient = "".join(
        f"<tr><td>{r['patient']}</td><td>{r['sparcc_truth']}</td><td>{r['sparcc_pred']}</td>"
        f"<td>{r['active_sacroiliitis']}</td><td>{r['p_active']:.3f}</td></tr>" for r in rows)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>sacroai demo study</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}td,th{{padding:2px 10px;border-bottom:1px solid #ddd}}</style>
</head><body><h1>SIJ MRI phantom cohort: SPARCC and active sacroiliitis</h1>
<p>{metrics['patients']} phantom patients (prevalence of active sacroiliitis {metrics['prevalence_active']:.2f}).
Pipeline {metrics['seconds']['per_patient']} s per patient. The networks were trained on phantoms only; these
figures describe phantoms, not patients.</p>
<h2>Agreement and discrimination</h2><table>{table}</table><h3>Paired DeLong tests</h3><table>{tests}</table>
<p>Bland-Altman (pipeline - truth): bias {metrics['bland_altman']['bias']:.2f}, limits of agreement
[{metrics['bland_altman']['loa'][0]:.2f}, {metrics['bland_altman']['loa'][1]:.2f}].
ASAS MRI rule from the maps agrees with the truth in {100 * metrics['asas_from_maps_accuracy']:.0f}% of patients.</p>
<p>Segmentation Dice against the phantoms' true masks (mean over patients): sacrum {metrics['dice']['sacrum']:.3f},
ilium {metrics['dice']['ilium']:.3f}, bone-marrow oedema {metrics['dice']['bme']:.3f}.</p>
<h2>ROC, calibration and decision curves</h2>{png_tag(os.path.join(out, 'report.png'), 1050)}
<h2>Bland-Altman</h2>{png_tag(os.path.join(out, 'bland_altman.png'), 600)}
<h2>Overlays for the reader (scored slices; quadrants yellow, oedema red)</h2>{overlays}
<h2>Patients</h2><table><tr><th>patient</th><th>SPARCC truth</th><th>SPARCC pipeline</th><th>active (truth)</th>
<th>P(active), image</th></tr>{per_patient}</table>
<p>Audit trails: <code>patients/*.json</code>; all figures: <code>metrics.json</code>.</p></body></html>"""
    tmp = os.path.join(out, "index.html.tmp")
    with open(tmp, "w") as f:
        f.write(page)
    os.replace(tmp, os.path.join(out, "index.html"))
