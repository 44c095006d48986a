"""Inference: batched prediction, sliding-window inference over volumes
larger than the training patch (MONAI's algorithm), and test-time flipping.

A *predictor* is a model with ``forward(x)`` (called in eval mode) or any
callable mapping a float32 batch ``(n, C_in, *patch)`` to ``(n, C_out, *patch)``.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

__all__ = ["predict", "sliding_window_inference", "gaussian_importance_map", "window_starts",
           "flip_tta"]

_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


class _EvalMode:
    """Put a model in eval mode for the duration of a block, then restore it."""

    def __init__(self, model):
        self.model = model
        self.was_training = getattr(model, "training", None)

    def __enter__(self):
        if hasattr(self.model, "eval"):
            self.model.eval()
        return self

    def __exit__(self, *exc):
        if self.was_training and hasattr(self.model, "train"):
            self.model.train(True)


def _as_callable(predictor):
    if callable(predictor):          # a Module's __call__ runs its hooks around forward
        return predictor
    if hasattr(predictor, "forward"):
        return predictor.forward
    raise TypeError(f"predictor must be a model with forward() or a callable, got {type(predictor).__name__}")


def predict(model, x, batch_size=8):
    """Run ``model`` over ``x`` (first axis = samples) in batches of ``batch_size``,
    in eval mode, and concatenate the outputs along the first axis."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim < 1 or len(x) == 0:
        raise ValueError(f"x must hold at least one sample along axis 0, got shape {x.shape}")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    fn = _as_callable(model)
    with _EvalMode(model):
        outs = [np.asarray(fn(x[i:i + batch_size]), dtype=np.float32)
                for i in range(0, len(x), int(batch_size))]
    return np.concatenate(outs, axis=0)


def gaussian_importance_map(patch_size, sigma_scale=0.125):
    """MONAI's Gaussian blending weights for a patch: the product over axes of
    ``exp(-x^2 / (2 sigma^2))`` with ``x`` centred voxel offsets and
    ``sigma = patch_size * sigma_scale``, clamped below at ``max(min, 1e-3)``.
    float32, shape ``patch_size``."""
    patch_size = tuple(int(p) for p in patch_size)
    scales = (sigma_scale,) * len(patch_size) if np.isscalar(sigma_scale) else tuple(sigma_scale)
    if len(scales) != len(patch_size):
        raise ValueError(f"sigma_scale must be a number or have {len(patch_size)} entries")
    out = None
    for p, s in zip(patch_size, scales):
        sigma = p * float(s)
        if sigma <= 0:
            raise ValueError(f"sigma_scale must be > 0, got {s}")
        x = np.arange(-(p - 1) / 2.0, (p - 1) / 2.0 + 1, dtype=np.float32)
        g = np.exp(x ** 2 / np.float32(-2 * sigma ** 2)).astype(np.float32)
        out = g if out is None else np.multiply.outer(out, g).astype(np.float32)
    return np.maximum(out, np.float32(max(float(out.min()), 1e-3)))


def window_starts(image_size, roi_size, overlap):
    """Start indices of the windows along each axis (MONAI's scan interval and
    dense_patch_slices: the last window is shifted back to end at the border)."""
    starts = []
    for img, roi in zip(image_size, roi_size):
        interval = roi if roi == img else max(int(roi * (1 - overlap)), 1)
        count = 1
        for d in range(int(math.ceil(img / interval))):
            if d * interval + roi >= img:
                count = d + 1
                break
        axis = []
        for i in range(count):
            s = i * interval
            axis.append(s - max(s + roi - img, 0))
        starts.append(axis)
    return starts


def sliding_window_inference(inputs, roi_size, sw_batch_size, predictor, overlap=0.25,
                             mode="gaussian", sigma_scale=0.125, padding_mode="constant", cval=0.0,
                             progress=False):
    """Predict a large image window by window and blend the windows.

    inputs: ``(B, C, *spatial)``.  roi_size: window size per spatial axis (a
    non-positive entry takes the image size).  Windows overlap by ``overlap``
    (fraction of the window); ``mode`` "gaussian" weighs each window with
    :func:`gaussian_importance_map` (``sigma_scale``), "constant" equally.
    Images smaller than the window are padded symmetrically (``padding_mode``
    constant/reflect/replicate/circular, value ``cval``) and the result is
    cropped back.  Accumulation is in float64, so an identity predictor gives
    back the input exactly.  Returns float32 ``(B, C_out, *spatial)``.
    """
    x = np.asarray(inputs, dtype=np.float32)
    nd = x.ndim - 2
    if nd < 1:
        raise ValueError(f"inputs must be (B, C, *spatial), got shape {x.shape}")
    roi = (roi_size,) * nd if np.isscalar(roi_size) else tuple(roi_size)
    if len(roi) != nd:
        raise ValueError(f"roi_size must have {nd} entries for {nd} spatial axes, got {roi_size}")
    spatial = x.shape[2:]
    roi = tuple(int(r) if r and r > 0 else s for r, s in zip(roi, spatial))
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    if int(sw_batch_size) < 1:
        raise ValueError(f"sw_batch_size must be >= 1, got {sw_batch_size}")
    if mode not in ("gaussian", "constant"):
        raise ValueError(f"mode must be 'gaussian' or 'constant', got {mode!r}")
    if padding_mode not in _PAD_MODES:
        raise ValueError(f"padding_mode must be one of {sorted(_PAD_MODES)}, got {padding_mode!r}")
    pads = [(max(r - s, 0) // 2, max(r - s, 0) - max(r - s, 0) // 2) for r, s in zip(roi, spatial)]
    if any(a or b for a, b in pads):
        kw = {"constant_values": cval} if padding_mode == "constant" else {}
        x = np.pad(x, [(0, 0), (0, 0)] + pads, mode=_PAD_MODES[padding_mode], **kw)
    size = x.shape[2:]
    weight = (gaussian_importance_map(roi, sigma_scale) if mode == "gaussian"
              else np.ones(roi, np.float32)).astype(np.float64)
    slices = [tuple(slice(s, s + r) for s, r in zip(st, roi))
              for st in itertools.product(*window_starts(size, roi, overlap))]
    fn = _as_callable(predictor)
    out = None
    count = np.zeros(size, np.float64)
    for sl in slices:
        count[sl] += weight
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=x.shape[0] * len(slices), desc="sliding window", unit="win")
    with _EvalMode(predictor):
        for b in range(x.shape[0]):
            for i in range(0, len(slices), int(sw_batch_size)):
                chunk = slices[i:i + int(sw_batch_size)]
                batch = np.stack([x[(b, slice(None)) + sl] for sl in chunk])
                pred = np.asarray(fn(batch))
                if pred.ndim != nd + 2 or pred.shape[0] != len(chunk) or pred.shape[2:] != roi:
                    raise ValueError(f"predictor returned shape {pred.shape} for windows of shape "
                                     f"{batch.shape}; expected ({len(chunk)}, C_out, *{roi})")
                if out is None:
                    out = np.zeros((x.shape[0], pred.shape[1]) + size, np.float64)
                for k, sl in enumerate(chunk):
                    out[(b, slice(None)) + sl] += pred[k] * weight
                if bar is not None:
                    bar.update(len(chunk))
    if bar is not None:
        bar.close()
    out /= count
    crop = tuple(slice(p[0], p[0] + s) for p, s in zip(pads, spatial))
    return out[(slice(None), slice(None)) + crop].astype(np.float32)


def flip_tta(predictor, x, spatial_axes=None):
    """Test-time augmentation by flipping: the mean of the predictions on every
    combination of flips along ``spatial_axes`` (default: all axes after the
    first two of ``x`` = ``(B, C, *spatial)``), each flipped back.  With d axes
    this runs 2**d predictions.  ``predictor`` is a model or a callable
    (e.g. ``lambda v: sliding_window_inference(v, roi, 4, model)``)."""
    x = np.asarray(x, dtype=np.float32)
    if spatial_axes is None:
        spatial_axes = tuple(range(2, x.ndim))
    axes = tuple(a % x.ndim for a in spatial_axes)
    if any(a < 2 for a in axes):
        raise ValueError(f"spatial_axes must not include the batch or channel axis, got {spatial_axes}")
    fn = _as_callable(predictor)
    total, n = None, 0
    with _EvalMode(predictor):
        for r in range(len(axes) + 1):
            for combo in itertools.combinations(axes, r):
                xi = np.flip(x, combo) if combo else x
                y = np.asarray(fn(np.ascontiguousarray(xi)), dtype=np.float64)
                y = np.flip(y, combo) if combo else y
                total = y.copy() if total is None else total + y
                n += 1
    return (total / n).astype(np.float32)
