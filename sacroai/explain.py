"""Class-activation maps for sacroai classifiers: Grad-CAM and Grad-CAM++.

A map is computed from one convolutional layer's activations ``A`` (shape
``(C, *spatial)``) and the gradients ``G = d score / d A`` of the chosen class
score (the logit, before any softmax):

* Grad-CAM (Selvaraju et al., ICCV 2017): ``w_c = mean(G_c)``,
  ``cam = ReLU(sum_c w_c A_c)``.
* Grad-CAM++ (Chattopadhay et al., WACV 2018), with the exponential-score
  closed form used by the reference implementations:
  ``alpha = G^2 / (2 G^2 + sum(A) G^3)``, ``w_c = sum(alpha_c ReLU(G_c))``.

High values mean "important for this class".  The map is interpolated
(linearly) from the layer's grid to the input's grid, so it overlays the
input voxel for voxel; :func:`roi_fraction` says how much of its mass lies in
a region such as the joint quadrants.
"""
from __future__ import annotations

import numpy as np

from .nn.module import enable_grad
from .volume import Volume


def _find_layer(model, layer):
    if not isinstance(layer, str):
        return layer
    for name, mod in model.named_modules():
        if name == layer:
            return mod
    names = [n for n, _ in model.named_modules() if n]
    raise ValueError(f"target_layer {layer!r} is not a submodule; choose one of {names[:20]}...")


def _zoom_to(cam: np.ndarray, shape: tuple) -> np.ndarray:
    """Linear interpolation of ``cam`` onto ``shape`` with aligned voxel centres."""
    from scipy import ndimage

    if cam.shape == tuple(shape):
        return cam
    coords = np.meshgrid(*[(np.arange(n) + 0.5) * (m / n) - 0.5 for n, m in zip(shape, cam.shape)],
                         indexing="ij")
    return ndimage.map_coordinates(cam, coords, order=1, mode="nearest")


def _cam_from(acts: np.ndarray, grads: np.ndarray, plus: bool) -> np.ndarray:
    axes = tuple(range(1, acts.ndim))
    if plus:
        g2, g3 = grads ** 2, grads ** 3
        denom = 2.0 * g2 + acts.sum(axis=axes, keepdims=True) * g3
        alpha = np.divide(g2, denom, out=np.zeros_like(g2), where=np.abs(denom) > 1e-12)
        weights = (alpha * np.maximum(grads, 0.0)).sum(axis=axes)
    else:
        weights = grads.mean(axis=axes)
    cam = np.tensordot(weights, acts, axes=(0, 0))
    return np.maximum(cam, 0.0)


def grad_cam(model, x, target_layer, class_index=None, plus: bool = False, normalize: bool = True):
    """Grad-CAM (or Grad-CAM++ with ``plus=True``) of ``model`` for one input.

    Parameters
    ----------
    model : sacroai.nn.Module
        A classifier returning logits of shape ``(N, K)``.
    x : Volume or ndarray
        One input: an array of shape ``(1, C, *spatial)`` (a batch of one), or
        a Volume (taken as one channel).
    target_layer : Module or str
        The layer whose output is explained (usually the last convolution
        stage); a dotted name as in ``model.named_modules()`` is accepted.
    class_index : int, optional
        The class to explain; default the predicted class.
    normalize : bool
        Scale the map to [0, 1] (a map that is all zero stays zero).

    Returns
    -------
    Volume or ndarray
        The map on the input's spatial grid: a Volume with the input's affine
        when ``x`` is a Volume, else an array of the input's spatial shape.
    """
    ref = x if isinstance(x, Volume) else None
    arr = np.asarray(x.array if ref is not None else x, dtype=np.float32)
    if ref is not None:
        arr = arr[None, None]  # a batch of one, one channel
    if arr.ndim not in (4, 5) or arr.shape[0] != 1:
        raise ValueError(f"x must be a batch of one, (1, C, *spatial) with 2 or 3 spatial axes, "
                         f"got shape {arr.shape}")
    layer = _find_layer(model, target_layer)
    store = {}
    h1 = layer.register_forward_hook(lambda m, inp, out: store.__setitem__("acts", np.array(out, copy=True)))
    h2 = layer.register_full_backward_hook(
        lambda m, gin, gout: store.__setitem__("grads", np.array(gout[0] if isinstance(gout, tuple) else gout,
                                                                   copy=True)))
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        with enable_grad():  # eval mode (frozen batch norm) but keep what backward needs
            logits = np.asarray(model.forward(np.ascontiguousarray(arr)))
            if logits.ndim != 2:
                raise ValueError(f"the model must return logits of shape (N, K), got {logits.shape}")
            k = int(np.argmax(logits[0])) if class_index is None else int(class_index)
            if not 0 <= k < logits.shape[1]:
                raise ValueError(f"class_index must be in [0, {logits.shape[1] - 1}], got {class_index}")
            seed = np.zeros_like(logits)
            seed[0, k] = 1.0
            model.backward(seed)
    finally:
        h1.remove()
        h2.remove()
        model.train(was_training)
    if "acts" not in store or "grads" not in store:
        raise RuntimeError("the target layer was not reached in forward/backward")
    cam = _cam_from(store["acts"][0].astype(np.float64), store["grads"][0].astype(np.float64), plus)
    cam = _zoom_to(cam, arr.shape[2:])
    if normalize and cam.max() > 0:
        cam = cam / cam.max()
    cam = cam.astype(np.float32)
    return Volume(cam, ref.affine) if ref is not None and cam.ndim >= 2 else cam


def grad_cam_plus_plus(model, x, target_layer, class_index=None, normalize: bool = True):
    """Grad-CAM++ (see :func:`grad_cam`)."""
    return grad_cam(model, x, target_layer, class_index=class_index, plus=True, normalize=normalize)


def roi_fraction(cam, roi) -> float:
    """Fraction of the map's mass inside ``roi`` (a boolean mask on the same grid).

    1.0 means all the evidence lies in the region (e.g. the SIJ quadrants);
    NaN when the map is all zero.
    """
    c = np.asarray(cam.array if isinstance(cam, Volume) else cam, dtype=np.float64)
    r = np.asarray(roi.array if isinstance(roi, Volume) else roi).astype(bool)
    if c.shape != r.shape:
        raise ValueError(f"roi shape {r.shape} differs from the map's {c.shape}")
    total = c.sum()
    return float(c[r].sum() / total) if total > 0 else float("nan")
