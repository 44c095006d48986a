"""Image-derived SPARCC and ASAS judgements from segmentation maps.

Array convention
----------------
Volumes are indexed ``[i, j, k]`` like :class:`sacroai.Volume`; one axis,
``slice_axis`` (default 2), runs across the semicoronal slices (SIJ MRI,
ordered posterior -> anterior as stored) or the sagittal slices (spine; pass
``slice_axis=0`` for a sagittal series stored with i = left-right).  All
distances are measured *within a slice* in mm using the in-plane spacing, so
anisotropic voxels (e.g. 0.8 x 0.8 x 4 mm) are handled exactly (exact
Euclidean distance transform of the C core).

SIJ quadrant label map (``joint_labels``)
-----------------------------------------
0 background;  1 left iliac upper, 2 left iliac lower, 3 left sacral upper,
4 left sacral lower, 5 right iliac upper, 6 right iliac lower, 7 right sacral
upper, 8 right sacral lower  (label = 1 + 4*side + quadrant, quadrant in the
order of SCORES.md 1.5: iliac_upper, iliac_lower, sacral_upper, sacral_lower).
"Left"/"right" are the patient's sides (patient's left = negative x in RAS).

Per-unit rules (sacroai pipeline conventions, SCORES.md 1.2 guidance)
--------------------------------------------------------------------
* quadrant lesion: at least ``min_voxels`` BME voxels inside that quadrant on
  that slice.  A quadrant label absent from a slice is ``"na"``.
* lesion: an in-plane face-connected component of BME restricted to one
  joint's four quadrants on one slice.
* intense: some lesion's **mean** STIR signal (``intensity="mean"``, default;
  ``"max"`` also offered) is >= the vessel reference (a scalar, or one value
  per slice along ``slice_axis``).
* deep: some lesion voxel lies >= ``depth_mm`` (10.0 mm, inclusive) from the
  joint line of its own bone.  The joint line of bone B on a slice is the set
  of voxels outside B that touch B (in-plane face neighbour along an axis)
  and face the opposite bone: continuing away from B along that axis, the
  opposite bone is reached within ``joint_gap_mm`` (the joint space).
  A lesion of n voxels starting at the articular surface therefore has depth
  n x spacing along the perpendicular axis.
* slice choice when ``slices`` is None: the 6 consecutive slices with the
  largest total quadrant-label area (ties: the first, i.e. most posterior).
"""
import numpy as np

from .. import _core
from .._geometry import world_grid
from . import evaluate

SIDES = ("left", "right")
QUADRANTS = ("iliac_upper", "iliac_lower", "sacral_upper", "sacral_lower")


# ------------------------------------------------------------------ helpers
def _dist(feature, spacing2):
    """In-plane Euclidean distance (mm) to the nearest non-zero voxel (inf if none)."""
    f = np.ascontiguousarray(feature, dtype=np.uint8)
    return np.sqrt(_core.scores_seg_edt_sq(f, np.asarray(spacing2, np.float64)))


def _plane(arr, axis, k):
    return np.take(arr, k, axis=axis)


def _spacing3(spacing, name="spacing"):
    sp = np.asarray(spacing, dtype=np.float64).ravel()
    if sp.size != 3 or not np.all(np.isfinite(sp)) or np.any(sp <= 0):
        raise ValueError(f"{name} must be 3 positive finite numbers (mm per axis i, j, k), got {list(sp)}")
    return sp


def _check_axis(slice_axis):
    if slice_axis not in (0, 1, 2):
        raise ValueError(f"slice_axis must be 0, 1 or 2, got {slice_axis!r}")
    return int(slice_axis)


def _as_array(x, name, shape=None):
    a = np.asarray(getattr(x, "array", x))
    if a.ndim != 3:
        raise ValueError(f"{name} must be a 3-D array indexed [i, j, k], got shape {a.shape}")
    if shape is not None and a.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (same grid as stir), got {a.shape}")
    return a


def select_slices(label_area, n=6):
    """Start of the ``n`` consecutive slices with the largest summed area."""
    area = np.asarray(label_area, dtype=np.float64)
    if area.size < n:
        raise ValueError(f"need at least {n} slices along slice_axis, got {area.size}")
    windows = np.convolve(area, np.ones(n), mode="valid")
    start = int(np.argmax(windows))
    return list(range(start, start + n))


def _shift(mask, axis, step):
    """out[v] = mask[v - step * e_axis] (zeros shifted in)."""
    out = np.zeros_like(mask)
    n = mask.shape[axis]
    if abs(step) >= n:
        return out
    src = [slice(None)] * 2
    dst = [slice(None)] * 2
    if step >= 0:
        src[axis], dst[axis] = slice(0, n - step), slice(step, n)
    else:
        src[axis], dst[axis] = slice(-step, n), slice(0, n + step)
    out[tuple(dst)] = mask[tuple(src)]
    return out


def _joint_line(bone, other, spacing2, joint_gap_mm):
    """Voxels facing bone B across the joint: outside B, face-adjacent to B,
    with the opposite bone reached within ``joint_gap_mm`` when continuing
    away from B along the same axis (so the ends of a joint, where B and the
    other bone are side by side but not facing, do not count)."""
    b, o = bone.astype(bool), other.astype(bool)
    line = np.zeros_like(b)
    for axis in (0, 1):
        reach = int(np.floor(joint_gap_mm / spacing2[axis] + 1e-9))
        for sgn in (1, -1):
            next_to_b = _shift(b, axis, sgn) & ~b         # B at v - sgn * e_axis
            ray = np.zeros_like(b)
            for t in range(0, reach + 1):
                ray |= _shift(o, axis, -sgn * t)          # O at v + sgn * t * e_axis
            line |= next_to_b & ray
    return line


def _lesions(mask):
    from scipy import ndimage  # scipy is a package dependency; imported on use
    lab, n = ndimage.label(mask, structure=ndimage.generate_binary_structure(2, 1))
    return lab, n


def _joint_unit(stir2, bme2, lab2, side, ref, spacing2, *, intensity, depth_mm, joint_gap_mm, min_voxels):
    """Flags of one joint on one slice -> (unit dict for evaluate, audit dict)."""
    base = 1 + 4 * side
    quads, audit = [], {"lesion_voxels": [], "lesion_signal": [], "max_depth_mm": 0.0}
    for q in range(4):
        region = lab2 == base + q
        if not region.any():
            quads.append("na")
            audit["lesion_voxels"].append(0)
            continue
        nvox = int(np.count_nonzero(bme2 & region))
        audit["lesion_voxels"].append(nvox)
        quads.append(int(nvox >= min_voxels))
    iliac = (lab2 == base) | (lab2 == base + 1)
    sacral = (lab2 == base + 2) | (lab2 == base + 3)
    joint = iliac | sacral
    lesion_mask = bme2 & joint
    intense = deep = 0
    if 1 in quads:
        # depth: distance of each lesion voxel to the joint line of its own bone
        depth = np.zeros(lab2.shape)
        for bone, other in ((iliac, sacral), (sacral, iliac)):
            if bone.any() and other.any():
                d = _dist(_joint_line(bone, other, spacing2, joint_gap_mm), spacing2)
                depth[bone] = d[bone]
        ld = depth[lesion_mask]
        ld = ld[np.isfinite(ld)]
        max_depth = float(ld.max()) if ld.size else 0.0
        audit["max_depth_mm"] = max_depth
        deep = int(max_depth >= depth_mm - 1e-9)
        comp, n = _lesions(lesion_mask)
        stats = []
        for c in range(1, n + 1):
            vals = stir2[comp == c]
            stats.append(float(vals.mean() if intensity == "mean" else vals.max()))
        audit["lesion_signal"] = stats
        intense = int(any(s >= ref for s in stats))
    else:
        audit["max_depth_mm"] = None
    return {"quadrants": quads, "intense": intense, "deep": deep}, audit


def sparcc_sij_from_maps(stir, bme_mask, joint_labels, vessel_reference, spacing, slices=None, *,
                         slice_axis=2, intensity="mean", depth_mm=10.0, joint_gap_mm=5.0, min_voxels=1):
    """SPARCC SIJ inflammation score from a STIR volume and maps.

    Parameters
    ----------
    stir : (I, J, K) array or Volume -- fat-suppressed water-sensitive signal.
    bme_mask : (I, J, K) bool/0-1 -- bone-marrow-oedema segmentation.
    joint_labels : (I, J, K) int -- quadrant labels 0..8 (see module docstring).
    vessel_reference : float or (n_slices,) array -- presacral vessel signal
        (same units as ``stir``), per slice along ``slice_axis`` if an array.
    spacing : 3 floats, mm per axis (i, j, k); in-plane axes are used for depth.
    slices : 6 slice indices along ``slice_axis`` (posterior -> anterior) or
        None to pick the 6 consecutive slices with the most joint area.
    intensity : "mean" (default) or "max" lesion signal compared with the reference.
    depth_mm : depth threshold (inclusive), default 10.0 mm.
    joint_gap_mm : width of the joint space between the bones' label regions.

    Returns the :func:`sacroai.scores.evaluate` result for ``sparcc_sij`` plus
    ``"slices"`` (indices used) and ``"units"`` (per slice, per side: the
    flags and the audit values lesion_voxels, lesion_signal, max_depth_mm).
    """
    stir_a = _as_array(stir, "stir")
    shape = stir_a.shape
    bme = _as_array(bme_mask, "bme_mask", shape).astype(bool)
    lab = _as_array(joint_labels, "joint_labels", shape)
    if not np.issubdtype(lab.dtype, np.integer):
        if not np.all(lab == np.round(lab)):
            raise ValueError("joint_labels must hold integer labels 0..8")
        lab = lab.astype(np.int16)
    if lab.min() < 0 or lab.max() > 8:
        raise ValueError(f"joint_labels must hold labels 0..8, got range {lab.min()}..{lab.max()}")
    sp = _spacing3(spacing)
    axis = _check_axis(slice_axis)
    if intensity not in ("mean", "max"):
        raise ValueError(f"intensity must be 'mean' or 'max', got {intensity!r}")
    if not (np.isfinite(depth_mm) and depth_mm > 0):
        raise ValueError(f"depth_mm must be a positive number of mm, got {depth_mm!r}")
    nsl = shape[axis]
    ref = np.asarray(vessel_reference, dtype=np.float64)
    if ref.ndim == 0:
        ref = np.full(nsl, float(ref))
    elif ref.shape != (nsl,):
        raise ValueError(f"vessel_reference must be a number or have shape ({nsl},), got {ref.shape}")
    if slices is None:
        area = [(np.take(lab, k, axis=axis) > 0).sum() for k in range(nsl)]
        slices = select_slices(area, 6)
    else:
        slices = [int(s) for s in slices]
        if len(slices) != 6:
            raise ValueError(f"slices must list 6 slice indices, got {len(slices)}")
        if any(s < 0 or s >= nsl for s in slices):
            raise ValueError(f"slices must be in 0..{nsl - 1}, got {slices}")
    sp2 = np.delete(sp, axis)
    units, data = [], []
    for k in slices:
        s2, b2, l2 = _plane(stir_a, axis, k).astype(np.float64), _plane(bme, axis, k), _plane(lab, axis, k)
        row, audit_row = {}, {}
        for side, name in enumerate(SIDES):
            row[name], audit_row[name] = _joint_unit(
                s2, b2, l2, side, ref[k], sp2, intensity=intensity, depth_mm=depth_mm,
                joint_gap_mm=joint_gap_mm, min_voxels=min_voxels)
            audit_row[name].update(row[name])
        data.append(row)
        units.append(audit_row)
    result = evaluate("sparcc_sij", {"slices": data})
    result["slices"] = slices
    result["units"] = units
    return result


# --------------------------------------------------------- quadrant maps
def _affine_of(obj, affine, spacing):
    if hasattr(obj, "affine") and affine is None:
        return np.asarray(obj.affine, dtype=np.float64)
    if affine is not None:
        a = np.asarray(affine, dtype=np.float64)
        if a.shape != (4, 4):
            raise ValueError(f"affine must be a 4x4 matrix (voxel -> RAS+ mm), got shape {a.shape}")
        return a
    if spacing is None:
        raise ValueError("give a Volume, an affine or a spacing (left/right needs an affine; "
                         "with spacing only, RAS-aligned axes are assumed)")
    a = np.eye(4)
    a[[0, 1, 2], [0, 1, 2]] = _spacing3(spacing)
    return a


def quadrants_from_joint_masks(sacrum_mask, ilium_mask, spacing=None, *, affine=None, slice_axis=2,
                               band_mm=20.0, joint_gap_mm=None, split="auto"):
    """Derive the 8-label SIJ quadrant map from sacrum and ilium masks.

    Parameters
    ----------
    sacrum_mask, ilium_mask : (I, J, K) 0/1 arrays or Volumes on one grid;
        ``ilium_mask`` holds both hip bones (or pass ``hip_left | hip_right``).
    spacing : mm per axis, used only when no affine is available.
    affine : 4x4 voxel -> RAS+ mm (taken from a Volume when not given).
        The patient's left is negative world x: ilium voxels with x below the
        sacrum's centroid x belong to the left joint.
    slice_axis : axis across the slices; distances are in-plane (mm).
    band_mm : subchondral band: iliac quadrants are ilium voxels within
        ``band_mm`` of the sacrum, sacral quadrants sacrum voxels within
        ``band_mm`` of that side's ilium (in-plane distance).
    joint_gap_mm : bones closer than this are "in contact" (joint line);
        default 1.5 x the largest in-plane voxel size.  A joint is visible on
        a slice only where its joint line exists.
    split : how upper/lower is decided, at mid-height (world superior, z) of
        the visible joint:  "slice" = per slice (semicoronal MRI, where the
        joint's cranio-caudal extent lies in the plane), "volume" = over the
        whole 3-D joint (axial CT, where each slice has one height), "auto"
        = "volume" when the slice normal is within 45 degrees of superior.

    Returns (I, J, K) int8 labels 0..8 (see the module docstring).
    """
    s = _as_array(sacrum_mask, "sacrum_mask").astype(bool)
    il = _as_array(ilium_mask, "ilium_mask", s.shape).astype(bool)
    aff = _affine_of(sacrum_mask, affine, spacing)
    axis = _check_axis(slice_axis)
    sp = np.sqrt((aff[:3, :3] ** 2).sum(axis=0))
    sp2 = np.delete(sp, axis)
    if joint_gap_mm is None:
        joint_gap_mm = 1.5 * float(sp2.max())
    if split not in ("auto", "slice", "volume"):
        raise ValueError(f"split must be 'auto', 'slice' or 'volume', got {split!r}")
    if split == "auto":
        normal = aff[:3, axis] / np.linalg.norm(aff[:3, axis])
        split = "volume" if abs(normal[2]) > np.sqrt(0.5) else "slice"
    if not s.any() or not il.any():
        raise ValueError("sacrum_mask and ilium_mask must both contain foreground voxels")
    world = world_grid(s.shape, aff)
    x_mid = float(world[0][s].mean())
    z = world[2]
    ilium_side = [il & (world[0] < x_mid), il & (world[0] >= x_mid)]
    region = np.zeros(s.shape, np.int8)       # 1 + 4*side + 2*(sacral) before the split
    jointline = [np.zeros(s.shape, bool), np.zeros(s.shape, bool)]
    for k in range(s.shape[axis]):
        s2 = np.take(s, k, axis=axis)
        if not s2.any():
            continue
        d_sac = _dist(s2, sp2)
        d_il = []
        for side in range(2):
            i2 = np.take(ilium_side[side], k, axis=axis)
            d_il.append(_dist(i2, sp2) if i2.any() else np.full(s2.shape, np.inf))
        idx = [slice(None)] * 3
        idx[axis] = k
        idx = tuple(idx)
        for side in range(2):
            i2 = np.take(ilium_side[side], k, axis=axis)
            if not i2.any():
                continue
            contact_il = i2 & (d_sac <= joint_gap_mm)
            contact_s = s2 & (d_il[side] <= joint_gap_mm) & (d_il[side] <= d_il[1 - side])
            if not (contact_il.any() and contact_s.any()):
                continue  # joint not visible on this slice
            jointline[side][idx] = contact_il | contact_s
            lab2 = region[idx]
            lab2[i2 & (d_sac <= band_mm)] = 1 + 4 * side
            lab2[s2 & (d_il[side] <= band_mm) & (d_il[side] <= d_il[1 - side])] = 1 + 4 * side + 2
            region[idx] = lab2
    out = np.zeros(s.shape, np.int8)
    for side in range(2):
        jl = jointline[side]
        if not jl.any():
            continue
        for k in range(s.shape[axis]):
            idx = [slice(None)] * 3
            idx[axis] = k
            idx = tuple(idx)
            sel = region[idx]
            mine = (sel == 1 + 4 * side) | (sel == 3 + 4 * side)
            if not mine.any():
                continue
            zz = z[idx]
            if split == "slice":
                zj = zz[jl[idx]]
            else:
                zj = z[jl]
            mid = 0.5 * (zj.min() + zj.max())
            lower = zz < mid
            o2 = out[idx]
            o2[mine] = sel[mine] + lower[mine].astype(np.int8)
            out[idx] = o2
    return out


# --------------------------------------------------------------- ASAS MRI
def asas_mri_positive_from_maps(bme_mask, joint_labels, *, slice_axis=2, highly_suggestive=True, min_voxels=1):
    """ASAS active sacroiliitis (2009 operational rule) from a BME mask.

    Lesions are 3-D face-connected components of ``bme_mask`` with at least
    ``min_voxels`` voxels; a lesion is in a typical location when most of its
    voxels lie inside the SIJ quadrant labels (subchondral bone).  Its slices
    are the indices along ``slice_axis`` it occupies.  ``highly_suggestive``
    is the reader's judgement (the maps cannot decide it).
    Returns the :func:`evaluate` result plus ``"lesions"`` (the derived list).
    """
    from scipy import ndimage
    bme = _as_array(bme_mask, "bme_mask").astype(bool)
    lab = _as_array(joint_labels, "joint_labels", bme.shape)
    axis = _check_axis(slice_axis)
    comp, n = ndimage.label(bme, structure=ndimage.generate_binary_structure(3, 1))
    lesions = []
    for c in range(1, n + 1):
        where = np.nonzero(comp == c)
        if where[0].size < min_voxels:
            continue
        inside = lab[where] > 0
        lesions.append({"slices": sorted(set(int(v) for v in where[axis])),
                        "typical_location": bool(inside.mean() > 0.5)})
    res = evaluate("asas_mri_sij", {"lesions": lesions, "highly_suggestive": bool(highly_suggestive)})
    res["lesions"] = lesions
    return res


# ------------------------------------------------------------ SPARCC spine
def sparcc_spine_from_maps(stir, bme_mask, vertebra_labels, vertebrae, fluid_reference, spacing=None, *,
                           affine=None, slice_axis=0, intensity="mean", depth_mm=10.0, endplate_gap_mm=15.0,
                           min_voxels=1):
    """SPARCC spine inflammation score from a sagittal STIR volume and maps.

    Parameters
    ----------
    stir, bme_mask : (I, J, K) arrays (or Volumes) on one grid.
    vertebra_labels : (I, J, K) int map of vertebral bodies.
    vertebrae : dict {label value: name}, names like "T7", "L5", "S1".  Each
        pair of consecutive names present (e.g. T7 and T8) forms the DVU
        "T7-T8" (SCORES.md 2.1): the lower half of the upper body and the upper
        half of the lower body; discs need no label.
    fluid_reference : float -- bright-fluid (CSF) signal for the intensity flag.
    spacing / affine : geometry; the world superior (z) and anterior (y) axes
        of RAS+ decide upper/lower halves and anterior/posterior quadrants.
        With spacing only, the grid is taken as RAS-aligned.
    slice_axis : axis across the sagittal slices (default 0 = left-right).

    Per DVU the three consecutive slices with the most BME voxels inside the
    DVU are used (no BME: the three with the largest DVU area).  A body half is
    split anterior/posterior at the midpoint of its anterior-posterior extent.
    Quadrant order: upper_anterior, upper_posterior, lower_anterior,
    lower_posterior.  Intensity and depth follow the SIJ rules (depth from the
    endplate facing the disc, ``endplate_gap_mm`` = largest disc height).

    Returns the :func:`evaluate` result for ``sparcc_spine`` plus ``"units"``
    (per DVU: slices used and the per-slice flags with audit values).
    """
    from ._sparcc import SPINE_LEVELS
    stir_a = _as_array(stir, "stir")
    shape = stir_a.shape
    bme = _as_array(bme_mask, "bme_mask", shape).astype(bool)
    lab = _as_array(vertebra_labels, "vertebra_labels", shape)
    aff = _affine_of(stir, affine, spacing)
    axis = _check_axis(slice_axis)
    if intensity not in ("mean", "max"):
        raise ValueError(f"intensity must be 'mean' or 'max', got {intensity!r}")
    if not isinstance(vertebrae, dict):
        raise TypeError("vertebrae must be a dict {label value: name such as 'T7'}")
    sp = np.sqrt((aff[:3, :3] ** 2).sum(axis=0))
    sp2 = np.delete(sp, axis)
    world = world_grid(shape, aff)
    y, z = world[1], world[2]
    by_name = {str(name): int(v) for v, name in vertebrae.items()}
    dvus, units = [], []
    for level in SPINE_LEVELS:
        up_name, low_name = level.split("-")
        if up_name not in by_name or low_name not in by_name:
            continue
        U, L = lab == by_name[up_name], lab == by_name[low_name]
        if not U.any() or not L.any():
            continue
        u_half = U & (z < 0.5 * (z[U].min() + z[U].max()))
        l_half = L & (z >= 0.5 * (z[L].min() + z[L].max()))
        quads = []
        for half in (u_half, l_half):
            ymid = 0.5 * (y[half].min() + y[half].max())
            quads += [half & (y >= ymid), half & (y < ymid)]
        region = u_half | l_half
        nsl = shape[axis]
        les = np.array([np.count_nonzero(np.take(bme & region, k, axis=axis)) for k in range(nsl)], float)
        area = np.array([np.count_nonzero(np.take(region, k, axis=axis)) for k in range(nsl)], float)
        if nsl < 3:
            raise ValueError("need at least 3 slices along slice_axis")
        score_w = np.convolve(les, np.ones(3), "valid") * 1e6 + np.convolve(area, np.ones(3), "valid")
        start = int(np.argmax(score_w))
        slices, unit_audit = [], []
        for k in range(start, start + 3):
            b2, s2 = np.take(bme, k, axis=axis), np.take(stir_a, k, axis=axis).astype(np.float64)
            q2 = [np.take(q, k, axis=axis) for q in quads]
            flags = [int(np.count_nonzero(b2 & q) >= min_voxels) if q.any() else 0 for q in q2]
            u2, l2 = np.take(u_half, k, axis=axis), np.take(l_half, k, axis=axis)
            lesion_mask = b2 & (u2 | l2)
            intense = deep = 0
            max_depth = None
            if any(flags):
                depth = np.zeros(b2.shape)
                for bone, other in ((np.take(U, k, axis=axis), np.take(L, k, axis=axis)),
                                    (np.take(L, k, axis=axis), np.take(U, k, axis=axis))):
                    if bone.any() and other.any():
                        d = _dist(_joint_line(bone, other, sp2, endplate_gap_mm), sp2)
                        depth[bone] = d[bone]
                ld = depth[lesion_mask]
                ld = ld[np.isfinite(ld)]
                max_depth = float(ld.max()) if ld.size else 0.0
                deep = int(max_depth >= depth_mm - 1e-9)
                comp, n = _lesions(lesion_mask)
                stats = [float(s2[comp == c].mean() if intensity == "mean" else s2[comp == c].max())
                         for c in range(1, n + 1)]
                intense = int(any(v >= fluid_reference for v in stats))
            slices.append({"quadrants": flags, "intense": intense, "deep": deep})
            unit_audit.append({"slice": k, "quadrants": flags, "intense": intense, "deep": deep,
                               "max_depth_mm": max_depth})
        dvus.append({"level": level, "slices": slices})
        units.append({"level": level, "slices": unit_audit})
    result = evaluate("sparcc_spine", {"dvus": dvus})
    result["units"] = units
    return result
