"""What the hidden tests of Lessons 4 and 5 (exit rules from saliency) share.

Each helper takes the lesson's :class:`~xaiexit_grading._checks.Grader` first, whose
mistake catalogue names what went wrong; :func:`for_lesson` gives a lesson's module its
grader and the helpers with it filled in, so its checks call ``_compare_maps(name, fn, ...)``.
"""

from __future__ import annotations

import copy
from functools import partial

import torch

from xaiexit_grading import gradient_saliency_mistakes as lesson1_mistakes
from xaiexit_grading._checks import Grader, GradingError, _type, call, unchanged

SEED = 20261128  # hidden inputs differ from anything the notebooks show


def for_lesson(mistakes) -> tuple:
    """``(grader, nan_means, compare_maps, call_on_copies)`` for the lesson whose catalogue is
    ``mistakes``: its grader, and the helpers below with that grader filled in."""
    grader = Grader(mistakes, SEED, hygiene=(lesson1_mistakes, "vanilla_gradient"))
    return grader, partial(nan_means, grader), partial(compare_maps, grader), partial(call_on_copies, grader)


def nan_means(grader: Grader, name: str, mistake: str):
    """A screen that names ``mistake`` when the output holds NaN or infinite values."""

    def screen(out):
        if _type(out) is torch.Tensor and out.is_floating_point() and not bool(torch.all(torch.isfinite(out.detach()))):
            raise GradingError(f"{name} {grader.mistakes.message(name, mistake)}")

    return screen


def compare_maps(
    grader: Grader,
    name: str,
    fn,
    args: tuple,
    expected: torch.Tensor,
    case: str,
    screen=None,
    crash_means: str | None = None,
    kwargs: dict | None = None,
) -> None:
    """Call ``fn`` on copies of ``args`` (and ``kwargs``), check it left them unchanged, let
    ``screen(out)`` name a mistake it recognises (NaN, say), then compare with ``expected``
    (a catalogued mistake is named also when its output has another shape).

    crash_means : the catalogued mistake that a crash on these inputs means (the earlier
        cases passed, so what is new here is what went wrong: maps of two sizes, say).
    """
    given = [copy.deepcopy(a) for a in args]
    try:
        out = call(fn, name, *given, **(kwargs or {}))
    except GradingError as err:
        if crash_means is None:
            raise
        detail = str(err)[len(name) :].strip()
        raise GradingError(f"{name} {grader.mistakes.message(name, crash_means)} ({case}, it {detail})") from None
    unchanged(name, args, given)
    if screen is not None:
        screen(out)
    grader.compare_output(name, out, expected, args, case)


def blobs(batch: int, height: int, width: int) -> torch.Tensor:
    """Non-negative maps, each a noisy blob at a random place (so the centroid is not the
    image centre and the maps of a batch differ)."""
    y = (torch.arange(height, dtype=torch.float32)[:, None] + 0.5) / height
    x = (torch.arange(width, dtype=torch.float32)[None, :] + 0.5) / width
    centre = 0.15 + 0.7 * torch.rand(batch, 2, 1, 1)
    spread = 0.02 + 0.1 * torch.rand(batch, 1, 1)
    blob = torch.exp(-((y - centre[:, 0]) ** 2 + (x - centre[:, 1]) ** 2) / spread)
    return blob * (0.5 + torch.rand(batch, height, width)) + 0.02


def call_on_copies(grader: Grader, name: str, fn, args: tuple, case: str, crash_means: str | None):
    """Call ``fn`` on copies of ``args``; a crash names ``crash_means`` (when given), and an
    in-place change of the scores (``args[0]``) names that mistake, and any other change of
    an argument is reported. Returns the output."""
    given = [copy.deepcopy(a) for a in args]
    try:
        out = call(fn, name, *given)
    except GradingError as err:
        if crash_means is None:
            raise
        detail = str(err)[len(name) :].strip()
        raise GradingError(f"{name} {grader.mistakes.message(name, crash_means)} ({case}, it {detail})") from None
    if isinstance(args[0], torch.Tensor) and not torch.equal(args[0], given[0]):
        raise GradingError(f"{name} {grader.mistakes.message(name, 'changes_scores')}")
    unchanged(name, args, given)
    return out
