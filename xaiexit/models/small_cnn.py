"""A small convolutional classifier with named blocks.

Each block is ``conv 3x3 -> batch norm -> ReLU -> max-pool 2x2`` and is reachable by
name (``model.block1``, ``model.block2``, ...), so layer methods such as Grad-CAM can
target it with ``layer="block3"``. Global average pooling makes the model work on any
input size that survives the pooling.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """``conv 3x3 (padding 1, no bias) -> batch norm -> ReLU -> max-pool 2x2``: halves H and W."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=False),
        nn.MaxPool2d(2),
    )


def check_input(model: nn.Module, x: torch.Tensor) -> None:
    """Raise a clear error unless ``x`` is a ``(B, model.in_channels, H, W)`` batch large
    enough for the model's ``len(model.widths)`` halving blocks."""
    name = type(model).__name__
    if x.dim() != 4 or x.shape[1] != model.in_channels:
        raise ValueError(
            f"{name} expects a batch shaped (B, {model.in_channels}, H, W), got {tuple(x.shape)}; "
            "add a batch dimension with x.unsqueeze(0) for a single image"
        )
    smallest = 2 ** len(model.widths)
    if x.shape[-1] < smallest or x.shape[-2] < smallest:
        raise ValueError(
            f"image {tuple(x.shape[-2:])} is too small for {len(model.widths)} pooling blocks; "
            f"use at least {smallest}x{smallest} pixels"
        )


class SmallCNN(nn.Module):
    """Conv blocks, global average pooling and a linear classifier.

    Parameters
    ----------
    in_channels : int
        Channels of the input image (3 for RGB, 1 for grey).
    num_classes : int
        Number of output logits.
    widths : sequence of int
        Output channels of each conv block; one block per entry.
    dropout : float
        Dropout before the classifier (0 disables it).

    Shapes
    ------
    ``forward``: ``(B, in_channels, H, W) -> (B, num_classes)`` logits, with
    ``H, W >= 2 ** len(widths)``.

    Examples
    --------
    >>> model = SmallCNN(widths=(16, 32, 64), num_classes=2)
    >>> model(torch.zeros(4, 3, 64, 64)).shape
    torch.Size([4, 2])
    >>> [name for name, _ in model.features.named_children()]
    ['block1', 'block2', 'block3']
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 2,
        widths: Sequence[int] = (16, 32, 64),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if len(widths) == 0:
            raise ValueError("widths is empty; give at least one block width, e.g. widths=(16, 32, 64)")
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.widths = tuple(int(w) for w in widths)
        blocks = OrderedDict()
        channels = in_channels
        for i, width in enumerate(self.widths, start=1):
            blocks[f"block{i}"] = conv_block(channels, width)
            channels = width
        self.features = nn.Sequential(blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(channels, num_classes)

    def __getattr__(self, name: str):
        # model.block2 is a shortcut for model.features.block2
        if name.startswith("block"):
            features = self._modules.get("features")
            if features is not None and name in features._modules:
                return features._modules[name]
        return super().__getattr__(name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x)
        features = self.features(x)
        return self.classifier(self.dropout(self.pool(features).flatten(1)))
