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

The kernels are called through ``_BatchNorm._forward_fused`` and
``_BatchNorm._backward_fused`` (sacroai/nn/norm.py).  After a fused
forward the ReLU has no cache of its own: backward must go through the
batch norm's ``_backward_fused`` (the containers do this via the plan
recorded by :func:`run_forward`).
"""
from __future__ import annotations

import numpy as np

from .activation import ReLU
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


def run_forward(mods, x):
    """Apply ``mods`` in order, fusing each hook-free BatchNorm2d/3d -> ReLU pair.

    Returns ``(y, plan)``; pass ``plan`` to :func:`run_backward`.
    """
    plan = []
    i, n = 0, len(mods)
    while i < n:
        m = mods[i]
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
