"""Sacroiliac-joint MRI phantoms (STIR-like, semicoronal) with exact ground truth.

Geometry
--------
Arrays are indexed ``[i, j, k]`` with ``i`` the patient's right-left axis
(index 0 is the patient's left, ``i`` increases towards the right), ``j``
the cranio-caudal axis within the semicoronal plane (increasing
superiorly) and ``k`` the slice axis (posterior → anterior).  The affine is
therefore "RSA": column 0 → +x (R), column 1 → +z (S), column 2 → +y (A).
Default spacing 0.8 × 0.8 × 4 mm, as in clinical semicoronal STIR.

In every slice the sacrum is a wedge around the midline (wider cranially),
each ilium lies lateral to it, and a 2.4 mm joint space separates them.
The joint line is oblique.  Only the central slices show the cartilaginous
joint fully; its visible height tapers in the outer slices.  Presacral
vessels (the SPARCC intensity reference) are bright oblique tubes in the
two most anterior slices, in front of the sacrum.

Quadrant label map (``quadrants``), the SPARCC quadrant order per joint:

====  ==================  ====  ===================
1     left iliac upper    5     right iliac upper
2     left iliac lower    6     right iliac lower
3     left sacral upper   7     right sacral upper
4     left sacral lower   8     right sacral lower
====  ==================  ====  ===================

A quadrant is the bone on one side of the joint line within
``QUADRANT_DEPTH_MM`` (20 mm) of it (perpendicular distance), split into upper and
lower halves at the mid-height of the joint visible on that slice.

Intensities (before the scanner gain, bias field and noise): STIR-suppressed
marrow 0.22, muscle 0.30, fat 0.06, joint fluid/cartilage 0.45, vessels 1.0.
A bone-marrow-oedema (BME) lesion has ``intensity_ratio`` × the vessel
signal: ``>= 1`` is "intense" in SPARCC terms.  A lesion's depth is its
extent perpendicular to the articular surface in mm: ``>= 10`` is "deep".
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..volume import Volume

SIDES = ("left", "right")
BONES = ("iliac", "sacral")
HALVES = ("upper", "lower")
QUADRANT_ORDER = ("iliac_upper", "iliac_lower", "sacral_upper", "sacral_lower")

# tissue signal on fat-suppressed STIR, relative to the presacral vessels
MARROW, MUSCLE, FAT, FLUID, VESSEL = 0.22, 0.30, 0.06, 0.45, 1.0
JOINT_GAP_MM = 2.4
QUADRANT_DEPTH_MM = 20.0  # subchondral band of a quadrant, as sacroai.scores' band_mm


def quadrant_label(side: str, bone: str, half: str) -> int:
    """The label (1-8) of a quadrant in the ``quadrants`` map."""
    return 1 + 4 * SIDES.index(side) + 2 * BONES.index(bone) + HALVES.index(half)


@dataclass
class Lesion:
    """A planted bone-marrow-oedema lesion.

    side, bone, half : the quadrant ("left"/"right", "iliac"/"sacral", "upper"/"lower")
    slices : indices along the slice axis (k) the lesion spans
    depth_mm : extent perpendicular to the articular surface, mm (>= 10 is "deep")
    intensity_ratio : lesion signal / vessel signal (>= 1 is "intense")
    height_mm : cranio-caudal extent along the joint, mm
    """

    side: str
    bone: str
    half: str
    slices: tuple
    depth_mm: float = 6.0
    intensity_ratio: float = 0.8
    height_mm: float = 12.0

    def __post_init__(self):
        if self.side not in SIDES or self.bone not in BONES or self.half not in HALVES:
            raise ValueError(f"lesion quadrant must be side in {SIDES}, bone in {BONES}, half in {HALVES}; "
                             f"got {self.side!r}, {self.bone!r}, {self.half!r}")
        if not self.slices:
            raise ValueError("lesion slices must name at least one slice")
        if not (0.5 <= self.depth_mm <= 30):
            raise ValueError(f"depth_mm must be between 0.5 and 30 mm, got {self.depth_mm}")
        if not (0.1 <= self.intensity_ratio <= 3):
            raise ValueError(f"intensity_ratio must be between 0.1 and 3, got {self.intensity_ratio}")


@dataclass
class SIJPhantom:
    """One phantom scan and its ground truth.

    stir, t1 : Volume (float32); t1 is None unless requested
    bones : uint8 labels (0 background, 1 sacrum, 2 ilium)
    quadrants : uint8 8-label quadrant map (see the module docstring)
    vessels, bme, fat : bool masks
    lesions : the planted lesions
    scored_slices : the six consecutive slices through the cartilaginous joint (posterior → anterior)
    sheet : the SPARCC SIJ reader sheet those lesions give (``sacroai.scores.evaluate("sparcc_sij", sheet)``)
    asas : the ASAS MRI input those lesions give (``evaluate("asas_mri_sij", asas)``)
    vessel_signal : mean STIR signal inside the vessels (the intensity reference)
    """

    stir: Volume
    t1: Volume | None
    bones: np.ndarray
    quadrants: np.ndarray
    vessels: np.ndarray
    bme: np.ndarray
    fat: np.ndarray
    lesions: list
    scored_slices: tuple
    sheet: dict
    asas: dict
    vessel_signal: float
    params: dict = field(default_factory=dict)


def _affine(spacing, origin):
    aff = np.zeros((4, 4))
    aff[0, 0] = spacing[0]   # i -> +x (towards the patient's right)
    aff[2, 1] = spacing[1]   # j -> +z (superior)
    aff[1, 2] = spacing[2]   # k -> +y (anterior)
    aff[:3, 3] = origin
    aff[3, 3] = 1.0
    return aff


def _visible_height(k, n_slices, full_height_mm, scored):
    """Joint height visible on slice k: full on the scored slices, tapering outside."""
    lo, hi = scored[0], scored[-1]
    if lo <= k <= hi:
        return full_height_mm
    d = lo - k if k < lo else k - hi
    return max(0.0, full_height_mm * (1.0 - 0.35 * d))


def generate_sij_mri(seed=0, lesions=None, *, shape=(176, 128, 12), spacing=(0.8, 0.8, 4.0),
                     noise=0.03, gain=None, bias=0.15, with_t1=False, fat_lesions=0,
                     anatomy_jitter=True, t1_bme_signal=0.4, fat_radius_mm=(2.0, 4.0)) -> SIJPhantom:
    """Generate one semicoronal STIR phantom of both sacroiliac joints.

    Parameters
    ----------
    seed : int or numpy.random.Generator
        Everything random (anatomy jitter, scanner gain, bias field, noise, fat) comes from it.
    lesions : list of Lesion or dict, optional
        BME lesions to plant; ``None`` plants none (a healthy joint).
    shape, spacing : voxel grid ``(i, j, k)`` and voxel size in mm.
    noise : Rician noise level relative to the vessel signal.
    gain : scanner gain (intensity scale); default random in [600, 1400].
    bias : amplitude of the smooth multiplicative bias field (0 = none).
    with_t1 : also make a T1-weighted volume (fat bright, BME dark).
    fat_lesions : number of fat-metaplasia patches to add (dark on STIR, bright on T1).
    t1_bme_signal : T1 signal of oedematous marrow (normal marrow 0.75; default 0.4, clearly dark).
    fat_radius_mm : (low, high) radius range of a fat-metaplasia patch, mm.

    Returns
    -------
    SIJPhantom
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or min(shape) < 1 or shape[2] < 8:
        raise ValueError(f"shape must be (i, j, k) with at least 8 slices, got {shape}")
    sp = np.asarray(spacing, dtype=np.float64)
    if sp.shape != (3,) or np.any(sp <= 0) or not np.all(np.isfinite(sp)):
        raise ValueError(f"spacing must be 3 positive voxel sizes in mm, got {spacing}")
    lesions = [les if isinstance(les, Lesion) else Lesion(**les) for les in (lesions or [])]
    ni, nj, nk = shape
    for les in lesions:
        if min(les.slices) < 0 or max(les.slices) >= nk:
            raise ValueError(f"lesion slices {les.slices} fall outside 0..{nk - 1}")

    jit = (lambda s: rng.uniform(-s, s)) if anatomy_jitter else (lambda s: 0.0)
    # in-plane world coordinates (mm) of voxel centres, x across, z up; centred
    x = (np.arange(ni) - (ni - 1) / 2) * sp[0]
    z = (np.arange(nj) - (nj - 1) / 2) * sp[1]
    X, Z = np.meshgrid(x, z, indexing="ij")
    half_width_top = 30.0 + jit(3)        # sacral half-width at the top of the joint, mm
    taper = 0.32 + jit(0.04)              # narrowing per mm going down
    z_top, z_bot = 34.0 + jit(3), -30.0 + jit(3)
    ilium_width = 38.0 + jit(4)
    first_scored = (nk - 6) // 2 + int(rng.integers(-1, 2)) if anatomy_jitter else (nk - 6) // 2
    first_scored = int(np.clip(first_scored, 0, nk - 6))
    scored = tuple(range(first_scored, first_scored + 6))
    full_height = z_top - z_bot

    def sacral_edge(zz):
        return half_width_top - taper * (z_top - zz)

    # articular surfaces: the sacrum's at |x| = edge(z), the ilium's at
    # |x| = edge(z) + gap; perpendicular distances divide by the slope's norm
    norm = np.hypot(1.0, taper)

    bones = np.zeros(shape, np.uint8)
    quadrants = np.zeros(shape, np.uint8)
    vessels = np.zeros(shape, bool)
    bme = np.zeros(shape, bool)
    lesion_id = np.zeros(shape, np.int16)  # 1 + index of the lesion occupying a voxel
    fat = np.zeros(shape, bool)
    stir = np.empty(shape, np.float32)
    t1 = np.empty(shape, np.float32) if with_t1 else None
    body = (X / 95.0) ** 2 + (Z / 70.0) ** 2 < 1.0
    sheet_slices = []
    # perpendicular depth (mm) below each bone's articular surface (negative outside it)
    edge = sacral_edge(Z)
    depth_ilium = (np.abs(X) - (edge + JOINT_GAP_MM)) / norm
    depth_sacrum = (edge - np.abs(X)) / norm
    side_of = np.where(X < 0, 0, 1)  # 0 = left (negative x), 1 = right
    for k in range(nk):
        h = _visible_height(k, nk, full_height, scored)
        zt, zb = z_bot + (full_height + h) / 2, z_bot + (full_height - h) / 2  # visible joint, centred
        zt = min(zt, z_top)
        zmid = (zt + zb) / 2
        in_z = (Z >= z_bot - 6) & (Z <= z_top + 4)
        # the most anterior slices lie in front of the sacrum: presacral vessels there
        vessel_slice = k >= nk - 2
        sacrum = in_z & (np.abs(X) <= edge) & (Z <= z_top) & (not vessel_slice)
        # outside the visible cartilaginous joint the bones part (ligamentous
        # compartment / no joint): the ilium keeps 10 mm clear of the sacrum there
        apart = np.where((Z >= zb) & (Z <= zt) & (h > 0), 0.0, 10.0)
        ilium = in_z & (depth_ilium - apart / norm >= 0) & (np.abs(X) <= edge + JOINT_GAP_MM + ilium_width) & \
            (Z <= z_top + 14)
        joint = (depth_sacrum < 0) & (depth_ilium < 0) & (Z >= zb) & (Z <= zt)
        if h <= 0:
            joint[:] = False
        bk = np.zeros((ni, nj), np.uint8)
        bk[sacrum] = 1
        bk[ilium] = 2
        bones[..., k] = bk
        # quadrants: bone within 15 mm of the joint line, along the visible joint
        near = (((depth_ilium >= 0) & (depth_ilium <= QUADRANT_DEPTH_MM)) |
                ((depth_sacrum >= 0) & (depth_sacrum <= QUADRANT_DEPTH_MM))) \
            & (Z >= zb) & (Z <= zt) & (h > 0)
        q = np.zeros((ni, nj), np.uint8)
        for s in range(2):
            for b, bone_mask in ((0, ilium), (1, sacrum)):
                for hh, half_mask in ((0, Z >= zmid), (1, Z < zmid)):
                    sel = near & bone_mask & (side_of == s) & half_mask
                    q[sel] = 1 + 4 * s + 2 * b + hh
        quadrants[..., k] = q

        img = np.where(body, MUSCLE, FAT * 0.5).astype(np.float32)
        img[(X / 95.0) ** 2 + (Z / 70.0) ** 2 > 0.85] = FAT  # subcutaneous fat rim
        img[bk > 0] = MARROW
        img[joint] = FLUID
        # presacral vessels: anterior slices, in front of the lower sacrum
        if vessel_slice:
            # the common iliac vessels run obliquely down in front of the sacrum:
            # bright tubes, 6 mm wide, diverging caudally
            for sgn in (-1.0, 1.0):
                cx = sgn * (9.0 + 0.25 * (z_top - 10 - Z))
                tube = (np.abs(X - cx) <= 3.0) & (Z >= z_bot) & (Z <= z_top - 10)
                vessels[..., k] |= tube
                img[tube] = VESSEL
        stir[..., k] = img
        if t1 is not None:
            t1k = np.where(body, 0.35, 0.9).astype(np.float32)
            t1k[bk > 0] = 0.75  # fatty marrow is bright on T1
            t1k[joint] = 0.3
            t1[..., k] = t1k

    # bone-marrow oedema
    for les in lesions:
        s = SIDES.index(les.side)
        for k in les.slices:
            h = _visible_height(k, nk, full_height, scored)
            if h <= 0:
                continue
            zt, zb = z_bot + (full_height + h) / 2, z_bot + (full_height - h) / 2
            zmid = (zt + zb) / 2
            zc = zmid + (1 if les.half == "upper" else -1) * min(les.height_mm / 2 + 2.0, (zt - zb) / 4)
            bone_lab = 2 if les.bone == "iliac" else 1
            d = depth_ilium if les.bone == "iliac" else depth_sacrum
            # 2 mm clear of the mid-height line, so upper and lower lesions never touch
            half_ok = (Z >= zmid + 2.0) if les.half == "upper" else (Z < zmid - 2.0)
            sel = (bones[..., k] == bone_lab) & (side_of == s) & (d >= 0) & (d < les.depth_mm) & \
                (np.abs(Z - zc) <= les.height_mm / 2) & half_ok & (Z >= zb) & (Z <= zt)
            sel &= lesion_id[..., k] == 0  # an earlier lesion keeps its voxels
            bme[..., k] |= sel
            lesion_id[..., k][sel] = lesions.index(les) + 1
            stir[..., k][sel] = VESSEL * les.intensity_ratio
            if t1 is not None:
                t1[..., k][sel] = t1_bme_signal

    # fat metaplasia: dark on STIR, bright on T1, never overlapping oedema
    for _ in range(int(fat_lesions)):
        k = int(rng.integers(scored[0], scored[-1] + 1))
        cand = np.argwhere((quadrants[..., k] > 0) & ~bme[..., k])
        if len(cand) == 0:
            continue
        ci, cj = cand[rng.integers(len(cand))]
        r = rng.uniform(fat_radius_mm[0], fat_radius_mm[1])
        blob = ((X - x[ci]) ** 2 + (Z - z[cj]) ** 2 <= r * r) & (bones[..., k] > 0) & ~bme[..., k]
        fat[..., k] |= blob
        stir[..., k][blob] = FAT
        if t1 is not None:
            t1[..., k][blob] = 1.0

    # scanner: gain, smooth bias field, Rician noise
    gain = float(rng.uniform(600, 1400)) if gain is None else float(gain)
    ii, jj, kk = np.meshgrid(*(np.linspace(-1, 1, n) for n in shape), indexing="ij", sparse=True)
    c = rng.uniform(-1, 1, size=4) * bias
    field_ = (1.0 + c[0] * ii + c[1] * jj + c[2] * ii * jj + c[3] * (ii ** 2 - 0.33)).astype(np.float32)
    # what a reader sees: each lesion's noise-free signal on each slice relative
    # to the noise-free vessel signal, both under the same bias field
    clean = stir * field_
    vessel_clean = float(clean[vessels].mean()) if vessels.any() else float("nan")
    observed_ratio = {}
    for idx in range(len(lesions)):
        for k in range(nk):
            m = lesion_id[..., k] == idx + 1
            if m.any():
                observed_ratio[(idx, k)] = float(clean[..., k][m].mean() / vessel_clean)

    def scanner(img):
        clean = img * field_
        n1 = rng.normal(0, noise, size=shape).astype(np.float32)
        n2 = rng.normal(0, noise, size=shape).astype(np.float32)
        return (np.sqrt((clean + n1) ** 2 + n2 ** 2) * gain).astype(np.float32)

    stir_noisy = scanner(stir)
    origin = (-(ni - 1) / 2 * sp[0], 40.0 + jit(5), -(nj - 1) / 2 * sp[1])
    origin = (origin[0], origin[1] - (nk - 1) / 2 * sp[2], origin[2])
    affine = _affine(sp, (origin[0], origin[1], origin[2]))
    stir_vol = Volume(stir_noisy, affine, header={"descrip": "sacroai SIJ STIR phantom"})
    t1_vol = Volume(scanner(t1), affine, header={"descrip": "sacroai SIJ T1 phantom"}) if t1 is not None else None
    vessel_signal = float(stir_noisy[vessels].mean()) if vessels.any() else float("nan")
    sheet = sparcc_sheet(lesions, scored, quadrants, bme, observed_ratio)
    return SIJPhantom(stir=stir_vol, t1=t1_vol, bones=bones, quadrants=quadrants, vessels=vessels,
                      bme=bme, fat=fat, lesions=lesions, scored_slices=scored, sheet=sheet,
                      asas=asas_input(lesions, bme),
                      vessel_signal=vessel_signal,
                      params={"gain": gain, "bias": c.tolist(), "noise": noise, "spacing": tuple(sp),
                              "shape": shape})


def sparcc_sheet(lesions, scored, quadrants, bme, observed_ratio=None) -> dict:
    """The SPARCC SIJ sheet (SCORES.md section 1.5) implied by the planted lesions.

    A quadrant is positive on a slice when planted oedema lies in it; a
    joint-slice is "intense" when one of its lesions there is at least as
    bright as the vessels (``observed_ratio[(lesion index, slice)]``, the
    noise-free signal ratio under the bias field; the planted
    ``intensity_ratio`` when not given) and "deep" when one of them has
    ``depth_mm >= 10``.
    """
    slices = []
    for k in scored:
        entry = {}
        for s, side in enumerate(SIDES):
            quads = []
            for name in QUADRANT_ORDER:
                bone, half = name.split("_")
                lab = quadrant_label(side, bone, half)
                quads.append(int(bool(np.any(bme[..., k] & (quadrants[..., k] == lab)))))
            present = [(i, les) for i, les in enumerate(lesions) if les.side == side and k in les.slices
                       and np.any(bme[..., k] & (quadrants[..., k] == quadrant_label(les.side, les.bone, les.half)))]

            def ratio(i, les):
                return observed_ratio.get((i, k), 0.0) if observed_ratio is not None else les.intensity_ratio
            entry[side] = {"quadrants": quads,
                           "intense": int(any(ratio(i, les) >= 1.0 for i, les in present)),
                           "deep": int(any(les.depth_mm >= 10.0 for _, les in present))}
        slices.append(entry)
    return {"slices": slices}


def asas_input(lesions, bme) -> dict:
    """The ASAS MRI definition's input (SCORES.md 6.1): one entry per planted
    lesion with the slices where it is visible; all are subchondral (typical)."""
    entries = []
    for les in lesions:
        seen = [int(k) for k in les.slices if bme[..., k].any()]
        if seen:
            entries.append({"slices": seen, "typical_location": True})
    return {"lesions": entries, "highly_suggestive": True,
            "other_inflammation": {"synovitis": False, "enthesitis": False, "capsulitis": False}}


def asas_positive(asas: dict) -> bool:
    """ASAS 2009 quantity rule on :func:`asas_input` output (for generators;
    the reference implementation is ``sacroai.scores``)."""
    typical = [sorted(e["slices"]) for e in asas["lesions"] if e["typical_location"]]
    multi_slice = any(b - a == 1 for sl in typical for a, b in zip(sl, sl[1:]))
    counts = {}
    for sl in typical:
        for k in set(sl):
            counts[k] = counts.get(k, 0) + 1
    return bool(asas["highly_suggestive"] and (multi_slice or any(c >= 2 for c in counts.values())))


def random_lesions(rng: np.random.Generator, active: bool, scored: tuple | None = None, nk: int = 12) -> list:
    """A random set of lesions: none or tiny for inactive joints, several for active ones."""
    if scored is None:
        scored = tuple(range((nk - 6) // 2, (nk - 6) // 2 + 6))
    out = []
    n = int(rng.integers(2, 7)) if active else int(rng.integers(0, 2))
    # each lesion in its own quadrant, so lesions never merge; depths and
    # intensities kept clear of the 10 mm and vessel-signal thresholds
    quads = rng.permutation(8)[:n]
    for q in quads:
        start = int(rng.integers(scored[0], scored[-1] + 1))
        length = int(rng.integers(1, 4)) if active else 1
        sl = tuple(range(start, min(start + length, scored[-1] + 1)))
        deep = active and rng.random() < 0.5
        intense = active and rng.random() < 0.5
        out.append(Lesion(side=SIDES[q // 4], bone=BONES[(q // 2) % 2], half=HALVES[q % 2], slices=sl,
                          depth_mm=float(rng.uniform(11.5, 16) if deep else rng.uniform(3, 8.5)),
                          intensity_ratio=float(rng.uniform(1.2, 1.45) if intense else rng.uniform(0.55, 0.85)),
                          height_mm=float(rng.uniform(8, 14))))
    return out
