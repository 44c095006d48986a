"""Module and Parameter: the PyTorch-mirroring building blocks of sacroai.nn.

There is no autograd.  Every module has an explicit ``forward(x) -> y`` and
``backward(grad_out) -> grad_in``.  During ``forward`` a module caches what
its ``backward`` needs, but only when gradients may be asked for: when the
module is in training mode, or inside ``enable_grad()``.  Inside
``no_grad()`` nothing is cached even in training mode.  ``backward`` frees
the caches it has used (as PyTorch frees its graph), so the activations of
the layers already back-propagated do not sit in memory while the rest of
the network is; inside ``retain_graph()`` they are kept and backward may run
again on the same forward pass.

``backward`` accumulates parameter gradients into ``Parameter.grad`` (adds,
like PyTorch; call ``zero_grad()`` between steps) and returns the gradient
with respect to the module input.

Names follow PyTorch: ``state_dict()`` keys such as ``layer1.0.conv1.weight``
or ``bn1.running_mean`` load unchanged from a PyTorch/torchvision/MONAI
checkpoint converted to NumPy arrays.
"""
from __future__ import annotations

import contextlib
import functools
import threading
from collections import OrderedDict, namedtuple
from typing import Callable, Dict, Iterator, Optional, Tuple

import numpy as np

__all__ = ["Parameter", "Module", "Sequential", "no_grad", "enable_grad", "retain_graph", "is_grad_enabled",
           "no_input_grad", "input_grad_enabled",
           "IncompatibleKeys", "RemovableHandle"]


# ----------------------------------------------------------------- grad mode
class _GradMode(threading.local):
    def __init__(self):
        self.mode = None  # None: follow module.training; True: always cache; False: never
        self.retain = False  # keep forward caches after backward
        self.input_grad = True  # backward computes the gradient of the network input
        self.depth = 0  # nesting of Module.__call__
        self.net_input = None  # first argument of the outermost Module.__call__ while it runs


_grad_mode = _GradMode()


@contextlib.contextmanager
def no_grad():
    """Context in which modules cache nothing for backward (inference)."""
    old = _grad_mode.mode
    _grad_mode.mode = False
    try:
        yield
    finally:
        _grad_mode.mode = old


@contextlib.contextmanager
def enable_grad():
    """Context in which modules cache for backward even in eval mode (e.g. Grad-CAM)."""
    old = _grad_mode.mode
    _grad_mode.mode = True
    try:
        yield
    finally:
        _grad_mode.mode = old


@contextlib.contextmanager
def retain_graph():
    """Context in which ``backward`` keeps the forward caches, so it can run again
    on the same forward pass (PyTorch's ``retain_graph=True``); costs memory."""
    old = _grad_mode.retain
    _grad_mode.retain = True
    try:
        yield
    finally:
        _grad_mode.retain = old


@contextlib.contextmanager
def no_input_grad():
    """Context in which ``backward`` skips the gradient of the network input.

    Training needs parameter gradients only; the input of the outermost
    module call (``model(x)``) is data, like a PyTorch tensor without
    ``requires_grad``.  Layers that read that input directly (the stem
    convolution) then skip their input gradient, and ``model.backward``
    returns None.  Parameter gradients are unchanged, bit for bit.
    :func:`sacroai.train.fit` trains in this context.
    """
    old = _grad_mode.input_grad
    _grad_mode.input_grad = False
    try:
        yield
    finally:
        _grad_mode.input_grad = old


def input_grad_enabled() -> bool:
    """False inside :func:`no_input_grad`."""
    return _grad_mode.input_grad


def is_network_input(x) -> bool:
    """Whether ``x`` is the argument of the outermost running ``Module.__call__``."""
    return _grad_mode.net_input is not None and x is _grad_mode.net_input


def releases_after_backward() -> bool:
    """Whether a module's backward should drop its forward cache now."""
    return not _grad_mode.retain


def is_grad_enabled(module: Optional["Module"] = None) -> bool:
    """Whether ``module`` (or the global mode when None) caches for backward now."""
    if _grad_mode.mode is not None:
        return _grad_mode.mode
    return bool(module.training) if module is not None else True


# ----------------------------------------------------------------- Parameter
class Parameter:
    """A learnable array.

    Attributes
    ----------
    data : numpy.ndarray
        float32, C-contiguous; optimizers update it in place.
    grad : numpy.ndarray or None
        Same shape as ``data``; accumulated by ``Module.backward``.
    requires_grad : bool
        When False, ``backward`` leaves ``grad`` untouched (frozen layer).
    name : str
        Dotted name within its top-level module (set by ``named_parameters``).
    """

    __slots__ = ("data", "grad", "requires_grad", "name")

    def __init__(self, data, requires_grad: bool = True, name: str = ""):
        self.data = np.ascontiguousarray(np.asarray(data, dtype=np.float32))
        if self.data.base is not None or not self.data.flags.writeable:
            self.data = self.data.copy()
        self.grad: Optional[np.ndarray] = None
        self.requires_grad = bool(requires_grad)
        self.name = name

    @property
    def shape(self) -> Tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    def accumulate_grad(self, g: np.ndarray) -> None:
        """Add ``g`` into ``grad`` (allocating it on first use) when requires_grad."""
        if not self.requires_grad:
            return
        if self.grad is None:
            self.grad = np.array(g, dtype=np.float32, order="C", copy=True).reshape(self.data.shape)
        else:
            self.grad += g.reshape(self.data.shape)

    def zero_grad(self, set_to_none: bool = True) -> None:
        if set_to_none or self.grad is None:
            self.grad = None
        else:
            self.grad.fill(0.0)

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __repr__(self) -> str:
        return f"Parameter(name={self.name!r}, shape={self.data.shape}, requires_grad={self.requires_grad})"


# ----------------------------------------------------------------- hooks
class RemovableHandle:
    """Returned by the ``register_*_hook`` methods; ``remove()`` detaches the hook."""

    _next_id = 0

    def __init__(self, hooks: dict):
        self._hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _wrap_backward(fn):
    """Run full-backward hooks around a subclass ``backward`` (once per call)."""

    @functools.wraps(fn)
    def backward(self, grad_out, *args, **kwargs):
        if self.__dict__.get("_in_backward", False) or not self._backward_hooks:
            return fn(self, grad_out, *args, **kwargs)
        self.__dict__["_in_backward"] = True
        try:
            grad_in = fn(self, grad_out, *args, **kwargs)
        finally:
            self.__dict__["_in_backward"] = False
        for hook in list(self._backward_hooks.values()):
            res = hook(self, (grad_in,), (grad_out,))
            if res is not None:
                grad_in = res[0] if isinstance(res, tuple) else res
        return grad_in

    backward._sai_wrapped = True
    return backward


# ----------------------------------------------------------------- Module
class Module:
    """Base class of every layer and model (mirrors ``torch.nn.Module``).

    Subclasses set parameters, buffers and sub-modules as attributes (they are
    registered automatically, in assignment order) and implement ``forward``
    and ``backward``.
    """

    training: bool

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        bw = cls.__dict__.get("backward")
        if bw is not None and not getattr(bw, "_sai_wrapped", False):
            cls.backward = _wrap_backward(bw)

    def __init__(self):
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["_backward_hooks"] = OrderedDict()

    # ---- attribute registration
    def __setattr__(self, name, value):
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError(f"call Module.__init__() in {type(self).__name__}.__init__ "
                                 "before assigning attributes")
        if isinstance(value, Parameter):
            d["_buffers"].pop(name, None)
            d["_modules"].pop(name, None)
            d.pop(name, None)
            d["_parameters"][name] = value
        elif isinstance(value, Module):
            d["_buffers"].pop(name, None)
            d["_parameters"].pop(name, None)
            d.pop(name, None)
            d["_modules"][name] = value
        elif name in d["_buffers"]:
            if value is not None and not isinstance(value, np.ndarray):
                raise TypeError(f"buffer '{name}' must be a numpy.ndarray or None")
            d["_buffers"][name] = value
        elif name in d["_parameters"]:
            if value is not None:
                raise TypeError(f"parameter '{name}' must be a Parameter or None, not {type(value).__name__}")
            d["_parameters"][name] = None
        elif name in d["_modules"]:
            if value is not None:
                raise TypeError(f"child module '{name}' must be a Module or None, not {type(value).__name__}")
            d["_modules"][name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            t = d.get(table)
            if t is not None and name in t:
                return t[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for table in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__[table]:
                del self.__dict__[table][name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Optional[Parameter]) -> None:
        """Register ``param`` (or None for an absent optional parameter, e.g. bias=False)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"parameter '{name}' must be a Parameter or None")
        self.__dict__.pop(name, None)
        self._parameters[name] = param

    def register_buffer(self, name: str, array: Optional[np.ndarray], persistent: bool = True) -> None:
        """Register a non-learnable array saved in ``state_dict`` (e.g. ``running_mean``)."""
        if array is not None and not isinstance(array, np.ndarray):
            raise TypeError(f"buffer '{name}' must be a numpy.ndarray or None")
        self.__dict__.pop(name, None)
        self._buffers[name] = array
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Optional["Module"]) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"child '{name}' must be a Module or None")
        if "." in name or name == "":
            raise ValueError(f"module name must be non-empty and contain no '.', got {name!r}")
        self.__dict__.pop(name, None)
        self._modules[name] = module

    register_module = add_module

    # ---- forward / backward
    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def backward(self, grad_out):
        raise NotImplementedError(f"{type(self).__name__}.backward is not implemented")

    def __call__(self, *args, **kwargs):
        state = _grad_mode
        outermost = state.depth == 0
        if outermost:
            state.net_input = args[0] if args else None
        state.depth += 1
        try:
            for hook in list(self._forward_pre_hooks.values()):
                res = hook(self, args)
                if res is not None:
                    args = res if isinstance(res, tuple) else (res,)
            out = self.forward(*args, **kwargs)
            for hook in list(self._forward_hooks.values()):
                res = hook(self, args, out)
                if res is not None:
                    out = res
        finally:
            state.depth -= 1
            if outermost:
                state.net_input = None
        return out

    def _caching(self) -> bool:
        """True when forward must keep what backward needs."""
        return is_grad_enabled(self)

    def _missing_cache(self, what: str = "forward cache"):
        return RuntimeError(
            f"{type(self).__name__}.backward called without a cached forward pass: run forward in "
            "training mode (module.train()) or inside sacroai.nn.enable_grad() first (backward frees the cache: "
            "to run it twice on one forward pass, call both inside sacroai.nn.retain_graph())")

    # ---- hooks
    def register_forward_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, input_tuple, output)`` runs after ``forward``; may return a new output."""
        h = RemovableHandle(self._forward_hooks)
        self._forward_hooks[h.id] = hook
        return h

    def register_forward_pre_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, input_tuple)`` runs before ``forward``; may return new inputs."""
        h = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[h.id] = hook
        return h

    def register_full_backward_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, grad_input_tuple, grad_output_tuple)`` runs after ``backward``.

        It may return a replacement ``grad_input`` tuple.  Used e.g. by Grad-CAM
        to capture the gradient at a layer's output.
        """
        h = RemovableHandle(self._backward_hooks)
        self._backward_hooks[h.id] = hook
        return h

    # ---- traversal
    def named_children(self) -> Iterator[Tuple[str, "Module"]]:
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is None:
                continue
            sub = prefix + ("." if prefix else "") + name
            yield from m.named_modules(memo, sub, remove_duplicate)

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[Tuple[str, Parameter]]:
        """(dotted name, Parameter) pairs in registration order, PyTorch names."""
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mprefix, m in mods:
            for name, p in m._parameters.items():
                if p is None or (remove_duplicate and id(p) in seen):
                    continue
                seen.add(id(p))
                full = mprefix + ("." if mprefix else "") + name
                p.name = full
                yield full, p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[Tuple[str, np.ndarray]]:
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mprefix, m in mods:
            for name, b in m._buffers.items():
                if b is not None:
                    yield mprefix + ("." if mprefix else "") + name, b

    def buffers(self, recurse: bool = True) -> Iterator[np.ndarray]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn: Callable[["Module"], None]) -> "Module":
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ---- modes and grads
    def train(self, mode: bool = True) -> "Module":
        if not isinstance(mode, bool):
            raise TypeError("train(mode): mode must be a bool")
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad = bool(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            p.zero_grad(set_to_none)

    def clear_cache(self) -> None:
        """Drop what forward cached for backward (frees activation memory)."""
        for m in self.modules():
            m._clear_own_cache()

    def _clear_own_cache(self) -> None:
        for k in [k for k in self.__dict__ if k.startswith("_cache")]:
            self.__dict__[k] = None

    # ---- state dict
    def state_dict(self, prefix: str = "", keep_vars: bool = False) -> "OrderedDict[str, np.ndarray]":
        """Parameters and persistent buffers by PyTorch key name.

        Values are the live arrays (not copies), as in PyTorch; copy them if
        you keep a snapshot while training.  ``keep_vars=True`` returns the
        Parameter objects instead of their arrays.
        """
        out = OrderedDict()
        for mprefix, m in self.named_modules(prefix=prefix.rstrip(".")):
            pre = mprefix + ("." if mprefix else "")
            for name, p in m._parameters.items():
                if p is not None:
                    out[pre + name] = p if keep_vars else p.data
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent:
                    out[pre + name] = b
        return out

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy arrays from ``state_dict`` (key -> array-like) into this module in place.

        Values may be NumPy arrays or anything ``numpy.asarray`` accepts.  Shapes
        must match exactly; a mismatch raises ValueError naming the key and both
        shapes.  With ``strict=True`` missing or unexpected keys raise KeyError
        naming them; otherwise they are returned as ``(missing_keys, unexpected_keys)``.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"state_dict must be a mapping of names to arrays, not {type(state_dict).__name__}")
        own = self._state_slots()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict.keys() if k not in own]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append("missing keys: " + ", ".join(
                    f"'{k}' (expected shape {tuple(own[k][2].shape)})" for k in missing))
            if unexpected:
                parts.append("unexpected keys: " + ", ".join(f"'{k}'" for k in unexpected))
            raise KeyError(f"load_state_dict into {type(self).__name__}: " + "; ".join(parts))
        # validate every shape before copying anything
        staged = []
        for k, (m, name, target, kind) in own.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            if hasattr(v, "detach") and hasattr(v, "numpy"):  # a torch tensor, without importing torch
                v = v.detach().cpu().numpy()
            v = np.asarray(v)
            if v.shape != target.shape:
                raise ValueError(f"load_state_dict: '{k}' has shape {tuple(v.shape)}, "
                                 f"expected shape {tuple(target.shape)}")
            staged.append((m, name, target, kind, v))
        for m, name, target, kind, v in staged:
            if not target.flags.writeable:
                new = np.array(v, dtype=target.dtype, copy=True)
                if kind == "param":
                    m._parameters[name].data = new
                else:
                    m._buffers[name] = new
            else:
                np.copyto(target, v, casting="unsafe")
        return IncompatibleKeys(missing, unexpected)

    def _state_slots(self):
        slots = OrderedDict()
        for mprefix, m in self.named_modules():
            pre = mprefix + ("." if mprefix else "")
            for name, p in m._parameters.items():
                if p is not None:
                    slots[pre + name] = (m, name, p.data, "param")
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent:
                    slots[pre + name] = (m, name, b, "buffer")
        return slots

    # ---- misc
    def num_parameters(self, trainable_only: bool = False) -> int:
        return int(sum(p.size for p in self.parameters() if p.requires_grad or not trainable_only))

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {sub}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))


# ----------------------------------------------------------------- Sequential
class Sequential(Module):
    """Modules applied in order; children are named "0", "1", ... like PyTorch.

    ``Sequential(a, b)`` or ``Sequential(OrderedDict([("conv", a), ("relu", b)]))``.
    ``backward`` runs the children's ``backward`` in reverse order.  A
    BatchNorm2d/3d directly followed by a ReLU, neither with hooks, runs as
    one fused kernel with bit-identical results (see ``sacroai.nn._bn_act``);
    the ReLU then keeps no cache of its own.  In eval mode outside grad mode,
    a hook-free Conv2d/3d -> BatchNorm2d/3d (-> ReLU) runs as one convolution
    with the running statistics folded into its weight and bias (equal up to
    float32 rounding; not under ``conv_algorithm("gemm")``).
    """

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], (OrderedDict, dict)):
            for name, m in args[0].items():
                self.add_module(str(name), m)
        else:
            for i, m in enumerate(args):
                if not isinstance(m, Module):
                    raise TypeError(f"Sequential argument {i} must be a Module, not {type(m).__name__}")
                self.add_module(str(i), m)

    def forward(self, x):
        # a hook-free BatchNorm2d/3d followed by a ReLU runs as one fused kernel (bit-identical)
        from ._bn_act import run_forward
        x, plan = run_forward(list(self._modules.values()), x)
        self._cache_plan = plan
        return x

    def backward(self, grad_out):
        from ._bn_act import run_backward
        plan = self.__dict__.get("_cache_plan")
        return run_backward(plan if plan is not None else list(self._modules.values()), grad_out)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            keys = list(self._modules.keys())[idx]
            return Sequential(OrderedDict((k, self._modules[k]) for k in keys))
        if not -len(mods) <= idx < len(mods):
            raise IndexError(f"Sequential index {idx} out of range for {len(mods)} modules")
        return mods[idx]

    def append(self, module: Module) -> "Sequential":
        self.add_module(str(len(self._modules)), module)
        return self
