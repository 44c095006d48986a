"""sacroai.nn: CNN layers on the CPU with PyTorch names and explicit backward passes.

``Module``/``Parameter`` mirror ``torch.nn``; layers call the C core
(convolution by im2col + OpenBLAS sgemm, norms, activations, pooling,
upsampling) with the GIL released.  ``state_dict`` keys are PyTorch's, so
weights move between the two without renaming.
"""
from .module import (IncompatibleKeys, Module, Parameter, RemovableHandle, Sequential,
                     enable_grad, is_grad_enabled, no_grad)
from .container import ModuleDict, ModuleList

__all__ = ["Module", "Parameter", "Sequential", "no_grad", "enable_grad", "is_grad_enabled",
           "IncompatibleKeys", "RemovableHandle", "ModuleList", "ModuleDict"]
