"""Winograd F(2, 3) convolutions (3x3 and 3x3x3, stride 1) against PyTorch and the im2col path.

Also the switches around it: ``conv_algorithm`` and ``no_input_grad``.
"""
import numpy as np
import pytest

import sacroai
from sacroai import nn
from sacroai.nn import functional as F
from sacroai.nn.conv import Conv2d, Conv3d

from nn_parity import check_parity, rel_err

torch = pytest.importorskip("torch")
torch.set_num_threads(2)

# (batch, c_in, c_out, spatial size, padding, bias): odd and even sizes, tiles that
# straddle rows and samples, padding 0-2, channel counts that are not multiples of 16
CASES_3D = [
    (1, 8, 8, (9, 7, 11), 1, True),
    (2, 16, 24, (5, 6, 7), 1, False),
    (1, 32, 32, (12, 12, 12), 1, True),
    (2, 9, 10, (6, 7, 9), 0, True),
    (1, 16, 8, (8, 8, 8), 2, False),
    (2, 12, 12, (1, 9, 9), 1, True),
    (1, 40, 20, (6, 5, 4), 1, False),
    (1, 8, 12, (26, 24, 22), 1, True),  # > 1024 tiles: the blocked weight-gradient path
]
CASES_2D = [
    (3, 8, 16, (10, 13), 1, True),
    (1, 64, 64, (17, 19), 1, False),
    (4, 20, 36, (7, 6), 0, True),
    (2, 33, 8, (31, 3), 2, False),
]


def _conv_module(nd, cin, cout, pad, bias):
    return (Conv3d if nd == 3 else Conv2d)(cin, cout, 3, padding=pad, bias=bias, rng=0)


@pytest.fixture(params=[2, 4], ids=["auto", "fast"])
def tile_2d(request):
    """Forward tile of 2-D layers: F(2x2, 3x3) ("auto") and F(4x4, 3x3) ("fast")."""
    with nn.conv_algorithm("auto" if request.param == 2 else "fast"):
        yield request.param


@pytest.mark.parametrize("case", CASES_3D + CASES_2D)
def test_winograd_layer_parity_with_torch(case, tile_2d):
    n, cin, cout, size, pad, bias = case
    nd = len(size)
    rng = np.random.default_rng(cin * 31 + cout)
    tm = (torch.nn.Conv3d if nd == 3 else torch.nn.Conv2d)(cin, cout, 3, padding=pad, bias=bias)
    x = rng.standard_normal((n, cin) + size).astype(np.float32)
    errs = check_parity(torch, tm, _conv_module(nd, cin, cout, pad, bias), x, rng)
    # F(4, 3) multiplies by up to 8 and divides by 24 in its transforms: a few 1e-6
    assert max(errs.values()) <= (3e-5 if nd == 2 and tile_2d == 4 else 1e-5), errs


def test_winograd_2d_tiles_on_depth_stacks_and_many_tiles(tile_2d):
    """Kernel (1, 3, 3) on a 3-D volume (2-D tiles per depth plane) and rows of > 16 tiles."""
    rng = np.random.default_rng(21)
    x = rng.standard_normal((2, 12, 3, 9, 70)).astype(np.float32)
    w = (rng.standard_normal((16, 12, 1, 3, 3)) * 0.2).astype(np.float32)
    ref = torch.nn.functional.conv3d(torch.from_numpy(x), torch.from_numpy(w), padding=(0, 1, 1)).numpy()
    assert rel_err(F.conv(x, w, None, padding=(0, 1, 1), nd=3), ref) <= 3e-5


def _rand_layer(case, seed):
    n, cin, cout, size, pad, bias = case
    rng = np.random.default_rng(seed)
    nd = len(size)
    x = rng.standard_normal((n, cin) + size).astype(np.float32)
    w = (rng.standard_normal((cout, cin) + (3,) * nd) * 0.2).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32) if bias else None
    return x, w, b, pad, nd


def _all_grads(x, w, b, pad, nd):
    y = F.conv(x, w, b, padding=(pad,) * nd, nd=nd)
    g = np.random.default_rng(7).standard_normal(y.shape).astype(np.float32)
    dx, dw, db = F.conv_backward(x, w, g, (1,) * nd, (pad,) * nd, (1,) * nd, 1, nd)
    return y, dx, dw


@pytest.mark.parametrize("case", CASES_3D[:4] + CASES_2D[:2])
def test_winograd_is_used_and_agrees_with_im2col(case):
    """Under "auto" these layers run by Winograd: results round differently from the
    im2col path (so the dispatch really happened) but agree to float32 precision."""
    x, w, b, pad, nd = _rand_layer(case, 3)
    with nn.conv_algorithm("gemm"):
        ref = _all_grads(x, w, b, pad, nd)
    assert nn.get_conv_algorithm() == "auto"
    got = _all_grads(x, w, b, pad, nd)
    for name, a, r in zip(("output", "grad_input", "grad_weight"), got, ref):
        assert rel_err(a, r) <= 3e-5, name
    assert not all(np.array_equal(a, r) for a, r in zip(got, ref))


@pytest.mark.parametrize("kwargs", [dict(stride=2), dict(groups=2), dict(dilation=2), dict(cin=4)])
def test_layers_outside_winograd_are_unchanged(kwargs):
    """Strided, grouped, dilated and few-channel layers keep the im2col path bit for bit."""
    rng = np.random.default_rng(5)
    cin = kwargs.pop("cin", 8)
    groups = kwargs.get("groups", 1)
    x = rng.standard_normal((2, cin, 9, 10, 8)).astype(np.float32)
    w = (rng.standard_normal((8, cin // groups, 3, 3, 3)) * 0.2).astype(np.float32)
    st, dl = kwargs.get("stride", 1), kwargs.get("dilation", 1)
    outs = []
    for algo in ("gemm", "auto"):
        with nn.conv_algorithm(algo):
            y = F.conv(x, w, None, stride=st, padding=1, dilation=dl, groups=groups, nd=3)
            g = np.ones_like(y)
            outs.append((y,) + F.conv_backward(x, w, g, (st,) * 3, (1,) * 3, (dl,) * 3, groups, 3)[:2])
    for a, r in zip(*outs):
        assert np.array_equal(a, r)


def test_winograd_read_only_and_strided_inputs():
    x, w, b, pad, nd = _rand_layer(CASES_3D[2], 11)
    ref = F.conv(x, w, b, padding=(pad,) * nd, nd=nd)
    big = np.zeros(x.shape[:-1] + (2 * x.shape[-1],), np.float32)
    big[..., ::2] = x
    view = big[..., ::2]
    ro = x.copy()
    ro.flags.writeable = False
    assert np.array_equal(F.conv(view, w, b, padding=(pad,) * nd, nd=nd), ref)
    assert np.array_equal(F.conv(ro, w, b, padding=(pad,) * nd, nd=nd), ref)


@pytest.mark.parametrize("threads", [1, 2])
def test_winograd_is_deterministic(threads):
    old = sacroai.get_num_threads()
    sacroai.set_num_threads(threads)
    try:
        x, w, b, pad, nd = _rand_layer((2, 32, 32, (10, 11, 12), 1, True), 13)
        first = _all_grads(x, w, b, pad, nd)
        for _ in range(2):
            for a, r in zip(_all_grads(x, w, b, pad, nd), first):
                assert np.array_equal(a, r)
    finally:
        sacroai.set_num_threads(old)


def test_conv_algorithm_rejects_unknown_names_and_restores():
    with pytest.raises(ValueError, match="name must be one of"):
        nn.set_conv_algorithm("fft")
    with nn.conv_algorithm("fast"):
        assert nn.get_conv_algorithm() == "fast"
    with nn.conv_algorithm("gemm"):
        assert nn.get_conv_algorithm() == "gemm"
    assert nn.get_conv_algorithm() == "auto"


def test_no_input_grad_skips_only_the_stem_input_gradient():
    """Parameter gradients are bit-identical; model.backward returns None for the data."""
    from sacroai.nn.models import CNN3D

    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 1, 16, 16, 16)).astype(np.float32)
    model = CNN3D(3, 1, 3, (8, 16), dropout=0.0, rng=0)
    y = model(x)
    g = rng.standard_normal(y.shape).astype(np.float32)
    dx = model.backward(g)
    assert dx is not None and dx.shape == x.shape
    grads = {k: p.grad.copy() for k, p in model.named_parameters()}
    model.zero_grad()
    model(x)
    with nn.no_input_grad():
        assert model.backward(g) is None
    for k, p in model.named_parameters():
        assert np.array_equal(p.grad, grads[k]), k
    # a layer fed by another layer still returns its input gradient inside the context
    conv = Conv3d(1, 4, 3, padding=1, rng=0)
    stem = nn.Sequential(Conv3d(1, 1, 1, rng=1), conv)
    stem(x)
    with nn.no_input_grad():
        stem.backward(np.ones((2, 4, 16, 16, 16), np.float32))
    assert stem[0].weight.grad is not None


@pytest.mark.parametrize("n,cin,cout,size", [(1, 16, 8, (9, 10, 11)), (2, 8, 1, (33, 5, 7)), (3, 64, 32, (4, 6)),
                                             (1, 5, 3, (70, 70))])
def test_pointwise_weight_gradient_with_few_channels(n, cin, cout, size):
    """1x1 layers with <= 32 x 64 channels take a direct kernel under "auto": PyTorch parity,
    agreement with the GEMM path, and a fixed summation order (same bits at 1 and 2 threads)."""
    nd = len(size)
    rng = np.random.default_rng(cin + cout)
    tm = (torch.nn.Conv3d if nd == 3 else torch.nn.Conv2d)(cin, cout, 1)
    ours = (Conv3d if nd == 3 else Conv2d)(cin, cout, 1, rng=0)
    x = rng.standard_normal((n, cin) + size).astype(np.float32)
    errs = check_parity(torch, tm, ours, x, rng)
    assert max(errs.values()) <= 1e-5, errs
    g = rng.standard_normal((n, cout) + size).astype(np.float32)
    args = ((1,) * nd, (0,) * nd, (1,) * nd, 1, nd, False)
    w = ours.weight.data
    with nn.conv_algorithm("gemm"):
        ref = F.conv_backward(x, w, g, *args)[1]
    old = sacroai.get_num_threads()
    try:
        got = []
        for threads in (1, 2):
            sacroai.set_num_threads(threads)
            got.append(F.conv_backward(x, w, g, *args)[1])
    finally:
        sacroai.set_num_threads(old)
    assert np.array_equal(got[0], got[1])
    assert rel_err(got[0], ref) <= 1e-5


@pytest.mark.parametrize("nd,k,op", [(3, 2, 0), (3, 2, 1), (2, 2, 0), (2, 3, 0), (3, (1, 2, 2), 0)])
def test_transposed_conv_with_disjoint_windows(nd, k, op):
    """kernel == stride (U-Net upsampling): tiles split over threads; parity with PyTorch at 2 threads."""
    from sacroai.nn.conv import ConvTranspose2d, ConvTranspose3d
    old = sacroai.get_num_threads()
    sacroai.set_num_threads(2)
    try:
        rng = np.random.default_rng(17)
        size = (5, 6, 7) if nd == 3 else (9, 11)
        T = torch.nn.ConvTranspose3d if nd == 3 else torch.nn.ConvTranspose2d
        O = ConvTranspose3d if nd == 3 else ConvTranspose2d
        tm = T(12, 6, k, stride=k, output_padding=op)
        x = rng.standard_normal((2, 12) + size).astype(np.float32)
        errs = check_parity(torch, tm, O(12, 6, k, stride=k, output_padding=op, rng=0), x, rng)
        assert max(errs.values()) <= 1e-5, errs
    finally:
        sacroai.set_num_threads(old)
