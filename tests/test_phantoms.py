"""SIJ MRI phantoms and the phantom cohort: determinism and exact ground truth."""
import csv

import numpy as np
import pytest

import sacroai
from sacroai.phantoms import Lesion, generate_cohort, generate_sij_mri, quadrant_label, reader_sheet, sheet_total
from sacroai.phantoms.sij_mri import asas_positive


def test_deterministic_from_seed():
    a = generate_sij_mri(7, [Lesion("left", "iliac", "upper", (4, 5))], with_t1=True, fat_lesions=2)
    b = generate_sij_mri(7, [Lesion("left", "iliac", "upper", (4, 5))], with_t1=True, fat_lesions=2)
    np.testing.assert_array_equal(a.stir.array, b.stir.array)
    np.testing.assert_array_equal(a.t1.array, b.t1.array)
    c = generate_sij_mri(8, [Lesion("left", "iliac", "upper", (4, 5))])
    assert not np.array_equal(a.stir.array, c.stir.array)


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("bone", ["iliac", "sacral"])
@pytest.mark.parametrize("half", ["upper", "lower"])
def test_lesion_lands_in_its_quadrant_and_sheet(side, bone, half):
    ph = generate_sij_mri(3, [Lesion(side, bone, half, (5, 6), depth_mm=8, intensity_ratio=0.8)])
    lab = quadrant_label(side, bone, half)
    assert ph.bme.any()
    # every oedema voxel lies in the planted quadrant
    assert set(np.unique(ph.quadrants[ph.bme])) == {lab}
    # patient's left is negative x in RAS+ world coordinates
    xyz = ph.stir.world(np.argwhere(ph.bme))
    assert (xyz[:, 0] < 0).all() if side == "left" else (xyz[:, 0] > 0).all()
    order = ["iliac_upper", "iliac_lower", "sacral_upper", "sacral_lower"]
    qi = order.index(f"{bone}_{half}")
    for pos, k in enumerate(ph.scored_slices):
        joint = ph.sheet["slices"][pos][side]
        assert joint["quadrants"][qi] == int(k in (5, 6))
        assert joint["intense"] == 0 and joint["deep"] == 0
    assert sheet_total(ph.sheet) == 2


@pytest.mark.parametrize("depth, deep", [(9.0, 0), (11.0, 1)])
def test_depth_flag_follows_the_10mm_rule(depth, deep):
    ph = generate_sij_mri(4, [Lesion("right", "iliac", "lower", (5,), depth_mm=depth, intensity_ratio=1.1)])
    pos = ph.scored_slices.index(5)
    assert ph.sheet["slices"][pos]["right"]["deep"] == deep
    assert ph.sheet["slices"][pos]["right"]["intense"] == 1


def test_lesion_intensity_is_relative_to_the_vessels():
    ph = generate_sij_mri(5, [Lesion("left", "sacral", "upper", (5,), intensity_ratio=1.2)], noise=0.0, bias=0.0)
    lesion = ph.stir.array[ph.bme].mean()
    assert lesion / ph.vessel_signal == pytest.approx(1.2, rel=1e-3)


def test_asas_rule_from_lesions():
    two_slices = generate_sij_mri(0, [Lesion("left", "iliac", "upper", (4, 5))])
    one_slice = generate_sij_mri(0, [Lesion("left", "iliac", "upper", (4,))])
    two_lesions = generate_sij_mri(0, [Lesion("left", "iliac", "upper", (6,)), Lesion("right", "sacral", "lower", (6,))])
    assert asas_positive(two_slices.asas) and not asas_positive(one_slice.asas)
    assert asas_positive(two_lesions.asas)


def test_reader_sheets_keep_the_bonus_rule():
    ph = generate_sij_mri(1, [Lesion("left", "iliac", "upper", (4, 5, 6), depth_mm=12, intensity_ratio=1.2)])
    rng = np.random.default_rng(0)
    for _ in range(50):
        sheet = reader_sheet(ph.sheet, rng, miss=0.5, invent=0.2, bonus_flip=0.5)
        for s in sheet["slices"]:
            for j in (s["left"], s["right"]):
                if not any(j["quadrants"]):
                    assert j["intense"] == 0 and j["deep"] == 0


def test_bad_lesions_are_rejected():
    with pytest.raises(ValueError, match="quadrant"):
        Lesion("middle", "iliac", "upper", (4,))
    with pytest.raises(ValueError, match="depth_mm"):
        Lesion("left", "iliac", "upper", (4,), depth_mm=-1)
    with pytest.raises(ValueError, match="outside"):
        generate_sij_mri(0, [Lesion("left", "iliac", "upper", (40,))])


def test_cohort_files_and_manifest(tmp_path):
    rows = generate_cohort(tmp_path, n_patients=4, seed=2, progress=False)
    assert len(rows) == 4
    with open(tmp_path / "manifest.csv") as f:
        manifest = list(csv.DictReader(f))
    assert [r["patient"] for r in manifest] == [f"patient{i:03d}" for i in range(4)]
    vol = sacroai.load(tmp_path / manifest[0]["path"])
    bme = sacroai.load(tmp_path / manifest[0]["truth_dir"] / "bme.nii.gz")
    assert vol.shape == bme.shape and np.allclose(vol.affine, bme.affine)
    again = generate_cohort(tmp_path / "again", n_patients=4, seed=2, progress=False)
    assert [r["sparcc_truth"] for r in again] == [r["sparcc_truth"] for r in rows]


def test_image_derived_sparcc_from_true_maps_equals_the_sheet():
    """Two independent routes to one answer: the generator's sheet (from the
    planted lesions) and sacroai.scores reading the phantom's true maps."""
    from sacroai.phantoms import random_lesions
    from sacroai.scores import evaluate
    from sacroai.scores.from_maps import sparcc_sij_from_maps

    for seed in range(12):
        rng = np.random.default_rng(seed)
        ph = generate_sij_mri(rng, random_lesions(rng, active=True))
        res = sparcc_sij_from_maps(ph.stir, ph.bme, ph.quadrants, ph.vessel_signal, ph.stir.spacing,
                                   slices=ph.scored_slices)
        truth = evaluate("sparcc_sij", ph.sheet)
        assert res["total"] == truth["total"] == sheet_total(ph.sheet)
        assert res["per_slice"] == truth["per_slice"]
