"""DenseNet against a PyTorch twin written like torchvision.models.densenet (same keys)."""
from collections import OrderedDict

import numpy as np
import pytest

from sacroai.nn.models import DenseNet, densenet121, densenet161

from nn_parity import copy_weights, rel_err
from nn_parity64 import check_parity64

torch = pytest.importorskip("torch")
torch.set_num_threads(2)
tnn = torch.nn
tF = torch.nn.functional


class TDenseLayer(tnn.Module):
    def __init__(self, nin, growth, bn_size, sd):
        super().__init__()
        C = tnn.Conv2d if sd == 2 else tnn.Conv3d
        B = tnn.BatchNorm2d if sd == 2 else tnn.BatchNorm3d
        self.norm1 = B(nin)
        self.relu1 = tnn.ReLU()
        self.conv1 = C(nin, bn_size * growth, 1, bias=False)
        self.norm2 = B(bn_size * growth)
        self.relu2 = tnn.ReLU()
        self.conv2 = C(bn_size * growth, growth, 3, padding=1, bias=False)

    def forward(self, feats):
        x = torch.cat(feats, 1)
        return self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))


class TDenseBlock(tnn.ModuleDict):
    def __init__(self, n, nin, bn_size, growth, sd):
        super().__init__()
        for i in range(n):
            self.add_module(f"denselayer{i + 1}", TDenseLayer(nin + i * growth, growth, bn_size, sd))

    def forward(self, x):
        feats = [x]
        for layer in self.values():
            feats.append(layer(feats))
        return torch.cat(feats, 1)


class TDenseNet(tnn.Module):
    def __init__(self, growth, blocks, init_f, num_classes, sd=2, cin=3, bn_size=4):
        super().__init__()
        C = tnn.Conv2d if sd == 2 else tnn.Conv3d
        B = tnn.BatchNorm2d if sd == 2 else tnn.BatchNorm3d
        M = tnn.MaxPool2d if sd == 2 else tnn.MaxPool3d
        A = tnn.AvgPool2d if sd == 2 else tnn.AvgPool3d
        f = OrderedDict([("conv0", C(cin, init_f, 7, 2, 3, bias=False)), ("norm0", B(init_f)),
                         ("relu0", tnn.ReLU()), ("pool0", M(3, 2, 1))])
        nf = init_f
        for i, n in enumerate(blocks):
            f[f"denseblock{i + 1}"] = TDenseBlock(n, nf, bn_size, growth, sd)
            nf += n * growth
            if i != len(blocks) - 1:
                f[f"transition{i + 1}"] = tnn.Sequential(OrderedDict([
                    ("norm", B(nf)), ("relu", tnn.ReLU()), ("conv", C(nf, nf // 2, 1, bias=False)), ("pool", A(2, 2))]))
                nf //= 2
        f["norm5"] = B(nf)
        self.features = tnn.Sequential(f)
        self.classifier = tnn.Linear(nf, num_classes)
        self.sd = sd

    def forward(self, x):
        h = tF.relu(self.features(x))
        h = tF.adaptive_avg_pool2d(h, 1) if self.sd == 2 else tF.adaptive_avg_pool3d(h, 1)
        return self.classifier(torch.flatten(h, 1))


def _randomize_bn(tm):
    g = torch.Generator().manual_seed(0)
    for m in tm.modules():
        if isinstance(m, (tnn.BatchNorm2d, tnn.BatchNorm3d)):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.uniform_(-0.2, 0.2, generator=g)
                m.running_mean.uniform_(-0.2, 0.2, generator=g)
                m.running_var.uniform_(0.5, 1.5, generator=g)


def test_densenet121_keys_and_forward_eval():
    torch.manual_seed(0)
    tm = TDenseNet(32, (6, 12, 24, 16), 64, 5, cin=1)
    _randomize_bn(tm)
    ours = densenet121(2, in_channels=1, num_classes=5)
    assert list(ours.state_dict()) == list(tm.state_dict())
    assert ours.num_parameters() == sum(p.numel() for p in tm.parameters())
    copy_weights(tm, ours)
    tm.eval()
    ours.eval()
    x = np.random.default_rng(0).standard_normal((1, 1, 64, 64)).astype(np.float32)
    with torch.no_grad():
        ty = tm(torch.tensor(x)).numpy()
    assert rel_err(ours(x), ty) <= 1e-4
    tm.train()  # batch statistics (the last block runs at 2x2)
    ours.train()
    with torch.no_grad():
        ty = tm(torch.tensor(x)).numpy()
    assert rel_err(ours(x), ty) <= 1e-4


def test_densenet161_keys():
    tm = TDenseNet(48, (6, 12, 36, 24), 96, 1000)
    ours = densenet161()
    shapes = {k: tuple(v.shape) for k, v in tm.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == shapes
    assert list(ours.state_dict()) == list(shapes)
    assert ours.num_features == 2208


@pytest.mark.parametrize("sd,size", [(2, (32, 32)), (3, (16, 16, 16))])
def test_small_densenet_parity_train(sd, size):
    rng = np.random.default_rng(6)
    torch.manual_seed(6)
    tm = TDenseNet(8, (2, 2), 16, 3, sd=sd, cin=2)
    # non-zero BN shifts: with bias 0 the ReLU/pool after norm0 is homogeneous and the next
    # BatchNorms make the loss exactly invariant to norm0.weight (gradient 0, rounding noise only)
    _randomize_bn(tm)
    ours = DenseNet(growth_rate=8, block_config=(2, 2), num_init_features=16, num_classes=3,
                    spatial_dims=sd, in_channels=2, rng=0)
    assert list(ours.state_dict()) == list(tm.state_dict())
    x = rng.standard_normal((2, 2) + size).astype(np.float32)
    # In 3-D nearly every 3x3x3 max-pool window after relu0 picks a positive value, so the
    # gradient reaching norm0 sums (like the next BatchNorms' input gradients) to ~0: norm0's
    # gradients are then rounding noise, compared with the scale of conv0's weight gradient.
    zero = {"features.norm0.weight": "features.conv0.weight",
            "features.norm0.bias": "features.conv0.weight"} if sd == 3 else ()
    check_parity64(torch, tm, ours, x, rng, zero_bias=zero)


def test_small_densenet_parity_eval():
    rng = np.random.default_rng(7)
    torch.manual_seed(7)
    tm = TDenseNet(8, (2, 3), 16, 2, cin=1)
    _randomize_bn(tm)
    ours = DenseNet(8, (2, 3), 16, num_classes=2, in_channels=1)
    x = rng.standard_normal((2, 1, 32, 32)).astype(np.float32)
    check_parity64(torch, tm, ours, x, rng, train=False)


def test_densenet_features_only():
    m = DenseNet(8, (2, 2), 16, num_classes=0, in_channels=1, rng=0).eval()
    y = m(np.zeros((3, 1, 32, 32), np.float32))
    assert y.shape == (3, m.num_features) == (3, 32)  # (16 + 2*8) // 2 + 2*8
    assert not any(k.startswith("classifier") for k in m.state_dict())


def test_densenet_errors():
    m = DenseNet(8, (2, 2), 16, num_classes=2, in_channels=1)
    with pytest.raises(ValueError, match=r"DenseNet: input has 3 channels, expected 1"):
        m(np.zeros((1, 3, 32, 32), np.float32))
    with pytest.raises(ValueError, match=r"DenseNet: input must have 4 dimensions"):
        m(np.zeros((1, 1, 32, 32, 32), np.float32))
    with pytest.raises(ValueError, match="DenseNet: spatial_dims must be 2 or 3"):
        DenseNet(spatial_dims=1)
