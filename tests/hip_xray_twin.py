"""PyTorch twin of the hip radiograph multi-task DenseNet (torchvision-layout DenseNet + Linear heads).

Same state-dict keys as ``sacroai.pipelines.hip_xray.HipNet``: ``backbone.features.*`` (the
DenseNet twin of tests/test_nn_models_densenet.py with its classifier replaced by Identity)
and ``heads.<name>.weight/bias``; the output is the heads' logits concatenated in order.
Used by tests/test_pipeline_hip_xray.py and benchmarks/bench_pipeline_hip_xray.py.
"""
import numpy as np
import torch
from torch import nn

from test_nn_models_densenet import TDenseNet


class THipNet(nn.Module):
    def __init__(self, growth, blocks, init_f, heads, bn_size=4):
        super().__init__()
        self.backbone = TDenseNet(growth, tuple(blocks), init_f, 1, sd=2, cin=1, bn_size=bn_size)
        nf = self.backbone.classifier.in_features
        self.backbone.classifier = nn.Identity()
        self.heads = nn.ModuleDict({name: nn.Linear(nf, k) for name, k in heads.items()})

    def forward(self, x):
        f = self.backbone(x)
        return torch.cat([h(f) for h in self.heads.values()], dim=1)


def torch_twin(model, backbone_cfg, heads):
    """A THipNet with ``model``'s weights (eval mode)."""
    t = THipNet(backbone_cfg["growth_rate"], backbone_cfg["block_config"], backbone_cfg["num_init_features"],
                heads, backbone_cfg.get("bn_size", 4))
    t.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in model.state_dict().items()})
    return t.eval()
