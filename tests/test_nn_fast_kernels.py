"""The AVX-512 fast paths of sacroai.nn against the im2col/scalar paths, without PyTorch.

These run in the sanitizer stage of CI (.ci/asan) as well: odd sizes, tails of
rows and blocks, tiles that straddle rows and samples, all three convolution
algorithms, the 1x1 weight gradient and the vectorised pooling/activation.
"""
import numpy as np
import pytest

from sacroai import nn
from sacroai.nn import functional as F

from nn_parity import rel_err

GEOMS = [(3, (1, 8, 9, 7, 11), 8, 1), (3, (2, 16, 5, 6, 7), 24, 1), (3, (2, 9, 6, 7, 9), 10, 0),
         (3, (1, 16, 8, 8, 8), 8, 2), (3, (2, 12, 1, 9, 9), 12, 1), (2, (3, 8, 10, 13), 16, 1),
         (2, (1, 64, 17, 19), 64, 1), (3, (1, 8, 26, 24, 22), 12, 1), (3, (1, 40, 6, 5, 4), 20, 1)]


def _run(nd, shape, cout, pad, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    w = (rng.standard_normal((cout, shape[1]) + (3,) * nd) * 0.2).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    y = F.conv(x, w, b, padding=(pad,) * nd, nd=nd)
    g = rng.standard_normal(y.shape).astype(np.float32)
    dx, dw, db = F.conv_backward(x, w, g, (1,) * nd, (pad,) * nd, (1,) * nd, 1, nd)
    return y, dx, dw, db


@pytest.mark.parametrize("geom", GEOMS)
@pytest.mark.parametrize("algo", ["auto", "fast"])
def test_winograd_matches_im2col(geom, algo):
    with nn.conv_algorithm("gemm"):
        ref = _run(*geom, seed=1)
    with nn.conv_algorithm(algo):
        got = _run(*geom, seed=1)
    tol = 3e-5 if (algo == "fast" and geom[0] == 2) else 1e-5
    for name, a, r in zip(("y", "dx", "dw", "db"), got, ref):
        assert rel_err(a, r) <= tol, name


@pytest.mark.parametrize("shape", [(2, 16, 9, 10, 11), (1, 5, 70, 70), (3, 64, 3, 5)])
def test_pointwise_weight_gradient_matches_gemm(shape):
    rng = np.random.default_rng(4)
    nd = len(shape) - 2
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((7, shape[1]) + (1,) * nd).astype(np.float32)
    g = rng.standard_normal((shape[0], 7) + shape[2:]).astype(np.float32)
    args = ((1,) * nd, (0,) * nd, (1,) * nd, 1, nd)
    with nn.conv_algorithm("gemm"):
        ref = F.conv_backward(x, w, g, *args)
    got = F.conv_backward(x, w, g, *args)
    for a, r in zip(got, ref):
        assert rel_err(a, r) <= 1e-5


@pytest.mark.parametrize("shape", [(2, 3, 6, 9, 37), (3, 2, 11, 50), (1, 1, 2, 2, 2)])
def test_maxpool_2x2_against_numpy(shape):
    """Values and first-maximum indices against a NumPy twin (finite values with ties)."""
    rng = np.random.default_rng(6)
    nd = len(shape) - 2
    x = rng.integers(-3, 4, shape).astype(np.float32)
    y, idx = F.max_pool(x, 2, nd=nd)
    sp = shape[2:]
    out = tuple(s // 2 for s in sp)
    flat = x.reshape(shape[:2] + (-1,))
    for o in np.ndindex(*out):
        cand = [sum(int((2 * oi + k) * np.prod(sp[a + 1:])) for a, (oi, k) in enumerate(zip(o, ks)))
                for ks in np.ndindex(*(2,) * nd)]  # depth, row, column order, like the kernel's scan
        vals = flat[:, :, cand]
        first = np.argmax(vals, axis=2)
        np.testing.assert_array_equal(y[(slice(None), slice(None)) + o], vals.max(axis=2))
        np.testing.assert_array_equal(idx[(slice(None), slice(None)) + o], np.asarray(cand)[first])


def test_leaky_relu_against_numpy_odd_length():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((1, 3, 37)).astype(np.float32)
    m = nn.LeakyReLU(0.2)
    m.train()
    np.testing.assert_array_equal(m(x), np.where(x > 0, x, x * np.float32(0.2)))
    g = rng.standard_normal(x.shape).astype(np.float32)
    np.testing.assert_array_equal(m.backward(g), np.where(x > 0, g, g * np.float32(0.2)))


@pytest.mark.parametrize("shape", [(2, 16, 5, 6, 7), (1, 3, 70, 70), (3, 1, 4097)])
def test_attention_gate_step_equals_numpy_bits(shape):
    """x * p and (g * p, sum_c g * x) are the NumPy expressions bit for bit."""
    from sacroai import _core
    rng = np.random.default_rng(12)
    x = rng.standard_normal(shape).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    p = rng.random((shape[0], 1) + shape[2:]).astype(np.float32)
    np.testing.assert_array_equal(_core.nn_gate_forward(x, p), x * p)
    dx, dp = _core.nn_gate_backward(g, x, p)
    np.testing.assert_array_equal(dx, g * p)
    np.testing.assert_array_equal(dp, np.sum(g * x, axis=1, keepdims=True, dtype=np.float32))
    with pytest.raises(ValueError, match=r"coefficients must have shape \[N, 1, \*S\]"):
        _core.nn_gate_forward(x, np.ones(shape, np.float32) if shape[1] > 1 else np.ones((1, 1, 3), np.float32))
    with pytest.raises(ValueError, match="grad_output must have the shape of x"):
        _core.nn_gate_backward(g[..., :-1], x, p)


def test_strided_input_gradient_same_at_one_and_two_threads():
    """Overlapping windows (3x3x3, stride 2): with one sample the input channels are split
    over threads; each element is the same dot product, so the bits match 1 thread."""
    import sacroai
    rng = np.random.default_rng(14)
    x = rng.standard_normal((1, 12, 17, 18, 19)).astype(np.float32)
    w = rng.standard_normal((10, 12, 3, 3, 3)).astype(np.float32)
    y = F.conv(x, w, None, stride=2, padding=1, nd=3)
    g = rng.standard_normal(y.shape).astype(np.float32)
    old = sacroai.get_num_threads()
    try:
        got = []
        for threads in (1, 2):
            sacroai.set_num_threads(threads)
            got.append(F.conv_backward(x, w, g, (2,) * 3, (1,) * 3, (1,) * 3, 1, 3)[0])
    finally:
        sacroai.set_num_threads(old)
    np.testing.assert_array_equal(got[0], got[1])


# 1x1 layers on the packed GEMM (pointwise.c): one chunk of input channels or
# several (> 384), tiles within a sample (with a short last tile) or across
# samples (few positions), output rows that are not a multiple of 8, 2-D and 3-D.
POINTWISE = [((2, 16, 50, 61), 13), ((1, 400, 20, 40), 24), ((5, 40, 3, 7), 9), ((3, 520, 2, 3, 4), 17),
             ((1, 8, 3, 4, 5), 8), ((2, 64, 1, 1), 130)]


def _pointwise_twin(x, w, b, g):
    """float64 NumPy forward and gradients of a 1x1 convolution, [n, c, positions] flattened."""
    n, c = x.shape[:2]
    co = w.shape[0]
    x2 = x.reshape(n, c, -1).astype(np.float64)
    w2 = w.reshape(co, c).astype(np.float64)
    g2 = g.reshape(n, co, -1).astype(np.float64)
    y = np.einsum("oc,ncs->nos", w2, x2) + b.astype(np.float64)[None, :, None]
    dx = np.einsum("oc,nos->ncs", w2, g2)
    dw = np.einsum("nos,ncs->oc", g2, x2)
    return y.reshape((n, co) + x.shape[2:]), dx.reshape(x.shape), dw.reshape(w.shape), g2.sum(axis=(0, 2))


@pytest.mark.parametrize("shape,cout", POINTWISE)
def test_pointwise_forward_and_gradients_against_numpy(shape, cout):
    rng = np.random.default_rng(21)
    nd = len(shape) - 2
    x = rng.standard_normal(shape).astype(np.float32)
    w = (rng.standard_normal((cout, shape[1]) + (1,) * nd) / np.sqrt(shape[1])).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    g = rng.standard_normal((shape[0], cout) + shape[2:]).astype(np.float32)
    ref = _pointwise_twin(x, w, b, g)
    y = F.conv(x, w, b, nd=nd)
    dx, dw, db = F.conv_backward(x, w, g, (1,) * nd, (0,) * nd, (1,) * nd, 1, nd)
    for name, a, r in zip(("y", "dx", "dw", "db"), (y, dx, dw, db), ref):
        assert rel_err(a, r) <= 1e-5, name
    with nn.conv_algorithm("gemm"):  # the original sgemm path agrees to rounding
        assert rel_err(F.conv(x, w, b, nd=nd), y) <= 1e-5


@pytest.mark.parametrize("shape,cout", [((1, 400, 20, 40), 24), ((5, 40, 3, 7), 9)])
def test_pointwise_same_bits_at_one_and_two_threads_and_read_only(shape, cout):
    import sacroai
    rng = np.random.default_rng(22)
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((cout, shape[1], 1, 1)).astype(np.float32)
    old = sacroai.get_num_threads()
    try:
        got = []
        for threads in (1, 2):
            sacroai.set_num_threads(threads)
            got.append(F.conv(x, w, None, nd=2))
    finally:
        sacroai.set_num_threads(old)
    np.testing.assert_array_equal(got[0], got[1])
    x.flags.writeable = False
    w.flags.writeable = False
    np.testing.assert_array_equal(F.conv(x, w, None, nd=2), got[0])


def test_strided_forward_tiles_across_samples_when_per_sample_panels_would_be_empty():
    """A 14x14 output (196 = 4 x 48 + 4 columns) with several samples runs in tiles across
    samples under "auto"; values and the bias match the im2col + GEMM path of "gemm"."""
    rng = np.random.default_rng(23)
    x = rng.standard_normal((3, 12, 28, 28)).astype(np.float32)
    w = rng.standard_normal((20, 12, 3, 3)).astype(np.float32)
    b = rng.standard_normal(20).astype(np.float32)
    y = F.conv(x, w, b, stride=2, padding=1, nd=2)
    with nn.conv_algorithm("gemm"):
        ref = F.conv(x, w, b, stride=2, padding=1, nd=2)
    assert y.shape == (3, 20, 14, 14)
    assert rel_err(y, ref) <= 1e-6


@pytest.mark.parametrize("groups,n", [(1, 2), (2, 1), (1, 1)])
def test_strided_input_gradient_packed_matches_gemm(groups, n):
    """Strided input gradients with >= 384 output positions per sample run on the packed GEMM
    under "auto" (w^T panels per channel block, dy panels per tile); "gemm" uses sgemm."""
    import sacroai
    rng = np.random.default_rng(24)
    x = rng.standard_normal((n, 6, 41, 43)).astype(np.float32)
    w = rng.standard_normal((10, 6 // groups, 3, 3)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    g = rng.standard_normal((n, 10, 21, 22)).astype(np.float32)
    args = ((2, 2), (1, 1), (1, 1), groups, 2)
    old = sacroai.get_num_threads()
    try:
        got = []
        for threads in (1, 2):  # 2 threads with one sample: channel blocks
            sacroai.set_num_threads(threads)
            got.append(F.conv_backward(x, w, g, *args)[0])
    finally:
        sacroai.set_num_threads(old)
    np.testing.assert_array_equal(got[0], got[1])
    with nn.conv_algorithm("gemm"):
        ref = F.conv_backward(x, w, g, *args)[0]
    assert rel_err(got[0], ref) <= 1e-5
    # the transposed convolution is the same kernel with a bias
    y = F.conv_transpose(g, w, b, (2, 2), (1, 1), (0, 0), groups, (1, 1), 2)
    with nn.conv_algorithm("gemm"):
        y_ref = F.conv_transpose(g, w, b, (2, 2), (1, 1), (0, 0), groups, (1, 1), 2)
    assert rel_err(y, y_ref) <= 1e-5
