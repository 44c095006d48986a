"""A plain CNN classifier for 3-D volumes (or 2-D images): (conv-BN-ReLU-maxpool) blocks.

Layout and state-dict keys (``channels=(16, 32, 64, 128)``)::

    features.block{i}.conv / .bn / .relu / .pool    conv3 pad 1 (no bias), BatchNorm, ReLU, maxpool 2
    avgpool, flatten                                 global average pool -> [N, channels[-1]]
    dropout                                          Dropout(p=dropout)
    classifier                                       Linear(channels[-1], num_classes)

Input [N, in_channels, D, H, W] (or [N, in_channels, H, W] with
``spatial_dims=2``); output [N, num_classes] logits.  Each block halves the
spatial size (floor), so every spatial size must be at least
2**len(channels).  ``num_classes=0`` makes the classifier an Identity (the
model returns the [N, channels[-1]] feature vector).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

from .. import functional as F
from .. import init
from ..activation import ReLU
from ..conv import Conv2d, Conv3d
from ..linear import Dropout, Flatten, Identity, Linear
from ..module import Module, Sequential
from ..norm import BatchNorm2d, BatchNorm3d
from ..pooling import AdaptiveAvgPool2d, AdaptiveAvgPool3d, MaxPool2d, MaxPool3d

__all__ = ["CNN3D"]


class CNN3D(Module):
    """Plain CNN classifier.

    Parameters
    ----------
    spatial_dims : 3 (volumes, default) or 2 (images)
    in_channels : input channels
    num_classes : logits out; 0 gives an Identity classifier (feature vector out)
    channels : output channels of each conv-BN-ReLU-maxpool block
    dropout : dropout probability before the classifier
    rng : int seed or numpy Generator (kaiming_normal fan_out convs)
    """

    def __init__(self, spatial_dims: int = 3, in_channels: int = 1, num_classes: int = 2,
                 channels: Sequence[int] = (16, 32, 64, 128), dropout: float = 0.5, rng=None):
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"CNN3D: spatial_dims must be 2 or 3, got {spatial_dims!r}")
        if len(channels) < 1:
            raise ValueError("CNN3D: channels needs at least one block")
        Conv, BN, Pool, GAP = ((Conv2d, BatchNorm2d, MaxPool2d, AdaptiveAvgPool2d) if spatial_dims == 2 else
                               (Conv3d, BatchNorm3d, MaxPool3d, AdaptiveAvgPool3d))
        gen = init.get_generator(rng)
        self.spatial_dims, self.in_channels = spatial_dims, int(in_channels)
        self.channels = tuple(int(c) for c in channels)
        blocks = OrderedDict()
        cin = in_channels
        for i, c in enumerate(self.channels):
            blocks[f"block{i}"] = Sequential(OrderedDict([
                ("conv", Conv(cin, c, 3, padding=1, bias=False, rng=gen)), ("bn", BN(c)), ("relu", ReLU()),
                ("pool", Pool(2))]))
            cin = c
        self.features = Sequential(blocks)
        self.avgpool = GAP(1)
        self.flatten = Flatten(1)
        self.dropout = Dropout(dropout, rng=gen)
        self.num_features = self.channels[-1]
        self.classifier = Linear(cin, num_classes, rng=gen) if num_classes > 0 else Identity()
        for m in self.modules():
            if isinstance(m, (Conv2d, Conv3d)):
                m.weight.data[...] = init.kaiming_normal(m.weight.shape, "fan_out", gen)

    def _sequence(self):
        return [self.features, self.avgpool, self.flatten, self.dropout, self.classifier]

    def forward(self, x):
        x = F.check_input(x, self.spatial_dims, "CNN3D", channels=self.in_channels)
        m = 2 ** len(self.channels)
        if any(s < m for s in x.shape[2:]):
            raise ValueError(f"CNN3D: every spatial size must be at least {m} (2**{len(self.channels)} "
                             f"blocks of max-pooling), got {x.shape[2:]}")
        for mod in self._sequence():
            x = mod(x)
        return x

    def backward(self, grad_out):
        g = grad_out
        for mod in reversed(self._sequence()):
            g = mod.backward(g)
        return g
