"""Build a CNN (stem → stages of one block type → head) from a CNNArch."""

from __future__ import annotations

from torch import Tensor, nn

from hwbench.blocks import get_block
from hwbench.blocks.layers import ConvNormAct, make_act
from hwbench.space.cnn import CNNArch, StemSpec


class CNN(nn.Module):
    """The macro network shared by every CNN block space."""

    def __init__(self, arch: CNNArch) -> None:
        super().__init__()
        block = get_block(arch.block)
        self.stem = build_stem(arch.in_channels, arch.stem)
        stages: list[nn.Module] = []
        cin = arch.stem.width
        for stage in arch.stages:
            params = block.params.model_validate(stage.params)
            blocks = []
            for i in range(stage.depth):
                blocks.append(block.build(cin, stage.width, stage.stride if i == 0 else 1, params))
                cin = stage.width
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        head: list[nn.Module] = []
        if arch.head.width > 0:
            head.append(ConvNormAct(cin, arch.head.width, 1, act=arch.head.act))
            cin = arch.head.width
        self.head = nn.Sequential(*head)
        self.dropout = nn.Dropout(arch.head.dropout)
        self.classifier = nn.Linear(cin, arch.num_classes)
        _init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        """Logits for an NCHW batch."""
        x = self.head(self.stages(self.stem(x)))
        return self.classifier(self.dropout(x.mean((2, 3))))


def build_stem(cin: int, stem: StemSpec) -> nn.Sequential:
    """Conv (padded so the output is resolution / stride) → BN → act, then the optional 3x3/2 max-pool."""
    # Same layer order (and so parameter names and seeded weights) as ConvNormAct, which pads odd kernels alike.
    layers: list[nn.Module] = [
        nn.Conv2d(cin, stem.width, stem.kernel, stem.stride, stem.padding, bias=False),
        nn.BatchNorm2d(stem.width),
        make_act(stem.act),
    ]
    if stem.max_pool:
        layers.append(nn.MaxPool2d(3, 2, 1))
    return nn.Sequential(*layers)


def _init_weights(model: nn.Module) -> None:
    """He-normal convs, small-normal classifier, unit norms (zeroed residual norms are kept)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.01)
            nn.init.zeros_(m.bias)


def build_cnn(arch: CNNArch) -> CNN:
    """Builder registered for the cnn family."""
    return CNN(arch)
