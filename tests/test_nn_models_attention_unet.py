"""Attention U-Net against an equivalent PyTorch module with the same attribute names."""
from collections import OrderedDict

import numpy as np
import pytest

from sacroai.nn.models import AttentionUNet

from nn_parity64 import check_parity64

torch = pytest.importorskip("torch")
torch.set_num_threads(2)
tnn = torch.nn


class TGate(tnn.Module):
    def __init__(self, sd, fg, fl, fi):
        super().__init__()
        C = tnn.Conv2d if sd == 2 else tnn.Conv3d
        B = tnn.BatchNorm2d if sd == 2 else tnn.BatchNorm3d
        self.W_g = tnn.Sequential(C(fg, fi, 1), B(fi))
        self.W_x = tnn.Sequential(C(fl, fi, 1), B(fi))
        self.psi = tnn.Sequential(C(fi, 1, 1), B(1), tnn.Sigmoid())
        self.relu = tnn.ReLU()

    def forward(self, g, x):
        return x * self.psi(self.relu(self.W_g(g) + self.W_x(x)))


class TAttentionUNet(tnn.Module):
    def __init__(self, sd, cin, cout, f, norm="batch"):
        super().__init__()
        C = tnn.Conv2d if sd == 2 else tnn.Conv3d
        U = tnn.ConvTranspose2d if sd == 2 else tnn.ConvTranspose3d
        P = tnn.MaxPool2d if sd == 2 else tnn.MaxPool3d
        if norm == "batch":
            N = tnn.BatchNorm2d if sd == 2 else tnn.BatchNorm3d
        else:
            N = (lambda c: tnn.InstanceNorm2d(c, affine=True)) if sd == 2 else (lambda c: tnn.InstanceNorm3d(c, affine=True))

        def dc(a, b):
            return tnn.Sequential(OrderedDict([("conv1", C(a, b, 3, padding=1, bias=False)), ("norm1", N(b)),
                                               ("act1", tnn.ReLU()), ("conv2", C(b, b, 3, padding=1, bias=False)),
                                               ("norm2", N(b)), ("act2", tnn.ReLU())]))
        lv = list(reversed(range(len(f) - 1)))
        self.encoders = tnn.ModuleList([dc(cin if i == 0 else f[i - 1], f[i]) for i in range(len(f))])
        self.pools = tnn.ModuleList([P(2) for _ in range(len(f) - 1)])
        self.upconvs = tnn.ModuleList([U(f[i + 1], f[i], 2, stride=2) for i in lv])
        self.gates = tnn.ModuleList([TGate(sd, f[i], f[i], max(f[i] // 2, 1)) for i in lv])
        self.decoders = tnn.ModuleList([dc(2 * f[i], f[i]) for i in lv])
        self.head = C(f[0], cout, 1)

    def forward(self, x):
        skips, h, L = [], x, len(self.encoders)
        for i in range(L - 1):
            h = self.encoders[i](h)
            skips.append(h)
            h = self.pools[i](h)
        h = self.encoders[-1](h)
        for j in range(L - 1):
            up = self.upconvs[j](h)
            h = self.decoders[j](torch.cat([self.gates[j](up, skips[L - 2 - j]), up], 1))
        return self.head(h)


@pytest.mark.parametrize("sd,size,feats,norm", [(2, (32, 24), (8, 16, 32), "batch"),
                                                (3, (8, 16, 8), (4, 8, 16), "batch"),
                                                (3, (8, 8, 8), (4, 8), "instance")])
def test_attention_unet_parity_train(sd, size, feats, norm):
    rng = np.random.default_rng(1)
    torch.manual_seed(1)
    tm = TAttentionUNet(sd, 2, 3, feats, norm)
    ours = AttentionUNet(sd, 2, 3, channels=feats, norm=norm, rng=0)
    assert list(ours.state_dict()) == list(tm.state_dict())
    x = rng.standard_normal((2, 2) + size).astype(np.float32)
    zero = [n for n in ours.state_dict() if n.startswith("gates.") and n.endswith(".0.bias")]
    check_parity64(torch, tm, ours, x, rng, zero_bias=zero)


def test_attention_unet_parity_eval():
    rng = np.random.default_rng(2)
    torch.manual_seed(2)
    tm = TAttentionUNet(2, 1, 2, (4, 8))
    for m in tm.modules():  # non-trivial running statistics
        if isinstance(m, tnn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    ours = AttentionUNet(2, 1, 2, channels=(4, 8))
    x = rng.standard_normal((1, 1, 16, 16)).astype(np.float32)
    check_parity64(torch, tm, ours, x, rng, train=False)


def test_attention_unet_gate_gates_the_skip():
    m = AttentionUNet(2, 1, 2, channels=(4, 8), rng=0).eval()
    seen = []
    m.decoders[0].register_forward_hook(lambda mod, args, out: seen.append(args[0]))
    x = np.random.default_rng(0).standard_normal((1, 1, 8, 8)).astype(np.float32)
    m(x)
    assert np.abs(seen[-1][:, :4]).max() > 0
    m.gates[0].psi[0].bias.data[...] = -1e4  # psi -> 0: the gated skip carries nothing
    m(x)
    assert np.abs(seen[-1][:, :4]).max() == 0
    assert np.abs(seen[-1][:, 4:]).max() > 0  # the upsampled half is untouched


def test_attention_unet_errors():
    m = AttentionUNet(3, 1, 2, channels=(4, 8, 16))
    with pytest.raises(ValueError, match=r"AttentionUNet: spatial size \(10, 16, 16\) must be divisible by 4"):
        m(np.zeros((1, 1, 10, 16, 16), np.float32))
    with pytest.raises(ValueError, match=r"AttentionUNet: input has 2 channels, expected 1"):
        m(np.zeros((1, 2, 16, 16, 16), np.float32))
    with pytest.raises(ValueError, match=r"AttentionUNet: input must have 5 dimensions"):
        m(np.zeros((1, 1, 16, 16), np.float32))
    with pytest.raises(ValueError, match="spatial_dims must be 2 or 3"):
        AttentionUNet(4)
