"""Weight initialisation mirroring ``torch.nn.init`` with explicit NumPy generators.

Layers take ``rng`` (an int seed or a ``numpy.random.Generator``); when it is
None they draw from this module's generator, seeded with 0 at import and
re-seeded by :func:`manual_seed` (the analogue of ``torch.manual_seed``), so
results are reproducible.  The draws follow PyTorch's distributions (not its
random streams): ``kaiming_uniform_(a=sqrt(5))`` for conv/linear weights,
i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for biases.
"""
from __future__ import annotations

import math
from typing import Optional, Union

import numpy as np

__all__ = ["manual_seed", "get_generator", "kaiming_uniform", "uniform", "calculate_fan_in_and_fan_out",
           "kaiming_normal"]

_default = np.random.default_rng(0)


def manual_seed(seed: int) -> None:
    """Re-seed the generator used by layers constructed without ``rng``."""
    global _default
    _default = np.random.default_rng(seed)


def get_generator(rng: Union[None, int, np.random.Generator] = None) -> np.random.Generator:
    """``rng`` as a Generator: None -> the module generator, int -> a new seeded one."""
    if rng is None:
        return _default
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be None, an int seed or a numpy.random.Generator, not {type(rng).__name__}")


def calculate_fan_in_and_fan_out(shape) -> tuple:
    """PyTorch's fans: dim 1 times the receptive field, dim 0 times the receptive field."""
    if len(shape) < 2:
        raise ValueError(f"fan in/out need at least 2 dimensions, got shape {tuple(shape)}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def uniform(shape, bound: float, rng=None) -> np.ndarray:
    return get_generator(rng).uniform(-bound, bound, size=shape).astype(np.float32)


def kaiming_uniform(shape, a: float = math.sqrt(5.0), rng=None, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu") -> np.ndarray:
    """Like ``torch.nn.init.kaiming_uniform_``; bound = gain * sqrt(3 / fan)."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(shape)
    fan = fan_in if mode == "fan_in" else fan_out
    gain = math.sqrt(2.0 / (1 + a * a)) if nonlinearity == "leaky_relu" else math.sqrt(2.0)
    return uniform(shape, gain * math.sqrt(3.0 / fan), rng)


def kaiming_normal(shape, mode: str = "fan_out", rng=None) -> np.ndarray:
    """Like ``kaiming_normal_(mode, nonlinearity='relu')`` (torchvision ResNet convs)."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(shape)
    fan = fan_in if mode == "fan_in" else fan_out
    std = math.sqrt(2.0) / math.sqrt(fan)
    return (get_generator(rng).standard_normal(size=shape) * std).astype(np.float32)
