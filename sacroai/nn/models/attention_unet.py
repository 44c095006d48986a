"""Attention U-Net (Oktay et al. 2018) for 2-D or 3-D segmentation, MONAI-like arguments.

Like :class:`sacroai.nn.models.UNet`, but every skip connection passes through
an additive attention gate before it joins the decoder::

    g1  = W_g(g)        1x1 conv + BatchNorm, g = upsampled decoder feature
    x1  = W_x(skip)     1x1 conv + BatchNorm, at the skip's resolution
    psi = sigmoid(BN(conv1x1(ReLU(g1 + x1))))        [N, 1, *S]
    gated skip = skip * psi                            (broadcast over channels)
    decoder input = cat([gated skip, g])

Layout (``channels=(16, 32, 64, 128)``)::

    encoders.i   : DoubleConv (conv3-norm-ReLU x 2); the last is the bottleneck
    pools.i      : MaxPool 2
    upconvs.j    : ConvTranspose k=2 s=2, channels[i+1] -> channels[i]
    gates.j      : AttentionGate (W_g.0/1, W_x.0/1, psi.0/1)
    decoders.j   : DoubleConv, 2*channels[i] -> channels[i]
    head         : 1x1 conv to ``out_channels`` logits

State-dict keys follow this layout (``gates.0.W_g.0.weight``,
``gates.0.psi.1.running_mean``); a PyTorch module with the same attribute
names loads them unchanged.  MONAI's ``AttentionUnet`` nests its blocks
differently, so its checkpoints need a key mapping; its ``strides``,
``kernel_size`` and ``dropout`` options are not offered here (pooling by 2,
3x3 convolutions, no dropout).  Spatial sizes must be divisible by
2**(len(channels) - 1).
"""
from __future__ import annotations

from typing import Sequence

from .. import functional as F
from .. import init
from ..activation import ReLU, Sigmoid
from ..container import ModuleList
from ..module import Module, Sequential
from ..norm import BatchNorm2d, BatchNorm3d
from .unet import DoubleConv, _ops, encode, encode_backward

__all__ = ["AttentionUNet", "AttentionGate"]


class AttentionGate(Module):
    """Additive attention gate: ``forward(g, x) -> x * psi(g, x)``.

    g : [N, F_g, *S] gating signal; x : [N, F_l, *S] skip feature (same S).
    ``backward(grad)`` returns ``(grad_g, grad_x)``.
    """

    def __init__(self, spatial_dims: int, F_g: int, F_l: int, F_int: int, rng=None):
        super().__init__()
        conv, _, _, _ = _ops(spatial_dims, "batch")
        bn = BatchNorm2d if spatial_dims == 2 else BatchNorm3d
        self.W_g = Sequential(conv(F_g, F_int, 1, rng=rng), bn(F_int))
        self.W_x = Sequential(conv(F_l, F_int, 1, rng=rng), bn(F_int))
        self.psi = Sequential(conv(F_int, 1, 1, rng=rng), bn(1), Sigmoid())
        self.relu = ReLU()
        self._cache = None

    def forward(self, g, x):
        if g.shape[2:] != x.shape[2:] or g.shape[0] != x.shape[0]:
            raise ValueError(f"AttentionGate: gating signal shape {g.shape} and skip shape {x.shape} "
                             "must agree in batch and spatial sizes")
        p = self.psi(self.relu(self.W_g(g) + self.W_x(x)))
        self._cache = (x, p) if self._caching() else None
        return F._core.nn_gate_forward(x, p)  # x * p, in one pass

    def backward(self, grad_out):
        if self._cache is None:
            raise self._missing_cache()
        x, p = self._cache
        g = F._check_grad(grad_out, x.shape, "AttentionGate")
        dx, dp = F._core.nn_gate_backward(g, x, p)  # g * p and sum over channels of g * x
        d = self.relu.backward(self.psi.backward(dp))
        dg = self.W_g.backward(d)
        dx += self.W_x.backward(d)
        return dg, dx


class AttentionUNet(Module):
    """Attention U-Net for [N, in_channels, *S] -> [N, out_channels, *S] logits.

    Parameters
    ----------
    spatial_dims : 2 or 3
    in_channels, out_channels : input channels and output classes (logits)
    channels : channels per level, e.g. (16, 32, 64, 128) (MONAI's name; ``features`` is an alias)
    norm : "batch" or "instance" for the DoubleConv blocks (the gates always use BatchNorm)
    rng : int seed or numpy Generator for the initial weights

    The gates' intermediate width is ``max(channels[i] // 2, 1)`` (as MONAI).
    """

    def __init__(self, spatial_dims: int = 3, in_channels: int = 1, out_channels: int = 2,
                 channels: Sequence[int] = (16, 32, 64, 128), norm: str = "batch", rng=None, features=None):
        super().__init__()
        if features is not None:
            channels = features
        conv, up, pool, _ = _ops(spatial_dims, norm)
        if len(channels) < 2:
            raise ValueError("AttentionUNet: channels needs at least two levels")
        gen = init.get_generator(rng)
        self.spatial_dims = spatial_dims
        self.in_channels = in_channels
        self.channels = tuple(int(c) for c in channels)
        f = self.channels
        lv = list(reversed(range(len(f) - 1)))
        self.encoders = ModuleList([DoubleConv(in_channels if i == 0 else f[i - 1], f[i], spatial_dims, norm, gen)
                                    for i in range(len(f))])
        self.pools = ModuleList([pool(2) for _ in range(len(f) - 1)])
        self.upconvs = ModuleList([up(f[i + 1], f[i], 2, stride=2, rng=gen) for i in lv])
        self.gates = ModuleList([AttentionGate(spatial_dims, f[i], f[i], max(f[i] // 2, 1), gen) for i in lv])
        self.decoders = ModuleList([DoubleConv(2 * f[i], f[i], spatial_dims, norm, gen) for i in lv])
        self.head = conv(f[0], out_channels, 1, rng=gen)

    def forward(self, x):
        nd, levels = self.spatial_dims, len(self.channels)
        x = F.check_input(x, nd, "AttentionUNet", channels=self.in_channels)
        m = 2 ** (levels - 1)
        if any(s % m for s in x.shape[2:]):
            raise ValueError(f"AttentionUNet: spatial size {x.shape[2:]} must be divisible by {m} "
                             f"(2**(levels-1) for {levels} levels)")
        h, skips = encode(self.encoders, self.pools, x)
        for j in range(levels - 1):
            up = self.upconvs[j](h)
            gated = self.gates[j](up, skips[levels - 2 - j])
            h = self.decoders[j](F.cat([gated, up], dim=1))
        return self.head(h)

    def backward(self, grad_out):
        levels = len(self.channels)
        g = self.head.backward(grad_out)
        skip_grads = [None] * (levels - 1)
        for j in reversed(range(levels - 1)):
            g = self.decoders[j].backward(g)
            c = self.channels[levels - 2 - j]
            g_gated, g_up = F.split_grad(g, [c, c])
            dg, dskip = self.gates[j].backward(g_gated)
            skip_grads[levels - 2 - j] = dskip
            g = self.upconvs[j].backward(g_up + dg)
        return encode_backward(self.encoders, self.pools, g, skip_grads)
