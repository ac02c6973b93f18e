"""Training recipes: everything needed to rebuild a shipped checkpoint.

A recipe names the data (and its seed), the model and its arguments, and the training
hyper-parameters. ``xaiexit.zoo.train(name)`` follows it; the shipped checkpoint was
made by exactly that call.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from torch import nn


@dataclass(frozen=True)
class Recipe:
    """How to build, train and evaluate one zoo model."""

    name: str
    description: str
    build_model: Callable[[], nn.Module]
    build_data: Callable[[str], Any]  # split name -> dataset
    train_args: dict = field(default_factory=dict)
    eval_split: str = "test"
    loss: Optional[Callable] = None  # fit's loss; None is cross-entropy


def _pets_cnn_model() -> nn.Module:
    from xaiexit.models import SmallCNN

    return SmallCNN(in_channels=3, num_classes=2, widths=(16, 32, 64))


def _pets_data(split: str):
    from xaiexit.data import SyntheticPets

    return SyntheticPets(split=split, size=64, seed=0)


def _faces_cnn_model() -> nn.Module:
    from xaiexit.models import SmallCNN

    return SmallCNN(in_channels=1, num_classes=2, widths=(16, 32, 64))


def _faces_data(split: str):
    from xaiexit.data import LFWFaces

    return LFWFaces(split=split, seed=0, size=32)


def _pets_early_exit_model() -> nn.Module:
    from xaiexit.models import EarlyExitCNN

    return EarlyExitCNN(in_channels=3, num_classes=2, widths=(16, 32, 96, 192), exits_after=(2, 3), branch_width=48)


def _early_exit_loss(outputs, labels):
    from xaiexit.exits import early_exit_loss

    return early_exit_loss(outputs, labels)


RECIPES: dict[str, Recipe] = {
    "pets_cnn": Recipe(
        name="pets_cnn",
        description="SmallCNN (16-32-64) classifying cat vs dog on SyntheticPets 64x64",
        build_model=_pets_cnn_model,
        build_data=_pets_data,
        train_args=dict(epochs=24, lr=3e-3, batch_size=64, weight_decay=1e-4, seed=0),
    ),
    "faces_cnn": Recipe(
        name="faces_cnn",
        description="SmallCNN (16-32-64) classifying face vs non-face on LFWFaces 32x32 grey",
        build_model=_faces_cnn_model,
        build_data=_faces_data,
        train_args=dict(epochs=30, lr=3e-3, batch_size=32, weight_decay=1e-4, seed=0),
    ),
    "pets_early_exit": Recipe(
        name="pets_early_exit",
        description="EarlyExitCNN (16-32-96-192, exits after blocks 2 and 3 and at the end) on SyntheticPets 64x64, "
                    "all exits trained jointly with equal weights",
        build_model=_pets_early_exit_model,
        build_data=_pets_data,
        train_args=dict(epochs=20, lr=3e-3, batch_size=64, weight_decay=1e-4, seed=0),
        loss=_early_exit_loss,
    ),
}

# The same recipe with two more training seeds (same data, same hyper-parameters): a
# claim about exit rules must hold for more than one trained network.
for _seed in (1, 2):
    RECIPES[f"pets_early_exit_seed{_seed}"] = Recipe(
        name=f"pets_early_exit_seed{_seed}",
        description=RECIPES["pets_early_exit"].description + f"; training seed {_seed}",
        build_model=_pets_early_exit_model,
        build_data=_pets_data,
        train_args=dict(RECIPES["pets_early_exit"].train_args, seed=_seed),
        loss=_early_exit_loss,
    )
del _seed
