"""MultiTask / MultiTaskLoss: gradients against PyTorch autograd and a short training run."""
from collections import OrderedDict

import numpy as np
import pytest

from sacroai.nn import Identity, Linear
from sacroai.nn.losses import BCEWithLogitsLoss, CrossEntropyLoss
from sacroai.nn.models import CNN3D, DenseNet, MultiTask, MultiTaskLoss, resnet18
from sacroai.nn.optim import Adam

from nn_parity import copy_weights, rel_err

torch = pytest.importorskip("torch")
torch.set_num_threads(2)
tnn = torch.nn


class TBackbone(tnn.Module):
    """CNN3D(spatial_dims=2, channels=(4, 8), num_classes=0) in PyTorch."""

    def __init__(self, cin, channels):
        super().__init__()
        blocks = OrderedDict()
        for i, c in enumerate(channels):
            blocks[f"block{i}"] = tnn.Sequential(OrderedDict([
                ("conv", tnn.Conv2d(cin, c, 3, padding=1, bias=False)), ("bn", tnn.BatchNorm2d(c)),
                ("relu", tnn.ReLU()), ("pool", tnn.MaxPool2d(2))]))
            cin = c
        self.features = tnn.Sequential(blocks)

    def forward(self, x):
        return self.features(x).mean(dim=(2, 3))


class TMulti(tnn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = TBackbone(1, (4, 8))
        self.heads = tnn.ModuleDict(OrderedDict([("grade", tnn.Linear(8, 4)), ("erosion", tnn.Linear(8, 1))]))

    def forward(self, x):
        f = self.backbone(x)
        return {k: h(f) for k, h in self.heads.items()}


def _data(rng, n=6):
    x = rng.standard_normal((n, 1, 16, 16)).astype(np.float32)
    y4 = rng.integers(0, 4, n)
    y1 = rng.integers(0, 2, (n, 1)).astype(np.float32)
    return x, y4, y1


def test_multitask_gradients_match_torch():
    rng = np.random.default_rng(10)
    torch.manual_seed(10)
    tm = TMulti().double()
    ours = MultiTask(CNN3D(2, 1, 0, (4, 8), dropout=0.0, rng=0), {"grade": 4, "erosion": 1}, rng=1)
    assert list(ours.state_dict()) == list(tm.state_dict())
    copy_weights(tm, ours)
    x, y4, y1 = _data(rng)
    crit = MultiTaskLoss({"grade": CrossEntropyLoss(), "erosion": BCEWithLogitsLoss()},
                         weights={"grade": 1.0, "erosion": 0.5})
    out = ours(x)
    assert list(out) == ["grade", "erosion"] and out["grade"].shape == (6, 4) and out["erosion"].shape == (6, 1)
    value = crit(out, {"grade": y4, "erosion": y1})
    dx = ours.backward(crit.backward())

    tx = torch.tensor(x.astype(np.float64), requires_grad=True)
    tout = tm(tx)
    tloss = (tnn.functional.cross_entropy(tout["grade"], torch.tensor(y4))
             + 0.5 * tnn.functional.binary_cross_entropy_with_logits(tout["erosion"], torch.tensor(y1, dtype=torch.float64)))
    tloss.backward()
    assert abs(value - tloss.item()) <= 1e-5 * abs(tloss.item())
    assert crit.last_losses["grade"] == pytest.approx(
        tnn.functional.cross_entropy(tout["grade"], torch.tensor(y4)).item(), rel=1e-5)
    assert rel_err(dx, tx.grad.numpy()) <= 1e-4
    tp = dict(tm.named_parameters())
    for name, p in ours.named_parameters():
        assert rel_err(p.grad, tp[name].grad.numpy()) <= 1e-4, name


def test_multitask_backward_sums_head_gradients():
    # backward({a, b}) == backward({a}) + backward({b}) for the input and backbone grads (eval BN)
    rng = np.random.default_rng(11)
    m = MultiTask(CNN3D(2, 1, 0, (4, 8), dropout=0.0, rng=0), {"a": 3, "b": 1}, rng=1).eval()
    x = rng.standard_normal((2, 1, 16, 16)).astype(np.float32)
    from sacroai.nn import enable_grad
    ga = rng.standard_normal((2, 3)).astype(np.float32)
    gb = rng.standard_normal((2, 1)).astype(np.float32)
    res = []
    for grads in ({"a": ga, "b": gb}, {"a": ga}, {"b": gb}):
        m.zero_grad()
        with enable_grad():
            m(x)
        res.append((m.backward(grads), m.backbone.features.block0.conv.weight.grad.copy()))
    np.testing.assert_allclose(res[0][0], res[1][0] + res[2][0], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(res[0][1], res[1][1] + res[2][1], rtol=1e-4, atol=1e-6)


def test_multitask_training_decreases_loss():
    rng = np.random.default_rng(12)
    n = 16
    x = rng.standard_normal((n, 1, 16, 16)).astype(np.float32)
    bright = rng.integers(0, 4, n)
    x += bright[:, None, None, None].astype(np.float32)  # grade = intensity level
    y1 = (x[:, 0, :8].mean((1, 2)) > x[:, 0, 8:].mean((1, 2))).astype(np.float32)[:, None]
    backbone = DenseNet(4, (2,), 8, num_classes=0, in_channels=1, rng=0)
    model = MultiTask(backbone, {"grade": 4, "erosion": 1}, rng=1)
    crit = MultiTaskLoss({"grade": CrossEntropyLoss(), "erosion": BCEWithLogitsLoss()})
    opt = Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(25):
        opt.zero_grad()
        losses.append(crit(model(x), {"grade": bright, "erosion": y1}))
        model.backward(crit.backward())
        opt.step()
    assert losses[-1] < 0.7 * losses[0], losses


def test_multitask_with_resnet_backbone():
    net = resnet18(2, in_channels=1, num_classes=10, rng=0)
    net.fc = Identity()
    m = MultiTask(net, {"a": 2, "b": Linear(512, 3, rng=0)}, in_features=512, rng=0)
    out = m(np.zeros((2, 1, 32, 32), np.float32))
    assert out["a"].shape == (2, 2) and out["b"].shape == (2, 3)
    g = m.backward({"a": np.ones((2, 2), np.float32)})
    assert g.shape == (2, 1, 32, 32)
    assert m.heads["b"].weight.grad is None and m.heads["a"].weight.grad is not None


def test_multitask_errors():
    bb = CNN3D(2, 1, 0, (4,), dropout=0.0)
    with pytest.raises(ValueError, match="MultiTask: heads must be a non-empty mapping"):
        MultiTask(bb, {})
    with pytest.raises(TypeError, match="MultiTask: head 'x' must be a Module or a positive int"):
        MultiTask(bb, {"x": 0})
    with pytest.raises(ValueError, match="pass in_features"):
        MultiTask(resnet18(2, 1, 2), {"x": 2})
    m = MultiTask(CNN3D(2, 1, 5, (4,), dropout=0.0), {"x": 2}, in_features=5)
    m.backbone.classifier = Identity()  # features [N, 4] into Linear(5, 2)
    with pytest.raises(ValueError):
        m(np.zeros((2, 1, 8, 8), np.float32))
    m2 = MultiTask(bb, {"x": 2})
    m2(np.zeros((2, 1, 8, 8), np.float32))
    with pytest.raises(ValueError, match=r"MultiTask.backward: unknown heads \['y'\]"):
        m2.backward({"y": np.zeros((2, 2), np.float32)})
    with pytest.raises(ValueError, match="no gradient given for any head"):
        m2.backward({})
    crit = MultiTaskLoss({"x": CrossEntropyLoss()})
    with pytest.raises(KeyError, match=r"targets has no entry for heads \['x'\]"):
        crit({"x": np.zeros((2, 2), np.float32)}, {})
    with pytest.raises(ValueError, match="weights given for unknown heads"):
        MultiTaskLoss({"x": CrossEntropyLoss()}, weights={"z": 1.0})
    with pytest.raises(RuntimeError, match="before forward"):
        MultiTaskLoss({"x": CrossEntropyLoss()}).backward()
    with pytest.raises(ValueError, match=r"backbone must return features of shape \(N, F\)"):
        MultiTask(Identity(), {"x": 2}, in_features=3)(np.zeros((2, 1, 8, 8), np.float32))
