"""The pipelines' segmentation and joint steps on the real pelvic CT (TotalSegmentator example).

The SIJ MRI bone network was trained on STIR phantoms and does not transfer
to CT (its Dice there is near 0): on a CT the SIJ MRI pipeline's bone and
quadrant steps use the CT bone segmenter (trained on CT phantoms only), and
these tests check that its quadrants, and the SIJ CT pipeline's joint ROIs,
land on the patient's correct sides, near where the TotalSegmentator sacrum
and hip masks meet.
"""
import numpy as np
import pytest

import sacroai
from sacroai.pipelines import sij_mri
from sacroai.pipelines import sij_mri_prep as prep
from sacroai.scores.from_maps import quadrants_from_joint_masks
from sacroai.transforms import reorient
from scipy import ndimage


@pytest.fixture(scope="module")
def ct(real_data):
    base = real_data / "totalsegmentator"
    vol = sacroai.load(base / "example_ct.nii.gz")
    masks = {n: sacroai.load(base / "example_seg" / f"{n}.nii.gz") for n in ("sacrum", "hip_left", "hip_right")}
    return vol, masks


def test_bone_step_runs_on_real_ct(ct):
    vol, _ = ct
    canon = prep.canonical(vol.with_array(np.asarray(vol.array, dtype=np.float32)))
    bones, _ = sij_mri.SIJMRIPipeline.from_weights().segment_bones(canon)
    assert bones.shape == canon.shape and set(np.unique(bones)) <= {0, 1, 2}


def test_quadrants_on_real_ct_are_on_the_correct_sides(ct):
    vol, m = ct
    canon = prep.canonical(vol)
    sac = np.asarray(reorient(m["sacrum"], "RSA").array) > 0.5
    ilium = (np.asarray(reorient(m["hip_left"], "RSA").array) > 0.5) | (np.asarray(reorient(m["hip_right"], "RSA").array) > 0.5)
    q = quadrants_from_joint_masks(sac, ilium, affine=canon.affine, slice_axis=2, joint_gap_mm=sij_mri.JOINT_GAP_MM)
    left, right = np.isin(q, [1, 2, 3, 4]), np.isin(q, [5, 6, 7, 8])
    assert left.any() and right.any()
    x_left, x_right = canon.world(np.argwhere(left))[:, 0], canon.world(np.argwhere(right))[:, 0]
    assert (x_left < 0).all() and (x_right > 0).all()
    # both near the published SIJ boxes (|x| 37-62 mm)
    assert 30 < -x_left.mean() < 70 and 30 < x_right.mean() < 70


def _contact_centroid(sac, hip, vol, mm=4.5):
    """World centroid (mm) of the sacrum/hip voxels within ``mm`` of the other mask (scipy EDT)."""
    d_hip = ndimage.distance_transform_edt(~hip, sampling=vol.spacing)
    d_sac = ndimage.distance_transform_edt(~sac, sampling=vol.spacing)
    zone = (sac & (d_hip <= mm)) | (hip & (d_sac <= mm))
    return vol.world(np.argwhere(zone)).mean(axis=0)


def _truth_centres(vol, m):
    sac = np.asarray(m["sacrum"].array) > 0.5
    return {side: _contact_centroid(sac, np.asarray(m[f"hip_{side}"].array) > 0.5, vol) for side in ("left", "right")}


def test_mri_pipeline_quadrants_from_the_ct_segmenter_on_real_ct(ct):
    vol, m = ct
    canon = prep.canonical(vol.with_array(np.asarray(vol.array, dtype=np.float32)))
    bones, q = sij_mri.SIJMRIPipeline.from_weights().joint_quadrants(canon, modality="CT")
    assert bones.shape == canon.shape and set(np.unique(bones)) <= {0, 1, 2}
    truth = _truth_centres(vol, m)
    for side, labels in (("left", [1, 2, 3, 4]), ("right", [5, 6, 7, 8])):
        xyz = canon.world(np.argwhere(np.isin(q, labels)))
        assert len(xyz), side
        assert (xyz[:, 0] < 0).all() if side == "left" else (xyz[:, 0] > 0).all()
        # the quadrants' centre lies near the masks' contact zone (quadrants span the whole joint: 15 mm)
        assert np.linalg.norm(xyz.mean(axis=0) - truth[side]) < 15.0, (side, xyz.mean(axis=0), truth[side])


def test_ct_pipeline_joint_rois_on_real_ct(ct):
    from sacroai.pipelines.sij_ct import SIJCTPipeline
    vol, m = ct
    res = SIJCTPipeline.from_weights().run(vol, explain=False)
    truth = _truth_centres(vol, m)
    for side in ("left", "right"):
        j = res.joints[side]
        assert j["found"], side
        d = float(np.linalg.norm(np.subtract(j["centre_mm"], truth[side])))
        assert d <= 10.0, (side, d, j["centre_mm"], truth[side])
    assert res.joints["left"]["centre_mm"][0] < 0 < res.joints["right"]["centre_mm"][0]
    # 3 mm voxels: the ROIs hold, the grades are flagged as unreliable
    assert any(a.startswith("warning:") and "coarser" in a for a in res.audit)


def test_no_coarse_voxel_warning_at_the_training_spacing():
    from sacroai.phantoms import generate_sij_ct
    from sacroai.pipelines.sij_ct import _coarser_than_training
    assert _coarser_than_training(generate_sij_ct(0).ct) == ""
