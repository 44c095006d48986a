"""U-Net against an equivalent PyTorch module with the same attribute names."""
from collections import OrderedDict

import numpy as np
import pytest

from sacroai import nn
from sacroai.nn.models import UNet

from nn_parity import check_parity

torch = pytest.importorskip("torch")
torch.set_num_threads(2)
tnn = torch.nn


class TUNet(tnn.Module):
    def __init__(self, sd, cin, cout, features, norm="batch"):
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
        f = features
        self.encoders = tnn.ModuleList([dc(cin if i == 0 else f[i - 1], f[i]) for i in range(len(f))])
        self.pools = tnn.ModuleList([P(2) for _ in range(len(f) - 1)])
        self.upconvs = tnn.ModuleList([U(f[i + 1], f[i], 2, stride=2) for i in reversed(range(len(f) - 1))])
        self.decoders = tnn.ModuleList([dc(2 * f[i], f[i]) for i in reversed(range(len(f) - 1))])
        self.head = C(f[0], cout, 1)

    def forward(self, x):
        skips, h, L = [], x, len(self.encoders)
        for i in range(L - 1):
            h = self.encoders[i](h)
            skips.append(h)
            h = self.pools[i](h)
        h = self.encoders[-1](h)
        for j in range(L - 1):
            h = self.decoders[j](torch.cat([self.upconvs[j](h), skips[L - 2 - j]], 1))
        return self.head(h)


@pytest.mark.parametrize("sd,size,norm", [(3, (16, 16, 16), "batch"), (2, (32, 24), "batch"),
                                          (3, (8, 16, 8), "instance")])
def test_unet_parity_train(sd, size, norm):
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    feats = (4, 8, 16) if sd == 3 else (8, 16, 32, 64)
    tm = TUNet(sd, 2, 3, feats, norm)
    ours = UNet(sd, 2, 3, feats, norm)
    assert list(ours.state_dict()) == list(tm.state_dict())
    x = rng.standard_normal((2, 2) + size).astype(np.float32)
    check_parity(torch, tm, ours, x, rng)


def test_unet_errors():
    m = UNet(3, 1, 2, (4, 8, 16))
    with pytest.raises(ValueError, match=r"UNet: spatial size \(10, 16, 16\) must be divisible by 4"):
        m(np.zeros((1, 1, 10, 16, 16), np.float32))
    with pytest.raises(ValueError, match=r"UNet: input has 2 channels, expected 1"):
        m(np.zeros((1, 2, 16, 16, 16), np.float32))
