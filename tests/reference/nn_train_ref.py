"""Slow, obviously-correct NumPy twins for the losses and sliding-window inference."""
import itertools
import math

import numpy as np


def dice_loss_monai(input, target, include_background=True, to_onehot_y=False, sigmoid=False,
                    softmax=False, squared_pred=False, jaccard=False, reduction="mean",
                    smooth_nr=1e-5, smooth_dr=1e-5, batch=False):
    """MONAI DiceLoss.forward transcribed to NumPy (float64)."""
    x = np.asarray(input, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    if sigmoid:
        x = 1.0 / (1.0 + np.exp(-x))
    n_pred_ch = x.shape[1]
    if softmax and n_pred_ch > 1:
        e = np.exp(x - x.max(axis=1, keepdims=True))
        x = e / e.sum(axis=1, keepdims=True)
    if to_onehot_y and n_pred_ch > 1:
        lab = t[:, 0].astype(int)
        t = np.stack([(lab == k).astype(np.float64) for k in range(n_pred_ch)], axis=1)
    if not include_background and n_pred_ch > 1:
        t, x = t[:, 1:], x[:, 1:]
    reduce_axis = tuple(range(2, x.ndim))
    if batch:
        reduce_axis = (0,) + reduce_axis
    intersection = np.sum(t * x, axis=reduce_axis)
    if squared_pred:
        ground_o = np.sum(t ** 2, axis=reduce_axis)
        pred_o = np.sum(x ** 2, axis=reduce_axis)
    else:
        ground_o = np.sum(t, axis=reduce_axis)
        pred_o = np.sum(x, axis=reduce_axis)
    denominator = ground_o + pred_o
    if jaccard:
        denominator = 2.0 * (denominator - intersection)
    f = 1.0 - (2.0 * intersection + smooth_nr) / (denominator + smooth_dr)
    if reduction == "mean":
        return float(np.mean(f))
    if reduction == "sum":
        return float(np.sum(f))
    return f


def gaussian_importance_map(patch_size, sigma_scale=0.125):
    """MONAI compute_importance_map(mode="gaussian") in NumPy (float32 like MONAI)."""
    sigma_scale = (sigma_scale,) * len(patch_size) if np.isscalar(sigma_scale) else sigma_scale
    sigmas = [p * s for p, s in zip(patch_size, sigma_scale)]
    out = np.ones((), dtype=np.float64)
    for i, p in enumerate(patch_size):
        x = np.arange(-(p - 1) / 2.0, (p - 1) / 2.0 + 1, dtype=np.float32)
        g = np.exp(x.astype(np.float32) ** 2 / np.float32(-2 * sigmas[i] ** 2)).astype(np.float32)
        out = np.multiply.outer(out, g).astype(np.float32)
    out = out.astype(np.float32)
    return np.maximum(out, max(float(out.min()), 1e-3)).astype(np.float32)


def dense_patch_starts(image_size, roi_size, overlap):
    """MONAI _get_scan_interval + dense_patch_slices, as lists of starts per axis."""
    starts = []
    for img, roi in zip(image_size, roi_size):
        interval = roi if roi == img else max(int(roi * (1 - overlap)), 1)
        num = int(math.ceil(float(img) / interval))
        scan = next((d for d in range(num) if d * interval + roi >= img), None)
        count = scan + 1 if scan is not None else 1
        axis = []
        for idx in range(count):
            s = idx * interval
            s -= max(s + roi - img, 0)
            axis.append(s)
        starts.append(axis)
    return list(itertools.product(*starts))


def sliding_window_ref(x, roi_size, predictor, overlap=0.25, mode="gaussian", sigma_scale=0.125):
    """One window at a time, float64 accumulation, constant zero padding split as MONAI."""
    spatial = x.shape[2:]
    pads = [(max(r - s, 0) // 2, max(r - s, 0) - max(r - s, 0) // 2) for r, s in zip(roi_size, spatial)]
    xp = np.pad(x, [(0, 0), (0, 0)] + pads)
    size = xp.shape[2:]
    w = np.ones(roi_size, np.float32) if mode == "constant" else gaussian_importance_map(roi_size, sigma_scale)
    out = cnt = None
    for st in dense_patch_starts(size, roi_size, overlap):
        sl = tuple(slice(s, s + r) for s, r in zip(st, roi_size))
        y = np.asarray(predictor(xp[(slice(None), slice(None)) + sl]), dtype=np.float64)
        if out is None:
            out = np.zeros(x.shape[:1] + y.shape[1:2] + size)
            cnt = np.zeros(size)
        out[(slice(None), slice(None)) + sl] += y * w
        cnt[sl] += w
    out = out / cnt
    crop = tuple(slice(p[0], p[0] + s) for p, s in zip(pads, spatial))
    return out[(slice(None), slice(None)) + crop].astype(np.float32)
