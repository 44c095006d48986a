"""Convolution layers: Conv2d, Conv3d, ConvTranspose2d, ConvTranspose3d.

Constructor arguments, defaults, parameter names and shapes follow PyTorch:
``weight`` is [out, in/groups, *k] for convolutions and [in, out/groups, *k]
for transposed ones; ``bias`` is [out].  Initialisation draws
kaiming_uniform(a=sqrt(5)) weights and U(-1/sqrt(fan_in), 1/sqrt(fan_in))
biases from ``rng`` (see :mod:`sacroai.nn.init`).
"""
from __future__ import annotations

import math

import numpy as np

from . import functional as F
from . import init
from .module import Module, Parameter, input_grad_enabled, is_network_input, releases_after_backward

__all__ = ["Conv2d", "Conv3d", "ConvTranspose2d", "ConvTranspose3d"]


class _ConvNd(Module):
    _nd = 2
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", output_padding=0, rng=None):
        super().__init__()
        name, nd = type(self).__name__, self._nd
        for argname, v in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name}: {argname} must be a positive int, got {v!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) "
                             f"must be divisible by groups ({groups})")
        if padding_mode != "zeros":
            raise ValueError(f"{name}: only padding_mode='zeros' is supported, got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = F._tuple(kernel_size, nd, "kernel_size", name, 1)
        self.stride = F._tuple(stride, nd, "stride", name, 1)
        self.dilation = F._tuple(dilation, nd, "dilation", name, 1)
        self.padding = (padding if isinstance(padding, str) and not self._transposed
                        else F._tuple(padding, nd, "padding", name, 0))
        self.output_padding = F._tuple(output_padding, nd, "output_padding", name, 0)
        self.padding_mode = padding_mode
        if self._transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        gen = init.get_generator(rng)
        self.weight = Parameter(init.kaiming_uniform(shape, a=math.sqrt(5.0), rng=gen))
        if bias:
            fan_in, _ = init.calculate_fan_in_and_fan_out(shape)
            self.bias = Parameter(init.uniform((out_channels,), 1.0 / math.sqrt(fan_in) if fan_in else 0.0, gen))
        else:
            self.register_parameter("bias", None)
        self._cache_x = None

    def _resolved_padding(self):
        if isinstance(self.padding, str):
            return F._conv_padding(self.padding, self._nd, self.kernel_size, self.dilation, self.stride,
                                   type(self).__name__)
        return self.padding

    def forward(self, x):
        name = type(self).__name__
        x = F.check_input(x, self._nd, name, channels=self.in_channels)
        b = self.bias.data if self.bias is not None else None
        if self._transposed:
            y = F.conv_transpose(x, self.weight.data, b, self.stride, self.padding, self.output_padding,
                                 self.groups, self.dilation, self._nd, name)
        else:
            y = F.conv(x, self.weight.data, b, self.stride, self._resolved_padding(), self.dilation,
                       self.groups, self._nd, name)
        self._cache_x = x if self._caching() else None
        self._reads_network_input = self._cache_x is not None and is_network_input(x)
        self._cache_out_shape = y.shape
        return y

    def backward(self, grad_out):
        if self._cache_x is None:
            raise self._missing_cache()
        name = type(self).__name__
        g = F._check_grad(grad_out, self._cache_out_shape, name)
        need_b = self.bias is not None and self.bias.requires_grad
        fn = F.conv_transpose_backward if self._transposed else F.conv_backward
        # the network input's gradient is skipped under no_input_grad() (dx is None then)
        need_dx = input_grad_enabled() or not getattr(self, "_reads_network_input", False)
        dx, dw, db = fn(self._cache_x, self.weight.data, g, self.stride, self._resolved_padding(),
                        self.dilation, self.groups, self._nd, need_dx, need_b, name)
        if releases_after_backward():
            self._cache_x = None
        self.weight.accumulate_grad(dw)
        if need_b:
            self.bias.accumulate_grad(db)
        return dx

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._nd:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self._transposed and self.output_padding != (0,) * self._nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv2d(_ConvNd):
    """2-D convolution, input [N, C_in, H, W] -> [N, C_out, H_out, W_out] (like torch.nn.Conv2d).

    ``padding`` may be an int, a pair, "valid" or "same" (stride 1).  ``rng``:
    int seed or numpy Generator for the initial weights.
    """

    _nd = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", rng=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, 0, rng)


class Conv3d(_ConvNd):
    """3-D convolution, input [N, C_in, D, H, W] -> [N, C_out, D', H', W'] (like torch.nn.Conv3d)."""

    _nd = 3

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", rng=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, 0, rng)


class ConvTranspose2d(_ConvNd):
    """2-D transposed convolution (like torch.nn.ConvTranspose2d); weight [C_in, C_out/groups, kH, kW].

    H_out = (H - 1) stride - 2 padding + dilation (k - 1) + output_padding + 1.
    """

    _nd = 2
    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", rng=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, output_padding, rng)


class ConvTranspose3d(_ConvNd):
    """3-D transposed convolution (like torch.nn.ConvTranspose3d); weight [C_in, C_out/groups, kD, kH, kW]."""

    _nd = 3
    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", rng=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, output_padding, rng)
