"""The oracle: the earliest exit that gets each sample right, the bound on what exits can save."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch


class Oracle(NamedTuple):
    """``exit_index (N,)``: earliest correct exit (the final one when none is correct);
    ``correct (N,) bool``: whether that exit is right (some exit is);
    ``overthinking``: share of samples that an earlier exit gets right but the final exit
    gets wrong (Kaya et al.'s "destructive overthinking")."""

    exit_index: torch.Tensor
    correct: torch.Tensor
    overthinking: float


def oracle_exits(logits_per_exit: Sequence[torch.Tensor], y: torch.Tensor) -> Oracle:
    """The best any exit rule could do, knowing the labels.

    Parameters
    ----------
    logits_per_exit : list of (N, K) tensors
        Every exit's logits, earliest first.
    y : (N,) long tensor
        True labels.

    Returns
    -------
    Oracle
        See :class:`Oracle`. Its mean cost (``exit_costs(...)[exit_index].mean()``) is
        the lower bound on compute at the oracle's accuracy (``correct.float().mean()``).

    Examples
    --------
    >>> early = torch.tensor([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0]])
    >>> final = torch.tensor([[2.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    >>> oracle_exits([early, final], torch.tensor([0, 1, 1]))
    Oracle(exit_index=tensor([0, 0, 1]), correct=tensor([True, True, True]), overthinking=0.3333333333333333)
    """
    right = torch.stack([z.argmax(dim=1).cpu() == y.cpu() for z in logits_per_exit])  # (E, N)
    any_right = right.any(dim=0)
    first_right = right.int().argmax(dim=0)  # first True; 0 when none is right
    last = len(logits_per_exit) - 1
    exit_index = torch.where(any_right, first_right, torch.full_like(first_right, last))
    overthinking = (right[:-1].any(dim=0) & ~right[-1]).double().mean().item()
    return Oracle(exit_index.long(), any_right, overthinking)
