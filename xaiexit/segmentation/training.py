"""Training a U-Net: datasets that yield (image, target, weights), and one loop for all.

- :class:`CellTrainingSet`: touching cells; the target is cell / background, the weights are
  U-Net's :func:`~xaiexit.segmentation.weight_map` (``w0 = 0`` switches the border term
  off), recomputed after each augmentation from the warped instance labels;
- :class:`TrimapTrainingSet`: pets' trimaps as 3 classes (0 pet, 1 background, 2 border),
  the border pixels weighted 0 so the loss ignores them;
- :func:`fit_unet`: Adam on the weighted cross-entropy over whole images (mirror-padded for
  a valid U-Net). The paper used SGD with momentum 0.99 and one large tile per step; on a
  CPU, small batches of small images with Adam reach the same kind of result much sooner.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from xaiexit.segmentation.elastic import augment as random_augment
from xaiexit.segmentation.metrics import adapted_rand_error, connected_components, iou, pixel_error, separated_share
from xaiexit.segmentation.tiling import segment
from xaiexit.segmentation.weights import weight_map, weighted_cross_entropy

#: the trimap classes (Oxford-IIIT Pet files store them as 1, 2, 3)
TRIMAP_CLASSES = ("pet", "background", "border")
BORDER = 2


class CellTrainingSet(Dataset):
    """``(image (1, H, W), target (H, W) long, weights (H, W))`` for each image of a cells set.

    Parameters
    ----------
    images : (N, 1, H, W) tensor
    instances : (N, H, W) integer tensor of instance labels (0 background and borders)
    w0, sigma, class_weights
        Passed to :func:`~xaiexit.segmentation.weight_map`.
    augment : bool
        Apply :func:`~xaiexit.segmentation.augment` (shift, rotation, elastic, grey values)
        with draws from a generator seeded by ``seed``.
    """

    def __init__(
        self,
        images,
        instances,
        w0: float = 10.0,
        sigma: float = 5.0,
        class_weights="balanced",
        augment: bool = False,
        seed: int = 0,
    ):
        if len(images) != len(instances):
            raise ValueError(f"{len(images)} images but {len(instances)} label images")
        self.images, self.instances = images, instances
        self.w0, self.sigma, self.class_weights, self.augment = w0, sigma, class_weights, augment
        self.generator = torch.Generator().manual_seed(seed)
        self._weights = None if augment else [weight_map(labels, w0, sigma, class_weights) for labels in instances]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        image, labels = self.images[index], self.instances[index]
        if not self.augment:
            return image, (labels > 0).long(), self._weights[index]
        image, labels = random_augment(image, labels, self.generator)
        return image, (labels > 0).long(), weight_map(labels, self.w0, self.sigma, self.class_weights)


def trimap_classes(trimaps: torch.Tensor) -> torch.Tensor:
    """Oxford trimap values 1 (pet), 2 (background), 3 (border) -> classes 0, 1, 2 (long).

    Examples
    --------
    >>> trimap_classes(torch.tensor([[1, 2, 3]], dtype=torch.uint8))
    tensor([[0, 1, 2]])
    """
    values = set(torch.unique(trimaps).tolist())
    if not values <= {1, 2, 3}:
        raise ValueError(f"trimaps hold {sorted(values)}; expected the Oxford-IIIT Pet values 1, 2, 3")
    return trimaps.long() - 1


class TrimapTrainingSet(Dataset):
    """``(image (3, H, W), classes (H, W) long, weights (H, W))`` from pets and their trimaps;
    the border class gets weight 0 (it is not a class one can be right or wrong about)."""

    def __init__(self, images, trimaps):
        if len(images) != len(trimaps):
            raise ValueError(f"{len(images)} images but {len(trimaps)} trimaps")
        self.images, self.targets = images, trimap_classes(trimaps)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        target = self.targets[index]
        return self.images[index], target, (target != BORDER).float()


def fit_unet(
    model: nn.Module,
    train_set: Dataset,
    epochs: int = 30,
    lr: float = 1e-3,
    batch_size: int = 4,
    seed: int = 0,
    device=None,
    progress: bool = False,
) -> dict:
    """Train a U-Net on ``(image, target, weights)`` samples with the weighted cross-entropy.

    Returns
    -------
    history : dict
        ``{"train_loss": [...], "seconds": float}``, one loss per epoch.
    """
    from xaiexit.train import default_device, seed_everything

    seed_everything(seed)
    device = torch.device(device) if device is not None else default_device()
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loader = DataLoader(
        train_set, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed), num_workers=0
    )
    history, started = {"train_loss": []}, time.perf_counter()
    for epoch in range(epochs):
        total, count = 0.0, 0
        for images, targets, weights in loader:
            images, targets, weights = images.to(device), targets.to(device), weights.to(device)
            loss = weighted_cross_entropy(segment(model, images), targets, weights)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, count = total + loss.item() * len(images), count + len(images)
        history["train_loss"].append(total / count)
        if progress:
            print(f"epoch {epoch + 1}/{epochs}: loss {total / count:.4f}")
    history["seconds"] = round(time.perf_counter() - started, 1)
    model.eval()
    return history


@torch.no_grad()
def predict_masks(model: nn.Module, images: torch.Tensor, batch_size: int = 8) -> torch.Tensor:
    """The predicted class of every pixel: ``(N, C, H, W) -> (N, H, W)`` long, on the CPU."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        return torch.cat(
            [
                segment(model, images[i : i + batch_size].to(device)).argmax(dim=1).cpu()
                for i in range(0, len(images), batch_size)
            ]
        )
    finally:
        model.train(was_training)


def cell_metrics(predicted: torch.Tensor, instances: torch.Tensor) -> dict:
    """Mean over images of: foreground IoU, pixel error, adapted Rand error (of the predicted
    mask's connected components against the true cells) and the share of touching pairs kept
    apart. ``predicted`` ``(N, H, W)`` 0/1, ``instances`` ``(N, H, W)``."""
    rows = []
    for pred, truth in zip(predicted, instances):
        rows.append(
            (
                iou(pred, truth > 0),
                pixel_error(pred, (truth > 0).long()),
                adapted_rand_error(connected_components(pred), truth)[0],
                separated_share(pred, truth),
            )
        )
    values = np.array(rows, dtype=np.float64)
    return {
        "iou": float(values[:, 0].mean()),
        "pixel_error": float(values[:, 1].mean()),
        "rand_error": float(values[:, 2].mean()),
        "separated": float(np.nanmean(values[:, 3])),
    }
