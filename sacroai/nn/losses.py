"""Loss functions with their gradients, mirroring ``torch.nn`` and MONAI.

Each loss is an object with ``forward(input, target) -> float`` (or an
array when ``reduction="none"``) and ``backward(grad_output=1.0) -> ndarray``,
the gradient of the loss with respect to ``input`` (the logits), with the
shape of ``input``.  ``backward`` uses the values of the last ``forward``.

Inputs are float32 arrays laid out ``(N, C, *spatial)`` like PyTorch.  The
element-wise work runs in the C core; reductions are NumPy sums in float64
(fixed order, so identical results for any thread count).  A loss that comes
out NaN or infinite raises :class:`sacroai.NumericalError` naming the loss.
"""
from __future__ import annotations

import warnings

import numpy as np

from .. import _core
from .._core import NumericalError

__all__ = [
    "CrossEntropyLoss", "BCEWithLogitsLoss", "DiceLoss", "DiceCELoss", "FocalLoss", "MSELoss",
    "L1Loss",
]

_REDUCTIONS = ("mean", "sum", "none")


def _as_float32(x, name):
    arr = np.asarray(x)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
            or arr.dtype == np.bool_):
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    return np.require(arr, dtype=np.float32, requirements="C")  # keeps 0-d shapes


def _check_same_shape(input, target, loss_name):
    if input.shape != target.shape:
        raise ValueError(f"{loss_name}: target shape {target.shape} does not match input shape "
                         f"{input.shape}")


def _prepare_target(x, target, to_onehot_y, loss_name):
    """Target as float32 of the input's shape; labels (B, 1, ...) are one-hot
    encoded with ``to_onehot_y`` (MONAI's behaviour, including its warnings)."""
    t = np.asarray(target)
    n_ch = x.shape[1]
    if to_onehot_y:
        if n_ch == 1:
            warnings.warn("single channel prediction, `to_onehot_y=True` ignored.")
        else:
            if t.shape != (x.shape[0], 1) + x.shape[2:]:
                raise ValueError(f"{loss_name}: target shape {t.shape} does not match input shape "
                                 f"{x.shape} (expected labels of shape {(x.shape[0], 1) + x.shape[2:]})")
            labels = t[:, 0].astype(np.int64)
            if labels.min(initial=0) < 0 or labels.max(initial=0) >= n_ch:
                raise ValueError(f"target labels must be in [0, {n_ch}) for one-hot encoding")
            t = np.moveaxis(np.eye(n_ch, dtype=np.float32)[labels], -1, 1)
    t = _as_float32(t, "target")
    _check_same_shape(x, t, loss_name)
    return t


class _Loss:
    """Shared machinery: reduction, finiteness check, saved gradient."""

    def __init__(self, reduction="mean"):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction
        self._grad = None          # d(element loss)/d input, before the reduction scale
        self._scale = None         # the reduction's scale (float) or None for "none"
        self._shape = None         # input shape of the last forward
        self._elem_shape = None

    def __call__(self, input, target):
        return self.forward(input, target)

    def _finish(self, elem_loss, elem_grad, denominator=None):
        """Reduce element losses, remember the gradient, check finiteness."""
        name = type(self).__name__
        if self.reduction == "none":
            value = elem_loss
            self._scale = None
        else:
            total = float(np.sum(elem_loss, dtype=np.float64))
            if self.reduction == "sum":
                value, self._scale = total, 1.0
            else:
                den = float(elem_loss.size if denominator is None else denominator)
                value = total / den if den != 0 else float("nan")
                self._scale = 1.0 / den if den != 0 else float("nan")
        self._grad = elem_grad
        flat = np.ravel(value)
        bad = flat[~np.isfinite(flat)]
        if bad.size:
            raise NumericalError(f"{name}: the loss is not finite ({bad[0]}); check the inputs, "
                                 "the labels and the learning rate")
        return value

    def _reduced_grad(self, grad_output, elem_shape):
        if self._grad is None:
            raise RuntimeError(f"{type(self).__name__}.backward() called before forward()")
        if self._scale is None:
            go = np.asarray(grad_output, dtype=np.float32)
            if go.ndim and go.shape != tuple(elem_shape):
                raise ValueError(f"grad_output must have shape {tuple(elem_shape)} for "
                                 f"reduction='none', got {go.shape}")
            return go
        return np.float32(float(grad_output) * self._scale)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy on class indices, as ``torch.nn.CrossEntropyLoss``.

    input: logits ``(N, C)`` or ``(N, C, d1, ..., dk)`` (segmentation), or ``(C,)``.
    target: integer class indices ``(N,)`` or ``(N, d1, ..., dk)`` (or ``()``), or
    class probabilities of the input's shape (float; ``ignore_index`` does not apply
    and ``mean`` divides by the number of elements, as PyTorch).
    weight: per-class weights ``(C,)``; ``mean`` divides by the summed weights
    of the non-ignored targets, as PyTorch.  label_smoothing in [0, 1].
    Targets equal to ``ignore_index`` contribute neither loss nor gradient.
    """

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction)
        self.weight = None if weight is None else _as_float32(weight, "weight")
        if self.weight is not None and self.weight.ndim != 1:
            raise ValueError(f"weight must be 1-D (one entry per class), got shape {self.weight.shape}")
        if not 0.0 <= float(label_smoothing) <= 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
        self.ignore_index = int(ignore_index)
        self.label_smoothing = float(label_smoothing)

    def forward(self, input, target):
        x = _as_float32(input, "input")
        t = np.asarray(target)
        if np.issubdtype(t.dtype, np.floating) and t.shape == x.shape:
            return self._forward_probabilities(x, t)
        if not (np.issubdtype(t.dtype, np.integer) or t.dtype == np.bool_):
            raise TypeError(f"target must hold integer class indices, or class probabilities of the "
                            f"input's shape {x.shape}; got dtype {t.dtype} and shape {t.shape}")
        self._soft = False
        unbatched = x.ndim == 1
        if unbatched:
            x, t = x[None], t.reshape(1)
        if x.ndim < 2:
            raise ValueError(f"input must be (N, C, ...) logits, got shape {np.shape(input)}")
        expected = (x.shape[0],) + x.shape[2:]
        if t.shape != expected:
            raise ValueError(f"CrossEntropyLoss: target shape {np.shape(target)} does not match "
                             f"input shape {np.shape(input)} (expected target shape "
                             f"{expected if not unbatched else ()})")
        n, c = x.shape[:2]
        s = int(np.prod(x.shape[2:], dtype=np.int64))
        loss, wsum, grad = _core.nn_cross_entropy(
            x.reshape(n, c, s), np.ascontiguousarray(t, dtype=np.int64).reshape(n, s), self.weight,
            self.label_smoothing, self.ignore_index, True)
        self._input_shape = np.shape(input)
        self._elem_shape = t.shape if not unbatched else ()
        loss = loss.reshape(self._elem_shape)
        den = float(np.sum(wsum, dtype=np.float64))
        self._n, self._c, self._s = n, c, s
        return self._finish(loss, grad, den)

    def _forward_probabilities(self, x, t):
        """Class-probability targets (e.g. soft labels), as PyTorch: the loss of
        an element is ``-sum_k w_k t_k log p_k`` (targets smoothed first), and
        ``mean`` divides by the number of elements.  Float64 NumPy path."""
        unbatched = x.ndim == 1
        if unbatched:
            x, t = x[None], t[None]
        n, c = x.shape[:2]
        s = int(np.prod(x.shape[2:], dtype=np.int64))
        x3 = x.reshape(n, c, s).astype(np.float64)
        t3 = t.reshape(n, c, s).astype(np.float64)
        if self.label_smoothing > 0:
            t3 = t3 * (1.0 - self.label_smoothing) + self.label_smoothing / c
        w = (np.ones(c) if self.weight is None else self.weight.astype(np.float64))[None, :, None]
        mx = x3.max(axis=1, keepdims=True)
        lse = mx + np.log(np.sum(np.exp(x3 - mx), axis=1, keepdims=True))
        wt = w * t3
        loss = -np.sum(wt * (x3 - lse), axis=1)
        grad = np.exp(x3 - lse) * np.sum(wt, axis=1, keepdims=True) - wt
        self._soft = True
        self._input_shape = x.shape[1:] if unbatched else x.shape
        self._elem_shape = () if unbatched else (n,) + x.shape[2:]
        self._n, self._c, self._s = n, c, s
        return self._finish(loss.astype(np.float32).reshape(self._elem_shape), grad.astype(np.float32),
                            float(n * s))

    def backward(self, grad_output=1.0):
        scale = self._reduced_grad(grad_output, self._elem_shape)
        g = self._grad
        if np.ndim(scale):
            g = g * np.reshape(scale, (self._n, 1, self._s))
        else:
            g = g * scale
        return g.reshape(self._input_shape)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits, as ``torch.nn.BCEWithLogitsLoss``.

    target has the shape of input (probabilities in [0, 1]).  ``weight`` and
    ``pos_weight`` broadcast against input (``pos_weight`` is typically ``(C,)``
    for ``(N, C)`` input or ``(C, 1, 1)`` for ``(N, C, H, W)``).
    """

    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__(reduction)
        self.weight = None if weight is None else _as_float32(weight, "weight")
        self.pos_weight = None if pos_weight is None else _as_float32(pos_weight, "pos_weight")

    def forward(self, input, target):
        x = _as_float32(input, "input")
        y = _as_float32(target, "target")
        _check_same_shape(x, y, "BCEWithLogitsLoss")

        def full(a, name):
            if a is None:
                return None
            try:
                return np.ascontiguousarray(np.broadcast_to(a, x.shape), dtype=np.float32)
            except ValueError:
                raise ValueError(f"{name} of shape {a.shape} does not broadcast to input shape "
                                 f"{x.shape}") from None

        loss, grad = _core.nn_bce_logits(x, y, full(self.pos_weight, "pos_weight"),
                                         full(self.weight, "weight"), True)
        self._shape = x.shape
        return self._finish(loss, grad)

    def backward(self, grad_output=1.0):
        return (self._grad * self._reduced_grad(grad_output, self._shape)).astype(np.float32, copy=False)


class FocalLoss(_Loss):
    """Focal loss (Lin et al. 2017) with MONAI's ``FocalLoss`` options.

    Sigmoid form (default): ``alpha_t * (1 - p_t)^gamma * BCE(input, target)``
    element-wise, ``alpha_t = alpha`` for positives and ``1 - alpha`` for
    negatives (as ``torchvision.ops.sigmoid_focal_loss``).  Softmax form
    (``use_softmax=True``): ``-alpha_k (1 - p_k)^gamma log(p_k) t_k`` with
    ``alpha_k = 1 - alpha`` for class 0 and ``alpha`` for the others.

    input: logits ``(B, C, *spatial)`` (or ``(N, C)``); target of the same shape,
    or labels ``(B, 1, *spatial)`` with ``to_onehot_y``.  include_background=False
    drops channel 0 first (its gradient is 0; with softmax the softmax then runs
    over the remaining channels and alpha is ignored, as MONAI).  weight: per-class
    factors (a number or one per kept class).  reduction ``"mean"`` averages all
    elements; ``"sum"`` follows MONAI (mean over spatial axes, then sum);
    ``"none"`` returns the element-wise loss of the kept channels.
    """

    def __init__(self, include_background=True, to_onehot_y=False, gamma=2.0, alpha=None, weight=None,
                 reduction="mean", use_softmax=False):
        super().__init__(reduction)
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma}")
        if alpha is not None and not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1] or None, got {alpha}")
        self.include_background, self.to_onehot_y = include_background, to_onehot_y
        self.gamma, self.alpha, self.use_softmax = float(gamma), alpha, use_softmax
        self.weight = None if weight is None else np.asarray(weight, dtype=np.float32)
        if self.weight is not None and np.any(self.weight < 0):
            raise ValueError("weight values must be >= 0")

    def forward(self, input, target):
        x = _as_float32(input, "input")
        if x.ndim < 2:
            raise ValueError(f"FocalLoss: input must be (N, C, ...), got shape {x.shape}")
        t = _prepare_target(x, target, self.to_onehot_y, "FocalLoss")
        first = 1 if (not self.include_background and x.shape[1] > 1) else 0
        if not self.include_background and x.shape[1] == 1:
            warnings.warn("single channel prediction, `include_background=False` ignored.")
        xs, ts = np.ascontiguousarray(x[:, first:]), np.ascontiguousarray(t[:, first:])
        kept = xs.shape[1]
        w = None
        if self.weight is not None and kept != 1:
            w = np.broadcast_to(self.weight, (kept,)) if self.weight.ndim == 0 else self.weight
            if w.shape != (kept,):
                raise ValueError(f"weight must have {kept} entries (one per class used by the loss), "
                                 f"got {self.weight.shape}")
            w = w.reshape((1, kept) + (1,) * (xs.ndim - 2))
        spatial = float(np.prod(xs.shape[2:])) if (self.reduction == "sum" and xs.ndim > 2) else 1.0
        if self.use_softmax:
            # the softmax couples the channels: keep the pieces and form the gradient in backward
            alpha = None if first else self.alpha
            loss, self._p, self._u = _softmax_focal(xs, ts, self.gamma, alpha, w)
            grad = None
        else:
            alpha = -1.0 if self.alpha is None else float(self.alpha)
            loss, grad = _core.nn_focal_sigmoid(xs, ts, self.gamma, alpha, True)
            if w is not None:
                loss, grad = loss * w, grad * w
            grad = grad / np.float32(spatial)
        loss = loss / np.float32(spatial)   # MONAI's "sum": mean over the spatial axes, then sum
        self._spatial = spatial
        self._shape, self._first, self._full_shape = xs.shape, first, x.shape
        return self._finish(loss.astype(np.float32, copy=False), grad)

    def backward(self, grad_output=1.0):
        if self.use_softmax:
            if getattr(self, "_u", None) is None:
                raise RuntimeError("FocalLoss.backward() called before forward()")
            if self._scale is None:
                scale = np.asarray(grad_output, dtype=np.float64)
                if scale.shape != self._shape:
                    raise ValueError(f"grad_output must have shape {self._shape} for reduction='none'")
            else:
                scale = float(grad_output) * self._scale
            u = self._u * (scale / self._spatial)
            g = (u - self._p * np.sum(u, axis=1, keepdims=True)).astype(np.float32)
        else:
            g = self._grad * self._reduced_grad(grad_output, self._shape)
        if self._first == 0:
            return g.astype(np.float32, copy=False)
        full = np.zeros(self._full_shape, np.float32)
        full[:, self._first:] = g
        return full


def _softmax_focal(x, t, gamma, alpha, weight=None):
    """Element-wise softmax focal loss (float64 NumPy) and what its gradient needs:
    loss_k = -a_k t_k (1 - p_k)^gamma log p_k (a_k: alpha factor times class
    weight); with u_k = a_k t_k p_k f'(p_k) the gradient of sum_k c_k loss_k is
    c_k u_k - p_j sum_k c_k u_k.  Returns (loss float32, p, u)."""
    z = x.astype(np.float64)
    mx = z.max(axis=1, keepdims=True)
    logp = z - mx - np.log(np.sum(np.exp(z - mx), axis=1, keepdims=True))
    p = np.exp(logp)
    q = 1.0 - p
    a = np.ones(x.shape[1])
    if alpha is not None:
        a = np.array([1.0 - alpha] + [alpha] * (x.shape[1] - 1))
    a = a.reshape((1, -1) + (1,) * (x.ndim - 2))
    if weight is not None:
        a = a * weight
    at = a * t.astype(np.float64)
    qg = q ** gamma
    loss = -at * qg * logp
    # p f'(p) = gamma (1 - p)^(gamma - 1) p log p - (1 - p)^gamma
    with np.errstate(divide="ignore", invalid="ignore"):
        qg1 = np.where(q > 0, q ** (gamma - 1.0), 0.0 if gamma > 1 else (1.0 if gamma == 1 else np.inf))
    pfp = gamma * qg1 * p * logp - qg
    pfp = np.where(np.isfinite(pfp) | (q > 0), pfp, -qg)   # q = 0: the first term vanishes
    return loss.astype(np.float32), p, at * pfp


class MSELoss(_Loss):
    """Mean squared error, as ``torch.nn.MSELoss`` (input and target of one shape)."""

    _kernel = staticmethod(_core.nn_squared_error)

    def forward(self, input, target):
        x = _as_float32(input, "input")
        y = _as_float32(target, "target")
        _check_same_shape(x, y, type(self).__name__)
        loss, grad = self._kernel(x, y, True)
        self._shape = x.shape
        return self._finish(loss, grad)

    def backward(self, grad_output=1.0):
        return (self._grad * self._reduced_grad(grad_output, self._shape)).astype(np.float32, copy=False)


class L1Loss(MSELoss):
    """Mean absolute error, as ``torch.nn.L1Loss`` (gradient sign(x - y), 0 at 0)."""

    _kernel = staticmethod(_core.nn_absolute_error)


class DiceLoss(_Loss):
    """Soft Dice loss with MONAI's ``DiceLoss`` formula and options.

    input: logits (or probabilities with neither ``sigmoid`` nor ``softmax``)
    ``(B, C, *spatial)``.  target: ``(B, C, *spatial)`` one-hot/probabilities, or
    ``(B, 1, *spatial)`` labels with ``to_onehot_y=True``.  Per (b, c) (or per
    c with ``batch=True``, sums also over the batch):
    ``f = 1 - (2 * sum(p t) + smooth_nr) / (sum(p) + sum(t) + smooth_dr)``
    (``squared_pred`` squares p and t in the denominator; ``jaccard`` uses
    ``2 (sum p + sum t - sum p t)``).  ``reduction`` mean/sum over f, or
    ``"none"`` returns f of shape ``(B, C')`` (``(C',)`` with ``batch``).
    """

    def __init__(self, include_background=True, to_onehot_y=False, sigmoid=False, softmax=False,
                 squared_pred=False, jaccard=False, reduction="mean", smooth_nr=1e-5,
                 smooth_dr=1e-5, batch=False):
        super().__init__(reduction)
        if sigmoid and softmax:
            raise ValueError("sigmoid and softmax are mutually exclusive")
        self.include_background, self.to_onehot_y = include_background, to_onehot_y
        self.sigmoid, self.softmax = sigmoid, softmax
        self.squared_pred, self.jaccard, self.batch = squared_pred, jaccard, batch
        self.smooth_nr, self.smooth_dr = float(smooth_nr), float(smooth_dr)

    def _prepare_target(self, x, target):
        return _prepare_target(x, target, self.to_onehot_y, "DiceLoss")

    def forward(self, input, target):
        x = _as_float32(input, "input")
        if x.ndim < 3:
            raise ValueError(f"input must be (B, C, *spatial), got shape {x.shape}")
        t = self._prepare_target(x, target)
        b, c = x.shape[:2]
        s = int(np.prod(x.shape[2:], dtype=np.int64))
        x3 = x.reshape(b, c, s)
        act = None
        if self.sigmoid:
            with np.errstate(over="ignore"):
                p = np.float32(1.0) / (np.float32(1.0) + np.exp(-x3))
            act = "sigmoid"
        elif self.softmax:
            if c == 1:
                warnings.warn("single channel prediction, `softmax=True` ignored.")
                p = x3
            else:
                p = _core.nn_softmax_channels(x3)
                act = "softmax"
        else:
            p = x3
        t3 = t.reshape(b, c, s)
        first = 0
        if not self.include_background:
            if c == 1:
                warnings.warn("single channel prediction, `include_background=False` ignored.")
            else:
                first = 1
        pk = np.ascontiguousarray(p[:, first:])
        tk = np.ascontiguousarray(t3[:, first:])
        ck = c - first
        sums = _core.nn_dice_sums(pk.reshape(b * ck, s), tk.reshape(b * ck, s), self.squared_pred)
        sums = sums.reshape(b, ck, 3)
        if self.batch:
            sums = np.sum(sums, axis=0)   # (ck, 3)
        inter, pred_o, ground_o = sums[..., 0], sums[..., 1], sums[..., 2]
        den = ground_o + pred_o
        if self.jaccard:
            den = 2.0 * (den - inter)
        num_v = 2.0 * inter + self.smooth_nr
        den_v = den + self.smooth_dr
        f = 1.0 - num_v / den_v
        # d f / d p = -(2 t B - A dDen/dp) / B^2 is linear in t and p within a row:
        # g = ct * t + cp * p + c0, with dDen/dp = 1 (or 2p squared; jaccard: 2 (dpred - t))
        alpha = -2.0 / den_v          # coefficient of t from the numerator
        beta = num_v / den_v ** 2     # A / B^2, times dDen/dp
        if self.jaccard:
            ct, cp, c0 = alpha - 2.0 * beta, (4.0 * beta if self.squared_pred else 0.0 * beta), \
                (0.0 * beta if self.squared_pred else 2.0 * beta)
        else:
            ct, cp, c0 = alpha, (2.0 * beta if self.squared_pred else 0.0 * beta), \
                (0.0 * beta if self.squared_pred else beta)
        self._coef = (ct, cp, c0)
        self._pk, self._tk = pk, tk
        self._act, self._p, self._first, self._shape = act, p, first, x.shape
        self._f_shape = f.shape
        value = self._finish(f.astype(np.float32) if self.reduction == "none" else f, None)
        return value

    def _reduced_grad(self, grad_output, elem_shape):
        if self._scale is None:
            go = np.asarray(grad_output, dtype=np.float64)
            if go.shape != tuple(elem_shape):
                raise ValueError(f"grad_output must have shape {tuple(elem_shape)}")
            return go
        return np.float64(float(grad_output) * self._scale)

    def backward(self, grad_output=1.0):
        if getattr(self, "_coef", None) is None:
            raise RuntimeError("DiceLoss.backward() called before forward()")
        scale = self._reduced_grad(grad_output, self._f_shape)   # scalar, or per f entry
        b, c = self._shape[:2]
        s = self._p.shape[2]

        def rows(coef):  # per-(b, c) float32 coefficients, the reduction scale folded in
            v = np.broadcast_to(coef * scale, self._f_shape)
            v = np.broadcast_to(v[None], (b,) + v.shape) if self.batch else v
            return v.astype(np.float32)[:, :, None]

        ct, cp, c0 = (rows(k) for k in self._coef)
        g_p = np.zeros((b, c, s), dtype=np.float32)
        kept = ct * self._tk + c0
        if self.squared_pred:
            kept += cp * self._pk
        g_p[:, self._first:] = kept
        if self._act == "sigmoid":
            g = g_p * self._p * (1.0 - self._p)
        elif self._act == "softmax":
            g = _core.nn_softmax_channels_backward(self._p, g_p)
        else:
            g = g_p
        return np.asarray(g, dtype=np.float32).reshape(self._shape)


class DiceCELoss(_Loss):
    """``lambda_dice * DiceLoss + lambda_ce * CrossEntropyLoss`` (MONAI's ``DiceCELoss``).

    The cross-entropy part takes class indices from the target: a one-channel
    target ``(B, 1, ...)`` holds labels; a one-hot target is reduced with argmax.
    With a single output channel the CE part is ``BCEWithLogitsLoss``, as MONAI.
    ``weight`` are CE class weights.  Only ``reduction`` "mean" and "sum".
    """

    def __init__(self, include_background=True, to_onehot_y=False, sigmoid=False, softmax=False,
                 squared_pred=False, jaccard=False, reduction="mean", smooth_nr=1e-5,
                 smooth_dr=1e-5, batch=False, weight=None, lambda_dice=1.0, lambda_ce=1.0,
                 label_smoothing=0.0):
        super().__init__(reduction)
        if reduction == "none":
            raise ValueError("DiceCELoss supports reduction 'mean' or 'sum', got 'none'")
        if lambda_dice < 0 or lambda_ce < 0:
            raise ValueError("lambda_dice and lambda_ce must be >= 0")
        self.dice = DiceLoss(include_background, to_onehot_y, sigmoid, softmax, squared_pred, jaccard,
                             reduction, smooth_nr, smooth_dr, batch)
        self.ce = CrossEntropyLoss(weight=weight, reduction=reduction, label_smoothing=label_smoothing)
        self.bce = BCEWithLogitsLoss(reduction=reduction, pos_weight=weight)
        self.lambda_dice, self.lambda_ce = float(lambda_dice), float(lambda_ce)

    def forward(self, input, target):
        x = _as_float32(input, "input")
        t = np.asarray(target)
        if x.ndim < 3 or t.ndim != x.ndim or t.shape[0] != x.shape[0] or t.shape[2:] != x.shape[2:]:
            raise ValueError(f"DiceCELoss: target shape {t.shape} does not match input shape {x.shape}")
        dice = self.dice.forward(x, t)
        if x.shape[1] == 1:
            self._ce_fn = self.bce
            ce = self.bce.forward(x, _as_float32(t, "target"))
        else:
            self._ce_fn = self.ce
            labels = t[:, 0] if t.shape[1] == 1 else np.argmax(t, axis=1)
            ce = self.ce.forward(x, labels.astype(np.int64))
        value = self.lambda_dice * dice + self.lambda_ce * ce
        if not np.isfinite(value):
            raise NumericalError(f"DiceCELoss: the loss is not finite ({value})")
        return value

    def backward(self, grad_output=1.0):
        g = self.lambda_dice * self.dice.backward(grad_output)
        return (g + self.lambda_ce * self._ce_fn.backward(grad_output)).astype(np.float32)
