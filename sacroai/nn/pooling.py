"""Pooling layers: MaxPool2d/3d, AvgPool2d/3d, AdaptiveAvgPool2d/3d (PyTorch arguments and rules)."""
from __future__ import annotations

from . import functional as F
from .module import Module

__all__ = ["MaxPool2d", "MaxPool3d", "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d"]


class _MaxPool(Module):
    _nd = 2

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        if return_indices:
            raise ValueError(f"{type(self).__name__}: return_indices=True is not supported; "
                             "use sacroai.nn.functional.max_pool")
        name = type(self).__name__
        self.kernel_size = F._tuple(kernel_size, self._nd, "kernel_size", name, 1)
        self.stride = self.kernel_size if stride is None else F._tuple(stride, self._nd, "stride", name, 1)
        self.padding = F._tuple(padding, self._nd, "padding", name, 0)
        self.dilation = F._tuple(dilation, self._nd, "dilation", name, 1)
        self.ceil_mode = bool(ceil_mode)
        self.return_indices = False
        self._cache = None

    def forward(self, x):
        caching = self._caching()
        y, idx = F.max_pool(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                            self._nd, type(self).__name__, return_indices=caching)
        self._cache = (x.shape[2:], idx) if caching else None
        return y

    def backward(self, grad_out):
        if self._cache is None:
            raise self._missing_cache()
        in_size, idx = self._cache
        g = F._check_grad(grad_out, idx.shape, type(self).__name__)
        return F.max_pool_backward(g, idx, in_size, self.kernel_size, self.stride, self.padding, self.dilation,
                                   self.ceil_mode, self._nd)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool2d(_MaxPool):
    """2-D max pooling over [N, C, H, W]; stride defaults to kernel_size."""

    _nd = 2


class MaxPool3d(_MaxPool):
    """3-D max pooling over [N, C, D, H, W]; stride defaults to kernel_size."""

    _nd = 3


class _AvgPool(Module):
    _nd = 2

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        name = type(self).__name__
        if divisor_override is not None:
            raise ValueError(f"{name}: divisor_override is not supported")
        self.kernel_size = F._tuple(kernel_size, self._nd, "kernel_size", name, 1)
        self.stride = self.kernel_size if stride is None else F._tuple(stride, self._nd, "stride", name, 1)
        self.padding = F._tuple(padding, self._nd, "padding", name, 0)
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad = bool(count_include_pad)
        self.divisor_override = None
        self._cache = None

    def forward(self, x):
        y = F.avg_pool(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                       self._nd, type(self).__name__)
        self._cache = (x.shape[2:], y.shape) if self._caching() else None
        return y

    def backward(self, grad_out):
        if self._cache is None:
            raise self._missing_cache()
        in_size, out_shape = self._cache
        g = F._check_grad(grad_out, out_shape, type(self).__name__)
        return F.avg_pool_backward(g, in_size, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                                   self.count_include_pad, self._nd)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPool):
    """2-D average pooling (count_include_pad=True by default, like PyTorch)."""

    _nd = 2


class AvgPool3d(_AvgPool):
    """3-D average pooling (count_include_pad=True by default, like PyTorch)."""

    _nd = 3


class _AdaptiveAvgPool(Module):
    _nd = 2

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size
        self._cache = None

    def forward(self, x):
        y = F.adaptive_avg_pool(x, self.output_size, self._nd, type(self).__name__)
        self._cache = (x.shape[2:], y.shape) if self._caching() else None
        return y

    def backward(self, grad_out):
        if self._cache is None:
            raise self._missing_cache()
        in_size, out_shape = self._cache
        g = F._check_grad(grad_out, out_shape, type(self).__name__)
        return F.adaptive_avg_pool_backward(g, in_size, self._nd)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(_AdaptiveAvgPool):
    """Adaptive average pooling to ``output_size`` (int, pair, None entries keep the input size)."""

    _nd = 2


class AdaptiveAvgPool3d(_AdaptiveAvgPool):
    """3-D adaptive average pooling to ``output_size``."""

    _nd = 3
