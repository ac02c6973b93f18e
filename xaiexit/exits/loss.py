"""The joint loss that trains every exit of an early-exit network at once."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def early_exit_loss(
    logits_per_exit: Sequence[torch.Tensor],
    y: torch.Tensor,
    weights: Sequence[float] | None = None,
) -> torch.Tensor:
    r"""Weighted sum of every exit's cross-entropy.

    Parameters
    ----------
    logits_per_exit : list of (B, K) tensors
        One logits tensor per exit, earliest first (what ``EarlyExitCNN`` returns).
    y : (B,) long tensor
        Class labels.
    weights : sequence of float, optional
        One weight per exit; default all 1 (BranchyNet reports that giving early exits
        more weight can help; SDN ramps the early weights up during training).

    Returns
    -------
    loss : scalar tensor
        :math:`L = \sum_n w_n \, \mathrm{CE}(z_n, y)`, each cross-entropy a mean over
        the batch.

    Examples
    --------
    >>> logits = [torch.zeros(4, 2), torch.zeros(4, 2)]
    >>> early_exit_loss(logits, torch.tensor([0, 1, 0, 1]), weights=[1.0, 0.5])  # 1.5 * ln 2
    tensor(1.0397)
    """
    if isinstance(logits_per_exit, torch.Tensor) or len(logits_per_exit) == 0:
        raise ValueError("logits_per_exit must be a non-empty list with one (B, K) logits tensor per exit")
    if weights is None:
        weights = [1.0] * len(logits_per_exit)
    if len(weights) != len(logits_per_exit):
        raise ValueError(f"{len(weights)} weights for {len(logits_per_exit)} exits; give one weight per exit")
    return sum(w * F.cross_entropy(z, y) for w, z in zip(weights, logits_per_exit))
