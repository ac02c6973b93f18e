"""Exit rules that read saliency maps: has the decision "matured"?

The hypothesis under test: when an exit's map is concentrated on one region, or agrees
with the map of the exit before, the network has made up its mind and the sample may
leave. Each rule has the interface of :class:`~xaiexit.exits.rules.ExitRule`:

- :class:`ConcentrationRule`: leave when the map's spatial entropy (or moment of inertia)
  is at most the threshold;
- :class:`CoherenceRule`: leave when the map agrees with the *previous* exit's map
  (cosine or SSIM) at least as much as the threshold - known at inference;
- :class:`OracleCoherenceRule`: the same against the *final* exit's map. It needs the whole
  network before any decision, so it saves nothing; it is an upper reference, labelled so;
- :class:`Both`: leave when two rules both say so (say, softmax AND concentration).

Their cost is the exit's map (:func:`~xaiexit.exits.exit_saliency.saliency_macs`) plus the
score computed from it (:meth:`measure_macs`, declared per map value below).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from xaiexit.exits.coherence import cosine_similarity_maps, normalize_maps, ssim_maps
from xaiexit.exits.concentration import moment_of_inertia, spatial_entropy
from xaiexit.exits.exit_saliency import METHODS
from xaiexit.exits.rules import ExitRule

#: MACs per map value of each measure: entropy (normalise, p ln p), inertia (normalise,
#: p y, p x, p (dy^2 + dx^2)), cosine (a b, a a, b b), SSIM (five window means of
#: window^2 values each, 7x7 windows, plus the formula).
MEASURE_MACS_PER_VALUE = {"entropy": 2, "inertia": 5, "cosine": 3, "ssim": 5 * 49 + 10}


def _check_saliency(saliency: str) -> str:
    if saliency not in METHODS:
        raise ValueError(f"saliency must be one of {METHODS}, got {saliency!r}")
    return saliency


class ConcentrationRule(ExitRule):
    """Leave when the exit's map is concentrated: its ``measure`` is at most the threshold.

    Parameters
    ----------
    measure : ``"entropy"`` or ``"inertia"``
        :func:`~xaiexit.exits.spatial_entropy` or :func:`~xaiexit.exits.moment_of_inertia`.
    saliency : ``"cam"`` or ``"grad_cam"``
        Which map of the exit (see :mod:`xaiexit.exits.exit_saliency`).

    Examples
    --------
    >>> rule = ConcentrationRule("entropy")
    >>> blob, flat = torch.zeros(1, 8, 8), torch.ones(1, 8, 8)
    >>> blob[0, 2:4, 2:4] = 1.0
    >>> rule.exits(torch.zeros(2, 2), 0.8, maps=torch.cat([blob, flat]))
    tensor([ True, False])
    """

    higher_is_surer = False

    def __init__(self, measure: str = "entropy", saliency: str = "cam"):
        if measure not in ("entropy", "inertia"):
            raise ValueError(f"measure must be 'entropy' or 'inertia', got {measure!r}")
        self.measure, self.saliency = measure, _check_saliency(saliency)
        self.name = f"{measure} of {saliency.replace('_', '-')}"

    def _score(self, logits, maps, reference_maps):
        return (spatial_entropy if self.measure == "entropy" else moment_of_inertia)(maps)

    def measure_macs(self, map_pixels: int) -> int:
        return MEASURE_MACS_PER_VALUE[self.measure] * map_pixels

    def __repr__(self) -> str:
        return f"ConcentrationRule({self.measure!r}, saliency={self.saliency!r})"


class CoherenceRule(ExitRule):
    """Leave when the exit's map agrees with the previous exit's map (at least the threshold).

    At the first side exit there is no previous map: nobody leaves there under this rule.

    Parameters
    ----------
    measure : ``"cosine"`` or ``"ssim"``
        :func:`~xaiexit.exits.cosine_similarity_maps`, or
        :func:`~xaiexit.exits.ssim_maps` of the maps scaled to [0, 1] and upsampled to
        ``size x size`` (exit maps can be smaller than SSIM's 7x7 window).
    saliency : ``"cam"`` or ``"grad_cam"``
    size : int
        Side of the common size for SSIM.

    Examples
    --------
    >>> rule = CoherenceRule("cosine")
    >>> maps = torch.rand(3, 4, 4)
    >>> rule.score(torch.zeros(3, 2), maps, reference_maps=2 * maps).allclose(torch.ones(3, dtype=torch.float64))
    True
    >>> rule.score(torch.zeros(3, 2), maps, reference_maps=None)     # first side exit: never leave
    tensor([-inf, -inf, -inf], dtype=torch.float64)
    """

    reference = "previous"

    def __init__(self, measure: str = "cosine", saliency: str = "cam", size: int = 16):
        if measure not in ("cosine", "ssim"):
            raise ValueError(f"measure must be 'cosine' or 'ssim', got {measure!r}")
        self.measure, self.saliency, self.size = measure, _check_saliency(saliency), int(size)
        self.name = f"{measure} with the {self.reference} exit's {saliency.replace('_', '-')}"

    def _similarity(self, a, b):
        if self.measure == "cosine":
            return cosine_similarity_maps(a, b)
        a, b = (
            F.interpolate(
                normalize_maps(m.double())[:, None], size=(self.size, self.size), mode="bilinear", align_corners=False
            )[:, 0]
            for m in (a, b)
        )
        return ssim_maps(a, b)

    def _score(self, logits, maps, reference_maps):
        if reference_maps is None:
            return torch.full((len(maps),), self.never_score(), dtype=torch.float64)
        return self._similarity(maps, reference_maps)

    def measure_macs(self, map_pixels: int) -> int:
        pixels = self.size * self.size if self.measure == "ssim" else map_pixels
        return MEASURE_MACS_PER_VALUE[self.measure] * pixels

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.measure!r}, saliency={self.saliency!r})"


class OracleCoherenceRule(CoherenceRule):
    """Leave when the exit's map agrees with the **final** exit's map. An oracle's rule:
    the final map exists only after the whole network ran, so every sample pays for the
    full network and nothing is saved. Kept as an upper reference for what coherence
    could tell, never as a way to exit."""

    reference = "final"
    needs_final_exit = True

    def __init__(self, measure: str = "cosine", saliency: str = "cam", size: int = 16):
        super().__init__(measure, saliency, size)
        self.name = f"{measure} with the final exit's {saliency.replace('_', '-')} (oracle, saves nothing)"


class Both(ExitRule):
    """Leave when ``first`` leaves at ``first_threshold`` AND ``second`` is sure enough.

    The score is ``second``'s where ``first`` lets the sample go, and "never" elsewhere,
    so one threshold (``second``'s) is chosen as for any rule.

    Examples
    --------
    >>> from xaiexit.exits.rules import MaxSoftmax
    >>> rule = Both(MaxSoftmax(), ConcentrationRule("entropy"), first_threshold=0.9)
    >>> logits = torch.tensor([[4.0, 0.0], [0.1, 0.0]])
    >>> rule.score(logits, maps=torch.ones(2, 4, 4))                # the second is not sure enough
    tensor([1., inf], dtype=torch.float64)
    """

    def __init__(self, first: ExitRule, second: ExitRule, first_threshold: float):
        if first.reference == "final" or second.reference == "final":
            raise ValueError("Both() is for rules usable at inference; an oracle rule cannot be combined")
        self.first, self.second, self.first_threshold = first, second, float(first_threshold)
        self.higher_is_surer = second.higher_is_surer
        saliencies = {r.saliency for r in (first, second)} - {None}
        if len(saliencies) > 1:
            raise ValueError(f"the two rules read different maps ({sorted(saliencies)}); use one saliency method")
        self.saliency = saliencies.pop() if saliencies else None
        self.reference = first.reference or second.reference
        self.name = (
            f"{first.name} >= {self.first_threshold:g} and {second.name}"
            if first.higher_is_surer
            else f"{first.name} <= {self.first_threshold:g} and {second.name}"
        )

    def _score(self, logits, maps, reference_maps):
        gate = self.first.exits(logits, self.first_threshold, maps, reference_maps)
        scores = self.second.score(logits, maps, reference_maps).double()
        return torch.where(gate.to(scores.device), scores, torch.full_like(scores, self.never_score()))

    def measure_macs(self, map_pixels: int) -> int:
        return self.first.measure_macs(map_pixels) + self.second.measure_macs(map_pixels)

    def __repr__(self) -> str:
        return f"Both({self.first!r}, {self.second!r}, first_threshold={self.first_threshold})"
