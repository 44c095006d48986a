"""Multi-sequence SIJ MRI phantoms (T1, STIR, ADC) with clinical data, for deep-learning radiomics.

Each phantom patient has an outcome (axSpA yes/no) and three co-registered
semicoronal series built on :func:`sacroai.phantoms.generate_sij_mri`, each
carrying partly different evidence:

- **STIR** shows bone-marrow oedema (active inflammation) bright;
- **T1** shows fat metaplasia (4-8 bright patches, 3.5-6 mm radius) and
  1-4 erosions (dark notches at the iliac joint line), in 70 % with iliac
  subchondral sclerosis (a dark 3-6 mm band along the joint): the structural lesions;
  oedema is only faintly dark on T1 here (0.62 against marrow 0.75);
- **ADC** (an apparent-diffusion-coefficient map, in 10^-6 mm^2/s, at
  DWI-like blur and noise) is raised in oedematous marrow and, in some
  patients, diffusely in the subchondral marrow without visible oedema.

The evidence is drawn independently per patient so that no sequence is
perfect: in axSpA, oedema in 65 %, structural lesions in 60 %, a diffuse
ADC rise in 40 % (some patients show none); among controls, oedema-like
mimics in 10 % (mechanical stress), structural lesions in 12 %
(degenerative) and a diffuse ADC rise in 6 %.  The clinical covariates (age, sex, HLA-B27,
CRP, BASDAI, symptom duration) follow :mod:`sacroai.phantoms.cohort`.

A *case* is a dict: ``"patient"`` (id), one :class:`~sacroai.Volume` per
sequence name (``"t1"``, ``"stir"``, ``"adc"``), the clinical values and the
outcome ``"axspa"`` (0/1); ``"evidence"`` records what was planted.
Everything is deterministic from the seed.
"""
from __future__ import annotations

import numpy as np

from ..volume import Volume
from .cohort import _clinical, sheet_total
from .sij_mri import generate_sij_mri, random_lesions

SEQUENCES = ("t1", "stir", "adc")
CLINICAL = ("age", "sex", "hla_b27", "crp_mg_l", "basdai", "symptom_months")

# ADC (10^-6 mm^2/s) of the tissue classes; inflamed marrow is raised
ADC_MARROW, ADC_SOFT, ADC_FAT, ADC_BME, ADC_DIFFUSE = 450.0, 1300.0, 250.0, 1150.0, 750.0
ADC_BLUR_MM, ADC_NOISE = 1.6, 110.0
EROSION_SIGNAL = 0.35   # T1 signal scale inside an erosion (cortex and fatty marrow lost)
SCLEROSIS_SIGNAL = 0.6  # T1 signal scale in subchondral sclerosis

# probability of each kind of evidence: (axSpA, control)
P_OEDEMA = (0.65, 0.10)
P_STRUCTURAL = (0.60, 0.12)
P_DIFFUSE_ADC = (0.40, 0.06)


def _erosions(rng, ph, n):
    """Masks of ``n`` erosions: discs of 2.5-4.5 mm radius on the iliac side of the joint line."""
    from scipy import ndimage

    sp = ph.params["spacing"]
    mask = np.zeros(ph.bones.shape, bool)
    scored = ph.scored_slices
    for _ in range(n):
        k = int(rng.integers(scored[0], scored[-1] + 1))
        iliac = np.isin(ph.quadrants[..., k], (1, 2, 5, 6))
        # iliac quadrant voxels within 2 mm of the joint space (non-bone)
        dist = ndimage.distance_transform_edt(ph.bones[..., k] > 0, sampling=sp[:2])
        rim = iliac & (dist <= 2.0)
        cand = np.argwhere(rim)
        if len(cand) == 0:
            continue
        ci, cj = cand[rng.integers(len(cand))]
        r = rng.uniform(2.5, 4.5)
        ii, jj = np.ogrid[:ph.bones.shape[0], :ph.bones.shape[1]]
        disc = ((ii - ci) * sp[0]) ** 2 + ((jj - cj) * sp[1]) ** 2 <= r * r
        mask[..., k] |= disc & (ph.bones[..., k] == 2)
    return mask


def _sclerosis(rng, ph):
    """Subchondral sclerosis: a 3-6 mm band of the ilium along the joint line, on one or both
    sides, over all scored slices (dark on T1)."""
    from scipy import ndimage

    sp = ph.params["spacing"]
    depth = rng.uniform(3.0, 6.0)
    sides = ((1, 2), (5, 6), (1, 2, 5, 6))[int(rng.integers(3))]
    mask = np.zeros(ph.bones.shape, bool)
    for k in ph.scored_slices:
        dist = ndimage.distance_transform_edt(ph.bones[..., k] > 0, sampling=sp[:2])
        mask[..., k] = np.isin(ph.quadrants[..., k], sides) & (dist <= depth)
    return mask


def _adc_map(rng, ph, diffuse: bool):
    """An ADC map (10^-6 mm^2/s) from the phantom's tissue masks, blurred and noisy."""
    from scipy import ndimage

    sp = ph.params["spacing"]
    adc = np.full(ph.bones.shape, ADC_SOFT, np.float32)
    adc[ph.bones > 0] = ADC_MARROW
    if diffuse:
        adc[(ph.quadrants > 0) & (ph.bones > 0)] = ADC_DIFFUSE
    adc[ph.fat] = ADC_FAT
    # oedema raises the ADC a little beyond the STIR-visible lesion (1 voxel)
    grown = np.stack([ndimage.binary_dilation(ph.bme[..., k], iterations=1) for k in range(ph.bme.shape[2])], -1)
    adc[grown & (ph.bones > 0)] = ADC_BME
    sigma = (ADC_BLUR_MM / sp[0], ADC_BLUR_MM / sp[1], 0.0)
    adc = ndimage.gaussian_filter(adc, sigma=sigma, mode="nearest")
    adc = adc + rng.normal(0.0, ADC_NOISE, size=adc.shape).astype(np.float32)
    return np.clip(adc, 0.0, None).astype(np.float32)


def generate_multiseq_case(seed=0, axspa: bool | None = None, *, patient: str = "P000", prevalence: float = 0.5,
                           shape=(176, 128, 12), spacing=(0.8, 0.8, 4.0)) -> dict:
    """One phantom patient with T1, STIR and ADC series and clinical data.

    Parameters
    ----------
    seed : int or numpy.random.Generator
    axspa : the outcome; ``None`` draws it with probability ``prevalence``.
    patient : the case's id.
    shape, spacing : voxel grid ``(i, j, k)`` and voxel size (mm) of all three series.

    Returns
    -------
    dict with ``patient``, ``t1``, ``stir``, ``adc`` (Volumes on one grid, RSA),
    the clinical values of :data:`CLINICAL`, ``axspa`` (0/1) and ``evidence``
    (what was planted: oedema, structural, diffuse_adc, lesion counts, SPARCC).
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if not 0.0 <= prevalence <= 1.0:
        raise ValueError(f"prevalence must be in [0, 1], got {prevalence}")
    y = bool(rng.random() < prevalence) if axspa is None else bool(axspa)
    c = 0 if y else 1
    oedema = bool(rng.random() < P_OEDEMA[c])
    structural = bool(rng.random() < P_STRUCTURAL[c])
    diffuse = bool(rng.random() < P_DIFFUSE_ADC[c])
    lesions = random_lesions(rng, active=oedema, nk=shape[2])
    if not oedema:
        lesions = []  # no oedema at all (random_lesions may give one small lesion)
    n_fat = int(rng.integers(4, 9)) if structural else 0
    n_erosions = int(rng.integers(1, 5)) if structural else 0
    sclerosis = structural and bool(rng.random() < 0.7)
    ph = generate_sij_mri(rng, lesions, shape=shape, spacing=spacing, with_t1=True, fat_lesions=n_fat,
                          t1_bme_signal=0.62, fat_radius_mm=(3.5, 6.0))
    ero = _erosions(rng, ph, n_erosions)
    scl = _sclerosis(rng, ph) if sclerosis else np.zeros(ero.shape, bool)
    t1 = np.asarray(ph.t1.array, dtype=np.float32).copy()
    t1[scl] *= SCLEROSIS_SIGNAL
    t1[ero] *= EROSION_SIGNAL
    adc = _adc_map(rng, ph, diffuse)
    sparcc = sheet_total(ph.sheet)
    case = {"patient": str(patient),
            "t1": ph.t1.with_array(t1),
            "stir": ph.stir,
            "adc": Volume(adc, ph.stir.affine, header={"descrip": "sacroai SIJ ADC phantom (1e-6 mm2/s)"}),
            "axspa": int(y)}
    case.update(_clinical(rng, y, sparcc))
    case["evidence"] = {"oedema": oedema, "structural": structural, "diffuse_adc": diffuse,
                        "bme_lesions": len(ph.lesions), "fat_patches": n_fat, "erosions": n_erosions,
                        "erosion_voxels": int(ero.sum()), "sclerosis": sclerosis, "sparcc": sparcc}
    return case


def generate_multiseq_cohort(n_patients: int = 60, seed: int = 0, prevalence: float = 0.5, *,
                             shape=(176, 128, 12), spacing=(0.8, 0.8, 4.0), id_prefix: str = "P",
                             progress: bool = False) -> list:
    """``n_patients`` cases of :func:`generate_multiseq_case` (ids ``P000``, ``P001``, ...).

    Each patient has its own generator drawn from ``seed``, so a cohort's
    first patients do not depend on ``n_patients``.
    """
    if isinstance(n_patients, bool) or not isinstance(n_patients, (int, np.integer)) or n_patients < 1:
        raise ValueError(f"n_patients must be a positive integer, got {n_patients!r}")
    rng = np.random.default_rng(seed)
    seeds = rng.integers(2 ** 63, size=int(n_patients))
    it = range(int(n_patients))
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc="multi-sequence phantoms", unit="patient")
    return [generate_multiseq_case(np.random.default_rng(seeds[p]), patient=f"{id_prefix}{p:03d}",
                                   prevalence=prevalence, shape=shape, spacing=spacing) for p in it]
