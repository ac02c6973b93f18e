"""Exit rules: a score per sample at an exit, and a threshold that decides who leaves.

Every rule has the same interface:

- ``rule.score(logits) -> (B,)``: how sure the exit is about each sample;
- ``rule.exits(logits, threshold) -> (B,) bool``: who leaves here.

For ``MaxSoftmax`` and ``Margin`` a *higher* score is surer (leave when
``score >= threshold``); for ``Entropy`` a *lower* one (leave when
``score <= threshold``). ``rule.higher_is_surer`` says which.
"""
from __future__ import annotations

import torch


def max_softmax_score(logits: torch.Tensor) -> torch.Tensor:
    r"""Largest softmax probability of each sample: ``(B, K) -> (B,)``, in [1/K, 1].

    .. math:: s = \max_k \mathrm{softmax}(z)_k

    Examples
    --------
    >>> max_softmax_score(torch.tensor([[0.0, 0.0], [0.0, 100.0]]))
    tensor([0.5000, 1.0000])
    """
    return torch.softmax(logits, dim=1).amax(dim=1)


def entropy_score(logits: torch.Tensor) -> torch.Tensor:
    r"""Entropy of each sample's softmax distribution, in nats: ``(B, K) -> (B,)``, in [0, ln K].

    .. math:: H = -\sum_k p_k \ln p_k, \quad p = \mathrm{softmax}(z)

    ``log_softmax`` gives :math:`\ln p_k` without ever taking the log of 0: a
    probability that underflows to 0 contributes :math:`0 \cdot (\text{finite}) = 0`,
    its correct limit; a class masked with a logit of ``-inf`` (where
    :math:`0 \cdot (-\infty)` would be nan) contributes 0 as well.

    Examples
    --------
    >>> entropy_score(torch.tensor([[0.0, 0.0], [0.0, 1000.0], [0.0, -float("inf")]]))  # ln 2, 0, 0
    tensor([0.6931, 0.0000, 0.0000])
    """
    log_p = torch.log_softmax(logits, dim=1)
    p = log_p.exp()
    # a logit of -inf (a masked class) has p = 0 and ln p = -inf: 0 * -inf is nan, its limit is 0
    terms = torch.where(p > 0, -(p * log_p), torch.zeros_like(p))  # negated: no -0.0 for a sure sample
    return terms.sum(dim=1)


def margin_score(logits: torch.Tensor) -> torch.Tensor:
    """Gap between the two largest softmax probabilities: ``(B, K) -> (B,)``, in [0, 1].

    Examples
    --------
    >>> margin_score(torch.tensor([[0.0, 0.0, -1e9], [0.0, 100.0, 0.0]]))
    tensor([0., 1.])
    """
    top2 = torch.softmax(logits, dim=1).topk(2, dim=1).values
    return top2[:, 0] - top2[:, 1]


class ExitRule:
    """Base class: ``score`` a batch of logits, and leave when the score is sure enough.

    Calibrate the logits before a rule sees them by dividing them by a temperature
    (``predict_with_exits(..., temperatures=...)``).
    """

    name = "rule"
    higher_is_surer = True

    def _score(self, logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def score(self, logits: torch.Tensor) -> torch.Tensor:
        """``(B, K)`` logits -> ``(B,)`` scores."""
        if logits.dim() != 2:
            raise ValueError(f"logits must be shaped (B, K), got {tuple(logits.shape)}")
        return self._score(logits)

    def exits(self, logits: torch.Tensor, threshold: float) -> torch.Tensor:
        """``(B,)`` bool: True for the samples sure enough to leave at this exit."""
        score = self.score(logits)
        return score >= threshold if self.higher_is_surer else score <= threshold

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MaxSoftmax(ExitRule):
    """Leave when the largest softmax probability reaches the threshold (SDN)."""

    name = "max softmax"

    def _score(self, logits):
        return max_softmax_score(logits)


class Entropy(ExitRule):
    """Leave when the softmax entropy falls to the threshold or below (BranchyNet)."""

    name = "entropy"
    higher_is_surer = False

    def _score(self, logits):
        return entropy_score(logits)


class Margin(ExitRule):
    """Leave when the top-1 minus top-2 probability reaches the threshold."""

    name = "margin"

    def _score(self, logits):
        return margin_score(logits)
