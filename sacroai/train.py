"""The training loop: :func:`fit`.

``fit`` trains a model (the :class:`sacroai.nn.Module` contract: ``__call__``/
``forward``, ``backward``, ``zero_grad``, ``train``/``eval``, ``state_dict``/
``load_state_dict``) with a loss from :mod:`sacroai.nn.losses` and an
optimizer from :mod:`sacroai.nn.optim`, epoch by epoch, and returns the
per-epoch history.

Determinism: batches are drawn from a ``numpy.random.Generator`` seeded with
``seed``, and every core kernel sums in a fixed order, so the same seed, data
and thread count give bit-identical weights.  Resuming from ``checkpoint_dir``
restores the model, optimizer, scheduler, epoch, history and generator state,
so an interrupted run continues exactly as if it had not stopped.

Checkpoint files in ``checkpoint_dir`` (each written atomically):

* ``last_checkpoint.safetensors`` -- everything needed to resume (model tensors
  under ``model.``, optimizer tensors under ``optimizer.``, the rest as JSON in
  the safetensors metadata), rewritten after every epoch;
* ``best.safetensors`` + ``best.json`` -- the weights of the best epoch by
  ``monitor`` and their model card (epoch, metrics, sha256).
"""
from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path

import numpy as np

from . import nn
from .nn.optim import clip_grad_norm_
from .nn.weights import load_safetensors, save_safetensors, save_weights

__all__ = ["fit", "evaluate", "load_checkpoint"]

CHECKPOINT_NAME = "last_checkpoint.safetensors"
BEST_NAME = "best.safetensors"


def _no_grad():
    try:
        from .nn.module import no_grad
    except ImportError:  # pragma: no cover - the module API is part of the package
        return contextlib.nullcontext()
    return no_grad()


class _ArrayData:
    """(inputs, targets) arrays indexed along their first axis."""

    def __init__(self, data, name):
        if not (isinstance(data, (tuple, list)) and len(data) == 2):
            raise TypeError(f"{name} must be a tuple (inputs, targets) of arrays or a dataset with "
                            f"__len__ and __getitem__ returning (input, target); got {type(data).__name__}")
        self.x, self.y = np.asarray(data[0]), np.asarray(data[1])
        if len(self.x) != len(self.y):
            raise ValueError(f"{name}: inputs have {len(self.x)} samples but targets have {len(self.y)}")

    def __len__(self):
        return len(self.x)

    def batch(self, idx):
        return self.x[idx], self.y[idx]


class _SampleData:
    """A dataset object: ``len(ds)`` and ``ds[i] -> (input, target)``; batches are stacked."""

    def __init__(self, ds):
        self.ds = ds

    def __len__(self):
        return len(self.ds)

    def batch(self, idx):
        xs, ys = zip(*(self.ds[int(i)] for i in idx))
        return np.stack(xs), np.stack(ys)


def _wrap_data(data, name):
    if data is None:
        return None
    if isinstance(data, np.ndarray):
        raise TypeError(f"{name} must be a tuple (inputs, targets) or a dataset, not a single array")
    if hasattr(data, "__getitem__") and hasattr(data, "__len__") and not isinstance(data, (tuple, list)):
        wrapped = _SampleData(data)
    else:
        wrapped = _ArrayData(data, name)
    if len(wrapped) == 0:
        raise ValueError(f"{name} holds no samples")
    return wrapped


def _json_safe(obj):
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _pack_optimizer(optimizer):
    sd = optimizer.state_dict()
    tensors, scalars = {}, {}
    for i, st in sd["state"].items():
        for k, v in st.items():
            if isinstance(v, np.ndarray):
                tensors[f"optimizer.state.{i}.{k}"] = v
            else:
                scalars.setdefault(str(i), {})[k] = _json_safe(v)
    return tensors, {"scalars": scalars, "param_groups": _json_safe(sd["param_groups"])}


def _unpack_optimizer(optimizer, tensors, meta):
    state = {}
    for key, arr in tensors.items():
        if key.startswith("optimizer.state."):
            i, k = key[len("optimizer.state."):].split(".", 1)
            state.setdefault(int(i), {})[k] = arr
    for i, st in meta["scalars"].items():
        state.setdefault(int(i), {}).update(st)
    groups = []
    for g in meta["param_groups"]:
        g = dict(g)
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
        groups.append(g)
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def _save_checkpoint(path, model, optimizer, scheduler, info):
    tensors = {f"model.{k}": np.asarray(v) for k, v in model.state_dict().items()}
    opt_tensors, opt_meta = _pack_optimizer(optimizer)
    tensors.update(opt_tensors)
    info = dict(info, optimizer=opt_meta,
                scheduler=_json_safe(scheduler.state_dict()) if scheduler is not None else None)
    save_safetensors(tensors, path, metadata={"sacroai_checkpoint": json.dumps(_json_safe(info))})


def load_checkpoint(path, model, optimizer=None, scheduler=None):
    """Restore a ``last_checkpoint.safetensors`` written by :func:`fit` into
    ``model`` (and ``optimizer``/``scheduler`` when given); returns its info
    dict (``epoch`` = number of finished epochs, ``history``, ``rng``, ...)."""
    tensors, meta = load_safetensors(path, with_metadata=True)
    if "sacroai_checkpoint" not in meta:
        raise ValueError(f"{path} is not a training checkpoint written by sacroai.train.fit")
    info = json.loads(meta["sacroai_checkpoint"])
    own = model.state_dict()
    weights = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    if set(weights) != set(own):
        raise ValueError(f"checkpoint {path} does not fit the model: keys differ "
                         f"{sorted(set(weights) ^ set(own))}")
    model.load_state_dict({k: np.require(v, dtype=np.asarray(own[k]).dtype, requirements="C")
                           for k, v in weights.items()})
    if optimizer is not None:
        _unpack_optimizer(optimizer, tensors, info["optimizer"])
    if scheduler is not None and info.get("scheduler") is not None:
        scheduler.load_state_dict(info["scheduler"])
    return info


def _improved(value, best, mode):
    if value is None or not math.isfinite(value):   # a NaN metric never counts as progress
        return False
    if best is None:
        return True
    return value < best if mode == "min" else value > best


def evaluate(model, loss, data, batch_size=8, metrics=None):
    """Loss and metrics of ``model`` (in eval mode, nothing cached) over ``data``.

    data: ``(inputs, targets)`` arrays or a dataset (as for :func:`fit`).
    Returns ``{"val_loss": sample-weighted mean of the per-batch losses,
    "val_<name>": fn(all predictions, all targets) for each metric}``.
    """
    if not isinstance(data, (_ArrayData, _SampleData)):
        data = _wrap_data(data, "data")
    metrics = dict(metrics or {})
    model.eval()
    preds, targets, total = [], [], 0.0
    with _no_grad():
        for start in range(0, len(data), batch_size):
            idx = np.arange(start, min(start + batch_size, len(data)))
            xb, yb = data.batch(idx)
            out = np.asarray(model(np.asarray(xb, dtype=np.float32)))
            total += float(loss.forward(out, yb)) * len(idx)
            if metrics:
                preds.append(out)
                targets.append(np.asarray(yb))
    rec = {"val_loss": total / len(data)}
    if metrics:
        p, t = np.concatenate(preds), np.concatenate(targets)
        for name, fn in metrics.items():
            rec[f"val_{name}"] = float(fn(p, t))
    return rec


def fit(model, loss, optimizer, train_data, val_data=None, epochs=10, batch_size=8, metrics=None,
        scheduler=None, checkpoint_dir=None, early_stopping_patience=None, seed=0, progress=True,
        monitor=None, mode=None, resume=True, shuffle=True, card=None, clip_grad_norm=None,
        augment=None):
    """Train ``model`` and return the per-epoch history (a list of dicts).

    Parameters
    ----------
    model : Module
        Called as ``model(x)``; ``model.backward(grad)`` accumulates parameter
        gradients.  Must be the model whose parameters ``optimizer`` holds.
    loss : a loss from :mod:`sacroai.nn.losses` (``forward(out, target)``, ``backward()``).
    optimizer : an optimizer from :mod:`sacroai.nn.optim`.
    train_data, val_data : ``(inputs, targets)`` arrays (first axis = samples), or a
        dataset with ``len()`` and ``ds[i] -> (input, target)``.
    epochs : total number of epochs (a resumed run continues up to this number).
    batch_size : samples per optimizer step (the last batch may be smaller).
    metrics : dict ``name -> fn(predictions, targets) -> float`` evaluated on
        the whole validation set each epoch (recorded as ``val_<name>``).
    scheduler : a schedule from :mod:`sacroai.nn.schedules`, stepped after every epoch.
    checkpoint_dir : folder for the resumable last checkpoint and the best weights.
    early_stopping_patience : stop after this many epochs without improvement of ``monitor``.
    seed : seeds the generator that shuffles the training samples.
    progress : show a tqdm progress bar per epoch.
    monitor : history key to select the best epoch; default ``"val_loss"`` with
        validation data, else ``"train_loss"``.
    mode : ``"min"`` or ``"max"``; default ``"min"`` for names ending in "loss", else "max".
    resume : continue from ``checkpoint_dir/last_checkpoint.safetensors`` when present.
    card : extra model-card fields for the best weights (architecture, spacing, ...).
    clip_grad_norm : clip the joint gradient norm to this value before each step
        (:func:`sacroai.nn.optim.clip_grad_norm_`; nnU-Net uses 12).
    augment : optional ``fn(x_batch, y_batch, rng) -> (x_batch, y_batch)`` applied to
        every training batch; ``rng`` is the run's seeded Generator, so augmented
        runs stay reproducible and resumable.

    Each history entry holds ``epoch`` (1-based), ``lr`` (of the first group,
    during that epoch), ``train_loss`` (sample-weighted mean over the epoch),
    ``val_loss`` and ``val_<metric>`` when validation data is given, and
    ``best`` (whether the epoch improved ``monitor``).
    """
    train = _wrap_data(train_data, "train_data")
    val = _wrap_data(val_data, "val_data")
    batch_size = int(batch_size)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if int(epochs) < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    if early_stopping_patience is not None and int(early_stopping_patience) < 1:
        raise ValueError(f"early_stopping_patience must be >= 1 or None, got {early_stopping_patience}")
    metrics = dict(metrics or {})
    if metrics and val is None:
        raise ValueError("metrics need val_data")
    monitor = monitor or ("val_loss" if val is not None else "train_loss")
    if monitor.startswith("val_") and val is None:
        raise ValueError(f"monitor {monitor!r} needs val_data")
    mode = mode or ("min" if monitor.endswith("loss") else "max")
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")

    rng = np.random.Generator(np.random.PCG64(seed))
    history, best, bad_epochs, start = [], None, 0, 0
    ckdir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if ckdir is not None:
        ckdir.mkdir(parents=True, exist_ok=True)
        if resume and (ckdir / CHECKPOINT_NAME).exists():
            info = load_checkpoint(ckdir / CHECKPOINT_NAME, model, optimizer, scheduler)
            start, history = int(info["epoch"]), info["history"]
            best, bad_epochs = info["best"], int(info["bad_epochs"])
            rng.bit_generator.state = info["rng"]

    n = len(train)
    n_batches = math.ceil(n / batch_size)
    for epoch in range(start, int(epochs)):
        if early_stopping_patience is not None and bad_epochs >= int(early_stopping_patience):
            break
        model.train()
        order = rng.permutation(n) if shuffle else np.arange(n)
        lr = float(optimizer.param_groups[0]["lr"])
        total = 0.0
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=n_batches, desc=f"epoch {epoch + 1}/{epochs}", unit="batch", leave=False)
        for b in range(n_batches):
            idx = order[b * batch_size:(b + 1) * batch_size]
            xb, yb = train.batch(idx)
            if augment is not None:
                xb, yb = augment(xb, yb, rng)
            model.zero_grad()
            out = model(np.asarray(xb, dtype=np.float32))
            value = float(loss.forward(out, yb))
            with nn.no_input_grad():  # the batch is data: only parameter gradients are needed
                model.backward(loss.backward())
            if clip_grad_norm is not None:
                clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]], clip_grad_norm)
            optimizer.step()
            total += value * len(idx)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{value:.4g}")
        if bar is not None:
            bar.close()
        rec = {"epoch": epoch + 1, "lr": lr, "train_loss": total / n}
        if val is not None:
            rec.update(evaluate(model, loss, val, batch_size, metrics))
        if scheduler is not None:
            scheduler.step()
        if monitor not in rec:
            raise ValueError(f"monitor {monitor!r} is not in the history keys {sorted(rec)}")
        rec["best"] = _improved(rec[monitor], best, mode)
        if rec["best"]:
            best, bad_epochs = rec[monitor], 0
        else:
            bad_epochs += 1
        history.append(rec)
        if progress:
            from tqdm.auto import tqdm
            tqdm.write("epoch {epoch}: ".format(**rec) + ", ".join(
                f"{k} {v:.4g}" for k, v in rec.items() if k not in ("epoch", "best")))
        if ckdir is not None:
            if rec["best"]:
                save_weights(model, ckdir / BEST_NAME,
                             card=dict(card or {}, epoch=rec["epoch"], monitor=monitor,
                                       metrics={k: v for k, v in rec.items() if k not in ("epoch", "best")}))
            _save_checkpoint(ckdir / CHECKPOINT_NAME, model, optimizer, scheduler,
                             {"epoch": epoch + 1, "history": history, "best": best,
                              "bad_epochs": bad_epochs, "rng": rng.bit_generator.state,
                              "seed": seed})
    return history
