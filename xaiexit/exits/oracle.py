"""The oracle: the earliest exit that gets each sample right, the bound on what exits can save."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch


class Oracle(NamedTuple):
    """``exit_index (N,)``: the earliest correct exit, or exit 0 when no exit is correct;
    ``correct (N,) bool``: whether that exit is right (some exit is);
    ``overthinking``: share of samples that an earlier exit gets right but the final exit
    gets wrong (Kaya et al.'s "destructive overthinking")."""

    exit_index: torch.Tensor
    correct: torch.Tensor
    overthinking: float


def oracle_exits(logits_per_exit: Sequence[torch.Tensor], y: torch.Tensor) -> Oracle:
    """The best any exit rule could do, knowing the labels.

    Every sample that some exit gets right goes to the earliest such exit; a sample that
    no exit gets right goes to exit 0 (it is wrong wherever it leaves, so it leaves where
    leaving is cheapest).

    What it bounds: among all per-sample exit assignments (every threshold rule is one),
    the oracle's accuracy ``correct.float().mean()`` is the largest reachable (the share of
    samples some exit gets right), and when the costs of leaving do not decrease with the
    exit index, its mean cost ``costs[exit_index].mean()`` is the least of any assignment
    that reaches that accuracy. Cheaper assignments exist, at a lower accuracy.

    Parameters
    ----------
    logits_per_exit : list of (N, K) tensors
        Every exit's logits, earliest first.
    y : (N,) long tensor
        True labels.

    Returns
    -------
    Oracle
        See :class:`Oracle`.

    Examples
    --------
    >>> early = torch.tensor([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0], [2.0, 0.0]])
    >>> final = torch.tensor([[2.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 0.0]])
    >>> oracle_exits([early, final], torch.tensor([0, 1, 1, 1]))
    Oracle(exit_index=tensor([0, 0, 1, 0]), correct=tensor([ True,  True,  True, False]), overthinking=0.25)
    """
    right = torch.stack([z.argmax(dim=1).cpu() == y.cpu() for z in logits_per_exit])  # (E, N)
    any_right = right.any(dim=0)
    exit_index = right.int().argmax(dim=0)  # the first True; 0 when no exit is right
    overthinking = (right[:-1].any(dim=0) & ~right[-1]).double().mean().item()
    return Oracle(exit_index.long(), any_right, overthinking)
