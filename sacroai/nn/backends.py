"""Choice of convolution algorithm (process-wide).

``"auto"`` (the default) runs 3x3 and 3x3x3 stride-1 convolutions with
groups 1 and at least 8 input and output channels by Winograd F(2, 3) where
the CPU has AVX-512 (forward, input gradient and weight gradient), and every
other layer by tiled im2col + GEMM.  Winograd needs 2.25x (2-D) or 3.4x (3-D)
fewer multiplications; its results differ from the direct sum by rounding
only (relative differences around 1e-7 to 1e-6).

``"gemm"`` runs every layer by im2col + GEMM: the algorithm the shipped
weights in ``weights/`` were trained with, so their training scripts
reproduce them byte for byte under ``conv_algorithm("gemm")``.

The setting is global to the process (all threads), like
``torch.backends.cudnn`` flags.
"""
from __future__ import annotations

import contextlib

__all__ = ["conv_algorithm", "set_conv_algorithm", "get_conv_algorithm"]

_ALGORITHMS = ("auto", "gemm")
_current = "auto"


def set_conv_algorithm(name: str) -> str:
    """Select ``"auto"`` or ``"gemm"`` (see the module docstring); returns the previous choice."""
    global _current
    if name not in _ALGORITHMS:
        raise ValueError(f"set_conv_algorithm: name must be one of {_ALGORITHMS}, got {name!r}")
    from .. import _core
    _core.nn_conv_use_winograd(name == "auto")
    old, _current = _current, name
    return old


def get_conv_algorithm() -> str:
    """The current choice, ``"auto"`` or ``"gemm"``."""
    return _current


@contextlib.contextmanager
def conv_algorithm(name: str):
    """Context manager: run the block with convolution algorithm ``name``, then restore the previous one."""
    old = set_conv_algorithm(name)
    try:
        yield
    finally:
        set_conv_algorithm(old)
