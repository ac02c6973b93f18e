"""Hidden tests of Lesson 3 (early exits: when may a network stop thinking?).

Each ``check_<exercise>(fn)`` calls the learner's function on fresh, seeded inputs,
compares it with the reference in :mod:`xaiexit.exits` and with hand-computed answers,
and raises :class:`~xaiexit_grading.GradingError` with a message that names the mistake
(see :mod:`xaiexit_grading.early_exit_mistakes`) when it is wrong.

``predict_with_exits`` is checked for more than its answers: forward hooks on the blocks
record how many samples each block sees (a sample that has left must never reach a later
block, or the savings are not real) and whether gradients were on; the model must be run
in eval mode (its BatchNorm statistics unchanged) and given back in the mode it came in.

Examples
--------
>>> from xaiexit.exits import entropy_score
>>> check_entropy_score(entropy_score)   # the reference passes
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from xaiexit import exits as reference
from xaiexit.exits import Entropy, MaxSoftmax
from xaiexit.models.early_exit import EarlyExitCNN
from xaiexit_grading import early_exit_mistakes as mistakes
from xaiexit_grading import gradient_saliency_mistakes as lesson1_mistakes
from xaiexit_grading._checks import (
    FLOAT,
    INT,
    Grader,
    GradingError,
    Recorder,
    _type,
    assert_untampered,
    call,
    close,
    expect_tensor,
    finite,
    max_diff,
    number,
    seeded,
    unchanged,
)

SEED = 20261127  # hidden inputs differ from anything the notebook shows

_grader = Grader(mistakes, SEED, hygiene=(lesson1_mistakes, "vanilla_gradient"))


# --- shared helpers ----------------------------------------------------------------------


def _early_exit_cnn(widths=(4, 8, 8), exits_after=(1, 2), classes=3, in_channels=3) -> EarlyExitCNN:
    """A tiny early-exit CNN handed over in *training* mode, with BatchNorm statistics far
    from a batch's own (so running it without ``model.eval()`` gives other answers and
    changes them) and exit heads scaled up so that the exits disagree in confidence."""
    model = EarlyExitCNN(in_channels, classes, widths, exits_after, branch_width=4)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.3, 3.0)
        for head in model.exits.values():
            head.classifier.weight.mul_(6.0)
    return model.train()


# --- 1. early_exit_loss ------------------------------------------------------------------


def _compare_loss(name: str, fn, args: tuple, expected: torch.Tensor, case: str) -> None:
    logits, rest = args[0], args[1:]
    given = [z.detach().clone().requires_grad_(True) for z in logits]
    out = call(fn, name, given, *[copy.deepcopy(a) for a in rest])
    unchanged(name, (logits,), (given,))
    if _type(out) in (FLOAT, INT) or (
        _type(out) is torch.Tensor and out.is_floating_point() and out.dim() == 0 and not out.requires_grad
    ):
        raise GradingError(f"{name} {mistakes.message(name, 'detached')}")
    if _type(out) is torch.Tensor and out.dim() == 1 and out.numel() == 1:
        raise GradingError(
            f"{name} returned shape (1,); return a scalar tensor, shape () "
            "(sum the weighted losses, which are scalars already)"
        )
    out = expect_tensor(out, name, ())
    if not close(out, expected):
        _grader.name_mistake(
            name,
            name,
            args,
            lambda wrong: (
                isinstance(wrong, torch.Tensor) and wrong.numel() == 1 and close(out, wrong.detach().reshape(()))
            ),
        )
        raise GradingError(f"{name} gives {float(out):.6g} {case}; the correct loss is {float(expected):.6g}")


def check_early_exit_loss(fn) -> None:
    """Hidden test of ``early_exit_loss(logits_per_exit, y, weights=None)``:
    sum_n w_n * CE(z_n, y), each cross-entropy a batch mean, weights all 1 by default."""
    assert_untampered()
    name = "early_exit_loss"
    with seeded(SEED):
        # by hand: zero logits over K = 3 classes give CE = ln 3 at every exit
        zeros = [torch.zeros(4, 3) for _ in range(3)]
        y = torch.tensor([0, 2, 1, 2])
        _compare_loss(
            name,
            fn,
            (zeros, y, [1.0, 0.5, 2.0]),
            torch.tensor(3.5 * math.log(3)),
            "on zero logits at 3 exits with weights [1.0, 0.5, 2.0] (every cross-entropy is "
            "ln 3, so the loss is 3.5 ln 3 = 3.845)",
        )
        # random logits, default weights, then weights given as a tuple, then one exit
        logits = [2 * torch.randn(6, 4) for _ in range(3)]
        y = torch.randint(0, 4, (6,))
        expected = reference.early_exit_loss(logits, y)
        _compare_loss(name, fn, (logits, y), expected, "on random logits at 3 exits with the default weights")
        weights = (0.25, 1.0, 3.0)
        expected = reference.early_exit_loss(logits, y, list(weights))
        _compare_loss(
            name, fn, (logits, y, weights), expected, "on random logits at 3 exits with weights (0.25, 1.0, 3.0)"
        )
        expected = reference.early_exit_loss(logits[:1], y, [0.5])
        _compare_loss(name, fn, (logits[:1], y, [0.5]), expected, "on a single exit with weight 0.5")


# --- 2. entropy_score --------------------------------------------------------------------


def _compare_entropy(name: str, fn, logits: torch.Tensor, expected: torch.Tensor, case: str, nan_means=None):
    given = logits.clone()
    out = call(fn, name, given)
    unchanged(name, (logits,), (given,))
    if (
        nan_means is not None
        and _type(out) is torch.Tensor
        and out.is_floating_point()
        and not bool(torch.all(torch.isfinite(out.detach())))
    ):
        raise GradingError(f"{name} {mistakes.message(name, nan_means)}")
    out = expect_tensor(out, name, expected.shape, like=logits)
    if not close(out, expected):
        _grader.name_mistake(
            name,
            name,
            (logits,),
            lambda wrong: isinstance(wrong, torch.Tensor) and wrong.shape == out.shape and close(out, wrong),
        )
        raise GradingError(
            f"{name} gives a wrong result {case}: it differs from the correct one by up to "
            f"{max_diff(out, expected):.3g} (correct values reach {float(expected.abs().max()):.3g})"
        )


def check_entropy_score(fn) -> None:
    """Hidden test of ``entropy_score(logits)``: -sum_k p_k ln p_k in nats, p = softmax,
    with no NaN where a probability underflows to 0 or a logit is -inf."""
    assert_untampered()
    name = "entropy_score"
    with seeded(SEED):
        # by hand: uniform rows give ln 3 (whatever the shared value), p = (1/2, 1/4, 1/4) gives 1.5 ln 2
        ln2 = math.log(2)
        logits = torch.tensor([[0.0, 0.0, 0.0], [5.0, 5.0, 5.0], [ln2, 0.0, 0.0], [-1.0, -1.0 + ln2, -1.0]])
        expected = torch.tensor([math.log(3), math.log(3), 1.5 * ln2, 1.5 * ln2])
        _compare_entropy(
            name,
            fn,
            logits,
            expected,
            "on logits worked by hand (uniform rows give ln 3 = 1.0986, "
            "probabilities (1/2, 1/4, 1/4) give 1.5 ln 2 = 1.0397)",
        )
        logits = 3 * torch.randn(6, 5)
        _compare_entropy(name, fn, logits, reference.entropy_score(logits), "on random (6, 5) logits")
        # sure exits: probabilities that underflow to exactly 0 (their terms count 0)
        logits = torch.tensor([[0.0, 200.0, 0.0, 0.0], [150.0, -150.0, 0.0, 1.0], [1.0, 2.0, 3.0, 4.0]])
        _compare_entropy(
            name,
            fn,
            logits,
            reference.entropy_score(logits),
            "on very sure rows, where some probabilities underflow to 0 (the first row's entropy is 0)",
            nan_means="log_of_zero",
        )
        # masked classes: a logit of -inf has p = 0 exactly
        inf = math.inf
        logits = torch.tensor([[0.0, 0.0, -inf, 1.0], [-inf, 2.0, -inf, -inf], [0.5, -1.0, 2.0, 0.0]])
        _compare_entropy(
            name,
            fn,
            logits,
            reference.entropy_score(logits),
            "on rows with logits of -inf (masked classes: [0, 0, -inf, 1] has the entropy of "
            "softmax([0, 0, 1]), and a row with one finite logit has entropy 0)",
            nan_means="masked_logit_nan",
        )


# --- 3. predict_with_exits ---------------------------------------------------------------


def _thresholds(model: EarlyExitCNN, x: torch.Tensor, rule, shares: tuple) -> list:
    """Thresholds that let about ``shares[k]`` of the samples still there leave at side exit
    k, each halfway across the widest gap between neighbouring scores near that share (so
    rounding never decides who leaves)."""
    with torch.no_grad():
        logits = copy.deepcopy(model).eval()(x)
    remaining = torch.ones(len(x), dtype=torch.bool)
    thresholds = []
    for k, share in enumerate(shares):
        scores = rule.score(logits[k])[remaining].sort(descending=rule.higher_is_surer).values
        m = len(scores)
        wanted = max(1, min(m - 1, round(share * m)))
        n = max(
            range(max(1, wanted - 1), min(m - 1, wanted + 1) + 1),
            key=lambda i: float((scores[i - 1] - scores[i]).abs()),
        )
        threshold = float((scores[n - 1] + scores[n]) / 2)
        thresholds.append(threshold)
        remaining &= ~rule.exits(logits[k], threshold)
    return thresholds


def _one_sample_leaves_at(model: EarlyExitCNN, x: torch.Tensor, rule, exit_index: int) -> list:
    """Thresholds that keep the single sample ``x`` until exit ``exit_index``, where it leaves."""
    with torch.no_grad():
        logits = copy.deepcopy(model).eval()(x)
    thresholds = []
    for k in range(model.num_exits - 1):
        s = float(rule.score(logits[k])[0])
        stays = k < exit_index
        if rule.higher_is_surer:
            thresholds.append((s + 1.0) / 2 if stays else s / 2)
        else:
            thresholds.append(s / 2 if stays else s * 1.5 + 0.01)
    return thresholds


def _watch(model: EarlyExitCNN) -> tuple:
    """Forward pre-hooks on the blocks: what each block saw, (input shape, training, grad enabled)."""
    seen = {i: Recorder() for i in range(len(model.features))}
    handles = [block.register_forward_pre_hook(seen[i]) for i, block in enumerate(model.features)]
    return seen, handles


def _run_watched(fn, name, model, x, rule, thresholds):
    seen, handles = _watch(model)
    try:
        return call(fn, name, model, x, rule, list(thresholds)), seen
    finally:
        for handle in handles:
            handle.remove()


def _pair(out, name: str, batch: int) -> tuple:
    """The learner's (predictions, exit_index), checked: plain integer tensors of shape (B,)."""
    if _type(out) not in (tuple, list) or len(out) != 2:
        raise GradingError(
            f"{name} must return a pair (predictions, exit_index), got {_type(out).__name__}"
            + (f" of length {len(out)}" if _type(out) in (tuple, list) else "")
        )
    pair = []
    for what, t in zip(("predictions", "exit_index"), out):
        if _type(t) is not torch.Tensor:
            extra = " (a subclass of torch.Tensor is not accepted)" if isinstance(t, torch.Tensor) else ""
            raise GradingError(f"{name} must return {what} as a torch.Tensor, got {_type(t).__name__}{extra}")
        if tuple(t.shape) != (batch,):
            raise GradingError(
                f"{name} returned {what} of shape {tuple(t.shape)}; expected ({batch},), one value per sample"
            )
        if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            raise GradingError(f"{name} must return {what} as integers (dtype torch.long), got {t.dtype}")
        pair.append(t.detach().cpu().long())
    return tuple(pair)


def _block_totals(seen: dict) -> list:
    """Samples each block processed, over all its calls."""
    return [sum(shape[0] for shape, _, _ in seen[i]) for i in sorted(seen)]


def _compare_predict(name: str, fn, model: EarlyExitCNN, x: torch.Tensor, rule, thresholds: list, case: str) -> None:
    exercise = "predict_with_exits"
    expected_model = copy.deepcopy(model)
    expected, expected_seen = _run_watched(reference.predict_with_exits, name, expected_model, x, rule, thresholds)
    learner_model, given = copy.deepcopy(model), x.clone()
    was_training = learner_model.training
    before = _grader.snapshot(learner_model, given)
    out, seen = _run_watched(fn, name, learner_model, given, rule, thresholds)
    _grader.check_hygiene(name, learner_model, given, before)
    if learner_model.training != was_training:
        raise GradingError(f"{name} {mistakes.message(exercise, 'mode_not_restored')}")
    predictions, exit_index = _pair(out, name, len(x))
    if not (torch.equal(predictions, expected[0]) and torch.equal(exit_index, expected[1])):
        _grader.name_mistake(
            name,
            exercise,
            (model, x, rule, thresholds),
            lambda wrong: (
                torch.equal(predictions, wrong[0].cpu().long()) and torch.equal(exit_index, wrong[1].cpu().long())
            ),
        )
        num_exits, classes = model.num_exits, model.num_classes
        lost = (exit_index < 0) | (exit_index >= num_exits) | (predictions < 0) | (predictions >= classes)
        if bool(lost.any()):
            raise GradingError(
                f"{name} leaves {int(lost.sum())} of {len(x)} samples without a valid prediction or exit {case} "
                f"(exits are 0 to {num_exits - 1}, classes 0 to {classes - 1}): every sample must leave at "
                "exactly one exit, the final exit takes all those still left, and its results go to the "
                "sample's original position in the batch"
            )
        wrong = int(((predictions != expected[0]) | (exit_index != expected[1])).sum())
        raise GradingError(f"{name} gives the wrong exit or prediction for {wrong} of {len(x)} samples {case}")
    totals, expected_totals = _block_totals(seen), _block_totals(expected_seen)
    if any(t > e for t, e in zip(totals, expected_totals)):
        raise GradingError(
            f"{name} {mistakes.message(exercise, 'all_blocks')} ({case}, blocks 1 to {len(totals)} processed "
            f"{totals} samples, where only {expected_totals} were still there)"
        )
    if any(grad for i in seen for _, _, grad in seen[i]):
        raise GradingError(f"{name} {mistakes.message(exercise, 'no_grad_missing')}")


def check_predict_with_exits(fn) -> None:
    """Hidden test of ``predict_with_exits(model, x, rule, thresholds)``: batched inference
    that really stops (a sample that left never reaches a later block), in eval mode
    (restored after), without gradients; 0-based exits at the samples' original positions."""
    assert_untampered()
    name = "predict_with_exits"
    with seeded(SEED):
        model, x = _early_exit_cnn(), torch.rand(12, 3, 16, 16)
        for rule, case in (
            (MaxSoftmax(), "with MaxSoftmax (a higher score is surer)"),
            (Entropy(), "with Entropy (a lower score is surer)"),
        ):
            thresholds = _thresholds(model, x, rule, (0.35, 0.5))
            _compare_predict(
                name,
                fn,
                model,
                x,
                rule,
                thresholds,
                f"{case} on a model with 3 blocks, exits after blocks 1, 2 and 3, and thresholds "
                "that let some samples leave at every exit",
            )
        # four blocks, exits after blocks 1, 3 and 4, one input channel, four classes
        deep = _early_exit_cnn(widths=(4, 6, 8, 8), exits_after=(1, 3), classes=4, in_channels=1)
        xd = torch.rand(10, 1, 16, 16)
        _compare_predict(
            name,
            fn,
            deep,
            xd,
            MaxSoftmax(),
            _thresholds(deep, xd, MaxSoftmax(), (0.3, 0.5)),
            "with MaxSoftmax on a model with 4 blocks and exits after blocks 1, 3 and 4",
        )
        # a batch of one, on a model handed over in eval mode: the sample leaves at the middle exit
        one = x[5:6]
        evaluated = copy.deepcopy(model).eval()
        _compare_predict(
            name,
            fn,
            evaluated,
            one,
            Entropy(),
            _one_sample_leaves_at(model, one, Entropy(), 1),
            "on a batch of one image (with Entropy; it leaves at the second exit) and a model handed over in eval mode",
        )
        # everyone leaves at the first exit; nobody leaves before the final exit
        _compare_predict(
            name,
            fn,
            model,
            x,
            MaxSoftmax(),
            [0.0, 0.0],
            "with MaxSoftmax and thresholds [0.0, 0.0] (every sample leaves at the first exit)",
        )
        _compare_predict(
            name,
            fn,
            model,
            x,
            Entropy(),
            [-1.0, -1.0],
            "with Entropy and thresholds [-1.0, -1.0] (no sample leaves before the final exit)",
        )


# --- 4. conv2d_macs ----------------------------------------------------------------------


def _compare_macs(name: str, fn, layer: nn.Conv2d, input_shape, expected: int, case: str) -> None:
    state = {k: v.clone() for k, v in layer.state_dict().items()}
    out = call(fn, name, layer, copy.deepcopy(input_shape))
    if any(not torch.equal(v, layer.state_dict()[k]) for k, v in state.items()):
        raise GradingError(f"{name} changes the layer: only read its attributes")
    if _type(out) is not INT:
        if _type(out) is FLOAT:
            raise GradingError(
                f"{name} must return an int, got the float {out!r}: divide with // "
                "(e.g. C_in // groups) or convert the result with int(...)"
            )
        raise GradingError(
            f"{name} must return an int, got {_type(out).__name__}"
            + (": convert it with int(...)" if _type(out) is torch.Tensor else "")
        )
    if out != expected:
        _grader.name_mistake(name, name, (layer, input_shape), lambda wrong: _type(wrong) is INT and wrong == out)
        raise GradingError(f"{name} gives {out} MACs {case}; the correct count is {expected}")


def check_conv2d_macs(fn) -> None:
    """Hidden test of ``conv2d_macs(layer, input_shape)``: C_out * H_out * W_out *
    (C_in / groups) * k_h * k_w for one (C, H, W) image, bias not counted."""
    assert_untampered()
    name = "conv2d_macs"
    with seeded(SEED):
        _compare_macs(
            name,
            fn,
            nn.Conv2d(3, 8, 3, padding=1, bias=False),
            (3, 10, 12),
            8 * 10 * 12 * 3 * 9,
            "for Conv2d(3, 8, 3, padding=1, bias=False) on a (3, 10, 12) image (8 * 10 * 12 * 3 * 3 * 3 = 25920)",
        )
        _compare_macs(
            name,
            fn,
            nn.Conv2d(4, 6, 3, stride=2, padding=1),
            (4, 16, 13),
            6 * 8 * 7 * 4 * 9,
            "for Conv2d(4, 6, 3, stride=2, padding=1) with a bias on a (4, 16, 13) image (the output "
            "is 8 x 7: 6 * 8 * 7 * 4 * 3 * 3 = 12096)",
        )
        _compare_macs(
            name,
            fn,
            nn.Conv2d(6, 9, 3, padding=1, groups=3, bias=False),
            (6, 8, 8),
            9 * 8 * 8 * 2 * 9,
            "for Conv2d(6, 9, 3, padding=1, groups=3) on a (6, 8, 8) image "
            "(each output sees 6 / 3 = 2 channels: 9 * 8 * 8 * 2 * 3 * 3 = 10368)",
        )
        for layer, shape, case in (
            (
                nn.Conv2d(2, 5, kernel_size=(3, 5), stride=(1, 2), padding=(0, 2), dilation=(2, 1), bias=False),
                (2, 15, 20),
                "for Conv2d(2, 5, kernel_size=(3, 5), stride=(1, 2), padding=(0, 2), dilation=(2, 1)) "
                "on a (2, 15, 20) image",
            ),
            (
                nn.Conv2d(8, 8, kernel_size=5, stride=3, padding=2, groups=8),
                torch.Size([8, 17, 17]),
                "for a depthwise Conv2d(8, 8, 5, stride=3, padding=2, groups=8) on an image of shape "
                "torch.Size([8, 17, 17])",
            ),
        ):
            _compare_macs(name, fn, layer, shape, reference.conv2d_macs(layer, shape), case)


# --- 5. exit_costs -----------------------------------------------------------------------


def _compare_costs(name: str, fn, model: EarlyExitCNN, input_shape: tuple, case: str) -> None:
    expected = reference.exit_costs(copy.deepcopy(model), input_shape)
    given = copy.deepcopy(model)
    state = {k: v.clone() for k, v in given.state_dict().items()}
    was_training = given.training
    out = call(fn, name, given, tuple(input_shape))
    if given.training != was_training or any(not torch.equal(v, given.state_dict()[k]) for k, v in state.items()):
        raise GradingError(
            f"{name} changes the model (its weights, BatchNorm statistics or train/eval mode): "
            "macs_by_part(model, input_shape) counts everything without touching it"
        )
    out = expect_tensor(out, name, expected.shape)
    if max_diff(out, expected) > 0.5:
        _grader.name_mistake(
            name,
            name,
            (model, input_shape),
            lambda wrong: isinstance(wrong, torch.Tensor) and wrong.shape == out.shape and max_diff(out, wrong) <= 0.5,
        )
        got = ", ".join(f"{float(v):.0f}" for v in out)
        want = ", ".join(f"{float(v):.0f}" for v in expected)
        raise GradingError(f"{name} gives [{got}] {case}; the correct costs are [{want}]")


def check_exit_costs(fn) -> None:
    """Hidden test of ``exit_costs(model, input_shape)``: MACs per image of a sample that
    leaves at exit k, the blocks up to it plus every exit head evaluated on the way."""
    assert_untampered()
    name = "exit_costs"
    with seeded(SEED):
        model = _early_exit_cnn()
        _compare_costs(
            name,
            fn,
            model,
            (3, 16, 16),
            "for a model with 3 blocks and exits after blocks 1, 2 and 3, on (3, 16, 16) images",
        )
        _compare_costs(name, fn, model, (3, 32, 24), "for the same model on (3, 32, 24) images")
        deep = _early_exit_cnn(widths=(4, 6, 8, 8), exits_after=(1, 3), classes=4, in_channels=1)
        _compare_costs(
            name,
            fn,
            deep,
            (1, 16, 16),
            "for a model with 4 blocks and exits after blocks 1, 3 and 4 (block 2 has no exit), on (1, 16, 16) images",
        )


# --- 6. expected_calibration_error -------------------------------------------------------


def _away_from_edges(probs: torch.Tensor, y: torch.Tensor, bins=(15, 10), gap: float = 1e-4):
    """Keep the samples whose confidence lies at least ``gap`` from every bin edge, so the
    (lo, hi] and [lo, hi) conventions agree."""
    confidence = probs.max(dim=1).values.double()
    keep = torch.ones(len(probs), dtype=torch.bool)
    for n in bins:
        scaled = confidence * n
        keep &= (scaled - scaled.round()).abs() >= gap * n
    return probs[keep], y[keep]


def _compare_ece(name: str, fn, args: tuple, expected: float, case: str) -> None:
    given = [copy.deepcopy(a) for a in args]
    out = call(fn, name, *given)
    unchanged(name, args, given)
    value = number(out, name)
    if not finite(value):
        raise GradingError(f"{name} {mistakes.message(name, 'empty_bins_nan')}")
    if abs(value - expected) > 1e-5:
        _grader.name_mistake(
            name, name, args, lambda wrong: finite(number(wrong, name)) and abs(number(wrong, name) - value) <= 1e-5
        )
        raise GradingError(f"{name} gives {value:.6g} {case}; the correct ECE is {expected:.6g}")


def check_expected_calibration_error(fn) -> None:
    """Hidden test of ``expected_calibration_error(probs, y, n_bins=15)``: sum over the
    equal-width confidence bins of n_b / N * |acc_b - conf_b|."""
    assert_untampered()
    name = "expected_calibration_error"
    with seeded(SEED):
        # by hand: three samples at confidence 0.875 (one right), one at 0.625 (right):
        # 3/4 * |1/3 - 0.875| + 1/4 * |1 - 0.625| = 0.40625 + 0.09375 = 0.5
        probs = torch.tensor([[0.875, 0.125], [0.875, 0.125], [0.125, 0.875], [0.625, 0.375]])
        y = torch.tensor([0, 1, 0, 0])
        _compare_ece(
            name,
            fn,
            (probs, y),
            0.5,
            "on four samples worked by hand (three at confidence 0.875, "
            "one of them right; one at 0.625, right: 3/4 * |1/3 - 0.875| + 1/4 * |1 - 0.625| = 0.5)",
        )
        # an overconfident model over three classes: labels drawn at a higher temperature
        logits = 2.5 * torch.randn(400, 3)
        y = torch.distributions.Categorical(logits=logits / 1.8).sample()
        probs, y = _away_from_edges(torch.softmax(logits, dim=1), y)
        _compare_ece(
            name,
            fn,
            (probs, y),
            reference.expected_calibration_error(probs, y),
            f"on {len(y)} samples of an overconfident 3-class model with the default n_bins=15",
        )
        _compare_ece(
            name,
            fn,
            (probs, y, 10),
            reference.expected_calibration_error(probs, y, 10),
            "on the same samples with n_bins=10",
        )
        # an underconfident model over five classes
        logits = torch.randn(300, 5)
        y = torch.distributions.Categorical(logits=logits / 0.5).sample()
        probs, y = _away_from_edges(torch.softmax(logits, dim=1), y)
        _compare_ece(
            name,
            fn,
            (probs, y),
            reference.expected_calibration_error(probs, y),
            f"on {len(y)} samples of an underconfident 5-class model",
        )


# --- 7. fit_temperature ------------------------------------------------------------------


def _nll(logits: torch.Tensor, y: torch.Tensor, temperature: float) -> float:
    return float(F.cross_entropy(logits.double() / temperature, y))


def _compare_temperature(name: str, fn, logits: torch.Tensor, y: torch.Tensor, case: str) -> None:
    best = reference.fit_temperature(logits, y)
    given = (logits.clone(), y.clone())
    out = call(fn, name, *given)
    unchanged(name, (logits, y), given)
    value = number(out, name)
    if finite(value) and value > 0:
        gap = _nll(logits, y, value) - _nll(logits, y, best)
        if gap <= 1e-4 * _nll(logits, y, best) and abs(value / best - 1) <= 0.03:
            return
    _grader.name_mistake(
        name,
        name,
        (logits, y),
        lambda wrong: (
            finite(number(wrong, name)) and abs(number(wrong, name) - value) <= 1e-4 * abs(number(wrong, name)) + 1e-6
        ),
    )
    if not finite(value) or value <= 0:
        raise GradingError(f"{name} returned T = {value!r} {case}; the temperature must be a positive number")
    raise GradingError(
        f"{name} returned T = {value:.4g} {case}, with NLL {_nll(logits, y, value):.5f}; the best temperature is "
        f"T = {best:.4g}, with NLL {_nll(logits, y, best):.5f}: minimise the mean NLL of softmax(logits / T)"
    )


def check_fit_temperature(fn) -> None:
    """Hidden test of ``fit_temperature(logits, y)``: the T > 0 minimising the mean NLL of
    softmax(logits / T), by any method (its NLL must match the best one's)."""
    assert_untampered()
    name = "fit_temperature"
    with seeded(SEED):
        for true_t, case in (
            (2.5, "on an overconfident model (its labels were drawn at T = 2.5)"),
            (0.6, "on an underconfident model (its labels were drawn at T = 0.6)"),
        ):
            logits = 3 * torch.randn(400, 4)
            y = torch.distributions.Categorical(logits=logits / true_t).sample()
            _compare_temperature(name, fn, logits, y, case)


CHECKS = {
    "early_exit_loss": check_early_exit_loss,
    "entropy_score": check_entropy_score,
    "predict_with_exits": check_predict_with_exits,
    "conv2d_macs": check_conv2d_macs,
    "exit_costs": check_exit_costs,
    "expected_calibration_error": check_expected_calibration_error,
    "fit_temperature": check_fit_temperature,
}
