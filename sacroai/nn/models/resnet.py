"""ResNet-18/34/50/101 with torchvision's layout and state_dict keys, 2-D or 3-D.

``resnet18(spatial_dims=2, in_channels=3, num_classes=1000)`` has exactly the
keys of ``torchvision.models.resnet18()`` (conv1, bn1, layer1.0.conv1, ...,
fc), so torchvision checkpoints load with ``load_state_dict`` (for
``in_channels != 3`` adapt ``conv1.weight``, e.g. sum over the input
channels).  With ``spatial_dims=3`` every layer is its 3-D counterpart
(kernel 7x7x7 stem, as MONAI's ResNet with ``conv1_t_size=7``).

``base_width`` (default 64, torchvision's network) scales every stage: the
stem and stage 1 have ``base_width`` channels, stages 2-4 have 2x, 4x and 8x
(x 4 after a Bottleneck's expansion).  The keys stay the same; only the
shapes shrink, e.g. ``resnet50(base_width=8)`` is a ResNet-50 layout 1/8 as
wide (about 1/64 of the parameters) for small CPU studies.  This is not
torchvision's ``width_per_group`` (which widens only the bottleneck's 3x3).

Forward caches what backward needs (in training mode or inside
``enable_grad()``); ``backward(grad_logits)`` returns the input gradient and
fills ``Parameter.grad``.  ``layer4`` is the usual Grad-CAM target.
"""
from __future__ import annotations

from typing import List, Optional, Type, Union

import numpy as np

from .. import _bn_act
from .. import init
from ..activation import ReLU
from ..conv import Conv2d, Conv3d
from ..linear import Flatten, Linear
from ..module import Module, Sequential
from ..norm import BatchNorm2d, BatchNorm3d
from ..pooling import AdaptiveAvgPool2d, AdaptiveAvgPool3d, MaxPool2d, MaxPool3d

__all__ = ["ResNet", "BasicBlock", "Bottleneck", "resnet18", "resnet34", "resnet50", "resnet101"]


def _layers(spatial_dims: int):
    if spatial_dims == 2:
        return Conv2d, BatchNorm2d, MaxPool2d, AdaptiveAvgPool2d
    if spatial_dims == 3:
        return Conv3d, BatchNorm3d, MaxPool3d, AdaptiveAvgPool3d
    raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims!r}")


class BasicBlock(Module):
    """Two 3x3 convolutions with a residual connection (torchvision BasicBlock)."""

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, spatial_dims=2, rng=None):
        super().__init__()
        Conv, BN, _, _ = _layers(spatial_dims)
        self.conv1 = Conv(inplanes, planes, 3, stride, 1, bias=False, rng=rng)
        self.bn1 = BN(planes)
        self.relu = ReLU()
        self.conv2 = Conv(planes, planes, 3, 1, 1, bias=False, rng=rng)
        self.bn2 = BN(planes)
        self.downsample = downsample
        self.relu_out = ReLU()  # the second ReLU of torchvision's block (no parameters)
        self.stride = stride

    def _main(self):
        return [self.conv1, self.bn1, self.relu, self.conv2, self.bn2]

    def forward(self, x):
        # BN -> ReLU pairs run fused; the last BN, the residual add and relu_out too when hook-free
        # (bit-identical to the separate steps, see sacroai.nn._bn_act)
        main = self._main()
        last = main[-1]
        fuse_out = _bn_act.fusable(last, self.relu_out)
        out, plan = _bn_act.run_forward(main[:-1] if fuse_out else main, x)
        identity = self.downsample(x) if self.downsample is not None else x
        if fuse_out:
            identity = np.ascontiguousarray(identity)
            y = last._forward_fused(last._check(out), residual=identity, relu=True)
            self.relu_out._cache = y if self.relu_out._caching() else None  # its mask comes from y
            plan.append(last)
        else:
            y = self.relu_out(out + identity)  # new array: hooks may hold bn2's output
        self._cache_plan = plan
        return y

    def backward(self, grad_out):
        g = self.relu_out.backward(grad_out)
        g_id = self.downsample.backward(g) if self.downsample is not None else g
        plan = self.__dict__.get("_cache_plan")
        gm = _bn_act.run_backward(plan if plan is not None else self._main(), g)
        # add in place into an array this block's children just made (not one a hook may hold);
        # float addition commutes exactly, so this equals gm + g_id
        if g_id is not g and not self.conv1._backward_hooks:
            gm += g_id
            return gm
        if g_id is g and not self.relu_out._backward_hooks:
            g_id += gm
            return g_id
        return gm + g_id


class Bottleneck(BasicBlock):
    """1x1 - 3x3 (stride) - 1x1 convolutions with expansion 4 (torchvision Bottleneck, v1.5)."""

    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, spatial_dims=2, rng=None):
        Module.__init__(self)
        Conv, BN, _, _ = _layers(spatial_dims)
        self.conv1 = Conv(inplanes, planes, 1, bias=False, rng=rng)
        self.bn1 = BN(planes)
        self.conv2 = Conv(planes, planes, 3, stride, 1, bias=False, rng=rng)
        self.bn2 = BN(planes)
        self.conv3 = Conv(planes, planes * 4, 1, bias=False, rng=rng)
        self.bn3 = BN(planes * 4)
        self.relu = ReLU()
        self.relu2 = ReLU()
        self.downsample = downsample
        self.relu_out = ReLU()
        self.stride = stride

    def _main(self):
        return [self.conv1, self.bn1, self.relu, self.conv2, self.bn2, self.relu2, self.conv3, self.bn3]


class ResNet(Module):
    """ResNet for 2-D ([N, C, H, W]) or 3-D ([N, C, D, H, W]) inputs.

    Parameters
    ----------
    block : BasicBlock or Bottleneck
    layers : four block counts, e.g. [2, 2, 2, 2] for ResNet-18
    spatial_dims : 2 or 3
    in_channels : input channels (1 for MRI/CT/radiographs)
    num_classes : outputs of the final ``fc`` layer
    zero_init_residual : zero the last BN weight of each block (torchvision option)
    rng : int seed or numpy Generator for the initial weights (kaiming_normal,
        fan_out, as torchvision)
    base_width : channels of the stem and of stage 1 (64 in torchvision); stages
        2-4 have 2x, 4x and 8x as many.  A positive integer.
    """

    def __init__(self, block: Type[BasicBlock], layers: List[int], spatial_dims: int = 2, in_channels: int = 3,
                 num_classes: int = 1000, zero_init_residual: bool = False, rng=None, base_width: int = 64):
        super().__init__()
        if isinstance(base_width, bool) or not isinstance(base_width, (int, np.integer)) or base_width < 1:
            raise ValueError(f"base_width must be a positive integer (64 for torchvision's ResNet), got {base_width!r}")
        w = int(base_width)
        self.base_width = w
        Conv, BN, MaxPool, AvgPool = _layers(spatial_dims)
        gen = init.get_generator(rng)
        self.spatial_dims = spatial_dims
        self.inplanes = w
        self.conv1 = Conv(in_channels, w, 7, 2, 3, bias=False, rng=gen)
        self.bn1 = BN(w)
        self.relu = ReLU()
        self.maxpool = MaxPool(3, 2, 1)
        self.layer1 = self._make_layer(block, w, layers[0], 1, gen)
        self.layer2 = self._make_layer(block, 2 * w, layers[1], 2, gen)
        self.layer3 = self._make_layer(block, 4 * w, layers[2], 2, gen)
        self.layer4 = self._make_layer(block, 8 * w, layers[3], 2, gen)
        self.avgpool = AvgPool(1)
        self.flatten = Flatten(1)
        self.fc = Linear(8 * w * block.expansion, num_classes, rng=gen)
        for m in self.modules():
            if isinstance(m, (Conv2d, Conv3d)):
                m.weight.data[...] = init.kaiming_normal(m.weight.shape, "fan_out", gen)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    m.bn3.weight.data[...] = 0
                elif isinstance(m, BasicBlock):
                    m.bn2.weight.data[...] = 0

    def _make_layer(self, block, planes, blocks, stride, gen):
        Conv, BN, _, _ = _layers(self.spatial_dims)
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = Sequential(Conv(self.inplanes, planes * block.expansion, 1, stride, bias=False, rng=gen),
                                    BN(planes * block.expansion))
        mods = [block(self.inplanes, planes, stride, downsample, self.spatial_dims, gen)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            mods.append(block(self.inplanes, planes, 1, None, self.spatial_dims, gen))
        return Sequential(*mods)

    def _sequence(self):
        return [self.conv1, self.bn1, self.relu, self.maxpool, self.layer1, self.layer2, self.layer3,
                self.layer4, self.avgpool, self.flatten, self.fc]

    def forward(self, x):
        x, self._cache_plan = _bn_act.run_forward(self._sequence(), x)  # stem bn1 -> relu fused
        return x

    def backward(self, grad_out):
        plan = self.__dict__.get("_cache_plan")
        return _bn_act.run_backward(plan if plan is not None else self._sequence(), grad_out)


def _make(block, layers, spatial_dims, in_channels, num_classes, **kw):
    return ResNet(block, layers, spatial_dims=spatial_dims, in_channels=in_channels, num_classes=num_classes, **kw)


def resnet18(spatial_dims: int = 2, in_channels: int = 3, num_classes: int = 1000, **kw) -> ResNet:
    """ResNet-18 (BasicBlock, [2, 2, 2, 2]); keys as torchvision.models.resnet18."""
    return _make(BasicBlock, [2, 2, 2, 2], spatial_dims, in_channels, num_classes, **kw)


def resnet34(spatial_dims: int = 2, in_channels: int = 3, num_classes: int = 1000, **kw) -> ResNet:
    """ResNet-34 (BasicBlock, [3, 4, 6, 3]); keys as torchvision.models.resnet34."""
    return _make(BasicBlock, [3, 4, 6, 3], spatial_dims, in_channels, num_classes, **kw)


def resnet50(spatial_dims: int = 2, in_channels: int = 3, num_classes: int = 1000, **kw) -> ResNet:
    """ResNet-50 (Bottleneck, [3, 4, 6, 3]); keys as torchvision.models.resnet50."""
    return _make(Bottleneck, [3, 4, 6, 3], spatial_dims, in_channels, num_classes, **kw)


def resnet101(spatial_dims: int = 2, in_channels: int = 3, num_classes: int = 1000, **kw) -> ResNet:
    """ResNet-101 (Bottleneck, [3, 4, 23, 3]); keys as torchvision.models.resnet101."""
    return _make(Bottleneck, [3, 4, 23, 3], spatial_dims, in_channels, num_classes, **kw)
