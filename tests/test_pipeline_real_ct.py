"""The SIJ MRI pipeline's steps on the real pelvic CT (TotalSegmentator example).

The shipped bone network was trained on STIR phantoms and does not transfer
to CT (its Dice there is near 0); these tests pin down what does hold: the
steps run on a real scan in another frame without error, and the quadrant
step puts each joint on the patient's correct side.
"""
import numpy as np
import pytest

import sacroai
from sacroai.pipelines import sij_mri
from sacroai.pipelines import sij_mri_prep as prep
from sacroai.scores.from_maps import quadrants_from_joint_masks
from sacroai.transforms import reorient


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
