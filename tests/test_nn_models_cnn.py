"""CNN3D against a PyTorch twin with the same attribute names."""
from collections import OrderedDict

import numpy as np
import pytest

from sacroai.nn.models import CNN3D

from nn_parity64 import check_parity64

torch = pytest.importorskip("torch")
torch.set_num_threads(2)
tnn = torch.nn


class TCNN(tnn.Module):
    def __init__(self, sd, cin, ncls, channels, p):
        super().__init__()
        C = tnn.Conv2d if sd == 2 else tnn.Conv3d
        B = tnn.BatchNorm2d if sd == 2 else tnn.BatchNorm3d
        P = tnn.MaxPool2d if sd == 2 else tnn.MaxPool3d
        A = tnn.AdaptiveAvgPool2d if sd == 2 else tnn.AdaptiveAvgPool3d
        blocks = OrderedDict()
        for i, c in enumerate(channels):
            blocks[f"block{i}"] = tnn.Sequential(OrderedDict([
                ("conv", C(cin, c, 3, padding=1, bias=False)), ("bn", B(c)), ("relu", tnn.ReLU()), ("pool", P(2))]))
            cin = c
        self.features = tnn.Sequential(blocks)
        self.avgpool = A(1)
        self.dropout = tnn.Dropout(p)
        self.classifier = tnn.Linear(cin, ncls)

    def forward(self, x):
        return self.classifier(self.dropout(torch.flatten(self.avgpool(self.features(x)), 1)))


@pytest.mark.parametrize("sd,size", [(3, (16, 16, 24)), (2, (32, 40))])
def test_cnn_parity_train(sd, size):
    rng = np.random.default_rng(8)
    torch.manual_seed(8)
    ch = (4, 8, 16, 16)
    tm = TCNN(sd, 2, 3, ch, 0.0)  # dropout masks differ between libraries: p=0 in training
    ours = CNN3D(sd, 2, 3, ch, dropout=0.0, rng=0)
    assert list(ours.state_dict()) == list(tm.state_dict())
    x = rng.standard_normal((3, 2) + size).astype(np.float32)
    check_parity64(torch, tm, ours, x, rng)


def test_cnn_parity_eval_with_dropout():
    rng = np.random.default_rng(9)
    torch.manual_seed(9)
    tm = TCNN(3, 1, 2, (4, 8), 0.5)
    for m in tm.modules():
        if isinstance(m, tnn.BatchNorm3d):
            m.running_mean.uniform_(-0.3, 0.3)
            m.running_var.uniform_(0.5, 1.5)
    ours = CNN3D(3, 1, 2, (4, 8), dropout=0.5)
    x = rng.standard_normal((2, 1, 8, 8, 8)).astype(np.float32)
    check_parity64(torch, tm, ours, x, rng, train=False)


def test_cnn_dropout_active_in_training():
    m = CNN3D(2, 1, 2, (4,), dropout=0.5, rng=0)
    x = np.random.default_rng(0).standard_normal((4, 1, 8, 8)).astype(np.float32)
    assert not np.allclose(m(x), m(x))  # a new mask each forward
    m.eval()
    np.testing.assert_array_equal(m(x), m(x))


def test_cnn_errors():
    m = CNN3D(3, 1, 2, (4, 8, 16))
    with pytest.raises(ValueError, match=r"CNN3D: every spatial size must be at least 8"):
        m(np.zeros((1, 1, 4, 16, 16), np.float32))
    with pytest.raises(ValueError, match=r"CNN3D: input has 2 channels, expected 1"):
        m(np.zeros((1, 2, 16, 16, 16), np.float32))
    with pytest.raises(ValueError, match=r"CNN3D: input must have 5 dimensions"):
        m(np.zeros((1, 1, 16, 16), np.float32))
    with pytest.raises(TypeError, match=r"CNN3D: input must have dtype float32"):
        m(np.zeros((1, 1, 16, 16, 16), np.float64))
    with pytest.raises(ValueError, match="CNN3D: spatial_dims must be 2 or 3"):
        CNN3D(spatial_dims=1)
