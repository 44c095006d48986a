"""The SIJ CT demo study behind ``sacroai demo --study sij_ct``.

1. Generate a held-out phantom CT cohort (default 40 patients, half axSpA;
   :func:`sacroai.phantoms.sij_ct.generate_ct_cohort`, seed ``seed + 1000``,
   never used in training).
2. Run the SIJ CT pipeline with the shipped weights (or train them first) on
   every scan.
3. Compare with the ground truth: per joint, the one-vs-rest AUC of each
   3-class class (0-I / II / III-IV) with DeLong intervals, the 5-grade and
   3-class confusion matrices, quadratic-weighted kappa; per patient, the mNY
   radiographic criterion, and erosion and ankylosis sensitivity/specificity
   with Wilson intervals for the shipped k-slice rule and the sweep over k.
4. Write ``<out>/``: ``index.html``, ``roc_class3.png``, ``confusion.png``,
   ``k_sweep.png``, ``overlays/`` (Grad-CAM++), ``metrics.json``,
   ``patients/<id>.json`` (audit trails) and ``cohort/`` (the scans).
"""
from __future__ import annotations

import html
import json
import os
import time

import numpy as np

from . import sij_ct as pipe


def _truth(t: dict) -> dict:
    j = t["joints"]
    return {"grades": {s: int(t["grades"][s]) for s in pipe.SIDES}, "criterion": bool(t["radiographic_criterion"]),
            "erosion": any(len(j[s]["erosion_slices"]) > 0 for s in pipe.SIDES),
            "ankylosis": any(len(j[s]["ankylosis_slices"]) > 0 for s in pipe.SIDES)}


def _figures(out: str, rows: list, metrics: dict) -> None:
    from ..phantoms.sij_ct import class3
    from ..plotting._mpl import pyplot
    from ..plotting.displays import ConfusionMatrixDisplay, RocDisplay

    plt = pyplot()
    t5, p5 = [], []
    for r in rows:
        for s in pipe.SIDES:
            if r["p_grade"][s] is not None:
                t5.append(r["truth"]["grades"][s])
                p5.append(r["p_grade"][s])
    t3 = np.array([class3(int(g)) for g in t5])
    p3 = pipe.collapse3(np.asarray(p5))
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    for c, (ax, name) in enumerate(zip(axes, pipe.CLASS3_NAMES)):
        y = (t3 == c).astype(int)
        if 0 < y.sum() < len(y):
            RocDisplay.from_predictions(y, {f"class {name}": p3[:, c]}).plot(ax=ax)
            ax.set_title(f"class {name} vs rest ({int(y.sum())} of {len(y)} joints)")
        else:
            ax.set_title(f"class {name}: one class only")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "roc_class3.png"), dpi=100)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    g5 = np.asarray(p5).argmax(axis=1)
    ConfusionMatrixDisplay.from_predictions(np.asarray(t5), g5, labels=list(range(5))).plot(ax=axes[0])
    axes[0].set_title("mNY grade (per joint)")
    ConfusionMatrixDisplay.from_predictions(t3, p3.argmax(axis=1), labels=[0, 1, 2]).plot(ax=axes[1])
    axes[1].set_title("3-class: 0 = 0-I, 1 = II, 2 = III-IV")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "confusion.png"), dpi=100)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, name in zip(axes, ("erosion", "ankylosis")):
        sw = metrics[name]["k_sweep"]
        ks = [s["k"] for s in sw]
        ax.plot(ks, [np.nan if s["sensitivity"] is None else s["sensitivity"] for s in sw], "o-", label="sensitivity")
        ax.plot(ks, [np.nan if s["specificity"] is None else s["specificity"] for s in sw], "s-", label="specificity")
        ax.axvline(metrics[name]["rule"]["k"], color="grey", ls=":")
        ax.set(xlabel="k (positive slices needed in one joint)", ylim=(-0.02, 1.02),
               title=f"{name}, slice threshold {metrics[name]['rule']['threshold']}")
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "k_sweep.png"), dpi=100)
    plt.close(fig)


def run_demo(out: str = "report_sij_ct", patients: int = 40, seed: int = 0, weights: str | None = None,
             train: bool = False, progress: bool = True, overlays: int = 3) -> dict:
    """Run the SIJ CT demo study and return its metrics (also in ``<out>/metrics.json``)."""
    if int(patients) < 4:
        raise ValueError(f"patients must be at least 4 (both classes of each outcome are needed), got {patients}")
    from tqdm.auto import tqdm

    from ..io import load
    from ..phantoms.sij_ct import generate_ct_cohort
    from .sij_ct_train import evaluate_rows, pipeline_row, train_sij_ct

    t0 = time.perf_counter()
    os.makedirs(out, exist_ok=True)
    if train:
        weights = os.path.join(out, "weights")
        print(f"sacroai demo: training the SIJ CT networks on phantoms into {weights} (takes several minutes)")
        train_sij_ct(weights, seed=seed, progress=progress)
    pipeline = pipe.SIJCTPipeline.from_weights(weights)
    cohort_dir = os.path.join(out, "cohort")
    manifest = generate_ct_cohort(cohort_dir, n=int(patients), seed=seed + 1000, progress=progress)
    for sub in ("patients", "overlays"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    t1 = time.perf_counter()
    rows = []
    it = tqdm(manifest, desc="SIJ CT pipeline", unit="patient") if progress else manifest
    for i, row in enumerate(it):
        ct = load(os.path.join(cohort_dir, row["path"]))
        with open(os.path.join(cohort_dir, row["truth_dir"], "truth.json")) as f:
            truth = _truth(json.load(f))
        res = pipeline.run(ct, explain=i < overlays)
        if i < overlays:
            for which in ("grader", "erosion", "ankylosis"):
                res.overlay(os.path.join(out, "overlays", f"{row['patient']}_{which}.png"), which=which)
        summary = dict(res.summary(), patient=row["patient"], truth=truth)
        with open(os.path.join(out, "patients", f"{row['patient']}.json"), "w") as f:
            json.dump(summary, f, indent=1, default=float)
        rows.append(dict(pipeline_row(res, truth), patient=row["patient"]))
    t_pipe = time.perf_counter() - t1
    metrics = evaluate_rows(rows, pipeline.erosion_rule, pipeline.ankylosis_rule)
    metrics.update(patients=len(rows), seed=seed, cohort_seed=seed + 1000,
                   seconds={"pipeline_total": round(t_pipe, 1), "per_patient": round(t_pipe / len(rows), 2),
                            "all": round(time.perf_counter() - t0, 1)},
                   weights=pipe.SIJCTPipeline.cards(weights))
    _figures(out, rows, metrics)
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1, default=float)
    _write_html(out, metrics, rows)
    a = metrics["auc_class3"]
    auc_txt = ", ".join(f"{k} {v['estimate']:.3f}" if v.get("estimate") is not None else f"{k} n/a"
                        for k, v in a.items())
    print(f"sacroai demo sij_ct: {len(rows)} patients in {metrics['seconds']['all']} s; 3-class AUCs {auc_txt}; "
          f"erosion sens {metrics['erosion']['sensitivity']['estimate']:.2f} spec "
          f"{metrics['erosion']['specificity']['estimate']:.2f}; ankylosis sens "
          f"{metrics['ankylosis']['sensitivity']['estimate']:.2f} spec "
          f"{metrics['ankylosis']['specificity']['estimate']:.2f}; open {out}/index.html")
    return metrics


def _write_html(out: str, m: dict, rows: list) -> None:
    from ..plotting import png_tag

    def ci(e):
        if not e or e.get("estimate") is None or not np.isfinite(e["estimate"]):
            return "n/a"
        return f"{e['estimate']:.3f} [{e['ci_low']:.3f}, {e['ci_high']:.3f}]"

    def boot(v):
        b = v.get("ci_bootstrap_patients")
        return f"[{b[0]:.3f}, {b[1]:.3f}]" if b else "n/a"

    aucs = "".join(f"<tr><td>class {html.escape(k)} vs rest (AUC, DeLong 95% CI; {v.get('n_pos')} joints)</td>"
                   f"<td>{ci(v)}</td><td>bootstrap over patients {boot(v)}</td></tr>"
                   for k, v in m["auc_class3"].items())
    acc = "".join(f"<tr><td>{html.escape(label)}</td><td>{ci(e)}</td></tr>" for label, e in [
        ("grade accuracy (5 grades, Wilson)", m["accuracy_5"]), ("3-class accuracy (Wilson)", m["accuracy_3"]),
        ("quadratic-weighted kappa, grades", m["kappa_quadratic"]),
        ("mNY criterion sensitivity", m["criterion"]["sensitivity"]),
        ("mNY criterion specificity", m["criterion"]["specificity"])])
    det = "".join(
        f"<tr><td>{name}: k = {m[name]['rule']['k']}, threshold {m[name]['rule']['threshold']} "
        f"({m[name]['n_positive']} positive patients)</td><td>sensitivity {ci(m[name]['sensitivity'])}</td>"
        f"<td>specificity {ci(m[name]['specificity'])}</td></tr>" for name in ("erosion", "ankylosis"))
    overlays = "".join(png_tag(os.path.join(out, "overlays", f), 700) + "<br>"
                       for f in sorted(os.listdir(os.path.join(out, "overlays"))))
    per_patient = "".join(
        f"<tr><td>{r['patient']}</td><td>{r['truth']['grades']['left']} / {r['truth']['grades']['right']}</td>"
        f"<td>{r['grades']['left']} / {r['grades']['right']}</td><td>{int(r['truth']['criterion'])}</td>"
        f"<td>{r['criterion']}</td><td>{int(r['truth']['erosion'])} / {int(r['erosion'])}</td>"
        f"<td>{int(r['truth']['ankylosis'])} / {int(r['ankylosis'])}</td></tr>" for r in rows)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>sacroai SIJ CT demo</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}td,th{{padding:2px 10px;border-bottom:1px solid #ddd}}</style>
</head><body><h1>SIJ CT phantom cohort: modified New York grades, erosions, ankylosis</h1>
<p>{m['patients']} held-out phantom patients ({m['n_joints']} joints graded, {m['n_joints_not_found']} not found).
Pipeline {m['seconds']['per_patient']} s per patient. The networks were trained on phantoms only; these figures
describe phantoms, not patients.</p>
<h2>3-class grading per joint (0-I / II / III-IV)</h2><table>{aucs}</table>{png_tag(os.path.join(out, 'roc_class3.png'), 1050)}
<h2>Confusion matrices and agreement</h2><table>{acc}</table>{png_tag(os.path.join(out, 'confusion.png'), 850)}
<h2>Erosion and ankylosis per patient (Wilson 95% CI)</h2><table>{det}</table>
{png_tag(os.path.join(out, 'k_sweep.png'), 850)}
<h2>Grad-CAM++ of the decisions</h2>{overlays}
<h2>Patients</h2><table><tr><th>patient</th><th>grades L/R truth</th><th>grades L/R pipeline</th>
<th>mNY truth</th><th>mNY pipeline</th><th>erosion truth/pipeline</th><th>ankylosis truth/pipeline</th></tr>
{per_patient}</table>
<p>Audit trails: <code>patients/*.json</code>; all figures: <code>metrics.json</code>.</p></body></html>"""
    tmp = os.path.join(out, "index.html.tmp")
    with open(tmp, "w") as f:
        f.write(page)
    os.replace(tmp, os.path.join(out, "index.html"))
