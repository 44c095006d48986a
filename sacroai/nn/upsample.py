"""Upsample: nearest and bilinear/trilinear resizing (like torch.nn.Upsample)."""
from __future__ import annotations

from . import functional as F
from .module import Module

__all__ = ["Upsample"]


class Upsample(Module):
    """Resize [N, C, H, W] or [N, C, D, H, W] by ``size`` or ``scale_factor``.

    mode: "nearest", "bilinear" (4-d input), "trilinear" (5-d input) or "linear"
    (either).  align_corners as PyTorch (default False for linear modes).
    """

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None):
        super().__init__()
        if (size is None) == (scale_factor is None):
            raise ValueError("Upsample: give exactly one of size and scale_factor")
        if mode not in F._MODES:
            raise ValueError(f"Upsample: mode must be one of {sorted(F._MODES)}, got {mode!r}")
        self.size, self.scale_factor, self.mode, self.align_corners = size, scale_factor, mode, align_corners
        self._cache = None

    def forward(self, x):
        if not hasattr(x, "ndim") or x.ndim not in (4, 5):
            raise ValueError(f"Upsample: input must have shape (N, C, H, W) or (N, C, D, H, W), "
                             f"got {getattr(x, 'shape', type(x).__name__)}")
        nd = x.ndim - 2
        x = F.check_input(x, nd, "Upsample")
        out, sc3, m, align = F.interpolate_geometry(x.shape[2:], self.size, self.scale_factor, self.mode,
                                                    self.align_corners, nd, "Upsample")
        y = F._core.nn_upsample(F._as5(x, nd), F._pad3(out, 1), m, align, sc3, False)
        y = y.reshape(x.shape[:2] + out)
        self._cache = (x.shape[2:], sc3, m, align, nd, y.shape) if self._caching() else None
        return y

    def backward(self, grad_out):
        if self._cache is None:
            raise self._missing_cache()
        in_size, sc3, m, align, nd, out_shape = self._cache
        g = F._check_grad(grad_out, out_shape, "Upsample")
        return F.interpolate_backward(g, in_size, sc3, m, align, nd)

    def extra_repr(self):
        s = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return s + f", mode='{self.mode}'"
