"""Small models the hidden tests of every lesson run learners' functions on.

They are drawn from torch's global generator, so a check builds them inside
:func:`~xaiexit_grading._checks.seeded` and gets the same models every time.

This is the one module of the grading package a grading kernel can import (the sandbox
shows it and hides the rest): the models travel to the kernel, so their classes must load
there.
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


class Quadratic(nn.Module):
    """Logit k = w_k * sum(x**2) / 2, so the input gradient of class k is w_k * x.

    Where x = 0 the gradient of a noisy copy is w_k * noise: the SmoothGrad map there
    reveals the noise level the learner used.
    """

    def __init__(self, weights: torch.Tensor):
        super().__init__()
        self.register_buffer("weights", weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x.pow(2).sum(dim=(1, 2, 3))[:, None] * self.weights[None, :]
