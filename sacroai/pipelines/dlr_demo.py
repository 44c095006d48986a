"""``sacroai demo --study dlr``: deep-learning radiomics on a held-out multi-sequence phantom cohort.

1. Generate a held-out cohort of multi-sequence SIJ MRI phantoms (T1, STIR,
   ADC) with clinical factors (:mod:`sacroai.phantoms.sij_mri_multiseq`,
   cohort seed ``seed + 5000``, distinct from the training cohorts).
2. Apply the shipped models (:meth:`DLRStudy.from_weights`): one CNN per
   sequence, the stacked ensemble, the clinical and the combined model.  With
   ``train=True`` the full patient-level cross-validated study
   (:meth:`DLRStudy.fit_cv`) runs on the cohort instead and every figure is
   out-of-fold.
3. Report each model's AUC with its DeLong interval, the paired DeLong tests
   of the combined model against each single-sequence model, calibration,
   decision curves and the combined model's nomogram.
4. Write ``<out>/``: ``index.html``, ``report.png`` (ROC, calibration, DCA,
   table), ``roc.png``, ``nomogram.png``, ``metrics.json``.
"""
from __future__ import annotations

import html
import json
import os
import time

import numpy as np

from ..plotting.report import png_tag
from .dlr import DLRStudy, evaluate_models

DEMO_COHORT_OFFSET = 5000


def run_demo(out: str = "report_dlr", patients: int = 60, seed: int = 0, weights: str | None = None,
             train: bool = False, progress: bool = True) -> dict:
    """Run the DLR demo study and return its metrics (also in ``<out>/metrics.json``).

    patients : size of the held-out phantom cohort (at least 20: 5-fold CV by patient with ``train=True``).
    weights : folder of the DLR weights (``weights/`` of the package by default).
    train : run the cross-validated study on the cohort instead of applying the shipped weights.
    """
    if isinstance(patients, bool) or not isinstance(patients, (int, np.integer)) or patients < 20:
        raise ValueError(f"patients must be an integer >= 20 (both outcomes needed for AUCs, and 5-fold "
                         f"cross-validation by patient with train=True), got {patients!r}")
    from ..phantoms.sij_mri_multiseq import generate_multiseq_cohort
    from ..plotting import NomogramDisplay, RocDisplay, report
    from ..plotting._mpl import pyplot

    t0 = time.perf_counter()
    os.makedirs(out, exist_ok=True)
    cases = generate_multiseq_cohort(int(patients), seed=seed + DEMO_COHORT_OFFSET, id_prefix="D",
                                     progress=progress)
    y = np.array([c["axspa"] for c in cases], dtype=np.int64)
    if min(y.sum(), len(y) - y.sum()) < 5:
        raise ValueError(f"the generated cohort has {int(y.sum())} axSpA and {int(len(y) - y.sum())} control "
                         f"patients; at least 5 of each are needed: use more patients or another seed")
    t_gen = time.perf_counter() - t0
    if train:
        study = DLRStudy(seed=seed, progress=progress)
        print(f"sacroai demo dlr: patient-level {study.folds}-fold CV study on {len(cases)} phantoms "
              f"({study.folds * len(study.sequences)} networks; takes a few minutes)")
        cv = study.fit_cv(cases)
        risks = dict(cv.oof)
        source = f"out-of-fold predictions of a {study.folds}-fold patient-level CV study on this cohort"
        weights_info = None
    else:
        study = DLRStudy.from_weights(weights, progress=progress)
        pred = study.predict(cases)
        risks = {k: pred[k] for k in list(study.sequences) + ["ensemble", "clinical", "combined"]}
        source = "the shipped models applied to this held-out cohort (never seen in training)"
        weights_info = {k: study.info.get(k) for k in ("config", "trained_on", "held_out_phantoms", "width_note")}
    t_models = time.perf_counter() - t0 - t_gen
    labels = {s: f"{s.upper()} CNN ({study.backbones[s]}, width {study.width})" for s in study.sequences}
    labels.update(ensemble="stacked ensemble (DLR)", clinical="clinical model", combined="combined (DLR + clinical)")
    named = {labels[k]: v for k, v in risks.items()}

    stats = evaluate_models(y, risks, study.sequences)
    report(y, named, os.path.join(out, "report.png"),
           title=f"axSpA, {len(y)} held-out multi-sequence phantoms ({'CV' if train else 'shipped models'})")
    plt = pyplot()
    roc = RocDisplay.from_predictions(y, named).plot()
    roc.ax_.set_title("ROC (DeLong 95% CI in the table)")
    roc.figure_.savefig(os.path.join(out, "roc.png"), dpi=110)
    plt.close(roc.figure_)
    nom = NomogramDisplay(study.nomogram()).plot()
    nom.figure_.set_size_inches(9, 4.5)
    nom.figure_.savefig(os.path.join(out, "nomogram.png"), dpi=110)
    plt.close(nom.figure_)
    plt.close("all")

    metrics = {
        "study": "dlr", "patients": len(y), "seed": seed, "prevalence": float(y.mean()), "source": source,
        "sequences": list(study.sequences), "backbones": study.backbones, "width": study.width,
        "clinical": list(study.clinical),
        **stats,
        "meta_models": study.meta_models,
        "seconds": {"cohort": round(t_gen, 1), "models": round(t_models, 1),
                    "per_patient": round(t_models / len(y), 3), "all": round(time.perf_counter() - t0, 1)},
        "weights": weights_info,
    }
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1, default=float)
    _write_html(out, metrics, labels)
    a = metrics["auc"]["combined"]
    print(f"sacroai demo dlr: {len(y)} patients in {metrics['seconds']['all']} s; AUC "
          + ", ".join(f"{k} {v['estimate']:.3f}" for k, v in metrics["auc"].items())
          + f"; combined [{a['ci'][0]:.3f}, {a['ci'][1]:.3f}]; open {out}/index.html")
    return metrics


def _write_html(out, m, labels):
    def fmt(e):
        return f"{e['estimate']:.3f} [{e['ci'][0]:.3f}, {e['ci'][1]:.3f}]"

    aucs = "".join(f"<tr><td>{html.escape(labels.get(k, k))}</td><td>{fmt(v)}</td><td>{m['brier'][k]:.3f}</td>"
                   f"<td>{m['calibration'][k].get('citl', float('nan')):.2f}</td>"
                   f"<td>{m['calibration'][k].get('slope', float('nan')):.2f}</td></tr>" for k, v in m["auc"].items())
    tests = "".join(f"<tr><td>{html.escape(k)}</td><td>{v['auc_difference']:+.3f} "
                    f"[{v['ci'][0]:+.3f}, {v['ci'][1]:+.3f}]</td><td>z = {v['z']:.2f}</td>"
                    f"<td>p = {v['p_value']:.3g}</td></tr>" for k, v in m["delong"].items())
    dc = m["decision_curve"]
    dca = "".join(f"<tr><td>{html.escape(labels.get(k, k))}</td>" + "".join(f"<td>{v:.3f}</td>" for v in nb) + "</tr>"
                  for k, nb in dc["net_benefit"].items())
    dca_head = "".join(f"<th>{t:g}</th>" for t in dc["thresholds"])
    comb = m["meta_models"]["combined"]
    coefs = "".join(f"<tr><td>{html.escape(n)}</td><td>{c:.3f}</td></tr>"
                    for n, c in zip(["(intercept)"] + comb["names"], comb["coef"]))
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>sacroai DLR demo</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}td,th{{padding:2px 10px;border-bottom:1px solid #ddd}}</style>
</head><body><h1>Deep-learning radiomics on multi-sequence SIJ MRI phantoms</h1>
<p>{m['patients']} phantom patients (axSpA prevalence {m['prevalence']:.2f}); predictions are {html.escape(m['source'])}.
One CNN per sequence ({', '.join(f'{s}: {b}' for s, b in m['backbones'].items())}; narrow, width {m['width']},
on 64x48 crops at 1.6 mm, slice probabilities averaged per patient), stacked by a logistic model into the DLR score,
combined with {', '.join(m['clinical'])} in a logistic model. Models {m['seconds']['per_patient']} s per patient.
These figures describe phantoms, not patients.</p>
<h2>Discrimination and calibration</h2><table><tr><th>model</th><th>AUC (DeLong 95% CI)</th><th>Brier</th>
<th>calibration intercept</th><th>slope</th></tr>{aucs}</table>
<h3>Paired DeLong tests (AUC difference, 95% CI)</h3><table>{tests}</table>
<h2>ROC, calibration and decision curves</h2>{png_tag(os.path.join(out, 'report.png'), 1050)}
<h3>Net benefit at threshold probabilities</h3><table><tr><th>model</th>{dca_head}</tr>{dca}</table>
<h2>Nomogram of the combined model</h2>{png_tag(os.path.join(out, 'nomogram.png'), 900)}
<table><tr><th>term</th><th>coefficient (log-odds)</th></tr>{coefs}</table>
<p>All numbers: <code>metrics.json</code>.</p></body></html>"""
    tmp = os.path.join(out, "index.html.tmp")
    with open(tmp, "w") as f:
        f.write(page)
    os.replace(tmp, os.path.join(out, "index.html"))
