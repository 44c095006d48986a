"""Linear, Flatten, Identity, Dropout (PyTorch names, defaults and initialisation)."""
from __future__ import annotations

import math

import numpy as np

from . import functional as F
from . import init
from .module import Module, Parameter

__all__ = ["Linear", "Flatten", "Identity", "Dropout"]


class Linear(Module):
    """y = x W^T + b over the last axis: [*, in_features] -> [*, out_features].

    ``weight`` [out, in] kaiming_uniform(a=sqrt(5)); ``bias`` [out] U(+-1/sqrt(in)).
    """

    def __init__(self, in_features, out_features, bias=True, rng=None):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        gen = init.get_generator(rng)
        self.weight = Parameter(init.kaiming_uniform((out_features, in_features), a=math.sqrt(5.0), rng=gen))
        if bias:
            self.bias = Parameter(init.uniform((out_features,), 1.0 / math.sqrt(in_features), gen))
        else:
            self.register_parameter("bias", None)
        self._cache = None

    def forward(self, x):
        y = F.linear(x, self.weight.data, self.bias.data if self.bias is not None else None)
        self._cache = np.ascontiguousarray(x) if self._caching() else None
        return y

    def backward(self, grad_out):
        if self._cache is None:
            raise self._missing_cache()
        x = self._cache
        g = F._check_grad(grad_out, x.shape[:-1] + (self.out_features,), "Linear")
        need_b = self.bias is not None and self.bias.requires_grad
        dx, dw, db = F.linear_backward(x, self.weight.data, g, True, need_b)
        self.weight.accumulate_grad(dw)
        if need_b:
            self.bias.accumulate_grad(db)
        return dx

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    """Flatten dims start_dim..end_dim (default 1..-1) into one."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim
        self._shape = None

    def forward(self, x):
        s = self.start_dim % x.ndim
        e = self.end_dim % x.ndim
        self._shape = x.shape
        return x.reshape(x.shape[:s] + (-1,) + x.shape[e + 1:])

    def backward(self, grad_out):
        if self._shape is None:
            raise self._missing_cache()
        return grad_out.reshape(self._shape)


class Identity(Module):
    """Returns its input (accepts and ignores constructor arguments, like PyTorch)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x

    def backward(self, grad_out):
        return grad_out


class Dropout(Module):
    """Inverted dropout with probability ``p`` in training; identity in eval.

    Each forward draws a 64-bit seed from ``rng`` (see sacroai.nn.init) and the
    mask is a counter-based function of (seed, element index), see
    :func:`sacroai.nn.functional.dropout`; backward regenerates it.
    """

    def __init__(self, p=0.5, inplace=False, rng=None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p, self.inplace = float(p), inplace
        self._rng = init.get_generator(rng)
        self._seed = None

    def forward(self, x):
        if not self.training or self.p == 0.0:
            self._seed = None
            return x
        if self.p == 1.0:
            self._seed = -1
            return np.zeros_like(x)
        self._seed = int(self._rng.integers(0, 2**63))
        return F.dropout(F._act_input(x, "Dropout"), self.p, self._seed)

    def backward(self, grad_out):
        if self._seed is None:
            return grad_out
        if self._seed == -1:
            return np.zeros_like(grad_out)
        return F.dropout(np.ascontiguousarray(grad_out, dtype=np.float32), self.p, self._seed)

    def extra_repr(self):
        return f"p={self.p}"
