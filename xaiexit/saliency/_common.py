"""Plumbing shared by every attribution method.

Each method in this package follows the same recipe:

1. check the input (``check_images``) and turn ``target`` into one class index per
   sample (``resolve_target``);
2. run the model inside ``frozen_eval(model)``: eval mode, parameters frozen, and
   both restored afterwards, whatever happens;
3. pick the score of the target class from the logits (``target_scores``) and, for
   gradient methods, differentiate it with respect to the input
   (``input_gradients``).

Keeping these steps here lets each method file show only its idea.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

Target = int | torch.Tensor | None

#: How many input numbers (``images * C * H * W``) one forward/backward pass may hold
#: when a method expands the batch (SmoothGrad's noisy copies, Integrated Gradients'
#: path points, Occlusion's occluded copies). 2**19 numbers are 2 MiB of float32
#: input; the activations kept for the backward pass are some tens of times more, so
#: memory stays bounded whatever ``n`` or ``steps`` is, and moderate chunks run
#: faster than one huge batch (see benchmarks/saliency_vs_captum.py). Examples: 42
#: images of 3x64x64, 3 images of 3x224x224.
CHUNK_BUDGET = 2**19


def check_images(x: torch.Tensor, name: str = "x") -> torch.Tensor:
    """Return ``x`` detached from any autograd graph; raise a helpful error unless it
    is a floating-point ``(B, C, H, W)`` tensor."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor shaped (B, C, H, W), got {type(x).__name__}")
    if x.dim() != 4:
        hint = "; add a batch dimension with x.unsqueeze(0)" if x.dim() == 3 else ""
        raise ValueError(f"{name} must be shaped (B, C, H, W), got {tuple(x.shape)}{hint}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {x.dtype}; convert it with x.float()")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch (B = 0); give at least one image")
    return x.detach()


def check_positive(value: int, name: str) -> int:
    """Return ``value`` as an int, or raise if it is not an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def default_batch_size(x: torch.Tensor) -> int:
    """Images per model call that keep one chunk under ``CHUNK_BUDGET`` input numbers."""
    return max(1, CHUNK_BUDGET // x[0].numel())


@contextmanager
def frozen_eval(model: nn.Module) -> Iterator[nn.Module]:
    """Run ``model`` in eval mode with frozen parameters, then restore both.

    Eval mode makes batch norm and dropout deterministic; freezing the parameters
    (``requires_grad=False``) means autograd only tracks the input, so no ``.grad``
    is ever written into the model. The previous train/eval mode of every
    submodule and every ``requires_grad`` flag come back on exit, even after an error.
    """
    modes = [(module, module.training) for module in model.modules()]
    flags = [(param, param.requires_grad) for param in model.parameters()]
    model.eval()
    for param, _ in flags:
        param.requires_grad_(False)
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training
        for param, requires_grad in flags:
            param.requires_grad_(requires_grad)


def resolve_target(model: nn.Module, x: torch.Tensor, target: Target) -> torch.Tensor:
    """Turn ``target`` into a ``(B,)`` long tensor of class indices on ``x.device``.

    ``None`` means "the class the model predicts for each sample" and costs one
    extra forward pass (without gradients). Call it inside ``frozen_eval``.
    """
    batch = x.shape[0]
    if target is None:
        with torch.no_grad():
            return model(x).argmax(dim=1)
    if isinstance(target, torch.Tensor):
        if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
            raise TypeError(f"target must hold integer class indices, got dtype {target.dtype}; use target.long()")
        if target.dim() == 0:
            target = target.expand(batch)
        if target.dim() != 1 or target.shape[0] != batch:
            raise ValueError(
                f"target has shape {tuple(target.shape)} but x holds {batch} samples; "
                f"give one class index per sample, shaped ({batch},), or a single int"
            )
        return target.to(device=x.device, dtype=torch.long)
    if isinstance(target, int) and not isinstance(target, bool):
        return torch.full((batch,), target, dtype=torch.long, device=x.device)
    raise TypeError(f"target must be an int, a (B,) tensor of class indices or None, got {type(target).__name__}")


def target_scores(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Pick ``logits[i, target[i]]`` for each sample: ``(B, K), (B,) -> (B,)``.

    The score is the raw logit (not the softmax probability), as in Simonyan et
    al. (2013): the softmax would mix in the other classes.
    """
    if logits.dim() != 2:
        raise ValueError(f"the model must return logits shaped (B, num_classes), got {tuple(logits.shape)}")
    num_classes = logits.shape[1]
    if target.min() < 0 or target.max() >= num_classes:
        bad = target[(target < 0) | (target >= num_classes)][0].item()
        raise ValueError(
            f"target class {bad} is out of range for a model with {num_classes} outputs; "
            f"use a class index between 0 and {num_classes - 1}"
        )
    return logits.gather(1, target[:, None]).squeeze(1)


def input_gradients(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Gradient of each sample's target score with respect to its input, shaped like ``x``.

    Samples do not interact in an eval-mode model, so the gradient of the *sum* of
    the scores gives every sample its own gradient in one backward pass.
    """
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        scores = target_scores(model(x), target)
        (grad,) = torch.autograd.grad(scores.sum(), x)
    return grad


def baseline_like(baseline: None | float | torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Baseline as a tensor with the shape, dtype and device of ``x``."""
    if baseline is None:
        return torch.zeros_like(x)
    if isinstance(baseline, (int, float)) and not isinstance(baseline, bool):
        return torch.full_like(x, float(baseline))
    if not isinstance(baseline, torch.Tensor):
        raise TypeError(f"baseline must be None, a float or a tensor, got {type(baseline).__name__}")
    try:
        return baseline.to(device=x.device, dtype=x.dtype).expand_as(x)
    except RuntimeError:
        raise ValueError(
            f"baseline of shape {tuple(baseline.shape)} does not broadcast to x of shape {tuple(x.shape)}; "
            "use a float, a (C, H, W) or (B, C, H, W) tensor"
        ) from None
