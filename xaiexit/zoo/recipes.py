"""Training recipes: everything needed to rebuild a shipped checkpoint.

A recipe names the data (and its seed), the model and its arguments, and the training
hyper-parameters. ``xaiexit.zoo.train(name)`` follows it; the shipped checkpoint was
made by exactly that call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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
    loss: Callable | None = None  # fit's loss; None is cross-entropy
    # a training loop of its own: trainer(model, recipe, device=, progress=) -> (history, metrics);
    # metrics None: the classifier's test metrics, as for a fit-based recipe
    trainer: Callable | None = None


def _pets_cnn_model() -> nn.Module:
    from xaiexit.models import SmallCNN

    return SmallCNN(in_channels=3, num_classes=2, widths=(16, 32, 64))


def _pets_data(split: str, evidence: str = "shape"):
    from xaiexit.data import SyntheticPets

    return SyntheticPets(split=split, size=64, seed=0, evidence=evidence)


def _colour_pets_data(split: str):
    return _pets_data(split, evidence="colour")


def _both_pets_data(split: str):
    return _pets_data(split, evidence="both")


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


def _cells_unet_model() -> nn.Module:
    from xaiexit.models import UNet

    return UNet(in_channels=1, num_classes=2, depth=3, base_width=8)


def _cells_data(split: str):
    from xaiexit.data import TouchingCells

    return TouchingCells(split=split, size=128, seed=0)


def _weighted_cross_entropy(logits, target, weights=None):
    from xaiexit.segmentation import weighted_cross_entropy

    return weighted_cross_entropy(logits, target, weights)


def _train_cells_unet(model, recipe, device=None, progress=True):
    """Train on the first ``n_train`` TouchingCells training images with U-Net's weight map;
    report the test split's mean IoU, pixel error, adapted Rand error and separated pairs."""
    from xaiexit.segmentation.training import CellTrainingSet, cell_metrics, fit_unet, predict_masks

    args = dict(recipe.train_args)
    w0, sigma, n_train, augment = args.pop("w0"), args.pop("sigma"), args.pop("n_train"), args.pop("augment")
    train = recipe.build_data("train")
    data = CellTrainingSet(
        train.images[:n_train], train.instances[:n_train], w0=w0, sigma=sigma, augment=augment, seed=args["seed"]
    )
    history = fit_unet(model, data, device=device, progress=progress, **args)
    test = recipe.build_data("test")
    measured = cell_metrics(predict_masks(model.cpu(), test.images), test.instances)
    return history, {f"test_{k}": v for k, v in measured.items()}


def _pets_unet_model() -> nn.Module:
    from xaiexit.models import UNet

    return UNet(in_channels=3, num_classes=3, depth=3, base_width=8)


def _train_pets_unet(model, recipe, device=None, progress=True):
    """Train on SyntheticPets trimaps (3 classes, the border weighted 0); report the test
    split's IoU per class and their mean, the border ignored."""
    import torch

    from xaiexit.segmentation import class_iou
    from xaiexit.segmentation.training import TrimapTrainingSet, fit_unet, predict_masks, trimap_classes

    args = dict(recipe.train_args)
    n_train = args.pop("n_train")
    train = recipe.build_data("train")
    history = fit_unet(
        model,
        TrimapTrainingSet(train.images[:n_train], train.trimaps[:n_train]),
        device=device,
        progress=progress,
        **args,
    )
    test = recipe.build_data("test")
    per_class = class_iou(predict_masks(model.cpu(), test.images), trimap_classes(test.trimaps), 3, ignore_index=2)
    return history, {
        "test_iou_pet": float(per_class[0]),
        "test_iou_background": float(per_class[1]),
        "test_mean_iou": float(torch.nanmean(per_class)),
    }


_CELLS = "UNet (valid convolutions, depth 3, base width 8) segmenting TouchingCells 128x128, 60 training images"
RECIPES["cells_unet"] = Recipe(
    name="cells_unet",
    description=_CELLS + ", U-Net's weight map (w0 = 10, sigma = 5)",
    build_model=_cells_unet_model,
    build_data=_cells_data,
    train_args=dict(epochs=25, lr=2e-3, batch_size=4, seed=0, w0=10.0, sigma=5.0, n_train=60, augment=False),
    loss=_weighted_cross_entropy,
    trainer=_train_cells_unet,
)
RECIPES["cells_unet_no_border"] = Recipe(
    name="cells_unet_no_border",
    description=_CELLS + ", class balance only (w0 = 0: no border term)",
    build_model=_cells_unet_model,
    build_data=_cells_data,
    train_args=dict(RECIPES["cells_unet"].train_args, w0=0.0),
    loss=_weighted_cross_entropy,
    trainer=_train_cells_unet,
)
for _base in ("cells_unet", "cells_unet_no_border"):
    for _seed in (1, 2):
        RECIPES[f"{_base}_seed{_seed}"] = Recipe(
            name=f"{_base}_seed{_seed}",
            description=RECIPES[_base].description + f"; training seed {_seed}",
            build_model=_cells_unet_model,
            build_data=_cells_data,
            train_args=dict(RECIPES[_base].train_args, seed=_seed),
            loss=_weighted_cross_entropy,
            trainer=_train_cells_unet,
        )
# a small training set, with and without augmentation (the same number of gradient steps)
RECIPES["cells_unet_20"] = Recipe(
    name="cells_unet_20",
    description=_CELLS.replace("60 training images", "only 20 training images") + ", weight map, no augmentation",
    build_model=_cells_unet_model,
    build_data=_cells_data,
    train_args=dict(RECIPES["cells_unet"].train_args, n_train=20, epochs=75),
    loss=_weighted_cross_entropy,
    trainer=_train_cells_unet,
)
RECIPES["cells_unet_20_augmented"] = Recipe(
    name="cells_unet_20_augmented",
    description=_CELLS.replace("60 training images", "only 20 training images")
    + ", weight map, shift/rotation/elastic/grey-value augmentation",
    build_model=_cells_unet_model,
    build_data=_cells_data,
    train_args=dict(RECIPES["cells_unet_20"].train_args, augment=True),
    loss=_weighted_cross_entropy,
    trainer=_train_cells_unet,
)
RECIPES["pets_unet"] = Recipe(
    name="pets_unet",
    description="UNet (valid convolutions, depth 3, base width 8) segmenting SyntheticPets 64x64 trimaps "
    "(pet, background, border weighted 0), 1,000 training images",
    build_model=_pets_unet_model,
    build_data=_pets_data,
    train_args=dict(epochs=12, lr=2e-3, batch_size=16, seed=0, n_train=1000),
    loss=_weighted_cross_entropy,
    trainer=_train_pets_unet,
)

# pets_cnn where the class lives in the coat's colour, or in both colour and shape; with
# the shape model, three training seeds each (same data, same hyper-parameters), so that a
# claim about what a saliency method misses comes with its spread over trained networks.
_EVIDENCE_DATA = {"shape": _pets_data, "colour": _colour_pets_data, "both": _both_pets_data}
for _evidence, _data in _EVIDENCE_DATA.items():
    for _seed in (0, 1, 2):
        _name = "pets_cnn" + ("" if _evidence == "shape" else f"_{_evidence}") + (f"_seed{_seed}" if _seed else "")
        if _name in RECIPES:
            continue
        RECIPES[_name] = Recipe(
            name=_name,
            description=RECIPES["pets_cnn"].description
            + {"shape": "", "colour": ", the class in the coat's colour only", "both": ", shape and coat colour"}[
                _evidence
            ]
            + (f"; training seed {_seed}" if _seed else ""),
            build_model=_pets_cnn_model,
            build_data=_data,
            train_args=dict(RECIPES["pets_cnn"].train_args, seed=_seed),
        )

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
# The same early-exit network where the class lives in the coat's colour (the flat interior):
# the setting where a saliency exit rule could suffer from gradients that go blind there.
for _seed in (0, 1, 2):
    _name = "pets_early_exit_colour" + (f"_seed{_seed}" if _seed else "")
    RECIPES[_name] = Recipe(
        name=_name,
        description=RECIPES["pets_early_exit"].description.replace(
            "SyntheticPets 64x64", "SyntheticPets 64x64 with the class in the coat's colour only"
        )
        + (f"; training seed {_seed}" if _seed else ""),
        build_model=_pets_early_exit_model,
        build_data=_colour_pets_data,
        train_args=dict(RECIPES["pets_early_exit"].train_args, seed=_seed),
        loss=_early_exit_loss,
    )
del _seed, _base, _evidence, _data, _name


# The digits setting of Lessons 4 and 5 (xaiexit.exits.digits_setting): ten classes, where a first
# exit is right only about half the time; three training seeds.
def _digits_model() -> nn.Module:
    from xaiexit.exits.digits_setting import DIGITS_MODEL
    from xaiexit.models import EarlyExitCNN

    return EarlyExitCNN(**DIGITS_MODEL)


def _digits_data(split: str):
    from xaiexit.data import Digits

    return Digits(split)


def _train_digits(model, recipe, device=None, progress=False):
    """Exactly ``train_digits_networks(Digits("train"), seeds=(seed,))`` (CPU, 1 thread)."""
    from xaiexit.exits.digits_setting import fit_digits_network

    history = fit_digits_network(model, recipe.build_data("train"), seed=recipe.train_args["seed"])
    return history.as_dict(), None


def _digits_train_args(seed: int) -> dict:
    from xaiexit.exits.digits_setting import DIGITS_TRAINING

    return dict(DIGITS_TRAINING, seed=seed)


for _seed in (0, 1, 2):
    _name = "digits_early_exit" + (f"_seed{_seed}" if _seed else "")
    RECIPES[_name] = Recipe(
        name=_name,
        description="EarlyExitCNN (16-32-64, side exits after blocks 1 and 2) classifying scikit-learn's "
        "digits at 32x32, all exits trained jointly" + (f"; training seed {_seed}" if _seed else ""),
        build_model=_digits_model,
        build_data=_digits_data,
        train_args=_digits_train_args(_seed),
        loss=_early_exit_loss,
        trainer=_train_digits,
    )
del _seed, _name
