"""A CNN with side classifiers ("exits") after some of its blocks.

An easy image can be classified after a few blocks; a hard one needs them all. The
backbone is ``SmallCNN``'s chain of blocks; after chosen blocks a small branch (a strided
conv 3x3, batch norm, ReLU, global average pooling, linear: BranchyNet-style) gives logits. The
last exit is the network's own head (pooling and linear) after the last block.

References
----------
.. [1] S. Teerapittayanon, B. McDanel, H. T. Kung, "BranchyNet: Fast Inference via
   Early Exiting from Deep Neural Networks", ICPR 2016, arXiv:1709.01686.
.. [2] Y. Kaya, S. Hong, T. Dumitras, "Shallow-Deep Networks: Understanding and
   Mitigating Network Overthinking", ICML 2019, arXiv:1810.07052.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from xaiexit.models.small_cnn import check_input, conv_block


class Exit(nn.Module):
    """A classifier head: ``conv 3x3 stride 2 -> BN -> ReLU`` (branches only), pooling, linear.

    The stride halves the resolution, so a branch costs a fraction of the block it
    follows while its receptive field still grows.

    ``conv`` is the head's own feature map (``nn.Identity`` for the final exit, which
    classifies the last block's features directly): Grad-CAM and the class activation
    map of an exit are taken there.

    Shapes: ``(B, in_channels, h, w) -> (B, num_classes)``.
    """

    def __init__(self, in_channels: int, num_classes: int, width: int | None = None):
        super().__init__()
        if width is None:
            self.conv = nn.Identity()
            width = in_channels
        else:
            self.conv = nn.Sequential(
                nn.Conv2d(in_channels, width, kernel_size=3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=False),
            )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.conv(features)).flatten(1))


class EarlyExitCNN(nn.Module):
    """Conv blocks with an exit after some of them and one after the last.

    Parameters
    ----------
    in_channels : int
        Channels of the input image.
    num_classes : int
        Number of logits of every exit.
    widths : sequence of int
        Output channels of each conv block (``features.block1``, ``features.block2``, ...).
    exits_after : sequence of int
        1-based indices of the blocks followed by a side exit, increasing, each
        smaller than ``len(widths)``. The final exit after the last block is always there.
    branch_width : int
        Channels of each side exit's conv layer.

    Shapes
    ------
    ``forward``: ``(B, in_channels, H, W) ->`` a list with one ``(B, num_classes)``
    logits tensor per exit, earliest first (``len(exits_after) + 1`` of them).

    Names
    -----
    ``features.block<i>`` are the blocks, ``exits.exit<k>`` the exits (``k`` = 1, 2,
    ...; the last one is the final head) and ``exits.exit<k>.conv`` an exit's feature
    map, all usable as Grad-CAM layers.

    Examples
    --------
    >>> model = EarlyExitCNN(widths=(16, 32, 64, 128), exits_after=(1, 2))
    >>> [tuple(logits.shape) for logits in model(torch.zeros(4, 3, 64, 64))]
    [(4, 2), (4, 2), (4, 2)]
    >>> model.exit_blocks
    (1, 2, 4)
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 2,
        widths: Sequence[int] = (16, 32, 64, 128),
        exits_after: Sequence[int] = (1, 2),
        branch_width: int = 32,
    ) -> None:
        super().__init__()
        widths = tuple(int(w) for w in widths)
        exits_after = tuple(int(b) for b in exits_after)
        if len(widths) == 0:
            raise ValueError("widths is empty; give at least one block width, e.g. widths=(16, 32, 64, 128)")
        if list(exits_after) != sorted(set(exits_after)) or any(not 1 <= b < len(widths) for b in exits_after):
            raise ValueError(
                f"exits_after={exits_after} must be increasing block numbers between 1 and {len(widths) - 1} "
                f"(the final exit after block {len(widths)} is always there)"
            )
        self.in_channels, self.num_classes = in_channels, num_classes
        self.widths, self.exit_blocks = widths, exits_after + (len(widths),)
        blocks, channels = OrderedDict(), in_channels
        for i, width in enumerate(widths, start=1):
            blocks[f"block{i}"] = conv_block(channels, width)
            channels = width
        self.features = nn.Sequential(blocks)
        heads = OrderedDict()
        for k, block in enumerate(exits_after, start=1):
            heads[f"exit{k}"] = Exit(widths[block - 1], num_classes, branch_width)
        heads[f"exit{len(self.exit_blocks)}"] = Exit(widths[-1], num_classes)
        self.exits = nn.ModuleDict(heads)

    @property
    def num_exits(self) -> int:
        return len(self.exit_blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        check_input(self, x)
        logits, heads = [], iter(self.exits.values())
        for i, block in enumerate(self.features, start=1):
            x = block(x)
            if i in self.exit_blocks:
                logits.append(next(heads)(x))
        return logits

    def without_branches(self) -> nn.Module:
        """The backbone alone: blocks and the final exit, sharing this model's weights.

        It computes the final exit's logits ``(B, num_classes)``, with no side exit, so it
        is the honest baseline for measuring what early exit saves.
        """
        return nn.Sequential(self.features, self.exits[f"exit{self.num_exits}"])


class SingleExit(nn.Module):
    """One exit of an ``EarlyExitCNN`` as an ordinary classifier returning ``(B, K)`` logits,
    e.g. for saliency methods: ``SingleExit(model, k)`` is exit ``k`` (0-based; -1, the
    default, is the final exit). It runs only the blocks that exit needs."""

    def __init__(self, model: EarlyExitCNN, exit_index: int = -1):
        super().__init__()
        if not -model.num_exits <= exit_index < model.num_exits:
            raise ValueError(
                f"exit_index={exit_index} but the model has {model.num_exits} exits; "
                f"use 0 to {model.num_exits - 1} (or -1 for the final exit)"
            )
        self.model, self.exit_index = model, exit_index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        model = self.model
        k = self.exit_index % model.num_exits
        for block in list(model.features)[: model.exit_blocks[k]]:
            x = block(x)
        return model.exits[f"exit{k + 1}"](x)
