"""The hip OA radiograph demo behind ``sacroai demo --study hip_xray``.

1. Generate a held-out phantom cohort of AP pelvis radiographs (default 40
   patients, 80 hips; :func:`sacroai.phantoms.generate_hip_cohort` with seed
   ``seed + 1000``, never used in training): 16-bit PNGs without spacing
   plus a JSON sidecar with the pixel spacing and the per-hip truth.
2. Exercise the file path: every PNG is read through
   :meth:`HipXrayPipeline.run_file` with the sidecar's spacing; a PNG read
   without spacing must give the pipeline's "no pixel spacing" message; the
   first few radiographs are also written as DICOM (Pixel Spacing set, one
   as MONOCHROME1) and read back through the loader, and their grades must
   equal the PNG's.
3. Report per OARSI feature head: accuracy (Wilson 95% CI), linear and
   quadratic weighted kappa (95% CI) and confusion matrices; the Croft hip
   grade and the K-L grade (phantom convention, see
   :data:`sacroai.pipelines.hip_xray.KL_RULE`) against the truth; overlays with
   Grad-CAM++ for the first patients.
4. Write ``<out>/``: ``index.html``, ``metrics.json``, ``confusion_features.png``,
   ``confusion_grades.png``, ``overlays/``, ``patients/<id>.json``, ``cohort/``.
"""
from __future__ import annotations

import html
import json
import os
import time

import numpy as np

from ..plotting.report import png_tag

from . import hip_xray as pipe


def write_dicom(pixels: np.ndarray, path: str, pixel_spacing, photometric: str = "MONOCHROME2") -> str:
    """Write 16-bit unsigned ``pixels`` [row, col] as a DX DICOM file with *Pixel Spacing* (needs pydicom).

    ``photometric="MONOCHROME1"`` stores the inverted values (65535 - v), as a detector
    that shows bone dark would, so the reader must invert them back.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    arr = np.asarray(pixels)
    if arr.ndim != 2 or arr.dtype != np.uint16:
        raise ValueError(f"pixels must be a 2-D uint16 array, got {arr.dtype} with shape {arr.shape}")
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise ValueError(f"photometric must be 'MONOCHROME1' or 'MONOCHROME2', got {photometric!r}")
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image for Presentation
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.Rows, ds.Columns = arr.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelSpacing = [float(s) for s in pixel_spacing]
    stored = (65535 - arr.astype(np.int64)).astype(np.uint16) if photometric == "MONOCHROME1" else arr
    ds.PixelData = stored.astype("<u2").tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def _confusion_figure(path, panels, title):
    from ..plotting import ConfusionMatrixDisplay
    from ..plotting._mpl import pyplot

    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.0 * len(panels), 3.8), squeeze=False)
    for ax, (name, matrix, labels) in zip(axes[0], panels):
        ConfusionMatrixDisplay(np.asarray(matrix), np.asarray(labels)).plot(ax=ax)
        ax.set_title(name, fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run_demo(out: str = "report_hip_xray", patients: int = 40, seed: int = 0, weights: str | None = None,
             train: bool = False, progress: bool = True, overlays: int = 3, dicom: int = 3) -> dict:
    """Run the hip radiograph demo on held-out phantoms and return its metrics (also ``<out>/metrics.json``)."""
    if int(patients) < 2:
        raise ValueError(f"patients must be at least 2, got {patients}")
    from ..phantoms import generate_hip_cohort
    from ..stats import cohen_kappa, confusion_matrix
    from .hip_xray_train import feature_agreement

    t0 = time.perf_counter()
    os.makedirs(out, exist_ok=True)
    if train:
        from .hip_xray_train import train_hip_xray
        weights = os.path.join(out, "weights")
        print(f"sacroai demo: training the hip network on phantoms into {weights} (a few minutes)")
        train_hip_xray(weights, seed=seed, progress=progress)
    pipeline = pipe.HipXrayPipeline.from_weights(weights)
    cohort_dir = os.path.join(out, "cohort")
    rows = generate_hip_cohort(cohort_dir, n=int(patients), seed=seed + 1000, progress=progress)
    for sub in ("patients", "overlays", "dicom"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    by_patient = {}
    for r in rows:
        by_patient.setdefault(r["patient"], []).append(r)

    io_checks = {}
    first = next(iter(by_patient.values()))[0]
    try:
        pipeline.run_file(os.path.join(cohort_dir, first["path"]))
        io_checks["png_without_spacing"] = "no error (unexpected)"
    except ValueError as exc:
        io_checks["png_without_spacing"] = str(exc)

    try:
        import pydicom  # noqa: F401
        have_dicom = True
    except ImportError:
        have_dicom = False
        io_checks["dicom"] = "skipped: pydicom is not installed"
    dicom_rows = []

    pred, true, hips = [], [], []
    it = list(by_patient.items())
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc="hip radiograph pipeline", unit="patient")
    for i, (pid, prow) in enumerate(it):
        with open(os.path.join(cohort_dir, prow[0]["sidecar"])) as f:
            sidecar = json.load(f)
        spacing = sidecar["pixel_spacing_mm"]
        png = os.path.join(cohort_dir, prow[0]["path"])
        res = pipeline.run_file(png, pixel_spacing=spacing, explain=["jsn"] if i < overlays else False)
        if i < overlays:
            res.overlay(os.path.join(out, "overlays", f"{pid}.png"))
        if have_dicom and i < dicom:
            from ..io.radiograph import load_radiograph
            photometric = "MONOCHROME1" if i == 0 else "MONOCHROME2"
            counts = np.rint(load_radiograph(png, pixel_spacing=spacing).array).astype(np.uint16)
            dpath = write_dicom(counts, os.path.join(out, "dicom", f"{pid}.dcm"), spacing, photometric)
            dres = pipeline.run_file(dpath)  # spacing from the file's Pixel Spacing
            same = all(dres.hips[s]["grades"] == res.hips[s]["grades"] for s in res.hips)
            dicom_rows.append({"patient": pid, "photometric": photometric,
                               "spacing_source": dres.radiograph.header.get("spacing_source"),
                               "grades_equal_png": bool(same)})
        summary = res.summary()
        summary["truth"] = {}
        for side in ("right", "left"):
            truth = sidecar["hips"][side]
            heads = pipe.heads_from_oarsi(truth["features"])
            summary["truth"][side] = {"heads": heads, "croft": truth["croft"], "kl": truth["kl"]}
            g = res.hips[side]
            pred.append([g["grades"][k] for k in pipe.HEADS])
            true.append([heads[k] for k in pipe.HEADS])
            hips.append({"patient": pid, "side": side, "croft_pred": g["hip_grade"]["croft_grade"],
                         "croft_true": truth["croft"], "kl_pred": g["kl"]["grade"], "kl_true": truth["kl"]})
        with open(os.path.join(out, "patients", f"{pid}.json"), "w") as f:
            json.dump(summary, f, indent=1, default=float)
    if have_dicom:
        io_checks["dicom"] = dicom_rows
    t_pipe = time.perf_counter() - t0

    pred, true = np.asarray(pred), np.asarray(true)
    feats = feature_agreement(pred, true)

    def code(c):  # Croft: None (undefined single feature) -> -1; 5 -> 4 (deformity is not assessed)
        return -1 if c is None else min(int(c), 4)

    cp = np.array([code(h["croft_pred"]) for h in hips])
    ct = np.array([code(h["croft_true"]) for h in hips])
    kp = np.array([h["kl_pred"] for h in hips])
    kt = np.array([h["kl_true"] for h in hips])
    croft_labels = sorted(set(cp) | set(ct))
    grades = {
        "croft": {"accuracy": float(np.mean(cp == ct)),
                  "kappa_quadratic": float(cohen_kappa(ct, cp, weights="quadratic", labels=croft_labels).estimate),
                  "rhoa_croft_accuracy": float(np.mean((cp >= 3) == (ct >= 3))),
                  "confusion_matrix": confusion_matrix(ct, cp, labels=croft_labels).matrix.tolist(),
                  "labels": [int(v) for v in croft_labels],
                  "note": "-1 = Croft undefined (a single feature that is sclerosis or cysts); true Croft 5 counted as "
                          "4 because femoral head deformity is not assessed"},
        "kl": {"accuracy": float(np.mean(kp == kt)),
               "kappa_quadratic": float(cohen_kappa(kt, kp, weights="quadratic", labels=list(range(5))).estimate),
               "radiographic_oa_accuracy": float(np.mean((kp >= 2) == (kt >= 2))),
               "confusion_matrix": confusion_matrix(kt, kp, labels=list(range(5))).matrix.tolist(),
               "labels": list(range(5)), "rule": pipe.KL_RULE},
    }
    _confusion_figure(os.path.join(out, "confusion_features.png"),
                      [(name, f["confusion_matrix"], f["labels"]) for name, f in feats.items()],
                      f"OARSI feature heads, {len(true)} held-out phantom hips (rows truth, columns pipeline)")
    _confusion_figure(os.path.join(out, "confusion_grades.png"),
                      [("Croft (-1 undefined)", grades["croft"]["confusion_matrix"], grades["croft"]["labels"]),
                       ("K-L (phantom convention)", grades["kl"]["confusion_matrix"], grades["kl"]["labels"])],
                      "Hip grades from the predicted features")
    metrics = {"patients": len(by_patient), "hips": int(len(true)), "seed": seed, "cohort_seed": seed + 1000,
               "features": feats, "grades": grades, "io_checks": io_checks,
               "seconds": {"pipeline_total": round(t_pipe, 1), "per_patient": round(t_pipe / len(by_patient), 3),
                           "all": round(time.perf_counter() - t0, 1)},
               "weights": pipe.HipXrayPipeline.cards(weights)}
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1, default=float)
    _write_html(out, metrics, hips)
    acc = ", ".join(f"{k} {v['accuracy']:.2f}/{v['kappa_quadratic']:.2f}" for k, v in feats.items())
    print(f"sacroai demo (hip_xray): {len(by_patient)} patients in {metrics['seconds']['all']} s; accuracy/"
          f"quadratic kappa per feature: {acc}; K-L accuracy {grades['kl']['accuracy']:.2f}; open {out}/index.html")
    return metrics


def _write_html(out, metrics, hips):
    def ci(v):
        return f"[{v[0]:.2f}, {v[1]:.2f}]"

    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{v['accuracy']:.3f} {ci(v['accuracy_ci'])}</td>"
        f"<td>{v['kappa_linear']:.3f} {ci(v['kappa_linear_ci'])}</td>"
        f"<td>{v['kappa_quadratic']:.3f} {ci(v['kappa_quadratic_ci'])}</td></tr>"
        for k, v in metrics["features"].items())
    g = metrics["grades"]
    io = metrics["io_checks"]
    dicom = io.get("dicom")
    dicom_html = (html.escape(dicom) if isinstance(dicom, str) else "".join(
        f"<li>{d['patient']}: {d['photometric']}, spacing from {html.escape(str(d['spacing_source']))}, grades equal "
        f"to the PNG's: {d['grades_equal_png']}</li>" for d in dicom or []))
    overlays = "".join(png_tag(os.path.join(out, "overlays", f), 1000) + "<br>"
                       for f in sorted(os.listdir(os.path.join(out, "overlays"))))
    per_hip = "".join(f"<tr><td>{h['patient']}</td><td>{h['side']}</td><td>{h['croft_true']}</td>"
                      f"<td>{h['croft_pred']}</td><td>{h['kl_true']}</td><td>{h['kl_pred']}</td></tr>" for h in hips)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>sacroai hip radiograph demo</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}td,th{{padding:2px 10px;border-bottom:1px solid #ddd}}</style>
</head><body><h1>Hip OA on AP pelvis radiograph phantoms: OARSI features, Croft and K-L</h1>
<p>{metrics['patients']} held-out phantom patients ({metrics['hips']} hips), pipeline
{metrics['seconds']['per_patient']} s per patient. The network was trained on phantoms only; these figures
describe phantoms, not patients.</p>
<h2>Per OARSI feature head (95% CIs)</h2><table><tr><th>head</th><th>accuracy</th><th>kappa (linear)</th>
<th>kappa (quadratic)</th></tr>{rows}</table>
<p>Heads: femoral osteophytes = max(superior, inferior), acetabular = max(superior, inferior), JSN =
max(superior, medial), each 0-3; sclerosis and cysts 0/1.</p>
{png_tag(os.path.join(out, 'confusion_features.png'), 1050)}
<h2>Hip grades from the predicted features</h2>
<p>Croft (sacroai.scores.oarsi_hip; deformity not assessed, so 5 is reported as 4): accuracy
{g['croft']['accuracy']:.3f}, quadratic kappa {g['croft']['kappa_quadratic']:.3f}, RHOA (Croft &ge; 3) accuracy
{g['croft']['rhoa_croft_accuracy']:.3f}.<br>K-L ({html.escape(g['kl']['rule'])}): accuracy {g['kl']['accuracy']:.3f},
quadratic kappa {g['kl']['kappa_quadratic']:.3f}, K-L &ge; 2 accuracy {g['kl']['radiographic_oa_accuracy']:.3f}.</p>
{png_tag(os.path.join(out, 'confusion_grades.png'), 700)}
<h2>File input</h2><p>A PNG without spacing: <code>{html.escape(str(io.get('png_without_spacing')))}</code></p>
<ul>{dicom_html}</ul>
<h2>Overlays (crop boxes, grades, Grad-CAM++ of the JSN head)</h2>{overlays}
<h2>Hips</h2><table><tr><th>patient</th><th>side</th><th>Croft truth</th><th>Croft pipeline</th><th>K-L truth</th>
<th>K-L pipeline</th></tr>{per_hip}</table>
<p>Per-patient summaries: <code>patients/*.json</code>; all figures: <code>metrics.json</code>.</p></body></html>"""
    tmp = os.path.join(out, "index.html.tmp")
    with open(tmp, "w") as f:
        f.write(page)
    os.replace(tmp, os.path.join(out, "index.html"))
