"""Eval-mode folding of Conv -> BatchNorm (-> ReLU) into one convolution (sacroai.nn._bn_act).

The folded network must agree with the same modules run one by one (hooks or
grad mode force that path) to float32 rounding, leave nothing cached for
backward, stay off where a hook must see the intermediate array, and keep
the original numerics under conv_algorithm("gemm").  The fused ReLU of
F.conv is checked against NumPy on the Winograd path (epilogue in the output
transform) and on the others (a pass after the convolution).
"""
import numpy as np
import pytest

from sacroai import nn
from sacroai.nn import functional as F
from sacroai.nn.models import UNet

from nn_parity import rel_err


def _randomize_bn(model, rng):
    for m in model.modules():
        if type(m).__name__.startswith("BatchNorm"):
            m.running_mean[:] = rng.uniform(-0.3, 0.3, m.running_mean.shape)
            m.running_var[:] = rng.uniform(0.4, 1.6, m.running_var.shape)
            m.weight.data[:] = rng.uniform(0.5, 1.5, m.weight.data.shape)
            m.bias.data[:] = rng.uniform(-0.3, 0.3, m.bias.data.shape)


@pytest.mark.parametrize("nd,shape", [(3, (1, 1, 24, 20, 28)), (2, (2, 1, 40, 36))])
def test_folded_unet_matches_the_modules_run_one_by_one(nd, shape):
    rng = np.random.default_rng(5)
    model = UNet(nd, 1, 2, (8, 16, 32), rng=0)
    _randomize_bn(model, rng)
    model.eval()
    x = rng.standard_normal(shape).astype(np.float32)
    y = model(x)
    with nn.enable_grad():  # modules cache for backward: no folding
        ref = model(x)
    assert rel_err(y, ref) <= 1e-5
    with nn.conv_algorithm("gemm"):  # original numerics: the unfused modules
        with nn.enable_grad():
            ref_gemm = model(x)
        np.testing.assert_array_equal(model(x), ref_gemm)


def _block(nd, bias):
    conv = (nn.Conv3d if nd == 3 else nn.Conv2d)(6, 10, 3, padding=1, bias=bias, rng=0)
    bn = (nn.BatchNorm3d if nd == 3 else nn.BatchNorm2d)(10)
    _randomize_bn(nn.Sequential(bn), np.random.default_rng(1))
    return conv, bn, nn.ReLU()


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("with_relu", [True, False])
def test_fold_with_and_without_relu_and_conv_bias(bias, with_relu):
    conv, bn, relu = _block(3, bias)
    seq = nn.Sequential(conv, bn, relu) if with_relu else nn.Sequential(conv, bn)
    seq.eval()
    x = np.random.default_rng(2).standard_normal((2, 6, 9, 10, 11)).astype(np.float32)
    y = seq(x)
    with pytest.raises(RuntimeError, match="without a cached forward pass"):
        seq.backward(np.ones_like(y))  # eval mode: nothing cached, as without the fold
    with nn.enable_grad():
        ref = seq(x)
    assert rel_err(y, ref) <= 1e-5
    if with_relu:
        assert (y >= 0).all()


def test_hook_on_the_batch_norm_sees_its_input_unfolded():
    conv, bn, relu = _block(2, True)
    seq = nn.Sequential(conv, bn, relu)
    seq.eval()
    seen = []
    bn.register_forward_hook(lambda m, inp, out: seen.append(inp[0] if isinstance(inp, tuple) else inp))
    x = np.random.default_rng(3).standard_normal((1, 6, 12, 13)).astype(np.float32)
    seq(x)
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0], conv(x))


@pytest.mark.parametrize("nd,shape,k,stride", [(3, (1, 8, 10, 11, 12), 3, 1), (2, (2, 16, 17, 19), 3, 1),
                                               (3, (1, 8, 10, 11, 12), 1, 1), (2, (2, 16, 17, 19), 3, 2),
                                               (2, (1, 3, 9, 9), 3, 1)])
@pytest.mark.parametrize("algo", ["auto", "fast", "gemm"])
def test_conv_relu_epilogue_against_numpy(nd, shape, k, stride, algo):
    rng = np.random.default_rng(6)
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((12, shape[1]) + (k,) * nd).astype(np.float32)
    b = rng.standard_normal(12).astype(np.float32)
    x[0, 0, 0, 0] = np.nan  # NaN reaches some outputs; the ReLU module maps it to 0 (x > 0 ? x : 0)
    with nn.conv_algorithm(algo):  # "fast": F(4, 3) has no epilogue, the ReLU runs as a pass after it
        plain = F.conv(x, w, b, stride=stride, padding=k // 2, nd=nd)
        fused = F.conv(x, w, b, stride=stride, padding=k // 2, nd=nd, relu=True)
    assert np.isnan(plain).any()
    np.testing.assert_array_equal(fused, np.where(plain > 0, plain, np.float32(0)))
    np.testing.assert_array_equal(fused, nn.ReLU()(plain))
