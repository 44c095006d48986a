"""Image-derived SPARCC SIJ / ASAS on synthetic STIR phantoms with planted
ground truth, and SIJ quadrant maps on the real TotalSegmentator CT."""
import os

import numpy as np
import pytest

from sacroai.scores import evaluate
from sacroai.scores.from_maps import (asas_mri_positive_from_maps, quadrants_from_joint_masks,
                                      select_slices, sparcc_sij_from_maps, sparcc_spine_from_maps)

BONE, VESSEL = 100.0, 200.0
# in-plane layout along i (patient x): left ilium | gap | left sacrum | right sacrum | gap | right ilium
L_IL, L_SA, R_SA, R_IL = (2, 24), (26, 40), (40, 54), (56, 78)
J_LO, J_MID, J_HI = 5, 25, 45          # lower quadrants j in [5, 25), upper [25, 45)
SHAPE = (80, 50, 8)


def phantom():
    lab = np.zeros(SHAPE, np.int16)
    for side, (il, sa) in enumerate(((L_IL, L_SA), (R_IL, R_SA))):
        for q, (rng_i, upper) in enumerate(((il, True), (il, False), (sa, True), (sa, False))):
            j0, j1 = (J_MID, J_HI) if upper else (J_LO, J_MID)
            lab[rng_i[0]:rng_i[1], j0:j1, 1:7] = 1 + 4 * side + q
    # slice 6: short joint -> lower quadrants absent
    lab[:, J_LO:J_MID, 6] = 0
    stir = np.where(lab > 0, BONE, 20.0)
    return stir, np.zeros(SHAPE, bool), lab


def plant(stir, bme, k, i0, i1, j0, j1, signal):
    bme[i0:i1, j0:j1, k] = True
    stir[i0:i1, j0:j1, k] = signal


def unit(q, i=0, d=0):
    return {"quadrants": q, "intense": i, "deep": d}


def test_phantom_matches_planted_truth():
    stir, bme, lab = phantom()
    # slice 1: left iliac upper, 10 mm deep from the joint line (i spacing 1.0 mm), bright
    plant(stir, bme, 1, L_IL[1] - 10, L_IL[1], 30, 34, 250.0)
    # slice 2: right sacral lower 4 mm, dim; left iliac lower 12 mm dim + left sacral lower shallow bright
    plant(stir, bme, 2, R_SA[1] - 4, R_SA[1], 10, 14, 150.0)
    plant(stir, bme, 2, L_IL[1] - 12, L_IL[1], 10, 13, 150.0)
    plant(stir, bme, 2, L_SA[0], L_SA[0] + 3, 15, 18, 220.0)
    # slice 4: right iliac upper, 9 mm, very bright
    plant(stir, bme, 4, R_IL[0], R_IL[0] + 9, 35, 38, 300.0)
    # slice 6 (short joint): left sacral upper, 2 mm, exactly the vessel signal (inclusive)
    plant(stir, bme, 6, L_SA[0], L_SA[0] + 2, 30, 33, VESSEL)
    res = sparcc_sij_from_maps(stir, bme, lab, VESSEL, (1.0, 0.8, 4.0))
    assert res["slices"] == [1, 2, 3, 4, 5, 6]
    z = unit([0, 0, 0, 0])
    truth = [
        {"left": unit([1, 0, 0, 0], 1, 1), "right": z},
        {"left": unit([0, 1, 0, 1], 1, 1), "right": unit([0, 0, 0, 1])},
        {"left": z, "right": z},
        {"left": z, "right": unit([1, 0, 0, 0], 1, 0)},
        {"left": z, "right": z},
        {"left": unit([0, "na", 1, "na"], 1, 0), "right": unit([0, "na", 0, "na"])},
    ]
    for got, want in zip(res["units"], truth):
        for side in ("left", "right"):
            assert {k: got[side][k] for k in ("quadrants", "intense", "deep")} == want[side]
    expected = evaluate("sparcc_sij", {"slices": truth})
    assert res["total"] == expected["total"] == 3 + 5 + 2 + 2
    assert res["units"][0]["left"]["max_depth_mm"] == pytest.approx(10.0)
    assert res["units"][1]["left"]["max_depth_mm"] == pytest.approx(12.0)
    assert res["units"][3]["right"]["max_depth_mm"] == pytest.approx(9.0)


@pytest.mark.parametrize("shift,deep", [(0, 0), (1, 1)])
def test_moving_lesion_one_mm_flips_depth(shift, deep):
    stir, bme, lab = phantom()
    # lesion occupying depths 7..9 mm; shifted 1 mm away from the joint -> 8..10 mm
    i1 = L_IL[1] - 6 - shift
    plant(stir, bme, 3, i1 - 3, i1, 30, 34, 150.0)
    res = sparcc_sij_from_maps(stir, bme, lab, VESSEL, (1.0, 0.8, 4.0))
    u = res["units"][2]["left"]
    assert u["quadrants"] == [1, 0, 0, 0] and u["deep"] == deep
    assert u["max_depth_mm"] == pytest.approx(9.0 + shift)


@pytest.mark.parametrize("n,deep", [(12, 0), (13, 1)])
def test_depth_uses_in_plane_spacing_of_the_right_axis(n, deep):
    # joint line horizontal: transpose i and j so depth runs along an axis with 0.8 mm voxels
    stir, bme, lab = phantom()
    plant(stir, bme, 2, L_IL[1] - n, L_IL[1], 30, 34, 150.0)
    t = (1, 0, 2)
    res = sparcc_sij_from_maps(stir.transpose(t), bme.transpose(t), lab.transpose(t), VESSEL, (1.0, 0.8, 4.0))
    u = res["units"][1]["left"]
    assert u["deep"] == deep and u["max_depth_mm"] == pytest.approx(0.8 * n)


def test_intensity_mean_vs_max():
    stir, bme, lab = phantom()
    plant(stir, bme, 2, L_IL[1] - 3, L_IL[1], 30, 34, 150.0)
    stir[L_IL[1] - 1, 30, 2] = 400.0   # one bright voxel: mean < 200 <= max
    mean = sparcc_sij_from_maps(stir, bme, lab, VESSEL, (1.0, 0.8, 4.0))
    mx = sparcc_sij_from_maps(stir, bme, lab, VESSEL, (1.0, 0.8, 4.0), intensity="max")
    assert mean["units"][1]["left"]["intense"] == 0 and mx["units"][1]["left"]["intense"] == 1


def test_explicit_slices_and_per_slice_reference():
    stir, bme, lab = phantom()
    plant(stir, bme, 2, L_IL[1] - 3, L_IL[1], 30, 34, 150.0)
    ref = np.full(SHAPE[2], VESSEL)
    ref[2] = 140.0
    res = sparcc_sij_from_maps(stir, bme, lab, ref, (1.0, 0.8, 4.0), slices=[0, 1, 2, 3, 4, 5])
    assert res["slices"] == [0, 1, 2, 3, 4, 5]
    assert res["units"][0]["left"]["quadrants"] == ["na"] * 4       # no joint on slice 0
    assert res["units"][2]["left"]["intense"] == 1


@pytest.mark.parametrize("kw,match", [
    ({"spacing": (1.0, 0.8)}, "spacing"), ({"slices": [1, 2, 3]}, "slices"),
    ({"slice_axis": 3}, "slice_axis"), ({"intensity": "median"}, "intensity"),
    ({"vessel_reference": np.ones(3)}, "vessel_reference")])
def test_from_maps_bad_arguments(kw, match):
    stir, bme, lab = phantom()
    args = dict(spacing=(1.0, 0.8, 4.0), vessel_reference=VESSEL)
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        sparcc_sij_from_maps(stir, bme, lab, **args)


def test_select_slices():
    assert select_slices([0, 5, 5, 5, 5, 5, 5, 1, 9]) == [1, 2, 3, 4, 5, 6]
    with pytest.raises(ValueError, match="6 slices"):
        select_slices([1, 2, 3])


def test_asas_from_maps():
    _, bme, lab = phantom()
    bme[10:13, 30:33, 2:4] = True                 # one lesion on slices 2 and 3
    assert asas_mri_positive_from_maps(bme, lab)["criterion"] == "multi_slice"
    _, bme, _ = phantom()
    bme[10:13, 30:33, 2] = True
    bme[60:63, 30:33, 2] = True                    # two lesions on slice 2
    assert asas_mri_positive_from_maps(bme, lab)["criterion"] == "multi_lesion"
    _, bme, _ = phantom()
    bme[10:13, 30:33, 2] = True
    r = asas_mri_positive_from_maps(bme, lab)
    assert r["positive"] is False and r["lesions"] == [{"slices": [2], "typical_location": True}]


# ---- quadrant maps from bone masks ------------------------------------------------------------

def synthetic_bones(flip_x=False):
    s = np.zeros((40, 30, 20), bool)
    il = np.zeros_like(s)
    s[15:25, 5:25, 3:17] = True
    il[5:15, 5:25, 3:17] = True     # touches the sacrum (face-adjacent)
    il[25:35, 5:25, 3:17] = True
    aff = np.diag([2.0, 2.0, 3.0, 1.0])
    aff[:3, 3] = [-40.0, -30.0, 0.0]
    if flip_x:
        aff[0, 0], aff[0, 3] = -2.0, 40.0
    return s, il, aff


@pytest.mark.parametrize("flip_x", [False, True])
def test_quadrants_left_is_negative_x(flip_x):
    s, il, aff = synthetic_bones(flip_x)
    # semicoronal-like: slices along j (axis 1) so the joint's height (z, axis 2) lies in the plane
    q = quadrants_from_joint_masks(s, il, affine=aff, slice_axis=1)
    ijk = np.indices(s.shape)
    x = aff[0, 0] * ijk[0] + aff[0, 3]
    x_mid = x[s].mean()        # the sacrum's midline; patient's left is below it (negative x side)
    assert (x_mid < 0) == (not flip_x) or abs(x_mid) < 2.0
    for lbl in range(1, 9):
        assert (q == lbl).any(), lbl
        side_left = lbl <= 4
        assert (np.all(x[q == lbl] < x_mid) if side_left else np.all(x[q == lbl] > x_mid)), lbl
    for lbl in (1, 2, 5, 6):
        assert np.all(il[q == lbl])
    for lbl in (3, 4, 7, 8):
        assert np.all(s[q == lbl])
    z = ijk[2] * 3.0
    assert z[q == 1].min() >= z[q == 2].max()    # upper above lower (mid-height split)


DATA = "/work/shared/data/real/totalsegmentator"


def test_quadrants_on_real_ct():
    if not os.path.isdir(DATA):
        pytest.skip("real data folder missing")
    import sacroai
    sac = sacroai.load(os.path.join(DATA, "example_seg", "sacrum.nii.gz"))
    hl = sacroai.load(os.path.join(DATA, "example_seg", "hip_left.nii.gz"))
    hr = sacroai.load(os.path.join(DATA, "example_seg", "hip_right.nii.gz"))
    ilium = sac.with_array((np.asarray(hl.array) > 0.5) | (np.asarray(hr.array) > 0.5))
    sacrum = sac.with_array(np.asarray(sac.array) > 0.5)
    q = quadrants_from_joint_masks(sacrum, ilium, slice_axis=2)    # axial CT: upper/lower over the 3-D joint
    ijk = np.indices(q.shape).reshape(3, -1)
    xyz = (sac.affine[:3, :3] @ ijk + sac.affine[:3, 3:4]).T.reshape(q.shape + (3,))
    band = 20.0
    boxes = {"left": ((-61.0, -37.0), (68.3, 116.3), (187.3, 238.3)),
             "right": ((38.0, 62.0), (77.3, 116.3), (190.3, 232.3))}
    hips = {"left": np.asarray(hl.array) > 0.5, "right": np.asarray(hr.array) > 0.5}
    for side, base in (("left", 1), ("right", 5)):
        labels = q[(q >= base) & (q < base + 4)]
        assert set(np.unique(labels)) == set(range(base, base + 4)), side
        pts = xyz[(q >= base) & (q < base + 4)]
        c = pts.mean(0)
        for ax, (lo, hi) in enumerate(boxes[side]):
            assert lo - band <= c[ax] <= hi + band, (side, ax, c)
        assert (c[0] < 0) if side == "left" else (c[0] > 0)
        # iliac quadrants of each side lie on that side's hip bone
        iliac = (q == base) | (q == base + 1)
        assert np.all(hips[side][iliac])


# ---- spine -----------------------------------------------------------------------------------

def spine_phantom():
    """Sagittal slices along i (x); j = anterior (y), k = superior (z).  Three
    bodies (L3 top, L4, L5 bottom) of 20 voxels height at 1 mm, discs of 8 mm."""
    shape = (9, 40, 90)
    lab = np.zeros(shape, np.int16)
    lab[1:8, 5:35, 62:82] = 3      # L3 (top)
    lab[1:8, 5:35, 34:54] = 4      # L4
    lab[1:8, 5:35, 6:26] = 5       # L5
    stir = np.where(lab > 0, BONE, 20.0)
    return stir, np.zeros(shape, bool), lab


def test_spine_from_maps_planted():
    stir, bme, lab = spine_phantom()
    # L3-L4: lower half of L3 (upper quadrants of the DVU), anterior (high j), 10 mm above the L3 endplate
    bme[3:6, 25:30, 62:72] = True
    stir[3:6, 25:30, 62:72] = 250.0
    # L4-L5: upper half of L5 (lower quadrants), posterior, 4 mm below the endplate, dim
    bme[4, 8:12, 22:26] = True
    stir[4, 8:12, 22:26] = 150.0
    aff = np.diag([4.0, 1.0, 1.0, 1.0])
    res = sparcc_spine_from_maps(stir, bme, lab, {3: "L3", 4: "L4", 5: "L5"}, 200.0, affine=aff)
    assert res["status"] == "ok"
    u34 = {u["level"]: u for u in res["units"]}["L3-L4"]
    assert [s["slice"] for s in u34["slices"]] == [3, 4, 5]
    for s in u34["slices"]:
        assert (s["quadrants"], s["intense"], s["deep"]) == ([1, 0, 0, 0], 1, 1)
        assert s["max_depth_mm"] == pytest.approx(10.0)
    u45 = {u["level"]: u for u in res["units"]}["L4-L5"]
    flags = [(s["quadrants"], s["intense"], s["deep"]) for s in u45["slices"]]
    assert ([0, 0, 0, 1], 0, 0) in flags
    assert res["dvu_scores"] == {"L3-L4": 9, "L4-L5": 1} and res["total"] == 10
