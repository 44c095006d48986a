"""Multi-task model: one shared backbone, several named heads, and a weighted multi-task loss.

The backbone maps the input to a feature vector [N, F].  Use a model built
without its classifier:

- ``DenseNet(..., num_classes=0)`` or ``CNN3D(..., num_classes=0)`` (their
  ``num_features`` gives F), or
- a ResNet with its last layer replaced: ``net = resnet18(...); net.fc = Identity()``
  (F = 512 for ResNet-18/34, 2048 for ResNet-50; pass ``in_features``).

Example::

    backbone = DenseNet(8, (2, 2), 16, num_classes=0, in_channels=1)
    model = MultiTask(backbone, {"grade": 4, "erosion": 1})      # Linear heads
    loss = MultiTaskLoss({"grade": CrossEntropyLoss(), "erosion": BCEWithLogitsLoss()},
                         weights={"grade": 1.0, "erosion": 0.5})
    out = model(x)                       # {"grade": [N, 4], "erosion": [N, 1]}
    value = loss(out, {"grade": y4, "erosion": y1})
    model.backward(loss.backward())

State-dict keys: ``backbone.<backbone keys>``, ``heads.<name>.weight``/``.bias``.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Mapping, Optional

import numpy as np

from .. import init
from ..container import ModuleDict
from ..linear import Linear
from ..module import Module

__all__ = ["MultiTask", "MultiTaskLoss"]


class MultiTask(Module):
    """Shared ``backbone`` ([N, *] -> [N, F]) and named heads ([N, F] -> [N, K_name]).

    Parameters
    ----------
    backbone : Module returning a [N, F] feature array, with ``backward``
    heads : mapping name -> Module (e.g. ``Linear(F, K)``) or int K (a new ``Linear(F, K)``)
    in_features : F; defaults to ``backbone.num_features`` when the backbone has it
    rng : int seed or numpy Generator for heads created from ints

    ``forward(x)`` returns an OrderedDict name -> logits (heads in the given
    order).  ``backward(grads)`` takes a mapping name -> gradient of the loss
    with respect to that head's output; heads left out contribute nothing.
    The heads' input gradients are summed and passed to the backbone's
    ``backward``; the input gradient is returned.
    """

    def __init__(self, backbone: Module, heads: Mapping[str, object], in_features: Optional[int] = None, rng=None):
        super().__init__()
        if not isinstance(backbone, Module):
            raise TypeError(f"MultiTask: backbone must be a sacroai.nn.Module, not {type(backbone).__name__}")
        if not isinstance(heads, Mapping) or len(heads) == 0:
            raise ValueError("MultiTask: heads must be a non-empty mapping name -> Module or number of outputs")
        if in_features is None:
            in_features = getattr(backbone, "num_features", None)
        gen = init.get_generator(rng)
        built = OrderedDict()
        for name, h in heads.items():
            if isinstance(h, Module):
                built[name] = h
            elif isinstance(h, (int, np.integer)) and not isinstance(h, bool) and h > 0:
                if in_features is None:
                    raise ValueError(f"MultiTask: head {name!r} is given as a number of outputs; pass in_features "
                                     "(the backbone has no num_features attribute)")
                built[name] = Linear(int(in_features), int(h), rng=gen)
            else:
                raise TypeError(f"MultiTask: head {name!r} must be a Module or a positive int, got {h!r}")
        self.backbone = backbone
        self.heads = ModuleDict(built)
        self.in_features = in_features
        self._feature_shape = None

    def forward(self, x):
        f = self.backbone(x)
        if not isinstance(f, np.ndarray) or f.ndim != 2:
            raise ValueError(f"MultiTask: the backbone must return features of shape (N, F), got "
                             f"{getattr(f, 'shape', type(f).__name__)}; build it with num_classes=0 or set "
                             "its classifier to Identity()")
        self._feature_shape = f.shape
        return OrderedDict((name, head(f)) for name, head in self.heads.items())

    def backward(self, grad_out):
        if not isinstance(grad_out, Mapping):
            raise TypeError("MultiTask.backward: grad_out must be a mapping head name -> gradient array")
        unknown = [k for k in grad_out if k not in self.heads]
        if unknown:
            raise ValueError(f"MultiTask.backward: unknown heads {unknown}; heads are {list(self.heads.keys())}")
        if self._feature_shape is None:
            raise self._missing_cache()
        g = None
        for name, head in self.heads.items():
            if grad_out.get(name) is None:
                continue
            gh = head.backward(grad_out[name])
            g = gh if g is None else g + gh
        if g is None:
            raise ValueError("MultiTask.backward: no gradient given for any head")
        return self.backbone.backward(np.ascontiguousarray(g, dtype=np.float32))


class MultiTaskLoss:
    """Weighted sum of per-head losses: ``sum_name weights[name] * losses[name](pred[name], target[name])``.

    Parameters
    ----------
    losses : mapping name -> loss object from :mod:`sacroai.nn.losses` (``forward(pred, target) -> float``,
        ``backward() -> grad``), with reduction "mean" or "sum"
    weights : mapping name -> float (missing names weigh 1.0), or None for all 1.0

    ``forward(preds, targets)`` returns the weighted total (float) and keeps the
    per-head values in ``last_losses``; ``backward()`` returns the dict name ->
    gradient with respect to that head's logits, ready for ``MultiTask.backward``.
    """

    def __init__(self, losses: Mapping[str, object], weights: Optional[Mapping[str, float]] = None):
        if not isinstance(losses, Mapping) or len(losses) == 0:
            raise ValueError("MultiTaskLoss: losses must be a non-empty mapping name -> loss")
        weights = dict(weights or {})
        unknown = [k for k in weights if k not in losses]
        if unknown:
            raise ValueError(f"MultiTaskLoss: weights given for unknown heads {unknown}; losses are {list(losses)}")
        self.losses = OrderedDict(losses)
        self.weights = OrderedDict((k, float(weights.get(k, 1.0))) for k in self.losses)
        self.last_losses = OrderedDict()

    def __call__(self, preds, targets):
        return self.forward(preds, targets)

    def forward(self, preds: Mapping[str, np.ndarray], targets: Mapping[str, np.ndarray]) -> float:
        for what, d in (("preds", preds), ("targets", targets)):
            missing = [k for k in self.losses if k not in d]
            if missing:
                raise KeyError(f"MultiTaskLoss: {what} has no entry for heads {missing}")
        total = 0.0
        self.last_losses = OrderedDict()
        for name, loss in self.losses.items():
            v = loss.forward(preds[name], targets[name])
            if np.ndim(v):
                raise ValueError(f"MultiTaskLoss: loss {name!r} must reduce to a scalar (reduction 'mean' or 'sum')")
            self.last_losses[name] = float(v)
            total += self.weights[name] * float(v)
        return total

    def backward(self):
        if not self.last_losses:
            raise RuntimeError("MultiTaskLoss.backward() called before forward()")
        return OrderedDict((name, np.asarray(loss.backward(1.0), dtype=np.float32) * np.float32(self.weights[name]))
                           for name, loss in self.losses.items())
