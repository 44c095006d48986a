"""The nn wrappers in sacroai._core reject inconsistent shapes and dtypes instead of reading out of bounds."""
import numpy as np
import pytest

from sacroai import _core

f32 = np.float32


def z(*shape, dtype=f32):
    return np.zeros(shape, dtype)


@pytest.mark.parametrize("call,exc", [
    (lambda: _core.nn_conv_forward(z(1, 3, 1, 5, 5), z(4, 2, 1, 3, 3), None, (1, 1, 1), (0, 1, 1), (1, 1, 1), 1), ValueError),
    (lambda: _core.nn_conv_forward(z(1, 4, 1, 5, 5), z(4, 2, 1, 3, 3), z(3), (1, 1, 1), (0, 1, 1), (1, 1, 1), 2), ValueError),
    (lambda: _core.nn_conv_forward(z(1, 3, 1, 2, 2), z(4, 3, 1, 3, 3), None, (1, 1, 1), (0, 0, 0), (1, 1, 1), 1), ValueError),
    (lambda: _core.nn_conv_forward(z(1, 3, 1, 5, 5, dtype=np.float64), z(4, 3, 1, 3, 3), None, (1, 1, 1), (0, 1, 1),
                                   (1, 1, 1), 1), TypeError),
    (lambda: _core.nn_conv_forward(z(1, 3, 5, 5), z(4, 3, 1, 3, 3), None, (1, 1, 1), (0, 1, 1), (1, 1, 1), 1), ValueError),
    (lambda: _core.nn_conv_backward_data(z(1, 4, 1, 4, 4), z(4, 3, 1, 3, 3), None, (1, 5, 5), (1, 1, 1), (0, 1, 1),
                                         (1, 1, 1), 1), ValueError),
    (lambda: _core.nn_conv_backward_weight(z(1, 3, 1, 5, 5), z(2, 4, 1, 5, 5), (1, 3, 3), (1, 1, 1), (0, 1, 1),
                                           (1, 1, 1), 1, True), ValueError),
    (lambda: _core.nn_norm_apply(z(2, 3, 4), 0, z(2), z(3), None, None), ValueError),
    (lambda: _core.nn_norm_apply(z(2, 3, 4), 2, z(4), z(4), None, None), ValueError),
    (lambda: _core.nn_norm_backward(z(2, 3, 4), z(2, 3, 5), 0, True, z(3), z(3), None, True, True), ValueError),
    (lambda: _core.nn_act_backward(0, z(3, 4), z(4, 3), 0.0), ValueError),
    (lambda: _core.nn_act_forward(9, z(3), 0.0), ValueError),
    (lambda: _core.nn_prelu(z(2, 3, 4), None, z(2)), ValueError),
    (lambda: _core.nn_softmax(z(2, 3), z(3, 2), False), ValueError),
    (lambda: _core.nn_pool_forward(0, z(1, 1, 1, 2, 2), (1, 3, 3), (1, 1, 1), (0, 0, 0), (1, 1, 1), False, True), ValueError),
    (lambda: _core.nn_pool_forward(0, z(1, 1, 1, 4, 4), (1, 2, 2), (1, 1, 1), (0, 2, 2), (1, 1, 1), False, True), ValueError),
    (lambda: _core.nn_pool_backward(0, z(1, 1, 1, 2, 2), z(1, 1, 1, 3, 3, dtype=np.int64), (1, 4, 4), (1, 2, 2),
                                    (1, 2, 2), (0, 0, 0), (1, 1, 1), False, True), ValueError),
    (lambda: _core.nn_pool_backward(0, z(1, 1, 1, 2, 2), np.full((1, 1, 1, 2, 2), 99, np.int64), (1, 4, 4), (1, 2, 2),
                                    (1, 2, 2), (0, 0, 0), (1, 1, 1), False, True), ValueError),
    (lambda: _core.nn_adaptive_avgpool(z(1, 1, 1, 4, 4), (1, 0, 2), False), ValueError),
    (lambda: _core.nn_upsample(z(1, 1, 1, 4, 4), (1, 8, 8), 2, False, (0.0, 0.0, 0.0), False), ValueError),
    (lambda: _core.nn_linear_forward(z(2, 3), z(4, 5), None), ValueError),
    (lambda: _core.nn_linear_forward(z(2, 5), z(4, 5), z(3)), ValueError),
    (lambda: _core.nn_linear_backward(z(2, 5), z(4, 5), z(2, 3), True, True), ValueError),
    (lambda: _core.nn_dropout(z(4), 1.0, 1), ValueError),
])
def test_core_rejects_inconsistent_arguments(call, exc):
    with pytest.raises(exc):
        call()


def test_readonly_inputs_accepted():
    x = z(1, 2, 1, 4, 4)
    w = z(3, 2, 1, 3, 3)
    x.flags.writeable = False
    w.flags.writeable = False
    assert _core.nn_conv_forward(x, w, None, (1, 1, 1), (0, 1, 1), (1, 1, 1), 1).shape == (1, 3, 1, 4, 4)
