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
         dilation: IntOrTuple = 1, groups: int = 1, nd: int = 2, layer: str = "conv", relu: bool = False):
    """N-d convolution (cross-correlation, like PyTorch).

    x: [N, C_in, *S] float32; weight: [C_out, C_in/groups, *k]; bias: [C_out] or None.
    Returns [N, C_out, *S_out] with S_out = (S + 2 pad - dil (k - 1) - 1) // stride + 1.
    ``relu=True`` returns the ReLU of y (``y > 0 ? y : 0``, as :class:`ReLU`), applied
    while the output is written where the kernel allows (the eval conv-BN-ReLU fold).
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
                              _pad3(stride, 1), _pad3(padding, 0), _pad3(dilation, 1), int(groups), bool(relu))
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


# ------------------------------------------------------------------ normalization


def norm_stats(x: np.ndarray, groups: int = 0):
    """(mean, biased var): per channel over (N, *S) when groups == 0, else per (n, group)."""
    return _core.nn_norm_stats(np.ascontiguousarray(x), int(groups))


def norm_apply(x, groups, mean, invstd, weight=None, bias=None):
    """(x - mean) * invstd * weight + bias with per-channel (groups 0) or per-(n, group) statistics."""
    return _core.nn_norm_apply(np.ascontiguousarray(x), int(groups), mean, invstd, weight, bias)


def norm_backward(x, grad_out, groups, batch_stats, mean, invstd, weight=None, need_input_grad=True,
                  need_affine_grad=True):
    """Gradients of :func:`norm_apply` (including through batch statistics when ``batch_stats``)."""
    return _core.nn_norm_backward(np.ascontiguousarray(x), np.ascontiguousarray(grad_out), int(groups),
                                  bool(batch_stats), mean, invstd, weight, bool(need_input_grad),
                                  bool(need_affine_grad))


def invstd(var: np.ndarray, eps: float) -> np.ndarray:
    return (1.0 / np.sqrt(var.astype(np.float64) + eps)).astype(np.float32)


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5, layer="batch_norm"):
    """Functional batch norm over axis 1 (like torch.nn.functional.batch_norm).

    In training, batch statistics are used and ``running_mean``/``running_var`` (if given)
    are updated in place with the unbiased variance.  Returns y.
    """
    x = np.ascontiguousarray(x)
    if training or running_mean is None:
        mean, var = norm_stats(x, 0)
        count = x.size // x.shape[1]
        if training and running_mean is not None:
            unbiased = var.astype(np.float64) * (count / max(count - 1, 1))
            running_mean *= (1 - momentum)
            running_mean += momentum * mean
            running_var *= (1 - momentum)
            running_var += (momentum * unbiased).astype(np.float32)
        return norm_apply(x, 0, mean, invstd(var, eps), weight, bias)
    return norm_apply(x, 0, np.ascontiguousarray(running_mean, np.float32),
                      invstd(np.asarray(running_var, np.float32), eps), weight, bias)


def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    """Functional group norm (like torch.nn.functional.group_norm)."""
    x = np.ascontiguousarray(x)
    mean, var = norm_stats(x, num_groups)
    return norm_apply(x, num_groups, mean, invstd(var, eps), weight, bias)


# ------------------------------------------------------------------ activations

ACT_RELU, ACT_LEAKY_RELU, ACT_SIGMOID, ACT_TANH = 0, 1, 2, 3


def _act_input(x, layer):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{layer}: input must be a numpy.ndarray of float32, not {type(x).__name__}")
    if x.dtype != np.float32:
        raise TypeError(f"{layer}: input must have dtype float32, got {x.dtype}")
    return np.ascontiguousarray(x)


def relu(x, layer="ReLU"):
    return _core.nn_act_forward(ACT_RELU, _act_input(x, layer), 0.0)


def leaky_relu(x, negative_slope=0.01, layer="LeakyReLU"):
    return _core.nn_act_forward(ACT_LEAKY_RELU, _act_input(x, layer), float(negative_slope))


def sigmoid(x, layer="Sigmoid"):
    return _core.nn_act_forward(ACT_SIGMOID, _act_input(x, layer), 0.0)


def tanh(x, layer="Tanh"):
    return _core.nn_act_forward(ACT_TANH, _act_input(x, layer), 0.0)


def act_backward(kind, saved, grad_out, slope=0.0):
    """dx for an elementwise activation; ``saved`` is y (ReLU, sigmoid, tanh) or x (LeakyReLU)."""
    return _core.nn_act_backward(kind, saved, np.ascontiguousarray(grad_out), float(slope))


def prelu(x, weight, layer="PReLU"):
    x = _act_input(x, layer)
    return _core.nn_prelu(x if x.ndim > 1 else x[None], None, np.ascontiguousarray(weight)).reshape(x.shape)


def prelu_backward(x, weight, grad_out):
    x = np.ascontiguousarray(x)
    g = np.ascontiguousarray(grad_out)
    if x.ndim == 1:
        dx, dw = _core.nn_prelu(x[None], g[None], np.ascontiguousarray(weight))
        return dx.reshape(x.shape), dw
    return _core.nn_prelu(x, g, np.ascontiguousarray(weight))


def _softmax_dim(ndim, dim):
    if dim is None:
        dim = 0 if ndim in (0, 1, 3) else 1
    if not -ndim <= dim < ndim:
        raise ValueError(f"softmax: dim {dim} out of range for a {ndim}-d input")
    return dim % ndim


def _softmax_call(x, dy, dim, log):
    """View x as [outer, size(dim), inner] (always contiguous) and run the kernel."""
    shape = x.shape
    outer = int(np.prod(shape[:dim], dtype=np.int64))
    inner = int(np.prod(shape[dim + 1:], dtype=np.int64))
    x3 = np.ascontiguousarray(x).reshape(outer, shape[dim], inner)
    dy3 = None if dy is None else np.ascontiguousarray(dy).reshape(x3.shape)
    return _core.nn_softmax(x3, dy3, log).reshape(shape)


def softmax(x, dim=None, layer="Softmax"):
    """Softmax along ``dim`` (PyTorch's implicit-dim rule when None: 0 for 0/1/3-d input, else 1)."""
    x = _act_input(x, layer)
    return _softmax_call(x, None, _softmax_dim(x.ndim, dim), False)


def log_softmax(x, dim=None, layer="LogSoftmax"):
    x = _act_input(x, layer)
    return _softmax_call(x, None, _softmax_dim(x.ndim, dim), True)


def softmax_backward(y, grad_out, dim, log=False):
    """dx from the softmax (or log-softmax) output ``y``."""
    return _softmax_call(np.ascontiguousarray(y), np.ascontiguousarray(grad_out), _softmax_dim(y.ndim, dim), log)


# ------------------------------------------------------------------ pooling


def _pool_output_size(in_size, k, s, p, d, ceil_mode):
    out = []
    for i, kk, ss, pp, dd in zip(in_size, k, s, p, d):
        num = i + 2 * pp - dd * (kk - 1) - 1 + (ss - 1 if ceil_mode else 0)
        o = num // ss + 1
        if ceil_mode and (o - 1) * ss >= i + pp:
            o -= 1
        out.append(o)
    return tuple(out)


def _pool_args(x, kernel_size, stride, padding, dilation, nd, layer):
    k = _tuple(kernel_size, nd, "kernel_size", layer, 1)
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) else _tuple(stride, nd, "stride", layer, 1)
    p = _tuple(padding, nd, "padding", layer, 0)
    d = _tuple(dilation, nd, "dilation", layer, 1)
    if any(2 * pp > kk for pp, kk in zip(p, k)):
        raise ValueError(f"{layer}: padding {p} must be at most half the kernel size {k}")
    return k, s, p, d


def max_pool(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, nd=2, layer="max_pool",
             return_indices=True):
    """Max pooling; returns (y, indices) with flat in-plane int64 indices like PyTorch
    (indices None when ``return_indices`` is False)."""
    x = check_input(x, nd, layer)
    k, s, p, d = _pool_args(x, kernel_size, stride, padding, dilation, nd, layer)
    out = _pool_output_size(x.shape[2:], k, s, p, d, ceil_mode)
    if any(o < 1 for o in out):
        raise ValueError(f"{layer}: input spatial size {x.shape[2:]} is too small for kernel {k}")
    y, idx = _core.nn_pool_forward(0 if return_indices else 2, _as5(x, nd), _pad3(k, 1), _pad3(s, 1), _pad3(p, 0), _pad3(d, 1),
                                   bool(ceil_mode), True)
    shape = x.shape[:2] + out
    return y.reshape(shape), (idx.reshape(shape) if idx is not None else None)


def max_pool_backward(grad_out, indices, in_size, kernel_size, stride, padding, dilation, ceil_mode, nd):
    g5 = _as5(np.ascontiguousarray(grad_out), nd)
    dx = _core.nn_pool_backward(0, g5, _as5(np.ascontiguousarray(indices), nd), _pad3(tuple(in_size), 1),
                                _pad3(kernel_size, 1), _pad3(stride, 1), _pad3(padding, 0), _pad3(dilation, 1),
                                bool(ceil_mode), True)
    return dx.reshape(grad_out.shape[:2] + tuple(in_size))


def avg_pool(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, nd=2,
             layer="avg_pool"):
    """Average pooling (PyTorch rules for padding and ceil mode)."""
    x = check_input(x, nd, layer)
    k, s, p, d = _pool_args(x, kernel_size, stride, padding, 1, nd, layer)
    out = _pool_output_size(x.shape[2:], k, s, p, d, ceil_mode)
    if any(o < 1 for o in out):
        raise ValueError(f"{layer}: input spatial size {x.shape[2:]} is too small for kernel {k}")
    y = _core.nn_pool_forward(1, _as5(x, nd), _pad3(k, 1), _pad3(s, 1), _pad3(p, 0), (1, 1, 1),
                              bool(ceil_mode), bool(count_include_pad))
    return y.reshape(x.shape[:2] + out)


def avg_pool_backward(grad_out, in_size, kernel_size, stride, padding, ceil_mode, count_include_pad, nd):
    g5 = _as5(np.ascontiguousarray(grad_out), nd)
    dx = _core.nn_pool_backward(1, g5, None, _pad3(tuple(in_size), 1), _pad3(kernel_size, 1), _pad3(stride, 1),
                                _pad3(padding, 0), (1, 1, 1), bool(ceil_mode), bool(count_include_pad))
    return dx.reshape(grad_out.shape[:2] + tuple(in_size))


def _adaptive_size(output_size, in_size, nd, layer):
    if isinstance(output_size, (int, np.integer)):
        out = (int(output_size),) * nd
    else:
        out = tuple(in_size[i] if o is None else int(o) for i, o in enumerate(output_size))
        if len(out) != nd:
            raise ValueError(f"{layer}: output_size must be an int or a tuple of {nd}, got {output_size!r}")
    if any(o < 1 for o in out):
        raise ValueError(f"{layer}: output_size must be >= 1, got {output_size!r}")
    return out


def adaptive_avg_pool(x, output_size, nd=2, layer="adaptive_avg_pool"):
    """Adaptive average pooling: bin i covers [floor(i*in/out), ceil((i+1)*in/out))."""
    x = check_input(x, nd, layer)
    out = _adaptive_size(output_size, x.shape[2:], nd, layer)
    y = _core.nn_adaptive_avgpool(_as5(x, nd), _pad3(out, 1), False)
    return y.reshape(x.shape[:2] + out)


def adaptive_avg_pool_backward(grad_out, in_size, nd):
    g5 = _as5(np.ascontiguousarray(grad_out), nd)
    dx = _core.nn_adaptive_avgpool(g5, _pad3(tuple(in_size), 1), True)
    return dx.reshape(grad_out.shape[:2] + tuple(in_size))


# ------------------------------------------------------------------ upsampling

_MODES = {"nearest": 0, "linear": 1, "bilinear": 1, "trilinear": 1}


def interpolate_geometry(in_size, size, scale_factor, mode, align_corners, nd, layer="Upsample"):
    """Resolve (out_size, scales, mode code, align flag) like torch.nn.functional.interpolate."""
    if mode not in _MODES:
        raise ValueError(f"{layer}: mode must be one of {sorted(_MODES)}, got {mode!r}")
    if mode == "bilinear" and nd != 2 or mode == "trilinear" and nd != 3:
        raise ValueError(f"{layer}: mode {mode!r} needs a {4 if mode == 'bilinear' else 5}-d input")
    if mode == "nearest" and align_corners:
        raise ValueError(f"{layer}: align_corners applies only to linear modes")
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{layer}: give exactly one of size and scale_factor")
    if size is not None:
        out = _tuple(size, nd, "size", layer, 1)
        scales = (0.0,) * nd
    else:
        if isinstance(scale_factor, (int, float, np.floating, np.integer)):
            scales = (float(scale_factor),) * nd
        else:
            scales = tuple(float(s) for s in scale_factor)
            if len(scales) != nd:
                raise ValueError(f"{layer}: scale_factor must be a number or a tuple of {nd}")
        if any(s <= 0 for s in scales):
            raise ValueError(f"{layer}: scale_factor must be positive, got {scale_factor!r}")
        out = tuple(int(np.floor(i * s)) for i, s in zip(in_size, scales))
        if any(o < 1 for o in out):
            raise ValueError(f"{layer}: output size {out} would be empty")
    align = bool(align_corners) if mode != "nearest" else False
    sc3 = (0.0,) * (3 - nd) + tuple(0.0 if align else s for s in scales)
    return out, sc3, _MODES[mode], align


def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None, nd=2, layer="interpolate"):
    """Nearest or (bi/tri)linear resizing of [N, C, *S] (PyTorch's coordinate rules)."""
    x = check_input(x, nd, layer)
    out, sc3, m, align = interpolate_geometry(x.shape[2:], size, scale_factor, mode, align_corners, nd, layer)
    y = _core.nn_upsample(_as5(x, nd), _pad3(out, 1), m, align, sc3, False)
    return y.reshape(x.shape[:2] + out)


def interpolate_backward(grad_out, in_size, sc3, mode_code, align, nd):
    g5 = _as5(np.ascontiguousarray(grad_out), nd)
    dx = _core.nn_upsample(g5, _pad3(tuple(in_size), 1), mode_code, align, sc3, True)
    return dx.reshape(grad_out.shape[:2] + tuple(in_size))


# ------------------------------------------------------------------ linear, dropout, concatenation


def linear(x, weight, bias=None, layer="Linear"):
    """y = x @ weight.T + bias over the last axis of x ([..., in] -> [..., out])."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{layer}: input must be a numpy.ndarray of float32, not {type(x).__name__}")
    if x.dtype != np.float32:
        raise TypeError(f"{layer}: input must have dtype float32, got {x.dtype}; expected shape (*, {weight.shape[1]})")
    if x.ndim < 1 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"{layer}: input must have shape (*, {weight.shape[1]}), got {x.shape}")
    x2 = np.ascontiguousarray(x.reshape(-1, x.shape[-1]))
    y = _core.nn_linear_forward(x2, np.ascontiguousarray(weight), bias)
    return y.reshape(x.shape[:-1] + (weight.shape[0],))


def linear_backward(x, weight, grad_out, need_input_grad=True, need_bias_grad=True):
    x2 = np.ascontiguousarray(x.reshape(-1, x.shape[-1]))
    g2 = np.ascontiguousarray(grad_out.reshape(-1, grad_out.shape[-1]))
    dx, dw, db = _core.nn_linear_backward(x2, np.ascontiguousarray(weight), g2, bool(need_input_grad),
                                          bool(need_bias_grad))
    return (dx.reshape(x.shape) if dx is not None else None), dw, db


def dropout(x, p: float, seed: int):
    """Inverted dropout with a counter-based generator.

    Element i (flat, C order) is kept when the top 24 bits of
    splitmix64(seed + (i + 1) * 0x9E3779B97F4A7C15) are >= p * 2**24, and kept
    values are scaled by 1 / (1 - p).  Deterministic for a given seed, whatever
    the thread count; ``dropout(grad_out, p, seed)`` is the backward pass.
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    return _core.nn_dropout(np.ascontiguousarray(x), float(p), int(seed) & 0xFFFFFFFFFFFFFFFF)


def cat(tensors, dim: int = 1):
    """Concatenate along ``dim`` (channels by default); backward is :func:`split_grad`."""
    return np.concatenate([np.asarray(t) for t in tensors], axis=dim)


def split_grad(grad_out, sizes, dim: int = 1):
    """Split a gradient of :func:`cat` into pieces of the given sizes along ``dim``."""
    idx = np.cumsum(sizes)[:-1]
    return [np.ascontiguousarray(g) for g in np.split(grad_out, idx, axis=dim)]
