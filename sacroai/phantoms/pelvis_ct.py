"""A pelvic CT phantom with realistic bone shapes, for training bone segmentation.

``generate_pelvis_ct(seed)`` draws one axial CT of the lower abdomen and
pelvis in HU on an RAS+ grid, with the bone labels a segmentation network
should learn (1 sacrum, 2 left hip bone, 3 right hip bone) and the
sacroiliac-joint centres in world mm.

The anatomy is written in a pelvic frame (mm): u towards the patient's
right, v anterior, w superior, origin at the midpoint between the two
sacroiliac joints.  Shapes are signed-depth fields (mm inside the surface)
built from capsules, ellipsoids and "swept" polylines whose cross-section
is interpolated between axial key frames; a bone is the union (max) of its
pieces minus its holes (min), so cortex is drawn once on the outer and
hole surfaces.  The key frames follow the proportions of a real adult
pelvic CT at 3 mm: the sacrum is a tilted, inferiorly tapering bat wing
(S1 body, alae, dorsal plate, sacral canal, anterior foramina), each hip
bone an iliac wing (a thin curved plate flaring antero-laterally, thick at
the joint), ilium body, acetabulum and pubic/ischial rami.  L1-L5,
the femora and the coccyx are drawn and labelled 0.  A random similarity
transform (scale, rotation, translation) maps the frame to world space.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from ..volume import Volume

__all__ = ["PelvisCTPhantom", "generate_pelvis_ct", "PELVIS_LABELS"]

PELVIS_LABELS = {0: "background", 1: "sacrum", 2: "left hip bone", 3: "right hip bone"}
SIDES = {"left": -1.0, "right": 1.0}   # sign of u (RAS+: patient left is negative x)
JOINT_U0 = 49.0     # |u| of the joint plane at v = JOINT_V0 (mm)
JOINT_V0 = -3.0
JOINT_SLOPE = 0.35  # d|u|/dv of the joint plane: the anterior end lies more laterally


@dataclass
class PelvisCTPhantom:
    """One pelvic CT phantom.

    ct : Volume, int16 HU, RAS+ diagonal affine
    labels : uint8 array on ``ct``'s grid: 0 background (incl. L5, femora, coccyx),
        1 sacrum, 2 left hip bone, 3 right hip bone
    joints : per side "left"/"right": ``centre_mm`` (x, y, z world), the centre of the
        auricular joint surface, and ``gap_mm`` (the joint cleft width)
    params : the drawn parameters (scale, angles_deg, translation_mm, noise_hu, metal, ...)
    """

    ct: Volume
    labels: np.ndarray
    joints: dict
    params: dict = field(default_factory=dict)


def _rotation(angles_deg):
    a, b, c = np.deg2rad(angles_deg)
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


class _Canvas:
    """Pelvic-frame coordinates of every voxel and per-structure depth fields."""

    def __init__(self, shape, affine, frame_to_world):
        self.shape, self.affine = shape, affine
        self.f2w = frame_to_world                       # 4x4, frame mm -> world mm
        vox_to_frame = np.linalg.inv(frame_to_world) @ affine
        self.f2v = np.linalg.inv(vox_to_frame)          # frame -> voxel index
        idx = [np.arange(n, dtype=np.float32) for n in shape]
        m = vox_to_frame.astype(np.float32)
        i, j, k = idx[0][:, None, None], idx[1][None, :, None], idx[2][None, None, :]
        self.U = m[0, 0] * i + m[0, 1] * j + m[0, 2] * k + m[0, 3]
        self.V = m[1, 0] * i + m[1, 1] * j + m[1, 2] * k + m[1, 3]
        self.W = m[2, 0] * i + m[2, 1] * j + m[2, 2] * k + m[2, 3]
        self.depth, self.label_depth = {}, {}

    def box(self, lo, hi):
        """Index slices covering the frame-space box [lo, hi] (mm), or None when outside."""
        lo, hi = np.asarray(lo, float), np.asarray(hi, float)
        corners = np.array([[a, b, c, 1.0] for a in (lo[0], hi[0]) for b in (lo[1], hi[1]) for c in (lo[2], hi[2])])
        ijk = (self.f2v @ corners.T)[:3]
        out = []
        for ax in range(3):
            a = max(int(np.floor(ijk[ax].min())) - 1, 0)
            b = min(int(np.ceil(ijk[ax].max())) + 2, self.shape[ax])
            if b <= a:
                return None
            out.append(slice(a, b))
        return tuple(out)

    def coords(self, sl):
        U = np.broadcast_to(self.U, self.shape)[sl]
        V = np.broadcast_to(self.V, self.shape)[sl]
        W = np.broadcast_to(self.W, self.shape)[sl]
        return U, V, W

    def field(self, name):
        if name not in self.depth:
            self.depth[name] = np.full(self.shape, -1e3, np.float32)     # drawn in the image
            self.label_depth[name] = np.full(self.shape, -1e3, np.float32)  # what the label covers
        return self.depth[name]

    def add(self, name, lo, hi, fn, op="union"):
        """Combine ``fn(U, V, W) -> depth (mm)`` into structure ``name`` inside the box [lo, hi].

        "union" adds the shape to the image and the label, "hole" removes it from both
        (sacral canal, foramina).
        """
        sl = self.box(lo, hi)
        if sl is None:
            return
        d = fn(*self.coords(sl)).astype(np.float32)
        f = self.field(name)
        if op == "union":
            np.maximum(f[sl], d, out=f[sl])
            np.maximum(self.label_depth[name][sl], d, out=self.label_depth[name][sl])
        else:
            np.minimum(f[sl], d, out=f[sl])
            np.minimum(self.label_depth[name][sl], d, out=self.label_depth[name][sl])

    def cut_everywhere(self, name, fn_image, fn_label=None):
        """Keep only where ``fn > 0``; the label may use another surface (e.g. the joint plane itself)."""
        f = self.field(name)
        np.minimum(f, fn_image(self.U, self.V, self.W).astype(np.float32), out=f)
        lf = self.label_depth[name]
        np.minimum(lf, (fn_label or fn_image)(self.U, self.V, self.W).astype(np.float32), out=lf)


# --- signed-depth primitives (positive inside, mm) --------------------------------------------

def _capsule(a, b, r):
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    ab = b - a
    L2 = float(ab @ ab) or 1e-6

    def fn(U, V, W):
        t = np.clip(((U - a[0]) * ab[0] + (V - a[1]) * ab[1] + (W - a[2]) * ab[2]) / L2, 0, 1)
        d = np.sqrt((U - a[0] - t * ab[0]) ** 2 + (V - a[1] - t * ab[1]) ** 2 + (W - a[2] - t * ab[2]) ** 2)
        return r - d
    return fn


def _capsule_box(a, b, r):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.minimum(a, b) - r, np.maximum(a, b) + r


def _ellipsoid(c, radii):
    c, radii = np.asarray(c, np.float32), np.asarray(radii, np.float32)

    def fn(U, V, W):
        q = np.sqrt(((U - c[0]) / radii[0]) ** 2 + ((V - c[1]) / radii[1]) ** 2 + ((W - c[2]) / radii[2]) ** 2)
        return (1.0 - q) * radii.min()
    return fn


def _swept(keys, kind="polyline"):
    """A shape whose axial cross-section is interpolated in w between key frames.

    keys : list of (w, params) sorted by w, params a flat array:
        "polyline": [u0, v0, u1, v1, ..., r] -> depth = r - distance to the polyline;
        "ellipse": [uc, vc, ru, rv] -> elliptic cross-section.
    Outside [w_first, w_last] the depth falls off with the distance in w.
    """
    ws = np.array([k[0] for k in keys], np.float32)
    P = np.array([k[1] for k in keys], np.float32)

    def fn(U, V, W):
        Wc = np.clip(W, ws[0], ws[-1])
        i = np.clip(np.searchsorted(ws, Wc, side="right") - 1, 0, len(ws) - 2)
        f = ((Wc - ws[i]) / (ws[i + 1] - ws[i]))[..., None]
        p = P[i] * (1 - f) + P[i + 1] * f
        beyond = np.abs(W - Wc)
        if kind == "ellipse":
            q = np.sqrt(((U - p[..., 0]) / p[..., 2]) ** 2 + ((V - p[..., 1]) / p[..., 3]) ** 2)
            d = (1.0 - q) * np.minimum(p[..., 2], p[..., 3])
        else:
            n = (P.shape[1] - 1) // 2
            r = p[..., -1]
            best = None
            for s in range(n - 1):
                ax, ay, bx, by = p[..., 2 * s], p[..., 2 * s + 1], p[..., 2 * s + 2], p[..., 2 * s + 3]
                ex, ey = bx - ax, by - ay
                L2 = np.maximum(ex * ex + ey * ey, 1e-6)
                t = np.clip(((U - ax) * ex + (V - ay) * ey) / L2, 0, 1)
                dd = (U - ax - t * ex) ** 2 + (V - ay - t * ey) ** 2
                best = dd if best is None else np.minimum(best, dd)
            d = r - np.sqrt(best)
        return d - beyond
    lo = [P[:, 0:-1:2].min() - P[:, -1].max() - 2, P[:, 1:-1:2].min() - P[:, -1].max() - 2, ws[0] - 2]
    hi = [P[:, 0:-1:2].max() + P[:, -1].max() + 2, P[:, 1:-1:2].max() + P[:, -1].max() + 2, ws[-1] + 2]
    if kind == "ellipse":
        lo = [(P[:, 0] - P[:, 2]).min() - 2, (P[:, 1] - P[:, 3]).min() - 2, ws[0] - 2]
        hi = [(P[:, 0] + P[:, 2]).max() + 2, (P[:, 1] + P[:, 3]).max() + 2, ws[-1] + 2]
    return fn, lo, hi


def _mirror_poly(keys, s):
    """Key frames given for the right side, mirrored to side sign ``s``."""
    out = []
    for w, pts, r in keys:
        flat = []
        for u, v in pts:
            flat += [s * u, v]
        out.append((w, flat + [r]))
    return out


# --- anatomy --------------------------------------------------------------------------------

def _joint_u(V, jit):
    return JOINT_U0 + jit + JOINT_SLOPE * (V - JOINT_V0)


def _sacrum(cv, g, jit):
    a = g.uniform(0.9, 1.1)        # ala length factor
    t = g.uniform(0.85, 1.15)      # thickness factor
    body = [(-88, [0, -38, 3, 3]), (-75, [0, -41, 5, 3]), (-60, [0, -41, 8, 4]), (-45, [0, -38, 12, 5]),
            (-30, [0, -28, 15, 8]), (-15, [0, -5, 19, 13]), (0, [0, 14, 22, 19 * t]), (15, [0, 14, 22, 16 * t]),
            (28, [0, 4, 20, 12]), (36, [0, -6, 16, 8])]
    fn, lo, hi = _swept(body, "ellipse")
    cv.add("sacrum", lo, hi, fn)
    for s in (-1.0, 1.0):
        ala = [(-68, [(4, -42), (10, -42)], 4), (-55, [(6, -43), (20, -43)], 4.5),
               (-40, [(8, -43), (30 * a, -43)], 5), (-28, [(10, -38), (44 * a, -38)], 7 * t),
               (-18, [(12, -18), (52, -20)], 13 * t), (-5, [(12, -2), (60, -6)], 18 * t),
               (10, [(12, 0), (60, -5)], 18 * t), (25, [(12, 0), (54, -8)], 13 * t), (33, [(10, -5), (36 * a, -12)], 7)]
        fn, lo, hi = _swept(_mirror_poly(ala, s))
        cv.add("sacrum", lo, hi, fn)
        # anterior sacral foramina: short canals along v through the alae
        for w, u in ((14, 26), (-2, 25), (-18, 23), (-33, 19)):
            vc = 10 if w > 0 else (-5 if w > -20 else -28)
            cv.add("sacrum", (s * u - 6, vc - 25, w - 6), (s * u + 6, vc + 25, w + 6),
                   lambda U, V, W, c=(s * u, w): np.sqrt((U - c[0]) ** 2 + (W - c[1]) ** 2) - 3.2, op="hole")
    dorsal = [(-45, [(-18, -45), (18, -45)], 4), (-25, [(-28, -42), (28, -42)], 7), (0, [(-25, -32), (25, -32)], 10),
              (30, [(-14, -22), (14, -22)], 8)]
    fn, lo, hi = _swept(_mirror_poly(dorsal, 1.0))
    cv.add("sacrum", lo, hi, fn)
    canal = [(-50, [0, -38, 4, 2]), (-30, [0, -32, 7, 3]), (0, [0, -20, 10, 5]), (40, [0, -12, 10, 6])]
    fn, lo, hi = _swept(canal, "ellipse")
    cv.add("sacrum", lo, hi, lambda U, V, W: -fn(U, V, W), op="hole")
    # the sacrum ends on each side at the joint plane (the bone half a cleft before it, the label at it,
    # so that the sacrum and hip-bone masks touch, as manual and TotalSegmentator masks do)
    cv.cut_everywhere("sacrum", lambda U, V, W: (_joint_u(V, jit) - 0.5 * cv.gap) - np.abs(U),
                      lambda U, V, W: _joint_u(V, jit) - np.abs(U))


def _hip(cv, g, s, jit, fem_c):
    name = "hip_" + ("left" if s < 0 else "right")
    fl = g.uniform(0.9, 1.12)      # wing flare
    th = g.uniform(0.8, 1.25)      # plate thickness
    wing = [(-60, [(62, 10), (68, 30), (72, 45), (80, 80)], 14), (-45, [(65, 5), (72, 20), (80, 35), (95, 70)], 14),
            (-35, [(62, -5), (75, 25), (92, 60), (105, 90)], 11), (-22, [(55, -24), (68, 5), (90, 50), (110, 95)], 7),
            (-10, [(48, -30), (62, -5), (92, 45), (118 * fl, 105)], 5 * th),
            (5, [(45, -35), (60, -10), (95, 40), (125 * fl, 105)], 4 * th),
            (20, [(44, -38), (58, -18), (98, 30), (130 * fl, 90)], 4 * th),
            (35, [(48, -35), (60, -20), (100, 20), (133 * fl, 70)], 4.5 * th),
            (50, [(60, -22), (75, -15), (95, -5), (130 * fl, 50)], 5),
            (64, [(92, -8), (100, 5), (110, 18), (120, 30)], 5)]
    fn, lo, hi = _swept(_mirror_poly(wing, s))
    cv.add(name, lo, hi, fn)
    # thick posterior ilium (auricular surface and iliac tuberosity)
    c = (s * (JOINT_U0 + jit + 13), -6, 2)
    fn = _ellipsoid(c, (17, 27, 30))
    cv.add(name, np.array(c) - (17, 27, 30), np.array(c) + (17, 27, 30), fn)
    # acetabulum: a shell around the femoral head, open laterally
    F = np.asarray(fem_c, float)
    r_in, r_out = 24.0, 35.0

    def acetab(U, V, W):
        d = np.sqrt((U - F[0]) ** 2 + (V - F[1]) ** 2 + (W - F[2]) ** 2)
        return np.minimum(np.minimum(r_out - d, d - r_in), 8.0 - s * (U - F[0]))
    cv.add(name, F - r_out, F + r_out, acetab)
    for a, b, r in (((s * 75, 75, -92), (s * 5, 90, -108), 9.0), ((s * 75, 12, -80), (s * 62, -8, -128), 13.0),
                    ((s * 62, -5, -128), (s * 5, 86, -120), 7.0), ((s * 70, 20, -60), (s * 76, 15, -85), 14.0)):
        lo, hi = _capsule_box(a, b, r)
        cv.add(name, lo, hi, _capsule(a, b, r))
    # pubic symphysis: a cleft at the midline; the joint plane against the sacrum
    cv.cut_everywhere(name, lambda U, V, W: s * U - 2.0)
    region = lambda V, W: (V < 45) & (W > -70)  # noqa: E731
    cv.cut_everywhere(name, lambda U, V, W: np.where(region(V, W), s * U - (_joint_u(V, jit) + 0.5 * cv.gap), 1e3),
                      lambda U, V, W: np.where(region(V, W), s * U - _joint_u(V, jit), 1e3))


def _femur(cv, s, F, tag):
    name = "femur_" + tag
    F = np.asarray(F, float)
    cv.add(name, F - 23, F + 23, _ellipsoid(F, (22.5, 22.5, 22.5)))
    for a, b, r in ((F, (s * 125 + F[0] - s * 92, F[1] - 15, F[2] - 24), 15.0),
                    ((F[0] + s * 46, F[1] - 20, F[2] - 12), (F[0] + s * 43, F[1] - 15, F[2] - 20), 16.0),
                    ((F[0] + s * 43, F[1] - 10, F[2] - 22), (F[0] + s * 36, F[1], F[2] - 200), 15.0)):
        lo, hi = _capsule_box(a, b, r)
        cv.add(name, lo, hi, _capsule(a, b, r))


def _vertebra(cv, name, c, sc):
    c = np.asarray(c, float)
    ru, rv, h = 25 * sc, 18 * sc, 13 * sc

    def body(U, V, W):
        q = np.sqrt(((U - c[0]) / ru) ** 2 + ((V - c[1]) / rv) ** 2)
        return np.minimum((1 - q) * rv, h - np.abs(W - c[2]))
    cv.add(name, c - (ru, rv, h), c + (ru, rv, h), body)
    vb = c[1] - rv              # posterior wall of the body; pieces below are (du, dv from vb, dw)
    for a, b, r in (((-10, 0, 0), (-11, -12, 2), 5), ((10, 0, 0), (11, -12, 2), 5),            # pedicles
                    ((-11, -12, 2), (0, -22, 4), 5), ((11, -12, 2), (0, -22, 4), 5),            # laminae
                    ((0, -22, 4), (0, -42, -4), 6),                                             # spinous process
                    ((-11, -8, 3), (-45, -14, 5), 6), ((11, -8, 3), (45, -14, 5), 6),           # transverse
                    ((-11, -14, 12), (-12, -16, -8), 6), ((11, -14, 12), (12, -16, -8), 6)):    # facets
        a = np.array([c[0] + a[0] * sc, vb + a[1] * sc, c[2] + a[2] * sc])
        b = np.array([c[0] + b[0] * sc, vb + b[1] * sc, c[2] + b[2] * sc])
        lo, hi = _capsule_box(a, b, r * sc)
        cv.add(name, lo, hi, _capsule(a, b, r * sc))


# --- intensities ------------------------------------------------------------------------------

def _paint_bone(hu, depth, cortex_mm, cort_hu, trab_hu, vox_mm, marrow=None):
    """Write one bone into ``hu``: cortex of ``cortex_mm`` over trabecular bone, with partial volume.

    ``marrow`` (HU, same shape as ``hu``) is added to the trabecular bone: the patchy
    fatty/red marrow of adult bones, which at 3 mm ranges from below 0 to 300 HU.
    """
    h = 0.5 * vox_mm
    inside = depth > -h
    if not inside.any():
        return
    d = depth[inside]
    c_eff = max(cortex_mm, 0.7 * vox_mm)
    cort = trab_hu + (cort_hu - trab_hu) * cortex_mm / c_eff
    frac = np.clip(d / h + 0.5, 0, 1)
    cfrac = np.clip((c_eff - d) / h + 0.5, 0, 1)
    trab = trab_hu if marrow is None else trab_hu + marrow[inside]
    bone = trab + (cort - trab) * cfrac
    hu[inside] = hu[inside] * (1 - frac) + bone * frac


def generate_pelvis_ct(seed=0, *, spacing=(3.0, 3.0, 3.0), shape=None, noise_hu=None, metal=None,
                       z_range_mm=None) -> PelvisCTPhantom:
    """Generate one axial pelvic CT phantom (HU) with sacrum and hip-bone labels.

    Parameters
    ----------
    seed : int or numpy.random.Generator
        Everything random comes from it (same seed → same phantom).
    spacing : 3 voxel sizes (i, j, k) in mm; 1–4 mm is realistic. The axes are RAS.
    shape : grid shape (i, j, k), optional; default: a random field of view
        (330–420 × 280–340 mm in-plane, the pelvis from below the ischia to 50–200 mm
        above the joints) divided by ``spacing``.
    noise_hu : Gaussian noise sigma in HU; default random 5–30.
    metal : None (random, 12 %), True or False: a metal implant at one femoral head
        (> 2500 HU) with streak artefacts.
    z_range_mm : (w_low, w_high) in the pelvic frame (mm from the joint centres),
        optional; default random (-150…-95, 50…200).

    Returns
    -------
    PelvisCTPhantom (``ct`` int16 HU Volume, ``labels`` uint8, ``joints`` centres)
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    sp = np.asarray(spacing, dtype=np.float64).reshape(-1)
    if sp.shape != (3,) or not np.all(np.isfinite(sp)) or np.any(sp <= 0):
        raise ValueError(f"spacing must be 3 positive voxel sizes in mm, got {spacing!r}")
    if np.any(sp > 8):
        raise ValueError(f"spacing must be <= 8 mm per axis to draw the joints, got {tuple(sp)}")
    if noise_hu is not None and not (np.isfinite(float(noise_hu)) and float(noise_hu) >= 0):
        raise ValueError(f"noise_hu must be a noise sigma >= 0 HU, got {noise_hu!r}")
    geo, anat, tis, noi = (np.random.default_rng(s) for s in rng.integers(2**63, size=4))

    # random similarity transform frame -> world
    scale = geo.uniform(0.87, 1.15) * (1 + geo.uniform(-0.04, 0.04, 3))
    angles = geo.uniform(-10, 10, 3)
    trans = geo.uniform(-20, 20, 3)
    f2w = np.eye(4)
    f2w[:3, :3] = _rotation(angles) @ np.diag(scale)
    f2w[:3, 3] = trans

    # body outline (frame): ellipse centred (0, vb), semi-axes (ab, bb)
    bb = anat.uniform(115, 165)
    vb = -anat.uniform(75, 95) + bb          # posterior skin 75-95 mm behind the joints
    ab = anat.uniform(1.2, 1.55) * bb
    fov_x = geo.uniform(330, 420)
    fov_y = geo.uniform(280, 340)
    w_lo, w_hi = (geo.uniform(-150, -95), geo.uniform(50, 200)) if z_range_mm is None else map(float, z_range_mm)
    if w_hi - w_lo < 4 * sp[2]:
        raise ValueError(f"z_range_mm must span at least 4 slices, got {z_range_mm!r}")
    centre = f2w @ np.array([geo.uniform(-15, 15), vb + geo.uniform(-20, 10), 0.5 * (w_lo + w_hi), 1.0])
    ext = np.array([fov_x, fov_y, (w_hi - w_lo) * scale[2]])
    if shape is None:
        shape = tuple(int(max(8, round(e / s))) for e, s in zip(ext, sp))
    shape = tuple(int(n) for n in shape)
    if len(shape) != 3 or min(shape) < 4:
        raise ValueError(f"shape must be 3 sizes >= 4, got {shape!r}")
    affine = np.diag([sp[0], sp[1], sp[2], 1.0])
    affine[:3, 3] = centre[:3] - (np.array(shape) - 1) / 2 * sp
    cv = _Canvas(shape, affine, f2w)
    cv.gap = float(anat.uniform(1.0, 3.0))
    vox = float(np.mean(sp))

    jit = float(anat.uniform(-4, 4))
    fem = {s: (s * anat.uniform(88, 98), anat.uniform(38, 50), anat.uniform(-92, -82)) for s in (-1.0, 1.0)}
    _sacrum(cv, anat, jit)
    for s in (-1.0, 1.0):
        _hip(cv, anat, s, jit, fem[s])
        _femur(cv, s, fem[s], "left" if s < 0 else "right")
    cv.add("coccyx", (-8, -45, -125), (8, -20, -85), _capsule((0, -38, -90), (0, -22, -118), 5.0))
    lv = anat.uniform(28, 38)
    for n, (v, w) in enumerate(((lv, 32), (lv + 5, 68), (lv + 7, 104), (lv + 3, 140), (lv - 3, 176))):
        _vertebra(cv, f"L{5 - n}", (0, v, w + anat.uniform(-3, 3)), anat.uniform(0.92, 1.08) * (1 - 0.02 * n))

    U, V, W = cv.U, cv.V, cv.W
    # --- soft tissue ---
    hu = np.full(shape, -1000.0, np.float32)
    q_body = np.sqrt((U / ab) ** 2 + ((V - vb) / bb) ** 2)
    fat_mm = tis.uniform(8, 40)
    body = q_body <= 1.0
    hu[body] = tis.uniform(-110, -85)                                          # subcutaneous fat
    inner = np.sqrt((U / (ab - fat_mm)) ** 2 + ((V - vb) / (bb - fat_mm * 0.8)) ** 2) <= 1.0
    hu[inner] = tis.uniform(-95, -70)                                          # pelvic / visceral fat
    tex = ndimage.gaussian_filter(tis.standard_normal(shape).astype(np.float32), 6.0 / sp)
    tex *= 1.0 / max(float(tex.std()), 1e-6)

    def paint(fn, lo, hi, value, spread=0.0):
        sl = cv.box(lo, hi)
        if sl is None:
            return
        m = (fn(*cv.coords(sl)) > 0) & inner[sl]
        hu[sl][m] = value + spread * tex[sl][m]

    mus = tis.uniform(35, 60)
    for s in (-1.0, 1.0):
        # gluteal, iliacus, obturator internus, thigh muscles
        for fn, lo, hi in (
                (_ellipsoid((s * 115, -35, -20), (55, 50, 80)), (s * 115 - 55, -85, -100), (s * 115 + 55, 15, 60)),
                (_ellipsoid((s * 82, 40, 5), (26, 48, 50)), (s * 82 - 26, -8, -45), (s * 82 + 26, 88, 55)),
                (_ellipsoid((s * 70, 40, -95), (16, 45, 30)), (s * 54, -5, -125), (s * 86, 85, -65)),
                (_ellipsoid((s * 125, 40, -190), (60, 60, 90)), (s * 125 - 60, -20, -280),
                 (s * 125 + 60, 100, -100))):
            paint(fn, lo, hi, mus, 8)
        a, b = (s * 35, 28, 200), (s * 72, 55, -85)
        lo, hi = _capsule_box(a, b, 22)
        paint(_capsule(a, b, 22 * anat.uniform(0.8, 1.15)), lo, hi, mus, 6)                      # psoas
        a, b = (s * 25, -60, 220), (s * 18, -62, -40)
        lo, hi = _capsule_box(a, b, 26)
        paint(_capsule(a, b, 26), lo, hi, mus, 6)                                                  # paraspinal
    # upper abdominal organs and bowel
    paint(_ellipsoid((85, 45, 240), (90, 80, 90)), (-5, -35, 150), (175, 125, 330), tis.uniform(50, 70), 5)  # liver
    for s in (-1.0, 1.0):
        paint(_ellipsoid((s * 70, -5, 165), (30, 25, 55)), (s * 70 - 30, -30, 110), (s * 70 + 30, 20, 220),
              tis.uniform(25, 45), 5)
    paint(_ellipsoid((0, 75, -100), (tis.uniform(25, 45), 35, 30)), (-45, 40, -130), (45, 110, -70),
          tis.uniform(0, 15), 2)                                                                   # bladder
    for _ in range(int(tis.integers(15, 40))):
        c = (tis.uniform(-110, 110), tis.uniform(5, bb + vb - fat_mm - 15), tis.uniform(-70, 220))
        r = tis.uniform(12, 32, 3)
        kind = tis.random()
        if kind < 0.3:      # gas
            val = -1000 + tis.uniform(0, 200)
        elif kind < 0.9:    # fluid / stool
            val = tis.uniform(-60, 40)
        else:               # oral contrast
            val = tis.uniform(100, 250)
        paint(_ellipsoid(c, r + 3), np.array(c) - r - 3, np.array(c) + r + 3, 40.0, 5)          # bowel wall
        paint(_ellipsoid(c, r), np.array(c) - r, np.array(c) + r, val, 30 if kind >= 0.3 else 60)
        if 0.3 <= kind < 0.9 and tis.random() < 0.6:                                             # gas bubble
            g = np.array(c) + (0, r[1] * 0.4, 0)
            paint(_ellipsoid(g, r * 0.4), g - r * 0.4, g + r * 0.4, -950.0, 30)
    rec = (0, -15 + tis.uniform(-5, 5), -60)
    paint(_ellipsoid(rec, (18, 14, 35)), np.array(rec) - (18, 14, 35), np.array(rec) + (18, 14, 35),
          -1000 + 900 * float(tis.random() < 0.5), 20)                                             # rectum

    # --- bones ---
    # adult bone at 3 mm: thin cortex (~250-600 HU after partial volume), marrow from fatty (< 0 HU) to dense
    cort, trab = tis.uniform(450, 1300), tis.uniform(-20, 250)
    marrow = ndimage.gaussian_filter(tis.standard_normal(shape).astype(np.float32), 3.5 / sp)
    marrow *= tis.uniform(30, 100) / max(float(marrow.std()), 1e-6)
    order = ["L1", "L2", "L3", "L4", "L5", "coccyx", "femur_left", "femur_right", "sacrum", "hip_left", "hip_right"]
    for name in order:
        if name not in cv.depth:
            continue
        pelvic = name.startswith(("sacrum", "hip", "L"))
        c_mm = tis.uniform(0.8, 2.0) if pelvic else tis.uniform(1.5, 3.5)
        t_hu = trab + (tis.uniform(-70, 20) if name == "sacrum" else tis.uniform(-30, 50))
        _paint_bone(hu, cv.depth[name], c_mm, cort * tis.uniform(0.9, 1.1), t_hu, vox, marrow)
    # the joint cleft: soft tissue between the bones already (the bones stop at the plane)
    labels = np.zeros(shape, np.uint8)
    for lab, name in ((1, "sacrum"), (2, "hip_left"), (3, "hip_right")):
        labels[cv.label_depth[name] > 0] = lab
    # table under the patient (posterior, low v)
    if tis.random() < 0.7:
        v_t = vb - bb - tis.uniform(3, 25)
        t_mm = tis.uniform(4, 12)
        tab = (V < v_t) & (V > v_t - t_mm) & (np.abs(U) < ab * 1.1)
        hu[tab] = tis.uniform(-300, 200)

    # metal implant at one femoral head, with streaks in its slices
    use_metal = (tis.random() < 0.12) if metal is None else bool(metal)
    metal_side = None
    if use_metal:
        s = -1.0 if tis.random() < 0.5 else 1.0
        metal_side = "left" if s < 0 else "right"
        F = np.asarray(fem[s])
        r = tis.uniform(10, 22)
        md = np.sqrt((U - F[0]) ** 2 + (V - F[1]) ** 2 + (W - F[2]) ** 2)
        core = md < r
        ks = np.nonzero(core.any(axis=(0, 1)))[0]
        if ks.size:
            ijk = np.linalg.inv(affine) @ (f2w @ np.append(F, 1.0))
            ii, jj = np.meshgrid(np.arange(shape[0]) - ijk[0], np.arange(shape[1]) - ijk[1], indexing="ij")
            streak = np.zeros(shape[:2], np.float32)
            for ang in tis.uniform(0, np.pi, int(tis.integers(4, 10))):
                dist = np.abs(ii * np.sin(ang) - jj * np.cos(ang)) * sp[0]
                streak += tis.choice([-1.0, 1.0]) * tis.uniform(150, 500) * np.exp(-0.5 * (dist / 2.5) ** 2)
            lo_k, hi_k = max(ks[0] - 2, 0), min(ks[-1] + 3, shape[2])
            hu[:, :, lo_k:hi_k] += streak[:, :, None] * body[:, :, lo_k:hi_k]
        hu[core] = tis.uniform(2800, 3500)

    psf = tis.uniform(0.5, 1.3)
    hu = ndimage.gaussian_filter(hu, psf / sp)
    sigma = float(noi.uniform(5, 30)) if noise_hu is None else float(noise_hu)
    hu += sigma * noi.standard_normal(shape).astype(np.float32)
    hu = np.clip(np.rint(hu), -1024, 3071).astype(np.int16)

    joints = {}
    for side, s in SIDES.items():
        p = np.array([s * _joint_u(JOINT_V0, jit), JOINT_V0, 0.0, 1.0])
        joints[side] = {"centre_mm": tuple(float(x) for x in (f2w @ p)[:3]), "gap_mm": cv.gap}
    params = {"scale": [float(x) for x in scale], "angles_deg": [float(x) for x in angles],
              "translation_mm": [float(x) for x in trans], "noise_hu": sigma, "psf_mm": float(psf),
              "metal": metal_side, "z_range_mm": [float(w_lo), float(w_hi)], "spacing": [float(x) for x in sp]}
    return PelvisCTPhantom(ct=Volume(hu, affine), labels=labels, joints=joints, params=params)
