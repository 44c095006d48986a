"""Activation layers: ReLU, LeakyReLU, PReLU, Sigmoid, Tanh, Softmax, LogSoftmax.

``inplace`` is accepted for PyTorch compatibility and ignored (outputs are
always new arrays).  Softmax/LogSoftmax use PyTorch's implicit-dim rule when
``dim`` is None (0 for 0/1/3-d input, else 1).
"""
from __future__ import annotations

import numpy as np

from . import functional as F
from .module import Module, Parameter, releases_after_backward

__all__ = ["ReLU", "LeakyReLU", "PReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax"]


class _Elementwise(Module):
    _kind = F.ACT_RELU
    _save_output = True

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace
        self._cache = None

    def _slope(self):
        return 0.0

    def forward(self, x):
        x = F._act_input(x, type(self).__name__)
        y = F._core.nn_act_forward(self._kind, x, self._slope())
        self._cache = (y if self._save_output else x) if self._caching() else None
        return y

    def backward(self, grad_out):
        if self._cache is None:
            raise self._missing_cache()
        g = F._check_grad(grad_out, self._cache.shape, type(self).__name__)
        dx = F.act_backward(self._kind, self._cache, g, self._slope())
        if releases_after_backward():
            self._cache = None
        return dx


class ReLU(_Elementwise):
    """max(x, 0)."""


class LeakyReLU(_Elementwise):
    """x if x > 0 else negative_slope * x."""

    _kind = F.ACT_LEAKY_RELU
    _save_output = False

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__(inplace)
        self.negative_slope = float(negative_slope)

    def _slope(self):
        return self.negative_slope

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Sigmoid(_Elementwise):
    """1 / (1 + exp(-x))."""

    _kind = F.ACT_SIGMOID

    def __init__(self):
        super().__init__()


class Tanh(_Elementwise):
    """tanh(x)."""

    _kind = F.ACT_TANH

    def __init__(self):
        super().__init__()


class PReLU(Module):
    """x if x > 0 else a[c] * x with learnable ``weight`` of ``num_parameters`` (1 or C), init 0.25."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25):
        super().__init__()
        self.num_parameters = int(num_parameters)
        self.weight = Parameter(np.full(num_parameters, init, np.float32))
        self._cache = None

    def forward(self, x):
        x = F._act_input(x, "PReLU")
        if self.num_parameters != 1 and (x.ndim < 2 or x.shape[1] != self.num_parameters):
            raise ValueError(f"PReLU: input must have {self.num_parameters} channels on axis 1 "
                             f"(shape (N, {self.num_parameters}, *)), got {x.shape}")
        y = F.prelu(x, self.weight.data)
        self._cache = x if self._caching() else None
        return y

    def backward(self, grad_out):
        if self._cache is None:
            raise self._missing_cache()
        g = F._check_grad(grad_out, self._cache.shape, "PReLU")
        dx, dw = F.prelu_backward(self._cache, self.weight.data, g)
        self.weight.accumulate_grad(dw)
        return dx

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class Softmax(Module):
    """Softmax along ``dim``."""

    _log = False

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim
        self._cache = None

    def forward(self, x):
        x = F._act_input(x, type(self).__name__)
        fn = F.log_softmax if self._log else F.softmax
        y = fn(x, self.dim, type(self).__name__)
        self._cache = y if self._caching() else None
        return y

    def backward(self, grad_out):
        if self._cache is None:
            raise self._missing_cache()
        g = F._check_grad(grad_out, self._cache.shape, type(self).__name__)
        return F.softmax_backward(self._cache, g, self.dim, self._log)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """log(softmax(x)) along ``dim``, computed stably."""

    _log = True
