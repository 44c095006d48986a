"""PlainConvUNet (nnU-Net style) against an equivalent PyTorch module with the same attribute names."""
from collections import OrderedDict

import numpy as np
import pytest

from sacroai.nn.models import PlainConvUNet

from nn_parity64 import check_parity64

torch = pytest.importorskip("torch")
torch.set_num_threads(2)
tnn = torch.nn


def _block(sd, cin, cout, stride):
    C = tnn.Conv2d if sd == 2 else tnn.Conv3d
    N = tnn.InstanceNorm2d if sd == 2 else tnn.InstanceNorm3d
    return tnn.Sequential(OrderedDict([("conv", C(cin, cout, 3, stride, 1)), ("norm", N(cout, eps=1e-5, affine=True)),
                                       ("nonlin", tnn.LeakyReLU(0.01))]))


class TStack(tnn.Module):
    def __init__(self, sd, n, cin, cout, stride):
        super().__init__()
        self.convs = tnn.Sequential(*[_block(sd, cin if k == 0 else cout, cout, stride if k == 0 else 1)
                                      for k in range(n)])

    def forward(self, x):
        return self.convs(x)


class TPlain(tnn.Module):
    def __init__(self, sd, cin, ncls, f, nconv=2, ds=False):
        super().__init__()
        C = tnn.Conv2d if sd == 2 else tnn.Conv3d
        U = tnn.ConvTranspose2d if sd == 2 else tnn.ConvTranspose3d
        n = len(f)
        self.encoder = tnn.Module()
        self.encoder.stages = tnn.ModuleList([TStack(sd, nconv, cin if i == 0 else f[i - 1], f[i], 1 if i == 0 else 2)
                                              for i in range(n)])
        sk = [f[-(s + 2)] for s in range(n - 1)]
        self.decoder = tnn.Module()
        self.decoder.transpconvs = tnn.ModuleList([U(f[-(s + 1)], sk[s], 2, 2) for s in range(n - 1)])
        self.decoder.stages = tnn.ModuleList([TStack(sd, nconv, 2 * sk[s], sk[s], 1) for s in range(n - 1)])
        self.decoder.seg_layers = tnn.ModuleList([C(sk[s], ncls, 1) for s in range(n - 1)])
        self.ds = ds

    def forward(self, x):
        skips = []
        for st in self.encoder.stages:
            x = st(x)
            skips.append(x)
        h, outs, d = skips[-1], [], self.decoder
        for s in range(len(d.stages)):
            h = d.stages[s](torch.cat([d.transpconvs[s](h), skips[-(s + 2)]], 1))
            outs.append(d.seg_layers[s](h))
        return outs[::-1] if self.ds else outs[-1]


def _zero_bias(m):
    # conv biases feeding an InstanceNorm: their exact gradient is 0
    return [k for k in m.state_dict() if k.endswith(".conv.bias")]


@pytest.mark.parametrize("sd,size,feats", [(2, (16, 24), (8, 16, 32)), (3, (8, 8, 16), (4, 8, 16))])
def test_plain_unet_parity(sd, size, feats):
    rng = np.random.default_rng(3)
    torch.manual_seed(3)
    tm = TPlain(sd, 2, 3, feats)
    ours = PlainConvUNet(sd, 2, 3, feats, rng=0)
    assert list(ours.state_dict()) == list(tm.state_dict())
    x = rng.standard_normal((2, 2) + size).astype(np.float32)
    check_parity64(torch, tm, ours, x, rng, zero_bias=_zero_bias(ours))


def test_plain_unet_deep_supervision_parity():
    rng = np.random.default_rng(4)
    torch.manual_seed(4)
    feats = (4, 8, 16, 16)
    tm = TPlain(2, 1, 2, feats, ds=True)
    ours = PlainConvUNet(2, 1, 2, feats, deep_supervision=True, rng=0)
    x = rng.standard_normal((2, 1, 16, 16)).astype(np.float32)
    ys = ours(x)
    assert [y.shape for y in ys] == [(2, 2, 16, 16), (2, 2, 8, 8), (2, 2, 4, 4)]
    check_parity64(torch, tm, ours, x, rng, zero_bias=_zero_bias(ours))


def test_plain_unet_deep_supervision_partial_grads():
    # a None entry equals a zero gradient for that level
    rng = np.random.default_rng(5)
    ours = PlainConvUNet(2, 1, 2, (4, 8, 8), deep_supervision=True, rng=0)
    x = rng.standard_normal((1, 1, 8, 8)).astype(np.float32)
    ys = ours(x)
    g0 = rng.standard_normal(ys[0].shape).astype(np.float32)
    dx_none = ours.backward([g0, None])
    grads_none = {n: None if p.grad is None else p.grad.copy() for n, p in ours.named_parameters()}
    ours.zero_grad()
    ours(x)
    dx_zero = ours.backward([g0, np.zeros_like(ys[1])])
    np.testing.assert_allclose(dx_none, dx_zero, rtol=1e-6, atol=1e-7)
    for n, p in ours.named_parameters():
        if grads_none[n] is None:
            assert n.startswith("decoder.seg_layers.0"), n  # lowest-resolution head: no loss
        else:
            np.testing.assert_allclose(grads_none[n], p.grad, rtol=1e-6, atol=1e-7)


def test_plain_unet_downsamples_by_strided_conv():
    m = PlainConvUNet(3, 1, 2, (4, 8, 16), rng=0)
    assert [s.convs[0].conv.stride for s in m.encoder.stages] == [(1, 1, 1), (2, 2, 2), (2, 2, 2)]
    assert not any("pool" in type(mod).__name__.lower() for mod in m.modules())


def test_plain_unet_errors():
    m = PlainConvUNet(3, 1, 2, (4, 8, 16))
    with pytest.raises(ValueError, match=r"PlainConvUNet: spatial size \(10, 16, 16\) must be divisible by 4"):
        m(np.zeros((1, 1, 10, 16, 16), np.float32))
    with pytest.raises(ValueError, match=r"PlainConvUNet: input has 2 channels, expected 1"):
        m(np.zeros((1, 2, 16, 16, 16), np.float32))
    with pytest.raises(ValueError, match="n_conv_per_stage must be an int or have 3 entries"):
        PlainConvUNet(3, 1, 2, (4, 8, 16), n_conv_per_stage=(2, 2))
    ds = PlainConvUNet(2, 1, 2, (4, 8, 16), deep_supervision=True)
    ds(np.zeros((1, 1, 8, 8), np.float32))
    with pytest.raises(ValueError, match="list of 2 gradients"):
        ds.backward(np.zeros((1, 2, 8, 8), np.float32))
