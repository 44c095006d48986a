"""AP pelvis radiograph phantoms with both hips and OARSI-atlas hip features as exact ground truth.

Geometry
--------
The image is a 2-D radiograph ``[row, col]`` (default 400 × 520 pixels of
0.5 mm, 200 × 260 mm) in the usual AP display: rows increase downwards
(inferior), and **the patient's right hip is on the image's left**
(columns increase towards the patient's left).  Bone is bright (attenuation
→ detector counts, MONOCHROME2), stored as 16-bit counts.

Each hip is drawn in polar coordinates about the centre of its femoral head:
``phi`` is measured from the superior direction towards medial (0 =
superior, +90° = medial, -90° = lateral, ±180° = inferior).  The femoral
head has radius ``r_head(phi)`` (a circle unless the head is deformed, then
flattened superiorly); the acetabulum covers ``phi`` from -50° (lateral rim)
to +115° (medial, the teardrop region) and its articular surface lies at
``r_head(phi) + jsw(phi)``: the radiographic joint space.  ``jsw`` is the
superior width for ``phi <= 20°``, the medial width for ``phi >= 60°``,
linear between.

Features (keys and grades of the OARSI atlas, SCORES.md section 7.2)
---------------------------------------------------------------------
=========================  =====  ===============================================
key                        grade  realised as
=========================  =====  ===============================================
``fos_superior``           0-3    bony lip at the superolateral head-neck junction
                                  (height 0 / 2 / 3.5 / 5.5 mm)
``fos_inferior``           0-3    same at the inferior head-neck junction
``aos_superior``           0-3    spur prolonging the lateral acetabular rim over
                                  the head (0 / 8 / 14 / 22 degrees)
``aos_inferior``           0/1    spur below the medial acetabular end (up to 22 degrees)
``jsn_superior``           0-3    superior width × 1 / 0.7 / 0.45 / 0.12
``jsn_medial``             0-3    medial width × 1 / 0.7 / 0.45 / 0.12
``sclerosis``              0/1    dense subchondral band in the acetabular roof and
                                  the top of the head
``cysts``                  0/1    1-3 round lucencies (1.5-3 mm radius) in the roof
``femoral_head_deformity`` 0/1    superior flattening of the head (12 % of r)
=========================  =====  ===============================================

Kellgren–Lawrence grade
-----------------------
SCORES.md section 7.3 states that no validated published rule converts
OARSI hip feature grades into a Kellgren–Lawrence grade, and sacroai's scores
do not invent one.  The phantom nevertheless needs a KL label; it uses this
**phantom convention** (:func:`implied_kl`), written from the hip wording of
the KL grades in SCORES.md section 7.1 ("doubtful narrowing / possible
osteophytes" → 1; "definite narrowing, definite osteophytes" → 2; "marked
narrowing" → 3; "gross loss of joint space" → 4), with ``jsn = max(jsn_superior,
jsn_medial)`` and ``ost = max`` of the four osteophyte grades:

* 4 if ``jsn == 3``;  3 if ``jsn == 2``;
* 2 if ``ost >= 2``, or ``jsn == 1`` and ``ost >= 1``;
* 1 if ``ost == 1`` or ``jsn == 1`` alone, or sclerosis or cysts alone;
* 0 otherwise.

:func:`random_hip_features` draws features for a wanted KL grade with
co-features as the KL wording describes them (sclerosis from 2, cysts and
deformity from 3, large osteophytes at 4), always so that
``implied_kl(features) == kl``.  The published composite, the Croft grade
(SCORES.md 7.3), is given alongside (:func:`croft_grade`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from ..volume import Volume

SIDES = ("right", "left")  # image left to image right
FEATURE_RANGES = {"fos_superior": 3, "fos_inferior": 3, "aos_superior": 3, "aos_inferior": 1,
                  "jsn_superior": 3, "jsn_medial": 3, "sclerosis": 1, "cysts": 1, "femoral_head_deformity": 1}
OSTEOPHYTE_KEYS = ("fos_superior", "fos_inferior", "aos_superior", "aos_inferior")
OSTEOPHYTE_LABELS = {key: i + 1 for i, key in enumerate(OSTEOPHYTE_KEYS)}  # label map values
JSN_FACTOR = (1.0, 0.7, 0.45, 0.12)           # joint-space width / normal width per JSN grade
FOS_HEIGHT_MM = (0.0, 2.0, 3.5, 5.5)          # femoral osteophyte height per grade
FOS_HALF_ANGLE_DEG = (0.0, 12.0, 16.0, 20.0)  # its angular half-extent along the head
AOS_EXTENT_DEG = (0.0, 8.0, 14.0, 22.0)       # lateral acetabular rim prolongation per grade
PHI_LAT, PHI_MED = -50.0, 115.0               # acetabular coverage, degrees

# attenuation (arbitrary units; soft tissue is added underneath bone)
SOFT, BONE, CORTEX, OSTEOPHYTE, SCLEROSIS_GAIN, CYST = 0.25, 0.45, 0.75, 0.75, 0.3, 0.05


def validate_features(features: dict | None, name: str = "features") -> dict:
    """Complete and check one hip's OARSI feature dict (missing keys are 0)."""
    features = dict(features or {})
    unknown = set(features) - set(FEATURE_RANGES)
    if unknown:
        raise ValueError(f"{name} has unknown keys {sorted(unknown)}; known: {list(FEATURE_RANGES)}")
    out = {}
    for key, top in FEATURE_RANGES.items():
        v = features.get(key, 0)
        if isinstance(v, (bool, np.bool_)):
            v = int(v)
        if not isinstance(v, (int, np.integer)) or not 0 <= v <= top:
            raise ValueError(f"{name}[{key!r}] must be an integer 0..{top}, got {v!r}")
        out[key] = int(v)
    return out


def implied_kl(features: dict) -> int:
    """The phantom-convention KL grade of one hip's OARSI features (see the module docstring)."""
    f = validate_features(features)
    jsn = max(f["jsn_superior"], f["jsn_medial"])
    ost = max(f[k] for k in OSTEOPHYTE_KEYS)
    if jsn == 3:
        return 4
    if jsn == 2:
        return 3
    if ost >= 2 or (jsn == 1 and ost >= 1):
        return 2
    if ost == 1 or jsn == 1 or f["sclerosis"] or f["cysts"]:
        return 1
    return 0


def croft_grade(features: dict):
    """Croft grade 0-5 (SCORES.md 7.3), or None for a single feature that is sclerosis or cysts.

    For generators; the reference implementation is ``sacroai.scores`` (``oarsi_hip``).
    """
    f = validate_features(features)
    present = {"O": any(f[k] >= 1 for k in OSTEOPHYTE_KEYS),
               "N": f["jsn_superior"] >= 1 or f["jsn_medial"] >= 1,
               "S": bool(f["sclerosis"]), "C": bool(f["cysts"])}
    n = sum(present.values())
    if n == 0:
        return 0
    if n == 1:
        return 1 if present["O"] else 2 if present["N"] else None
    if n == 2:
        return 3
    return 5 if f["femoral_head_deformity"] else 4


def hip_summary(features: dict) -> dict:
    """Sums and composite grades of one hip: osteophyte_sum, jsn_sum, croft, rhoa_croft, kl, oa_kl."""
    f = validate_features(features)
    croft = croft_grade(f)
    kl = implied_kl(f)
    return {"osteophyte_sum": sum(f[k] for k in OSTEOPHYTE_KEYS),
            "jsn_sum": f["jsn_superior"] + f["jsn_medial"],
            "croft": croft, "rhoa_croft": None if croft is None else croft >= 3,
            "kl": kl, "radiographic_oa_kl": kl >= 2}


def random_hip_features(rng: np.random.Generator, kl: int) -> dict:
    """OARSI features drawn for a wanted (phantom-convention) KL grade 0-4.

    The result always satisfies ``implied_kl(result) == kl``.
    """
    if kl not in (0, 1, 2, 3, 4):
        raise ValueError(f"kl must be an integer 0..4, got {kl!r}")
    f = dict.fromkeys(FEATURE_RANGES, 0)
    r = rng.random
    if kl == 1:
        choice = int(rng.integers(3))
        if choice == 0:
            f["fos_superior"] = 1
        elif choice == 1:
            f["fos_inferior"] = 1
        else:
            f["jsn_medial"] = 1
    elif kl == 2:
        if r() < 0.5:
            f["jsn_medial" if r() < 0.6 else "jsn_superior"] = 1
            f["fos_superior" if r() < 0.5 else "fos_inferior"] = int(rng.integers(1, 3))
        else:
            f["fos_superior" if r() < 0.5 else "fos_inferior"] = 2
        f["aos_superior"] = int(rng.integers(0, 2))
        f["sclerosis"] = int(r() < 0.5)
    elif kl == 3:
        f["jsn_superior"] = 2 if r() < 0.7 else int(rng.integers(0, 2))
        f["jsn_medial"] = 2 if f["jsn_superior"] < 2 else int(rng.integers(0, 3))
        f["fos_superior"] = int(rng.integers(1, 3))
        f["fos_inferior"] = int(rng.integers(0, 3))
        f["aos_superior"] = int(rng.integers(0, 3))
        f["sclerosis"] = int(r() < 0.8)
        f["cysts"] = int(r() < 0.5)
        f["femoral_head_deformity"] = int(r() < 0.3)
    elif kl == 4:
        f["jsn_superior"] = 3
        f["jsn_medial"] = int(rng.integers(1, 4))
        f["fos_superior"] = int(rng.integers(2, 4))
        f["fos_inferior"] = int(rng.integers(2, 4))
        f["aos_superior"] = int(rng.integers(2, 4))
        f["aos_inferior"] = int(r() < 0.7)
        f["sclerosis"] = 1
        f["cysts"] = 1
        f["femoral_head_deformity"] = 1
    assert implied_kl(f) == kl
    return f


@dataclass
class HipXrayPhantom:
    """One AP pelvis radiograph phantom and its ground truth.

    image : Volume, 2-D ``[row, col]`` uint16 detector counts, spacing (row_mm, col_mm)
    bones : uint8 labels (0 none, 1 pelvis, 2 right femur, 3 left femur); osteophytes included
    joint_space : uint8 (0 none, 1 right hip, 2 left hip): the radiolucent joint space
    osteophytes : uint8 (0 none, 1 fos_superior, 2 fos_inferior, 3 aos_superior, 4 aos_inferior)
    sclerosis, cysts : bool masks
    hips : per side ("right", "left") dict with ``features`` (OARSI keys), ``kl`` (phantom
        convention), ``croft``, ``rhoa_croft``, ``osteophyte_sum``, ``jsn_sum``,
        ``head_centre_rc`` (row, col in pixels), ``head_centre_mm`` (row, col in mm),
        ``head_radius_mm``, ``jsw_superior_mm``, ``jsw_medial_mm`` (true widths),
        ``roi`` (row0, row1, col0, col1: a box around the joint, pixels, end-exclusive)
    """

    image: Volume
    bones: np.ndarray
    joint_space: np.ndarray
    osteophytes: np.ndarray
    sclerosis: np.ndarray
    cysts: np.ndarray
    hips: dict
    params: dict = field(default_factory=dict)


def _jsw(phi_deg, w_sup, w_med):
    t = np.clip((phi_deg - 20.0) / 40.0, 0.0, 1.0)
    return w_sup + t * (w_med - w_sup)


def _angle_diff(a, b):
    """a - b in degrees, wrapped to (-180, 180]."""
    return (a - b + 180.0) % 360.0 - 180.0


def generate_hip_xray(seed=0, features=None, *, shape=(400, 520), pixel_spacing=0.5, noise=0.012,
                      blur_mm=0.35, anatomy_jitter=True) -> HipXrayPhantom:
    """Generate one AP pelvis radiograph phantom with both hips.

    Parameters
    ----------
    seed : int or numpy.random.Generator
        Anatomy jitter, cyst positions, exposure and noise all come from it.
        They are drawn independently of ``features``: the same seed with other
        features gives the same anatomy and noise, so two images differ only
        where the features do.
    features : dict, optional
        ``{"right": {...}, "left": {...}}`` with OARSI keys (module docstring);
        missing sides or keys are 0 (a healthy hip).
    shape : (rows, cols)
        Image size in pixels; at least 300 × 400 at 0.5 mm (the anatomy spans
        about 150 × 200 mm).
    pixel_spacing : float or (row_mm, col_mm)
        Pixel size in mm.
    noise : quantum-noise level (relative, scaled by sqrt of the signal).
    blur_mm : Gaussian unsharpness (sigma, mm).

    Returns
    -------
    HipXrayPhantom
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    features = {} if features is None else dict(features)
    unknown = set(features) - set(SIDES)
    if unknown:
        raise ValueError(f"features keys must be 'right' and/or 'left', got {sorted(unknown)}")
    feats = {s: validate_features(features.get(s), f"features[{s!r}]") for s in SIDES}
    shape = tuple(int(s) for s in shape)
    sp = np.asarray(pixel_spacing, dtype=np.float64).ravel()
    if sp.size == 1:
        sp = np.repeat(sp, 2)
    if sp.size != 2 or not np.all(np.isfinite(sp)) or np.any(sp <= 0):
        raise ValueError(f"pixel_spacing must be one or two positive sizes in mm, got {pixel_spacing!r}")
    if len(shape) != 2 or shape[0] * sp[0] < 150 or shape[1] * sp[1] < 200:
        raise ValueError(f"shape must be (rows, cols) covering at least 150 x 200 mm, got {shape} "
                         f"at {tuple(sp)} mm")
    jit = (lambda s: float(rng.uniform(-s, s))) if anatomy_jitter else (lambda s: 0.0 * float(rng.uniform()))

    H, W = shape[0] * sp[0], shape[1] * sp[1]
    y = (np.arange(shape[0]) + 0.5) * sp[0]
    x = (np.arange(shape[1]) + 0.5) * sp[1]
    Y, X = np.meshgrid(y, x, indexing="ij")
    mid = W / 2 + jit(4)
    cy = 0.45 * H + jit(5)
    half_sep = min(88.0, 0.34 * W) + jit(3)

    # anatomy per hip, drawn in a fixed order whatever the features
    anat = {}
    for side in SIDES:
        anat[side] = {
            "R": 24.0 + jit(2.0), "dy": jit(2.0), "dx": jit(2.0),
            "w_sup": 4.0 + jit(0.4), "w_med": 4.6 + jit(0.4),
            "neck_deg": 40.0 + jit(4.0),
            "cysts": [(float(rng.uniform(-35, 35)), float(rng.uniform(2.5, 5.0)), float(rng.uniform(1.5, 3.0)))
                      for _ in range(3)],
            "n_cysts": int(rng.integers(1, 4)),
        }
    gain = float(rng.uniform(26000, 34000))
    offset = float(rng.uniform(1500, 2500))
    heel = float(rng.uniform(-0.08, 0.08))
    noise_field = rng.standard_normal(shape)

    # soft tissue: thicker in the middle of the body
    body = np.clip(1.0 - ((X - mid) / (0.62 * W)) ** 2, 0.0, None) ** 0.5
    soft = SOFT * body * (0.85 + 0.15 * np.clip(1 - np.abs(Y - cy) / H, 0, 1))

    pelvis = np.zeros(shape, bool)
    femur = np.zeros(shape, np.uint8)
    joint = np.zeros(shape, np.uint8)
    ost = np.zeros(shape, np.uint8)
    scl = np.zeros(shape, bool)
    cyst = np.zeros(shape, bool)
    socket_holes = np.zeros(shape, bool)
    # sacrum: a trapezoid at the top of the midline
    sacrum = Y < cy - 12
    hips = {}
    for s_i, side in enumerate(SIDES):
        a, f = anat[side], feats[side]
        lat = -1.0 if side == "right" else 1.0          # lateral direction along +x
        cx = mid + lat * half_sep + a["dx"]
        cyy = cy + a["dy"]
        u = lat * (X - cx)                              # lateral distance, mm
        v = cyy - Y                                     # superior distance, mm
        rho = np.hypot(u, v)
        phi = np.degrees(np.arctan2(-u, v))             # 0 superior, +90 medial, -90 lateral
        R = a["R"]
        flat = 0.12 if f["femoral_head_deformity"] else 0.0
        r_head = R * (1.0 - flat * np.clip(np.cos(np.radians(phi)), 0, None) ** 4)
        w_sup = a["w_sup"] * JSN_FACTOR[f["jsn_superior"]]
        w_med = a["w_med"] * JSN_FACTOR[f["jsn_medial"]]
        r_sock = r_head + _jsw(phi, w_sup, w_med)

        # --- pelvis around this hip
        aos_ext = AOS_EXTENT_DEG[f["aos_superior"]]
        in_cov = (phi >= PHI_LAT) & (phi <= PHI_MED)
        roof = in_cov & (rho >= r_sock) & (rho <= r_sock + 16.0)
        ilium = (((u + 5.0) / 50.0) ** 2 + ((v - 62.0) / 40.0) ** 2 <= 1.0) & (v >= R + 10.0)
        ilium |= (np.abs(u + 8.0) <= 22.0) & (v >= R + 8.0) & (v <= R + 30.0)
        ischium = ((u + 10.0) / 13.0) ** 2 + ((v + R + 22.0) / 22.0) ** 2 <= 1.0
        ischium &= rho >= r_sock
        # superior pubic ramus: towards the symphysis, from the medial acetabulum
        t = np.clip((-u - 10.0) / max(half_sep - 10.0, 1.0), 0, 1)
        sup_ramus = (-u >= 10.0) & (-u <= half_sep) & (np.abs(v - (-4.0 - 22.0 * t)) <= 8.0)
        inf_ramus = (-u >= 0.0) & (-u <= half_sep) & (np.abs(v - (-(R + 32.0) + 6.0 * t)) <= 6.0)
        sij_wing = ((u + half_sep - 40.0) ** 2 / 30.0 ** 2 + (v - 70.0) ** 2 / 35.0 ** 2 <= 1.0)
        pel = roof | ilium | ischium | sup_ramus | inf_ramus | sij_wing
        # acetabular osteophytes: new bone only where there was none
        ao_mask = np.zeros(shape, bool)
        if aos_ext > 0:
            d = PHI_LAT - phi  # degrees beyond the lateral rim
            thick = 9.0 * (1.0 - d / aos_ext)
            ao_mask = (d > 0) & (d <= aos_ext) & (rho >= r_sock) & (rho <= r_sock + thick) & (u > 0) & ~pel
            ost[ao_mask] = OSTEOPHYTE_LABELS["aos_superior"]
        if f["aos_inferior"]:
            d = phi - PHI_MED
            m = (d > 0) & (d <= 22.0) & (rho >= r_sock) & (rho <= r_sock + 7.0 * (1 - d / 22.0)) & ~pel
            ost[m] = OSTEOPHYTE_LABELS["aos_inferior"]
            ao_mask |= m
        pel |= ao_mask
        hole = rho < r_sock  # the socket: no pelvic bone inside it
        pel &= ~hole
        socket_holes |= hole
        pelvis |= pel

        # --- femur: head, neck, trochanters, shaft
        na = np.radians(a["neck_deg"])
        d_u, d_v = np.cos(na), -np.sin(na)
        tn = u * d_u + v * d_v
        nn = -u * d_v + v * d_u
        head = rho <= r_head
        neck = (tn >= 0) & (tn <= 52.0) & (np.abs(nn) <= 0.62 * R)
        gt_u, gt_v = 52.0 * d_u + 6.0, 52.0 * d_v + 12.0
        troch = (u - gt_u) ** 2 + (v - gt_v) ** 2 <= 15.0 ** 2
        lt = (u - (gt_u - 26.0)) ** 2 + (v - (gt_v - 40.0)) ** 2 <= 8.0 ** 2
        shaft_c = gt_u - 12.0 + 0.08 * (v - gt_v)
        shaft = (v <= gt_v) & (np.abs(u - shaft_c) <= 15.0)
        fem = head | neck | troch | lt | shaft
        # femoral osteophytes at the head-neck junctions (where the neck edges meet the head)
        half = np.degrees(np.arcsin(0.62))  # the neck's half-width is 0.62 r
        neck_phi = -90.0 - a["neck_deg"]
        for key, phi0 in (("fos_superior", neck_phi + half), ("fos_inferior", neck_phi - half)):
            g = f[key]
            if g == 0:
                continue
            prof = 1.0 - np.abs(_angle_diff(phi, phi0)) / FOS_HALF_ANGLE_DEG[g]
            # new bone outside the head and the neck that was there
            m = (prof > 0) & (rho > r_head) & (rho <= r_head + FOS_HEIGHT_MM[g] * prof) & ~fem
            ost[m & (ost == 0)] = OSTEOPHYTE_LABELS[key]
            fem |= m
        # the joint space: between head and socket wherever the acetabulum covers the head
        js = in_cov & (rho > r_head) & (rho < r_sock) & ~fem
        joint[js] = s_i + 1
        femur[fem & (femur == 0)] = 2 + s_i

        # --- sclerosis and cysts
        if f["sclerosis"]:
            band = (np.abs(phi) <= 40.0) & (rho >= r_sock) & (rho <= r_sock + 5.0)
            band |= (np.abs(phi) <= 40.0) & (rho <= r_head) & (rho >= r_head - 4.0)
            scl |= band
        if f["cysts"]:
            for phi_c, depth, rad in a["cysts"][:a["n_cysts"]]:
                pr = np.radians(phi_c)
                rc = R + w_sup + depth + rad
                cu, cv = -rc * np.sin(pr), rc * np.cos(pr)
                cyst |= (u - cu) ** 2 + (v - cv) ** 2 <= rad ** 2
        row_c, col_c = cyy / sp[0] - 0.5, cx / sp[1] - 0.5
        box = (R + 30.0)
        hips[side] = {
            "features": f, **hip_summary(f),
            "head_centre_rc": (float(row_c), float(col_c)), "head_centre_mm": (float(cyy), float(cx)),
            "head_radius_mm": float(R), "jsw_superior_mm": float(w_sup), "jsw_medial_mm": float(w_med),
            "roi": (max(0, int(np.floor((cyy - box) / sp[0]))), min(shape[0], int(np.ceil((cyy + box) / sp[0]))),
                    max(0, int(np.floor((cx - box) / sp[1]))), min(shape[1], int(np.ceil((cx + box) / sp[1])))),
        }

    sacrum &= ~socket_holes & (np.abs(X - mid) < 48 - 0.18 * (cy - Y).clip(0))
    pelvis |= sacrum
    pelvis &= femur == 0
    cyst &= pelvis | (femur > 0)
    scl &= (pelvis | (femur > 0)) & ~cyst

    # attenuation: soft tissue under everything, bone with a cortex, features on top
    att = soft.copy()
    for mask, value in ((pelvis, BONE), (femur > 0, BONE + 0.05)):
        inner = ndimage.binary_erosion(mask, iterations=max(1, int(round(1.5 / sp.min()))))
        att += np.where(inner, value, np.where(mask, CORTEX, 0.0))
    att[sacrum & ~ndimage.binary_erosion(sacrum, iterations=2)] -= 0.2
    att[ost > 0] = soft[ost > 0] + OSTEOPHYTE
    att[scl] += SCLEROSIS_GAIN
    att[cyst] = soft[cyst] + CYST
    # acquisition: unsharpness, heel effect, quantum noise, detector counts
    sig = blur_mm / sp
    img = ndimage.gaussian_filter(att, sigma=sig, mode="nearest") if blur_mm > 0 else att
    img = img * (1.0 + heel * (Y / H - 0.5) * 2)
    img = img + noise * np.sqrt(np.clip(img, 0, None) + 0.05) * noise_field
    counts = np.clip(np.rint(offset + gain * img), 0, 65535).astype(np.uint16)
    image = Volume.from_radiograph(counts, tuple(sp), header={"descrip": "sacroai AP pelvis phantom"})
    return HipXrayPhantom(image=image, bones=np.where(femur > 0, femur, pelvis.astype(np.uint8)),
                          joint_space=joint, osteophytes=ost, sclerosis=scl, cysts=cyst, hips=hips,
                          params={"gain": gain, "offset": offset, "heel": heel, "noise": noise,
                                  "blur_mm": blur_mm, "pixel_spacing": tuple(float(v) for v in sp),
                                  "shape": shape})


# ---------------------------------------------------------------- cohort

HIP_MANIFEST_FIELDS = ["patient", "visit", "side", "modality", "path", "sidecar", "row_mm", "col_mm",
                       "kl", "radiographic_oa_kl", "croft", "rhoa_croft", "osteophyte_sum", "jsn_sum",
                       *FEATURE_RANGES, "roi_row0", "roi_row1", "roi_col0", "roi_col1",
                       "age", "sex", "bmi", "truth_dir"]


def _hip_kls(rng, age):
    """Both hips' KL grades: an age-related patient propensity plus per-hip variation."""
    latent = 0.05 * (age - 60.0) + rng.normal(0.0, 0.9)
    cuts = [-0.2, 0.45, 1.0, 1.6]
    return {side: int(np.digitize(latent + rng.normal(0.0, 0.5), cuts)) for side in SIDES}


def generate_hip_cohort(out_dir, n: int = 40, seed: int = 0, *, shape=(400, 520), pixel_spacing=0.5,
                        progress: bool = True) -> list:
    """Write a phantom hip-OA cohort (AP pelvis radiographs) to ``out_dir``; return its manifest rows.

    Layout::

        out_dir/manifest.csv                one row per hip (side "right"/"left"), see HIP_MANIFEST_FIELDS;
                                            ``path`` is the patient's radiograph, ``roi_*`` the hip's box
                                            in pixels (end-exclusive)
        out_dir/patientNNN/pelvis.png       the radiograph, 16-bit grayscale (no spacing inside a PNG)
        out_dir/patientNNN/pelvis.json      sidecar: pixel_spacing_mm (row, col), orientation, the
                                            per-hip truth (features, KL, Croft, geometry) and parameters
        out_dir/patientNNN/truth/           bones, joint_space, osteophytes, sclerosis, cysts as 8-bit
                                            PNG label maps (values as in HipXrayPhantom)

    Read an image with ``load_radiograph(path, pixel_spacing=sidecar["pixel_spacing_mm"])``.
    KL grades are the phantom convention of this module (see its docstring).
    Everything is deterministic from ``seed``.
    """
    import csv
    import json
    import os

    from ..io.radiograph import save_radiograph

    if int(n) < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    rng = np.random.default_rng(seed)
    os.makedirs(out_dir, exist_ok=True)
    rows = []
    it = range(int(n))
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc="hip phantom cohort", unit="patient")
    for p in it:
        prng = np.random.default_rng(rng.integers(2**63))
        age = float(np.clip(prng.normal(62.0, 10.0), 40.0, 90.0))
        sex = "F" if prng.random() < 0.58 else "M"
        bmi = float(np.clip(prng.normal(27.5, 4.5), 17.0, 45.0))
        kls = _hip_kls(prng, age)
        feats = {side: random_hip_features(prng, kls[side]) for side in SIDES}
        ph = generate_hip_xray(prng, feats, shape=shape, pixel_spacing=pixel_spacing)
        pid = f"patient{p:03d}"
        pdir = os.path.join(out_dir, pid)
        tdir = os.path.join(pdir, "truth")
        os.makedirs(tdir, exist_ok=True)
        save_radiograph(ph.image, os.path.join(pdir, "pelvis.png"))
        for name in ("bones", "joint_space", "osteophytes", "sclerosis", "cysts"):
            lab = Volume.from_radiograph(getattr(ph, name).astype(np.uint8), ph.image.spacing)
            save_radiograph(lab, os.path.join(tdir, f"{name}.png"), bits=8)
        spacing = [float(s) for s in ph.image.spacing]
        sidecar = {"patient": pid, "pixel_spacing_mm": spacing, "bits": 16,
                   "orientation": "AP; rows run inferiorly, columns towards the patient's left "
                                  "(the patient's right hip is on the image's left)",
                   "kl_convention": "sacroai phantom convention (sacroai.phantoms.hip_xray.implied_kl)",
                   "hips": ph.hips, "age": round(age, 1), "sex": sex, "bmi": round(bmi, 1),
                   "params": ph.params}
        with open(os.path.join(pdir, "pelvis.json"), "w") as fh:
            json.dump(sidecar, fh, indent=1, default=lambda o: list(o) if isinstance(o, tuple) else str(o))
        for side in SIDES:
            h = ph.hips[side]
            row = {"patient": pid, "visit": 1, "side": side, "modality": "XR",
                   "path": os.path.join(pid, "pelvis.png"), "sidecar": os.path.join(pid, "pelvis.json"),
                   "row_mm": spacing[0], "col_mm": spacing[1], "kl": h["kl"],
                   "radiographic_oa_kl": int(h["radiographic_oa_kl"]),
                   "croft": "" if h["croft"] is None else h["croft"],
                   "rhoa_croft": "" if h["rhoa_croft"] is None else int(h["rhoa_croft"]),
                   "osteophyte_sum": h["osteophyte_sum"], "jsn_sum": h["jsn_sum"], **h["features"],
                   "roi_row0": h["roi"][0], "roi_row1": h["roi"][1], "roi_col0": h["roi"][2],
                   "roi_col1": h["roi"][3], "age": round(age, 1), "sex": sex, "bmi": round(bmi, 1),
                   "truth_dir": os.path.join(pid, "truth")}
            rows.append(row)
    with open(os.path.join(out_dir, "manifest.csv"), "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=HIP_MANIFEST_FIELDS)
        w.writeheader()
        w.writerows(rows)
    return rows
