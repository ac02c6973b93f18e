"""Hidden tests of Lesson 5 (exit rules from saliency: agreement and the honest comparison).

Each ``check_<exercise>(fn)`` calls the learner's function on fresh, seeded inputs,
compares it with the reference in :mod:`xaiexit.exits` and with hand-computed answers,
and raises :class:`~xaiexit_grading.GradingError` with a message that names the mistake
(see :mod:`xaiexit_grading.exit_rules_mistakes`) when it is wrong.

No exercise takes a model; each must leave its inputs unchanged. One exercise builds on
an earlier one: ``coherence_scores`` calls the learner's ``cosine_similarity_maps``. While
it is tested the reference takes the earlier answer's place, so one mistake costs one
exercise only. The edge cases graded here are the ones the exercise texts state: maps
smaller than the SSIM window (ValueError), "never" scores, the tolerance on the target and
no samples at all in ``choose_threshold``.

Examples
--------
>>> from xaiexit.exits import cosine_similarity_maps
>>> check_cosine_similarity_maps(cosine_similarity_maps)   # the reference passes
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from xaiexit import exits as reference
from xaiexit_grading import _map_checks as shared
from xaiexit_grading import exit_rules_mistakes as mistakes
from xaiexit_grading._checks import (
    GradingError,
    _type,
    assert_untampered,
    call,
    number,
    reference_helpers,
    same_number,
    seeded,
    show_number,
    unchanged,
)

SEED = shared.SEED
_grader, _nan_means, _compare_maps, _call_on_copies = shared.for_lesson(mistakes)
_blobs = shared.blobs


# --- 1. cosine_similarity_maps -----------------------------------------------------------


def check_cosine_similarity_maps(fn) -> None:
    """Hidden test of ``cosine_similarity_maps(a, b)``: after ``resize_to_common`` (bilinear,
    to the larger size), sum(a b) / (||a|| ||b||) per sample, 0 for a pair with an
    all-zero map."""
    assert_untampered()
    name = "cosine_similarity_maps"
    with seeded(SEED):
        # by hand on 2 x 2 maps: a and 5a give 1, maps with no overlap 0, [[1, 1], [0, 0]]
        # and [[1, 0], [0, 0]] give 1 / sqrt(2)
        a = torch.tensor([[[1.0, 2.0], [3.0, 4.0]], [[1.0, 0.0], [0.0, 0.0]], [[1.0, 1.0], [0.0, 0.0]]])
        b = torch.tensor([[[5.0, 10.0], [15.0, 20.0]], [[0.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 0.0]]])
        _compare_maps(
            name,
            fn,
            (a, b),
            torch.tensor([1.0, 0.0, 1 / math.sqrt(2)], dtype=torch.float64),
            "on 2 x 2 maps worked by hand (a map and 5 times it give 1, maps with no overlap 0, "
            "[[1, 1], [0, 0]] and [[1, 0], [0, 0]] give 1 / sqrt(2) = 0.7071)",
        )
        a, b = _blobs(3, 6, 6), _blobs(3, 6, 6)
        _compare_maps(name, fn, (a, b), reference.cosine_similarity_maps(a, b), "on random (3, 6, 6) maps")
        # maps of two resolutions, as at two exits
        a, b = _blobs(3, 8, 8), _blobs(3, 4, 4)
        for args, case in (
            ((a, b), "on (3, 8, 8) maps against (3, 4, 4) maps"),
            ((b, a), "on (3, 4, 4) maps against (3, 8, 8) maps"),
            (
                (_blobs(2, 8, 4), _blobs(2, 4, 8)),
                "on (2, 8, 4) maps against (2, 4, 8) maps (both are resized, to 8 x 8)",
            ),
        ):
            _compare_maps(name, fn, args, reference.cosine_similarity_maps(*args), case, crash_means="no_resize")
        # all-zero maps score 0
        a, b = _blobs(3, 8, 8), _blobs(3, 4, 4)
        a[0], b[2] = 0.0, 0.0
        _compare_maps(
            name,
            fn,
            (a, b),
            reference.cosine_similarity_maps(a, b),
            "on (3, 8, 8) against (3, 4, 4) maps where the first pair has an all-zero map in a "
            "and the third in b (those pairs score 0)",
            screen=_nan_means(name, "zero_map_nan"),
        )


# --- 2. ssim_maps ------------------------------------------------------------------------


def _related(a: torch.Tensor, share: float = 0.6) -> torch.Tensor:
    """Maps that partly agree with ``a``: ``share`` of ``a`` plus noise, in [0, 1]."""
    return (share * a + (1 - share) * torch.rand_like(a)).clamp(0.0, 1.0)


def check_ssim_maps(fn) -> None:
    """Hidden test of ``ssim_maps(a, b, data_range=1.0, window=7)``: after
    ``resize_to_common``, the mean SSIM over the window x window patches fully inside the
    maps (uniform window, sample (co)variances, C1 = (0.01 L)^2, C2 = (0.03 L)^2)."""
    assert_untampered()
    name = "ssim_maps"
    with seeded(SEED):
        # by hand on flat 9 x 9 maps: every patch of 0.5 against 0.25 gives
        # (2 * 0.125 + C1) / (0.25 + 0.0625 + C1) = 0.2501 / 0.3126; equal maps give 1
        a, b = torch.zeros(3, 9, 9), torch.zeros(3, 9, 9)
        a[0], b[0] = 0.5, 0.25
        a[1] = b[1] = torch.rand(9, 9)
        _compare_maps(
            name,
            fn,
            (a, b),
            torch.tensor([0.2501 / 0.3126, 1.0, 1.0], dtype=torch.float64),
            "on 9 x 9 maps worked by hand (flat maps of 0.5 and 0.25 give "
            "(2 * 0.125 + C1) / (0.25 + 0.0625 + C1) = 0.8001, equal maps 1, two all-zero maps 1)",
            screen=_nan_means(name, "no_constants"),
        )
        a = torch.rand(3, 12, 12)
        b = _related(a)
        _compare_maps(
            name,
            fn,
            (a, b),
            reference.ssim_maps(a, b),
            "on related random (3, 12, 12) maps in [0, 1]",
            screen=_nan_means(name, "no_constants"),
        )
        # maps of two resolutions, as at two exits
        a = torch.rand(2, 16, 16)
        b = _related(F.avg_pool2d(a[:, None], 2)[:, 0])
        _compare_maps(
            name,
            fn,
            (a, b),
            reference.ssim_maps(a, b),
            "on (2, 16, 16) maps against (2, 8, 8) maps",
            screen=_nan_means(name, "no_constants"),
            crash_means="no_resize",
        )
        # another data_range and another window
        a = 4 * torch.rand(2, 10, 10)
        b = 4 * _related(a / 4)
        _compare_maps(
            name,
            fn,
            (a, b, 4.0),
            reference.ssim_maps(a, b, 4.0),
            "on (2, 10, 10) maps in [0, 4] with data_range=4.0",
            screen=_nan_means(name, "no_constants"),
        )
        a = torch.rand(2, 9, 11)
        b = _related(a, 0.4)
        _compare_maps(
            name,
            fn,
            (a, b, 1.0, 5),
            reference.ssim_maps(a, b, 1.0, 5),
            "on (2, 9, 11) maps with window=5",
            screen=_nan_means(name, "no_constants"),
        )
        # maps smaller than the window: no window fits, a ValueError
        a, b = torch.rand(2, 4, 4), torch.rand(2, 6, 6)
        given = (a.clone(), b.clone())
        try:
            out = fn(*given)
        except ValueError:
            unchanged(name, (a, b), given)
            return
        except NotImplementedError:
            raise GradingError(f"{name} is not implemented yet (it still raises NotImplementedError)") from None
        except Exception as exc:  # noqa: BLE001 - any other failure of learner code is graded
            raise GradingError(
                f"{name} {mistakes.message(name, 'no_size_check')} (on (2, 4, 4) against (2, 6, 6) maps with "
                f"window=7 it raised {_type(exc).__name__}: {exc})"
            ) from None
        raise GradingError(
            f"{name} {mistakes.message(name, 'no_size_check')} (on (2, 4, 4) against (2, 6, 6) maps with "
            f"window=7 it returned {_type(out).__name__} instead of raising a ValueError)"
        )


# --- 3. coherence_scores -----------------------------------------------------------------


def _compare_coherence(name: str, fn, maps: list, ref: str | None, case: str) -> None:
    expected = reference.coherence_scores(maps, "previous" if ref is None else ref)
    args = (maps,) if ref is None else (maps, ref)
    given = [m.clone() for m in maps]
    out = call(fn, name, given) if ref is None else call(fn, name, given, reference=ref)
    unchanged(name, (maps,), (given,))
    if _type(out) in (list, tuple) and len(out) and all(_type(row) is torch.Tensor for row in out):
        raise GradingError(f"{name} {mistakes.message(name, 'returns_list')}")
    _grader.compare_output(name, out, expected, args, case)


def check_coherence_scores(fn) -> None:
    """Hidden test of ``coherence_scores(maps_per_exit, reference="previous")``: an
    (E - 1, B) tensor; row j is the cosine of exit j + 1 with exit j ("previous") or of
    side exit j with the final exit ("final"); any other reference raises ValueError.

    A ``cosine_similarity_maps`` the learner's function calls is replaced by the
    reference during this test: Exercise 1 (the cosine) is graded on its own.
    """
    assert_untampered()
    name = "coherence_scores"
    with seeded(SEED), reference_helpers(fn, cosine_similarity_maps=reference.cosine_similarity_maps):
        maps = [_blobs(5, 8, 8), _blobs(5, 8, 8), _blobs(5, 4, 4), _blobs(5, 4, 4)]
        sizes = "8 x 8, 8 x 8, 4 x 4 and 4 x 4 maps of 5 samples"
        _compare_coherence(
            name,
            fn,
            maps,
            None,
            f"on 4 exits with {sizes} and the default reference (row j compares exit j + 1 with exit j)",
        )
        _compare_coherence(
            name,
            fn,
            maps,
            "final",
            f"on 4 exits with {sizes} and reference='final' (row j compares exit j with the last exit)",
        )
        _compare_coherence(
            name,
            fn,
            [_blobs(3, 6, 6), _blobs(3, 3, 3)],
            "previous",
            "on 2 exits with 6 x 6 and 3 x 3 maps of 3 samples and reference='previous' (one row)",
        )
        _compare_coherence(
            name,
            fn,
            [_blobs(4, 8, 8), _blobs(4, 4, 4), _blobs(4, 2, 2)],
            "final",
            "on 3 exits with 8 x 8, 4 x 4 and 2 x 2 maps of 4 samples and reference='final'",
        )
        # a reference that is neither 'previous' nor 'final'
        try:
            fn([m.clone() for m in maps], reference="middle")
        except ValueError:
            return
        except Exception as exc:  # noqa: BLE001 - any other failure of learner code is graded
            raise GradingError(
                f"{name} raised {_type(exc).__name__} for reference='middle': raise a ValueError "
                "naming the two choices, 'previous' and 'final'"
            ) from None
        raise GradingError(
            f"{name} {mistakes.message(name, 'no_value_error')} (it returned a result for reference='middle')"
        )


# --- 4. choose_threshold -----------------------------------------------------------------


def _compare_threshold(name: str, fn, args: tuple, case: str, crash_means: str | None = None) -> None:
    expected = reference.choose_threshold(*args)
    out = _call_on_copies(name, fn, args, case, crash_means)
    value = number(out, name)
    if not same_number(value, expected):
        _grader.name_mistake(name, name, args, lambda wrong: same_number(number(wrong, name), value))
        raise GradingError(
            f"{name} returns {show_number(value)} {case}; the correct threshold is {show_number(expected)}"
        )


def _graded_scores(n: int, higher_is_surer: bool, skill: float) -> tuple:
    """``n`` scores on a grid of 0.05 (many ties) and whether each prediction is right,
    right more often the surer the score (``skill`` sets by how much)."""
    sure = (torch.rand(n) * 20).round() / 20
    correct = torch.rand(n) < (0.35 + skill * sure).clamp(max=0.97)
    scores = sure if higher_is_surer else 1.0 - sure
    return scores, correct


def check_choose_threshold(fn) -> None:
    """Hidden test of ``choose_threshold(scores, correct, target_accuracy,
    higher_is_surer=True)``: the loosest threshold whose leaving samples (score >= t, or
    <= t) reach the target accuracy, cutting only between different scores; inf (or -inf)
    when none does."""
    assert_untampered()
    name = "choose_threshold"
    with seeded(SEED):
        # by hand: sorted, the scores are 1.0, 0.875, 0.75, 0.5, 0.25, 0.125 and the samples
        # right, right, wrong, right, right, wrong: the top n reach 1, 1, 2/3, 3/4, 4/5, 2/3
        scores = torch.tensor([0.25, 1.0, 0.125, 0.875, 0.5, 0.75])
        correct = torch.tensor([True, True, False, True, True, False])
        _compare_threshold(
            name,
            fn,
            (scores, correct, 0.75),
            "on scores [0.25, 1.0, 0.125, 0.875, 0.5, 0.75], right, right, wrong, right, right, "
            "wrong, with target_accuracy=0.75 (from the surest, the top n reach accuracies 1, 1, "
            "2/3, 3/4, 4/5, 2/3: the loosest cut that reaches 0.75 lets 5 leave, so 0.25)",
        )
        # by hand: the loosest cut reaches the target exactly (3 of the top 4 are right)
        scores = torch.tensor([0.3, 0.9, 0.5, 0.7, 0.2, 0.4])
        correct = torch.tensor([False, True, True, False, False, True])
        _compare_threshold(
            name,
            fn,
            (scores, correct, 0.75),
            "on scores [0.3, 0.9, 0.5, 0.7, 0.2, 0.4], wrong, right, right, wrong, wrong, right, "
            "with target_accuracy=0.75 (the top 4 reach exactly 3/4, so 0.4)",
        )
        # ties: the two samples at 0.8, one right and one wrong, leave together
        scores = torch.tensor([0.6, 0.8, 0.9, 0.8, 0.7])
        correct = torch.tensor([True, True, True, False, True])
        _compare_threshold(
            name,
            fn,
            (scores, correct, 1.0),
            "on scores [0.6, 0.8, 0.9, 0.8, 0.7] with target_accuracy=1.0, where the two "
            "samples at 0.8 (one right, one wrong) can only leave together (so 0.9)",
        )
        # targets no accuracy k / n can equal, so float32 rounding never decides
        for n, higher, target, skill in ((40, True, 0.81, 0.6), (40, False, 0.81, 0.6), (30, True, 0.91, 0.5)):
            scores, correct = _graded_scores(n, higher, skill)
            lower = "" if higher else " (a lower score is surer)"
            _compare_threshold(
                name,
                fn,
                (scores, correct, target, higher),
                f"on {n} random scores with ties, target_accuracy={target} and higher_is_surer={higher}{lower}",
            )
        # nobody may leave: the surest sample is wrong and the target is 1
        scores = torch.tensor([0.3, 0.9, 0.6, 0.1])
        correct = torch.tensor([True, False, True, True])
        _compare_threshold(
            name,
            fn,
            (scores, correct, 1.0),
            "when no threshold reaches the target (scores [0.3, 0.9, 0.6, 0.1], the surest "
            "sample is wrong, target_accuracy=1.0: nobody may leave, so inf)",
        )
        _compare_threshold(
            name,
            fn,
            (1.0 - scores, correct, 1.0, False),
            "when no threshold reaches the target and a lower score is surer (scores "
            "[0.7, 0.1, 0.4, 0.9], target_accuracy=1.0: nobody may leave, so -inf)",
        )
        # 'never' scores are never a threshold: from the surest, the top n reach 1, 1, 2/3 and,
        # with the two -inf, 4/5, but only a cut after a finite score counts
        scores = torch.tensor([-math.inf, 0.9, 0.4, -math.inf, 0.7])
        correct = torch.tensor([True, True, False, True, True])
        _compare_threshold(
            name,
            fn,
            (scores, correct, 0.75),
            "on scores [-inf, 0.9, 0.4, -inf, 0.7], right, right, wrong, right, right, with target_accuracy=0.75 "
            "(-inf means 'never leave': cutting after the two -inf would reach 4/5 but let them leave, so the "
            "loosest cut is after 0.7)",
        )
        _compare_threshold(
            name,
            fn,
            (-scores, correct, 0.5, False),
            "on scores [inf, -0.9, -0.4, inf, -0.7] with higher_is_surer=False and target_accuracy=0.5 (inf "
            "means 'never leave' when lower is surer: it is never the threshold, so -0.4)",
        )
        # the tolerance: 7 right out of 10 reach a target of 0.1 * 7 = 0.7000000000000001
        scores = torch.arange(10, 0, -1).double() / 10
        correct = torch.tensor([False, False, False, True, True, True, True, True, True, True])
        _compare_threshold(
            name,
            fn,
            (scores, correct, 0.1 * 7),
            "on scores 1.0, 0.9, ..., 0.1 where only the last seven are right, with target_accuracy=0.1 * 7 "
            "(0.7000000000000001): all ten together are right 7 / 10 = 0.7 of the time, which reaches the "
            "target within the tolerance of 1e-9, so 0.1",
        )
        # no samples at all (an exit that nobody reaches): nobody may leave
        for higher in (True, False):
            _compare_threshold(
                name,
                fn,
                (torch.zeros(0), torch.zeros(0, dtype=torch.bool), 0.9, higher),
                f"with no samples at all and higher_is_surer={higher} (nobody may leave: "
                f"{'inf' if higher else '-inf'})",
                crash_means="crashes_on_no_samples",
            )


CHECKS = {
    "cosine_similarity_maps": check_cosine_similarity_maps,
    "ssim_maps": check_ssim_maps,
    "coherence_scores": check_coherence_scores,
    "choose_threshold": check_choose_threshold,
}
