"""Grad-CAM and Grad-CAM++ against the same formulas computed with PyTorch autograd."""
import numpy as np
import pytest

import sacroai
from sacroai import nn
from sacroai.explain import grad_cam, grad_cam_plus_plus, roi_fraction

torch = pytest.importorskip("torch")
torch.set_num_threads(2)


def _models(spatial_dims, seed=0):
    conv = nn.Conv2d if spatial_dims == 2 else nn.Conv3d
    pool = nn.AdaptiveAvgPool2d if spatial_dims == 2 else nn.AdaptiveAvgPool3d
    ours = nn.Sequential(conv(1, 4, 3, padding=1, rng=seed), nn.ReLU(), conv(4, 6, 3, padding=1, stride=2, rng=seed + 1),
                         nn.ReLU(), pool(1), nn.Flatten(), nn.Linear(6, 3, rng=seed + 2))
    tconv = torch.nn.Conv2d if spatial_dims == 2 else torch.nn.Conv3d
    tpool = torch.nn.AdaptiveAvgPool2d if spatial_dims == 2 else torch.nn.AdaptiveAvgPool3d
    ref = torch.nn.Sequential(tconv(1, 4, 3, padding=1), torch.nn.ReLU(), tconv(4, 6, 3, padding=1, stride=2),
                              torch.nn.ReLU(), tpool(1), torch.nn.Flatten(), torch.nn.Linear(6, 3))
    ref.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in ours.state_dict().items()})
    return ours, ref


def _torch_cam(ref, x, layer_index, k, plus):
    store = {}
    layer = ref[layer_index]
    layer.register_forward_hook(lambda m, i, o: store.__setitem__("a", o))
    out = ref(torch.from_numpy(x))
    a = store["a"]
    (g,) = torch.autograd.grad(out[0, k], a)
    a, g = a[0].double(), g[0].double()
    dims = tuple(range(1, a.ndim))
    if plus:
        g2, g3 = g ** 2, g ** 3
        denom = 2 * g2 + a.sum(dim=dims, keepdim=True) * g3
        alpha = torch.where(denom.abs() > 1e-12, g2 / denom, torch.zeros_like(g2))
        w = (alpha * torch.relu(g)).sum(dim=dims)
    else:
        w = g.mean(dim=dims)
    cam = torch.relu((w.view(-1, *[1] * (a.ndim - 1)) * a).sum(0))
    return cam.detach().numpy()


@pytest.mark.parametrize("spatial_dims", [2, 3])
@pytest.mark.parametrize("plus", [False, True])
def test_matches_torch_autograd(spatial_dims, plus):
    ours, ref = _models(spatial_dims)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 1) + (12,) * spatial_dims).astype(np.float32)
    cam = grad_cam(ours, x, target_layer="3", class_index=1, plus=plus, normalize=False)
    expected = _torch_cam(ref, x, 3, 1, plus)
    # ours is on the input grid; compare on the layer grid by sampling every other voxel centre
    from sacroai.explain import _zoom_to
    np.testing.assert_allclose(cam, _zoom_to(expected, x.shape[2:]), rtol=1e-4, atol=1e-5 * expected.max())


def test_volume_input_returns_a_volume_on_its_grid():
    ours, _ = _models(3)
    vol = sacroai.Volume(np.random.default_rng(2).standard_normal((12, 12, 12)).astype(np.float32),
                         spacing=(0.8, 0.8, 4.0))
    cam = grad_cam_plus_plus(ours, vol, target_layer="3")
    assert isinstance(cam, sacroai.Volume) and cam.shape == vol.shape
    np.testing.assert_array_equal(cam.affine, vol.affine)
    assert 0.0 <= float(np.min(cam.array)) and float(np.max(cam.array)) <= 1.0 + 1e-6


def test_roi_fraction():
    cam = np.zeros((4, 4))
    cam[0, 0], cam[3, 3] = 3.0, 1.0
    roi = np.zeros((4, 4), bool)
    roi[0, 0] = True
    assert roi_fraction(cam, roi) == pytest.approx(0.75)
    assert np.isnan(roi_fraction(np.zeros((4, 4)), roi))
    with pytest.raises(ValueError, match="shape"):
        roi_fraction(cam, np.zeros((3, 3), bool))


def test_bad_arguments():
    ours, _ = _models(2)
    x = np.zeros((1, 1, 8, 8), np.float32)
    with pytest.raises(ValueError, match="not a submodule"):
        grad_cam(ours, x, target_layer="nope")
    with pytest.raises(ValueError, match="class_index"):
        grad_cam(ours, x, target_layer="3", class_index=7)
    with pytest.raises(ValueError, match="batch of one"):
        grad_cam(ours, np.zeros((2, 1, 8, 8), np.float32), target_layer="3")
