"""Fused batch norm (+ residual) + ReLU kernels and the containers that use them.

Every fused result must be bit-identical (np.array_equal) to the unfused
sequence of the older kernels (nn_norm_stats / nn_norm_apply / nn_act_* /
nn_norm_backward) and of the separate modules: the shipped weights are
reproduced byte for byte by the training scripts.  The networks are compared
against themselves with hooks on every BatchNorm/ReLU/DenseLayer, which
forces the unfused, concatenating path.
"""
import numpy as np
import pytest

import sacroai
from sacroai import _core
from sacroai import nn
from sacroai.nn import functional as F
from sacroai.nn.models import densenet121, resnet18, resnet50


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def threads(request):
    old = sacroai.get_num_threads() if hasattr(sacroai, "get_num_threads") else None
    sacroai.set_num_threads(request.param)
    yield request.param
    if old is not None:
        sacroai.set_num_threads(old)


@pytest.fixture(params=[True, False], ids=["simd", "scalar"])
def simd(request):
    _core.nn_bn_act_use_simd(request.param)
    yield request.param
    _core.nn_bn_act_use_simd(True)


SHAPES = [  # (full shape [N, C_total, *S], channels used)
    ((3, 7, 5, 33), 7),
    ((2, 9, 40, 41), 5),  # s = 1640 > 1024: float partial sums flushed into the double
    ((1, 5, 4, 9, 300), 3),  # 3-D, one sample: rows of several channels reduced together
    ((16, 12, 6, 6), 12),
    ((2, 3, 2049), 3),  # 1-D spatial, two flushes and a tail
    ((9, 4, 1100), 3),  # >= 8 samples: one channel at a time, a group of 8 and a single row
]


def _data(shape, c, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 2 + 0.3).astype(np.float32)
    gam = rng.standard_normal(c).astype(np.float32)
    bet = rng.standard_normal(c).astype(np.float32)
    return rng, x, gam, bet


@pytest.mark.parametrize("shape,c", SHAPES)
def test_stats_and_forward_match_the_unfused_kernels(threads, simd, shape, c):
    rng, x, gam, bet = _data(shape, c)
    xs = np.ascontiguousarray(x[:, :c])
    m0, v0 = _core.nn_norm_stats(xs, 0)
    m1, v1 = _core.nn_bn_stats_range(x, c)
    assert np.array_equal(m0, m1) and np.array_equal(v0, v1)
    # independent check of the statistics (float64 NumPy)
    np.testing.assert_allclose(m1, xs.astype(np.float64).mean(axis=(0,) + tuple(range(2, xs.ndim))), atol=1e-5)
    np.testing.assert_allclose(v1, xs.astype(np.float64).var(axis=(0,) + tuple(range(2, xs.ndim))), rtol=1e-5)
    if c > 1:  # statistics of a channel sub-range are those of the full range
        m2, v2 = _core.nn_bn_stats_range(x, c, 1)
        assert np.array_equal(m2, m0[1:]) and np.array_equal(v2, v0[1:])
    istd = F.invstd(v0, 1e-5)
    for w, b in ((gam, bet), (None, None)):
        y = _core.nn_norm_apply(xs, 0, m0, istd, w, b)
        assert np.array_equal(_core.nn_bn_act_forward(x, c, m0, istd, w, b, None, False), y)
        assert np.array_equal(_core.nn_bn_act_forward(x, c, m0, istd, w, b, None, True), F.relu(y))
        r = rng.standard_normal(y.shape).astype(np.float32)
        assert np.array_equal(_core.nn_bn_act_forward(x, c, m0, istd, w, b, r, True), F.relu(y + r))
        assert np.array_equal(_core.nn_bn_act_forward(x, c, m0, istd, w, b, r, False), y + r)


@pytest.mark.parametrize("shape,c", SHAPES)
def test_training_forward_in_one_call_matches_the_unfused_kernels(threads, simd, shape, c):
    rng, x, gam, bet = _data(shape, c, 3)
    xs = np.ascontiguousarray(x[:, :c])
    m0, v0 = _core.nn_norm_stats(xs, 0)
    istd = F.invstd(v0, 1e-5)
    r = rng.standard_normal(xs.shape).astype(np.float32)
    for w, b in ((gam, bet), (None, None)):
        y0 = _core.nn_norm_apply(xs, 0, m0, istd, w, b)
        for res, relu, want in ((None, True, F.relu(y0)), (None, False, y0), (r, True, F.relu(y0 + r))):
            y, m, v, i = _core.nn_bn_act_forward_train(x, c, 1e-5, w, b, res, relu)
            assert np.array_equal(y, want) and np.array_equal(m, m0) and np.array_equal(v, v0)
            assert np.array_equal(i, istd)


@pytest.mark.parametrize("shape,c", SHAPES)
@pytest.mark.parametrize("batch_stats", [True, False])
def test_backward_matches_the_unfused_kernels(threads, simd, shape, c, batch_stats):
    rng, x, gam, bet = _data(shape, c, 1)
    xs = np.ascontiguousarray(x[:, :c])
    m, v = _core.nn_norm_stats(xs, 0)
    istd = F.invstd(v, 1e-5)
    g = rng.standard_normal(xs.shape).astype(np.float32)
    for w, b in ((gam, bet), (None, None)):
        y = F.relu(_core.nn_norm_apply(xs, 0, m, istd, w, b))
        for relu in (False, True):
            gin = F.act_backward(F.ACT_RELU, y, g) if relu else g
            ref = _core.nn_norm_backward(xs, gin, 0, batch_stats, m, istd, w, True, w is not None)
            got = _core.nn_bn_act_backward(x, c, g, batch_stats, m, istd, w, b, relu, w is not None, None)
            for a, e in zip(got, ref):
                assert (a is None and e is None) or np.array_equal(a, e)
            # accumulation into the leading channels of a larger buffer (a dense block's gradient)
            acc = rng.standard_normal((shape[0], shape[1] + 2) + shape[2:]).astype(np.float32)
            want = acc.copy()
            want[:, :c] += ref[0]
            out = _core.nn_bn_act_backward(x, c, g, batch_stats, m, istd, w, b, relu, False, acc)
            assert out[0] is None and np.array_equal(acc, want)


def test_backward_against_finite_differences():
    rng, x, gam, bet = _data((2, 3, 4, 5), 3, 2)
    x64 = x.astype(np.float64)
    r = rng.standard_normal((2, 3, 4, 5))

    def loss(xx):
        mu = xx.mean(axis=(0, 2, 3), keepdims=True)
        var = xx.var(axis=(0, 2, 3), keepdims=True)
        yy = (xx - mu) / np.sqrt(var + 1e-5) * gam.reshape(1, 3, 1, 1) + bet.reshape(1, 3, 1, 1)
        return (np.maximum(yy, 0) * r).sum()

    m, v = _core.nn_bn_stats_range(x, 3)
    dx, dg, db = _core.nn_bn_act_backward(x, 3, r.astype(np.float32), True, m, F.invstd(v, 1e-5), gam, bet,
                                          True, True, None)
    num = np.zeros_like(x64)
    h = 1e-4
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x64)
        e[idx] = h
        num[idx] = (loss(x64 + e) - loss(x64 - e)) / (2 * h)
    np.testing.assert_allclose(dx, num, atol=2e-3)


def test_bad_arguments_name_what_is_wrong():
    x = np.zeros((2, 4, 3, 3), np.float32)
    m = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match="channels"):
        _core.nn_bn_stats_range(x, 5)
    with pytest.raises(ValueError, match="c_lo"):
        _core.nn_bn_stats_range(x, 3, 3)
    with pytest.raises(ValueError, match="mean"):
        _core.nn_bn_act_forward(x, 3, m, m[:3], None, None, None, True)
    with pytest.raises(ValueError, match="residual"):
        _core.nn_bn_act_forward(x, 4, m, m, None, None, np.zeros((2, 4, 3, 2), np.float32), True)
    with pytest.raises(ValueError, match="grad_output"):
        _core.nn_bn_act_backward(x, 4, np.zeros((2, 3, 3, 3), np.float32), True, m, m, None, None, True, False, None)
    with pytest.raises(ValueError, match="dx_into"):
        _core.nn_bn_act_backward(x, 4, x, True, m, m, None, None, True, False, np.zeros((2, 3, 3, 3), np.float32))
    with pytest.raises(ValueError, match="dx_into"):
        _core.nn_bn_act_backward(x, 4, x, True, m, m, None, None, True, False, np.zeros((2, 4, 3, 3), np.float32).T)
    with pytest.raises(TypeError, match="input"):
        _core.nn_bn_stats_range(x.astype(np.float64), 4)
    with pytest.raises(ValueError, match="shape"):
        _core.nn_empty((-1, 2))
    assert _core.nn_empty((2, 3)).shape == (2, 3) and _core.nn_empty((2, 3)).dtype == np.float32


# ------------------------------------------------------------------ modules and networks
def _hook_all(model, kinds):
    """Register no-op hooks on every module of the given kinds (forces the unfused path)."""
    for m in model.modules():
        if isinstance(m, kinds):
            m.register_forward_hook(lambda mod, inp, out: None)


def _step(model, x, seed, steps=2):
    """Training steps (forward, backward, SGD update) then eval and eval-with-grad passes."""
    rng = np.random.default_rng(seed)
    out = []
    model.train()
    for _ in range(steps):
        model.zero_grad()
        y = model(x)
        dx = model.backward(rng.standard_normal(y.shape).astype(np.float32))
        out += [y, dx] + [p.grad.copy() for p in model.parameters()]
        for p in model.parameters():
            p.data -= 0.01 * p.grad
    out += [np.array(v) for v in model.state_dict().values()]
    model.eval()
    # "gemm": no eval conv-BN folding (not bit-identical by design; tests/test_nn_eval_fold.py)
    with nn.no_grad(), nn.conv_algorithm("gemm"):
        out.append(model(x))
    with nn.enable_grad():
        y = model(x)
        out.append(model.backward(np.ones_like(y)))
    return out


def _same(a, b):
    assert len(a) == len(b)
    for i, (u, v) in enumerate(zip(a, b)):
        assert u.shape == v.shape and np.array_equal(u, v, equal_nan=True), f"array {i} differs"


@pytest.mark.parametrize("nd", [2, 3])
def test_sequential_fused_pair_is_bit_identical(threads, nd):
    Conv, BN = (nn.Conv2d, nn.BatchNorm2d) if nd == 2 else (nn.Conv3d, nn.BatchNorm3d)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3) + (7,) * nd).astype(np.float32)

    def make():
        return nn.Sequential(Conv(3, 4, 3, padding=1, rng=0), BN(4), nn.ReLU(), Conv(4, 4, 1, rng=1), BN(4),
                             nn.ReLU(), BN(4))

    fused, plain = make(), make()
    _hook_all(plain, (nn.BatchNorm2d, nn.BatchNorm3d, nn.ReLU))
    _same(_step(fused, x, 0), _step(plain, x, 0))
    assert any(isinstance(s, tuple) for s in fused._cache_plan)
    assert not any(isinstance(s, tuple) for s in plain._cache_plan)


def test_batchnorm_backward_after_a_fused_relu_is_refused():
    seq = nn.Sequential(nn.BatchNorm2d(2), nn.ReLU())
    seq.train()
    seq(np.ones((2, 2, 3, 3), np.float32))
    with pytest.raises(RuntimeError, match="fused"):
        seq[0].backward(np.ones((2, 2, 3, 3), np.float32))
    with pytest.raises(RuntimeError, match="retain_graph"):
        seq[1].backward(np.ones((2, 2, 3, 3), np.float32))


def test_sequential_backward_after_its_children_ran_one_by_one():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)
    g = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)
    seq = nn.Sequential(nn.BatchNorm2d(3), nn.ReLU())
    ref = nn.Sequential(nn.BatchNorm2d(3), nn.ReLU())
    seq.train()
    ref.train()
    seq(x)  # records a fused plan
    y = seq[1](seq[0](x))  # then the children run on their own
    yr = ref(x)
    yr = ref(x)
    assert np.array_equal(y, yr)
    assert np.array_equal(seq.backward(g), ref.backward(g))
    assert np.array_equal(seq[0].weight.grad, ref[0].weight.grad)


@pytest.mark.parametrize("nd,shape,drop", [(2, (2, 1, 48, 48), 0.0), (2, (2, 2, 40, 40), 0.2),
                                           (3, (2, 1, 32, 32, 32), 0.0)])
def test_densenet_feature_buffer_is_bit_identical(threads, nd, shape, drop):
    from sacroai.nn.models.densenet import DenseLayer
    x = np.random.default_rng(4).standard_normal(shape).astype(np.float32)
    fused = densenet121(nd, in_channels=shape[1], num_classes=3, rng=0, drop_rate=drop)
    plain = densenet121(nd, in_channels=shape[1], num_classes=3, rng=0, drop_rate=drop)
    _hook_all(plain, (DenseLayer, nn.BatchNorm2d, nn.BatchNorm3d, nn.ReLU))
    _same(_step(fused, x, 1), _step(plain, x, 1))
    fused.train()
    plain.train()
    fused(x)
    plain(x)
    assert fused.features.denseblock1._cache_buffered and not plain.features.denseblock1._cache_buffered
    with pytest.raises(ValueError, match="DenseBlock"):
        fused.features.denseblock1.backward(np.zeros((1, 2, 3, 4), np.float32))


@pytest.mark.parametrize("factory,nd,shape", [(resnet18, 2, (3, 1, 64, 64)), (resnet18, 3, (2, 1, 24, 24, 24)),
                                              (resnet50, 2, (2, 2, 64, 64))])
def test_resnet_fused_blocks_are_bit_identical(threads, factory, nd, shape):
    x = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
    fused = factory(nd, in_channels=shape[1], num_classes=2, rng=0, base_width=8)
    plain = factory(nd, in_channels=shape[1], num_classes=2, rng=0, base_width=8)
    _hook_all(plain, (nn.BatchNorm2d, nn.BatchNorm3d, nn.ReLU))
    _same(_step(fused, x, 2), _step(plain, x, 2))


def test_hooks_inside_a_dense_block_see_the_concatenated_input():
    model = densenet121(2, in_channels=1, num_classes=2, rng=0)
    seen = {}
    model.features.denseblock2.denselayer3.register_forward_hook(
        lambda m, inp, out: seen.update(inp=inp[0].shape, out=out.shape))
    model.features.norm5.register_full_backward_hook(lambda m, gi, go: seen.update(g=go[0].shape))
    model.train()
    y = model(np.random.default_rng(0).standard_normal((2, 1, 64, 64)).astype(np.float32))
    model.backward(np.ones_like(y))
    assert seen["inp"][1] == 128 + 2 * 32 and seen["out"][1] == 32 and seen["g"][1] == 1024


# ------------------------------------------------------------------ max pooling (vectorised interior rows)
def _maxpool_twin(x, k, s, p):
    """Slow max pool over [P, H, W]: first maximum wins, a NaN replaces the running maximum."""
    P, H, W = x.shape
    OH, OW = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
    y = np.empty((P, OH, OW), np.float32)
    idx = np.empty((P, OH, OW), np.int64)
    for q in range(P):
        for oh in range(OH):
            for ow in range(OW):
                best, bi = None, -1
                for a in range(k):
                    for b in range(k):
                        h, w = oh * s - p + a, ow * s - p + b
                        if 0 <= h < H and 0 <= w < W:
                            v = x[q, h, w]
                            if bi < 0 or v > best or np.isnan(v):
                                best, bi = v, h * W + w
                y[q, oh, ow], idx[q, oh, ow] = best, bi
    return y, idx


@pytest.mark.parametrize("k,s,p", [(3, 2, 1), (2, 2, 0), (3, 1, 1), (5, 3, 2)])
@pytest.mark.parametrize("kind", ["random", "ties", "nan"])
def test_max_pool_matches_a_slow_twin(k, s, p, kind):
    rng = np.random.default_rng(k * 10 + s)
    shape = (2, 1, 1, 13, 37)
    x = rng.standard_normal(shape).astype(np.float32) if kind == "random" else \
        rng.integers(0, 3, shape).astype(np.float32)
    if kind == "nan":
        x[rng.random(shape) < 0.15] = np.nan
    y, idx = _core.nn_pool_forward(0, x, (1, k, k), (1, s, s), (0, p, p), (1, 1, 1), False, True)
    ey, ei = _maxpool_twin(x.reshape(2, 13, 37), k, s, p)
    assert np.array_equal(y.reshape(ey.shape), ey, equal_nan=True)
    assert np.array_equal(idx.reshape(ei.shape), ei)


def _avgpool_twin(x, k, s, p, include_pad):
    """Slow average pool over [P, H, W] (floor mode): window sum in row order from 0.0f, / count."""
    P, H, W = x.shape
    OH, OW = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
    y = np.empty((P, OH, OW), np.float32)
    for q in range(P):
        for oh in range(OH):
            for ow in range(OW):
                h0, w0 = oh * s - p, ow * s - p
                total, cnt = np.float32(0.0), 0
                for h in range(max(h0, 0), min(h0 + k, H)):
                    for w in range(max(w0, 0), min(w0 + k, W)):
                        total = np.float32(total + x[q, h, w])
                        cnt += 1
                div = (min(h0 + k, H + p) - h0) * (min(w0 + k, W + p) - w0) if include_pad else cnt
                y[q, oh, ow] = np.float32(total / np.float32(div))
    return y


@pytest.mark.parametrize("k,s,p", [(2, 2, 0), (3, 2, 1), (3, 1, 1)])
@pytest.mark.parametrize("include_pad", [True, False])
def test_avg_pool_matches_a_slow_twin(k, s, p, include_pad):
    x = np.random.default_rng(k + s).standard_normal((2, 1, 1, 11, 37)).astype(np.float32)
    y = _core.nn_pool_forward(1, x, (1, k, k), (1, s, s), (0, p, p), (1, 1, 1), False, include_pad)
    y = y[0] if isinstance(y, tuple) else y
    assert np.array_equal(y.reshape(2, *y.shape[-2:]), _avgpool_twin(x.reshape(2, 11, 37), k, s, p, include_pad))


def test_avg_pool_backward_of_non_overlapping_windows_is_an_exact_share():
    rng = np.random.default_rng(8)
    g = rng.standard_normal((2, 3, 1, 9, 20)).astype(np.float32)
    dx = _core.nn_pool_backward(1, g, None, (1, 19, 41), (1, 2, 2), (1, 2, 2), (0, 0, 0), (1, 1, 1), False, True)
    want = np.zeros((2, 3, 1, 19, 41), np.float32)
    want[..., :18, :40] = np.repeat(np.repeat(g / np.float32(4), 2, axis=3), 2, axis=4)
    assert np.array_equal(dx, want)


@pytest.mark.parametrize("shape", [(3, 9, 37, 41), (1, 16, 8, 9, 10), (2, 5, 1, 2049)])
def test_instance_norm_rows_simd_and_scalar_agree_bit_for_bit_and_with_numpy(threads, shape):
    """Instance-norm statistics and gradient sums run 8 rows at a time (bn_act.c); the AVX2 and
    scalar reductions are the same float operations, and both match a float64 NumPy twin."""
    rng = np.random.default_rng(11)
    x = (rng.standard_normal(shape) * 2 + 0.5).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    Norm = nn.InstanceNorm3d if len(shape) == 5 else nn.InstanceNorm2d
    outs = []
    for on in (1, 0):
        _core.nn_bn_act_use_simd(on)
        try:
            m = Norm(shape[1], affine=True)
            m.weight.data[:] = np.linspace(0.5, 1.5, shape[1], dtype=np.float32)
            m.train()
            y = m(x)
            outs.append((y, m.backward(g), m.weight.grad.copy(), m.bias.grad.copy()))
        finally:
            _core.nn_bn_act_use_simd(1)
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)
    x64, g64 = x.reshape(shape[0], shape[1], -1).astype(np.float64), g.reshape(shape[0], shape[1], -1)
    mu, var = x64.mean(-1, keepdims=True), x64.var(-1, keepdims=True)
    xhat = (x64 - mu) / np.sqrt(var + 1e-5)
    w = np.linspace(0.5, 1.5, shape[1])[None, :, None]
    gh = g64 * w
    dx = (gh - gh.mean(-1, keepdims=True) - xhat * (gh * xhat).mean(-1, keepdims=True)) / np.sqrt(var + 1e-5)
    assert np.abs(outs[0][0].reshape(xhat.shape) - (xhat * w)).max() <= 1e-5 * np.abs(xhat * w).max()
    assert np.abs(outs[0][1].reshape(dx.shape) - dx).max() <= 1e-4 * np.abs(dx).max()
