"""Hidden tests of Lesson 2 (where gradients go blind: flat regions).

Each ``check_<exercise>(fn)`` calls the learner's function on fresh, seeded inputs,
compares it with the reference in :mod:`xaiexit.saliency` and with hand-computed answers,
and raises :class:`~xaiexit_grading.GradingError` with a message that names the mistake
(see :mod:`xaiexit_grading.flat_regions_mistakes`) when it is wrong. The model-based
exercises follow Lesson 1's rules (eval mode, no ``.grad`` left in the model, ``x``
unchanged) and are checked for them with Lesson 1's messages.

Examples
--------
>>> from xaiexit.saliency.sanity import spearman_rank_correlation
>>> check_spearman_rank_correlation(spearman_rank_correlation)   # the reference passes
"""

from __future__ import annotations

import copy
import math

import torch

from xaiexit import saliency
from xaiexit.saliency import sanity
from xaiexit.saliency.metrics import interior_border_split as _reference_split
from xaiexit_grading import flat_regions_mistakes as mistakes
from xaiexit_grading import gradient_saliency_mistakes as lesson1_mistakes
from xaiexit_grading._checks import (
    Grader,
    GradingError,
    assert_untampered,
    call,
    close,
    expect_tensor,
    max_diff,
    reference_helpers,
    seeded,
)
from xaiexit_grading._models import cnn, linear_model, targets_not_predicted

SEED = 20261126  # hidden inputs differ from anything the notebook shows

_grader = Grader(mistakes, SEED, hygiene=(lesson1_mistakes, "vanilla_gradient"))


def _weights(linear) -> torch.Tensor:
    """The weight matrix (K, C*H*W) of a :func:`linear_model`."""
    return linear[1].weight.detach()


def _compare_values(name: str, fn, args: tuple, expected: torch.Tensor, case: str, screen=None) -> None:
    """For exercises without a model: call ``fn`` on copies of ``args``, check it left
    them unchanged, let ``screen(out)`` name a mistake it recognises (NaN, say), then
    compare with ``expected``."""
    given = [copy.deepcopy(a) for a in args]
    out = call(fn, name, *given)
    if any(isinstance(a, torch.Tensor) and not torch.equal(a, g) for a, g in zip(args, given)):
        raise GradingError(f"{name} changes its input in place: compute on a copy")
    if screen is not None:
        screen(out)
    out = expect_tensor(out, name, expected.shape)
    if not close(out, expected):
        _grader.diagnose(name, name, out, expected, args, case)


def _nan_means(name: str, mistake: str):
    """A screen that names ``mistake`` when the output holds NaN or infinite values."""

    def screen(out):
        if isinstance(out, torch.Tensor) and out.is_floating_point() and not bool(torch.all(torch.isfinite(out))):
            raise GradingError(f"{name} {mistakes.message(name, mistake)}")

    return screen


# --- 1. integrated_gradients ---------------------------------------------------------------


def _reference_ig(model, x, target, baseline, steps):
    return saliency.integrated_gradients(copy.deepcopy(model), x, target, baseline, steps, rule="riemann_trapezoid")


def check_integrated_gradients(fn) -> None:
    """Hidden test of ``integrated_gradients(model, x, target, baseline, steps)``: the
    trapezoid rule on ``steps`` points of the straight path, both ends included."""
    assert_untampered()
    name = "integrated_gradients"
    with seeded(SEED):
        # a linear model: the gradient is W[target] everywhere, so IG is exact for any steps
        linear, x = linear_model((2, 5, 4), 3), torch.randn(3, 2, 5, 4)
        target = torch.tensor([2, 0, 1])
        expected = (x - 0.5) * _weights(linear)[target].view_as(x)
        _grader.compare(
            name,
            name,
            fn,
            (linear, x, target, 0.5, 5),
            expected,
            "on a linear model with baseline=0.5 (the answer is (x - 0.5) * W[target], for any steps)",
        )
        # a CNN in training mode: the gradient changes along the path, so the rule matters
        model, x = cnn(), torch.rand(3, 3, 12, 12)
        target = targets_not_predicted(model, x)
        expected = _reference_ig(model, x, target, -0.25, 4)
        _grader.compare(
            name,
            name,
            fn,
            (model, x, target, -0.25, 4),
            expected,
            "on a CNN with one target per sample, baseline=-0.25 and steps=4",
        )
        # one baseline image, given as (B, C, H, W), then as (1, C, H, W) and (C, H, W)
        image = torch.rand(3, 12, 12)
        expected = _reference_ig(model, x, 1, image, 6)
        _grader.compare(
            name,
            name,
            fn,
            (model, x, 1, image.expand(3, 3, 12, 12).clone(), 6),
            expected,
            "with an int target and a (B, C, H, W) tensor baseline, steps=6",
        )
        for baseline, shape in ((image[None], "(1, C, H, W)"), (image, "(C, H, W)")):
            try:
                _grader.compare(name, name, fn, (model, x, 1, baseline, 6), expected, f"with a {shape} baseline")
            except GradingError as err:
                # right with the same baseline as (B, C, H, W): the shape is what goes wrong
                detail = str(err)[len(name) :].strip()
                raise GradingError(
                    f"{name} {mistakes.message(name, 'baseline_per_sample')} (given the "
                    f"same baseline as a {shape} tensor, it {detail})"
                ) from None
        # a batch of one and the fewest points there can be (the two ends)
        expected = _reference_ig(model, x[:1], torch.tensor([2]), 0.0, 2)
        _grader.compare(
            name,
            name,
            fn,
            (model, x[:1], torch.tensor([2]), 0.0, 2),
            expected,
            "on a batch of one image with steps=2 (just the two ends)",
        )


# --- 2. completeness_gap -------------------------------------------------------------------


def _gap_accept(model, x, attributions, baseline):
    """Agreement up to float32 rounding of the sums the gap is made of (a gap near 0 is
    the difference of numbers that are not)."""
    with torch.no_grad():
        model = copy.deepcopy(model).eval()
        base = torch.as_tensor(baseline, dtype=x.dtype).expand_as(x)
        logits = torch.cat([model(x), model(base)]).abs().max()
    scale = float(attributions.abs().sum(dim=(1, 2, 3)).max()) + 2 * float(logits)
    return lambda out, expected: close(out, expected) or max_diff(out, expected) <= 1e-5 * scale


def check_completeness_gap(fn) -> None:
    """Hidden test of ``completeness_gap(model, x, target, attributions, baseline)``:
    sum(attributions) - (S(x) - S(baseline)) per sample."""
    assert_untampered()
    name = "completeness_gap"
    with seeded(SEED):
        # a linear model: its exact IG attributions (x - b) * W[target] have gap 0
        linear, x = linear_model((2, 4, 5), 3), torch.randn(3, 2, 4, 5)
        target = torch.tensor([1, 2, 0])
        contributions = (x - 0.5) * _weights(linear)[target].view_as(x)
        args = (linear, x, target, contributions, 0.5)
        _grader.compare(
            name,
            name,
            fn,
            args,
            torch.zeros(3),
            "on the exact attributions of a linear model "
            "(W[target] * (x - 0.5) add up to S(x) - S(baseline): the gap is 0)",
            accept=_gap_accept(linear, x, contributions, 0.5),
        )
        # other attributions: the gap is their sum minus that of the exact ones
        attributions = torch.randn_like(x)
        expected = attributions.sum(dim=(1, 2, 3)) - contributions.sum(dim=(1, 2, 3))
        _grader.compare(
            name,
            name,
            fn,
            (linear, x, target, attributions, 0.5),
            expected,
            "on random attributions for a linear model with baseline=0.5",
            accept=_gap_accept(linear, x, attributions, 0.5),
        )
        # a CNN in training mode, per-sample targets, a (C, H, W) baseline image
        model, x = cnn(), torch.rand(3, 3, 12, 12)
        target = targets_not_predicted(model, x)
        baseline, attributions = torch.rand(3, 12, 12), 0.05 * torch.randn(3, 3, 12, 12)
        for case, args in (
            (
                "on a CNN with one target per sample and a (C, H, W) baseline",
                (model, x, target, attributions, baseline),
            ),
            ("with an int target and a (1, C, H, W) baseline", (model, x, 2, attributions, baseline[None])),
            ("on a batch of one image with the default baseline", (model, x[:1], torch.tensor([1]), attributions[:1])),
        ):
            expected = saliency.completeness_gap(copy.deepcopy(model), *args[1:])
            _grader.compare(
                name,
                name,
                fn,
                args,
                expected,
                case,
                accept=_gap_accept(model, args[1], args[3], args[4] if len(args) > 4 else 0.0),
            )


# --- 3. occlusion --------------------------------------------------------------------------


def _uncovered(name: str, args: tuple):
    """A screen that recognises NaN exactly where patch positions that stop too early
    (``range(0, H - window + 1, stride)``) leave pixels uncovered."""
    x = args[1]
    window, stride = (args[3], args[4]) if len(args) > 4 else (8, 4)
    H, W = x.shape[2:]
    covered = torch.zeros(H, W, dtype=torch.bool)
    for top in range(0, H - window + 1, stride):
        for left in range(0, W - window + 1, stride):
            covered[top : top + window, left : left + window] = True

    def screen(out):
        if isinstance(out, torch.Tensor) and out.shape == x.shape and out.is_floating_point():
            bad = ~torch.isfinite(out.detach())
            if bool(bad.any()) and torch.equal(bad, (~covered).expand_as(bad)):
                raise GradingError(f"{name} {mistakes.message(name, 'uncovered_pixels_nan')}")

    return screen


def _compare_occlusion(name, fn, args, expected, case):
    _grader.compare(name, name, fn, args, expected, case, screen=_uncovered(name, args))


def check_occlusion(fn) -> None:
    """Hidden test of ``occlusion(model, x, target, window, stride, baseline)``: each pixel
    gets the average score drop of the patches that cover it."""
    assert_untampered()
    name = "occlusion"
    with seeded(SEED):
        # a linear model, one pixel at a time: the drop is sum_c W[target] * (x - baseline)
        linear, x = linear_model((2, 6, 5), 3), torch.randn(3, 2, 6, 5)
        target = torch.tensor([0, 2, 1])
        drop = ((x - 0.3) * _weights(linear)[target].view_as(x)).sum(dim=1, keepdim=True)
        _compare_occlusion(
            name,
            fn,
            (linear, x, target, 1, 1, 0.3),
            drop.expand_as(x).clone(),
            "on a linear model with window=1, stride=1 and baseline=0.3 (each pixel's "
            "score drop is the sum over channels of W[target] * (x - 0.3))",
        )
        # a CNN in training mode; 11 x 9 images, so the last patches stick out of the image
        model, x = cnn(), torch.rand(3, 3, 11, 9)
        target = targets_not_predicted(model, x)
        image = torch.rand(3, 11, 9)
        for case, args in (
            (
                "on a CNN with 11 x 9 images, window=4, stride=3 (the last patches stick out of the image) "
                "and a (C, H, W) baseline",
                (model, x, target, 4, 3, image),
            ),
            (
                "on a batch of one image with window=3, stride=3 and a (1, C, H, W) baseline",
                (model, x[:1], torch.tensor([2]), 3, 3, image[None]),
            ),
            (
                "with an int target and the defaults window=8, stride=4, baseline=0.0 on 16 x 16 images",
                (model, torch.rand(2, 3, 16, 16), 1),
            ),
        ):
            expected = saliency.occlusion(copy.deepcopy(model), *args[1:])
            _compare_occlusion(name, fn, args, expected, case)


# --- 4. interior_border_split --------------------------------------------------------------


def check_interior_border_split(fn) -> None:
    """Hidden test of ``interior_border_split(heatmap, mask, width)``: shares of |heatmap|
    in the eroded mask, in the ring between erosion and dilation, and outside."""
    assert_untampered()
    name = "interior_border_split"
    with seeded(SEED):
        # by hand, width 1 on 9 x 9 images of ones (area shares):
        # a 5 x 5 square: interior 3 x 3 = 9, dilation 7 x 7 = 49, so ring 40, background 32;
        # the 4 left columns (touching the image edge): interior 3 columns = 27, dilation
        # 5 columns = 45, ring 18, background 36.
        mask = torch.zeros(2, 9, 9, dtype=torch.bool)
        mask[0, 2:7, 2:7] = True
        mask[1, :, :4] = True
        expected = torch.tensor([[9.0, 40.0, 32.0], [27.0, 18.0, 36.0]]) / 81
        _compare_values(
            name,
            fn,
            (torch.ones(2, 9, 9), mask, 1),
            expected,
            "on maps of ones with width=1 (a 5 x 5 square: shares 9, 40 and 32 of 81 pixels; "
            "the four left columns of the image: 27, 18 and 36 of 81)",
        )
        # signed maps; a rectangle, a disk and a shape that touches the image edge
        heat = torch.randn(3, 16, 14)
        rows, cols = torch.meshgrid(torch.arange(16), torch.arange(14), indexing="ij")
        mask = torch.zeros(3, 16, 14, dtype=torch.bool)
        mask[0, 3:12, 4:11] = True
        mask[1] = (rows - 8) ** 2 + (cols - 6) ** 2 <= 20
        mask[2, 9:, :] = True
        mask[2, 4:, 9:] = True
        _compare_values(name, fn, (heat, mask, 2), _reference_split(heat, mask, 2), "on signed maps with width=2")
        _compare_values(name, fn, (heat, mask), _reference_split(heat, mask), "on signed maps with the default width=3")
        # an all-zero map next to a normal one
        zero = torch.zeros(2, 10, 10)
        zero[1] = torch.rand(10, 10)
        zmask = torch.zeros(2, 10, 10, dtype=torch.bool)
        zmask[:, 3:7, 2:8] = True
        _compare_values(
            name,
            fn,
            (zero, zmask, 1),
            _reference_split(zero, zmask, 1),
            "on a batch holding an all-zero map (its shares are [0, 0, 0])",
            screen=_nan_means(name, "zero_map_nan"),
        )


# --- 5. spearman_rank_correlation ----------------------------------------------------------


def check_spearman_rank_correlation(fn) -> None:
    """Hidden test of ``spearman_rank_correlation(a, b)``: per sample, the Pearson
    correlation of the ranks, ties sharing their average rank; 0 for a constant map."""
    assert_untampered()
    name = "spearman_rank_correlation"
    with seeded(SEED):
        # by hand: a monotone map, a tie (ranks 1, 2.5, 2.5, 4 against 1, 3, 2, 4), a reversal
        a = torch.tensor([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0]])
        b = torch.tensor([[1.0, 4.0, 9.0, 16.0], [1.0, 3.0, 2.0, 4.0], [4.0, 3.0, 2.0, 1.0]])
        expected = torch.tensor([1.0, 3 / math.sqrt(10), -1.0], dtype=torch.float64)
        _compare_values(
            name,
            fn,
            (a, b),
            expected,
            "on small maps worked by hand (they give 1, 3 / sqrt(10) = 0.9487 with the tie, and -1)",
        )
        # maps with many ties, shaped (B, H, W) and (B, C, H, W)
        a = torch.randint(0, 4, (3, 5, 6)).float()
        b = a + torch.randint(0, 3, (3, 5, 6)).float()
        _compare_values(
            name, fn, (a, b), sanity.spearman_rank_correlation(a, b), "on (B, H, W) maps with many tied values"
        )
        a = torch.randint(0, 3, (2, 2, 3, 4)).float()
        b = torch.rand(2, 2, 3, 4) - 0.5 * a
        _compare_values(
            name, fn, (a, b), sanity.spearman_rank_correlation(a, b), "on (B, C, H, W) maps with tied values"
        )
        # a constant map next to a normal one
        a, b = torch.rand(2, 4, 4), torch.rand(2, 4, 4)
        a[0] = 0.5
        _compare_values(
            name,
            fn,
            (a, b),
            sanity.spearman_rank_correlation(a, b),
            "on a batch holding a constant map (its correlation is 0)",
            screen=_nan_means(name, "constant_map_nan"),
        )


# --- 6. cascading_randomization ------------------------------------------------------------


def _compare_cascade(name: str, fn, args: tuple, case: str) -> None:
    model, x = copy.deepcopy(args[0]), args[1].clone()
    state = {key: value.clone() for key, value in model.state_dict().items()}
    expected = sanity.cascading_randomization(copy.deepcopy(args[0]), args[1], *args[2:])
    layers = len(sanity.layers_top_down(model))
    out = call(fn, name, model, x, *args[2:])
    if isinstance(out, torch.Tensor) and tuple(out.shape) == (layers, x.shape[0]):
        raise GradingError(f"{name} {mistakes.message(name, 'missing_row_zero')}")
    out = expect_tensor(out, name, expected.shape, like=x)
    if any(not torch.equal(value, model.state_dict()[key]) for key, value in state.items()):
        raise GradingError(f"{name} {mistakes.message(name, 'modifies_model')}")
    if not torch.equal(x, args[1]):
        raise GradingError(f"{name} {_grader.hygiene['modifies_input']}")
    if not close(out, expected):
        _grader.diagnose(name, name, out, expected, args, case)


def check_cascading_randomization(fn) -> None:
    """Hidden test of ``cascading_randomization(model, x, target, method)``: Spearman
    correlation of |original map| with |map| as the layers of a copy are re-initialised
    from the output down (layer k with seed k).

    A ``spearman_rank_correlation`` the learner's function calls is replaced by the
    reference during this test: Exercise 5 is graded on its own.
    """
    assert_untampered()
    name = "cascading_randomization"
    with seeded(SEED), reference_helpers(fn, spearman_rank_correlation=sanity.spearman_rank_correlation):
        model, x = cnn(), torch.rand(2, 3, 12, 12)
        target = targets_not_predicted(model, x)
        _compare_cascade(
            name,
            fn,
            (model, x, target, saliency.gradient_x_input),
            "on a CNN with method=gradient_x_input (signed maps) and one target per sample",
        )
        model = cnn(in_channels=1, classes=2, widths=(4, 5, 6))
        _compare_cascade(
            name,
            fn,
            (model, torch.rand(1, 1, 8, 8), 1, saliency.vanilla_gradient),
            "on a batch of one image, a CNN with four layers, an int target and method=vanilla_gradient",
        )


CHECKS = {
    "integrated_gradients": check_integrated_gradients,
    "completeness_gap": check_completeness_gap,
    "occlusion": check_occlusion,
    "interior_border_split": check_interior_border_split,
    "spearman_rank_correlation": check_spearman_rank_correlation,
    "cascading_randomization": check_cascading_randomization,
}
