"""Small models the hidden tests of every lesson run learners' functions on.

They are drawn from torch's global generator, so a check builds them inside
:func:`~xaiexit_grading._checks.seeded` and gets the same models every time.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from xaiexit.models import SmallCNN


def linear_model(shape: tuple, classes: int) -> nn.Module:
    """Logits = W x + b; the input gradient of logit k is W[k], a hand-checkable answer."""
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(shape), classes))


def cnn(in_channels: int = 3, classes: int = 3, widths: tuple = (6, 8)) -> nn.Module:
    """A small CNN handed over in *training* mode, with BatchNorm statistics far from the
    batch's own, so running it without ``model.eval()`` gives a different answer (and
    changes the statistics, which the hygiene check sees)."""
    model = SmallCNN(in_channels=in_channels, num_classes=classes, widths=widths)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.3, 3.0)
    return model.train()


def targets_not_predicted(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Per-sample targets that differ from the predicted class for most samples."""
    with torch.no_grad():
        logits = copy.deepcopy(model).eval()(x)
    return logits.argmin(dim=1)
