"""Seeded augmentation: reproducibility, recorded parameters, label handling."""
import functools

import numpy as np
import pytest
import scipy.ndimage as ndi

import sacroai
from sacroai.transforms import (Compose, RandomAffine, RandomBiasField, RandomFlip, RandomGamma,
                                RandomIntensityScale, RandomIntensityShift, RandomNoise, zscore)
from reference.image_ref import resample_scipy

RNG = np.random.default_rng(3)


def _pair(shape=(20, 18, 16)):
    img = ndi.gaussian_filter(RNG.normal(size=shape), 1.0).astype(np.float32) + 2.0
    lab = np.zeros(shape, np.uint8)
    lab[4:12, 5:14, 3:9] = 2
    lab[10:17, 2:8, 8:14] = 5
    return sacroai.Volume(img, spacing=(0.8, 0.8, 1.5)), sacroai.Volume(lab, spacing=(0.8, 0.8, 1.5))


def _pipeline(seed):
    return Compose([RandomFlip(), RandomAffine(15, (0.85, 1.15)), RandomIntensityShift(0.2),
                    RandomIntensityScale(0.1), RandomGamma(), RandomNoise((0.0, 0.05)),
                    RandomBiasField(0.3, order=2), functools.partial(zscore)], seed=seed)


def test_compose_is_reproducible_and_records_params():
    img, lab = _pair()
    a_img, a_lab = _pipeline(42)(img, lab)
    p = _pipeline(42)
    b_img, b_lab = p(img, lab)
    np.testing.assert_array_equal(a_img.array, b_img.array)
    np.testing.assert_array_equal(a_lab.array, b_lab.array)
    names = [n for n, _ in p.last_params]
    assert names[:7] == ["RandomFlip", "RandomAffine", "RandomIntensityShift", "RandomIntensityScale",
                         "RandomGamma", "RandomNoise", "RandomBiasField"]
    assert "rotation_deg" in p.last_params[1][1] and "gamma" in p.last_params[4][1]
    c_img, _ = _pipeline(43)(img, lab)
    assert not np.array_equal(a_img.array, c_img.array)
    assert set(np.unique(a_lab.array)) <= {0, 2, 5}
    np.testing.assert_array_equal(a_img.affine, img.affine)


def test_flip_uses_recorded_axes_on_image_and_label():
    img, lab = _pair()
    t = RandomFlip(axes=(0, 1, 2), p_axis=0.5, seed=np.random.default_rng(0))
    out_img, out_lab = t(img, lab)
    ref = img.array
    for a in t.last_params["flip"]:
        ref = np.flip(ref, a)
    np.testing.assert_array_equal(out_img.array, ref)
    ref_lab = lab.array
    for a in t.last_params["flip"]:
        ref_lab = np.flip(ref_lab, a)
    np.testing.assert_array_equal(out_lab.array, ref_lab)


def test_affine_matches_scipy_with_recorded_parameters():
    img, lab = _pair()
    t = RandomAffine(20, (0.8, 1.2), seed=7)
    out, out_lab = t(img, lab)
    p = t.last_params
    ang = np.deg2rad(p["rotation_deg"])
    r = np.eye(3)
    for ax, th in enumerate(ang):
        i, j = [k for k in range(3) if k != ax]
        m = np.eye(3)
        m[i, i], m[i, j], m[j, i], m[j, j] = np.cos(th), -np.sin(th), np.sin(th), np.cos(th)
        r = m @ r
    lin = r / p["scale"]
    c = (np.array(img.shape) - 1) / 2
    ref = resample_scipy(img.array, lin, c - lin @ c, img.shape, 1)
    np.testing.assert_allclose(out.array, ref, atol=1e-5 * np.ptp(ref))
    ref_lab = resample_scipy(lab.array, lin, c - lin @ c, img.shape, 0)
    np.testing.assert_array_equal(out_lab.array, ref_lab.astype(np.uint8))


def test_identity_affine_and_p_zero():
    img, _ = _pair()
    out = RandomAffine(0.0, (1.0, 1.0), seed=1)(img)
    np.testing.assert_allclose(out.array, img.array, atol=1e-6)
    t = RandomGamma(p=0.0, seed=1)
    assert t(img) is img and t.last_params == {"applied": False}


def test_intensity_transforms_follow_their_params():
    img, _ = _pair()
    a = img.array
    t = RandomIntensityShift((0.5, 0.6), seed=1)
    np.testing.assert_allclose(t(img).array, a + t.last_params["shift"], rtol=1e-6)
    t = RandomIntensityScale((1.5, 2.0), seed=1)
    np.testing.assert_allclose(t(img).array, a * t.last_params["scale"], rtol=1e-6)
    t = RandomGamma((0.5, 2.0), seed=1)
    out = t(img).array
    g = t.last_params["gamma"]
    assert 0.5 <= g <= 2.0
    np.testing.assert_allclose(out, a.min() + np.ptp(a) * ((a - a.min()) / np.ptp(a)) ** g, rtol=1e-5, atol=1e-5)
    t = RandomNoise((0.2, 0.2), seed=1)
    d = t(sacroai.Volume(np.zeros((40, 40, 40), np.float32))).array
    assert abs(d.std() - 0.2) < 0.01 and abs(d.mean()) < 0.01
    t = RandomBiasField(0.3, order=1, seed=2)
    f = t(sacroai.Volume(np.ones((9, 9, 9), np.float32))).array
    assert np.all(f > 0) and f.std() > 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="p"):
        RandomFlip(p=1.5)
    with pytest.raises(ValueError, match="gamma"):
        RandomGamma((0.0, 1.0))
    with pytest.raises(ValueError, match="scale"):
        RandomAffine(10, (1.2, 0.8))
    with pytest.raises(TypeError, match="seed"):
        RandomNoise(seed="abc")
    with pytest.raises(ValueError, match="label"):
        RandomFlip(seed=0)(_pair()[0], sacroai.Volume(np.zeros((3, 3, 3), np.uint8)))
