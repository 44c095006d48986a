"""A phantom axial-spondyloarthritis cohort: SIJ MRI phantoms plus clinical data and readers.

Clinical covariates follow the pattern of axSpA cohorts (patients vs.
chronic-back-pain controls): HLA-B27 positive in about 75 % of patients and
10 % of controls, higher CRP and BASDAI, younger age at onset, more men.
Readers' SPARCC sheets disagree with the truth the way readers do: missed
small lesions more often than invented ones, and the intensity and depth
bonuses judged less reliably than the quadrants.
"""
from __future__ import annotations

import copy
import csv
import json
import os

import numpy as np

from ..io import save
from ..volume import Volume
from .sij_mri import asas_positive, generate_sij_mri, random_lesions

MANIFEST_FIELDS = ["patient", "visit", "side", "modality", "path", "reader",
                   "active_sacroiliitis", "axspa", "sparcc_truth", "age", "sex", "hla_b27", "crp_mg_l",
                   "basdai", "symptom_months", "truth_dir"]


def sheet_total(sheet: dict) -> int:
    """SPARCC SIJ total of a complete sheet (quadrants + intense + deep over 6 slices, both joints)."""
    return int(sum(sum(j["quadrants"]) + j["intense"] + j["deep"]
                   for s in sheet["slices"] for j in (s["left"], s["right"])))


def reader_sheet(truth: dict, rng: np.random.Generator, miss=0.08, invent=0.015, bonus_flip=0.12) -> dict:
    """A reader's version of a true SPARCC sheet (never a bonus without a lesion)."""
    sheet = copy.deepcopy(truth)
    for s in sheet["slices"]:
        for side in ("left", "right"):
            j = s[side]
            j["quadrants"] = [int(q ^ (rng.random() < (miss if q else invent))) for q in j["quadrants"]]
            for bonus in ("intense", "deep"):
                if rng.random() < bonus_flip:
                    j[bonus] ^= 1
                if not any(j["quadrants"]):
                    j[bonus] = 0
    return sheet


def _clinical(rng, axspa: bool, sparcc: int) -> dict:
    age = float(np.clip(rng.normal(34 if axspa else 41, 9 if axspa else 11), 18, 70))
    crp = float(np.exp(rng.normal(1.6 + 0.03 * sparcc if axspa else 1.0, 0.8)))
    return {
        "age": round(age, 1),
        "sex": "M" if rng.random() < (0.62 if axspa else 0.45) else "F",
        "hla_b27": int(rng.random() < (0.75 if axspa else 0.10)),
        "crp_mg_l": round(crp, 2),
        "basdai": round(float(np.clip(rng.normal(5.0 if axspa else 3.4, 1.8), 0, 10)), 1),
        "symptom_months": int(np.clip(rng.gamma(2.0, 30 if axspa else 18), 3, 400)),
    }


def generate_cohort(out_dir, n_patients: int = 60, seed: int = 0, readers: int = 2,
                    prevalence: float = 0.5, with_t1: bool = False, shape=(176, 128, 12),
                    spacing=(0.8, 0.8, 4.0), progress: bool = True) -> list:
    """Write a phantom cohort to ``out_dir`` and return its manifest rows.

    Layout::

        out_dir/manifest.csv              one row per scan (and reader), see MANIFEST_FIELDS
        out_dir/readers.csv               patient, reader, SPARCC total of each reader's sheet
        out_dir/patientNNN/stir.nii.gz    the scan (and t1.nii.gz when with_t1)
        out_dir/patientNNN/truth/         bones, quadrants, bme, vessels (.nii.gz) and truth.json
                                          (lesions, SPARCC sheet, ASAS input, readers' sheets)

    Everything is deterministic from ``seed``.
    """
    if n_patients < 1:
        raise ValueError(f"n_patients must be at least 1, got {n_patients}")
    if not 0.0 <= prevalence <= 1.0:
        raise ValueError(f"prevalence must be in [0, 1], got {prevalence}")
    if readers < 0:
        raise ValueError(f"readers must be >= 0, got {readers}")
    rng = np.random.default_rng(seed)
    os.makedirs(out_dir, exist_ok=True)
    rows, reader_rows = [], []
    it = range(n_patients)
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc="phantom cohort", unit="patient")
    for p in it:
        prng = np.random.default_rng(rng.integers(2**63))
        axspa = bool(prng.random() < prevalence)
        active = axspa and prng.random() < 0.85
        lesions = random_lesions(prng, active=active, nk=shape[2])
        ph = generate_sij_mri(prng, lesions, shape=shape, spacing=spacing, with_t1=with_t1,
                              fat_lesions=int(prng.integers(0, 3)) if axspa else 0)
        pid = f"patient{p:03d}"
        pdir = os.path.join(out_dir, pid)
        tdir = os.path.join(pdir, "truth")
        os.makedirs(tdir, exist_ok=True)
        save(ph.stir, os.path.join(pdir, "stir.nii.gz"))
        if ph.t1 is not None:
            save(ph.t1, os.path.join(pdir, "t1.nii.gz"))
        for name, arr in (("bones", ph.bones), ("quadrants", ph.quadrants), ("bme", ph.bme),
                          ("vessels", ph.vessels)):
            save(Volume(arr.astype(np.uint8), ph.stir.affine), os.path.join(tdir, f"{name}.nii.gz"))
        sheets = {f"reader{r + 1}": reader_sheet(ph.sheet, prng) for r in range(readers)}
        truth_total = sheet_total(ph.sheet)
        truth = {"patient": pid, "lesions": [vars(les) for les in ph.lesions], "sheet": ph.sheet,
                 "sparcc_total": truth_total, "asas": ph.asas, "active_sacroiliitis": asas_positive(ph.asas),
                 "scored_slices": list(ph.scored_slices), "vessel_signal": ph.vessel_signal,
                 "readers": sheets, "params": ph.params}
        with open(os.path.join(tdir, "truth.json"), "w") as f:
            json.dump(truth, f, indent=1, default=lambda o: list(o) if isinstance(o, tuple) else str(o))
        row = {"patient": pid, "visit": 1, "side": "both", "modality": "STIR",
               "path": os.path.join(pid, "stir.nii.gz"), "reader": "",
               "active_sacroiliitis": int(truth["active_sacroiliitis"]), "axspa": int(axspa),
               "sparcc_truth": truth_total, "truth_dir": os.path.join(pid, "truth")}
        row.update(_clinical(prng, axspa, truth_total))
        rows.append(row)
        for name, sheet in sheets.items():
            reader_rows.append({"patient": pid, "reader": name, "sparcc": sheet_total(sheet)})
    with open(os.path.join(out_dir, "manifest.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=MANIFEST_FIELDS)
        w.writeheader()
        w.writerows(rows)
    with open(os.path.join(out_dir, "readers.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["patient", "reader", "sparcc"])
        w.writeheader()
        w.writerows(reader_rows)
    return rows
