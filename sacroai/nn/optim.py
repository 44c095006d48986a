"""Optimizers with the update rules of ``torch.optim`` (SGD, Adam, AdamW).

An optimizer holds parameters -- objects with a float32, C-contiguous
``.data`` array and a ``.grad`` array (or None) such as
:class:`sacroai.nn.module.Parameter` -- and updates ``.data`` in place from
``.grad`` in the C core.  Parameters whose ``.grad`` is None are skipped, as
in PyTorch.  ``state_dict()`` / ``load_state_dict()`` follow PyTorch's layout
(``{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}``)
with NumPy arrays as the state tensors, so training can be resumed.
"""
from __future__ import annotations

import copy

import numpy as np

from .. import _core

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "clip_grad_norm_"]


def _check_param(p, where):
    data = getattr(p, "data", None)
    if not isinstance(data, np.ndarray):
        raise TypeError(f"{where}: parameters must have a numpy .data array, got {type(p).__name__}")
    if data.dtype != np.float32 or not data.flags.c_contiguous or not data.flags.writeable:
        raise TypeError(f"{where}: parameter .data must be a writeable C-contiguous float32 array "
                        f"(got dtype {data.dtype}, contiguous={data.flags.c_contiguous})")


class Optimizer:
    """Base class: parameter groups, per-parameter state, zero_grad, state dicts."""

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.param_groups = []
        self.state = {}  # id(param) -> dict of state arrays/ints
        params = list(params)
        if not params:
            raise ValueError("params: the optimizer got an empty parameter list")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        for group in params:
            self.add_param_group(group)

    def add_param_group(self, group):
        """Add a dict with ``"params"`` and optional per-group hyper-parameters."""
        group = dict(group)
        ps = group["params"]
        group["params"] = [ps] if hasattr(ps, "data") else list(ps)
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for p in group["params"]:
            _check_param(p, type(self).__name__)
            if id(p) in seen:
                raise ValueError("params: some parameters appear in more than one parameter group")
        self._validate(group)
        self.param_groups.append(group)

    def _validate(self, group):
        if not group["lr"] >= 0.0:
            raise ValueError(f"lr must be >= 0, got {group['lr']}")
        if not group.get("weight_decay", 0.0) >= 0.0:
            raise ValueError(f"weight_decay must be >= 0, got {group['weight_decay']}")

    def zero_grad(self, set_to_none=False):
        """Zero every parameter's gradient in place (or set it to None)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad[...] = 0

    def _params_with_grad(self, group):
        for p in group["params"]:
            if p.grad is None:
                continue
            _check_param(p, type(self).__name__)
            grad = np.require(p.grad, dtype=np.float32, requirements="C")
            if grad.shape != p.data.shape:
                raise ValueError(f"grad of shape {grad.shape} does not match its parameter of shape "
                                 f"{p.data.shape}")
            yield p, grad, self.state.setdefault(id(p), {})

    def step(self):
        raise NotImplementedError

    # ------------------------------------------------------------ state dicts
    def state_dict(self):
        """PyTorch-layout state: parameters are numbered in group order."""
        index, groups = {}, []
        for group in self.param_groups:
            g = {k: v for k, v in group.items() if k != "params"}
            g["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                g["params"].append(index[id(p)])
            groups.append(g)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                st = self.state.get(id(p))
                if st:
                    state[index[id(p)]] = {k: (v.copy() if isinstance(v, np.ndarray) else v)
                                           for k, v in st.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyper-parameters and state saved by :meth:`state_dict`."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"state_dict has {len(groups)} parameter groups, the optimizer has "
                             f"{len(self.param_groups)}")
        by_index = {}
        for mine, saved in zip(self.param_groups, groups):
            if len(mine["params"]) != len(saved["params"]):
                raise ValueError("state_dict: a parameter group has a different number of parameters")
            for p, i in zip(mine["params"], saved["params"]):
                by_index[int(i)] = p
        new_state = {}
        for i, st in state_dict["state"].items():
            p = by_index.get(int(i))
            if p is None:
                raise ValueError(f"state_dict: state for unknown parameter index {i}")
            entry = {}
            for k, v in st.items():
                if isinstance(v, np.ndarray) and (v.ndim > 0 or p.data.ndim == 0):
                    if v.shape != p.data.shape:
                        raise ValueError(f"state_dict: state {k!r} of parameter {i} has shape {v.shape}, "
                                         f"expected {p.data.shape}")
                    entry[k] = np.array(v, dtype=np.float32, order="C")
                else:
                    entry[k] = v.item() if isinstance(v, np.ndarray) else v
            new_state[id(p)] = entry
        for mine, saved in zip(self.param_groups, groups):
            for k, v in saved.items():
                if k != "params":
                    mine[k] = copy.deepcopy(v)
        self.state = new_state


class SGD(Optimizer):
    """Stochastic gradient descent, as ``torch.optim.SGD``.

    g = grad + weight_decay * p; with momentum: b = g on the first step, else
    b = momentum * b + (1 - dampening) * g; g = g + momentum * b (Nesterov) or
    g = b; then p -= lr * g.
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, maximize=False):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov momentum requires a momentum > 0 and zero dampening")
        if momentum < 0:
            raise ValueError(f"momentum must be >= 0, got {momentum}")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov, maximize=maximize))

    def step(self):
        for group in self.param_groups:
            for p, grad, st in self._params_with_grad(group):
                buf, first = None, False
                if group["momentum"] != 0:
                    buf = st.get("momentum_buffer")
                    if buf is None:
                        buf = st["momentum_buffer"] = np.empty_like(p.data)
                        first = True
                _core.nn_sgd_step(p.data, grad, buf, float(group["lr"]), float(group["momentum"]),
                                  float(group["dampening"]), float(group["weight_decay"]),
                                  bool(group["nesterov"]), bool(group["maximize"]), first)


class Adam(Optimizer):
    """Adam (Kingma & Ba), as ``torch.optim.Adam``: L2 weight decay added to the
    gradient; bias-corrected moments; optional AMSGrad."""

    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, maximize=False):
        if not 0.0 <= betas[0] < 1.0 or not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"betas must be in [0, 1), got {betas}")
        if not eps >= 0.0:
            raise ValueError(f"eps must be >= 0, got {eps}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def step(self):
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p, grad, st in self._params_with_grad(group):
                if "step" not in st:
                    st["step"] = 0
                    st["exp_avg"] = np.zeros_like(p.data)
                    st["exp_avg_sq"] = np.zeros_like(p.data)
                    if group["amsgrad"]:
                        st["max_exp_avg_sq"] = np.zeros_like(p.data)
                st["step"] += 1
                _core.nn_adam_step(p.data, grad, st["exp_avg"], st["exp_avg_sq"],
                                   st.get("max_exp_avg_sq") if group["amsgrad"] else None,
                                   float(group["lr"]), float(b1), float(b2), float(group["eps"]),
                                   float(group["weight_decay"]), self._decoupled,
                                   bool(group["maximize"]), int(st["step"]))


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter), as ``torch.optim.AdamW``: decoupled weight
    decay p *= 1 - lr * weight_decay before the Adam update."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale gradients in place so that their joint norm is at most ``max_norm``
    (``torch.nn.utils.clip_grad_norm_``; nnU-Net clips at 12).  Returns the
    total norm before clipping.  The norm is accumulated in float64 in
    parameter order, so it does not depend on the thread count."""
    if hasattr(parameters, "data") and hasattr(parameters, "grad"):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    if not max_norm > 0:
        raise ValueError(f"max_norm must be > 0, got {max_norm}")
    if not grads:
        return 0.0
    norm_type = float(norm_type)
    if norm_type == float("inf"):
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    else:
        total = sum(float(np.sum(np.abs(g.astype(np.float64)) ** norm_type)) for g in grads) ** (1.0 / norm_type)
    if error_if_nonfinite and not np.isfinite(total):
        from .._core import NumericalError
        raise NumericalError(f"clip_grad_norm_: the total gradient norm is {total}")
    coef = min(float(max_norm) / (total + 1e-6), 1.0)
    if coef < 1.0:
        for g in grads:
            g *= np.float32(coef)
    return total
