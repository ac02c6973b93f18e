"""Hidden tests of Lesson 4 (does a concentrated saliency map know when an exit may stop?).

Each ``check_<exercise>(fn)`` calls the learner's function on fresh, seeded inputs,
compares it with the reference in :mod:`xaiexit.exits` and with hand-computed answers,
and raises :class:`~xaiexit_grading.GradingError` with a message that names the mistake
(see :mod:`xaiexit_grading.map_concentration_mistakes`) when it is wrong.

No exercise takes a model; each must leave its inputs unchanged. The edge cases graded
here are the ones the exercise texts state: ties and "never" scores in ``auroc`` and an
empty group (nan), and all-zero maps (the uniform map's value) in both concentration
measures.

Examples
--------
>>> from xaiexit.exits import spatial_entropy
>>> check_spatial_entropy(spatial_entropy)   # the reference passes
"""

from __future__ import annotations

import math

import torch

from xaiexit import exits as reference
from xaiexit_grading import _map_checks as shared
from xaiexit_grading import map_concentration_mistakes as mistakes
from xaiexit_grading._checks import (
    GradingError,
    assert_untampered,
    number,
    same_number,
    seeded,
    show_number,
)

SEED = shared.SEED
_grader, _nan_means, _compare_maps, _call_on_copies = shared.for_lesson(mistakes)
_blobs = shared.blobs


# --- 1. auroc -----------------------------------------------------------------------------


def _compare_number(name: str, fn, args: tuple, expected: float, case: str, crash_means: str | None = None) -> None:
    """Call ``fn`` on copies of ``args``, check that it left them unchanged (naming an
    in-place change of the scores), then compare its number with ``expected``, naming the
    catalogued mistake whose output it equals."""
    out = _call_on_copies(name, fn, args, case, crash_means)
    value = number(out, name)
    if not same_number(value, expected):
        _grader.name_mistake(name, name, args, lambda wrong: same_number(number(wrong, name), value))
        raise GradingError(f"{name} returns {show_number(value)} {case}; the correct value is {show_number(expected)}")


def _ranked_scores(n: int, skill: float, levels: int | None = None) -> tuple:
    """``n`` scores (on ``levels`` values when given: many ties) and whether each sample is
    right, right more often the higher its score."""
    sure = torch.rand(n)
    if levels is not None:
        sure = (sure * (levels - 1)).round() / (levels - 1)
    positive = torch.rand(n) < (0.3 + skill * sure).clamp(max=0.95)
    positive[0], positive[1] = True, False  # both groups present
    return sure, positive


def check_auroc(fn) -> None:
    """Hidden test of ``auroc(scores, positive, higher_is_surer=True)``: the share of
    (positive, negative) pairs where the positive sample is surer, ties counting one half;
    nan when a group is empty or no score is finite."""
    assert_untampered()
    name = "auroc"
    with seeded(SEED):
        # by hand: right 0.9, 0.8, 0.5, 0.5 against wrong 0.8, 0.5, 0.2: 3 + 2.5 + 1.5 + 1.5 = 8.5 of 12
        scores = torch.tensor([0.9, 0.8, 0.8, 0.5, 0.5, 0.5, 0.2])
        positive = torch.tensor([True, True, False, False, True, True, False])
        _compare_number(
            name,
            fn,
            (scores, positive),
            8.5 / 12,
            "on scores [0.9, 0.8, 0.8, 0.5, 0.5, 0.5, 0.2] with the right samples at 0.9, 0.8, 0.5, 0.5 and the "
            "wrong ones at 0.8, 0.5, 0.2 (of the 12 pairs, 7 have the right sample surer and 3 are ties: "
            "(7 + 3 / 2) / 12 = 0.7083)",
        )
        for n, levels, higher in ((60, 6, True), (80, 5, False), (400, None, True), (300, None, False)):
            scores, positive = _ranked_scores(n, 0.5, levels)
            scores = scores if higher else 1.0 - scores
            ties = f"on {levels} levels (many ties)" if levels else "without ties"
            lower = "" if higher else " (a lower score is surer)"
            _compare_number(
                name,
                fn,
                (scores, positive, higher),
                reference.auroc(scores, positive, higher),
                f"on {n} random scores {ties} with higher_is_surer={higher}{lower}",
            )
        # 'never' scores: -inf ties with -inf and ranks below every finite score (inf when lower is surer)
        scores = torch.tensor([-math.inf, -math.inf, 0.5, 0.5, 0.2, -math.inf, 0.9])
        positive = torch.tensor([True, False, True, False, False, False, True])
        _compare_number(
            name,
            fn,
            (scores, positive),
            8.5 / 12,
            "on scores [-inf, -inf, 0.5, 0.5, 0.2, -inf, 0.9] with the right samples at -inf, 0.5 and 0.9 ('never' "
            "scores tie with each other and rank below every finite score: of the 12 pairs, 7 have the right "
            "sample surer and 3 are ties, (7 + 3 / 2) / 12 = 0.7083)",
        )
        _compare_number(
            name,
            fn,
            (-scores, positive, False),
            8.5 / 12,
            "on scores [inf, inf, -0.5, -0.5, -0.2, inf, -0.9] with higher_is_surer=False (inf is 'never' when "
            "lower is surer; 0.7083 again)",
        )
        # no pair to compare, or nothing ranked
        for scores, positive, case in (
            (torch.tensor([0.3, 0.9, 0.6]), torch.tensor([True, True, True]), "when every sample is right"),
            (torch.tensor([0.3, 0.9]), torch.tensor([False, False]), "when every sample is wrong"),
            (
                torch.full((4,), -math.inf),
                torch.tensor([True, False, True, False]),
                "when every score is -inf ('never': nothing is ranked)",
            ),
        ):
            _compare_number(
                name,
                fn,
                (scores, positive),
                math.nan,
                f"{case}; the AUROC is then undefined, nan",
                crash_means="crashes_when_a_group_is_empty",
            )


# --- 2. spatial_entropy ------------------------------------------------------------------


def check_spatial_entropy(fn) -> None:
    """Hidden test of ``spatial_entropy(heatmap)``: -sum p ln p / ln(H W) per map,
    p = map / sum, 0 ln 0 = 0, an all-zero map counting as uniform (1)."""
    assert_untampered()
    name = "spatial_entropy"
    with seeded(SEED):
        # by hand on 4 x 4 maps: one pixel gives 0, a uniform map 1, mass spread evenly over
        # 8 pixels ln 8 / ln 16 = 0.75, over 4 pixels ln 4 / ln 16 = 0.5
        maps = torch.zeros(4, 4, 4)
        maps[0, 1, 2] = 2.0
        maps[1] = 5.0
        maps[2, :2] = 1.0
        maps[3, 1:3, 2:] = 3.0
        _compare_maps(
            name,
            fn,
            (maps,),
            torch.tensor([0.0, 1.0, 0.75, 0.5], dtype=torch.float64),
            "on 4 x 4 maps worked by hand (all the mass on one pixel gives 0, a uniform map 1, "
            "mass spread evenly over 8 pixels ln 8 / ln 16 = 0.75, over 4 pixels 0.5)",
            screen=_nan_means(name, "log_of_zero"),
        )
        for maps, case in (
            (_blobs(3, 8, 8), "on random positive (3, 8, 8) maps"),
            (_blobs(2, 5, 7), "on random positive (2, 5, 7) maps"),
        ):
            _compare_maps(
                name, fn, (maps,), reference.spatial_entropy(maps), case, screen=_nan_means(name, "log_of_zero")
            )
        # sparse maps (many pixels without mass) and an all-zero map
        maps = _blobs(3, 6, 6) * (torch.rand(3, 6, 6) < 0.5)
        maps[1] = 0.0
        _compare_maps(
            name,
            fn,
            (maps,),
            reference.spatial_entropy(maps),
            "on sparse (3, 6, 6) maps, the second of them all zero (it counts as uniform: 1)",
            screen=_nan_means(name, "zero_map_nan"),
        )


# --- 3. moment_of_inertia ----------------------------------------------------------------


def check_moment_of_inertia(fn) -> None:
    """Hidden test of ``moment_of_inertia(heatmap)``: sum p ((y - cy)^2 + (x - cx)^2) with
    pixel centres in the unit square and the centroid (cy, cx) of p = map / sum."""
    assert_untampered()
    name = "moment_of_inertia"
    with seeded(SEED):
        # by hand on 8 x 8 maps (pixel centres at 1/16, 3/16, ..., 15/16)
        maps = torch.zeros(4, 8, 8)
        maps[0, 4, 4] = 2.0  # one pixel: 0
        maps[1, 0, 0] = maps[1, 0, 4] = 1.0  # two pixels 0.5 apart in x: 0.25^2 = 0.0625
        maps[2, 0, 0] = maps[2, 7, 7] = 3.0  # opposite corners: 2 * (7/16)^2 = 0.3828125
        maps[3] = 1.0  # uniform: 2 * (1 - 1/64) / 12 = 0.1640625
        _compare_maps(
            name,
            fn,
            (maps,),
            torch.tensor([0.0, 0.0625, 0.3828125, 0.1640625], dtype=torch.float64),
            "on 8 x 8 maps worked by hand (one pixel gives 0; two pixels half the width apart "
            "0.25^2 = 0.0625; two opposite corners 2 * (7/16)^2 = 0.3828; a uniform map "
            "2 * (1 - 1/64) / 12 = 0.1641)",
            screen=_nan_means(name, "zero_map_nan"),
        )
        for maps, case in (
            (_blobs(3, 8, 8), "on random positive (3, 8, 8) maps"),
            (_blobs(2, 6, 10), "on random positive (2, 6, 10) maps (not square)"),
        ):
            _compare_maps(
                name, fn, (maps,), reference.moment_of_inertia(maps), case, screen=_nan_means(name, "zero_map_nan")
            )
        maps = _blobs(3, 9, 9) * (torch.rand(3, 9, 9) < 0.6)
        maps[0] = 0.0
        _compare_maps(
            name,
            fn,
            (maps,),
            reference.moment_of_inertia(maps),
            "on sparse (3, 9, 9) maps, the first of them all zero (it counts as uniform: 2 * (1 - 1/81) / 12 = 0.1646)",
            screen=_nan_means(name, "zero_map_nan"),
        )


CHECKS = {
    "auroc": check_auroc,
    "spatial_entropy": check_spatial_entropy,
    "moment_of_inertia": check_moment_of_inertia,
}
