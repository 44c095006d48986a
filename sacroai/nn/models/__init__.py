"""Reference CNNs with PyTorch/torchvision parameter names, for 2-D or 3-D inputs."""
from .resnet import ResNet, resnet18, resnet34, resnet50, resnet101, BasicBlock, Bottleneck
from .unet import DoubleConv, UNet
from .attention_unet import AttentionGate, AttentionUNet
from .plain_unet import PlainConvUNet
from .cnn import CNN3D
from .multitask import MultiTask, MultiTaskLoss
from .densenet import DenseBlock, DenseLayer, DenseNet, Transition, densenet121, densenet161

__all__ = ["ResNet", "resnet18", "resnet34", "resnet50", "resnet101", "BasicBlock", "Bottleneck", "UNet", "DoubleConv",
           "AttentionUNet", "AttentionGate", "PlainConvUNet",
           "DenseNet", "densenet121", "densenet161", "DenseLayer", "DenseBlock", "Transition", "CNN3D",
           "MultiTask", "MultiTaskLoss"]
