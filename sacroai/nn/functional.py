"""Functional forms of the layers: shape/dtype validation around the C core.

Every function takes float32 arrays in NC(D)HW layout and returns new
float32 arrays.  Errors name the layer (``layer=`` argument, e.g.
"Conv2d") and what was expected.  2-D ops are run by the 3-D kernels with a
depth of 1 (a view, no copy).

Backward functions (``*_backward``) take the gradient of the loss with
respect to the output and return gradients with respect to the inputs and
parameters; they are what the modules call.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

import numpy as np

from .. import _core

IntOrTuple = Union[int, Sequence[int]]

# ------------------------------------------------------------------ helpers


def _tuple(v: IntOrTuple, nd: int, name: str, layer: str, minimum: int = 0) -> Tuple[int, ...]:
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        t = (int(v),) * nd
    else:
        try:
            t = tuple(int(i) for i in v)
        except TypeError:
            raise TypeError(f"{layer}: {name} must be an int or a tuple of {nd} ints, got {v!r}") from None
        if len(t) != nd:
            raise ValueError(f"{layer}: {name} must be an int or a tuple of {nd} ints, got {v!r}")
    if any(i < minimum for i in t):
        raise ValueError(f"{layer}: {name} must be >= {minimum}, got {v!r}")
    return t


def _pad3(t: Tuple[int, ...], fill: int) -> Tuple[int, int, int]:
    return (fill,) * (3 - len(t)) + tuple(t)


def _spatial_names(nd: int) -> str:
    return {1: "L", 2: "H, W", 3: "D, H, W"}[nd]


def check_input(x, nd: int, layer: str, channels: Optional[int] = None, name: str = "input") -> np.ndarray:
    """Validate a float32 [N, C, *spatial(nd)] array; return it C-contiguous.

    Raises TypeError for a non-array or non-float32 input and ValueError for a
    wrong rank or channel count, naming ``layer`` and the expected shape.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{layer}: {name} must be a numpy.ndarray of float32, not {type(x).__name__}")
    shape_txt = f"(N, {channels if channels is not None else 'C'}, {_spatial_names(nd)})"
    if x.dtype != np.float32:
        raise TypeError(f"{layer}: {name} must have dtype float32, got {x.dtype} "
                        f"(convert with x.astype(numpy.float32)); expected shape {shape_txt}")
    if x.ndim != nd + 2:
        raise ValueError(f"{layer}: {name} must have {nd + 2} dimensions {shape_txt}, got shape {x.shape}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{layer}: {name} has {x.shape[1]} channels, expected {channels}: "
                         f"expected shape {shape_txt}, got {x.shape}")
    if 0 in x.shape:
        raise ValueError(f"{layer}: {name} must not be empty, got shape {x.shape}")
    return np.ascontiguousarray(x)


def _as5(x: np.ndarray, nd: int) -> np.ndarray:
    """View [N, C, *spatial] as [N, C, D, H, W]."""
    if nd == 3:
        return x
    if nd == 2:
        return x[:, :, None]
    return x[:, :, None, None]


def _check_grad(g, expected_shape, layer: str) -> np.ndarray:
    if not isinstance(g, np.ndarray) or g.dtype != np.float32:
        raise TypeError(f"{layer}.backward: grad_output must be a float32 numpy.ndarray of shape {expected_shape}")
    if g.shape != tuple(expected_shape):
        raise ValueError(f"{layer}.backward: grad_output has shape {g.shape}, expected {tuple(expected_shape)}")
    return np.ascontiguousarray(g)


def _check_param(p, shape, layer: str, name: str) -> np.ndarray:
    if p.dtype != np.float32:
        raise TypeError(f"{layer}: {name} must be float32, got {p.dtype}")
    if p.shape != tuple(shape):
        raise ValueError(f"{layer}: {name} has shape {p.shape}, expected {tuple(shape)}")
    return np.ascontiguousarray(p)


# ------------------------------------------------------------------ convolution


def _conv_padding(padding, nd, k, dil, stride, layer):
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * nd
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{layer}: padding='same' needs stride 1")
            tot = [d * (kk - 1) for d, kk in zip(dil, k)]
            if any(t % 2 for t in tot):
                raise ValueError(f"{layer}: padding='same' with an even dilated kernel would be "
                                 "asymmetric; pad explicitly")
            return tuple(t // 2 for t in tot)
        raise ValueError(f"{layer}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
    return _tuple(padding, nd, "padding", layer, 0)


def conv(x, weight, bias=None, stride: IntOrTuple = 1, padding: IntOrTuple = 0,
         dilation: IntOrTuple = 1, groups: int = 1, nd: int = 2, layer: str = "conv"):
    """N-d convolution (cross-correlation, like PyTorch).

    x: [N, C_in, *S] float32; weight: [C_out, C_in/groups, *k]; bias: [C_out] or None.
    Returns [N, C_out, *S_out] with S_out = (S + 2 pad - dil (k - 1) - 1) // stride + 1.
    """
    weight = np.asarray(weight)
    if weight.ndim != nd + 2:
        raise ValueError(f"{layer}: weight must have {nd + 2} dimensions (C_out, C_in/groups, {_spatial_names(nd)}), "
                         f"got shape {weight.shape}")
    if weight.dtype != np.float32:
        raise TypeError(f"{layer}: weight must be float32, got {weight.dtype}")
    x = check_input(x, nd, layer, channels=weight.shape[1] * groups)
    k = weight.shape[2:]
    stride = _tuple(stride, nd, "stride", layer, 1)
    dilation = _tuple(dilation, nd, "dilation", layer, 1)
    padding = _conv_padding(padding, nd, k, dilation, stride, layer)
    for a in range(nd):
        if x.shape[2 + a] + 2 * padding[a] < dilation[a] * (k[a] - 1) + 1:
            raise ValueError(f"{layer}: input spatial size {x.shape[2:]} is smaller than the (dilated) kernel "
                             f"{tuple(dilation[i] * (k[i] - 1) + 1 for i in range(nd))} after padding {padding}")
    if bias is not None:
        bias = _check_param(np.asarray(bias), (weight.shape[0],), layer, "bias")
    y = _core.nn_conv_forward(_as5(x, nd), _as5(np.ascontiguousarray(weight), nd), bias,
                              _pad3(stride, 1), _pad3(padding, 0), _pad3(dilation, 1), int(groups))
    return y.reshape(y.shape[:2] + y.shape[5 - nd:])


def conv_backward(x, weight, grad_out, stride, padding, dilation, groups, nd, need_input_grad=True,
                  need_bias_grad=True, layer="conv"):
    """Gradients of :func:`conv`: (grad_input or None, grad_weight, grad_bias or None).

    ``padding`` must be the resolved tuple (as returned by :func:`conv_geometry`).
    """
    x = np.ascontiguousarray(x)
    weight = np.ascontiguousarray(weight)
    g5 = _as5(np.ascontiguousarray(grad_out), nd)
    st, pd, dl = _pad3(stride, 1), _pad3(padding, 0), _pad3(dilation, 1)
    x5 = _as5(x, nd)
    dx = None
    if need_input_grad:
        dx = _core.nn_conv_backward_data(g5, _as5(weight, nd), None, x5.shape[2:], st, pd, dl, int(groups))
        dx = dx.reshape(x.shape)
    k5 = _pad3(tuple(weight.shape[2:]), 1)
    dw, db = _core.nn_conv_backward_weight(x5, g5, k5, st, pd, dl, int(groups), bool(need_bias_grad))
    return dx, dw.reshape(weight.shape), db


def conv_transpose_output_size(in_size, k, stride, padding, output_padding, dilation):
    return tuple((i - 1) * s - 2 * p + d * (kk - 1) + op + 1
                 for i, kk, s, p, op, d in zip(in_size, k, stride, padding, output_padding, dilation))


def conv_transpose(x, weight, bias=None, stride: IntOrTuple = 1, padding: IntOrTuple = 0,
                   output_padding: IntOrTuple = 0, groups: int = 1, dilation: IntOrTuple = 1,
                   nd: int = 2, layer: str = "conv_transpose"):
    """Transposed convolution (the adjoint of :func:`conv`), like PyTorch.

    x: [N, C_in, *S]; weight: [C_in, C_out/groups, *k]; bias: [C_out] or None.
    S_out = (S - 1) stride - 2 pad + dil (k - 1) + output_padding + 1.
    """
    weight = np.asarray(weight)
    if weight.ndim != nd + 2:
        raise ValueError(f"{layer}: weight must have {nd + 2} dimensions (C_in, C_out/groups, {_spatial_names(nd)}), "
                         f"got shape {weight.shape}")
    if weight.dtype != np.float32:
        raise TypeError(f"{layer}: weight must be float32, got {weight.dtype}")
    x = check_input(x, nd, layer, channels=weight.shape[0])
    k = weight.shape[2:]
    stride = _tuple(stride, nd, "stride", layer, 1)
    padding = _tuple(padding, nd, "padding", layer, 0)
    dilation = _tuple(dilation, nd, "dilation", layer, 1)
    output_padding = _tuple(output_padding, nd, "output_padding", layer, 0)
    if any(op >= s for op, s in zip(output_padding, stride)):
        raise ValueError(f"{layer}: output_padding {output_padding} must be smaller than stride {stride}")
    out = conv_transpose_output_size(x.shape[2:], k, stride, padding, output_padding, dilation)
    if any(o < 1 for o in out):
        raise ValueError(f"{layer}: output size {out} would be empty")
    c_out = weight.shape[1] * groups
    if bias is not None:
        bias = _check_param(np.asarray(bias), (c_out,), layer, "bias")
    y = _core.nn_conv_backward_data(_as5(x, nd), _as5(np.ascontiguousarray(weight), nd), bias,
                                    _pad3(out, 1), _pad3(stride, 1), _pad3(padding, 0),
                                    _pad3(dilation, 1), int(groups))
    return y.reshape(y.shape[:2] + y.shape[5 - nd:])


def conv_transpose_backward(x, weight, grad_out, stride, padding, dilation, groups, nd,
                            need_input_grad=True, need_bias_grad=True, layer="conv_transpose"):
    """Gradients of :func:`conv_transpose`: (grad_input or None, grad_weight, grad_bias or None)."""
    x = np.ascontiguousarray(x)
    weight = np.ascontiguousarray(weight)
    g = np.ascontiguousarray(grad_out)
    st, pd, dl = _pad3(stride, 1), _pad3(padding, 0), _pad3(dilation, 1)
    w5, g5, x5 = _as5(weight, nd), _as5(g, nd), _as5(x, nd)
    dx = None
    if need_input_grad:
        dx = _core.nn_conv_forward(g5, w5, None, st, pd, dl, int(groups)).reshape(x.shape)
    k5 = _pad3(tuple(weight.shape[2:]), 1)
    dw, _ = _core.nn_conv_backward_weight(g5, x5, k5, st, pd, dl, int(groups), False)
    db = _core.nn_channel_sum(g) if need_bias_grad else None
    return dx, dw.reshape(weight.shape), db
