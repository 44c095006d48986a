"""Choice of convolution algorithm (process-wide).

``"auto"`` (the default) runs 3x3 and 3x3x3 stride-1 convolutions with
groups 1 and at least 8 input and output channels by Winograd F(2, 3) where
the CPU has AVX-512 (forward, input gradient and weight gradient), 1x1
stride-1 layers (forward and input gradient) on a packed GEMM that reads the
input in place, the weight gradient of 1x1 layers with few channels by direct
dot products, and every other layer by tiled im2col + GEMM.  Winograd needs
2.25x (2-D) or 3.4x (3-D) fewer multiplications; its results differ from the
direct sum by rounding only (relative differences around 1e-7 to 1e-6).  In
eval mode outside grad mode, ``Sequential`` folds Conv -> BatchNorm (-> ReLU)
into one convolution (see ``sacroai.nn._bn_act``), again equal up to rounding.

``"fast"`` is ``"auto"`` with F(4x4, 3x3) instead of F(2x2, 3x3) for the
forward pass (and input gradient) of 2-D layers: 2.25 products per output
instead of 4, about 1.7x faster on such layers, but rounding differences of a
few 1e-6 relative per layer, which add up to ~1e-4 over DenseNet-121's 120
layers (float32 training does not notice; bit-level comparisons do).

``"gemm"`` runs every layer by im2col + GEMM and folds nothing: the
algorithm the shipped weights in ``weights/`` were trained with, so their
training scripts reproduce them byte for byte under ``conv_algorithm("gemm")``.

The setting is global to the process (all threads), like
``torch.backends.cudnn`` flags.
"""
from __future__ import annotations

import contextlib

__all__ = ["conv_algorithm", "set_conv_algorithm", "get_conv_algorithm"]

_ALGORITHMS = ("auto", "fast", "gemm")
_current = "auto"


def set_conv_algorithm(name: str) -> str:
    """Select ``"auto"``, ``"fast"`` or ``"gemm"`` (see the module docstring); returns the previous choice."""
    global _current
    if name not in _ALGORITHMS:
        raise ValueError(f"set_conv_algorithm: name must be one of {_ALGORITHMS}, got {name!r}")
    from .. import _core
    _core.nn_conv_use_winograd(name != "gemm")
    _core.nn_conv_winograd_tile_2d(4 if name == "fast" else 2)
    old, _current = _current, name
    return old


def get_conv_algorithm() -> str:
    """The current choice: ``"auto"``, ``"fast"`` or ``"gemm"``."""
    return _current


@contextlib.contextmanager
def conv_algorithm(name: str):
    """Context manager: run the block with convolution algorithm ``name``, then restore the previous one."""
    old = set_conv_algorithm(name)
    try:
        yield
    finally:
        set_conv_algorithm(old)
