"""DenseNet-121/161 with torchvision's layout and state_dict keys, 2-D or 3-D.

``densenet121(spatial_dims=2, in_channels=3, num_classes=1000)`` has exactly
the keys of ``torchvision.models.densenet121()``::

    features.conv0, features.norm0                      7x7 stride-2 stem, then maxpool 3/2
    features.denseblockB.denselayerL.norm1/conv1/norm2/conv2
    features.transitionB.norm/conv                      1x1 conv, then avgpool 2
    features.norm5                                       then ReLU, global average pool
    classifier                                           Linear(num_features, num_classes)

(``features.relu0``, ``features.pool0``, the ReLUs and the pools have no
parameters.)  In a dense block each layer sees the concatenation of the block
input and all earlier layers' outputs, and adds ``growth_rate`` channels.
With ``spatial_dims=3`` every layer is its 3-D counterpart.  ``num_classes=0``
replaces the classifier with Identity: the model then returns the
``num_features``-long feature vector (for :class:`sacroai.nn.models.MultiTask`).

Input [N, in_channels, H, W] or [N, in_channels, D, H, W]; output
[N, num_classes] logits.  ``features.norm5`` (or ``features``) is the usual
Grad-CAM target.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import numpy as np

from .. import _bn_act
from .. import functional as F
from .. import init
from ..activation import ReLU
from ..conv import Conv2d, Conv3d
from ..linear import Dropout, Flatten, Identity, Linear
from ..module import Module, Sequential, releases_after_backward
from ..norm import BatchNorm2d, BatchNorm3d
from ..pooling import AdaptiveAvgPool2d, AdaptiveAvgPool3d, AvgPool2d, AvgPool3d, MaxPool2d, MaxPool3d

__all__ = ["DenseNet", "densenet121", "densenet161", "DenseLayer", "DenseBlock", "Transition"]


def _layers(spatial_dims):
    if spatial_dims == 2:
        return Conv2d, BatchNorm2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d
    if spatial_dims == 3:
        return Conv3d, BatchNorm3d, MaxPool3d, AvgPool3d, AdaptiveAvgPool3d
    raise ValueError(f"DenseNet: spatial_dims must be 2 or 3, got {spatial_dims!r}")


class DenseLayer(Sequential):
    """BN-ReLU-conv1x1(bn_size*growth) - BN-ReLU-conv3x3(growth) [- dropout]."""

    def __init__(self, num_input_features, growth_rate, bn_size, drop_rate, spatial_dims, rng=None):
        Conv, BN, _, _, _ = _layers(spatial_dims)
        mid = bn_size * growth_rate
        mods = [("norm1", BN(num_input_features)), ("relu1", ReLU()),
                ("conv1", Conv(num_input_features, mid, 1, bias=False, rng=rng)),
                ("norm2", BN(mid)), ("relu2", ReLU()),
                ("conv2", Conv(mid, growth_rate, 3, padding=1, bias=False, rng=rng))]
        if drop_rate > 0:
            mods.append(("dropout", Dropout(drop_rate, rng=rng)))
        super().__init__(OrderedDict(mods))

    def _reads_buffer(self) -> bool:
        """Whether this layer can read its input straight from the block's feature buffer
        (no hooks on the layer, a fusable norm1 -> relu1)."""
        return (not (self._forward_hooks or self._forward_pre_hooks or self._backward_hooks)
                and _bn_act.fusable(self.norm1, self.relu1))

    def _forward_buffer(self, buf, c, stats=None):
        """Forward on the first ``c`` channels of the block buffer ``buf`` [N, C_total, *S];
        ``stats``: the block's per-channel (mean, var) of those channels (see DenseBlock)."""
        mods = list(self._modules.values())
        h = self.norm1._forward_fused(buf, c, relu=True, relu_module=self.relu1, batch_stats=stats)
        y, plan = _bn_act.run_forward(mods[2:], h)
        self._cache_plan = [(self.norm1, self.relu1)] + plan
        return y

    def _backward_buffer(self, grad_out, grad_buf):
        """Backward of :meth:`_forward_buffer`: the input gradient is added into
        ``grad_buf[:, :c]`` (the block's gradient buffer)."""
        plan = self.__dict__.get("_cache_plan")
        if plan is None:
            raise self._missing_cache()
        g = _bn_act.run_backward(plan[1:], grad_out)
        self.norm1._backward_fused(g, grad_buf)


class DenseBlock(Module):
    """``num_layers`` DenseLayers named denselayer1..; output = cat(input, every layer's output).

    The output is built in one [N, C_in + num_layers * growth_rate, *S] buffer
    that each layer reads its input from (its leading channels) and writes its
    ``growth_rate`` channels into, and backward adds every layer's input
    gradient into one matching gradient buffer: no concatenated copies, with
    results bit-identical to concatenating.  In training the batch statistics
    of each channel are computed once per block (every later layer's norm1
    sees the same values of that channel).  A layer with hooks gets its own
    concatenated input array instead (so hooks see what they would in PyTorch).
    """

    def __init__(self, num_layers, num_input_features, bn_size, growth_rate, drop_rate, spatial_dims, rng=None):
        super().__init__()
        self.growth_rate = int(growth_rate)
        self.num_input_features = int(num_input_features)
        for i in range(num_layers):
            self.add_module(f"denselayer{i + 1}", DenseLayer(num_input_features + i * growth_rate, growth_rate,
                                                             bn_size, drop_rate, spatial_dims, rng))

    def forward(self, x):
        layers = list(self.children())
        if not layers or not all(layer._reads_buffer() for layer in layers):
            self._cache_buffered = None
            feats = [x]
            for layer in layers:
                feats.append(layer(F.cat(feats, dim=1)))
            return F.cat(feats, dim=1)
        nd = 3 if isinstance(layers[0].norm1, BatchNorm3d) else 2
        x = F.check_input(x, nd, "DenseBlock", channels=self.num_input_features)
        c, k = self.num_input_features, self.growth_rate
        buf = F._core.nn_empty((x.shape[0], c + k * len(layers)) + x.shape[2:])
        buf[:, :c] = x
        # Batch statistics of a channel depend only on that channel's data, which never changes once
        # written: each layer computes them for its new channels only (bit-identical to recomputing).
        mean_all = np.empty(buf.shape[1], np.float32)
        var_all = np.empty(buf.shape[1], np.float32)
        known = 0
        for layer in layers:
            stats = None
            if layer.norm1.training or not layer.norm1.track_running_stats:
                if known < c:
                    mean_all[known:c], var_all[known:c] = F._core.nn_bn_stats_range(buf, c, known)
                    known = c
                stats = (mean_all[:c].copy(), var_all[:c].copy())
            buf[:, c:c + k] = layer._forward_buffer(buf, c, stats)
            c += k
        self._cache_buffered = buf.shape  # for backward: the layers' caches hold the buffer
        return buf

    def backward(self, grad_out):
        layers = list(self.children())
        sizes = [self.num_input_features] + [self.growth_rate] * len(layers)
        shape = self.__dict__.get("_cache_buffered")
        if shape:
            grad_out = F._check_grad(grad_out, shape, "DenseBlock")
            gbuf = F._core.nn_empty(shape)
            np.copyto(gbuf, grad_out)  # accumulates below; the caller's array stays as it is
            c0, k = self.num_input_features, self.growth_rate
            for i in reversed(range(len(layers))):
                ci = c0 + i * k
                layers[i]._backward_buffer(np.ascontiguousarray(gbuf[:, ci:ci + k]), gbuf)
            if releases_after_backward():
                self._cache_buffered = None
            return np.ascontiguousarray(gbuf[:, :c0])
        # gradient w.r.t. the block input and each layer's output; copies, since they accumulate
        grads = [g.copy() for g in F.split_grad(grad_out, sizes)]
        for i in reversed(range(len(layers))):
            g_in = layers[i].backward(grads[i + 1])  # layer i saw cat(feats[0..i])
            for k, gk in enumerate(F.split_grad(g_in, sizes[:i + 1])):
                grads[k] += gk
        return grads[0]


class Transition(Sequential):
    """BN-ReLU-conv1x1-avgpool2 between dense blocks (children norm, relu, conv, pool)."""

    def __init__(self, num_input_features, num_output_features, spatial_dims, rng=None):
        Conv, BN, _, AvgPool, _ = _layers(spatial_dims)
        super().__init__(OrderedDict([
            ("norm", BN(num_input_features)), ("relu", ReLU()),
            ("conv", Conv(num_input_features, num_output_features, 1, bias=False, rng=rng)),
            ("pool", AvgPool(2, 2)),
        ]))


class DenseNet(Module):
    """Densely connected network (Huang et al. 2017), torchvision layout.

    Parameters
    ----------
    growth_rate : channels added by each dense layer (k; 32 for DenseNet-121)
    block_config : layers per dense block, e.g. (6, 12, 24, 16)
    num_init_features : channels of the stem convolution
    bn_size : the bottleneck 1x1 conv has bn_size * growth_rate channels
    drop_rate : dropout after each dense layer (0 = none)
    num_classes : classifier outputs; 0 gives an Identity classifier (feature vector out)
    spatial_dims : 2 or 3
    in_channels : input channels
    rng : int seed or numpy Generator (kaiming_normal convs, as torchvision)
    """

    def __init__(self, growth_rate: int = 32, block_config: Sequence[int] = (6, 12, 24, 16),
                 num_init_features: int = 64, bn_size: int = 4, drop_rate: float = 0.0, num_classes: int = 1000,
                 spatial_dims: int = 2, in_channels: int = 3, rng=None):
        super().__init__()
        Conv, BN, MaxPool, _, AdaptivePool = _layers(spatial_dims)
        gen = init.get_generator(rng)
        self.spatial_dims, self.in_channels = spatial_dims, int(in_channels)
        feats = OrderedDict([
            ("conv0", Conv(in_channels, num_init_features, 7, stride=2, padding=3, bias=False, rng=gen)),
            ("norm0", BN(num_init_features)), ("relu0", ReLU()), ("pool0", MaxPool(3, 2, 1))])
        nf = num_init_features
        for i, nl in enumerate(block_config):
            feats[f"denseblock{i + 1}"] = DenseBlock(nl, nf, bn_size, growth_rate, drop_rate, spatial_dims, gen)
            nf += nl * growth_rate
            if i != len(block_config) - 1:
                feats[f"transition{i + 1}"] = Transition(nf, nf // 2, spatial_dims, gen)
                nf //= 2
        feats["norm5"] = BN(nf)
        self.features = Sequential(feats)
        self.relu = ReLU()
        self.avgpool = AdaptivePool(1)
        self.flatten = Flatten(1)
        self.num_features = nf
        self.num_classes = int(num_classes)
        if num_classes > 0:
            self.classifier = Linear(nf, num_classes, rng=gen)
            self.classifier.bias.data[...] = 0.0
        else:
            self.classifier = Identity()
        for m in self.modules():
            if isinstance(m, (Conv2d, Conv3d)):
                m.weight.data[...] = init.kaiming_normal(m.weight.shape, "fan_in", gen)

    def _sequence(self):
        return [self.features, self.relu, self.avgpool, self.flatten, self.classifier]

    def forward(self, x):
        x = F.check_input(x, self.spatial_dims, "DenseNet", channels=self.in_channels)
        for m in self._sequence():
            x = m(x)
        return x

    def backward(self, grad_out):
        g = grad_out
        for m in reversed(self._sequence()):
            g = m.backward(g)
        return g


def densenet121(spatial_dims: int = 2, in_channels: int = 3, num_classes: int = 1000, **kw) -> DenseNet:
    """DenseNet-121 (growth 32, blocks (6, 12, 24, 16), 64 stem features); keys as torchvision."""
    return DenseNet(32, (6, 12, 24, 16), 64, spatial_dims=spatial_dims, in_channels=in_channels,
                    num_classes=num_classes, **kw)


def densenet161(spatial_dims: int = 2, in_channels: int = 3, num_classes: int = 1000, **kw) -> DenseNet:
    """DenseNet-161 (growth 48, blocks (6, 12, 36, 24), 96 stem features); keys as torchvision."""
    return DenseNet(48, (6, 12, 36, 24), 96, spatial_dims=spatial_dims, in_channels=in_channels,
                    num_classes=num_classes, **kw)
