"""Early-exit inference that really stops, and its simulation from all exits' logits."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from xaiexit.exits.exit_saliency import INPUT_METHODS, SMOOTHGRAD_NOISE, SMOOTHGRAD_SAMPLES, _smoothgrad_map, exit_maps
from xaiexit.exits.rules import ExitRule, scores_at_exits
from xaiexit.exits.thresholds import exits_from_scores
from xaiexit.models.early_exit import EarlyExitCNN


def _check_thresholds(model_exits: int, thresholds: Sequence[float], temperatures) -> list:
    if len(thresholds) != model_exits - 1:
        raise ValueError(
            f"{len(thresholds)} thresholds for a model with {model_exits} exits: give one per side exit "
            f"({model_exits - 1}); the final exit takes every sample still left"
        )
    if temperatures is None:
        return [1.0] * model_exits
    if len(temperatures) != model_exits:
        raise ValueError(f"{len(temperatures)} temperatures for {model_exits} exits; give one per exit")
    return [float(t) for t in temperatures]


def predict_with_exits(
    model: EarlyExitCNN,
    x: torch.Tensor,
    rule: ExitRule,
    thresholds: Sequence[float],
    temperatures: Sequence[float] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Classify a batch, letting each sample leave at the first exit sure enough of it.

    Samples that exit leave the batch; only the rest run through the next block, so
    compute is really saved (no exit is evaluated for a sample that has left).

    Parameters
    ----------
    model : EarlyExitCNN
        Run in eval mode (restored after).
    x : (B, C, H, W) tensor
        Input images.
    rule : ExitRule
        Decides at each side exit who leaves (``rule.exits(logits, threshold)``). A
        saliency rule gets each exit's map too, computed only for the samples still in the
        batch (and the previous exit's map, for a coherence rule); a gradient map is the
        backward pass from the exit's logit to those samples' input pixels (SmoothGrad: its
        noisy copies run up to the exit). A rule that needs the final exit's map
        (``rule.needs_final_exit``) cannot decide early and is refused.
    thresholds : sequence of float
        One per side exit (``model.num_exits - 1``); the final exit takes everyone left.
    temperatures : sequence of float, optional
        One per exit; each exit's logits are divided by it before the rule sees them.

    Returns
    -------
    predictions : (B,) long tensor
        Predicted class of each sample (argmax of the logits where it left).
    exit_index : (B,) long tensor
        0-based exit where each sample left.

    Examples
    --------
    >>> from xaiexit.exits import MaxSoftmax
    >>> model = EarlyExitCNN().eval()
    >>> predictions, exit_index = predict_with_exits(model, torch.rand(8, 3, 64, 64), MaxSoftmax(), [0.9, 0.9])
    >>> predictions.shape, exit_index.shape
    (torch.Size([8]), torch.Size([8]))
    """
    temperatures = _check_thresholds(model.num_exits, thresholds, temperatures)
    if rule.needs_final_exit:
        raise ValueError(
            f"{rule.name!r} compares with the final exit's map, which exists only after the whole "
            "network ran: it cannot stop early. Evaluate it with simulate_exits / evaluate_exit_rules"
        )
    batch = x.shape[0]
    predictions = torch.full((batch,), -1, dtype=torch.long, device=x.device)
    exit_index = torch.full((batch,), -1, dtype=torch.long, device=x.device)
    remaining = torch.arange(batch, device=x.device)  # original index of each row of h
    was_training = model.training
    model.eval()
    on_input = rule.saliency == "gradient"  # the backward pass reaches the image: keep the graph from it
    try:
        with torch.set_grad_enabled(on_input):
            leaf = x.detach().requires_grad_(on_input)
            h, k, previous = leaf, 0, None
            heads = list(model.exits.values())
            for i, block in enumerate(model.features, start=1):
                h = block(h)
                if i not in model.exit_blocks:
                    continue
                if k == model.num_exits - 1:
                    logits = heads[k](h).detach()
                    leave = torch.ones(len(h), dtype=torch.bool, device=x.device)
                elif rule.saliency is None:
                    logits = heads[k](h).detach()
                    leave = rule.exits(logits / temperatures[k], thresholds[k])
                else:
                    logits, maps = _exit_logits_and_maps(model, k, h, leaf, x[remaining], remaining, rule.saliency)
                    leave = rule.exits(logits / temperatures[k], thresholds[k], maps, previous).to(x.device)
                    previous = maps[~leave]
                predictions[remaining[leave]] = logits[leave].argmax(dim=1)
                exit_index[remaining[leave]] = k
                remaining, h = remaining[~leave], h[~leave]
                k += 1
                if len(remaining) == 0:
                    break
    finally:
        model.train(was_training)
    return predictions, exit_index


def _exit_logits_and_maps(model, k, h, leaf, x_here, rows, method):
    """Exit ``k``'s logits and maps for the samples still in the batch (``rows`` of the
    original batch, whose features are ``h`` and images ``x_here``)."""
    head = list(model.exits.values())[k]
    if method not in INPUT_METHODS:
        return exit_maps(head, h.detach(), method)
    logits = head(h)
    predicted = logits.argmax(dim=1)
    if method == "gradient":
        (grad,) = torch.autograd.grad(logits.gather(1, predicted[:, None]).sum(), leaf, retain_graph=True)
        return logits.detach(), grad[rows].abs().amax(dim=1)
    generator = torch.Generator(device=x_here.device).manual_seed(0)
    maps = _smoothgrad_map(model, k, x_here, predicted, SMOOTHGRAD_SAMPLES, SMOOTHGRAD_NOISE, generator)
    return logits.detach(), maps.to(x_here.device)


def simulate_exits(
    logits_per_exit: Sequence[torch.Tensor],
    rule: ExitRule,
    thresholds: Sequence[float],
    temperatures: Sequence[float] | None = None,
    maps_per_exit: Sequence[torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The decisions of :func:`predict_with_exits`, from logits already computed at every exit.

    Cheap for sweeping thresholds (one forward pass for the whole sweep); it gives the
    same predictions and exits, but of course saves no compute itself.

    Parameters
    ----------
    logits_per_exit : list of (N, K) tensors
        Every exit's logits for the same N samples, earliest first.
    rule, thresholds, temperatures
        As in :func:`predict_with_exits`.
    maps_per_exit : list of (N, h_k, w_k) tensors, optional
        Every exit's maps, for saliency rules (``saliency_at_exits`` gives them).

    Returns
    -------
    predictions, exit_index : (N,) long tensors

    Examples
    --------
    >>> from xaiexit.exits import MaxSoftmax
    >>> logits = [torch.tensor([[3.0, 0.0], [0.1, 0.0]]), torch.tensor([[0.0, 1.0], [0.0, 1.0]])]
    >>> simulate_exits(logits, MaxSoftmax(), [0.9])
    (tensor([0, 1]), tensor([0, 1]))
    """
    temperatures = _check_thresholds(len(logits_per_exit), thresholds, temperatures)
    n = logits_per_exit[0].shape[0]
    scores = scores_at_exits(rule, logits_per_exit, maps_per_exit, temperatures)
    exit_index = exits_from_scores(scores, thresholds, rule.higher_is_surer)
    stacked = torch.stack([z.detach().cpu() for z in logits_per_exit])  # (E, N, K)
    predictions = stacked[exit_index, torch.arange(n)].argmax(dim=1)
    return predictions, exit_index
