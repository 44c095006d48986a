"""Pelvic CT phantoms of both sacroiliac joints in HU, graded by the modified New York criteria.

Geometry
--------
Axial slices.  Arrays are indexed ``[i, j, k]`` with ``i`` along +x (the
patient's left → right), ``j`` along +y (posterior → anterior) and ``k``
along +z (inferior → superior): the affine is diagonal, RAS+, centred on the
midline (x = 0), so **the left joint lies at negative x**.  Default voxel
size 1.25 × 1.25 × 2.5 mm (208 × 160 × 40 voxels, 260 × 200 × 100 mm) for
CPU speed; any spacing works (e.g. 1 × 1 × 1.5 mm with a larger ``shape``).

In every axial slice the sacrum is a trapezoid, wider anteriorly (the
keystone shape) and superiorly, with the sacral canal and two anterior
foramina; each ilium is a plate lateral to it with the iliac wing sweeping
anterolaterally.  The joint space separates the sacral edge ``|x| = e(y, z)``
from the iliac edge ``|x| = e(y, z) + gap``; it is articular (the *joint*)
over ``y`` in ``[y_post, y_ant]`` and ``z`` in ``[z_bottom, z_top]``; outside
that z range the gap widens (non-articular).  Bones are a cortical shell
(700-1200 HU, one value per phantom) around a textured trabecular interior
(150-300 HU); soft tissue 40 HU, joint space 50 HU, fat -100 HU (pelvic fat -70 HU), air
-1000 HU; then the scanner's in-plane blur and Gaussian noise.

Modified New York grades per joint (SCORES.md section 5.1)
----------------------------------------------------------
=====  ==========================================================================
grade  realised as
=====  ==========================================================================
0      normal: sharp cortical plates, joint width ``2.5 ± 0.3`` mm
1      suspicious: the joint margins blurred (Gaussian, sigma 0.8 mm, within
       5 mm of the joint), nothing else
2      minimal: margins blurred, and 1-2 small erosions (radius 1.5-2.5 mm)
       and/or one focal patch of subchondral sclerosis (depth 3-5 mm,
       z-extent <= 15 mm); the joint width is unchanged
3      moderate: margins blurred, 3-6 erosions (radius 2-4 mm; iliac with
       probability 0.65, else sacral),
       extensive iliac sclerosis (depth 5-10 mm; sacral too with probability
       0.4, depth 3-6 mm), and
       with probability 0.6 a width change (narrowing to ``max(1.5, 1.2 *
       in-plane spacing)`` mm, or widening to 4-5 mm), with probability 0.4
       partial ankylosis: bone bridging the joint over a contiguous part of
       its slices (at most half) and part of its antero-posterior length
4      total ankylosis: the whole joint space bridged by bone (450-600 HU) on
       every joint slice; sclerosis, no erosions left
=====  ==========================================================================

Ground truth per joint: the grade, the joint slices, and per axial slice
whether an erosion, sclerosis or bone bridging (ankylosis) is present on it;
label maps of the bones (1 sacrum, 2 left ilium, 3 right ilium; eroded
voxels and bridges are not bone), open joint space, erosions, sclerosis and
bridges (1 left, 2 right); the joint ROI centre in world mm (the centroid of
the normal joint space, so independent of the grade).
"""
from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from ..volume import Volume

SIDES = ("left", "right")
AIR, FAT, SOFT, JOINT_HU, CANAL = -1000.0, -100.0, 40.0, 50.0, -80.0
NORMAL_GAP_MM = 2.5
BLUR_MM = 0.8  # extra in-plane blur of the joint margins from grade 1 (sigma, mm)


@dataclass
class SIJCTPhantom:
    """One pelvic CT phantom and its ground truth.

    ct : Volume, int16 HU, RAS+ affine
    bones : uint8 (0 none, 1 sacrum, 2 left ilium, 3 right ilium)
    joint_space, erosions, sclerosis, ankylosis : uint8 (0 none, 1 left joint, 2 right joint)
    grades : {"left": 0-4, "right": 0-4}, the modified New York grades
    joints : per side: ``grade``, ``joint_slices`` (k indices of the articular joint),
        ``erosion``, ``sclerosis``, ``ankylosis`` (bool per slice k, length nk),
        ``erosion_slices``, ``sclerosis_slices``, ``ankylosis_slices`` (k lists),
        ``n_erosions``, ``width_mm`` (true gap), ``normal_width_mm``, ``width_change``
        ("none"/"narrowing"/"widening"), ``ankylosis_extent`` ("none"/"partial"/"total"),
        ``blurred``, ``roi_centre_mm`` (x, y, z world), ``roi_centre_ijk``, ``roi_half_size_mm``
    mny : the ``mny`` score input ``{"left": g, "right": g}`` (SCORES.md 5.4)
    """

    ct: Volume
    bones: np.ndarray
    joint_space: np.ndarray
    erosions: np.ndarray
    sclerosis: np.ndarray
    ankylosis: np.ndarray
    grades: dict
    joints: dict
    mny: dict
    params: dict = field(default_factory=dict)


def radiographic_criterion(left: int, right: int) -> bool:
    """Modified New York radiological criterion (SCORES.md 5.2): both sides >= 2 or either >= 3.

    For generators; the reference implementation is ``sacroai.scores`` (``mny``).
    """
    return bool((left >= 2 and right >= 2) or left >= 3 or right >= 3)


def class3(grade: int) -> int:
    """The 3-class collapse of a grade (SCORES.md 5.2): 0-1 → 0, 2 → 1, 3-4 → 2."""
    return 0 if grade <= 1 else 1 if grade == 2 else 2


def _check_grades(grades):
    if grades is None:
        return {"left": 0, "right": 0}
    if isinstance(grades, (int, np.integer)):
        grades = {"left": int(grades), "right": int(grades)}
    grades = dict(grades)
    if set(grades) != set(SIDES):
        raise ValueError(f"grades must give 'left' and 'right' (or one int for both), got keys {sorted(grades)}")
    for side, g in grades.items():
        if isinstance(g, bool) or not isinstance(g, (int, np.integer)) or not 0 <= g <= 4:
            raise ValueError(f"grades[{side!r}] must be an integer 0..4 (modified New York), got {g!r}")
    return {s: int(grades[s]) for s in SIDES}


def _joint_plan(rng, grade, in_plane_mm):
    """What a grade is made of, drawn from the joint's own generator."""
    plan = {"blur": grade in (1, 2, 3), "erosions": [], "sclerosis": [], "width_change": "none",
            "ankylosis": "none", "gap_factor": 1.0}
    # fixed order of draws, whatever the grade
    u = rng.random(8)
    if grade == 2:
        kind = ("erosion", "sclerosis", "both")[int(u[0] * 3)]
        if kind in ("erosion", "both"):
            n = 1 + int(u[1] < 0.5)
            plan["erosions"] = [("ilium" if rng.random() < 0.8 else "sacrum", rng.random(), rng.random(),
                                 float(rng.uniform(1.5, 2.5))) for _ in range(n)]
        if kind in ("sclerosis", "both"):
            plan["sclerosis"] = [("ilium", float(rng.uniform(3, 5)), "focal")]
    elif grade == 3:
        n = int(rng.integers(3, 7))
        plan["erosions"] = [("ilium" if rng.random() < 0.65 else "sacrum", rng.random(), rng.random(),
                             float(rng.uniform(2.0, 4.0))) for _ in range(n)]
        plan["sclerosis"] = [("ilium", float(rng.uniform(5, 10)), "extensive")]
        if u[2] < 0.4:
            plan["sclerosis"].append(("sacrum", float(rng.uniform(3, 6)), "extensive"))
        if u[3] < 0.6:
            plan["width_change"] = "narrowing" if u[4] < 0.5 else "widening"
        if u[5] < 0.4:
            plan["ankylosis"] = "partial"
    elif grade == 4:
        plan["ankylosis"] = "total"
        plan["sclerosis"] = [("ilium", float(rng.uniform(4, 8)), "extensive")]
    plan["draws"] = rng.random(6)  # positions of partial bridges and sclerosis patches
    return plan


def generate_sij_ct(seed=0, grades=None, *, shape=(208, 160, 40), spacing=(1.25, 1.25, 2.5),
                    noise=12.0, psf_mm=0.5, anatomy_jitter=True) -> SIJCTPhantom:
    """Generate one axial pelvic CT phantom of both sacroiliac joints (HU).

    Parameters
    ----------
    seed : int or numpy.random.Generator
        Everything random comes from it.  The anatomy, the noise and each
        joint's lesions are drawn from separate streams, so changing one
        joint's grade leaves the anatomy, the noise and the other joint alone.
    grades : {"left": g, "right": g} or int, optional
        Modified New York grade 0-4 per joint (an int grades both); default 0.
    shape, spacing : voxel grid ``(i, j, k)`` and voxel size in mm; the field
        of view must cover at least 250 × 185 × 80 mm.
    noise : Gaussian noise standard deviation, HU.
    psf_mm : in-plane Gaussian blur of the scanner (sigma, mm).

    Returns
    -------
    SIJCTPhantom
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    grades = _check_grades(grades)
    shape = tuple(int(s) for s in shape)
    sp = np.asarray(spacing, dtype=np.float64)
    if sp.shape != (3,) or not np.all(np.isfinite(sp)) or np.any(sp <= 0):
        raise ValueError(f"spacing must be 3 positive voxel sizes in mm, got {spacing}")
    if len(shape) != 3 or shape[0] * sp[0] < 250 or shape[1] * sp[1] < 185 or shape[2] * sp[2] < 80:
        raise ValueError(f"shape {shape} at spacing {tuple(sp)} mm must cover at least 250 x 185 x 80 mm")
    anat_rng, noise_rng = (np.random.default_rng(s) for s in rng.integers(2**63, size=2))
    joint_rngs = {side: np.random.default_rng(s) for side, s in zip(SIDES, rng.integers(2**63, size=2))}
    jit = (lambda s: float(anat_rng.uniform(-s, s))) if anatomy_jitter else (lambda s: 0.0 * anat_rng.uniform())
    ni, nj, nk = shape

    # world coordinates of voxel centres (RAS, mm)
    origin = np.array([-(ni - 1) / 2 * sp[0], -(nj - 1) / 2 * sp[1] - 10.0, -(nk - 1) / 2 * sp[2]])
    x = origin[0] + np.arange(ni) * sp[0]
    y = origin[1] + np.arange(nj) * sp[1]
    z = origin[2] + np.arange(nk) * sp[2]
    X, Y, Z = x[:, None, None], y[None, :, None], z[None, None, :]
    AX = np.abs(X)

    # anatomy parameters
    e0, e_ap, e_si = 44.0 + jit(3), 0.25 + jit(0.04), 0.15 + jit(0.03)
    y_post, y_ant = -50.0 + jit(3), -10.0 + jit(3)          # articular AP range (mm)
    z_bottom, z_top = -32.0 + jit(3), 28.0 + jit(3)         # articular cranio-caudal range (mm)
    ilium_t = 20.0 + jit(2)
    cortex_hu = float(anat_rng.uniform(800, 1100))
    trab_hu = float(anat_rng.uniform(180, 260))
    body_ax, body_ay = 122.0 + jit(3), 88.0 + jit(3)
    normal_gap = {s: NORMAL_GAP_MM + jit(0.3) for s in SIDES}
    texture = ndimage.gaussian_filter(anat_rng.standard_normal(shape), sigma=(1.5 / sp).tolist())
    texture *= 30.0 / max(float(texture.std()), 1e-6)

    # plans per joint (their own streams)
    plans = {s: _joint_plan(joint_rngs[s], grades[s], float(min(sp[0], sp[1]))) for s in SIDES}
    gap = {}
    for s in SIDES:
        wc = plans[s]["width_change"]
        gap[s] = (max(1.5, 1.2 * float(min(sp[0], sp[1]))) if wc == "narrowing"
                  else float(joint_rngs[s].uniform(4.0, 5.0)) if wc == "widening" else normal_gap[s])

    edge = e0 + e_ap * (Y - (y_post + y_ant) / 2) + e_si * Z                     # (1, nj, nk)
    norm = np.hypot(1.0, e_ap)
    z_out = np.clip(np.maximum(z_bottom - Z, Z - z_top), 0, None)               # mm outside the joint z range
    side_of = np.where(X < 0, 0, 1)                                              # 0 left (x < 0), 1 right
    gap_arr = np.where(side_of == 0, gap["left"], gap["right"]) + 0.5 * z_out
    gap_normal = np.where(side_of == 0, normal_gap["left"], normal_gap["right"]) + 0.5 * z_out

    body = (X / body_ax) ** 2 + (Y / body_ay) ** 2 <= 1.0
    subcut = (X / (body_ax - 14)) ** 2 + (Y / (body_ay - 12)) ** 2 > 1.0
    sac_y0 = -62.0 + 0.004 * X ** 2
    sac_y1 = -2.0 - 0.004 * X ** 2
    sacrum = (AX <= edge) & (Y >= sac_y0) & (Y <= sac_y1)
    canal = (X ** 2 / 9.0 ** 2 + (Y - (-48.0)) ** 2 / 6.0 ** 2) <= 1.0
    foramina = ((AX - 0.5 * edge) ** 2 + (Y - (-20.0)) ** 2) <= 5.0 ** 2
    sacrum &= ~canal & ~foramina
    in_ilium_ap = (Y >= -68.0) & (Y <= 6.0)

    def ilium_of(g):
        plate = (AX >= edge + g) & (AX <= edge + g + ilium_t) & in_ilium_ap
        # the wing: from the anterior end of the plate, anterolaterally at 35 degrees
        ca, sa = np.cos(np.radians(35)), np.sin(np.radians(35))
        px, py = AX - (edge + g + 8.0), Y - 0.0
        along, across = px * ca + py * sa, -px * sa + py * ca
        wing = (along >= 0) & (along <= 75.0) & (np.abs(across) <= 7.0) & (Y >= -5.0)
        return plate | wing

    ilium = ilium_of(gap_arr)
    ilium_normal = ilium_of(gap_normal)
    in_joint_z = (Z >= z_bottom) & (Z <= z_top)
    in_joint_ap = (Y >= y_post) & (Y <= y_ant)
    joint_geom = (AX > edge) & (AX < edge + gap_arr) & in_joint_ap & in_joint_z
    joint_normal = (AX > edge) & (AX < edge + gap_normal) & in_joint_ap & in_joint_z

    bones = np.zeros(shape, np.uint8)
    bones[sacrum & body] = 1
    bones[ilium & body & (side_of == 0)] = 2
    bones[ilium & body & (side_of == 1)] = 3
    joint_lab = np.zeros(shape, np.uint8)
    joint_lab[joint_geom & (side_of == 0)] = 1
    joint_lab[joint_geom & (side_of == 1)] = 2

    # distances (mm, perpendicular to the joint line) into each bone from its articular surface
    d_sacrum = (edge - AX) / norm
    d_ilium = (AX - edge - gap_arr) / norm

    erosions = np.zeros(shape, np.uint8)
    sclerosis = np.zeros(shape, np.uint8)
    ankylosis = np.zeros(shape, np.uint8)
    joint_slices = [int(k) for k in np.nonzero((z >= z_bottom) & (z <= z_top))[0]]
    for s_i, side in enumerate(SIDES):
        plan, lab = plans[side], s_i + 1
        sign = -1.0 if side == "left" else 1.0
        this_side = side_of == s_i
        bone_lab = {"ilium": 2 + s_i, "sacrum": 1}
        # sclerosis first (erosions cut through it)
        dr = plan["draws"]
        for bone, depth, extent in plan["sclerosis"]:
            d = d_ilium if bone == "ilium" else d_sacrum
            m = (bones == bone_lab[bone]) & this_side & (d >= 0) & (d <= depth) & in_joint_ap & in_joint_z
            if extent == "focal":
                zc = z_bottom + 8 + dr[0] * max(z_top - z_bottom - 16, 0)
                yc = y_post + 6 + dr[1] * max(y_ant - y_post - 12, 0)
                m &= (np.abs(Z - zc) <= 7.5) & (np.abs(Y - yc) <= 7.0)
            sclerosis[m] = lab
        for bone, fy, fz, radius in plan["erosions"]:
            yc = y_post + 3 + fy * (y_ant - y_post - 6)
            zc = z_bottom + 3 + fz * (z_top - z_bottom - 6)
            ec = e0 + e_ap * (yc - (y_post + y_ant) / 2) + e_si * zc
            xc = sign * (ec + (gap[side] if bone == "ilium" else 0.0))
            ball = (X - xc) ** 2 + (Y - yc) ** 2 + (Z - zc) ** 2 <= radius ** 2
            erosions[ball & (bones == bone_lab[bone])] = lab
        # bridges
        if plan["ankylosis"] != "none":
            bridge = joint_geom & this_side
            if plan["ankylosis"] == "partial":
                n_js = len(joint_slices)
                length = max(1, int(round((0.2 + 0.3 * dr[2]) * n_js)))
                start = joint_slices[0] + int(dr[3] * (n_js - length))
                k_sel = np.zeros(nk, bool)
                k_sel[start:start + length] = True
                ap_len = (0.3 + 0.4 * dr[4]) * (y_ant - y_post)
                y0 = y_post + dr[5] * (y_ant - y_post - ap_len)
                bridge &= k_sel[None, None, :] & (Y >= y0) & (Y <= y0 + ap_len)
            ankylosis[bridge] = lab
    sclerosis[erosions > 0] = 0
    bones[erosions > 0] = 0
    joint_lab[ankylosis > 0] = 0

    # render HU
    ct = np.full(shape, AIR, np.float64)
    ct[np.broadcast_to(body, shape)] = SOFT
    ct[np.broadcast_to(body & subcut, shape)] = FAT
    pelvic_fat = (X / 55.0) ** 2 + ((Y - 45.0) / 35.0) ** 2 <= 1.0  # in front of the sacrum
    ct[np.broadcast_to(body & ~subcut & pelvic_fat, shape)] = FAT + 30.0
    ct[np.broadcast_to(body & canal & (Y >= sac_y0), shape) & (AX <= edge)] = CANAL
    for lab_v in (1, 2, 3):
        b = bones == lab_v
        inner = ndimage.binary_erosion(b, structure=np.ones((3, 3, 1), bool),
                                       iterations=max(1, int(round(1.5 / min(sp[0], sp[1])))))
        ct[b] = np.where(inner[b], trab_hu + texture[b], cortex_hu)
    ct[joint_lab > 0] = JOINT_HU
    ct[erosions > 0] = SOFT + 10.0
    ct[sclerosis > 0] = np.maximum(ct[sclerosis > 0], float(anat_rng.uniform(650, 900)))
    bridge_hu = float(anat_rng.uniform(450, 600))
    ct[ankylosis > 0] = bridge_hu + 0.3 * texture[ankylosis > 0]

    sig = (psf_mm / sp[0], psf_mm / sp[1], 0.0)
    if psf_mm > 0:
        ct = ndimage.gaussian_filter(ct, sigma=sig, mode="nearest")
    for s_i, side in enumerate(SIDES):
        if plans[side]["blur"]:
            near = ndimage.binary_dilation(joint_normal & (side_of == s_i), structure=np.ones((3, 3, 1), bool),
                                           iterations=max(1, int(round(5.0 / min(sp[0], sp[1])))))
            blurred = ndimage.gaussian_filter(ct, sigma=(BLUR_MM / sp[0], BLUR_MM / sp[1], 0.0), mode="nearest")
            ct[near] = blurred[near]
    ct += noise * noise_rng.standard_normal(shape)
    ct_i16 = np.clip(np.rint(ct), -1024, 3071).astype(np.int16)

    affine = np.diag([sp[0], sp[1], sp[2], 1.0])
    affine[:3, 3] = origin
    vol = Volume(ct_i16, affine, header={"descrip": "sacroai SIJ CT phantom (HU)"})

    joints = {}
    for s_i, side in enumerate(SIDES):
        lab = s_i + 1
        per = {name: np.array([bool(np.any(m[:, :, k] == lab)) for k in range(nk)])
               for name, m in (("erosion", erosions), ("sclerosis", sclerosis), ("ankylosis", ankylosis))}
        idx = np.argwhere(joint_normal & (side_of == s_i))
        centre_ijk = idx.mean(axis=0) if len(idx) else np.full(3, np.nan)
        centre_mm = vol.world(centre_ijk)
        plan = plans[side]
        joints[side] = {
            "grade": grades[side], "joint_slices": joint_slices,
            **per, **{f"{name}_slices": [int(k) for k in np.nonzero(v)[0]] for name, v in per.items()},
            "n_erosions": len(plan["erosions"]), "width_mm": float(gap[side]),
            "normal_width_mm": float(normal_gap[side]), "width_change": plan["width_change"],
            "ankylosis_extent": plan["ankylosis"], "blurred": bool(plan["blur"]),
            "roi_centre_mm": tuple(float(v) for v in centre_mm),
            "roi_centre_ijk": tuple(float(v) for v in centre_ijk),
            "roi_half_size_mm": (float(ilium_t + 10.0), float((y_ant - y_post) / 2 + 10.0),
                                 float((z_top - z_bottom) / 2 + 5.0)),
        }
    return SIJCTPhantom(ct=vol, bones=bones, joint_space=joint_lab, erosions=erosions, sclerosis=sclerosis,
                        ankylosis=ankylosis, grades=grades, joints=joints, mny=dict(grades),
                        params={"spacing": tuple(float(v) for v in sp), "shape": shape, "noise": noise,
                                "psf_mm": psf_mm, "cortex_hu": cortex_hu, "trabecular_hu": trab_hu,
                                "bridge_hu": bridge_hu, "y_range_mm": (y_post, y_ant),
                                "z_range_mm": (z_bottom, z_top)})


# ---------------------------------------------------------------- cohort

CT_MANIFEST_FIELDS = ["patient", "visit", "side", "modality", "path", "mny_left", "mny_right",
                      "class3_left", "class3_right", "radiographic_criterion", "axspa", "age", "sex",
                      "hla_b27", "truth_dir"]


def _cohort_grades(rng, axspa: bool) -> dict:
    """Both joints' grades: controls 0-1 (rarely 2), patients bilateral disease of varying stage."""
    if not axspa:
        return {s: int(rng.choice(3, p=[0.65, 0.3, 0.05])) for s in SIDES}
    base = int(rng.choice([1, 2, 3, 4], p=[0.15, 0.3, 0.35, 0.2]))
    other = int(np.clip(base + rng.choice([-1, 0, 0, 1]), 0, 4))
    return dict(zip(SIDES, (base, other) if rng.random() < 0.5 else (other, base)))


def generate_ct_cohort(out_dir, n: int = 30, seed: int = 0, *, prevalence: float = 0.5,
                       shape=(208, 160, 40), spacing=(1.25, 1.25, 2.5), progress: bool = True) -> list:
    """Write a phantom sacroiliitis CT cohort to ``out_dir`` and return its manifest rows.

    Layout::

        out_dir/manifest.csv              one row per scan (side "both"), see CT_MANIFEST_FIELDS
        out_dir/patientNNN/ct.nii.gz      the CT, int16 HU
        out_dir/patientNNN/truth/         bones, joint_space, erosions, sclerosis, ankylosis (.nii.gz,
                                          uint8 label maps as in SIJCTPhantom) and truth.json (grades,
                                          per-slice erosion/sclerosis/ankylosis, ROI centres in mm)

    Everything is deterministic from ``seed``.
    """
    from ..io import save

    if int(n) < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if not 0.0 <= prevalence <= 1.0:
        raise ValueError(f"prevalence must be in [0, 1], got {prevalence}")
    rng = np.random.default_rng(seed)
    os.makedirs(out_dir, exist_ok=True)
    rows = []
    it = range(int(n))
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc="CT phantom cohort", unit="patient")
    for p in it:
        prng = np.random.default_rng(rng.integers(2**63))
        axspa = bool(prng.random() < prevalence)
        grades = _cohort_grades(prng, axspa)
        ph = generate_sij_ct(prng, grades, shape=shape, spacing=spacing)
        pid = f"patient{p:03d}"
        pdir = os.path.join(out_dir, pid)
        tdir = os.path.join(pdir, "truth")
        os.makedirs(tdir, exist_ok=True)
        save(ph.ct, os.path.join(pdir, "ct.nii.gz"))
        for name in ("bones", "joint_space", "erosions", "sclerosis", "ankylosis"):
            save(Volume(getattr(ph, name), ph.ct.affine), os.path.join(tdir, f"{name}.nii.gz"))
        joints = {side: {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in j.items()}
                  for side, j in ph.joints.items()}
        crit = radiographic_criterion(grades["left"], grades["right"])
        truth = {"patient": pid, "grades": grades, "mny": ph.mny, "radiographic_criterion": crit,
                 "joints": joints, "params": ph.params}
        with open(os.path.join(tdir, "truth.json"), "w") as f:
            json.dump(truth, f, indent=1, default=lambda o: list(o) if isinstance(o, tuple) else str(o))
        hla = int(prng.random() < (0.8 if axspa else 0.08))
        age = round(float(np.clip(prng.normal(38 if axspa else 45, 10), 18, 80)), 1)
        sex = "M" if prng.random() < (0.65 if axspa else 0.45) else "F"
        rows.append({"patient": pid, "visit": 1, "side": "both", "modality": "CT",
                     "path": os.path.join(pid, "ct.nii.gz"), "mny_left": grades["left"],
                     "mny_right": grades["right"], "class3_left": class3(grades["left"]),
                     "class3_right": class3(grades["right"]), "radiographic_criterion": int(crit),
                     "axspa": int(axspa), "age": age, "sex": sex, "hla_b27": hla,
                     "truth_dir": os.path.join(pid, "truth")})
    with open(os.path.join(out_dir, "manifest.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CT_MANIFEST_FIELDS)
        w.writeheader()
        w.writerows(rows)
    return rows
