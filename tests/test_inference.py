"""Batched prediction, sliding-window inference (vs a NumPy twin of MONAI) and flip TTA."""
import numpy as np
import pytest

from sacroai.nn import inference as I
from reference.nn_train_models import TinySequential
from reference.nn_train_ref import (dense_patch_starts, gaussian_importance_map,
                                          sliding_window_ref)


def test_predict_batches_and_restores_train_mode():
    m = TinySequential([5, 4, 2], seed=3)
    x = np.random.default_rng(0).standard_normal((11, 5)).astype(np.float32)
    out = I.predict(m, x, batch_size=4)
    np.testing.assert_allclose(out, m.forward(x), rtol=1e-6)
    assert m.training
    with pytest.raises(ValueError, match="batch_size"):
        I.predict(m, x, batch_size=0)


@pytest.mark.parametrize("patch,sigma", [((16, 16, 8), 0.125), ((7, 9), 0.125), ((5,), 0.3),
                                         ((12, 10), (0.125, 0.25))])
def test_gaussian_map_matches_monai_formula(patch, sigma):
    ours = I.gaussian_importance_map(patch, sigma)
    ref = gaussian_importance_map(patch, sigma)
    assert ours.dtype == np.float32 and ours.shape == patch
    np.testing.assert_allclose(ours, ref, rtol=1e-6)
    # the peak sits at the centre voxel(s): offset 0 (odd size) or 0.5 (even size)
    sig = [p * (sigma if np.isscalar(sigma) else sigma[i]) for i, p in enumerate(patch)]
    peak = np.prod([np.exp(-(0.5 if p % 2 == 0 else 0.0) ** 2 / (2 * s ** 2)) for p, s in zip(patch, sig)])
    assert ours.max() == pytest.approx(peak, rel=1e-6)
    # hand check of one value: the corner of a 1-D patch of 5 with sigma 1.5
    if patch == (5,):
        assert ours[0] == pytest.approx(np.exp(-4 / (2 * 1.5 ** 2)), rel=1e-6)


@pytest.mark.parametrize("img,roi,ov", [((20, 17), (8, 8), 0.25), ((9,), (4,), 0.5),
                                        ((10, 10, 6), (6, 6, 6), 0.25), ((8, 8), (8, 8), 0.25)])
def test_window_starts_match_monai(img, roi, ov):
    ours = [tuple(s) for s in __import__("itertools").product(*I.window_starts(img, roi, ov))]
    assert ours == dense_patch_starts(img, roi, ov)
    # windows cover the image and stay inside it
    cover = np.zeros(img, bool)
    for st in ours:
        cover[tuple(slice(s, s + r) for s, r in zip(st, roi))] = True
        assert all(0 <= s and s + r <= i for s, r, i in zip(st, roi, img))
    assert cover.all()


def identity(x):
    return x


def ones(x):
    return np.ones_like(x)


@pytest.mark.parametrize("shape,roi", [((2, 1, 20, 17), (8, 8)), ((1, 2, 11, 9, 7), (6, 5, 4)),
                                       ((1, 1, 5, 6), (8, 8))])   # the last needs padding
@pytest.mark.parametrize("mode", ["gaussian", "constant"])
def test_identity_and_ones(shape, roi, mode):
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    out = I.sliding_window_inference(x, roi, 3, identity, mode=mode)
    assert out.dtype == np.float32 and out.shape == x.shape
    assert np.array_equal(out, x)
    assert np.array_equal(I.sliding_window_inference(x, roi, 2, ones, mode=mode), np.ones_like(x))


@pytest.mark.parametrize("mode", ["gaussian", "constant"])
@pytest.mark.parametrize("overlap", [0.25, 0.5, 0.0])
def test_vs_numpy_twin_with_position_dependent_model(mode, overlap):
    """A model whose output depends on the window content (a local nonlinearity
    plus a channel mix), so blending weights matter."""
    r = np.random.default_rng(2)
    x = r.standard_normal((2, 2, 19, 14, 9)).astype(np.float32)
    mix = r.standard_normal((3, 2)).astype(np.float32)

    def model(v):
        y = np.einsum("oc,nc...->no...", mix, np.tanh(v))
        return (y + v.mean(axis=(1, 2, 3, 4), keepdims=True)).astype(np.float32)

    ours = I.sliding_window_inference(x, (8, 6, 6), 4, model, overlap=overlap, mode=mode)
    ref = sliding_window_ref(x, (8, 6, 6), model, overlap=overlap, mode=mode)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)


def test_sliding_window_bad_input():
    x = np.zeros((1, 1, 8, 8), np.float32)
    with pytest.raises(ValueError, match="roi_size"):
        I.sliding_window_inference(x, (4, 4, 4), 1, identity)
    with pytest.raises(ValueError, match="overlap"):
        I.sliding_window_inference(x, (4, 4), 1, identity, overlap=1.0)
    with pytest.raises(ValueError, match="predictor returned shape"):
        I.sliding_window_inference(x, (4, 4), 1, lambda v: v[:, :, :2])
    with pytest.raises(ValueError, match="inputs"):
        I.sliding_window_inference(np.zeros(4, np.float32), 2, 1, identity)
    with pytest.raises(TypeError, match="predictor"):
        I.sliding_window_inference(x, (4, 4), 1, 3)


def test_flip_tta():
    x = np.random.default_rng(3).standard_normal((1, 1, 6, 5)).astype(np.float32)
    # equivariant model: every flip gives the same answer
    np.testing.assert_allclose(I.flip_tta(lambda v: 2 * v, x), 2 * x, rtol=1e-6)
    # a model that adds a ramp along axis 2: flips average the ramp with its mirror
    ramp = np.arange(6, dtype=np.float32)[None, None, :, None]
    out = I.flip_tta(lambda v: v + ramp, x, spatial_axes=(2,))
    np.testing.assert_allclose(out, x + (ramp + ramp[:, :, ::-1]) / 2, rtol=1e-6)
    calls = []
    I.flip_tta(lambda v: calls.append(1) or v, np.zeros((1, 1, 2, 2, 2), np.float32))
    assert len(calls) == 8
    with pytest.raises(ValueError, match="spatial_axes"):
        I.flip_tta(identity, x, spatial_axes=(1,))


def test_sliding_window_with_a_real_conv3d_model():
    nn = pytest.importorskip("sacroai.nn")
    if not hasattr(nn, "BatchNorm3d"):
        pytest.skip("sacroai.nn layers are not available")
    model = nn.Sequential(nn.Conv3d(1, 4, 3, padding=1, rng=0), nn.BatchNorm3d(4), nn.ReLU(),
                          nn.Conv3d(4, 2, 1, rng=1))
    x = np.random.default_rng(4).standard_normal((1, 1, 14, 12, 10)).astype(np.float32)
    model.train()
    model(x)                      # one training pass moves the BatchNorm running statistics
    ours = I.sliding_window_inference(x, (8, 8, 8), 2, model)
    assert model.training         # the previous mode is restored
    model.eval()
    ref = sliding_window_ref(x, (8, 8, 8), model)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(I.predict(model, x, batch_size=1), model(x), rtol=1e-6)
