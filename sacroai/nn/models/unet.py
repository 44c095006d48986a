"""A plain U-Net for 2-D or 3-D segmentation (encoder/decoder with skip connections).

Layout (``features=(16, 32, 64, 128)``, the common 3-D baseline)::

    encoders.i   : DoubleConv (conv3-norm-ReLU, conv3-norm-ReLU); the last is the bottleneck
    pools.i      : MaxPool 2 (no parameters)
    upconvs.j    : ConvTranspose k=2 s=2, features[i+1] -> features[i]
    decoders.j   : DoubleConv on cat([upsampled, skip]) (2*features[i] -> features[i])
    head         : 1x1 conv to ``out_channels`` logits

State-dict keys are named after this layout (``encoders.0.conv1.weight``,
``encoders.0.norm1.running_mean``, ``upconvs.0.weight``, ``head.bias``), and a
PyTorch module with the same attribute names loads them unchanged.  Spatial
sizes must be divisible by 2**(len(features) - 1).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import numpy as np

from .. import functional as F
from .. import init
from ..activation import ReLU
from ..container import ModuleList
from ..conv import Conv2d, Conv3d, ConvTranspose2d, ConvTranspose3d
from ..module import Module, Sequential
from ..norm import BatchNorm2d, BatchNorm3d, InstanceNorm2d, InstanceNorm3d
from ..pooling import MaxPool2d, MaxPool3d

__all__ = ["UNet", "DoubleConv"]


def _ops(spatial_dims, norm):
    if spatial_dims not in (2, 3):
        raise ValueError(f"UNet: spatial_dims must be 2 or 3, got {spatial_dims!r}")
    if norm not in ("batch", "instance"):
        raise ValueError(f"UNet: norm must be 'batch' or 'instance', got {norm!r}")
    conv = Conv2d if spatial_dims == 2 else Conv3d
    up = ConvTranspose2d if spatial_dims == 2 else ConvTranspose3d
    pool = MaxPool2d if spatial_dims == 2 else MaxPool3d
    if norm == "batch":
        nrm = BatchNorm2d if spatial_dims == 2 else BatchNorm3d
    else:
        nrm = (lambda c: InstanceNorm2d(c, affine=True)) if spatial_dims == 2 else (lambda c: InstanceNorm3d(c, affine=True))
    return conv, up, pool, nrm


def encode(encoders, pools, x):
    """The contracting path shared by the U-Nets: (bottleneck output, skip features per level)."""
    skips, h = [], x
    for enc, pool in zip(encoders, pools):
        h = enc(h)
        skips.append(h)
        h = pool(h)
    return encoders[len(encoders) - 1](h), skips


def encode_backward(encoders, pools, g, skip_grads):
    """Backward of :func:`encode`: ``g`` at the bottleneck, ``skip_grads`` per level."""
    levels = len(encoders)
    g = encoders[levels - 1].backward(g)
    for i in reversed(range(levels - 1)):
        g = pools[i].backward(g) + skip_grads[i]
        g = encoders[i].backward(g)
    return g


class DoubleConv(Sequential):
    """conv3-norm-ReLU twice; children conv1, norm1, act1, conv2, norm2, act2."""

    def __init__(self, cin, cout, spatial_dims=3, norm="batch", rng=None):
        conv, _, _, nrm = _ops(spatial_dims, norm)
        super().__init__(OrderedDict([
            ("conv1", conv(cin, cout, 3, padding=1, bias=False, rng=rng)), ("norm1", nrm(cout)), ("act1", ReLU()),
            ("conv2", conv(cout, cout, 3, padding=1, bias=False, rng=rng)), ("norm2", nrm(cout)), ("act2", ReLU()),
        ]))


class UNet(Module):
    """U-Net with ``len(features)`` levels for [N, in_channels, *S] -> [N, out_channels, *S] logits.

    Parameters
    ----------
    spatial_dims : 2 or 3
    in_channels, out_channels : input channels and output classes (logits)
    features : channels per level, e.g. (16, 32, 64, 128)
    norm : "batch" (BatchNorm) or "instance" (InstanceNorm with affine parameters)
    rng : int seed or numpy Generator for the initial weights
    """

    def __init__(self, spatial_dims: int = 3, in_channels: int = 1, out_channels: int = 2,
                 features: Sequence[int] = (16, 32, 64, 128), norm: str = "batch", rng=None):
        super().__init__()
        conv, up, pool, _ = _ops(spatial_dims, norm)
        if len(features) < 2:
            raise ValueError("UNet: features needs at least two levels")
        gen = init.get_generator(rng)
        self.spatial_dims = spatial_dims
        self.in_channels = in_channels
        self.features = tuple(int(f) for f in features)
        f = self.features
        self.encoders = ModuleList([DoubleConv(in_channels if i == 0 else f[i - 1], f[i], spatial_dims, norm, gen)
                                    for i in range(len(f))])
        self.pools = ModuleList([pool(2) for _ in range(len(f) - 1)])
        self.upconvs = ModuleList([up(f[i + 1], f[i], 2, stride=2, rng=gen) for i in reversed(range(len(f) - 1))])
        self.decoders = ModuleList([DoubleConv(2 * f[i], f[i], spatial_dims, norm, gen)
                                    for i in reversed(range(len(f) - 1))])
        self.head = conv(f[0], out_channels, 1, rng=gen)

    def forward(self, x):
        nd, levels = self.spatial_dims, len(self.features)
        x = F.check_input(x, nd, "UNet", channels=self.in_channels)
        m = 2 ** (levels - 1)
        if any(s % m for s in x.shape[2:]):
            raise ValueError(f"UNet: spatial size {x.shape[2:]} must be divisible by {m} "
                             f"(2**(levels-1) for {levels} levels)")
        h, skips = encode(self.encoders, self.pools, x)
        for j in range(levels - 1):
            h = self.upconvs[j](h)
            h = F.cat([h, skips[levels - 2 - j]], dim=1)
            h = self.decoders[j](h)
        return self.head(h)

    def backward(self, grad_out):
        levels = len(self.features)
        g = self.head.backward(grad_out)
        skip_grads = [None] * (levels - 1)
        for j in reversed(range(levels - 1)):
            g = self.decoders[j].backward(g)
            c = self.features[levels - 2 - j]
            g_up, g_skip = F.split_grad(g, [c, c])
            skip_grads[levels - 2 - j] = g_skip
            g = self.upconvs[j].backward(g_up)
        return encode_backward(self.encoders, self.pools, g, skip_grads)
