"""sacroai.load on real, public NIfTI files written by other software, with
nibabel (and SimpleITK where it applies) as the independent reader."""
import numpy as np
import pytest

import sacroai

nib = pytest.importorskip("nibabel")

VALID = [
    "nifti_formats/nibabel/anatomical.nii",
    "nifti_formats/nibabel/functional.nii",
    "nifti_formats/nibabel/example4d.nii.gz",
    "nifti_formats/nibabel/example_nifti2.nii.gz",
    "nifti_formats/nibabel/standard.nii.gz",
    "nifti_formats/nifti1_official/minimal.hdr",
    "nifti_formats/nifti1_official/minimal.img",
    "nifti_formats/nifti1_official/zstat1.nii.gz",
    "nifti_formats/nifti1_official/avg152T1_LR_nifti.nii.gz",
    "nifti_formats/nifti1_official/avg152T1_RL_nifti.nii.gz",
    "nifti_formats/nifti_test_data/ATestReferenceImageForReadingAndWriting.nii.gz",
    "nifti_formats/nifti_test_data/anat0.nii",
    "nifti_formats/nifti_test_data/e4.60005.nii.gz",
    "nifti_formats/nifti_test_data/run.210.nii",
    "totalsegmentator/example_ct.nii.gz",
    "totalsegmentator/example_mr_sm.nii.gz",
    "totalsegmentator/example_seg_fast_force_split.nii.gz",
    "totalsegmentator/example_seg_mr.nii.gz",
    "totalsegmentator/example_seg/sacrum.nii.gz",
    "totalsegmentator/example_seg/hip_left.nii.gz",
    "totalsegmentator/example_seg/hip_right.nii.gz",
    "totalsegmentator/example_seg/vertebrae_L5.nii.gz",
    "totalsegmentator/example_seg/femur_left.nii.gz",
    "totalsegmentator/example_seg/femur_right.nii.gz",
    "ibsi/ibsi_1_digital_phantom/nifti/image/phantom.nii.gz",
    "ibsi/ibsi_1_digital_phantom/nifti/mask/mask.nii.gz",
    "ibsi/ibsi_2_digital_phantom/nifti/impulse/image/impulse.nii.gz",
    "ibsi/ibsi_2_digital_phantom/nifti/orientation/image/orientation.nii.gz",
    "ibsi/ibsi_2_digital_phantom/nifti/sphere/image/sphere.nii.gz",
    "ibsi/ibsi_2_digital_phantom/nifti/sphere/mask/mask.nii.gz",
]


def test_every_valid_file_is_listed(real_data):
    """Guard: a new valid file in the data folder must be added to VALID."""
    found = {str(p.relative_to(real_data)) for p in real_data.rglob("*")
             if p.name.endswith((".nii", ".nii.gz", ".hdr")) and not p.name.startswith("rand")}
    assert found <= set(VALID)


@pytest.mark.parametrize("rel", VALID)
def test_matches_nibabel(real_data, rel):
    path = real_data / rel
    vol = sacroai.load(path)
    img = nib.load(str(path))
    assert vol.shape == img.shape
    np.testing.assert_allclose(vol.affine, img.affine, atol=1e-4, rtol=0)
    # nibabel moves the file's scaling from the header into the array proxy
    if img.dataobj.slope == 1 and img.dataobj.inter == 0:
        ref = np.asanyarray(img.dataobj)
        assert vol.dtype == ref.dtype.newbyteorder("=")
        np.testing.assert_array_equal(np.asarray(vol.array), ref)
    else:
        ref = img.get_fdata()
        assert vol.dtype == np.float32
        scale = np.abs(ref).max()
        np.testing.assert_allclose(vol.array, ref, rtol=1e-6, atol=scale * 2e-7)


def test_no_code_affine_choice(real_data):
    """minimal.hdr has qform_code = sform_code = 0: nibabel's centred,
    x-flipped affine by default, NIfTI method 1 on request."""
    path = real_data / "nifti_formats/nifti1_official/minimal.hdr"
    vol = sacroai.load(path)
    assert vol.header["qform_code"] == vol.header["sform_code"] == 0
    np.testing.assert_allclose(vol.affine, nib.load(str(path)).affine)
    m1 = sacroai.load(path, no_code_affine="nifti")
    pix = vol.header["pixdim"][1:4]
    np.testing.assert_allclose(m1.affine, np.diag([*pix, 1.0]))


def test_lr_and_rl_land_on_the_same_world_positions(real_data):
    lr = sacroai.load(real_data / "nifti_formats/nifti1_official/avg152T1_LR_nifti.nii.gz")
    rl = sacroai.load(real_data / "nifti_formats/nifti1_official/avg152T1_RL_nifti.nii.gz")
    assert lr.orientation == "LAS" and rl.orientation == "RAS"
    np.testing.assert_array_equal(lr.array[::-1], rl.array)
    ni = lr.shape[0]
    ijk = np.stack(np.meshgrid(np.arange(ni), [0, 50, 108], [0, 45, 90], indexing="ij"), -1).reshape(-1, 3)
    flipped = ijk.copy()
    flipped[:, 0] = ni - 1 - ijk[:, 0]
    np.testing.assert_allclose(lr.world(ijk), rl.world(flipped), atol=1e-4)
    # and the voxel found at each world point holds the same value
    xyz = lr.world(ijk)
    back = np.rint(rl.index(xyz)).astype(int)
    np.testing.assert_array_equal(lr.array[tuple(ijk.T)], rl.array[tuple(back.T)])


def test_little_and_big_endian_copies_are_identical(real_data):
    be = sacroai.load(real_data / "nifti_formats/nifti1_official/avg152T1_LR_nifti.nii.gz")
    le = sacroai.load(real_data / "nifti_formats/nifti_test_data/anat0.nii")
    assert be.header["byteorder"] == ">" and le.header["byteorder"] == "<"
    np.testing.assert_array_equal(be.array, le.array)
    np.testing.assert_allclose(be.affine, le.affine, atol=1e-4)


def test_header_fields(real_data):
    f = sacroai.load(real_data / "nifti_formats/nibabel/functional.nii")
    assert f.header["TR"] == pytest.approx(2.0)
    assert f.header["scl_slope"] == pytest.approx(0.0754070, rel=1e-5)
    z = sacroai.load(real_data / "nifti_formats/nifti1_official/zstat1.nii.gz")
    assert z.header["intent"] == "zscore" and z.header["intent_code"] == 5
    t = sacroai.load(real_data / "nifti_formats/nifti_test_data/ATestReferenceImageForReadingAndWriting.nii.gz")
    assert t.header["intent_code"] == 1001
    # qform and sform differ there; the sform (code > 0) is the one used
    assert np.abs(t.header["qform"] - t.header["sform"]).max() > 1.0
    np.testing.assert_allclose(t.affine, t.header["sform"])
    np.testing.assert_allclose(t.affine[:3, :3], np.diag([0.5, 1.0, 2.0]))
    ex = sacroai.load(real_data / "nifti_formats/nibabel/example4d.nii.gz")
    assert len(ex.header["extensions"]) == 2
    n2 = sacroai.load(real_data / "nifti_formats/nibabel/example_nifti2.nii.gz")
    assert n2.header["nifti_version"] == 2
    ct = sacroai.load(real_data / "totalsegmentator/example_ct.nii.gz")
    assert ct.spacing == pytest.approx((3.0, 3.0, 3.0)) and ct.orientation == "RAS"


def test_real_ct_laterality(real_data):
    """hip_left lies at negative x (the patient's left in RAS+)."""
    seg = real_data / "totalsegmentator/example_seg"
    for name, sign in (("hip_left", -1), ("hip_right", 1)):
        m = sacroai.load(seg / f"{name}.nii.gz")
        ijk = np.argwhere(np.asarray(m.array) > 0.5)
        assert np.sign(m.world(ijk)[:, 0].mean()) == sign


@pytest.mark.parametrize("rel", ["nifti_formats/nifti_test_data/rand.hdr",
                                 "nifti_formats/nifti_test_data/rand_nifti.hdr"])
def test_random_headers_are_rejected(real_data, rel):
    with pytest.raises(sacroai.FileFormatError, match="sizeof_hdr") as err:
        sacroai.load(real_data / rel)
    assert rel.split("/")[-1] in str(err.value)


@pytest.mark.parametrize("rel", ["totalsegmentator/example_ct.nii.gz",
                                 "nifti_formats/nibabel/anatomical.nii",
                                 "nifti_formats/nifti1_official/zstat1.nii.gz",
                                 "ibsi/ibsi_2_digital_phantom/nifti/orientation/image/orientation.nii.gz"])
def test_sitk_geometry_matches_simpleitk(real_data, rel):
    sitk = pytest.importorskip("SimpleITK")
    path = str(real_data / rel)
    vol = sacroai.load(path)
    img = sitk.ReadImage(path)
    arr, spacing, origin, direction = vol.to_sitk_array()
    np.testing.assert_array_equal(arr, sitk.GetArrayFromImage(img))
    np.testing.assert_allclose(spacing, img.GetSpacing(), rtol=1e-6)
    np.testing.assert_allclose(origin, img.GetOrigin(), atol=1e-3)
    np.testing.assert_allclose(direction, img.GetDirection(), atol=1e-5)
    back = sacroai.Volume.from_sitk_array(arr, spacing, origin, direction)
    np.testing.assert_allclose(back.affine, vol.affine, atol=1e-3)
    np.testing.assert_array_equal(back.array, vol.array)
