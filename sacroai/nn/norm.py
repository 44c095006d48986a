"""Normalization layers: BatchNorm2d/3d, InstanceNorm2d/3d, GroupNorm (PyTorch names and defaults).

Parameters ``weight`` (ones) and ``bias`` (zeros) when affine; BatchNorm
buffers ``running_mean`` (zeros), ``running_var`` (ones) and
``num_batches_tracked`` (int64), updated in training with the unbiased batch
variance and ``momentum`` (None: cumulative average), exactly as PyTorch.

BatchNorm2d/3d run on the kernels of csrc/nn/bn_act.c: the statistics of a
channel are finished while its rows are in cache, and containers fuse a
following ReLU (or a residual add and ReLU) into the same pass (see
``sacroai.nn._bn_act``).  Their results are bit-identical to the plain
statistics / normalize / ReLU kernels, so trained weights do not change.
"""
from __future__ import annotations

import numpy as np

from . import functional as F
from .module import Module, Parameter, releases_after_backward

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm2d", "InstanceNorm3d", "GroupNorm"]


class _NormBase(Module):
    _nd = 2

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
        super().__init__()
        if not isinstance(num_features, (int, np.integer)) or num_features < 1:
            raise ValueError(f"{type(self).__name__}: num_features must be a positive int, got {num_features!r}")
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = momentum
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        if self.affine:
            self.weight = Parameter(np.ones(num_features, np.float32))
            self.bias = Parameter(np.zeros(num_features, np.float32))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, np.float32))
            self.register_buffer("running_var", np.ones(num_features, np.float32))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self._cache = None

    def _factor(self):
        self.num_batches_tracked += 1  # 0-d array updated in place
        if self.momentum is None:
            return 1.0 / float(self.num_batches_tracked)
        return float(self.momentum)

    def _update_running(self, mean, var_unbiased):
        f = self._factor()
        self.running_mean *= (1.0 - f)
        self.running_mean += (f * mean).astype(np.float32)
        self.running_var *= (1.0 - f)
        self.running_var += (f * var_unbiased).astype(np.float32)

    def _affine(self):
        return (self.weight.data if self.weight is not None else None,
                self.bias.data if self.bias is not None else None)

    def _check(self, x):
        return F.check_input(x, self._nd, type(self).__name__, channels=self.num_features)

    def backward(self, grad_out):
        if self._cache is None:
            raise self._missing_cache()
        x, groups, batch_stats, mean, istd = self._cache
        g = F._check_grad(grad_out, x.shape, type(self).__name__)
        want_affine = self.weight is not None and (self.weight.requires_grad or self.bias.requires_grad)
        dx, dg, db = F.norm_backward(x, g, groups, batch_stats, mean, istd,
                                     self.weight.data if self.weight is not None else None, True, want_affine)
        if releases_after_backward():
            self._cache = x = None
        if want_affine:
            self.weight.accumulate_grad(dg)
            self.bias.accumulate_grad(db)
        return dx

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    _fused_kernels = False  # BatchNorm2d/3d: the kernels of csrc/nn/bn_act.c

    def forward(self, x):
        x = self._check(x)
        if self._fused_kernels:
            return self._forward_fused(x)
        w, b = self._affine()
        use_batch = self.training or not self.track_running_stats
        if use_batch:
            mean, var = F.norm_stats(x, 0)
            count = x.size // x.shape[1]
            if self.training and count <= 1:
                raise ValueError(f"{type(self).__name__}: expected more than 1 value per channel when "
                                 f"training, got input shape {x.shape}")
            if self.training and self.track_running_stats:
                self._update_running(mean, var.astype(np.float64) * (count / (count - 1)))
        else:
            mean, var = self.running_mean, self.running_var
        istd = F.invstd(var, self.eps)
        mean = np.ascontiguousarray(mean, dtype=np.float32)
        y = F.norm_apply(x, 0, mean, istd, w, b)
        self._cache = (x, 0, use_batch, mean.copy(), istd) if self._caching() else None
        return y

    def _forward_fused(self, x, c=None, relu=False, residual=None, relu_module=None, batch_stats=None):
        """``relu?(bn(x[:, :c]) [+ residual])`` in one pass, bit-identical to the separate modules.

        ``x``: checked, C-contiguous float32 [N, C_total, *S]; its ``c`` leading
        channels (default all; must be ``num_features``) are normalized, so a
        dense block's feature buffer needs no copy.  ``residual``: [N, c, *S]
        added before the ReLU.  Statistics and running buffers follow
        :meth:`forward`.  Caches for :meth:`_backward_fused`; ``relu_module``
        (the fused ReLU) has its cache cleared.  ``batch_stats``: optional
        (mean, var) of these channels already computed by ``nn_bn_stats_range``
        on the same data (a dense block reuses the statistics of its unchanged
        channels), used when batch statistics are due.  Returns a new [N, c, *S] array.
        """
        if c is None:
            c = x.shape[1]
        w, b = self._affine()
        use_batch = self.training or not self.track_running_stats
        y = None
        if use_batch:
            count = x.size // x.shape[1]
            if self.training and count <= 1:
                raise ValueError(f"{type(self).__name__}: expected more than 1 value per channel when "
                                 f"training, got input shape {(x.shape[0], c) + x.shape[2:]}")
            if batch_stats is not None:
                mean, var = batch_stats
            else:  # statistics, invstd (as F.invstd) and output in one pass over each channel
                y, mean, var, istd = F._core.nn_bn_act_forward_train(x, c, self.eps, w, b, residual, bool(relu))
            if self.training and self.track_running_stats:
                self._update_running(mean, var.astype(np.float64) * (count / (count - 1)))
        else:
            mean, var = self.running_mean, self.running_var
        if y is None:
            istd = F.invstd(var, self.eps)
            mean = np.ascontiguousarray(mean, dtype=np.float32)
            y = F._core.nn_bn_act_forward(x, c, mean, istd, w, b, residual, bool(relu))
        self._cache = None
        # with a residual, the ReLU's backward (mask from the output) is the caller's
        self._cache_fused = ((x, c, use_batch, mean.copy(), istd, bool(relu) and residual is None)
                             if self._caching() else None)
        if relu_module is not None:
            relu_module._cache = None
        return y

    def _backward_fused(self, grad_out, dx_into=None):
        """Backward of :meth:`_forward_fused` (grad_out at the ReLU output when a
        ReLU was fused).  Accumulates the parameter gradients; returns the input
        gradient [N, c, *S], or adds it into ``dx_into[:, :c]`` (a C-contiguous
        [N, >= c, *S] array) and returns ``dx_into``."""
        cache = self.__dict__.get("_cache_fused")
        if cache is None:
            raise self._missing_cache()
        x, c, use_batch, mean, istd, relu = cache
        g = F._check_grad(grad_out, (x.shape[0], c) + x.shape[2:], type(self).__name__)
        w, b = self._affine()
        want_affine = self.weight is not None and (self.weight.requires_grad or self.bias.requires_grad)
        dx, dg, db = F._core.nn_bn_act_backward(x, c, g, use_batch, mean, istd, w, b, relu, want_affine,
                                                dx_into)
        if releases_after_backward():
            self._cache_fused = None
        if want_affine:
            self.weight.accumulate_grad(dg)
            self.bias.accumulate_grad(db)
        return dx_into if dx_into is not None else dx

    def backward(self, grad_out):
        cache = self.__dict__.get("_cache_fused")
        if cache is None:
            return _NormBase.backward(self, grad_out)
        if cache[5]:
            raise RuntimeError(f"{type(self).__name__}.backward: the forward pass ran fused with the following "
                               "ReLU; run backward through the container that ran it")
        return self._backward_fused(grad_out)


class BatchNorm1d(_BatchNorm):
    """Batch norm over [N, C] or [N, C, L] (like torch.nn.BatchNorm1d)."""

    def _check(self, x):
        name = type(self).__name__
        if not isinstance(x, np.ndarray) or x.dtype != np.float32:
            raise TypeError(f"{name}: input must be a float32 numpy.ndarray of shape (N, {self.num_features}) "
                            f"or (N, {self.num_features}, L)")
        if x.ndim not in (2, 3) or x.shape[1] != self.num_features:
            raise ValueError(f"{name}: input must have shape (N, {self.num_features}) or "
                             f"(N, {self.num_features}, L), got {x.shape}")
        return np.ascontiguousarray(x)


class BatchNorm2d(_BatchNorm):
    """Batch norm over [N, C, H, W] (like torch.nn.BatchNorm2d)."""

    _nd = 2
    _fused_kernels = True


class BatchNorm3d(_BatchNorm):
    """Batch norm over [N, C, D, H, W] (like torch.nn.BatchNorm3d)."""

    _nd = 3
    _fused_kernels = True


class _InstanceNorm(_NormBase):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False):
        super().__init__(num_features, eps, momentum, affine, track_running_stats)

    def _factor(self):
        # as PyTorch: num_batches_tracked is not advanced, momentum None means 0
        return 0.0 if self.momentum is None else float(self.momentum)

    def forward(self, x):
        x = self._check(x)
        w, b = self._affine()
        if self.training or not self.track_running_stats:
            mean, var = F.norm_stats(x, x.shape[1])  # per (n, c)
            if self.training and self.track_running_stats:
                s = int(np.prod(x.shape[2:]))
                unb = var.astype(np.float64).reshape(x.shape[:2]) * (s / max(s - 1, 1))
                self._update_running(mean.reshape(x.shape[:2]).mean(0), unb.mean(0))
            istd = F.invstd(var, self.eps)
            y = F.norm_apply(x, x.shape[1], mean, istd, w, b)
            self._cache = (x, x.shape[1], True, mean, istd) if self._caching() else None
        else:
            mean = np.ascontiguousarray(self.running_mean)
            istd = F.invstd(self.running_var, self.eps)
            y = F.norm_apply(x, 0, mean, istd, w, b)
            self._cache = (x, 0, False, mean.copy(), istd) if self._caching() else None
        return y


class InstanceNorm2d(_InstanceNorm):
    """Instance norm over [N, C, H, W] (like torch.nn.InstanceNorm2d; affine=False by default)."""

    _nd = 2


class InstanceNorm3d(_InstanceNorm):
    """Instance norm over [N, C, D, H, W] (like torch.nn.InstanceNorm3d; affine=False by default)."""

    _nd = 3


class GroupNorm(Module):
    """Group norm over [N, C, *] with ``num_groups`` groups (like torch.nn.GroupNorm)."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True):
        super().__init__()
        if num_groups < 1 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = int(num_groups), int(num_channels), float(eps), bool(affine)
        if affine:
            self.weight = Parameter(np.ones(num_channels, np.float32))
            self.bias = Parameter(np.zeros(num_channels, np.float32))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self._cache = None

    def forward(self, x):
        if not isinstance(x, np.ndarray) or x.dtype != np.float32:
            raise TypeError(f"GroupNorm: input must be a float32 numpy.ndarray of shape (N, {self.num_channels}, *)")
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: input must have shape (N, {self.num_channels}, *), got {x.shape}")
        x = np.ascontiguousarray(x)
        mean, var = F.norm_stats(x, self.num_groups)
        istd = F.invstd(var, self.eps)
        y = F.norm_apply(x, self.num_groups, mean, istd,
                         self.weight.data if self.affine else None, self.bias.data if self.affine else None)
        self._cache = (x, self.num_groups, True, mean, istd) if self._caching() else None
        return y

    backward = _NormBase.backward

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
