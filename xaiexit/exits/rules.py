"""Exit rules: a score per sample at an exit, and a threshold that decides who leaves.

Every rule has the same interface:

- ``rule.score(logits, maps=None, reference_maps=None) -> (B,)``: how sure the exit is
  about each sample (softmax rules read the logits only; saliency rules, in
  :mod:`xaiexit.exits.saliency_rules`, read the exit's map too);
- ``rule.exits(logits, threshold, maps=None, reference_maps=None) -> (B,) bool``: who
  leaves here.

For ``MaxSoftmax`` and ``Margin`` a *higher* score is surer (leave when
``score >= threshold``); for ``Entropy`` a *lower* one (leave when
``score <= threshold``). ``rule.higher_is_surer`` says which.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

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
    """Base class: ``score`` the samples at an exit, and leave when the score is sure enough.

    One call shape for every rule: ``rule.score(logits, maps=None, reference_maps=None)``.

    - ``logits`` ``(B, K)``: the exit's logits (every rule gets them);
    - ``maps`` ``(B, h, w)``: the exit's saliency maps, for rules with ``saliency`` set
      (``"cam"`` or ``"grad_cam"``, see :mod:`xaiexit.exits.exit_saliency`);
    - ``reference_maps``: another exit's maps, for rules with ``reference`` set
      (``"previous"``: the exit before, ``None`` at the first side exit; ``"final"``: the
      final exit's, which only an oracle has before the network has run to its end).

    Calibrate logits before a rule sees them by dividing them by a temperature
    (``predict_with_exits(..., temperatures=...)``); :class:`Calibrated` marks a rule whose
    temperatures :func:`~xaiexit.exits.evaluate_exit_rules` fits on validation.
    """

    name = "rule"
    higher_is_surer = True
    saliency = None  # None: logits only; "cam" or "grad_cam": reads the exit's map
    reference = None  # None, "previous" or "final": the other exit's map it compares with
    calibrated = False
    needs_final_exit = False  # True: cannot decide before the whole network ran (an oracle)

    def _score(self, logits, maps, reference_maps) -> torch.Tensor:
        raise NotImplementedError

    def score(self, logits: torch.Tensor, maps=None, reference_maps=None) -> torch.Tensor:
        """``(B, K)`` logits (and ``(B, h, w)`` maps for saliency rules) -> ``(B,)`` scores."""
        if logits.dim() != 2:
            raise ValueError(f"logits must be shaped (B, K), got {tuple(logits.shape)}")
        if self.saliency is not None and maps is None:
            raise ValueError(
                f"{self.name!r} scores saliency maps: pass maps=(B, h, w) {self.saliency} maps of "
                "the same samples (saliency_at_exits or exit_maps computes them)"
            )
        return self._score(logits, maps, reference_maps)

    def exits(self, logits: torch.Tensor, threshold: float, maps=None, reference_maps=None) -> torch.Tensor:
        """``(B,)`` bool: True for the samples sure enough to leave at this exit."""
        score = self.score(logits, maps, reference_maps)
        return score >= threshold if self.higher_is_surer else score <= threshold

    def never_score(self) -> float:
        """The score of a sample that must not leave: the least sure value (``-inf`` when a
        higher score is surer, ``inf`` otherwise)."""
        return -math.inf if self.higher_is_surer else math.inf

    def closed_threshold(self) -> float:
        """A threshold that lets no sample leave: no score, ``never_score()`` included,
        passes it (``inf`` when a higher score is surer, ``-inf`` otherwise)."""
        return -self.never_score()

    def measure_macs(self, map_pixels: int) -> int:
        """MACs of turning one exit's map of ``map_pixels`` values into a score (0 for
        rules that read logits only)."""
        return 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MaxSoftmax(ExitRule):
    """Leave when the largest softmax probability reaches the threshold (SDN)."""

    name = "max softmax"

    def _score(self, logits, maps=None, reference_maps=None):
        return max_softmax_score(logits)


class Entropy(ExitRule):
    """Leave when the softmax entropy falls to the threshold or below (BranchyNet)."""

    name = "entropy"
    higher_is_surer = False

    def _score(self, logits, maps=None, reference_maps=None):
        return entropy_score(logits)


class Margin(ExitRule):
    """Leave when the top-1 minus top-2 probability reaches the threshold."""

    name = "margin"

    def _score(self, logits, maps=None, reference_maps=None):
        return margin_score(logits)


class Calibrated(ExitRule):
    """``rule`` applied to temperature-scaled logits; the temperatures (one per exit) are
    fitted on validation by whoever evaluates it (``evaluate_exit_rules``)."""

    calibrated = True

    def __init__(self, rule: ExitRule):
        self.rule = rule
        self.name = f"{rule.name} (calibrated)"
        self.higher_is_surer, self.saliency, self.reference = rule.higher_is_surer, rule.saliency, rule.reference
        self.needs_final_exit = rule.needs_final_exit

    def _score(self, logits, maps, reference_maps):
        return self.rule._score(logits, maps, reference_maps)

    def measure_macs(self, map_pixels: int) -> int:
        return self.rule.measure_macs(map_pixels)

    def __repr__(self) -> str:
        return f"Calibrated({self.rule!r})"


def scores_at_exits(
    rule: ExitRule,
    logits_per_exit: Sequence[torch.Tensor],
    maps_per_exit: Sequence[torch.Tensor] | None = None,
    temperatures: Sequence[float] | None = None,
) -> list:
    """The rule's score of every sample at every side exit: a list of ``E - 1`` ``(N,)`` tensors.

    Each exit's logits are divided by its temperature first (if given); saliency rules get
    that exit's maps and, when they compare maps, the previous or the final exit's maps
    (``None`` at the first side exit for ``"previous"``).
    """
    if rule.saliency is not None and maps_per_exit is None:
        raise ValueError(f"{rule.name!r} needs every exit's maps: pass maps_per_exit (saliency_at_exits gives them)")
    temps = [1.0] * len(logits_per_exit) if temperatures is None else list(temperatures)
    scores = []
    for k in range(len(logits_per_exit) - 1):
        maps = reference = None
        if maps_per_exit is not None:
            maps = maps_per_exit[k]
            if rule.reference == "previous":
                reference = maps_per_exit[k - 1] if k > 0 else None
            elif rule.reference == "final":
                reference = maps_per_exit[-1]
        scores.append(rule.score(logits_per_exit[k] / temps[k], maps, reference).cpu())
    return scores
