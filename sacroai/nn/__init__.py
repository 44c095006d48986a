"""sacroai.nn: CNN layers on the CPU with PyTorch names and explicit backward passes.

``Module``/``Parameter`` mirror ``torch.nn``; layers call the C core
(convolution by Winograd F(2, 3) or tiled im2col + GEMM, norms, activations,
pooling, upsampling) with the GIL released.  ``state_dict`` keys are PyTorch's, so
weights move between the two without renaming.  There is no autograd: each
module has ``backward(grad_out) -> grad_in`` and accumulates parameter
gradients into ``Parameter.grad``.
"""
from . import functional, init
from .activation import LeakyReLU, LogSoftmax, PReLU, ReLU, Sigmoid, Softmax, Tanh
from .container import ModuleDict, ModuleList
from .conv import Conv2d, Conv3d, ConvTranspose2d, ConvTranspose3d
from .linear import Dropout, Flatten, Identity, Linear
from .backends import conv_algorithm, get_conv_algorithm, set_conv_algorithm
from .module import (IncompatibleKeys, Module, Parameter, RemovableHandle, Sequential, enable_grad,
                     input_grad_enabled, is_grad_enabled, no_grad, no_input_grad, retain_graph)
from .norm import BatchNorm1d, BatchNorm2d, BatchNorm3d, GroupNorm, InstanceNorm2d, InstanceNorm3d
from .pooling import AdaptiveAvgPool2d, AdaptiveAvgPool3d, AvgPool2d, AvgPool3d, MaxPool2d, MaxPool3d
from .upsample import Upsample


def release_memory() -> None:
    """Free the nn core's scratch workspaces (this thread) and its cache of output blocks.

    Layers keep im2col/padding workspaces and recently freed large output
    buffers (up to 1.5 GiB) for reuse, which avoids page-fault costs between
    batches; call this after training or inference to return that memory.
    """
    from .. import _core
    _core.nn_workspace_release()

__all__ = [
    "Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "no_grad", "enable_grad", "retain_graph",
    "is_grad_enabled", "no_input_grad", "input_grad_enabled", "conv_algorithm", "set_conv_algorithm",
    "get_conv_algorithm", "IncompatibleKeys", "RemovableHandle", "functional", "init",
    "Conv2d", "Conv3d", "ConvTranspose2d", "ConvTranspose3d",
    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm2d", "InstanceNorm3d", "GroupNorm",
    "ReLU", "LeakyReLU", "PReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
    "MaxPool2d", "MaxPool3d", "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
    "Upsample", "Linear", "Flatten", "Identity", "Dropout", "release_memory",
]
