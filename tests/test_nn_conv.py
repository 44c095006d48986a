"""Convolution layers against PyTorch: forward, input/weight/bias gradients, errors."""
import numpy as np
import pytest

from sacroai import nn
from sacroai.nn.conv import Conv2d, Conv3d, ConvTranspose2d, ConvTranspose3d

from nn_parity import check_parity

torch = pytest.importorskip("torch")
torch.set_num_threads(2)


def _cases(nd, count, seed):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        groups = int(rng.choice([1, 1, 2, 3]))
        cin = groups * int(rng.integers(1, 4))
        cout = groups * int(rng.integers(1, 4))
        if i % 5 == 4:  # depthwise
            groups, cin, cout = 4, 4, 8
        k = tuple(int(v) for v in rng.integers(1, 4, nd))
        stride = tuple(int(v) for v in rng.integers(1, 3, nd))
        pad = tuple(int(v) for v in rng.integers(0, 3, nd))
        dil = tuple(int(v) for v in rng.integers(1, 3, nd))
        size = tuple(int(v) for v in rng.integers(6, 10 if nd == 3 else 14, nd))
        n = int(rng.integers(1, 3))
        bias = bool(i % 3)
        out.append((n, cin, cout, groups, k, stride, pad, dil, size, bias))
    return out


@pytest.mark.parametrize("case", _cases(2, 14, 1))
def test_conv2d_parity(case):
    n, cin, cout, groups, k, stride, pad, dil, size, bias = case
    rng = np.random.default_rng(hash(case) % 2**32)
    tm = torch.nn.Conv2d(cin, cout, k, stride, pad, dil, groups, bias)
    ours = Conv2d(cin, cout, k, stride, pad, dil, groups, bias)
    x = rng.standard_normal((n, cin) + size).astype(np.float32)
    check_parity(torch, tm, ours, x, rng)


@pytest.mark.parametrize("case", _cases(3, 10, 2))
def test_conv3d_parity(case):
    n, cin, cout, groups, k, stride, pad, dil, size, bias = case
    rng = np.random.default_rng(hash(case) % 2**32)
    tm = torch.nn.Conv3d(cin, cout, k, stride, pad, dil, groups, bias)
    ours = Conv3d(cin, cout, k, stride, pad, dil, groups, bias)
    x = rng.standard_normal((n, cin) + size).astype(np.float32)
    check_parity(torch, tm, ours, x, rng)


@pytest.mark.parametrize("nd,cls,tcls", [(2, Conv2d, "Conv2d"), (3, Conv3d, "Conv3d")])
def test_pointwise_and_realistic(nd, cls, tcls):
    rng = np.random.default_rng(5)
    for k, pad, stride in [(1, 0, 1), (3, 1, 1), (3, 1, 2), (1, 0, 2)]:
        tm = getattr(torch.nn, tcls)(16, 24, k, stride, pad, bias=False)
        ours = cls(16, 24, k, stride, pad, bias=False)
        size = (20, 21) if nd == 2 else (9, 10, 11)
        x = rng.standard_normal((2, 16) + size).astype(np.float32)
        check_parity(torch, tm, ours, x, rng)


def _tcases(nd, count, seed):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        groups = int(rng.choice([1, 1, 2]))
        cin = groups * int(rng.integers(1, 4))
        cout = groups * int(rng.integers(1, 4))
        k = tuple(int(v) for v in rng.integers(1, 4, nd))
        stride = tuple(int(v) for v in rng.integers(1, 3, nd))
        pad = tuple(int(v) for v in rng.integers(0, 2, nd))
        dil = tuple(int(v) for v in rng.integers(1, 3, nd))
        opad = tuple(int(rng.integers(0, s)) for s in stride)
        size = tuple(int(v) for v in rng.integers(4, 8, nd))
        out.append((int(rng.integers(1, 3)), cin, cout, groups, k, stride, pad, opad, dil, size, bool(i % 2)))
    return out


@pytest.mark.parametrize("nd", [2, 3])
def test_conv_transpose_parity(nd):
    cls = ConvTranspose2d if nd == 2 else ConvTranspose3d
    tcls = torch.nn.ConvTranspose2d if nd == 2 else torch.nn.ConvTranspose3d
    for case in _tcases(nd, 8, 10 + nd):
        n, cin, cout, groups, k, stride, pad, opad, dil, size, bias = case
        rng = np.random.default_rng(1)
        tm = tcls(cin, cout, k, stride, pad, opad, groups, bias, dil)
        ours = cls(cin, cout, k, stride, pad, opad, groups, bias, dil)
        x = rng.standard_normal((n, cin) + size).astype(np.float32)
        check_parity(torch, tm, ours, x, rng)


def test_conv_noncontiguous_and_readonly_input():
    rng = np.random.default_rng(3)
    tm = torch.nn.Conv2d(3, 4, 3, padding=1)
    ours = Conv2d(3, 4, 3, padding=1)
    base = rng.standard_normal((2, 10, 12, 3)).astype(np.float32)
    x = base.transpose(0, 3, 1, 2)  # channels-last view: not C-contiguous
    x.flags.writeable = False
    check_parity(torch, tm, ours, x, rng)


def test_same_padding_and_param_shapes():
    m = Conv3d(2, 6, (3, 5, 1), padding="same", groups=2)
    assert m.weight.shape == (6, 1, 3, 5, 1) and m.bias.shape == (6,)
    assert list(m.state_dict()) == ["weight", "bias"]
    assert m(np.zeros((1, 2, 4, 5, 6), np.float32)).shape == (1, 6, 4, 5, 6)
    t = ConvTranspose2d(4, 6, 2, stride=2, groups=2)
    assert t.weight.shape == (4, 3, 2, 2)
    # initialisation bound as PyTorch: 1/sqrt(fan_in)
    c = Conv2d(8, 16, 3, rng=0)
    assert np.abs(c.weight.data).max() <= 1 / np.sqrt(72) + 1e-7
    assert np.abs(c.weight.data).max() > 0.8 / np.sqrt(72)
    np.testing.assert_array_equal(Conv2d(8, 16, 3, rng=7).weight.data, Conv2d(8, 16, 3, rng=7).weight.data)


def test_conv_errors_name_layer_and_shape():
    m = Conv2d(3, 8, 3)
    with pytest.raises(ValueError, match=r"Conv2d: input must have 4 dimensions \(N, 3, H, W\)"):
        m(np.zeros((3, 8, 8), np.float32))
    with pytest.raises(ValueError, match=r"Conv2d: input has 2 channels, expected 3"):
        m(np.zeros((1, 2, 8, 8), np.float32))
    with pytest.raises(TypeError, match=r"Conv2d: input must have dtype float32, got float64"):
        m(np.zeros((1, 3, 8, 8)))
    with pytest.raises(ValueError, match=r"Conv2d: input spatial size"):
        m(np.zeros((1, 3, 2, 8), np.float32))
    with pytest.raises(ValueError, match=r"Conv3d: input must have 5 dimensions \(N, 3, D, H, W\)"):
        Conv3d(3, 4, 3)(np.zeros((1, 3, 8, 8), np.float32))
    with pytest.raises(ValueError, match="divisible by groups"):
        Conv2d(3, 4, 3, groups=2)
    m.train()
    m(np.zeros((1, 3, 8, 8), np.float32))
    with pytest.raises(ValueError, match=r"Conv2d.backward: grad_output has shape \(1, 8, 5, 5\), expected \(1, 8, 6, 6\)"):
        m.backward(np.zeros((1, 8, 5, 5), np.float32))
    m.eval()
    m(np.zeros((1, 3, 8, 8), np.float32))
    with pytest.raises(RuntimeError, match="cached forward"):
        m.backward(np.zeros((1, 8, 6, 6), np.float32))


@pytest.mark.parametrize("nd,cin,cout,groups,size,k,stride,pad,dil", [
    (3, 4, 16, 1, (3, 5, 48), 3, 1, 1, 1),
    (3, 6, 12, 3, (4, 6, 50), 3, (2, 2, 1), 1, 1),
    (2, 3, 5, 1, (5, 44), (3, 5), 1, (0, 2), 1),
    (3, 8, 9, 1, (6, 5, 100), (2, 3, 3), 1, (1, 0, 2), (2, 1, 2)),
    (2, 2, 8, 2, (3, 96), 3, (2, 1), 1, 1),
])
def test_conv_wide_rows(nd, cin, cout, groups, size, k, stride, pad, dil):
    """Output rows of >= 40 columns (the implicit-GEMM path where AVX-512 is present)."""
    rng = np.random.default_rng(20)
    tcls, cls = (torch.nn.Conv2d, Conv2d) if nd == 2 else (torch.nn.Conv3d, Conv3d)
    tm = tcls(cin, cout, k, stride, pad, dil, groups, True)
    ours = cls(cin, cout, k, stride, pad, dil, groups, True)
    x = rng.standard_normal((2, cin) + size).astype(np.float32)
    check_parity(torch, tm, ours, x, rng)


def test_conv_blas_and_packed_paths_agree():
    """OpenBLAS (0), packed im2col (1) and implicit (2, 3) kernels: forward, grad input, grad weight."""
    from sacroai import _core
    rng = np.random.default_rng(21)
    x = rng.standard_normal((2, 8, 6, 7, 48)).astype(np.float32)
    w = rng.standard_normal((16, 8, 3, 3, 3)).astype(np.float32)
    from sacroai.nn import functional as F
    g = rng.standard_normal((2, 16, 6, 7, 48)).astype(np.float32)
    outs = []
    for level in (0, 1, 2, 3):
        _core.nn_conv_use_packed(level)
        try:
            y = F.conv(x, w, None, 1, 1, 1, 1, 3)
            dx, dw, _ = F.conv_backward(x, w, g, (1, 1, 1), (1, 1, 1), (1, 1, 1), 1, 3, True, False)
            outs.append((y, dx, dw))
        finally:
            _core.nn_conv_use_packed(2)
    for o in outs[1:]:
        for a, ref in zip(o, outs[0]):
            assert np.abs(a - ref).max() <= 1e-5 * np.abs(ref).max()
