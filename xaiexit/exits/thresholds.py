"""Choosing exit thresholds on the validation split."""
from __future__ import annotations

from typing import Optional, Sequence

import torch

from xaiexit.exits.rules import ExitRule


def choose_threshold(
    scores: torch.Tensor,
    correct: torch.Tensor,
    target_accuracy: float,
    higher_is_surer: bool = True,
) -> float:
    """The threshold that lets the most samples leave while those leaving stay accurate.

    Parameters
    ----------
    scores : (N,) tensor
        A rule's score for each validation sample at one exit.
    correct : (N,) bool tensor
        Whether the exit's prediction is right for each sample.
    target_accuracy : float
        Required accuracy among the samples that leave.
    higher_is_surer : bool
        True when a high score means sure (leave when ``score >= threshold``).

    Returns
    -------
    threshold : float
        The loosest threshold whose leaving samples reach ``target_accuracy``; when
        none does, a threshold that lets nobody leave (``inf`` or ``-inf``).

    Examples
    --------
    >>> scores = torch.tensor([1.0, 0.875, 0.75, 0.5, 0.25])
    >>> correct = torch.tensor([True, True, False, True, False])
    >>> choose_threshold(scores, correct, 0.75)   # 3 of the top 4 are right
    0.5
    """
    if len(scores) != len(correct):
        raise ValueError(f"{len(scores)} scores but {len(correct)} correct flags")
    sign = 1.0 if higher_is_surer else -1.0
    s = sign * scores.detach().double().cpu()
    order = torch.argsort(s, descending=True)
    s, right = s[order], correct.cpu()[order].double()
    accuracy = right.cumsum(0) / torch.arange(1, len(s) + 1, dtype=torch.float64)  # of the top n
    # a cut between equal scores is impossible: only the last of each run of ties counts
    last_of_tie = torch.ones(len(s), dtype=torch.bool)
    last_of_tie[:-1] = s[1:] != s[:-1]
    ok = (accuracy >= target_accuracy) & last_of_tie
    if not bool(ok.any()):
        return float("inf") * sign
    n = int(torch.nonzero(ok).max())
    return float(sign * s[n])


def choose_thresholds(
    logits_per_exit: Sequence[torch.Tensor],
    y: torch.Tensor,
    rule: ExitRule,
    target_accuracy: float,
    temperatures: Optional[Sequence[float]] = None,
) -> list:
    """One threshold per side exit, chosen exit by exit on validation logits.

    At each side exit, among the samples that did not leave earlier, pick the loosest
    threshold whose leaving samples reach ``target_accuracy`` (:func:`choose_threshold`).

    Returns
    -------
    thresholds : list of float
        ``len(logits_per_exit) - 1`` values, for :func:`predict_with_exits`.
    """
    temps = [1.0] * len(logits_per_exit) if temperatures is None else list(temperatures)
    y = y.cpu()
    remaining = torch.ones(len(y), dtype=torch.bool)
    thresholds = []
    for k, logits in enumerate(logits_per_exit[:-1]):
        logits = logits.detach().cpu()[remaining] / temps[k]
        scores = rule.score(logits)
        correct = logits.argmax(dim=1) == y[remaining]
        threshold = choose_threshold(scores, correct, target_accuracy, rule.higher_is_surer)
        thresholds.append(threshold)
        leave = rule.exits(logits, threshold)
        remaining[torch.nonzero(remaining).squeeze(1)[leave]] = False
    return thresholds
