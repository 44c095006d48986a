"""The demo cohort study behind ``sacroai demo``.

Generates a small phantom cohort of pelvic volumes on disk (NIfTI), reads it
back through the package's I/O and writes a summary to the output folder.
Later stages of the study (preprocessing, segmentation, SPARCC scoring,
statistics report) run as they become part of the package.
"""
from __future__ import annotations

import json
import os
import time

import numpy as np

from .io import load, save
from .volume import Volume


def _phantom_pelvis(rng: np.random.Generator, shape=(96, 80, 24), spacing=(0.8, 0.8, 4.0)) -> Volume:
    """A crude STIR-like semicoronal slab: sacrum in the middle, two ilia, noise."""
    i, j, k = np.meshgrid(*(np.arange(s, dtype=np.float32) for s in shape), indexing="ij")
    x = (i - shape[0] / 2) * spacing[0]
    y = (j - shape[1] / 2) * spacing[1]
    sacrum = (np.abs(x) < 14 + 0.1 * y) & (np.abs(y) < 25)
    ilia = (np.abs(x) > 17 + 0.1 * y) & (np.abs(x) < 34) & (np.abs(y) < 28)
    img = 80 + 220 * sacrum + 200 * ilia + rng.normal(0, 12, size=shape)
    affine = np.diag([-spacing[0], spacing[1], spacing[2], 1.0])  # LAS, as many scanners store
    return Volume(img.astype(np.float32), affine, header={"descrip": "sacroai phantom"})


def run_demo(out: str = "report", patients: int = 60, seed: int = 0) -> dict:
    """Run the demo and return its summary (also written to ``out/summary.json``)."""
    if patients < 1:
        raise ValueError(f"patients must be at least 1, got {patients}")
    from tqdm.auto import tqdm

    rng = np.random.default_rng(seed)
    scans = os.path.join(out, "scans")
    os.makedirs(scans, exist_ok=True)
    t0 = time.perf_counter()
    rows = []
    for p in tqdm(range(patients), desc="phantom cohort", unit="patient"):
        path = os.path.join(scans, f"patient{p:03d}_stir.nii.gz")
        save(_phantom_pelvis(rng), path)
        vol = load(path)
        rows.append({"patient": p, "path": path, "shape": list(vol.shape),
                     "spacing_mm": [round(s, 3) for s in vol.spacing], "orientation": vol.orientation})
    summary = {"patients": patients, "seed": seed, "seconds": round(time.perf_counter() - t0, 2),
               "scans": rows}
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(f"sacroai demo: {patients} phantom scans written to {scans}; summary in {out}/summary.json")
    return summary
