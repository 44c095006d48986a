"""Norm, activation, pooling, upsampling, linear and dropout layers against PyTorch."""
import numpy as np
import pytest

from sacroai import nn
from sacroai.nn import functional as F

from nn_parity import check_parity, rel_err

torch = pytest.importorskip("torch")
torch.set_num_threads(2)


def _x(rng, shape, scale=1.0, shift=0.0):
    return (rng.standard_normal(shape) * scale + shift).astype(np.float32)


# ---------------------------------------------------------------- normalization
@pytest.mark.parametrize("nd", [2, 3])
@pytest.mark.parametrize("affine,track", [(True, True), (False, True), (True, False)])
def test_batchnorm_train_and_eval(nd, affine, track):
    rng = np.random.default_rng(nd)
    C = 5
    tcls = torch.nn.BatchNorm2d if nd == 2 else torch.nn.BatchNorm3d
    ours_cls = nn.BatchNorm2d if nd == 2 else nn.BatchNorm3d
    tm = tcls(C, affine=affine, track_running_stats=track, momentum=0.2)
    ours = ours_cls(C, affine=affine, track_running_stats=track, momentum=0.2)
    if affine:
        with torch.no_grad():
            tm.weight.uniform_(0.5, 1.5)
            tm.bias.uniform_(-1, 1)
    shape = (3, C) + ((6, 7) if nd == 2 else (4, 5, 6))
    x = _x(rng, shape, 2.0, 3.0)
    check_parity(torch, tm, ours, x, rng, train=True)
    # a second training step continues the running statistics, then eval uses them
    x2 = _x(rng, shape, 1.5, -1.0)
    tm.train(); ours.train()
    ty = tm(torch.tensor(x2))
    assert rel_err(ours(x2), ty.detach().numpy()) < 1e-4
    if track:
        assert rel_err(ours.running_var, tm.running_var.numpy()) < 1e-5
        assert int(ours.num_batches_tracked) == 2
        # eval forward and backward (Grad-CAM path) with running statistics
        tm2 = tcls(C, affine=affine, track_running_stats=True)
        tm2.load_state_dict(tm.state_dict())
        ours2 = ours_cls(C, affine=affine)
        check_parity(torch, tm2, ours2, x2, rng, train=False)


def test_batchnorm_momentum_none_cumulative():
    rng = np.random.default_rng(0)
    tm = torch.nn.BatchNorm2d(3, momentum=None)
    ours = nn.BatchNorm2d(3, momentum=None)
    for i in range(3):
        x = _x(rng, (2, 3, 4, 4), 1 + i, i)
        tm(torch.tensor(x)); ours(x)
    assert rel_err(ours.running_mean, tm.running_mean.numpy()) < 1e-5
    assert rel_err(ours.running_var, tm.running_var.numpy()) < 1e-5


def test_batchnorm_state_dict_keys():
    assert list(nn.BatchNorm3d(4).state_dict()) == list(torch.nn.BatchNorm3d(4).state_dict())
    assert nn.BatchNorm2d(4).state_dict()["num_batches_tracked"].dtype == np.int64


@pytest.mark.parametrize("nd", [2, 3])
@pytest.mark.parametrize("affine", [False, True])
def test_instancenorm(nd, affine):
    rng = np.random.default_rng(4)
    tcls = torch.nn.InstanceNorm2d if nd == 2 else torch.nn.InstanceNorm3d
    ours_cls = nn.InstanceNorm2d if nd == 2 else nn.InstanceNorm3d
    tm, ours = tcls(4, affine=affine), ours_cls(4, affine=affine)
    if affine:
        with torch.no_grad():
            tm.weight.uniform_(0.5, 1.5); tm.bias.uniform_(-1, 1)
    shape = (2, 4) + ((7, 6) if nd == 2 else (4, 5, 3))
    check_parity(torch, tm, ours, _x(rng, shape, 3.0, 2.0), rng)


def test_instancenorm_tracking_running_stats():
    rng = np.random.default_rng(5)
    tm, ours = torch.nn.InstanceNorm3d(3, track_running_stats=True), nn.InstanceNorm3d(3, track_running_stats=True)
    check_parity(torch, tm, ours, _x(rng, (2, 3, 4, 5, 3), 2.0, 1.0), rng)
    tm.eval(); ours.eval()
    x = _x(rng, (2, 3, 4, 5, 3))
    assert rel_err(ours(x), tm(torch.tensor(x)).detach().numpy()) < 1e-4


@pytest.mark.parametrize("groups,C,shape", [(2, 6, (2, 6, 5, 4)), (3, 6, (1, 6, 3, 4, 5)), (1, 4, (2, 4, 7)),
                                            (4, 4, (2, 4, 3, 3))])
def test_groupnorm(groups, C, shape):
    rng = np.random.default_rng(6)
    tm, ours = torch.nn.GroupNorm(groups, C), nn.GroupNorm(groups, C)
    with torch.no_grad():
        tm.weight.uniform_(0.5, 1.5); tm.bias.uniform_(-1, 1)
    check_parity(torch, tm, ours, _x(rng, shape, 2.0, -1.0), rng)


# ---------------------------------------------------------------- activations
@pytest.mark.parametrize("make", [
    lambda m: m.ReLU(), lambda m: m.LeakyReLU(0.2), lambda m: m.Sigmoid(), lambda m: m.Tanh(),
    lambda m: m.PReLU(), lambda m: m.PReLU(4, 0.1),
    lambda m: m.Softmax(dim=1), lambda m: m.LogSoftmax(dim=1), lambda m: m.Softmax(dim=-1),
    lambda m: m.LogSoftmax(dim=0)])
@pytest.mark.parametrize("shape", [(2, 4, 5, 6), (2, 4, 3, 3, 2)])
def test_activation_parity(make, shape):
    rng = np.random.default_rng(7)
    check_parity(torch, make(torch.nn), make(nn), _x(rng, shape, 3.0), rng)


def test_softmax_on_logits_2d():
    rng = np.random.default_rng(8)
    check_parity(torch, torch.nn.Softmax(dim=1), nn.Softmax(dim=1), _x(rng, (5, 3), 10.0), rng)


def test_sigmoid_extremes():
    x = np.array([-100.0, -20.0, 0.0, 20.0, 100.0], np.float32)
    np.testing.assert_allclose(F.sigmoid(x), torch.sigmoid(torch.tensor(x)).numpy(), rtol=1e-6, atol=1e-30)


# ---------------------------------------------------------------- pooling
@pytest.mark.parametrize("nd", [2, 3])
@pytest.mark.parametrize("args", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                  dict(kernel_size=3, stride=2, ceil_mode=True),
                                  dict(kernel_size=2, stride=1, dilation=2),
                                  dict(kernel_size=3, stride=3, padding=1, ceil_mode=True)])
def test_maxpool(nd, args):
    rng = np.random.default_rng(9)
    tm = (torch.nn.MaxPool2d if nd == 2 else torch.nn.MaxPool3d)(**args)
    ours = (nn.MaxPool2d if nd == 2 else nn.MaxPool3d)(**args)
    shape = (2, 3) + ((9, 8) if nd == 2 else (7, 6, 8))
    check_parity(torch, tm, ours, _x(rng, shape), rng)


@pytest.mark.parametrize("nd", [2, 3])
@pytest.mark.parametrize("args", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                  dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
                                  dict(kernel_size=3, stride=2, ceil_mode=True),
                                  dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)])
def test_avgpool(nd, args):
    rng = np.random.default_rng(10)
    tm = (torch.nn.AvgPool2d if nd == 2 else torch.nn.AvgPool3d)(**args)
    ours = (nn.AvgPool2d if nd == 2 else nn.AvgPool3d)(**args)
    shape = (2, 3) + ((9, 8) if nd == 2 else (7, 6, 8))
    check_parity(torch, tm, ours, _x(rng, shape), rng)


@pytest.mark.parametrize("nd", [2, 3])
@pytest.mark.parametrize("out", [1, 2, 3, 5])
def test_adaptive_avgpool(nd, out):
    rng = np.random.default_rng(11)
    tm = (torch.nn.AdaptiveAvgPool2d if nd == 2 else torch.nn.AdaptiveAvgPool3d)(out)
    ours = (nn.AdaptiveAvgPool2d if nd == 2 else nn.AdaptiveAvgPool3d)(out)
    shape = (2, 3) + ((9, 7) if nd == 2 else (7, 6, 5))
    check_parity(torch, tm, ours, _x(rng, shape), rng)


def test_maxpool_indices_match_torch():
    rng = np.random.default_rng(12)
    x = _x(rng, (1, 2, 7, 7))
    y, idx = F.max_pool(x, 3, 2, 1, nd=2)
    ty, tidx = torch.nn.functional.max_pool2d(torch.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(idx, tidx.numpy())


# ---------------------------------------------------------------- upsampling
@pytest.mark.parametrize("nd", [2, 3])
@pytest.mark.parametrize("kw", [dict(scale_factor=2, mode="nearest"), dict(size=None, scale_factor=1.7, mode="nearest"),
                                dict(scale_factor=2, mode="linear", align_corners=False),
                                dict(scale_factor=2, mode="linear", align_corners=True),
                                dict(scale_factor=0.6, mode="linear", align_corners=False),
                                dict(size="odd", mode="linear", align_corners=False),
                                dict(size="odd", mode="linear", align_corners=True),
                                dict(size="odd", mode="nearest")])
def test_upsample(nd, kw):
    rng = np.random.default_rng(13)
    kw = dict(kw)
    if kw.get("size") == "odd":
        kw["size"] = (11, 5) if nd == 2 else (5, 9, 4)
    elif "size" in kw:
        del kw["size"]
    if kw["mode"] == "linear":
        kw["mode"] = "bilinear" if nd == 2 else "trilinear"
    tm, ours = torch.nn.Upsample(**kw), nn.Upsample(**kw)
    shape = (2, 3) + ((6, 7) if nd == 2 else (4, 5, 3))
    check_parity(torch, tm, ours, _x(rng, shape), rng)


# ---------------------------------------------------------------- linear, flatten, dropout
@pytest.mark.parametrize("shape,bias", [((4, 10), True), ((2, 3, 10), False), ((1, 10), True)])
def test_linear(shape, bias):
    rng = np.random.default_rng(14)
    check_parity(torch, torch.nn.Linear(10, 6, bias=bias), nn.Linear(10, 6, bias=bias), _x(rng, shape), rng)


def test_flatten_identity_sequential_head():
    rng = np.random.default_rng(15)
    tm = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1, bias=False), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                             torch.nn.MaxPool2d(2), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                             torch.nn.Identity(), torch.nn.Linear(4, 2))
    ours = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Identity(), nn.Linear(4, 2))
    assert list(ours.state_dict()) == list(tm.state_dict())
    check_parity(torch, tm, ours, _x(rng, (3, 3, 8, 8)), rng)


def test_dropout_statistics_determinism_and_backward():
    x = np.ones((200, 500), np.float32)
    y1 = F.dropout(x, 0.3, 1234)
    y2 = F.dropout(x, 0.3, 1234)
    np.testing.assert_array_equal(y1, y2)
    kept = y1 != 0
    assert abs(kept.mean() - 0.7) < 0.005
    np.testing.assert_allclose(y1[kept], 1 / 0.7, rtol=1e-6)
    assert not np.array_equal(y1, F.dropout(x, 0.3, 1235))
    d = nn.Dropout(0.3, rng=0)
    y = d(x)
    g = d.backward(np.full_like(x, 2.0))
    np.testing.assert_array_equal(g != 0, y != 0)
    np.testing.assert_allclose(g[y != 0], 2 / 0.7, rtol=1e-6)
    d.eval()
    assert d(x) is x


def test_cat_and_split():
    a, b = np.ones((2, 3, 4, 4), np.float32), np.zeros((2, 5, 4, 4), np.float32)
    c = F.cat([a, b])
    ga, gb = F.split_grad(c, [3, 5])
    np.testing.assert_array_equal(ga, a)
    np.testing.assert_array_equal(gb, b)


# ---------------------------------------------------------------- errors
def test_errors_name_layer_and_expected_shape():
    with pytest.raises(ValueError, match=r"BatchNorm2d: input has 3 channels, expected 4.*\(N, 4, H, W\)"):
        nn.BatchNorm2d(4)(np.zeros((2, 3, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"BatchNorm3d: input must have 5 dimensions \(N, 4, D, H, W\)"):
        nn.BatchNorm3d(4)(np.zeros((2, 4, 5, 5), np.float32))
    with pytest.raises(TypeError, match=r"MaxPool2d: input must have dtype float32, got float64"):
        nn.MaxPool2d(2)(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"AvgPool3d: input must have 5 dimensions"):
        nn.AvgPool3d(2)(np.zeros((1, 1, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r"Linear: input must have shape \(\*, 10\), got \(2, 9\)"):
        nn.Linear(10, 3)(np.zeros((2, 9), np.float32))
    with pytest.raises(ValueError, match=r"GroupNorm: input must have shape \(N, 6, \*\)"):
        nn.GroupNorm(2, 6)(np.zeros((2, 4, 3), np.float32))
    with pytest.raises(ValueError, match="expected more than 1 value per channel"):
        nn.BatchNorm2d(2)(np.zeros((1, 2, 1, 1), np.float32))
    with pytest.raises(ValueError, match="Upsample: mode 'trilinear' needs a 5-d input"):
        nn.Upsample(scale_factor=2, mode="trilinear")(np.zeros((1, 1, 4, 4), np.float32))
    with pytest.raises(TypeError, match="ReLU: input must have dtype float32"):
        nn.ReLU()(np.zeros(3, np.int64))
    with pytest.raises(ValueError, match=r"PReLU: input must have 3 channels"):
        nn.PReLU(3)(np.zeros((2, 4, 5), np.float32))


@pytest.mark.parametrize("make", [
    lambda m: m.BatchNorm2d(3), lambda m: m.GroupNorm(3, 3), lambda m: m.InstanceNorm2d(3, affine=True),
    lambda m: m.ReLU(), lambda m: m.PReLU(3), lambda m: m.Softmax(dim=1), lambda m: m.MaxPool2d(2),
    lambda m: m.AvgPool2d(3, 2, 1), lambda m: m.AdaptiveAvgPool2d(2), lambda m: m.Upsample(scale_factor=2,
                                                                                          mode="bilinear"),
    lambda m: m.ConvTranspose2d(3, 2, 2, stride=2)])
def test_readonly_noncontiguous_inputs(make):
    rng = np.random.default_rng(30)
    base = _x(rng, (2, 8, 9, 3))
    x = base.transpose(0, 3, 1, 2)  # (2, 3, 8, 9) view, not C-contiguous
    x.flags.writeable = False
    check_parity(torch, make(torch.nn), make(nn), x, rng)


@pytest.mark.parametrize("nd", [2, 3])
def test_maxpool_nan_and_ties_like_torch(nd):
    rng = np.random.default_rng(31)
    shape = (2, 2, 12, 12) if nd == 2 else (2, 2, 6, 7, 8)
    x = rng.standard_normal(shape).astype(np.float32)
    x.reshape(-1)[rng.integers(0, x.size, 40)] = np.nan
    x[1, 1, :4] = 0.0  # ties
    f = torch.nn.functional.max_pool2d if nd == 2 else torch.nn.functional.max_pool3d
    for args in [(3, 2, 1), (2, 2, 0), (3, 1, 1)]:
        y, idx = F.max_pool(x, *args, nd=nd)
        ty, tidx = f(torch.from_numpy(x), *args, return_indices=True)
        np.testing.assert_array_equal(idx, tidx.numpy())
        np.testing.assert_array_equal(np.isnan(y), np.isnan(ty.numpy()))
        np.testing.assert_array_equal(np.nan_to_num(y), np.nan_to_num(ty.numpy()))


@pytest.mark.parametrize("shape,nd", [((2, 3, 6, 9, 37), 3), ((1, 2, 5, 4, 33), 3), ((3, 2, 11, 50), 2),
                                      ((1, 1, 2, 2, 2), 3), ((2, 4, 7, 15), 2)])
def test_maxpool_2x2_fast_path_like_torch(shape, nd):
    """The vectorised 2 x 2 (x 2) / stride 2 kernel: values and indices as PyTorch, with
    ties (small integers), NaNs, odd sizes (the last row/column dropped) and row tails."""
    rng = np.random.default_rng(sum(shape))
    x = rng.integers(-3, 4, shape).astype(np.float32)
    x[rng.random(shape) < 0.05] = np.nan
    y, idx = F.max_pool(x, 2, nd=nd)
    tpool = torch.nn.functional.max_pool3d if nd == 3 else torch.nn.functional.max_pool2d
    ty, tidx = tpool(torch.from_numpy(x), 2, return_indices=True)
    np.testing.assert_array_equal(y, ty.numpy())
    np.testing.assert_array_equal(idx, tidx.numpy())
    y2, none = F.max_pool(x, 2, nd=nd, return_indices=False)
    np.testing.assert_array_equal(y2, y)
    assert none is None


@pytest.mark.parametrize("slope", [0.0, 0.01, -0.3])
def test_relu_leaky_relu_exact_against_numpy(slope):
    """The vectorised kernels equal the NumPy expressions bit for bit (NaN, +-0, inf, odd lengths)."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((3, 5, 7, 11)).astype(np.float32)
    x.flat[:6] = [np.nan, -0.0, 0.0, np.inf, -np.inf, 1e-40]
    m = nn.ReLU() if slope == 0.0 else nn.LeakyReLU(slope)
    m.train()
    y = m(x)
    ref = np.where(x > 0, x, np.float32(0.0) if slope == 0.0 else x * np.float32(slope))
    np.testing.assert_array_equal(y, ref)
    assert np.array_equal(np.signbit(y), np.signbit(ref))
    g = rng.standard_normal(x.shape).astype(np.float32)
    dx = m.backward(g)
    gref = np.where((y if slope == 0.0 else x) > 0, g, np.float32(0.0) if slope == 0.0 else g * np.float32(slope))
    np.testing.assert_array_equal(dx, gref)
