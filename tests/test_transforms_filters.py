"""Gaussian, Hessian eigenvalues and Frangi against SciPy/NumPy twins; tubes."""
import numpy as np
import pytest
import scipy.ndimage as ndi

import sacroai
from sacroai.transforms import frangi, gaussian_smooth, hessian_eigenvalues
from reference.image_ref import frangi_ref, hessian_eigen_ref

RNG = np.random.default_rng(5)


def _noise(shape):
    return ndi.gaussian_filter(RNG.normal(size=shape), 1.2).astype(np.float32)


@pytest.mark.parametrize("shape,spacing", [((18, 20, 15), (0.8, 1.0, 1.3)), ((30, 26), (0.5, 0.7))])
@pytest.mark.parametrize("sigma", [0.6, 1.5, 3.0])
def test_gaussian_matches_scipy(shape, spacing, sigma):
    a = _noise(shape)
    g = gaussian_smooth(sacroai.Volume(a, spacing=spacing), sigma)
    ref = ndi.gaussian_filter(a.astype(np.float64), sigma / np.array(spacing), mode="nearest", truncate=4.0)
    np.testing.assert_allclose(g.array, ref, rtol=0, atol=1e-5 * np.abs(ref).max())
    assert g.array.dtype == np.float32


def test_gaussian_noncontiguous_and_zero_sigma():
    a = _noise((20, 20, 20))[:, ::2]
    g = gaussian_smooth(sacroai.Volume(a), (1.0, 0.0, 2.0))
    ref = ndi.gaussian_filter(a.astype(np.float64), (1.0, 0.0, 2.0), mode="nearest")
    np.testing.assert_allclose(g.array, ref, atol=1e-6)


@pytest.mark.parametrize("shape,spacing", [((16, 18, 14), (0.8, 1.0, 1.3)), ((25, 21), (0.5, 0.7))])
@pytest.mark.parametrize("sigma", [0.8, 2.0])
def test_hessian_eigenvalues_match_numpy(shape, spacing, sigma):
    a = _noise(shape)
    e = hessian_eigenvalues(sacroai.Volume(a, spacing=spacing), sigma)
    ref = hessian_eigen_ref(a, sigma, spacing)
    assert e.shape == shape + (len(shape),)
    np.testing.assert_allclose(e, ref, rtol=0, atol=1e-5 * np.abs(ref).max())


@pytest.mark.parametrize("shape,spacing", [((16, 18, 14), (0.8, 1.0, 1.3)), ((25, 21), (0.5, 0.7))])
@pytest.mark.parametrize("black", [False, True])
def test_frangi_matches_twin(shape, spacing, black):
    a = _noise(shape)
    f = frangi(sacroai.Volume(a, spacing=spacing), (1.0, 2.0), black_ridges=black)
    ref = frangi_ref(a, (1.0, 2.0), spacing, black_ridges=black)
    np.testing.assert_allclose(f.array, ref, rtol=0, atol=1e-5)
    f2 = frangi(sacroai.Volume(a, spacing=spacing), (1.5,), alpha=0.3, beta=0.8, c=0.05, black_ridges=black)
    ref2 = frangi_ref(a, (1.5,), spacing, alpha=0.3, beta=0.8, c=0.05, black_ridges=black)
    np.testing.assert_allclose(f2.array, ref2, rtol=0, atol=1e-5)


def _tube3d(n=41, width=2.0, dark=False):
    x = np.arange(n) - n // 2
    r2 = x[:, None, None] ** 2 + x[None, :, None] ** 2 + 0 * x[None, None, :]
    t = np.exp(-r2 / (2 * width ** 2)).astype(np.float32)
    return 1 - t if dark else t


@pytest.mark.parametrize("dark", [False, True])
def test_frangi_peaks_on_tube_centre_line(dark):
    t = _tube3d(dark=dark)
    f = frangi(sacroai.Volume(t), (1.0, 2.0, 3.0), black_ridges=dark).array
    c = t.shape[0] // 2
    mid = f[:, :, t.shape[2] // 2]
    assert np.unravel_index(np.argmax(mid), mid.shape) == (c, c)
    assert f[c, c, 20] > 0.5
    # the other polarity sees nothing on the centre line
    g = frangi(sacroai.Volume(t), (2.0,), black_ridges=not dark).array
    assert g[c, c, 20] == 0


def test_frangi_2d_line_centre():
    x = np.arange(41) - 20
    img = np.exp(-(x[:, None] ** 2 + 0 * x[None, :]) / (2 * 1.5 ** 2)).astype(np.float32)
    f = frangi(sacroai.Volume(img, spacing=(1.0, 1.0)), (1.0, 1.5, 2.0)).array
    assert np.all(np.argmax(f[:, 5:-5], axis=0) == 20)


@pytest.mark.parametrize("width", [1.5, 3.0])
def test_normalised_hessian_selects_the_tube_scale(width):
    t = _tube3d(n=49, width=width)
    c = 24
    sigmas = [width / 2, width, width * 2]
    resp = [abs(hessian_eigenvalues(sacroai.Volume(t), s)[c, c, c, 2]) for s in sigmas]
    assert int(np.argmax(resp)) == 1


def test_filter_bad_input():
    v = sacroai.Volume(_noise((8, 8, 8)))
    with pytest.raises(ValueError, match="sigmas_mm"):
        frangi(v, (0.0,))
    with pytest.raises(ValueError, match="alpha"):
        frangi(v, (1.0,), alpha=0)
    with pytest.raises(ValueError, match="sigma_mm"):
        gaussian_smooth(v, -1)
    with pytest.raises(ValueError, match="sigma_mm"):
        hessian_eigenvalues(v, 0)
    with pytest.raises(ValueError, match="vol"):
        frangi(sacroai.Volume(np.zeros((4, 4, 4, 2), np.float32)))


@pytest.mark.parametrize("width", [1.5, 3.0])
def test_frangi_single_scale_response_is_largest_at_the_tube_scale(width):
    t = _tube3d(n=49, width=width)
    c = 24
    sigmas = [width / 2, width, width * 2]
    resp = [frangi(sacroai.Volume(t), (s,), c=0.05).array[c, c, c] for s in sigmas]
    assert int(np.argmax(resp)) == 1
    assert frangi(sacroai.Volume(t), sigmas, c=0.05).array[c, c, c] == pytest.approx(max(resp))
