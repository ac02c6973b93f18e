"""Hidden tests of Lesson 1 (gradient saliency).

Each ``check_<exercise>(fn)`` calls the learner's function on fresh, seeded inputs,
compares it with the reference in :mod:`xaiexit.saliency` and with hand-computed answers,
and raises :class:`~xaiexit_grading.GradingError` with a message that names the mistake
(see :mod:`xaiexit_grading.gradient_saliency_mistakes`) when it is wrong.

Examples
--------
>>> from xaiexit.saliency import vanilla_gradient
>>> check_vanilla_gradient(vanilla_gradient)   # the reference passes its own test
"""

from __future__ import annotations

import copy
import math

import torch

from xaiexit import saliency
from xaiexit.saliency.metrics import relevance_mass as _reference_relevance_mass
from xaiexit_grading import gradient_saliency_mistakes as mistakes
from xaiexit_grading._checks import (
    Grader,
    GradingError,
    assert_untampered,
    call,
    close,
    expect_tensor,
    reference_helpers,
    seeded,
)
from xaiexit_grading._models import Quadratic as _Quadratic
from xaiexit_grading._models import cnn as _cnn
from xaiexit_grading._models import linear_model as _linear_model
from xaiexit_grading._models import targets_not_predicted as _targets_not_predicted

SEED = 20261125  # hidden inputs differ from anything the notebook shows

# naming mistakes, hygiene (eval mode, no .grad left, x unchanged), comparing with the reference
_grader = Grader(mistakes, SEED, hygiene=(mistakes, "vanilla_gradient"))
_snapshot, _check_hygiene = _grader.snapshot, _grader.check_hygiene
_diagnose, _compare = _grader.diagnose, _grader.compare


# --- rules every model-based exercise follows ----------------------------------------------


def _int_target_works(name: str, check) -> None:
    """Run ``check()``, a comparison with an int ``target``; a crash there (after the same
    function passed with a tensor target) is the int-target mistake."""
    try:
        check()
    except GradingError as error:
        if not str(error).startswith(f"{name} raised "):
            raise
        raise GradingError(f"{name} {mistakes.message('vanilla_gradient', 'int_target')} ({error})") from None


def _gives_the_model_back(name: str, fn, *rest) -> None:
    """Hand ``fn`` a CNN in training mode, then in eval mode: each time it must come back in
    the mode it came in."""
    model, x = _cnn(), torch.rand(2, 3, 16, 16)
    call(fn, name, model, x, *rest)
    if not all(module.training for module in model.modules()):
        raise GradingError(f"{name} {mistakes.message('vanilla_gradient', 'mode_not_restored')}")
    model.eval()
    call(fn, name, model, x, *rest)
    if any(module.training for module in model.modules()):
        raise GradingError(f"{name} {mistakes.message('vanilla_gradient', 'train_afterwards')}")


# --- 1. vanilla_gradient -------------------------------------------------------------------


def check_vanilla_gradient(fn) -> None:
    """Hidden test of ``vanilla_gradient(model, x, target)``: |dS_target/dx|, batched."""
    assert_untampered()
    name = "vanilla_gradient"
    with seeded(SEED):
        # a linear model: the gradient of logit k is the weight row W[k]
        linear, x = _linear_model((2, 5, 4), 3), torch.randn(4, 2, 5, 4)
        target = torch.tensor([2, 0, 1, 2])
        expected = linear[1].weight.detach()[target].view_as(x).abs()
        _compare(name, name, fn, (linear, x, target), expected, "on a linear model (the gradient is the weight row)")
        # a CNN in training mode, per-sample targets that are not the predicted class
        cnn, x = _cnn(), torch.rand(3, 3, 16, 16)
        target = _targets_not_predicted(cnn, x)
        expected = saliency.vanilla_gradient(copy.deepcopy(cnn), x, target)
        _compare(name, name, fn, (cnn, x, target), expected, "on a CNN with one target per sample")
        # one int target for the whole batch, and a batch of one
        expected = saliency.vanilla_gradient(copy.deepcopy(cnn), x, 1)
        _int_target_works(name, lambda: _compare(name, name, fn, (cnn, x, 1), expected, "with an int target"))
        expected = saliency.vanilla_gradient(copy.deepcopy(cnn), x[:1], torch.tensor([2]))
        _compare(name, name, fn, (cnn, x[:1], torch.tensor([2])), expected, "on a batch of one image")
        # a model handed over in training mode goes back in training mode
        _gives_the_model_back(name, fn, torch.tensor([0, 1]))


# --- 2. to_heatmap -------------------------------------------------------------------------


def check_to_heatmap(fn) -> None:
    """Hidden test of ``to_heatmap(attr)``: max |.| over channels, each map min-max scaled."""
    assert_untampered()
    name = "to_heatmap"
    with seeded(SEED):
        attr = torch.randn(4, 3, 5, 7)
        attr[1] += 4.0  # a map whose smallest value is far from 0
        attr[2] *= 10.0  # maps of very different scales
        attr[3, 0] = -3 * attr[3, 0].abs()  # large negative values
        for a, case in (
            (attr, "on signed (B, 3, H, W) attributions"),
            (torch.rand(2, 1, 6, 6) + 0.5, "on one-channel attributions"),
        ):
            given = a.clone()
            out = expect_tensor(call(fn, name, given), name, (a.shape[0], *a.shape[2:]))
            if not torch.equal(given, a):
                raise GradingError(f"{name} changes its input in place: compute on a copy")
            expected = saliency.to_heatmap(a)
            if not close(out, expected):
                _diagnose(name, name, out, expected, (a,), case)
        # a constant map (all zeros) next to a normal one
        attr = torch.randn(2, 3, 4, 4)
        attr[0] = 0.0
        out = call(fn, name, attr.clone())
        if isinstance(out, torch.Tensor) and not bool(torch.all(torch.isfinite(out.detach()))):
            raise GradingError(f"{name} {mistakes.message(name, 'constant_nan')}")
        out = expect_tensor(out, name, (2, 4, 4))
        expected = saliency.to_heatmap(attr)
        if not close(out, expected):
            _diagnose(name, name, out, expected, (attr,), "on a batch holding an all-zero map")


# --- 3. gradient_x_input -------------------------------------------------------------------


def check_gradient_x_input(fn) -> None:
    """Hidden test of ``gradient_x_input(model, x, target)``: signed gradient times input."""
    assert_untampered()
    name = "gradient_x_input"
    with seeded(SEED):
        linear, x = _linear_model((1, 4, 6), 2), torch.randn(3, 1, 4, 6)
        target = torch.tensor([1, 0, 1])
        expected = linear[1].weight.detach()[target].view_as(x) * x
        _compare(name, name, fn, (linear, x, target), expected, "on a linear model (the answer is W[target] * x)")
        cnn, x = _cnn(), torch.randn(3, 3, 16, 16)
        target = _targets_not_predicted(cnn, x)
        expected = saliency.gradient_x_input(copy.deepcopy(cnn), x, target)
        _compare(name, name, fn, (cnn, x, target), expected, "on a CNN with one target per sample")
        expected = saliency.gradient_x_input(copy.deepcopy(cnn), x, 0)
        _int_target_works(name, lambda: _compare(name, name, fn, (cnn, x, 0), expected, "with an int target"))
        _gives_the_model_back(name, fn, torch.tensor([0, 1]))


# --- 4. smoothgrad -------------------------------------------------------------------------


def _folded_normal_mean(mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """E|mu + sigma Z| for Z ~ N(0, 1)."""
    sigma = sigma.clamp_min(1e-12)
    z = mu / sigma
    phi = torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    cdf = 0.5 * (1 + torch.erf(z / math.sqrt(2)))
    return sigma * 2 * phi + mu * (2 * cdf - 1)


def _smoothgrad_noise_level(name: str, fn) -> None:
    """On a model whose gradient is its input, recover the noise level from the map."""
    n, noise = 40, 0.2
    ranges = torch.tensor([1.0, 4.0, 0.25])
    x = torch.zeros(3, 1, 16, 24)
    x[:, :, :, 12:] = torch.rand(3, 1, 16, 12) * ranges.view(-1, 1, 1, 1)
    x[:, 0, 0, 23] = ranges  # each image spans exactly [0, range]
    weights = torch.tensor([1.0, -2.0])
    target = torch.tensor([0, 1, 1])
    model = _Quadratic(weights)
    out = expect_tensor(call(fn, name, model, x.clone(), target, n, noise), name, x.shape, like=x)

    w = weights[target].abs().view(-1, 1, 1, 1)
    sigma = noise * ranges  # what the exercise asks for: relative to each image's range
    zero_region = out[:, :, :, :12] / w  # |noise| averaged over n copies, if done right
    estimate = zero_region.mean(dim=(1, 2, 3)) / math.sqrt(2 / math.pi)
    ratio = estimate / sigma

    def all_near(values, target_value, tol=0.08):
        return bool(torch.all((values - target_value).abs() <= tol * abs(target_value) + 1e-9))

    if all_near(ratio, 1.0):
        a, b = zero_region[0].flatten(), zero_region[2].flatten()
        if abs(float(torch.corrcoef(torch.stack([a, b]))[0, 1])) > 0.95:
            raise GradingError(f"{name} {mistakes.message('smoothgrad', 'shared_noise')}")
        expected = w * _folded_normal_mean(x, sigma.view(-1, 1, 1, 1))
        per_image = (out.mean(dim=(1, 2, 3)) / expected.mean(dim=(1, 2, 3)) - 1).abs()
        if bool(torch.all(per_image <= 0.08)):
            return
        raise GradingError(
            f"{name} gives maps of the wrong size on a model whose gradient is its input "
            f"(off by up to {float(per_image.max()):.0%})"
        )
    if bool(torch.all(estimate < 0.02 * sigma)):
        raise GradingError(f"{name} {mistakes.message('smoothgrad', 'no_noise')}")
    if all_near(estimate / noise, 1.0):
        raise GradingError(f"{name} {mistakes.message('smoothgrad', 'absolute_noise')}")
    if all_near(estimate / (noise * ranges.max()), 1.0):
        raise GradingError(f"{name} {mistakes.message('smoothgrad', 'batch_range')}")
    if all_near(ratio, n):
        raise GradingError(f"{name} {mistakes.message('smoothgrad', 'sum_not_mean')}")
    if all_near(ratio, 0.5 / math.sqrt(2 / math.pi)):
        raise GradingError(f"{name} {mistakes.message('smoothgrad', 'uniform_noise')}")
    if all_near(ratio, 1 / math.sqrt(n), tol=0.25):
        raise GradingError(f"{name} {mistakes.message('smoothgrad', 'abs_of_mean')}")
    found = ", ".join(f"{float(s):.3g}" for s in estimate)
    wanted = ", ".join(f"{float(s):.3g}" for s in sigma)
    raise GradingError(
        f"{name} uses the wrong amount of noise: for images with value ranges 1, 4 and 0.25 "
        f"and noise={noise}, the maps show noise standard deviations of about {found} instead "
        f"of {wanted} (sigma = noise * (max - min) of each image)"
    )


def check_smoothgrad(fn) -> None:
    """Hidden test of ``smoothgrad(model, x, target, n, noise)``: mean |gradient| over
    ``n`` copies with Gaussian noise of std ``noise * (max - min)`` per image.

    A ``vanilla_gradient`` the learner's SmoothGrad calls is replaced by the reference
    during this test: Exercise 1 is graded on its own.
    """
    assert_untampered()
    name = "smoothgrad"
    with seeded(SEED), reference_helpers(fn, vanilla_gradient=saliency.vanilla_gradient):
        # a linear model has the same gradient everywhere: noise cannot change it
        linear, x = _linear_model((1, 6, 6), 2), torch.rand(3, 1, 6, 6)
        target = torch.tensor([0, 1, 1])
        expected = linear[1].weight.detach()[target].view_as(x).abs()
        model, xc = copy.deepcopy(linear), x.clone()
        try:
            out = call(fn, name, model, xc, target, 8, 0.3)
        except GradingError as error:
            # sigma (B,) times noise (B, C, H, W): broadcasting fails at the last dimension
            if "must match the size" in str(error) and "non-singleton dimension 3" in str(error):
                raise GradingError(f"{name} {mistakes.message('smoothgrad', 'sigma_shape')} ({error})") from None
            raise
        out = expect_tensor(out, name, x.shape, like=x)
        if close(out, 8 * expected):
            raise GradingError(f"{name} {mistakes.message('smoothgrad', 'sum_not_mean')}")
        if not close(out, expected):
            _diagnose(
                name,
                "smoothgrad",
                out,
                expected,
                (),
                "on a linear model (its gradient is the same for every noisy copy, so the answer is |W[target]|)",
            )
        # no noise: every copy is x itself, so SmoothGrad is the plain gradient
        cnn, x = _cnn(), torch.rand(2, 3, 16, 16)
        target = _targets_not_predicted(cnn, x)
        expected = saliency.vanilla_gradient(copy.deepcopy(cnn), x, target)
        _compare(
            name,
            "smoothgrad",
            fn,
            (cnn, x, target, 3, 0.0),
            expected,
            "with noise=0 (it must equal the plain gradient)",
        )
        # the noise level, read off a model whose gradient is its input
        _smoothgrad_noise_level(name, fn)
        # hygiene on a CNN in training mode, with noise
        cnn, x = _cnn(), torch.rand(2, 3, 16, 16)
        before = _snapshot(cnn, x)
        expect_tensor(call(fn, name, cnn, x, 1, 4, 0.15), name, x.shape, like=x)
        _check_hygiene(name, cnn, x, before)
        _gives_the_model_back(name, fn, 1, 2, 0.15)


# --- 5. relevance_mass ---------------------------------------------------------------------


def check_relevance_mass(fn) -> None:
    """Hidden test of ``relevance_mass(heatmap, mask)``: share of |heatmap| inside the mask."""
    assert_untampered()
    name = "relevance_mass"
    with seeded(SEED):
        heat = torch.rand(5, 6, 8)
        mask = torch.rand(5, 6, 8) > 0.6
        mask[3] = False  # nothing inside: mass 0
        mask[4] = True  # everything inside: mass 1
        signed = torch.randn(4, 7, 5)
        signed_mask = torch.rand(4, 7, 5) > 0.5
        for h, m, case in (
            (heat, mask, "on random maps and masks"),
            (signed, signed_mask, "on a signed heatmap (use its absolute value)"),
        ):
            out = call(fn, name, h.clone(), m.clone())
            if isinstance(out, torch.Tensor) and out.numel() == 1 and h.shape[0] > 1:
                raise GradingError(f"{name} {mistakes.message(name, 'batch_total')}")
            out = expect_tensor(out, name, (h.shape[0],))
            expected = _reference_relevance_mass(h, m)
            if not close(out, expected):
                _diagnose(name, name, out, expected, (h, m), case)
        # an all-zero map
        zero = torch.zeros(2, 4, 4)
        zero[1, 0, 0] = 1.0
        zmask = torch.ones(2, 4, 4, dtype=torch.bool)
        out = call(fn, name, zero, zmask)
        if isinstance(out, torch.Tensor) and not bool(torch.all(torch.isfinite(out.detach()))):
            raise GradingError(f"{name} {mistakes.message(name, 'zero_map_nan')}")
        out = expect_tensor(out, name, (2,))
        expected = _reference_relevance_mass(zero, zmask)
        if not close(out, expected):
            _diagnose(name, name, out, expected, (zero, zmask), "on an all-zero map (it must give 0)")


CHECKS = {
    "vanilla_gradient": check_vanilla_gradient,
    "to_heatmap": check_to_heatmap,
    "gradient_x_input": check_gradient_x_input,
    "smoothgrad": check_smoothgrad,
    "relevance_mass": check_relevance_mass,
}
