"""Module/Parameter bookkeeping: names, state_dict, hooks, modes (no torch needed)."""
import numpy as np
import pytest

from sacroai.nn.module import Module, Parameter, Sequential, enable_grad, no_grad, is_grad_enabled
from sacroai.nn.container import ModuleDict, ModuleList


class Affine(Module):
    """y = x * w + b on the last axis, with a buffer; enough to exercise the base class."""

    def __init__(self, n):
        super().__init__()
        self.weight = Parameter(np.arange(n, dtype=np.float32) + 1)
        self.bias = Parameter(np.zeros(n, np.float32))
        self.register_buffer("running_mean", np.zeros(n, np.float32))
        self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))

    def forward(self, x):
        self._cache_x = x if self._caching() else None
        return x * self.weight.data + self.bias.data

    def backward(self, g):
        if self._cache_x is None:
            raise self._missing_cache()
        self.weight.accumulate_grad((g * self._cache_x).sum(0))
        self.bias.accumulate_grad(g.sum(0))
        return g * self.weight.data


def net():
    return Sequential(Affine(3), Sequential(Affine(3), Affine(3)))


def test_names_follow_pytorch():
    m = net()
    assert [n for n, _ in m.named_parameters()] == [
        "0.weight", "0.bias", "1.0.weight", "1.0.bias", "1.1.weight", "1.1.bias"]
    assert list(m.state_dict()) == [
        "0.weight", "0.bias", "0.running_mean", "0.num_batches_tracked",
        "1.0.weight", "1.0.bias", "1.0.running_mean", "1.0.num_batches_tracked",
        "1.1.weight", "1.1.bias", "1.1.running_mean", "1.1.num_batches_tracked"]
    assert [n for n, _ in m.named_modules()] == ["", "0", "1", "1.0", "1.1"]
    assert [n for n, _ in m.named_buffers()][0] == "0.running_mean"
    assert len(list(m.children())) == 2
    assert m.state_dict()["0.num_batches_tracked"].dtype == np.int64


def test_load_state_dict_roundtrip_and_errors():
    a, b = net(), net()
    sd = {k: np.asarray(v) + 1 for k, v in a.state_dict().items()}
    b.load_state_dict(sd)
    for k, v in b.state_dict().items():
        np.testing.assert_array_equal(v, sd[k])
    bad = dict(sd)
    bad["1.0.weight"] = np.zeros((4,), np.float32)
    with pytest.raises(ValueError, match=r"1\.0\.weight.*\(4,\).*expected shape \(3,\)"):
        b.load_state_dict(bad)
    missing = dict(sd)
    del missing["0.bias"]
    with pytest.raises(KeyError, match=r"0\.bias.*expected shape \(3,\)"):
        b.load_state_dict(missing)
    extra = dict(sd, **{"2.weight": np.zeros(3)})
    with pytest.raises(KeyError, match=r"unexpected keys: '2\.weight'"):
        b.load_state_dict(extra)
    res = b.load_state_dict(extra, strict=False)
    assert res.unexpected_keys == ["2.weight"] and res.missing_keys == []


def test_backward_accumulates_and_zero_grad():
    m = net()
    x = np.ones((2, 3), np.float32)
    m.train()
    m(x)
    m.backward(np.ones((2, 3), np.float32))
    g1 = m[0].weight.grad.copy()
    m(x)
    m.backward(np.ones((2, 3), np.float32))
    np.testing.assert_allclose(m[0].weight.grad, 2 * g1)
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m[0].weight.requires_grad = False
    m(x)
    m.backward(np.ones((2, 3), np.float32))
    assert m[0].weight.grad is None and m[0].bias.grad is not None


def test_modes_and_caching():
    m = net().eval()
    assert not any(mod.training for mod in m.modules())
    m(np.ones((1, 3), np.float32))
    with pytest.raises(RuntimeError, match="enable_grad"):
        m.backward(np.ones((1, 3), np.float32))
    with enable_grad():
        assert is_grad_enabled(m)
        m(np.ones((1, 3), np.float32))
    m.backward(np.ones((1, 3), np.float32))
    m.train()
    with no_grad():
        m(np.ones((1, 3), np.float32))
    with pytest.raises(RuntimeError):
        m.backward(np.ones((1, 3), np.float32))


def test_hooks():
    m = net()
    seen = []
    h1 = m[1][0].register_forward_hook(lambda mod, inp, out: seen.append(("f", inp[0].copy(), out.copy())))
    h2 = m[1][0].register_full_backward_hook(lambda mod, gi, go: seen.append(("b", gi[0].copy(), go[0].copy())))
    x = np.full((1, 3), 2.0, np.float32)
    y = m(x)
    m.backward(np.ones_like(y))
    assert [s[0] for s in seen] == ["f", "b"]
    np.testing.assert_allclose(seen[0][1], x * np.array([1, 2, 3]))          # output of layer 0
    np.testing.assert_allclose(seen[1][2], np.array([[1, 2, 3]], np.float32))  # grad at its output
    np.testing.assert_allclose(seen[1][1], np.array([[1, 4, 9]], np.float32))
    # a backward hook may replace grad_input
    h2.remove()
    m[1][1].register_full_backward_hook(lambda mod, gi, go: (gi[0] * 0,))
    m(x)
    assert np.all(m.backward(np.ones_like(y)) == 0)
    h1.remove()
    seen.clear()
    m(x)
    assert seen == []


def test_containers():
    ml = ModuleList([Affine(2), Affine(2)])
    md = ModuleDict({"a": Affine(2)})
    root = Module()
    root.blocks = ml
    root.heads = md
    assert list(root.state_dict())[0] == "blocks.0.weight"
    assert "heads.a.bias" in root.state_dict()
    assert len(ml) == 2 and "a" in md
    seq = Sequential(Affine(2), Affine(2), Affine(2))
    assert list(seq[1:].state_dict())[0] == "1.weight"


def test_parameter_contract():
    p = Parameter(np.arange(6, dtype=np.float64).reshape(2, 3))
    assert p.data.dtype == np.float32 and p.data.flags.c_contiguous and p.grad is None
    assert p.requires_grad


def test_backward_frees_the_forward_caches_unless_retained():
    from sacroai.nn import BatchNorm2d, Conv2d, ReLU, Sequential, retain_graph
    rng = np.random.default_rng(0)
    model = Sequential(Conv2d(2, 3, 3, padding=1, rng=0), BatchNorm2d(3), ReLU())
    model.train()
    x = rng.standard_normal((2, 2, 6, 6)).astype(np.float32)
    g = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    model(x)
    model.backward(g)
    first = model[0].weight.grad.copy()
    assert model[0]._cache_x is None and model[1]._cache is None and model[2]._cache is None
    with pytest.raises(RuntimeError, match="retain_graph"):
        model.backward(g)
    model.zero_grad()
    model(x)
    with retain_graph():
        model.backward(g)
        model.backward(g)  # the second pass sees the same caches: gradients add up
    np.testing.assert_allclose(model[0].weight.grad, 2 * first, rtol=1e-5)
