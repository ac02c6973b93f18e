"""Plausible mistakes in Lesson 1's exercises, each written out as a learner would.

Every entry is a wrong implementation with the exercise's name and signature, plus the
message a learner gets when the hidden tests catch it. The hidden tests use the
catalogue to *name* a mistake (when a wrong answer equals one of these functions'
output, the message says which mistake it is); the test suite grades each one through
nbgrader and checks that it loses exactly its exercise's points. ``visible`` is a phrase of
the hint the exercise's *visible* test gives for the mistake, so the learner meets it while
working (tests/test_visible_hints.py runs every mistake against the visible test cell).
"""

from __future__ import annotations

import torch

from xaiexit_grading._catalogue import Catalogue, Mistake

_catalogue = Catalogue()
mistake, of, message, CATALOGUE = _catalogue.mistake, _catalogue.of, _catalogue.message, _catalogue.entries

__all__ = ["CATALOGUE", "Mistake", "mistake", "of", "message"]


# --- 1. vanilla_gradient -----------------------------------------------------------------


@mistake(
    "vanilla_gradient",
    "softmax",
    "explains the softmax probability instead of the logit: take the gradient of the "
    "class score model(x)[:, target] itself, before any softmax",
    visible="softmax probability",
)
def vanilla_gradient_softmax(model, x, target):
    model.eval()
    x = x.detach().clone().requires_grad_(True)
    target = torch.as_tensor(target).long().expand(x.shape[0])
    probs = torch.softmax(model(x), dim=1)
    (grad,) = torch.autograd.grad(probs.gather(1, target[:, None]).sum(), x)
    return grad.abs()


@mistake(
    "vanilla_gradient",
    "log_softmax",
    "explains the log-probability (log-softmax, as in the loss) instead of the logit: "
    "take the gradient of the class score model(x)[:, target] itself",
    visible="log-probability",
)
def vanilla_gradient_log_softmax(model, x, target):
    model.eval()
    x = x.detach().clone().requires_grad_(True)
    target = torch.as_tensor(target).long().expand(x.shape[0])
    logp = torch.log_softmax(model(x), dim=1)
    (grad,) = torch.autograd.grad(logp.gather(1, target[:, None]).sum(), x)
    return grad.abs()


@mistake(
    "vanilla_gradient",
    "signed",
    "returns the signed gradient: the saliency map is its absolute value, |dS/dx|",
    visible="absolute value",
)
def vanilla_gradient_signed(model, x, target):
    model.eval()
    x = x.detach().clone().requires_grad_(True)
    target = torch.as_tensor(target).long().expand(x.shape[0])
    (grad,) = torch.autograd.grad(model(x).gather(1, target[:, None]).sum(), x)
    return grad


@mistake(
    "vanilla_gradient",
    "ignores_target",
    "explains the predicted class instead of `target`: pick each sample's score with "
    "model(x)[range(B), target] (or .gather) using the target you were given",
    visible="predicted class",
)
def vanilla_gradient_ignores_target(model, x, target):
    model.eval()
    x = x.detach().clone().requires_grad_(True)
    logits = model(x)
    (grad,) = torch.autograd.grad(logits.max(dim=1).values.sum(), x)
    return grad.abs()


@mistake(
    "vanilla_gradient",
    "batch_mean",
    "the maps are divided by the batch size: add up the per-sample scores with .sum() "
    "(each score depends only on its own image), do not average them with .mean()",
    visible="batch size",
)
def vanilla_gradient_batch_mean(model, x, target):
    model.eval()
    x = x.detach().clone().requires_grad_(True)
    target = torch.as_tensor(target).long().expand(x.shape[0])
    (grad,) = torch.autograd.grad(model(x).gather(1, target[:, None]).mean(), x)
    return grad.abs()


@mistake(
    "vanilla_gradient",
    "train_mode",
    "the model ran in training mode: call model.eval() before the forward pass "
    "(BatchNorm and Dropout behave differently while training)",
    matches_output=False,
    visible="eval mode",
)
def vanilla_gradient_train_mode(model, x, target):
    x = x.detach().clone().requires_grad_(True)
    target = torch.as_tensor(target).long().expand(x.shape[0])
    (grad,) = torch.autograd.grad(model(x).gather(1, target[:, None]).sum(), x)
    return grad.abs()


@mistake(
    "vanilla_gradient",
    "grads_left",
    "leaves gradients in the model's parameters (p.grad is set after the call): use "
    "torch.autograd.grad(score, x), or call model.zero_grad() before returning",
    matches_output=False,
    visible="parameters hold gradients",
)
def vanilla_gradient_grads_left(model, x, target):
    model.eval()
    x = x.detach().clone().requires_grad_(True)
    target = torch.as_tensor(target).long().expand(x.shape[0])
    model(x).gather(1, target[:, None]).sum().backward()
    return x.grad.abs()


@mistake(
    "vanilla_gradient",
    "modifies_input",
    "changes the caller's tensor x (it now requires grad or holds a .grad): work on a "
    "copy, x = x.detach().clone().requires_grad_(True)",
    matches_output=False,
    visible="changed the caller's x",
)
def vanilla_gradient_modifies_input(model, x, target):
    model.eval()
    x.requires_grad_(True)
    target = torch.as_tensor(target).long().expand(x.shape[0])
    model(x).gather(1, target[:, None]).sum().backward()
    model.zero_grad()
    return x.grad.abs()


@mistake(
    "vanilla_gradient",
    "mode_not_restored",
    "gives the model back in eval mode although it came in training mode: remember "
    "model.training before switching to eval mode, and restore it before returning",
    matches_output=False,
    visible="mode it came in",
)
def vanilla_gradient_mode_not_restored(model, x, target):
    model.eval()
    x = x.detach().clone().requires_grad_(True)
    target = torch.as_tensor(target).long().expand(x.shape[0])
    (grad,) = torch.autograd.grad(model(x).gather(1, target[:, None]).sum(), x)
    return grad.abs()


@mistake(
    "vanilla_gradient",
    "train_afterwards",
    "gives the model back in training mode although it came in eval mode: note the mode the "
    "model is in when you get it, and restore that mode, whichever it was, before returning",
    matches_output=False,
    visible="is training now",
)
def vanilla_gradient_train_afterwards(model, x, target):
    model.eval()
    x = x.detach().clone().requires_grad_(True)
    target = torch.as_tensor(target).long().expand(x.shape[0])
    (grad,) = torch.autograd.grad(model(x).gather(1, target[:, None]).sum(), x)
    model.train()
    return grad.abs()


@mistake(
    "vanilla_gradient",
    "int_target",
    "fails when target is one int for the whole batch: turn it into a (B,) tensor first "
    "(the same class for every image), then pick each image's score with it",
    matches_output=False,
    visible="one int",
)
def vanilla_gradient_int_target(model, x, target):
    model.eval()
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x).gather(1, target[:, None]).sum(), x)  # an int has no [:, None]
    return grad.abs()


# --- 2. to_heatmap -----------------------------------------------------------------------


@mistake(
    "to_heatmap",
    "no_abs",
    "takes the max of the signed values: a large negative attribution matters as much "
    "as a large positive one, so take the max of |attr| over channels",
    visible="signed values",
)
def to_heatmap_no_abs(attr):
    heat = attr.detach().amax(dim=1)
    low = heat.amin(dim=(1, 2), keepdim=True)
    span = heat.amax(dim=(1, 2), keepdim=True) - low
    return (heat - low) / torch.where(span > 0, span, torch.ones_like(span))


@mistake(
    "to_heatmap",
    "mean_channels",
    "averages |attr| over the channels: the heatmap takes the max of |attr| over channels (Simonyan et al.)",
    visible="averages",
)
def to_heatmap_mean_channels(attr):
    heat = attr.detach().abs().mean(dim=1)
    low = heat.amin(dim=(1, 2), keepdim=True)
    span = heat.amax(dim=(1, 2), keepdim=True) - low
    return (heat - low) / torch.where(span > 0, span, torch.ones_like(span))


@mistake(
    "to_heatmap",
    "batch_scaling",
    "scales the whole batch together: scale each map on its own, with its own min and max",
    visible="its own min and max",
)
def to_heatmap_batch_scaling(attr):
    heat = attr.detach().abs().amax(dim=1)
    low, high = heat.min(), heat.max()
    return (heat - low) / (high - low) if high > low else torch.zeros_like(heat)


@mistake(
    "to_heatmap",
    "max_only",
    "divides by the max without subtracting the min: scale each map with "
    "(m - min) / (max - min) so it spans exactly [0, 1]",
    visible="subtract each map's minimum",
)
def to_heatmap_max_only(attr):
    heat = attr.detach().abs().amax(dim=1)
    high = heat.amax(dim=(1, 2), keepdim=True)
    return heat / torch.where(high > 0, high, torch.ones_like(high))


@mistake(
    "to_heatmap",
    "constant_nan",
    "a constant map (for example all zeros) gives NaN: when max == min, divide by 1 "
    "instead so the map comes out all zeros",
    matches_output=False,
    visible="all-zero heatmap",
)
def to_heatmap_constant_nan(attr):
    heat = attr.detach().abs().amax(dim=1)
    low = heat.amin(dim=(1, 2), keepdim=True)
    return (heat - low) / (heat.amax(dim=(1, 2), keepdim=True) - low)


# --- 3. gradient_x_input -----------------------------------------------------------------


@mistake(
    "gradient_x_input",
    "abs_gradient",
    "multiplies |gradient| by the input: gradient x input keeps the gradient's sign",
    visible="gradient's sign",
)
def gradient_x_input_abs_gradient(model, x, target):
    model.eval()
    x = x.detach().clone().requires_grad_(True)
    target = torch.as_tensor(target).long().expand(x.shape[0])
    (grad,) = torch.autograd.grad(model(x).gather(1, target[:, None]).sum(), x)
    return grad.abs() * x.detach()


@mistake(
    "gradient_x_input",
    "abs_result",
    "returns |gradient x input|: keep the sign, it says whether a pixel raises or lowers the score",
    visible="sign of the product",
)
def gradient_x_input_abs_result(model, x, target):
    model.eval()
    x = x.detach().clone().requires_grad_(True)
    target = torch.as_tensor(target).long().expand(x.shape[0])
    (grad,) = torch.autograd.grad(model(x).gather(1, target[:, None]).sum(), x)
    return (grad * x.detach()).abs()


@mistake(
    "gradient_x_input",
    "gradient_only",
    "returns the gradient alone: multiply it by the input, element by element",
    visible="gradient alone",
)
def gradient_x_input_gradient_only(model, x, target):
    model.eval()
    x = x.detach().clone().requires_grad_(True)
    target = torch.as_tensor(target).long().expand(x.shape[0])
    (grad,) = torch.autograd.grad(model(x).gather(1, target[:, None]).sum(), x)
    return grad


@mistake(
    "gradient_x_input",
    "softmax",
    "explains the softmax probability instead of the logit: take the gradient of the "
    "class score model(x)[:, target] itself, before any softmax",
    visible="softmax probability",
)
def gradient_x_input_softmax(model, x, target):
    model.eval()
    x = x.detach().clone().requires_grad_(True)
    target = torch.as_tensor(target).long().expand(x.shape[0])
    probs = torch.softmax(model(x), dim=1)
    (grad,) = torch.autograd.grad(probs.gather(1, target[:, None]).sum(), x)
    return grad * x.detach()


# --- 4. smoothgrad -----------------------------------------------------------------------
# Noise is random, so these are recognised from the noise level the output reveals (on a
# model whose gradient is its input), not by matching the output itself.


def _abs_gradient(model, x, target):
    model.eval()
    x = x.detach().clone().requires_grad_(True)
    target = torch.as_tensor(target).long().expand(x.shape[0])
    (grad,) = torch.autograd.grad(model(x).gather(1, target[:, None]).sum(), x)
    return grad.abs()


@mistake(
    "smoothgrad",
    "absolute_noise",
    "the noise level is used as an absolute standard deviation: it is relative, "
    "sigma = noise * (x.max() - x.min()) of each image",
    matches_output=False,
    visible="absolute standard deviation",
)
def smoothgrad_absolute_noise(model, x, target, n=50, noise=0.15):
    total = torch.zeros_like(x)
    for _ in range(n):
        total += _abs_gradient(model, x + noise * torch.randn_like(x), target)
    return total / n


@mistake(
    "smoothgrad",
    "batch_range",
    "sigma comes from the value range of the whole batch: use each image's own range, "
    "x.amax(dim=(1, 2, 3)) - x.amin(dim=(1, 2, 3))",
    matches_output=False,
    visible="whole batch",
)
def smoothgrad_batch_range(model, x, target, n=50, noise=0.15):
    sigma = noise * (x.max() - x.min())
    total = torch.zeros_like(x)
    for _ in range(n):
        total += _abs_gradient(model, x + sigma * torch.randn_like(x), target)
    return total / n


@mistake(
    "smoothgrad",
    "no_noise",
    "the noisy copies carry no noise: add sigma * torch.randn_like(x) to x",
    matches_output=False,
    visible="no noise",
)
def smoothgrad_no_noise(model, x, target, n=50, noise=0.15):
    total = torch.zeros_like(x)
    for _ in range(n):
        total += _abs_gradient(model, x, target)
    return total / n


@mistake(
    "smoothgrad",
    "uniform_noise",
    "the noise is not Gaussian with mean 0: draw it with torch.randn_like(x), not torch.rand_like(x)",
    matches_output=False,
    visible="Gaussian",
)
def smoothgrad_uniform_noise(model, x, target, n=50, noise=0.15):
    sigma = noise * (x.amax(dim=(1, 2, 3)) - x.amin(dim=(1, 2, 3)))
    total = torch.zeros_like(x)
    for _ in range(n):
        total += _abs_gradient(model, x + sigma.view(-1, 1, 1, 1) * torch.rand_like(x), target)
    return total / n


@mistake(
    "smoothgrad",
    "abs_of_mean",
    "takes |.| after averaging: average the absolute gradients of the noisy copies "
    "(your vanilla_gradient), the gradients' signs must not cancel",
    matches_output=False,
    visible="after averaging",
)
def smoothgrad_abs_of_mean(model, x, target, n=50, noise=0.15):
    sigma = noise * (x.amax(dim=(1, 2, 3)) - x.amin(dim=(1, 2, 3)))
    total = torch.zeros_like(x)
    for _ in range(n):
        noisy = (x + sigma.view(-1, 1, 1, 1) * torch.randn_like(x)).detach().requires_grad_(True)
        model.eval()
        t = torch.as_tensor(target).long().expand(x.shape[0])
        (grad,) = torch.autograd.grad(model(noisy).gather(1, t[:, None]).sum(), noisy)
        total += grad
    return (total / n).abs()


@mistake(
    "smoothgrad",
    "sum_not_mean",
    "adds up the n gradients without dividing by n: SmoothGrad is their mean",
    matches_output=False,
    visible="not their sum",
)
def smoothgrad_sum_not_mean(model, x, target, n=50, noise=0.15):
    sigma = noise * (x.amax(dim=(1, 2, 3)) - x.amin(dim=(1, 2, 3)))
    total = torch.zeros_like(x)
    for _ in range(n):
        total += _abs_gradient(model, x + sigma.view(-1, 1, 1, 1) * torch.randn_like(x), target)
    return total


@mistake(
    "smoothgrad",
    "shared_noise",
    "every image in the batch gets the same noise pattern: draw the noise with the "
    "batch's full shape, torch.randn_like(x)",
    matches_output=False,
    visible="same noise pattern",
)
def smoothgrad_shared_noise(model, x, target, n=50, noise=0.15):
    sigma = noise * (x.amax(dim=(1, 2, 3)) - x.amin(dim=(1, 2, 3)))
    total = torch.zeros_like(x)
    for _ in range(n):
        eps = torch.randn_like(x[:1])  # one draw, broadcast over the batch
        total += _abs_gradient(model, x + sigma.view(-1, 1, 1, 1) * eps, target)
    return total / n


@mistake(
    "smoothgrad",
    "sigma_shape",
    "multiplies the (B,) tensor sigma with noise shaped (B, C, H, W), which fails (or "
    "scales the wrong dimension): give sigma the shape (B, 1, 1, 1) so each image gets its own",
    matches_output=False,
    visible="(B, 1, 1, 1)",
)
def smoothgrad_sigma_shape(model, x, target, n=50, noise=0.15):
    sigma = noise * (x.amax(dim=(1, 2, 3)) - x.amin(dim=(1, 2, 3)))
    total = torch.zeros_like(x)
    for _ in range(n):
        total += _abs_gradient(model, x + sigma * torch.randn_like(x), target)
    return total / n


# --- 5. relevance_mass -------------------------------------------------------------------


@mistake(
    "relevance_mass",
    "mean_inside",
    "compares average saliency inside the mask with the average over the image: "
    "relevance mass is the *sum* inside the mask divided by the total sum",
    visible="mean inside",
)
def relevance_mass_mean_inside(heatmap, mask):
    heat = heatmap.abs()
    inside = (heat * mask).sum(dim=(1, 2)) / mask.sum(dim=(1, 2)).clamp_min(1)
    return inside / heat.mean(dim=(1, 2)).clamp_min(1e-12)


@mistake(
    "relevance_mass",
    "batch_total",
    "returns one number for the whole batch: sum over each map's pixels only, dim=(1, 2), to get one share per sample",
    matches_output=False,
    visible="one value per image",
)
def relevance_mass_batch_total(heatmap, mask):
    heat = heatmap.abs()
    return (heat * mask).sum() / heat.sum()


@mistake(
    "relevance_mass",
    "outside",
    "measures the share outside the mask: True in the mask marks the object",
    visible="share outside",
)
def relevance_mass_outside(heatmap, mask):
    heat = heatmap.abs()
    total = heat.sum(dim=(1, 2))
    return (heat * ~mask).sum(dim=(1, 2)) / torch.where(total > 0, total, torch.ones_like(total))


@mistake(
    "relevance_mass",
    "no_abs",
    "uses the signed heatmap: measure the share of |heatmap|, so negative values count as saliency too",
    visible="absolute value",
)
def relevance_mass_no_abs(heatmap, mask):
    total = heatmap.sum(dim=(1, 2))
    return (heatmap * mask).sum(dim=(1, 2)) / torch.where(total != 0, total, torch.ones_like(total))


@mistake(
    "relevance_mass",
    "zero_map_nan",
    "an all-zero map gives NaN (0 / 0): return 0 for it",
    matches_output=False,
    visible="all-zero map",
)
def relevance_mass_zero_map_nan(heatmap, mask):
    heat = heatmap.abs()
    return (heat * mask).sum(dim=(1, 2)) / heat.sum(dim=(1, 2))
