"""Volume geometry: spacing, orientation codes, world <-> index, radiographs, interop."""
import numpy as np
import pytest

import sacroai
from sacroai import _geometry as geo


def _affine(codes_matrix, spacing, origin=(0, 0, 0)):
    a = np.eye(4)
    a[:3, :3] = np.asarray(codes_matrix, float) @ np.diag(spacing)
    a[:3, 3] = origin
    return a


@pytest.mark.parametrize("matrix, codes", [
    (np.eye(3), "RAS"),
    (np.diag([-1, -1, 1]), "LPS"),
    (np.diag([-1, 1, 1]), "LAS"),
    ([[0, 0, 1], [1, 0, 0], [0, 1, 0]], "ASR"),
    ([[0, 0, -1], [0, -1, 0], [-1, 0, 0]], "IPL"),
])
def test_orientation_codes(matrix, codes):
    vol = sacroai.Volume(np.zeros((2, 3, 4)), _affine(matrix, (0.8, 0.8, 4.0)))
    assert vol.orientation == codes
    assert geo.ornt_to_codes(geo.codes_to_ornt(codes)) == codes


def test_orientation_of_an_oblique_affine_is_the_nearest_axes():
    t = np.deg2rad(20)
    rot = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
    vol = sacroai.Volume(np.zeros((2, 2, 2)), _affine(rot, (1, 1, 1)))
    assert vol.orientation == "RAS"


def test_spacing_world_and_index():
    aff = _affine(np.diag([-1, -1, 1]), (0.7, 0.7, 1.5), origin=(100, 50, -20))
    vol = sacroai.Volume(np.zeros((10, 10, 10), np.int16), aff)
    assert vol.spacing == pytest.approx((0.7, 0.7, 1.5))
    ijk = np.array([[0, 0, 0], [1, 2, 3], [9, 9, 9]], float)
    xyz = vol.world(ijk)
    np.testing.assert_allclose(xyz[1], [100 - 0.7, 50 - 1.4, -20 + 4.5])
    np.testing.assert_allclose(vol.index(xyz), ijk, atol=1e-12)


def test_radiograph():
    xr = sacroai.Volume.from_radiograph(np.zeros((300, 200), np.uint16), pixel_spacing=(0.15, 0.14))
    assert xr.is_radiograph and xr.spatial_ndim == 2 and xr.spacing == pytest.approx((0.15, 0.14))
    np.testing.assert_allclose(xr.world([[10, 20]]), [[1.5, 2.8, 0.0]])
    with pytest.raises(ValueError, match="2-D"):
        sacroai.Volume.from_radiograph(np.zeros((3, 3, 3)), (1, 1))


@pytest.mark.parametrize("kwargs, message", [
    (dict(array=np.zeros(5)), "2 to 7 dimensions"),
    (dict(array=np.zeros((2, 2, 2)), spacing=(1, 0, 1)), "spacing must be positive"),
    (dict(array=np.zeros((2, 2, 2)), spacing=(1, float("nan"), 1)), "spacing must be positive"),
    (dict(array=np.zeros((2, 2, 2)), spacing=(1, 1)), "spacing must have 3"),
    (dict(array=np.zeros((2, 2, 2)), affine=np.eye(3)), "4x4"),
    (dict(array=np.zeros((2, 2, 2)), affine=np.zeros((4, 4))), "last row"),
    (dict(array=np.zeros((2, 2, 2)), affine=np.diag([1, 1, 0, 1.0])), "singular"),
])
def test_bad_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sacroai.Volume(**kwargs)


def test_array_protocol_and_copy():
    vol = sacroai.Volume(np.arange(8).reshape(2, 2, 2))
    assert np.asarray(vol).sum() == 28
    c = vol.copy()
    c.array[0, 0, 0] = 100
    assert vol.array[0, 0, 0] == 0
    assert "RAS" in repr(vol)


def test_nibabel_roundtrip():
    nib = pytest.importorskip("nibabel")
    aff = _affine(np.diag([-1, 1, 1]), (0.8, 0.8, 4.0), origin=(10, -5, 3))
    vol = sacroai.Volume(np.arange(24, dtype=np.int16).reshape(2, 3, 4), aff, header={"descrip": "sij"})
    img = vol.to_nibabel()
    assert isinstance(img, nib.Nifti1Image)
    np.testing.assert_allclose(img.affine, aff, atol=1e-6)
    np.testing.assert_array_equal(np.asanyarray(img.dataobj), vol.array)
    back = sacroai.Volume.from_nibabel(img)
    np.testing.assert_allclose(back.affine, aff, atol=1e-6)
    np.testing.assert_array_equal(back.array, vol.array)
    assert back.header["descrip"] == "sij"


def test_sitk_roundtrip_through_simpleitk_image():
    sitk = pytest.importorskip("SimpleITK")
    t = np.deg2rad(15)
    rot = np.array([[1, 0, 0], [0, np.cos(t), -np.sin(t)], [0, np.sin(t), np.cos(t)]])
    vol = sacroai.Volume(np.random.default_rng(0).random((5, 6, 7)).astype(np.float32),
                         _affine(rot @ np.diag([-1, 1, 1]), (0.8, 0.9, 4.0), origin=(12, -30, 44)))
    arr, spacing, origin, direction = vol.to_sitk_array()
    img = sitk.GetImageFromArray(np.ascontiguousarray(arr))
    img.SetSpacing(spacing)
    img.SetOrigin(origin)
    img.SetDirection(direction)
    # ITK's world point of index (i, j, k), converted LPS -> RAS, is sacroai's
    for ijk in [(0, 0, 0), (4, 5, 6), (1, 2, 3)]:
        lps = np.array(img.TransformIndexToPhysicalPoint(ijk))
        np.testing.assert_allclose(lps * [-1, -1, 1], vol.world([ijk])[0], atol=1e-9)
        assert img.GetPixel(ijk) == pytest.approx(vol.array[ijk])


def test_world_grid_matches_the_affine_product():
    """World coordinates of every voxel (summed without BLAS) against affine @ indices."""
    from sacroai._geometry import world_grid
    rng = np.random.default_rng(8)
    aff = np.eye(4)
    aff[:3] = rng.standard_normal((3, 4)) * [1.5, 2.0, 0.7, 40.0]
    shape = (4, 7, 5)
    ijk = np.indices(shape).reshape(3, -1)
    expect = (aff[:3, :3] @ ijk + aff[:3, 3:4]).reshape((3,) + shape)
    np.testing.assert_allclose(world_grid(shape, aff), expect, rtol=0, atol=1e-12)
