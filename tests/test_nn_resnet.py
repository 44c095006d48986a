"""ResNet against a torchvision-layout reference written in PyTorch (torchvision is not needed)."""
import numpy as np
import pytest

from sacroai import nn
from sacroai.nn.models import resnet18, resnet34, resnet50

from nn_parity import copy_weights, rel_err

torch = pytest.importorskip("torch")
torch.set_num_threads(2)
tnn = torch.nn


# ---- reference: torchvision.models.resnet, transcribed (2-D and 3-D) ----
def _t(sd):
    return (tnn.Conv2d, tnn.BatchNorm2d, tnn.MaxPool2d, tnn.AdaptiveAvgPool2d) if sd == 2 else \
        (tnn.Conv3d, tnn.BatchNorm3d, tnn.MaxPool3d, tnn.AdaptiveAvgPool3d)


class TBasic(tnn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, sd=2):
        super().__init__()
        C, B, _, _ = _t(sd)
        self.conv1 = C(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = B(planes)
        self.relu = tnn.ReLU(inplace=True)
        self.conv2 = C(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = B(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class TBottleneck(tnn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, sd=2):
        super().__init__()
        C, B, _, _ = _t(sd)
        self.conv1 = C(inplanes, planes, 1, bias=False)
        self.bn1 = B(planes)
        self.conv2 = C(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = B(planes)
        self.conv3 = C(planes, planes * 4, 1, bias=False)
        self.bn3 = B(planes * 4)
        self.relu = tnn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class TResNet(tnn.Module):
    def __init__(self, block, layers, sd=2, in_channels=3, num_classes=1000):
        super().__init__()
        C, B, M, A = _t(sd)
        self.sd, self.inplanes = sd, 64
        self.conv1 = C(in_channels, 64, 7, 2, 3, bias=False)
        self.bn1 = B(64)
        self.relu = tnn.ReLU(inplace=True)
        self.maxpool = M(3, 2, 1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], 2)
        self.layer3 = self._make_layer(block, 256, layers[2], 2)
        self.layer4 = self._make_layer(block, 512, layers[3], 2)
        self.avgpool = A(1)
        self.fc = tnn.Linear(512 * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride=1):
        C, B, _, _ = _t(self.sd)
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = tnn.Sequential(C(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                                        B(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.sd)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, sd=self.sd) for _ in range(1, blocks)]
        return tnn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _randomize_bn(tm, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in tm.modules():
            if isinstance(m, (tnn.BatchNorm2d, tnn.BatchNorm3d)):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 0.5 + 0.75)
                m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 0.2 - 0.1)
                m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=g) * 0.2 - 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) * 0.5 + 0.75)


def test_resnet18_keys_match_torchvision_layout():
    ours, tm = resnet18(), TResNet(TBasic, [2, 2, 2, 2])
    assert list(ours.state_dict()) == list(tm.state_dict())
    for k, v in tm.state_dict().items():
        assert ours.state_dict()[k].shape == tuple(v.shape), k
    assert list(resnet50(spatial_dims=3, in_channels=1, num_classes=2).state_dict()) == \
        list(TResNet(TBottleneck, [3, 4, 6, 3], 3, 1, 2).state_dict())
    r34, t34 = resnet34(in_channels=1, num_classes=5), TResNet(TBasic, [3, 4, 6, 3], 2, 1, 5)
    assert {k: v.shape for k, v in r34.state_dict().items()} == {k: tuple(v.shape) for k, v in t34.state_dict().items()}


def test_resnet18_2d_full_forward_eval():
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    tm = TResNet(TBasic, [2, 2, 2, 2]).eval()
    _randomize_bn(tm)
    ours = resnet18().eval()
    copy_weights(tm, ours)
    x = rng.standard_normal((2, 3, 224, 224)).astype(np.float32)
    with torch.no_grad():
        ty = tm(torch.tensor(x)).numpy()
    with nn.no_grad():
        y = ours(x)
    assert rel_err(y, ty) <= 1e-4


@pytest.mark.parametrize("sd,build,tblock,layers,size,train", [
    (2, resnet18, TBasic, [2, 2, 2, 2], (64, 48), True),
    (3, resnet18, TBasic, [2, 2, 2, 2], (32, 32, 32), True),
    (2, resnet50, TBottleneck, [3, 4, 6, 3], (64, 64), False),
])
def test_resnet_step_gradients(sd, build, tblock, layers, size, train):
    """One training-mode forward/backward: logits, input gradient and every parameter gradient.

    Training-mode BatchNorm over few values (2 samples x 2x2 positions in layer4)
    amplifies float32 rounding, so PyTorch's own float32 result differs from
    float64 by up to ~1e-1 on some gradients.  The reference is therefore
    PyTorch in float64, and ours must be as close to it as PyTorch float32 is
    (within a factor 3), and never worse than 1e-4 where that is achievable.
    ResNet-50 is checked in eval mode (running statistics; backward inside
    enable_grad, the Grad-CAM path): in training mode with 2 images its deep
    2x2 BatchNorms make single ReLU-mask flips dominate the comparison.
    """
    import copy
    rng = np.random.default_rng(1)
    torch.manual_seed(1)
    tm = TResNet(tblock, layers, sd, in_channels=1, num_classes=3).train(train)
    if not train:
        _randomize_bn(tm)
    ours = build(spatial_dims=sd, in_channels=1, num_classes=3).train(train)
    copy_weights(tm, ours)
    x = rng.standard_normal((2, 1) + size).astype(np.float32)
    g = rng.standard_normal((2, 3))
    ref = {}
    for name, m, dt in [("f32", tm, torch.float32), ("f64", copy.deepcopy(tm).double(), torch.float64)]:
        tx = torch.tensor(x, dtype=dt, requires_grad=True)
        ty = m(tx)
        ty.backward(torch.tensor(g, dtype=dt))
        out = {"logits": ty.detach().numpy(), "grad_input": tx.grad.numpy()}
        out.update({n: p.grad.numpy() for n, p in m.named_parameters()})
        out.update({"buffer " + n: b.numpy() for n, b in m.named_buffers() if b.dtype.is_floating_point})
        ref[name] = out
    with nn.enable_grad():
        mine = {"logits": ours(x)}
    mine["grad_input"] = ours.backward(g.astype(np.float32))
    mine.update({n: p.grad for n, p in ours.named_parameters()})
    mine.update({"buffer " + n: b for n, b in ours.named_buffers() if b.dtype.kind == "f"})
    assert set(mine) == set(ref["f64"])
    bad = {}
    for k in mine:
        e_ours = rel_err(mine[k], ref["f64"][k])
        e_torch = rel_err(ref["f32"][k], ref["f64"][k])
        if e_ours > max(1e-4, 3 * e_torch):
            bad[k] = (e_ours, e_torch)
    assert not bad, bad


def test_gradcam_hooks_on_layer4():
    ours = resnet18(in_channels=1, num_classes=2, rng=3).eval()
    acts, grads = {}, {}
    ours.layer4.register_forward_hook(lambda m, i, o: acts.__setitem__("a", o.copy()))
    ours.layer4.register_full_backward_hook(lambda m, gi, go: grads.__setitem__("g", go[0].copy()))
    x = np.random.default_rng(0).standard_normal((1, 1, 64, 64)).astype(np.float32)
    with nn.enable_grad():
        y = ours(x)
    g = np.zeros_like(y)
    g[0, 1] = 1
    ours.backward(g)
    assert acts["a"].shape == (1, 512, 2, 2) and grads["g"].shape == (1, 512, 2, 2)
    # d logit / d layer4 output = fc.weight[1] / 4 at every position (average pooling)
    expect = np.broadcast_to(ours.fc.weight.data[1][None, :, None, None] / 4, (1, 512, 2, 2))
    assert rel_err(grads["g"], expect) <= 1e-6
