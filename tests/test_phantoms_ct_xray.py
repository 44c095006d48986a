"""SIJ CT and AP pelvis radiograph phantoms: determinism, ground truth measured back from the images, laterality."""
import csv
import functools
import json
import os

import numpy as np
import pytest
from scipy import ndimage

import sacroai
from sacroai.phantoms.hip_xray import (FEATURE_RANGES, croft_grade, generate_hip_cohort, generate_hip_xray,
                                       implied_kl, random_hip_features)
from sacroai.phantoms.sij_ct import class3, generate_ct_cohort, generate_sij_ct, radiographic_criterion

COARSE = {"shape": (128, 96, 22), "spacing": (2.0, 2.0, 4.0)}  # fast grid for tests that need no detail


@functools.lru_cache(maxsize=None)
def ct(seed, left, right):
    return generate_sij_ct(seed, {"left": left, "right": right})


@functools.lru_cache(maxsize=None)
def hip(seed, **flat):
    feats = {"right": {}, "left": {}}
    for key, v in flat.items():
        side, name = key.split("__")
        feats[side][name] = v
    return generate_hip_xray(seed, feats)


# ================================================================ CT

def test_ct_deterministic_and_seed_dependent():
    a = generate_sij_ct(7, {"left": 3, "right": 2}, **COARSE)
    b = generate_sij_ct(np.random.default_rng(7), {"left": 3, "right": 2}, **COARSE)
    np.testing.assert_array_equal(a.ct.array, b.ct.array)
    for name in ("bones", "joint_space", "erosions", "sclerosis", "ankylosis"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.joints["left"]["erosion_slices"] == b.joints["left"]["erosion_slices"]
    c = generate_sij_ct(8, {"left": 3, "right": 2}, **COARSE)
    assert not np.array_equal(a.ct.array, c.ct.array)


def test_ct_one_joint_grade_leaves_the_other_side_alone():
    a, b = ct(2, 0, 0), ct(2, 3, 0)
    x = a.ct.world(np.stack([np.arange(a.ct.shape[0]), np.zeros(a.ct.shape[0]), np.zeros(a.ct.shape[0])], 1))[:, 0]
    right_half = x > 5.0
    np.testing.assert_array_equal(a.ct.array[right_half], b.ct.array[right_half])
    assert not np.array_equal(a.ct.array[~right_half], b.ct.array[~right_half])


def test_ct_laterality_and_orientation():
    ph = ct(0, 0, 0)
    assert ph.ct.orientation == "RAS"
    assert ph.joints["left"]["roi_centre_mm"][0] < -20 < 20 < ph.joints["right"]["roi_centre_mm"][0]
    for lab, sign in ((1, -1), (2, 1)):
        ijk = np.argwhere(ph.joint_space == lab)
        assert len(ijk) > 100
        assert np.all(sign * ph.ct.world(ijk)[:, 0] > 0)
    for lab, sign in ((2, -1), (3, 1)):  # left ilium, right ilium
        assert np.all(sign * ph.ct.world(np.argwhere(ph.bones == lab))[:, 0] > 0)
    # the ROI centre lies in the joint: its nearest voxel is joint space of that side
    for side, lab in (("left", 1), ("right", 2)):
        i, j, k = np.rint(ph.ct.index(ph.joints[side]["roi_centre_mm"])).astype(int)
        near = ph.joint_space[i - 2:i + 3, j - 2:j + 3, k]
        assert np.any(near == lab)


def test_ct_hu_of_tissues():
    ph = ct(0, 0, 0)
    a = ph.ct.array.astype(float)
    assert a.dtype.kind == "f" and ph.ct.array.dtype == np.int16
    assert np.median(a[0, 0, :]) < -900                                    # air at the corner
    bone = ph.bones > 0
    inner = ndimage.binary_erosion(bone, structure=np.ones((3, 3, 1), bool), iterations=3)
    assert 150 <= np.median(a[inner]) <= 300                              # trabecular
    shell = bone & ~ndimage.binary_erosion(bone, structure=np.ones((3, 3, 1), bool))
    assert 700 <= np.percentile(a[shell], 90) <= 1250                     # cortical
    js = ph.joint_space > 0
    assert np.median(a[js]) < 150                                         # joint space, soft tissue
    # subcutaneous fat ring: a ray from the body centre to the left edge passes through fat
    row = a[:, ph.ct.shape[1] // 2 + 10, ph.ct.shape[2] // 2]
    assert np.any(np.convolve(row, np.ones(3) / 3, "same") < -60)


def _row_min_hu(ph, ref, lab, k):
    """Per row of the normal joint on slice k (2 rows trimmed at each AP end): min HU across the joint."""
    js = ref.joint_space[:, :, k] == lab
    rows = np.nonzero(js.any(0))[0][2:-2]
    arr = ph.ct.array[:, :, k].astype(float)
    return np.array([arr[np.nonzero(js[:, j])[0], j].min() for j in rows])


def test_ct_total_ankylosis_bridges_every_flagged_slice():
    ref, ph = ct(3, 0, 0), ct(3, 4, 0)
    left = ph.joints["left"]
    assert left["ankylosis_extent"] == "total"
    assert left["ankylosis_slices"] == left["joint_slices"] and len(left["joint_slices"]) >= 10
    assert not any(ph.joints["right"]["ankylosis"])
    for k in left["joint_slices"]:
        bridged = _row_min_hu(ph, ref, 1, k)
        open_ = _row_min_hu(ref, ref, 1, k)
        assert len(bridged) > 10
        assert np.all(bridged > 300), (k, bridged.min())       # bone all the way across
        assert np.all(open_ < 250), (k, open_.max())            # a normal joint is open on every row
    # the open right joint of the same scan is open on all slices
    for k in ph.joints["right"]["joint_slices"]:
        assert np.all(_row_min_hu(ph, ref, 2, k) < 250)


@pytest.mark.parametrize("seed,side", [(1, "left"), (5, "right"), (6, "left")])
def test_ct_partial_ankylosis_only_on_flagged_slices(seed, side):
    ph, ref = ct(seed, 3, 3), ct(seed, 0, 0)
    j = ph.joints[side]
    lab = 1 if side == "left" else 2
    assert j["ankylosis_extent"] == "partial" and j["width_change"] != "narrowing"
    flagged = set(j["ankylosis_slices"])
    assert 0 < len(flagged) <= len(j["joint_slices"]) / 2
    for k in j["joint_slices"]:
        n_bridged = int(np.sum(_row_min_hu(ph, ref, lab, k) > 350))
        if k in flagged:
            assert n_bridged >= 3, k
        else:
            assert n_bridged == 0, k


def test_ct_erosions_replace_bone_by_soft_tissue_on_flagged_slices():
    ref, ph = ct(14, 0, 0), ct(14, 3, 3)   # seed 14: grade 3 without a width change, so the bones stay put
    for side, lab in (("left", 1), ("right", 2)):
        j = ph.joints[side]
        assert j["width_change"] == "none"
        assert j["n_erosions"] >= 3 and j["erosion_slices"]
        assert set(j["erosion_slices"]) <= set(j["joint_slices"])
        m3 = ph.erosions == lab
        assert ph.ct.array[m3].mean() < ref.ct.array[m3].mean() - 120
        for k in j["erosion_slices"]:
            m = ph.erosions[:, :, k] == lab
            if m.sum() < 4:   # a cap of a ball, below what the blur lets through
                continue
            before = ref.ct.array[:, :, k][m].astype(float).mean()
            after = ph.ct.array[:, :, k][m].astype(float).mean()
            assert after < before - 80, (side, k, before, after)
        for k in set(j["joint_slices"]) - set(j["erosion_slices"]):
            assert not np.any(ph.erosions[:, :, k] == lab)
        assert not np.any((ph.erosions == lab) & (ph.bones > 0))      # eroded bone is no longer bone


def test_ct_grade1_blurs_only_and_grade2_keeps_width():
    ref, g1 = ct(0, 0, 0), ct(0, 1, 0)
    assert not any(g1.joints["left"]["erosion"]) and not any(g1.joints["left"]["ankylosis"])
    # contrast across the joint (cortex peak minus joint minimum) drops with the blur
    k = g1.joints["left"]["joint_slices"][10]
    js = ref.joint_space[:, :, k] == 1
    rows = np.nonzero(js.any(0))[0][2:-2]

    def contrast(ph):
        a = ph.ct.array[:, :, k].astype(float)
        out = []
        for r in rows:
            ii = np.nonzero(js[:, r])[0]
            seg = a[ii[0] - 2:ii[-1] + 3, r]
            out.append(seg.max() - a[ii, r].min())
        return np.median(out)
    assert contrast(g1) < 0.75 * contrast(ref)
    for seed in range(4):
        j = generate_sij_ct(seed, 2, **COARSE).joints["left"]
        assert j["width_mm"] == j["normal_width_mm"] and j["width_change"] == "none"
        assert j["erosion_slices"] or j["sclerosis_slices"]
        assert not j["ankylosis_slices"]


def test_ct_bad_input():
    with pytest.raises(ValueError, match="grades\\['left'\\] must be an integer 0..4"):
        generate_sij_ct(0, {"left": 5, "right": 0}, **COARSE)
    with pytest.raises(ValueError, match="grades\\['right'\\]"):
        generate_sij_ct(0, {"left": 1, "right": "II"}, **COARSE)
    with pytest.raises(ValueError, match="'left' and 'right'"):
        generate_sij_ct(0, {"left": 1}, **COARSE)
    with pytest.raises(ValueError, match="spacing"):
        generate_sij_ct(0, 0, shape=(128, 96, 22), spacing=(2, -2, 4))
    with pytest.raises(ValueError, match="must cover at least"):
        generate_sij_ct(0, 0, shape=(50, 96, 22), spacing=(2, 2, 4))


def test_mny_criterion_and_class3_match_scores_examples():
    # SCORES.md 5.5 worked examples 1-5 and the 3-class collapse of 5.2
    for left, right, crit in ((2, 2, True), (3, 0, True), (2, 1, False), (1, 1, False), (4, 4, True)):
        assert radiographic_criterion(left, right) is crit
    assert [class3(g) for g in range(5)] == [0, 0, 1, 2, 2]


def test_ct_cohort(tmp_path):
    rows = generate_ct_cohort(tmp_path / "a", n=2, seed=3, progress=False, **COARSE)
    again = generate_ct_cohort(tmp_path / "b", n=2, seed=3, progress=False, **COARSE)
    assert rows == again
    with open(tmp_path / "a" / "manifest.csv") as f:
        man = list(csv.DictReader(f))
    assert [r["patient"] for r in man] == ["patient000", "patient001"]
    for r in man:
        vol = sacroai.load(tmp_path / "a" / r["path"])
        assert vol.array.dtype == np.int16 and vol.orientation == "RAS"
        np.testing.assert_array_equal(vol.array, sacroai.load(tmp_path / "b" / r["path"]).array)
        truth = json.load(open(tmp_path / "a" / r["truth_dir"] / "truth.json"))
        assert truth["grades"] == {"left": int(r["mny_left"]), "right": int(r["mny_right"])}
        assert int(r["radiographic_criterion"]) == radiographic_criterion(int(r["mny_left"]), int(r["mny_right"]))
        bones = sacroai.load(tmp_path / "a" / r["truth_dir"] / "bones.nii.gz")
        assert np.array_equal(bones.affine, vol.affine) and set(np.unique(bones.array)) <= {0, 1, 2, 3}
        for side in ("left", "right"):
            assert len(truth["joints"][side]["erosion"]) == vol.shape[2]
    with pytest.raises(ValueError, match="n must be at least 1"):
        generate_ct_cohort(tmp_path / "c", n=0, progress=False)


# ================================================================ hip radiographs

def test_hip_deterministic_and_features_only_change_their_hip():
    a = hip(3)
    b = generate_hip_xray(np.random.default_rng(3))
    np.testing.assert_array_equal(a.image.array, b.image.array)
    assert a.image.array.dtype == np.uint16 and a.image.spacing == (0.5, 0.5)
    assert not np.array_equal(a.image.array, hip(4).image.array)
    c = hip(3, left__fos_superior=2, left__jsn_superior=2, left__cysts=1)
    diff = a.image.array != c.image.array
    assert diff.any()
    r0, r1, c0, c1 = a.hips["left"]["roi"]
    outside = np.ones_like(diff)
    outside[r0:r1, c0:c1] = False
    assert not np.any(diff & outside)


def test_hip_laterality():
    ph = hip(0)
    ncol = ph.image.shape[1]
    assert ph.hips["right"]["head_centre_rc"][1] < ncol / 2 < ph.hips["left"]["head_centre_rc"][1]
    assert np.argwhere(ph.bones == 2)[:, 1].mean() < ncol / 2 < np.argwhere(ph.bones == 3)[:, 1].mean()
    assert np.all(np.argwhere(ph.joint_space == 1)[:, 1] < ncol / 2)
    assert np.all(np.argwhere(ph.joint_space == 2)[:, 1] > ncol / 2)


@pytest.mark.parametrize("key", ["fos_superior", "fos_inferior", "aos_superior"])
@pytest.mark.parametrize("side", ["right", "left"])
def test_hip_osteophyte_area_grows_with_grade(key, side):
    base = hip(5)
    thr = 0.3 * base.params["gain"]
    measured, truth = [], []
    for g in range(4):
        ph = hip(5, **{f"{side}__{key}": g})
        new_bone = (ph.image.array.astype(float) - base.image.array.astype(float)) > thr
        measured.append(new_bone.sum() * 0.25)   # mm^2
        truth.append((ph.osteophytes > 0).sum() * 0.25)
        assert ph.hips[side]["features"][key] == g and ph.hips[side]["osteophyte_sum"] == g
    assert measured[0] == 0
    assert all(b > a for a, b in zip(measured, measured[1:])), measured
    assert all(b > a for a, b in zip(truth, truth[1:])), truth
    np.testing.assert_allclose(measured[1:], truth[1:], rtol=0.5)


def test_hip_inferior_acetabular_osteophyte_present_absent():
    base, ph = hip(5), hip(5, right__aos_inferior=1)
    new_bone = (ph.image.array.astype(float) - base.image.array.astype(float)) > 0.3 * base.params["gain"]
    assert new_bone.sum() > 20 and np.any(ph.osteophytes == 4)


def _ray_profile(ph, side, phi_deg, step=0.05):
    """Image values along a ray from the head centre at angle phi (0 superior, 90 medial), R-4 .. R+10 mm."""
    h = ph.hips[side]
    r0, c0 = h["head_centre_rc"]
    lat = -1.0 if side == "right" else 1.0
    R = h["head_radius_mm"]
    rho = np.arange(R - 4.0, R + 10.0, step)
    u = -rho * np.sin(np.radians(phi_deg))          # lateral mm
    v = rho * np.cos(np.radians(phi_deg))           # superior mm
    rows, cols = r0 - v / 0.5, c0 + lat * u / 0.5
    return ndimage.map_coordinates(ph.image.array.astype(float), [rows, cols], order=1)


@pytest.mark.parametrize("key,phi", [("jsn_superior", 0.0), ("jsn_medial", 80.0)])
@pytest.mark.parametrize("side", ["right", "left"])
def test_hip_jsn_narrows_the_measured_joint_space(key, phi, side):
    # threshold: half-way between the open joint and the lower of its two bony margins (healthy hip)
    p0 = _ray_profile(hip(6), side, phi)
    i_min = int(np.argmin(p0))
    thr = (p0[i_min] + min(p0[:i_min].max(), p0[i_min:].max())) / 2
    widths, truths = [], []
    for g in range(4):
        ph = hip(6, **{f"{side}__{key}": g})
        widths.append(np.sum(_ray_profile(ph, side, phi) < thr) * 0.05)   # mm
        truths.append(ph.hips[side]["jsw_superior_mm" if key == "jsn_superior" else "jsw_medial_mm"])
        assert ph.hips[side]["jsn_sum"] == g
    assert all(b < a for a, b in zip(widths, widths[1:])), widths
    assert all(b < a for a, b in zip(truths, truths[1:])), truths
    np.testing.assert_allclose(widths[:3], truths[:3], atol=0.4)


def test_hip_sclerosis_brighter_cysts_darker():
    base = hip(2)
    s = hip(2, right__sclerosis=1)
    c = hip(2, left__cysts=1)
    assert s.sclerosis.sum() > 100 and c.cysts.sum() > 10
    gain = base.params["gain"]
    diff_s = s.image.array[s.sclerosis].astype(float) - base.image.array[s.sclerosis]
    diff_c = c.image.array[c.cysts].astype(float) - base.image.array[c.cysts]
    assert np.median(diff_s) > 0.15 * gain
    assert np.median(diff_c) < -0.15 * gain
    assert np.all(np.argwhere(s.sclerosis)[:, 1] < s.image.shape[1] / 2)   # right hip: image left


def test_croft_matches_scores_examples():
    # SCORES.md 7.3 worked examples H1-H8
    cases = [({}, 0), ({"fos_superior": 1}, 1), ({"jsn_medial": 1}, 2),
             ({"jsn_superior": 2, "fos_inferior": 1}, 3),
             ({"fos_superior": 1, "jsn_superior": 1, "sclerosis": 1}, 4),
             ({"fos_superior": 2, "aos_superior": 1, "aos_inferior": 1, "jsn_superior": 2, "jsn_medial": 1,
               "sclerosis": 1, "cysts": 1, "femoral_head_deformity": 1}, 5),
             ({"sclerosis": 1}, None), ({"fos_inferior": 2, "femoral_head_deformity": 1}, 1)]
    for feats, expected in cases:
        assert croft_grade(feats) == expected, feats


def test_kl_convention():
    assert implied_kl({}) == 0
    assert implied_kl({"fos_superior": 1}) == 1
    assert implied_kl({"jsn_medial": 1}) == 1
    assert implied_kl({"cysts": 1}) == 1
    assert implied_kl({"jsn_medial": 1, "fos_inferior": 1}) == 2
    assert implied_kl({"aos_superior": 2}) == 2
    assert implied_kl({"jsn_superior": 2}) == 3
    assert implied_kl({"jsn_medial": 3, "fos_superior": 3}) == 4
    rng = np.random.default_rng(0)
    for kl in range(5):
        for _ in range(40):
            f = random_hip_features(rng, kl)
            assert implied_kl(f) == kl
            assert set(f) == set(FEATURE_RANGES) and all(0 <= f[k] <= FEATURE_RANGES[k] for k in f)
    drawn4 = [random_hip_features(rng, 4) for _ in range(20)]
    assert all(f["sclerosis"] and f["cysts"] and f["jsn_superior"] == 3 for f in drawn4)


def test_hip_bad_input():
    with pytest.raises(ValueError, match="aos_inferior.*0..1"):
        generate_hip_xray(0, {"right": {"aos_inferior": 2}})
    with pytest.raises(ValueError, match="jsn_medial.*0..3"):
        generate_hip_xray(0, {"left": {"jsn_medial": 4}})
    with pytest.raises(ValueError, match="sclerosis"):
        generate_hip_xray(0, {"left": {"sclerosis": "yes"}})
    with pytest.raises(ValueError, match="unknown keys"):
        generate_hip_xray(0, {"left": {"osteophytes": 1}})
    with pytest.raises(ValueError, match="'right' and/or 'left'"):
        generate_hip_xray(0, {"both": {}})
    with pytest.raises(ValueError, match="shape"):
        generate_hip_xray(0, shape=(100, 100))
    with pytest.raises(ValueError, match="kl must be"):
        random_hip_features(np.random.default_rng(0), 5)


def test_hip_cohort(tmp_path):
    from sacroai.io.radiograph import load_radiograph
    rows = generate_hip_cohort(tmp_path / "a", n=2, seed=1, progress=False)
    rows_b = generate_hip_cohort(tmp_path / "b", n=2, seed=1, progress=False)
    assert rows == rows_b and len(rows) == 4
    assert [r["side"] for r in rows] == ["right", "left", "right", "left"]
    with open(tmp_path / "a" / "manifest.csv") as f:
        man = list(csv.DictReader(f))
    assert len(man) == 4
    for r in rows:
        side = json.load(open(tmp_path / "a" / r["sidecar"]))
        img = load_radiograph(tmp_path / "a" / r["path"], pixel_spacing=side["pixel_spacing_mm"])
        assert img.shape == (400, 520) and img.spacing == (0.5, 0.5)
        same = load_radiograph(tmp_path / "b" / r["path"], pixel_spacing=0.5)
        np.testing.assert_array_equal(img.array, same.array)
        h = side["hips"][r["side"]]
        assert r["kl"] == h["kl"] == implied_kl(h["features"])
        ost = load_radiograph(tmp_path / "a" / r["truth_dir"] / "osteophytes.png", pixel_spacing=0.5).array
        roi = ost[r["roi_row0"]:r["roi_row1"], r["roi_col0"]:r["roi_col1"]]
        assert bool(roi.any()) == (r["osteophyte_sum"] > 0)
    assert os.path.exists(tmp_path / "a" / "patient001" / "truth" / "bones.png")
