"""Choosing exit thresholds on the validation split."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch

from xaiexit.exits.rules import ExitRule, scores_at_exits

#: an accuracy within this of the target reaches it: ``3 / 10`` and ``0.1 * 3`` differ in the
#: last bit, and float rounding must not decide whether a cut is valid
TARGET_TOLERANCE = 1e-9


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
        The loosest threshold whose leaving samples reach ``target_accuracy`` (an accuracy
        at least ``target_accuracy - TARGET_TOLERANCE``, 1e-9, counts as reaching it);
        when none does, or there are no samples, a threshold that lets nobody leave
        (``inf``, or ``-inf`` when lower is surer). A score of ``-inf`` (``inf`` when lower
        is surer) means "never leave" (a rule that cannot decide there): it is never chosen
        as a threshold, so such samples never leave.

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
    # the least sure value (-inf here) is a rule's "never leave": it is never a threshold
    ok = (accuracy >= target_accuracy - TARGET_TOLERANCE) & last_of_tie & (s > -math.inf)
    if not bool(ok.any()):
        return float("inf") * sign
    n = int(torch.nonzero(ok).max())
    return float(sign * s[n])


class OperatingPoint(NamedTuple):
    """A threshold chosen on validation and what it does on test."""

    threshold: float  # chosen on validation only
    accuracy: float  # test accuracy among the test samples that leave (nan when none leaves)
    share: float  # share of the test samples that leave


def operating_point(
    val_scores: torch.Tensor,
    val_correct: torch.Tensor,
    test_scores: torch.Tensor,
    test_correct: torch.Tensor,
    target_accuracy: float,
    higher_is_surer: bool = True,
) -> OperatingPoint:
    """Choose an exit's threshold on validation, then measure it on test.

    The threshold is :func:`choose_threshold` of the **validation** scores and labels; the
    test split is only measured: among the test samples sure enough to leave, the share
    that is right, and the share that leaves. Choosing on test would report the accuracy
    the threshold was tuned to reach, not the accuracy it will have on new data.

    Parameters
    ----------
    val_scores, val_correct : (N_val,) tensors
        A rule's scores at one exit and whether the exit is right, on validation.
    test_scores, test_correct : (N_test,) tensors
        The same on test.
    target_accuracy, higher_is_surer
        As in :func:`choose_threshold`.

    Returns
    -------
    OperatingPoint
        ``(threshold, accuracy, share)``.

    Examples
    --------
    >>> val = torch.tensor([0.9, 0.8, 0.7, 0.6]), torch.tensor([True, True, False, True])
    >>> test = torch.tensor([0.95, 0.85, 0.75, 0.5]), torch.tensor([True, False, True, True])
    >>> operating_point(*val, *test, target_accuracy=1.0)     # leave when score >= 0.8
    OperatingPoint(threshold=0.800000011920929, accuracy=0.5, share=0.5)
    """
    threshold = choose_threshold(val_scores, val_correct, target_accuracy, higher_is_surer)
    leave = leaves(test_scores.detach().cpu(), threshold, higher_is_surer)
    right = test_correct.cpu().bool()
    accuracy = float(right[leave].double().mean()) if bool(leave.any()) else math.nan
    return OperatingPoint(threshold, accuracy, float(leave.double().mean()))


def thresholds_from_scores(
    scores_per_exit: Sequence[torch.Tensor],
    correct_per_exit: Sequence[torch.Tensor],
    target_accuracy: float,
    higher_is_surer: bool = True,
) -> list:
    """One threshold per side exit from validation scores, exit by exit.

    At side exit ``k``, among the samples that did not leave earlier, pick the loosest
    threshold whose leaving samples reach ``target_accuracy`` (:func:`choose_threshold`).

    Parameters
    ----------
    scores_per_exit : list of E - 1 ``(N,)`` tensors
        A rule's score of every validation sample at every side exit.
    correct_per_exit : list of E - 1 ``(N,)`` bool tensors
        Whether each side exit's prediction is right.
    target_accuracy, higher_is_surer
        As in :func:`choose_threshold`.
    """
    if len(scores_per_exit) != len(correct_per_exit):
        raise ValueError(f"{len(scores_per_exit)} exits of scores but {len(correct_per_exit)} of correct flags")
    n = len(scores_per_exit[0]) if scores_per_exit else 0
    remaining = torch.ones(n, dtype=torch.bool)
    thresholds = []
    for scores, correct in zip(scores_per_exit, correct_per_exit):
        scores, correct = scores.detach().cpu(), correct.cpu()
        threshold = choose_threshold(scores[remaining], correct[remaining], target_accuracy, higher_is_surer)
        thresholds.append(threshold)
        remaining &= ~leaves(scores, threshold, higher_is_surer)
    return thresholds


def leaves(scores: torch.Tensor, threshold: float, higher_is_surer: bool = True) -> torch.Tensor:
    """``(N,) bool``: the samples whose score is sure enough for ``threshold``."""
    return scores >= threshold if higher_is_surer else scores <= threshold


def exits_from_scores(
    scores_per_exit: Sequence[torch.Tensor], thresholds: Sequence[float], higher_is_surer: bool = True
) -> torch.Tensor:
    """``(N,) long``: the first side exit whose score passes its threshold, else the final exit
    (``len(scores_per_exit)``)."""
    n = len(scores_per_exit[0])
    exit_index = torch.full((n,), len(scores_per_exit), dtype=torch.long)
    undecided = torch.ones(n, dtype=torch.bool)
    for k, (scores, threshold) in enumerate(zip(scores_per_exit, thresholds)):
        leave = undecided & leaves(scores.detach().cpu(), threshold, higher_is_surer)
        exit_index[leave] = k
        undecided &= ~leave
    return exit_index


def choose_thresholds(
    logits_per_exit: Sequence[torch.Tensor],
    y: torch.Tensor,
    rule: ExitRule,
    target_accuracy: float,
    temperatures: Sequence[float] | None = None,
    maps_per_exit: Sequence[torch.Tensor] | None = None,
) -> list:
    """One threshold per side exit, chosen exit by exit on validation logits (and maps).

    At each side exit, among the samples that did not leave earlier, pick the loosest
    threshold whose leaving samples reach ``target_accuracy`` (:func:`choose_threshold`).
    Saliency rules also need ``maps_per_exit`` (``saliency_at_exits`` gives them).

    Returns
    -------
    thresholds : list of float
        ``len(logits_per_exit) - 1`` values, for :func:`predict_with_exits`.
    """
    scores = scores_at_exits(rule, logits_per_exit, maps_per_exit, temperatures)
    correct = [logits.detach().cpu().argmax(dim=1) == y.cpu() for logits in logits_per_exit[:-1]]
    return thresholds_from_scores(scores, correct, target_accuracy, rule.higher_is_surer)
