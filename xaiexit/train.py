"""Training and evaluation loops for classifiers.

``fit`` trains a model with cross-entropy and records a per-epoch :class:`History`;
``evaluate`` reports loss and accuracy. Both pick a device automatically (CUDA when
present, else CPU), are seeded, and accept a ``Dataset`` or a pair of tensors.

Examples
--------
>>> from xaiexit.data import SyntheticPets
>>> from xaiexit.models import SmallCNN
>>> model = SmallCNN()
>>> history = fit(model, SyntheticPets("train", n=256), SyntheticPets("val", n=64), epochs=2)
>>> evaluate(model, SyntheticPets("test", n=64))["accuracy"]  # doctest: +SKIP
0.71875
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

Data = Dataset | Sequence[torch.Tensor]


@dataclass
class History:
    """Per-epoch learning curves; index ``i`` is epoch ``i + 1``."""

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    def as_dict(self) -> dict[str, list[float]]:
        return asdict(self)


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's random generators (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def default_device() -> torch.device:
    """CUDA when available, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _as_dataset(data: Data, name: str) -> Dataset:
    if isinstance(data, Dataset):
        dataset = data
    elif isinstance(data, (tuple, list)) and len(data) == 2 and all(torch.is_tensor(t) for t in data):
        images, labels = data
        if len(images) != len(labels):
            raise ValueError(f"{name}: {len(images)} images but {len(labels)} labels; give one label per image")
        dataset = TensorDataset(images, labels)
    else:
        raise TypeError(
            f"{name} must be a torch Dataset or a pair (images, labels) of tensors, got {type(data).__name__}"
        )
    if len(dataset) == 0:
        raise ValueError(f"{name} is empty: there is nothing to train or evaluate on; check the split and n")
    return dataset


def _loader(dataset: Dataset, batch_size: int, shuffle: bool, seed: int) -> DataLoader:
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator, num_workers=0)


def final_logits(outputs) -> torch.Tensor:
    """The logits a model's output stands for: itself, or the last exit's for a list of exits."""
    return outputs[-1] if isinstance(outputs, (list, tuple)) else outputs


def _run_epoch(model, loader, device, optimizer=None, loss_fn=None) -> tuple[float, float]:
    """One pass over ``loader``; trains when an optimizer is given. Returns (mean loss, accuracy
    of the final logits)."""
    loss_fn = loss_fn or nn.functional.cross_entropy
    loss_sum, correct, count = 0.0, 0, 0
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        with torch.set_grad_enabled(optimizer is not None):
            outputs = model(images)
            if loss_fn is nn.functional.cross_entropy and isinstance(outputs, (list, tuple)):
                raise TypeError(
                    f"the model returns a list of {len(outputs)} logits tensors (one per exit); "
                    "pass a loss for them, e.g. loss=xaiexit.exits.early_exit_loss"
                )
            loss = loss_fn(outputs, labels)
            logits = final_logits(outputs)
        if optimizer is not None:
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        loss_sum += loss.item() * len(labels)
        correct += (logits.argmax(dim=1) == labels).sum().item()
        count += len(labels)
    return loss_sum / count, correct / count


def fit(
    model: nn.Module,
    train_data: Data,
    val_data: Data | None = None,
    *,
    epochs: int = 10,
    lr: float = 1e-3,
    batch_size: int = 64,
    weight_decay: float = 0.0,
    schedule: str | None = "cosine",
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
    loss: Callable | None = None,
    stop_after: int | None = None,
) -> History:
    """Train ``model`` with Adam and cross-entropy; return the learning curves.

    Parameters
    ----------
    model : nn.Module
        Maps ``(B, C, H, W)`` images to ``(B, K)`` logits. Trained in place, moved to
        ``device`` and left in eval mode.
    train_data, val_data : Dataset or (images, labels)
        Items are ``(image (C, H, W), label)``. ``val_data`` is optional.
    epochs, lr, batch_size, weight_decay : training hyper-parameters.
    schedule : {"cosine", None}
        ``"cosine"`` lowers the learning rate from ``lr`` to 0 along a half cosine
        over the epochs (Loshchilov & Hutter 2017), so the last epochs settle
        instead of jumping around; ``None`` keeps ``lr`` constant.
    seed : int
        Seeds the generators and the shuffling, so a run is repeatable.
    device : str or torch.device, optional
        Defaults to CUDA when available, else CPU.
    progress : bool
        Show a tqdm progress bar over epochs.
    loss : callable, optional
        ``loss(model(images), labels) -> scalar``; default cross-entropy. For a model
        that returns one logits tensor per exit, e.g. ``xaiexit.exits.early_exit_loss``;
        accuracies are then those of the last exit.
    stop_after : int, optional
        Stop after this many epochs while the schedule still spans ``epochs``: the first
        ``stop_after`` epochs of a longer run, exactly (to check that a recipe reproduces
        the start of a recorded learning curve without paying for the whole run).

    Returns
    -------
    History
        ``train_loss``, ``train_accuracy``, ``val_loss``, ``val_accuracy`` per epoch.
    """
    from tqdm.auto import tqdm

    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if stop_after is not None and not 1 <= stop_after <= epochs:
        raise ValueError(f"stop_after must be between 1 and epochs={epochs}, got {stop_after}")
    if schedule not in ("cosine", None):
        raise ValueError(f"unknown schedule {schedule!r}; use 'cosine' or None")
    train_set = _as_dataset(train_data, "train_data")
    val_set = _as_dataset(val_data, "val_data") if val_data is not None else None
    device = torch.device(device) if device is not None else default_device()
    seed_everything(seed)
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs) if schedule else None
    train_loader = _loader(train_set, batch_size, shuffle=True, seed=seed)
    history = History()
    bar = tqdm(range(stop_after or epochs), desc="epochs", disable=not progress)
    for _ in bar:
        model.train()
        train_loss, accuracy = _run_epoch(model, train_loader, device, optimizer, loss)
        history.train_loss.append(train_loss)
        history.train_accuracy.append(accuracy)
        if scheduler is not None:
            scheduler.step()
        shown = {"loss": f"{train_loss:.3f}", "acc": f"{accuracy:.3f}"}
        if val_set is not None:
            val = evaluate(model, val_set, batch_size=max(batch_size, 256), device=device, loss=loss)
            history.val_loss.append(val["loss"])
            history.val_accuracy.append(val["accuracy"])
            shown.update(val_loss=f"{val['loss']:.3f}", val_acc=f"{val['accuracy']:.3f}")
        bar.set_postfix(shown)
    model.eval()
    return history


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: Data,
    *,
    batch_size: int = 256,
    device: str | torch.device | None = None,
    loss: Callable | None = None,
) -> dict[str, float]:
    """Mean loss (cross-entropy unless ``loss`` is given, as in :func:`fit`) and accuracy
    of ``model`` on ``data``.

    The model is evaluated in eval mode and returned to the mode it came in.

    Returns
    -------
    dict
        ``{"loss": float, "accuracy": float, "n": int}``.
    """
    dataset = _as_dataset(data, "data")
    if device is None:
        params = list(model.parameters())
        device = params[0].device if params else default_device()
    device = torch.device(device)
    was_training = model.training
    model.to(device).eval()
    try:
        mean_loss, accuracy = _run_epoch(model, _loader(dataset, batch_size, False, 0), device, loss_fn=loss)
    finally:
        model.train(was_training)
    return {"loss": mean_loss, "accuracy": accuracy, "n": len(dataset)}


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, *, batch_size: int = 256):
    """Logits ``(N, K)`` for images ``(N, C, H, W)``, in eval mode, on the model's device.

    A model that returns a list (one logits tensor per exit) gives a list of ``(N, K)``.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        out = [model(images[i : i + batch_size].to(device)) for i in range(0, len(images), batch_size)]
    finally:
        model.train(was_training)
    if isinstance(out[0], (list, tuple)):
        return [torch.cat([chunk[k].cpu() for chunk in out]) for k in range(len(out[0]))]
    return torch.cat([chunk.cpu() for chunk in out])
