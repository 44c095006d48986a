"""Batch norm fused with a following ReLU (and a residual add), for the containers.

``BatchNorm2d``/``BatchNorm3d`` in training read their input once for the
statistics and once to normalize; a following ``ReLU`` reads and writes the
whole activation again, and in backward the ReLU mask is another full pass.
When a batch norm is directly followed by a ReLU and neither module has
hooks, the containers (``Sequential``, the ResNet and DenseNet blocks) run
the pair as one kernel: forward writes ``relu(bn(x))`` directly, backward
recomputes the ReLU mask from the cached input.  Results are bit-identical
to running the two modules one after the other (same float operations in
the same order), so weights trained either way are the same.

The kernels also normalize only the leading ``c`` channels of a larger
``[N, C_total, *S]`` buffer, which lets a dense block keep one growing
feature buffer instead of concatenating copies (see ``models.densenet``).

In eval mode, when nothing is cached for backward, a hook-free
``Conv2d``/``Conv3d`` -> ``BatchNorm2d``/``3d`` (-> ``ReLU``) runs as one
convolution instead: the running statistics and affine parameters are folded
into the convolution's weight and bias (``w * gamma / sqrt(var + eps)``,
``(b - mean) * gamma / sqrt(var + eps) + beta``, in float64) and the ReLU is
applied while the output is written.  That removes a full pass over every
activation of an inference; results agree with the unfused modules to float32
rounding (not bit for bit), so the fold is skipped under
``conv_algorithm("gemm")``, which keeps the original numerics.

The kernels are called through ``_BatchNorm._forward_fused`` and
``_BatchNorm._backward_fused`` (sacroai/nn/norm.py).  After a fused
forward the ReLU has no cache of its own: backward must go through the
batch norm's ``_backward_fused`` (the containers do this via the plan
recorded by :func:`run_forward`).
"""
from __future__ import annotations

import numpy as np

from . import backends
from . import functional as F
from .activation import ReLU
from .conv import Conv2d, Conv3d
from .norm import BatchNorm2d, BatchNorm3d

__all__ = ["fusable", "run_forward", "run_backward"]

_FAST_BN = (BatchNorm2d, BatchNorm3d)


def _hookless(m) -> bool:
    return not (m._forward_hooks or m._forward_pre_hooks or m._backward_hooks)


def fusable(bn, relu=None) -> bool:
    """Whether ``bn`` (then ``relu``, when given) may run as one fused kernel.

    True for an exact BatchNorm2d/3d (and an exact ReLU) without hooks: a
    hook must see the intermediate array, so hooked modules run on their own.
    """
    if type(bn) not in _FAST_BN or not _hookless(bn):
        return False
    return relu is None or (type(relu) is ReLU and _hookless(relu))


def _foldable(conv, bn) -> bool:
    """Whether ``conv`` -> ``bn`` may run as one convolution with folded eval statistics."""
    return (type(conv) in (Conv2d, Conv3d) and _hookless(conv) and fusable(bn)
            and not bn.training and bn.track_running_stats and bn.num_features == conv.out_channels
            and not conv._caching() and not bn._caching() and backends.get_conv_algorithm() != "gemm")


def _conv_bn_eval(conv, bn, x, relu_module):
    """``relu?(bn(conv(x)))`` in eval mode as one convolution (see the module docstring)."""
    name = type(conv).__name__
    x = F.check_input(x, conv._nd, name, channels=conv.in_channels)
    scale = 1.0 / np.sqrt(bn.running_var.astype(np.float64) + bn.eps)
    shift = -bn.running_mean.astype(np.float64) * scale
    if conv.bias is not None:
        shift = shift + conv.bias.data.astype(np.float64) * scale
    if bn.weight is not None:
        gamma = bn.weight.data.astype(np.float64)
        scale, shift = scale * gamma, shift * gamma + bn.bias.data.astype(np.float64)
    w = (conv.weight.data.astype(np.float64) * scale.reshape((-1,) + (1,) * (conv._nd + 1))).astype(np.float32)
    y = F.conv(x, w, shift.astype(np.float32), conv.stride, conv._resolved_padding(), conv.dilation, conv.groups,
               conv._nd, name, relu=relu_module is not None)
    # nothing is cached for backward, as when the modules run one by one outside grad mode
    conv._cache_x, conv._reads_network_input, conv._cache_out_shape = None, False, y.shape
    bn._cache = bn._cache_fused = None
    if relu_module is not None:
        relu_module._cache = None
    return y


def run_forward(mods, x):
    """Apply ``mods`` in order, fusing each hook-free BatchNorm2d/3d -> ReLU pair
    (and, in eval mode outside grad mode, folding a preceding convolution).

    Returns ``(y, plan)``; pass ``plan`` to :func:`run_backward`.
    """
    plan = []
    i, n = 0, len(mods)
    while i < n:
        m = mods[i]
        if i + 1 < n and _foldable(m, mods[i + 1]):
            relu = mods[i + 2] if i + 2 < n and fusable(mods[i + 1], mods[i + 2]) else None
            x = _conv_bn_eval(m, mods[i + 1], x, relu)
            plan.extend([m, mods[i + 1]] + ([relu] if relu is not None else []))
            i += 3 if relu is not None else 2
            continue
        if i + 1 < n and fusable(m, mods[i + 1]):
            x = m._forward_fused(m._check(x), relu=True, relu_module=mods[i + 1])
            plan.append((m, mods[i + 1]))
            i += 2
        else:
            x = m(x)
            plan.append(m)
            i += 1
    return x, plan


def run_backward(plan, grad_out):
    """Backward through a plan of :func:`run_forward` (reverse order)."""
    g = grad_out
    for step in reversed(plan):
        if not isinstance(step, tuple):
            g = step.backward(g)
            continue
        bn, relu = step
        cache = bn.__dict__.get("_cache_fused")
        if cache is not None and cache[5]:
            g = bn._backward_fused(g)
        else:  # the pair last ran one module at a time (e.g. called directly): its own caches
            g = bn.backward(relu.backward(g))
    return g
