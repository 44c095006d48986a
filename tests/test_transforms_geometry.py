"""Reorientation and cropping: arrays and affines."""
import itertools

import numpy as np
import pytest

import sacroai
from sacroai.transforms import crop_or_pad, crop_to_mask, extract_patch, reorient

RNG = np.random.default_rng(7)


def _vol(shape=(6, 7, 5, 2)):
    aff = np.array([[0, 0, -1.5, 40.0], [-0.7, 0, 0, 12.0], [0, 0.8, 0, -30.0], [0, 0, 0, 1]])
    return sacroai.Volume(RNG.normal(size=shape), aff)


def _world_values(v):
    """Map world position of every voxel centre -> value (rounded keys)."""
    idx = np.argwhere(np.ones(v.shape[:3], bool))
    w = np.round(v.world(idx), 6)
    return {tuple(p): tuple(np.atleast_1d(v.array[tuple(i)])) for p, i in zip(w, idx)}


@pytest.mark.parametrize("codes", ["RAS", "LPS", "SAR", "ILP", "PIR"])
def test_reorient_keeps_world_positions(codes):
    v = _vol()
    r = reorient(v, codes)
    assert r.orientation == codes
    assert r.shape[3] == 2
    assert _world_values(r) == _world_values(v)


def test_reorient_roundtrip_and_view():
    v = _vol()
    for codes in ("".join(p) for p in itertools.permutations("RAS")):
        r = reorient(v, codes)
        back = reorient(r, v.orientation)
        np.testing.assert_array_equal(back.array, v.array)
        np.testing.assert_allclose(back.affine, v.affine, atol=1e-12)
        assert np.shares_memory(r.array, v.array)


def test_reorient_bad_codes():
    with pytest.raises(ValueError, match="codes"):
        reorient(_vol(), "RA")
    with pytest.raises(ValueError, match="RRS"):
        reorient(_vol(), "RRS")


def test_crop_to_mask_affine_and_margin():
    v = _vol((20, 18, 16))
    mask = np.zeros((20, 18, 16), bool)
    mask[4:9, 3:5, 10:12] = True
    c = crop_to_mask(v, mask, margin=2)
    assert c.shape == (9, 6, 6)
    np.testing.assert_array_equal(c.array, v.array[2:11, 1:7, 8:14])
    np.testing.assert_allclose(c.world([0, 0, 0]), v.world([2, 1, 8]))
    with pytest.raises(ValueError, match="mask"):
        crop_to_mask(v, np.ones((20, 18, 15), bool))
    with pytest.raises(ValueError, match="empty"):
        crop_to_mask(v, np.zeros((20, 18, 16), bool))


def test_crop_or_pad():
    v = _vol((10, 7, 6))
    c = crop_or_pad(v, (6, 11, 6), cval=-1)
    assert c.shape == (6, 11, 6)
    np.testing.assert_array_equal(c.array[:, 2:9, :], v.array[2:8])
    assert np.all(c.array[:, :2] == -1) and np.all(c.array[:, 9:] == -1)
    np.testing.assert_allclose(c.world([0, 2, 0]), v.world([2, 0, 0]))
    with pytest.raises(ValueError, match="shape"):
        crop_or_pad(v, (6, 0, 6))


def test_extract_patch_centre_and_padding():
    v = _vol((12, 12, 12))
    centre = v.world([5, 6, 7])
    p = extract_patch(v, centre, (4, 5, 3))
    np.testing.assert_allclose(p.world([2, 2, 1]), centre)
    np.testing.assert_array_equal(p.array, v.array[3:7, 4:9, 6:9])
    q = extract_patch(v, v.world([0, 0, 0]), 4, cval=0)
    assert q.shape == (4, 4, 4)
    np.testing.assert_array_equal(q.array[2:, 2:, 2:], v.array[:2, :2, :2])
    assert np.all(q.array[:2] == 0)
    with pytest.raises(ValueError, match="center_mm"):
        extract_patch(v, [0, 0], 3)
    with pytest.raises(ValueError, match="size"):
        extract_patch(v, centre, -3)


def test_core_empty_arrays():
    from sacroai import _core
    a = _core.image_empty((4, 5, 6), np.float32)
    assert a.shape == (4, 5, 6) and a.dtype == np.float32 and a.flags.c_contiguous and a.flags.writeable
    assert a.ctypes.data % 64 == 0
    a[...] = 3
    assert float(a.sum()) == 360.0
    f = _core.image_empty((3, 2), np.float64, True)
    assert f.flags.f_contiguous and not f.flags.c_contiguous
    z = _core.image_empty((0, 3), np.int16)
    assert z.shape == (0, 3)
    with pytest.raises(ValueError, match="shape"):
        _core.image_empty((-1, 3), np.float32)
    b = a.view()
    del a
    b[...] = 1  # the view keeps the memory alive
    assert float(b.sum()) == 120.0
