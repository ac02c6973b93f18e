"""Plausible mistakes in Lesson 2's exercises, each written out as a learner would.

See :mod:`xaiexit_grading.gradient_saliency_mistakes` for how the catalogue is used. The
functions here may call the module-level helpers below (``_logit_gradient`` and so on):
a mistake pasted into a notebook as an answer cell brings the helpers it calls along.
``layers_top_down``, ``reinitialize`` and ``spearman_rank_correlation`` are the names the
notebook gives its learners (the first two from its setup cell, the last from Exercise 5).
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F

from xaiexit.saliency.sanity import layers_top_down, reinitialize, spearman_rank_correlation
from xaiexit_grading import gradient_saliency_mistakes as _lesson1
from xaiexit_grading._catalogue import Catalogue, Mistake

_catalogue = Catalogue()
mistake, of, message, CATALOGUE = _catalogue.mistake, _catalogue.of, _catalogue.message, _catalogue.entries

__all__ = ["CATALOGUE", "Mistake", "mistake", "of", "message"]

# Every model-based exercise follows Lesson 1's rules, and breaking one reads the same.
_TRAIN_MODE = _lesson1.message("vanilla_gradient", "train_mode")
_GRADS_LEFT = _lesson1.message("vanilla_gradient", "grads_left")


# --- helpers the mistakes share (each correct on its own) --------------------------------


def _logit_gradient(model, points, target):
    """Gradient of each sample's target logit at ``points`` (B, C, H, W)."""
    points = points.detach().requires_grad_(True)
    target = torch.as_tensor(target).long().expand(points.shape[0])
    (grad,) = torch.autograd.grad(model(points).gather(1, target[:, None]).sum(), points)
    return grad


def _scores(model, x, target):
    """Each sample's target logit, (B,), without gradients."""
    with torch.no_grad():
        logits = model(x)
    target = torch.as_tensor(target).long().expand(x.shape[0])
    return logits.gather(1, target[:, None]).squeeze(1)


def _starts(size, window, stride):
    """Patch positions along one axis: 0, stride, ... until a patch reaches the border."""
    return [k * stride for k in range(math.ceil((size - window) / stride) + 1)]


def _regions(mask, width):
    """Interior, border ring and background of each mask, (B, H, W) bool each."""
    m = mask.float()[:, None]
    size = 2 * width + 1
    dilated = F.max_pool2d(m, size, stride=1, padding=width)[:, 0] > 0
    eroded = F.max_pool2d(1 - m, size, stride=1, padding=width)[:, 0] == 0
    return eroded, dilated & ~eroded, ~dilated


def _average_ranks(v):
    """Rank each row of (B, n) from 1 to n; tied values get their average rank."""
    below = (v[:, None, :] < v[:, :, None]).sum(dim=2)
    tied = (v[:, None, :] == v[:, :, None]).sum(dim=2)
    return below + (tied + 1) / 2


def _pearson(a, b):
    """Pearson correlation of each row pair of (B, n); 0 when a row is constant."""
    a = a.double() - a.double().mean(dim=1, keepdim=True)
    b = b.double() - b.double().mean(dim=1, keepdim=True)
    norm = (a.pow(2).sum(dim=1) * b.pow(2).sum(dim=1)).sqrt()
    return (a * b).sum(dim=1) / torch.where(norm > 0, norm, torch.ones_like(norm))


# --- 1. integrated_gradients -------------------------------------------------------------


@mistake(
    "integrated_gradients",
    "no_input_difference",
    "returns the averaged gradient without multiplying by (x - baseline): IG is "
    "(x - x') times the path integral of the gradient, which is what makes the "
    "attributions add up to S(x) - S(x')",
    visible="without multiplying it by (x - baseline)",
)
def integrated_gradients_no_input_difference(model, x, target, baseline=0.0, steps=32):
    model.eval()
    baseline = torch.as_tensor(baseline, dtype=x.dtype).expand_as(x)
    h = 1 / (steps - 1)
    total = torch.zeros_like(x)
    for k in range(steps):
        weight = h / 2 if k in (0, steps - 1) else h
        total += weight * _logit_gradient(model, baseline + k * h * (x - baseline), target)
    return total


@mistake(
    "integrated_gradients",
    "weights_one_over_steps",
    "weighs the points 1/steps (1/(2 steps) at the ends), as Captum does: steps points "
    "make steps - 1 intervals, so h = 1/(steps - 1), h/2 at both ends, and the weights "
    "add up to 1 (yours add up to (steps - 1)/steps)",
    visible="your weights add up to (steps - 1)/steps",
)
def integrated_gradients_weights_one_over_steps(model, x, target, baseline=0.0, steps=32):
    model.eval()
    baseline = torch.as_tensor(baseline, dtype=x.dtype).expand_as(x)
    total = torch.zeros_like(x)
    for k in range(steps):
        alpha = k / (steps - 1)
        weight = 1 / (2 * steps) if k in (0, steps - 1) else 1 / steps
        total += weight * _logit_gradient(model, baseline + alpha * (x - baseline), target)
    return (x - baseline) * total


@mistake(
    "integrated_gradients",
    "equal_weights",
    "averages the gradients of all points with the same weight: the trapezoid rule gives "
    "the two end points half the weight of the others, h/2 with h = 1/(steps - 1)",
    visible="you gave all points the same weight",
)
def integrated_gradients_equal_weights(model, x, target, baseline=0.0, steps=32):
    model.eval()
    baseline = torch.as_tensor(baseline, dtype=x.dtype).expand_as(x)
    total = torch.zeros_like(x)
    for alpha in torch.linspace(0, 1, steps).tolist():
        total += _logit_gradient(model, baseline + alpha * (x - baseline), target)
    return (x - baseline) * total / steps


@mistake(
    "integrated_gradients",
    "steps_plus_one_points",
    "uses steps + 1 points (alpha = k/steps for k = 0..steps): `steps` is the number of "
    "points with both ends included, alpha_k = k/(steps - 1) for k = 0..steps - 1",
    visible="you used steps + 1 points",
)
def integrated_gradients_steps_plus_one_points(model, x, target, baseline=0.0, steps=32):
    model.eval()
    baseline = torch.as_tensor(baseline, dtype=x.dtype).expand_as(x)
    h = 1 / steps
    total = torch.zeros_like(x)
    for k in range(steps + 1):
        weight = h / 2 if k in (0, steps) else h
        total += weight * _logit_gradient(model, baseline + k * h * (x - baseline), target)
    return (x - baseline) * total


@mistake(
    "integrated_gradients",
    "right_riemann",
    "uses a right Riemann sum (alpha = 1/steps, ..., 1, each weighted 1/steps): use the "
    "trapezoid rule on alpha_k = k/(steps - 1), both ends included, weights h = "
    "1/(steps - 1) and h/2 at the two ends",
    visible="right Riemann sum",
)
def integrated_gradients_right_riemann(model, x, target, baseline=0.0, steps=32):
    model.eval()
    baseline = torch.as_tensor(baseline, dtype=x.dtype).expand_as(x)
    total = torch.zeros_like(x)
    for k in range(1, steps + 1):
        total += _logit_gradient(model, baseline + k / steps * (x - baseline), target) / steps
    return (x - baseline) * total


@mistake(
    "integrated_gradients",
    "left_riemann",
    "uses a left Riemann sum (alpha = 0, ..., 1 - 1/steps, each weighted 1/steps): use the "
    "trapezoid rule on alpha_k = k/(steps - 1), both ends included, weights h = "
    "1/(steps - 1) and h/2 at the two ends",
    visible="left Riemann sum",
)
def integrated_gradients_left_riemann(model, x, target, baseline=0.0, steps=32):
    model.eval()
    baseline = torch.as_tensor(baseline, dtype=x.dtype).expand_as(x)
    total = torch.zeros_like(x)
    for k in range(steps):
        total += _logit_gradient(model, baseline + k / steps * (x - baseline), target) / steps
    return (x - baseline) * total


@mistake(
    "integrated_gradients",
    "ignores_baseline",
    "ignores the baseline it is given and always starts from a black image: the path "
    "runs from `baseline` (a float or a tensor) to x, and the result is multiplied by "
    "(x - baseline)",
    visible="not from the baseline you were given",
)
def integrated_gradients_ignores_baseline(model, x, target, baseline=0.0, steps=32):
    model.eval()
    h = 1 / (steps - 1)
    total = torch.zeros_like(x)
    for k in range(steps):
        weight = h / 2 if k in (0, steps - 1) else h
        total += weight * _logit_gradient(model, k * h * x, target)
    return x * total


@mistake(
    "integrated_gradients",
    "softmax",
    "integrates the gradient of the softmax probability instead of the logit: take "
    "the class score itself, the logit before any softmax",
    visible="the gradient of the softmax probability",
)
def integrated_gradients_softmax(model, x, target, baseline=0.0, steps=32):
    model.eval()
    baseline = torch.as_tensor(baseline, dtype=x.dtype).expand_as(x)
    target = torch.as_tensor(target).long().expand(x.shape[0])
    h = 1 / (steps - 1)
    total = torch.zeros_like(x)
    for k in range(steps):
        point = (baseline + k * h * (x - baseline)).detach().requires_grad_(True)
        probs = torch.softmax(model(point), dim=1)
        (grad,) = torch.autograd.grad(probs.gather(1, target[:, None]).sum(), point)
        total += (h / 2 if k in (0, steps - 1) else h) * grad
    return (x - baseline) * total


@mistake(
    "integrated_gradients",
    "baseline_per_sample",
    "works only with a baseline that holds one image per sample, (B, C, H, W): a "
    "float, a (C, H, W) and a (1, C, H, W) tensor must work too. Turn the baseline "
    "into one tensor shaped like x first, instead of indexing it per sample",
    matches_output=False,
    visible="one image shared by all samples",
)
def integrated_gradients_baseline_per_sample(model, x, target, baseline=0.0, steps=32):
    model.eval()
    target = torch.as_tensor(target).long().expand(x.shape[0])
    if not isinstance(baseline, torch.Tensor):
        baseline = torch.full_like(x, baseline)
    h = 1 / (steps - 1)
    attr = torch.zeros_like(x)
    for i in range(x.shape[0]):
        xi, bi = x[i : i + 1], baseline[i : i + 1]
        total = torch.zeros_like(xi)
        for k in range(steps):
            point = (bi + k * h * (xi - bi)).detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(model(point)[0, target[i]], point)
            total += (h / 2 if k in (0, steps - 1) else h) * grad
        attr[i] = ((xi - bi) * total)[0]
    return attr


@mistake(
    "integrated_gradients",
    "train_mode",
    _TRAIN_MODE,
    matches_output=False,
    visible="the result depends on the mode the model came in",
)
def integrated_gradients_train_mode(model, x, target, baseline=0.0, steps=32):
    baseline = torch.as_tensor(baseline, dtype=x.dtype).expand_as(x)
    h = 1 / (steps - 1)
    total = torch.zeros_like(x)
    for k in range(steps):
        weight = h / 2 if k in (0, steps - 1) else h
        total += weight * _logit_gradient(model, baseline + k * h * (x - baseline), target)
    return (x - baseline) * total


@mistake(
    "integrated_gradients",
    "grads_left",
    _GRADS_LEFT,
    matches_output=False,
    visible="the model's parameters hold gradients",
)
def integrated_gradients_grads_left(model, x, target, baseline=0.0, steps=32):
    model.eval()
    baseline = torch.as_tensor(baseline, dtype=x.dtype).expand_as(x)
    target = torch.as_tensor(target).long().expand(x.shape[0])
    h = 1 / (steps - 1)
    total = torch.zeros_like(x)
    for k in range(steps):
        point = (baseline + k * h * (x - baseline)).detach().requires_grad_(True)
        model(point).gather(1, target[:, None]).sum().backward()
        total += (h / 2 if k in (0, steps - 1) else h) * point.grad
    return (x - baseline) * total


# --- 2. completeness_gap -----------------------------------------------------------------


@mistake(
    "completeness_gap",
    "sign_reversed",
    "has the sign reversed: the gap is sum(attributions) - (S(x) - S(baseline)), "
    "positive when the attributions add up to more than the score change",
    visible="the sign is reversed",
)
def completeness_gap_sign_reversed(model, x, target, attributions, baseline=0.0):
    model.eval()
    baseline = torch.as_tensor(baseline, dtype=x.dtype).expand_as(x)
    change = _scores(model, x, target) - _scores(model, baseline, target)
    return change - attributions.sum(dim=(1, 2, 3))


@mistake(
    "completeness_gap",
    "no_baseline_score",
    "leaves out the baseline's score: the attributions should add up to the score "
    "*change* S(x) - S(baseline), so run the model on the baseline too",
    visible="you left out the baseline's score",
)
def completeness_gap_no_baseline_score(model, x, target, attributions, baseline=0.0):
    model.eval()
    return attributions.sum(dim=(1, 2, 3)) - _scores(model, x, target)


@mistake(
    "completeness_gap",
    "ignores_baseline",
    "scores a black image instead of the baseline it is given: S(baseline) is the "
    "model's score on `baseline` (a float fills the whole image with that value)",
    visible="you scored a black image",
)
def completeness_gap_ignores_baseline(model, x, target, attributions, baseline=0.0):
    model.eval()
    change = _scores(model, x, target) - _scores(model, torch.zeros_like(x), target)
    return attributions.sum(dim=(1, 2, 3)) - change


@mistake(
    "completeness_gap",
    "softmax",
    "compares with the change of the softmax probability: completeness holds for the "
    "class score itself, the logit before any softmax",
    visible="the change of the softmax probability",
)
def completeness_gap_softmax(model, x, target, attributions, baseline=0.0):
    model.eval()
    baseline = torch.as_tensor(baseline, dtype=x.dtype).expand_as(x)
    target = torch.as_tensor(target).long().expand(x.shape[0])
    with torch.no_grad():
        p_x = torch.softmax(model(x), dim=1).gather(1, target[:, None]).squeeze(1)
        p_b = torch.softmax(model(baseline), dim=1).gather(1, target[:, None]).squeeze(1)
    return attributions.sum(dim=(1, 2, 3)) - (p_x - p_b)


@mistake(
    "completeness_gap",
    "batch_total",
    "adds up the attributions of the whole batch: sum each sample's attributions on "
    "its own, over its channels, rows and columns",
    visible="the attributions of the whole batch",
)
def completeness_gap_batch_total(model, x, target, attributions, baseline=0.0):
    model.eval()
    baseline = torch.as_tensor(baseline, dtype=x.dtype).expand_as(x)
    change = _scores(model, x, target) - _scores(model, baseline, target)
    return attributions.sum() - change


@mistake(
    "completeness_gap",
    "train_mode",
    _TRAIN_MODE,
    matches_output=False,
    visible="the result depends on the mode the model came in",
)
def completeness_gap_train_mode(model, x, target, attributions, baseline=0.0):
    baseline = torch.as_tensor(baseline, dtype=x.dtype).expand_as(x)
    change = _scores(model, x, target) - _scores(model, baseline, target)
    return attributions.sum(dim=(1, 2, 3)) - change


# --- 3. occlusion ------------------------------------------------------------------------


@mistake(
    "occlusion",
    "sum_not_average",
    "adds up the score drops of all patches that cover a pixel: divide by how many "
    "patches cover it, so each pixel gets their average",
    visible="not their sum",
)
def occlusion_sum_not_average(model, x, target, window=8, stride=4, baseline=0.0):
    model.eval()
    B, C, H, W = x.shape
    baseline = torch.as_tensor(baseline, dtype=x.dtype).expand_as(x)
    clean = _scores(model, x, target)
    total = torch.zeros(B, 1, H, W)
    for top in _starts(H, window, stride):
        for left in _starts(W, window, stride):
            patch = (slice(None), slice(None), slice(top, top + window), slice(left, left + window))
            occluded = x.clone()
            occluded[patch] = baseline[patch]
            total[patch] += (clean - _scores(model, occluded, target)).view(B, 1, 1, 1)
    return total.repeat(1, C, 1, 1)


@mistake(
    "occlusion",
    "sign_flipped",
    "has the sign flipped: the attribution is the score *drop*, S(x) - S(occluded), "
    "positive where hiding the patch lowers the score",
    visible="the sign is reversed",
)
def occlusion_sign_flipped(model, x, target, window=8, stride=4, baseline=0.0):
    model.eval()
    B, C, H, W = x.shape
    baseline = torch.as_tensor(baseline, dtype=x.dtype).expand_as(x)
    clean = _scores(model, x, target)
    total, count = torch.zeros(B, 1, H, W), torch.zeros(1, 1, H, W)
    for top in _starts(H, window, stride):
        for left in _starts(W, window, stride):
            patch = (slice(None), slice(None), slice(top, top + window), slice(left, left + window))
            occluded = x.clone()
            occluded[patch] = baseline[patch]
            total[patch] += (_scores(model, occluded, target) - clean).view(B, 1, 1, 1)
            count[patch] += 1
    return (total / count).repeat(1, C, 1, 1)


@mistake(
    "occlusion",
    "last_patches_missing",
    "stops the patch positions at the last patch that fits inside the image, so the "
    "last rows and columns are never occluded when the stride does not divide "
    "H - window: go on until a patch reaches the border, ceil((H - window) / stride) + 1 "
    "positions per axis, and cut the last patch at the border",
    visible="the last row and column got no drop",
)
def occlusion_last_patches_missing(model, x, target, window=8, stride=4, baseline=0.0):
    model.eval()
    B, C, H, W = x.shape
    baseline = torch.as_tensor(baseline, dtype=x.dtype).expand_as(x)
    clean = _scores(model, x, target)
    total, count = torch.zeros(B, 1, H, W), torch.zeros(1, 1, H, W)
    for top in range(0, H - window + 1, stride):
        for left in range(0, W - window + 1, stride):
            patch = (slice(None), slice(None), slice(top, top + window), slice(left, left + window))
            occluded = x.clone()
            occluded[patch] = baseline[patch]
            total[patch] += (clean - _scores(model, occluded, target)).view(B, 1, 1, 1)
            count[patch] += 1
    return (total / count.clamp(min=1)).repeat(1, C, 1, 1)


@mistake(
    "occlusion",
    "uncovered_pixels_nan",
    "gives NaN (0 / 0) on pixels no patch covers: the patch positions stop at the "
    "last patch that fits inside the image; go on until a patch reaches the border, "
    "ceil((H - window) / stride) + 1 positions per axis, and cut the last patch at the "
    "border",
    matches_output=False,
    visible="some pixels got nan (0 / 0)",
)
def occlusion_uncovered_pixels_nan(model, x, target, window=8, stride=4, baseline=0.0):
    model.eval()
    B, C, H, W = x.shape
    baseline = torch.as_tensor(baseline, dtype=x.dtype).expand_as(x)
    clean = _scores(model, x, target)
    total, count = torch.zeros(B, 1, H, W), torch.zeros(1, 1, H, W)
    for top in range(0, H - window + 1, stride):
        for left in range(0, W - window + 1, stride):
            patch = (slice(None), slice(None), slice(top, top + window), slice(left, left + window))
            occluded = x.clone()
            occluded[patch] = baseline[patch]
            total[patch] += (clean - _scores(model, occluded, target)).view(B, 1, 1, 1)
            count[patch] += 1
    return (total / count).repeat(1, C, 1, 1)


@mistake(
    "occlusion",
    "ignores_baseline",
    "fills the patch with zeros whatever the baseline: copy the baseline's matching "
    "region into the patch (a float baseline fills it with that value)",
    visible="your patches were filled with 0",
)
def occlusion_ignores_baseline(model, x, target, window=8, stride=4, baseline=0.0):
    model.eval()
    B, C, H, W = x.shape
    clean = _scores(model, x, target)
    total, count = torch.zeros(B, 1, H, W), torch.zeros(1, 1, H, W)
    for top in _starts(H, window, stride):
        for left in _starts(W, window, stride):
            occluded = x.clone()
            occluded[:, :, top : top + window, left : left + window] = 0.0
            drop = clean - _scores(model, occluded, target)
            total[:, :, top : top + window, left : left + window] += drop.view(B, 1, 1, 1)
            count[:, :, top : top + window, left : left + window] += 1
    return (total / count).repeat(1, C, 1, 1)


@mistake(
    "occlusion",
    "one_channel",
    "hides the patch in the first channel only: a patch covers all channels of its region",
    visible="only one channel",
)
def occlusion_one_channel(model, x, target, window=8, stride=4, baseline=0.0):
    model.eval()
    B, C, H, W = x.shape
    baseline = torch.as_tensor(baseline, dtype=x.dtype).expand_as(x)
    clean = _scores(model, x, target)
    total, count = torch.zeros(B, 1, H, W), torch.zeros(1, 1, H, W)
    for top in _starts(H, window, stride):
        for left in _starts(W, window, stride):
            rows, cols = slice(top, top + window), slice(left, left + window)
            occluded = x.clone()
            occluded[:, 0, rows, cols] = baseline[:, 0, rows, cols]
            total[:, :, rows, cols] += (clean - _scores(model, occluded, target)).view(B, 1, 1, 1)
            count[:, :, rows, cols] += 1
    return (total / count).repeat(1, C, 1, 1)


@mistake(
    "occlusion",
    "last_patch_wins",
    "writes each patch's score drop over its pixels, so the last patch covering a "
    "pixel wins: add the drops up, count the patches covering each pixel and divide, "
    "to get the average",
    visible="the drop of the last patch that covers it",
)
def occlusion_last_patch_wins(model, x, target, window=8, stride=4, baseline=0.0):
    model.eval()
    B, C, H, W = x.shape
    baseline = torch.as_tensor(baseline, dtype=x.dtype).expand_as(x)
    clean = _scores(model, x, target)
    attr = torch.zeros(B, C, H, W)
    for top in _starts(H, window, stride):
        for left in _starts(W, window, stride):
            patch = (slice(None), slice(None), slice(top, top + window), slice(left, left + window))
            occluded = x.clone()
            occluded[patch] = baseline[patch]
            attr[patch] = (clean - _scores(model, occluded, target)).view(B, 1, 1, 1)
    return attr


@mistake(
    "occlusion",
    "softmax",
    "measures the drop of the softmax probability: use the class score itself, the logit before any softmax",
    visible="A softmax probability saturates",
)
def occlusion_softmax(model, x, target, window=8, stride=4, baseline=0.0):
    model.eval()
    B, C, H, W = x.shape
    baseline = torch.as_tensor(baseline, dtype=x.dtype).expand_as(x)
    target = torch.as_tensor(target).long().expand(B)
    with torch.no_grad():
        clean = torch.softmax(model(x), dim=1).gather(1, target[:, None])
        total, count = torch.zeros(B, 1, H, W), torch.zeros(1, 1, H, W)
        for top in _starts(H, window, stride):
            for left in _starts(W, window, stride):
                patch = (slice(None), slice(None), slice(top, top + window), slice(left, left + window))
                occluded = x.clone()
                occluded[patch] = baseline[patch]
                hidden = torch.softmax(model(occluded), dim=1).gather(1, target[:, None])
                total[patch] += (clean - hidden).view(B, 1, 1, 1)
                count[patch] += 1
    return (total / count).repeat(1, C, 1, 1)


@mistake(
    "occlusion",
    "train_mode",
    _TRAIN_MODE,
    matches_output=False,
    visible="the result depends on the mode the model came in",
)
def occlusion_train_mode(model, x, target, window=8, stride=4, baseline=0.0):
    B, C, H, W = x.shape
    baseline = torch.as_tensor(baseline, dtype=x.dtype).expand_as(x)
    clean = _scores(model, x, target)
    total, count = torch.zeros(B, 1, H, W), torch.zeros(1, 1, H, W)
    for top in _starts(H, window, stride):
        for left in _starts(W, window, stride):
            patch = (slice(None), slice(None), slice(top, top + window), slice(left, left + window))
            occluded = x.clone()
            occluded[patch] = baseline[patch]
            total[patch] += (clean - _scores(model, occluded, target)).view(B, 1, 1, 1)
            count[patch] += 1
    return (total / count).repeat(1, C, 1, 1)


# --- 4. interior_border_split ------------------------------------------------------------


@mistake(
    "interior_border_split",
    "signed",
    "uses the signed heatmap: measure the shares of |heatmap|, so negative values count as saliency too",
    visible="the negative value took saliency away",
)
def interior_border_split_signed(heatmap, mask, width=3):
    interior, ring, background = _regions(mask, width)
    mass = torch.stack([(heatmap * r).sum(dim=(1, 2)) for r in (interior, ring, background)], dim=1)
    total = heatmap.sum(dim=(1, 2))[:, None]
    return mass / torch.where(total != 0, total, torch.ones_like(total))


@mistake(
    "interior_border_split",
    "ring_inside_only",
    "puts the whole border ring inside the mask (mask minus its erosion): the ring "
    "reaches `width` pixels on both sides of the outline, the dilated mask minus the "
    "eroded one",
    visible="your ring lies only inside the mask",
)
def interior_border_split_ring_inside_only(heatmap, mask, width=3):
    m = mask.float()[:, None]
    size = 2 * width + 1
    interior = F.max_pool2d(1 - m, size, stride=1, padding=width)[:, 0] == 0
    ring, background = mask & ~interior, ~mask
    heat = heatmap.abs()
    mass = torch.stack([(heat * r).sum(dim=(1, 2)) for r in (interior, ring, background)], dim=1)
    total = heat.sum(dim=(1, 2))[:, None]
    return mass / torch.where(total > 0, total, torch.ones_like(total))


@mistake(
    "interior_border_split",
    "kernel_of_width",
    "erodes and dilates with a `width` x `width` square: to reach `width` pixels from "
    "the outline use a (2 * width + 1) x (2 * width + 1) square",
    visible="your erosion and dilation changed nothing",
)
def interior_border_split_kernel_of_width(heatmap, mask, width=3):
    m = mask.float()[:, None]
    dilated = F.max_pool2d(m, width, stride=1, padding=width // 2)[:, 0] > 0
    interior = F.max_pool2d(1 - m, width, stride=1, padding=width // 2)[:, 0] == 0
    ring, background = dilated & ~interior, ~dilated
    heat = heatmap.abs()
    mass = torch.stack([(heat * r).sum(dim=(1, 2)) for r in (interior, ring, background)], dim=1)
    total = heat.sum(dim=(1, 2))[:, None]
    return mass / torch.where(total > 0, total, torch.ones_like(total))


@mistake(
    "interior_border_split",
    "image_edge_is_object_edge",
    "treats the image edge as an edge of the object (the erosion pads the mask with "
    "False): pixels beyond the image must be ignored, as max-pooling's padding does",
    visible="the image edge was treated as an edge of the mask",
)
def interior_border_split_image_edge_is_object_edge(heatmap, mask, width=3):
    m = mask.float()[:, None]
    size = 2 * width + 1
    ones = torch.ones(1, 1, size, size)
    inside = F.conv2d(m, ones, padding=width)[:, 0]  # mask pixels in each square, zero padding
    interior, dilated = inside == size * size, inside > 0
    ring, background = dilated & ~interior, ~dilated
    heat = heatmap.abs()
    mass = torch.stack([(heat * r).sum(dim=(1, 2)) for r in (interior, ring, background)], dim=1)
    total = heat.sum(dim=(1, 2))[:, None]
    return mass / torch.where(total > 0, total, torch.ones_like(total))


@mistake(
    "interior_border_split",
    "area_shares",
    "returns the share of each region's *area*: weigh the pixels by |heatmap|, the shares of the saliency mass",
    visible="the shares of the regions' areas",
)
def interior_border_split_area_shares(heatmap, mask, width=3):
    interior, ring, background = _regions(mask, width)
    area = torch.stack([r.float().sum(dim=(1, 2)) for r in (interior, ring, background)], dim=1)
    return area / (mask.shape[1] * mask.shape[2])


@mistake(
    "interior_border_split",
    "masses_not_shares",
    "returns the saliency mass of each region without dividing by the total: the "
    "shares are the masses divided by sum(|heatmap|), so they add up to 1",
    visible="the saliency masses of the regions",
)
def interior_border_split_masses_not_shares(heatmap, mask, width=3):
    interior, ring, background = _regions(mask, width)
    heat = heatmap.abs()
    return torch.stack([(heat * r).sum(dim=(1, 2)) for r in (interior, ring, background)], dim=1)


@mistake(
    "interior_border_split",
    "zero_map_nan",
    "an all-zero map gives NaN (0 / 0): return [0, 0, 0] for it",
    matches_output=False,
    visible="an all-zero map gave nan",
)
def interior_border_split_zero_map_nan(heatmap, mask, width=3):
    interior, ring, background = _regions(mask, width)
    heat = heatmap.abs()
    mass = torch.stack([(heat * r).sum(dim=(1, 2)) for r in (interior, ring, background)], dim=1)
    return mass / heat.sum(dim=(1, 2))[:, None]


# --- 5. spearman_rank_correlation ----------------------------------------------------------


@mistake(
    "spearman_rank_correlation",
    "ties_by_position",
    "ranks tied values by their position (argsort of argsort gives equal values "
    "different ranks): tied values must share their average rank",
    visible="the tied values got different ranks",
)
def spearman_rank_correlation_ties_by_position(a, b):
    ra = a.flatten(1).argsort(dim=1).argsort(dim=1) + 1
    rb = b.flatten(1).argsort(dim=1).argsort(dim=1) + 1
    return _pearson(ra, rb)


@mistake(
    "spearman_rank_correlation",
    "shortcut_formula",
    "uses the shortcut 1 - 6 sum(d^2) / (n (n^2 - 1)), which is exact only without "
    "ties: compute the Pearson correlation of the (average) ranks",
    visible="you used the shortcut",
)
def spearman_rank_correlation_shortcut_formula(a, b):
    ra, rb = _average_ranks(a.flatten(1)), _average_ranks(b.flatten(1))
    n = ra.shape[1]
    d = (ra - rb).double()
    return 1 - 6 * d.pow(2).sum(dim=1) / (n * (n**2 - 1))


@mistake(
    "spearman_rank_correlation",
    "pearson_on_values",
    "correlates the values themselves (Pearson): Spearman's correlation is the Pearson correlation of the *ranks*",
    visible="you correlated the values themselves",
)
def spearman_rank_correlation_pearson_on_values(a, b):
    return _pearson(a.flatten(1), b.flatten(1))


@mistake(
    "spearman_rank_correlation",
    "batch_ranks",
    "ranks the values of the whole batch together: rank each sample's map on its own",
    visible="the values of both samples were ranked together",
)
def spearman_rank_correlation_batch_ranks(a, b):
    B = a.shape[0]
    ra = _average_ranks(a.reshape(1, -1)).view(B, -1)
    rb = _average_ranks(b.reshape(1, -1)).view(B, -1)
    return _pearson(ra, rb)


@mistake(
    "spearman_rank_correlation",
    "rows_ranked_separately",
    "ranks each row of the map on its own (along the last dimension): flatten each "
    "sample's map first, then rank all its values together",
    visible="you ranked each row of the 2 x 2 maps on its own",
)
def spearman_rank_correlation_rows_ranked_separately(a, b):
    ra = _average_ranks(a.reshape(-1, a.shape[-1])).reshape(a.shape[0], -1)
    rb = _average_ranks(b.reshape(-1, b.shape[-1])).reshape(b.shape[0], -1)
    return _pearson(ra, rb)


@mistake(
    "spearman_rank_correlation",
    "lowest_rank_for_ties",
    "gives tied values the lowest of their ranks: tied values share their *average* "
    "rank (two values tied for places 2 and 3 both get 2.5)",
    visible="the lowest of their places",
)
def spearman_rank_correlation_lowest_rank_for_ties(a, b):
    a, b = a.flatten(1), b.flatten(1)
    ra = (a[:, None, :] < a[:, :, None]).sum(dim=2) + 1
    rb = (b[:, None, :] < b[:, :, None]).sum(dim=2) + 1
    return _pearson(ra, rb)


@mistake(
    "spearman_rank_correlation",
    "constant_map_nan",
    "a constant map gives NaN (its ranks do not vary, 0 / 0): return 0 for it",
    matches_output=False,
    visible="a constant map gave nan",
)
def spearman_rank_correlation_constant_map_nan(a, b):
    ra, rb = _average_ranks(a.flatten(1)).double(), _average_ranks(b.flatten(1)).double()
    ra = ra - ra.mean(dim=1, keepdim=True)
    rb = rb - rb.mean(dim=1, keepdim=True)
    return (ra * rb).sum(dim=1) / (ra.pow(2).sum(dim=1) * rb.pow(2).sum(dim=1)).sqrt()


# --- 6. cascading_randomization ----------------------------------------------------------


@mistake(
    "cascading_randomization",
    "not_cascading",
    "randomises each layer alone, on a fresh copy of the model: the randomisation "
    "cascades, so randomise the layers one after the other in the *same* copy (row k "
    "has the top k layers random)",
    visible="the randomisation cascades",
)
def cascading_randomization_not_cascading(model, x, target, method):
    original = method(model, x, target).detach()
    rows = [spearman_rank_correlation(original.abs(), original.abs())]
    for k in range(1, len(layers_top_down(model)) + 1):
        fresh = copy.deepcopy(model)
        reinitialize(layers_top_down(fresh)[k - 1][1], seed=k)
        rows.append(spearman_rank_correlation(original.abs(), method(fresh, x, target).detach().abs()))
    return torch.stack(rows)


@mistake(
    "cascading_randomization",
    "bottom_up",
    "randomises the layers from the input up: go from the output down, in the order layers_top_down gives",
    visible="the one nearest the input",
)
def cascading_randomization_bottom_up(model, x, target, method):
    original = method(model, x, target).detach()
    randomized = copy.deepcopy(model)
    rows = [spearman_rank_correlation(original.abs(), original.abs())]
    for k, (_, layer) in enumerate(reversed(layers_top_down(randomized)), start=1):
        reinitialize(layer, seed=k)
        rows.append(spearman_rank_correlation(original.abs(), method(randomized, x, target).detach().abs()))
    return torch.stack(rows)


@mistake(
    "cascading_randomization",
    "modifies_model",
    "randomises the caller's model itself: re-initialise the layers of a copy, and leave `model` as it was",
    matches_output=False,
    visible="the caller's model was changed",
)
def cascading_randomization_modifies_model(model, x, target, method):
    original = method(model, x, target).detach()
    rows = [spearman_rank_correlation(original.abs(), original.abs())]
    for k, (_, layer) in enumerate(layers_top_down(model), start=1):
        reinitialize(layer, seed=k)
        rows.append(spearman_rank_correlation(original.abs(), method(model, x, target).detach().abs()))
    return torch.stack(rows)


@mistake(
    "cascading_randomization",
    "signed_maps",
    "compares the signed maps: compare their magnitudes, |original map| with |new map|",
    visible="you compared the signed maps",
)
def cascading_randomization_signed_maps(model, x, target, method):
    original = method(model, x, target).detach()
    randomized = copy.deepcopy(model)
    rows = [spearman_rank_correlation(original, original)]
    for k, (_, layer) in enumerate(layers_top_down(randomized), start=1):
        reinitialize(layer, seed=k)
        rows.append(spearman_rank_correlation(original, method(randomized, x, target).detach()))
    return torch.stack(rows)


@mistake(
    "cascading_randomization",
    "previous_map",
    "compares each map with the previous step's map: every row compares with the "
    "*original* map, of the untouched model",
    visible="compared the map with the map of row 1",
)
def cascading_randomization_previous_map(model, x, target, method):
    previous = method(model, x, target).detach()
    randomized = copy.deepcopy(model)
    rows = [spearman_rank_correlation(previous.abs(), previous.abs())]
    for k, (_, layer) in enumerate(layers_top_down(randomized), start=1):
        reinitialize(layer, seed=k)
        current = method(randomized, x, target).detach()
        rows.append(spearman_rank_correlation(previous.abs(), current.abs()))
        previous = current
    return torch.stack(rows)


@mistake(
    "cascading_randomization",
    "missing_row_zero",
    "returns one row per layer only: row 0 compares the original map with itself "
    "(all ones), so the result has L + 1 rows for L layers",
    matches_output=False,
    visible="one per layer: row 0 comes first",
)
def cascading_randomization_missing_row_zero(model, x, target, method):
    original = method(model, x, target).detach()
    randomized = copy.deepcopy(model)
    rows = []
    for k, (_, layer) in enumerate(layers_top_down(randomized), start=1):
        reinitialize(layer, seed=k)
        rows.append(spearman_rank_correlation(original.abs(), method(randomized, x, target).detach().abs()))
    return torch.stack(rows)


@mistake(
    "cascading_randomization",
    "seeds_from_zero",
    "re-initialises the k-th layer with seed k - 1: layer k gets seed k, counting the layers from 1 at the output",
    visible="got seed 0",
)
def cascading_randomization_seeds_from_zero(model, x, target, method):
    original = method(model, x, target).detach()
    randomized = copy.deepcopy(model)
    rows = [spearman_rank_correlation(original.abs(), original.abs())]
    for k, (_, layer) in enumerate(layers_top_down(randomized)):
        reinitialize(layer, seed=k)
        rows.append(spearman_rank_correlation(original.abs(), method(randomized, x, target).detach().abs()))
    return torch.stack(rows)
