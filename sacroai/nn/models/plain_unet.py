"""nnU-Net's PlainConvUNet for 2-D or 3-D segmentation, with optional deep supervision.

Each stage is ``n_conv_per_stage`` blocks of conv3 (bias) - InstanceNorm
(affine, eps 1e-5) - LeakyReLU(0.01).  Stage 0 keeps the resolution; every
later stage halves it with a stride-2 first convolution (no pooling).  The
decoder upsamples with a transposed convolution (k=2, s=2), concatenates
``[upsampled, skip]`` and runs a stage of ``n_conv_per_stage_decoder`` blocks;
each decoder stage has a 1x1 segmentation head ``decoder.seg_layers.s``.

Layout and state-dict keys (``features_per_stage=(32, 64, 128)``)::

    encoder.stages.i.convs.k.conv / .norm     (k-th block of encoder stage i)
    decoder.transpconvs.s                     features[-(s+1)] -> features[-(s+2)]
    decoder.stages.s.convs.k.conv / .norm     on 2*features[-(s+2)] channels
    decoder.seg_layers.s                      1x1 conv -> num_classes

These are nnU-Net's names without its extra ``.0`` level in
``encoder.stages.i.0`` and without the duplicated ``all_modules`` entries.

``forward(x)`` with x [N, input_channels, *S] returns [N, num_classes, *S]
logits, or with ``deep_supervision=True`` a list of logits, highest
resolution first: S, S/2, ..., S/2**(n_stages-2).  ``backward`` then takes a
list of gradients of the same shapes (an entry may be None for a level
without loss).  Spatial sizes must be divisible by 2**(n_stages-1).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import numpy as np

from .. import functional as F
from .. import init
from ..activation import LeakyReLU
from ..container import ModuleList
from ..conv import Conv2d, Conv3d, ConvTranspose2d, ConvTranspose3d
from ..module import Module, Sequential
from ..norm import InstanceNorm2d, InstanceNorm3d

__all__ = ["PlainConvUNet", "ConvNormLReLU", "StackedConvBlocks"]

_NAME = "PlainConvUNet"


def _ops(spatial_dims):
    if spatial_dims == 2:
        return Conv2d, ConvTranspose2d, InstanceNorm2d
    if spatial_dims == 3:
        return Conv3d, ConvTranspose3d, InstanceNorm3d
    raise ValueError(f"{_NAME}: spatial_dims must be 2 or 3, got {spatial_dims!r}")


class ConvNormLReLU(Sequential):
    """conv3 (stride) - InstanceNorm(affine) - LeakyReLU; children conv, norm, nonlin."""

    def __init__(self, spatial_dims, cin, cout, stride=1, negative_slope=0.01, rng=None):
        conv, _, norm = _ops(spatial_dims)
        super().__init__(OrderedDict([
            ("conv", conv(cin, cout, 3, stride=stride, padding=1, bias=True, rng=rng)),
            ("norm", norm(cout, eps=1e-5, affine=True)),
            ("nonlin", LeakyReLU(negative_slope)),
        ]))


class StackedConvBlocks(Module):
    """``n`` ConvNormLReLU blocks in ``convs``; the first has the given stride."""

    def __init__(self, spatial_dims, n, cin, cout, stride=1, negative_slope=0.01, rng=None):
        super().__init__()
        self.convs = Sequential(*[ConvNormLReLU(spatial_dims, cin if k == 0 else cout, cout,
                                                stride if k == 0 else 1, negative_slope, rng) for k in range(n)])

    def forward(self, x):
        return self.convs(x)

    def backward(self, grad_out):
        return self.convs.backward(grad_out)


class _Encoder(Module):
    def __init__(self, stages):
        super().__init__()
        self.stages = ModuleList(stages)


class _Decoder(Module):
    def __init__(self, transpconvs, stages, seg_layers):
        super().__init__()
        self.transpconvs = ModuleList(transpconvs)
        self.stages = ModuleList(stages)
        self.seg_layers = ModuleList(seg_layers)


def _per_stage(v, n, name):
    if isinstance(v, (int, np.integer)):
        return (int(v),) * n
    v = tuple(int(a) for a in v)
    if len(v) != n:
        raise ValueError(f"{_NAME}: {name} must be an int or have {n} entries, got {v}")
    return v


class PlainConvUNet(Module):
    """nnU-Net PlainConvUNet: [N, input_channels, *S] -> [N, num_classes, *S] logits (or a list).

    Parameters
    ----------
    spatial_dims : 2 or 3
    input_channels : channels of the input
    num_classes : output logits per voxel
    features_per_stage : channels of each encoder stage, e.g. (32, 64, 128, 256, 320)
    n_conv_per_stage : blocks per encoder stage (int or one per stage)
    n_conv_per_stage_decoder : blocks per decoder stage (int or one per decoder stage)
    deep_supervision : return logits of every decoder stage (highest resolution first)
    negative_slope : LeakyReLU slope (nnU-Net: 0.01)
    rng : int seed or numpy Generator for the initial weights
    """

    def __init__(self, spatial_dims: int = 3, input_channels: int = 1, num_classes: int = 2,
                 features_per_stage: Sequence[int] = (32, 64, 128, 256), n_conv_per_stage=2,
                 n_conv_per_stage_decoder=2, deep_supervision: bool = False, negative_slope: float = 0.01,
                 rng=None):
        super().__init__()
        conv, up, _ = _ops(spatial_dims)
        f = tuple(int(c) for c in features_per_stage)
        if len(f) < 2:
            raise ValueError(f"{_NAME}: features_per_stage needs at least two stages, got {f}")
        n = len(f)
        nenc = _per_stage(n_conv_per_stage, n, "n_conv_per_stage")
        ndec = _per_stage(n_conv_per_stage_decoder, n - 1, "n_conv_per_stage_decoder")
        gen = init.get_generator(rng)
        self.spatial_dims, self.input_channels, self.num_classes = spatial_dims, int(input_channels), int(num_classes)
        self.features_per_stage = f
        self.deep_supervision = bool(deep_supervision)
        self.encoder = _Encoder([StackedConvBlocks(spatial_dims, nenc[i], input_channels if i == 0 else f[i - 1],
                                                   f[i], 1 if i == 0 else 2, negative_slope, gen)
                                 for i in range(n)])
        skip_ch = [f[-(s + 2)] for s in range(n - 1)]
        self.decoder = _Decoder(
            [up(f[-(s + 1)], skip_ch[s], 2, stride=2, rng=gen) for s in range(n - 1)],
            [StackedConvBlocks(spatial_dims, ndec[s], 2 * skip_ch[s], skip_ch[s], 1, negative_slope, gen)
             for s in range(n - 1)],
            [conv(skip_ch[s], num_classes, 1, rng=gen) for s in range(n - 1)])
        self._skip_ch = skip_ch

    def forward(self, x):
        n = len(self.features_per_stage)
        x = F.check_input(x, self.spatial_dims, _NAME, channels=self.input_channels)
        m = 2 ** (n - 1)
        if any(s % m for s in x.shape[2:]):
            raise ValueError(f"{_NAME}: spatial size {x.shape[2:]} must be divisible by {m} "
                             f"(2**(n_stages-1) for {n} stages)")
        skips, h = [], x
        for stage in self.encoder.stages:
            h = stage(h)
            skips.append(h)
        h = skips[-1]
        outs = []
        dec = self.decoder
        for s in range(n - 1):
            h = dec.transpconvs[s](h)
            h = dec.stages[s](F.cat([h, skips[-(s + 2)]], dim=1))
            if self.deep_supervision:
                outs.append(dec.seg_layers[s](h))
            elif s == n - 2:
                outs.append(dec.seg_layers[-1](h))
        return outs[::-1] if self.deep_supervision else outs[0]

    def backward(self, grad_out):
        n = len(self.features_per_stage)
        dec = self.decoder
        if self.deep_supervision:
            if not isinstance(grad_out, (list, tuple)) or len(grad_out) != n - 1:
                raise ValueError(f"{_NAME}.backward: with deep_supervision=True grad_out must be a list of "
                                 f"{n - 1} gradients (highest resolution first), got {type(grad_out).__name__}"
                                 + (f" of length {len(grad_out)}" if isinstance(grad_out, (list, tuple)) else ""))
            per_stage = list(grad_out)[::-1]  # index s: decoder stage s
        else:
            if isinstance(grad_out, (list, tuple)):
                raise ValueError(f"{_NAME}.backward: with deep_supervision=False grad_out must be one array")
            per_stage = [None] * (n - 2) + [grad_out]
        skip_grads = [None] * (n - 1)
        g = None
        for s in reversed(range(n - 1)):
            if per_stage[s] is not None:
                gs = dec.seg_layers[s].backward(per_stage[s])
                g = gs if g is None else g + gs
            if g is None:  # no loss at this level nor above it
                continue
            g = dec.stages[s].backward(g)
            c = self._skip_ch[s]
            g_up, g_skip = F.split_grad(g, [c, c])
            skip_grads[s] = g_skip
            g = dec.transpconvs[s].backward(g_up)
        # encoder: stage i's output feeds stage i+1 and (for i < n-1) the skip of decoder stage n-2-i
        for i in reversed(range(n)):
            extra = skip_grads[n - 2 - i] if i < n - 1 else None
            if extra is not None:
                g = extra if g is None else g + extra
            if g is None:
                raise RuntimeError(f"{_NAME}.backward: no gradient reached the encoder (all gradients None)")
            g = self.encoder.stages[i].backward(g)
        return g
