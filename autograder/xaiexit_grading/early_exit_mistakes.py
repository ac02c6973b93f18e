"""Plausible mistakes in Lesson 3's exercises (early exits), each written out as a learner would.

See :mod:`xaiexit_grading.gradient_saliency_mistakes` for how the catalogue is used. The
functions here may call the module-level helpers below (``_nll`` and so on): a mistake
pasted into a notebook as an answer cell brings the helpers it calls along, so each helper
is self-contained. ``macs_by_part`` is the name the notebook's setup cell gives its learners
(with ``MaxSoftmax``, ``Entropy`` and ``max_softmax_score``, which no mistake needs).

Deliberately *not* mistakes (the hidden tests accept them):

- ``entropy_score`` computed as ``-(p * torch.log(p + eps)).sum(1)`` (or with
  ``p.clamp_min(eps)``) for a small ``eps``, 1e-6 or less: every term moves by at most
  ``eps``, well within the tolerance, and ``p = 0`` then contributes ``0 * log(eps) = 0``.
  Only ``torch.log(p)`` without a guard (NaN where ``p`` underflows to 0) is a mistake, ``log_of_zero`` below.
- ``expected_calibration_error`` with bins ``[lo, hi)`` instead of ``(lo, hi]``: the two
  conventions differ only for a confidence exactly on an edge, and the hidden data keep
  every confidence at least 1e-4 away from the edges.
- ``fit_temperature`` by any method (L-BFGS or Adam on ``T`` or ``log T``, a fine grid, a
  golden-section search): only the fit's quality is checked.
- ``predict_with_exits`` that keeps running blocks on an *empty* batch once every sample
  has left (it costs nothing), or that loops over samples one at a time (each block still
  sees only the samples that are still there).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from xaiexit.exits import macs_by_part
from xaiexit_grading import gradient_saliency_mistakes as _lesson1
from xaiexit_grading._catalogue import Catalogue, Mistake

_catalogue = Catalogue()
mistake, of, message, CATALOGUE = _catalogue.mistake, _catalogue.of, _catalogue.message, _catalogue.entries

__all__ = ["CATALOGUE", "Mistake", "mistake", "of", "message"]

# Running the model in training mode reads as in Lessons 1 and 2.
_TRAIN_MODE = _lesson1.message("vanilla_gradient", "train_mode")


# --- helpers the mistakes share (each correct on its own) --------------------------------


def _nll(logits, y, temperature):
    """Mean negative log-likelihood of softmax(logits / temperature), as a float."""
    return float(F.cross_entropy(logits.double() / temperature, y))


# --- 1. early_exit_loss ------------------------------------------------------------------


@mistake(
    "early_exit_loss",
    "mean_over_exits",
    "averages the exits' losses (divides by the number of exits): the joint loss is the "
    "weighted *sum* of the exits' cross-entropies, sum_n w_n * CE(z_n, y)",
    visible="you averaged the exits' losses",
)
def early_exit_loss_mean_over_exits(logits_per_exit, y, weights=None):
    if weights is None:
        weights = [1.0] * len(logits_per_exit)
    losses = [w * F.cross_entropy(z, y) for w, z in zip(weights, logits_per_exit)]
    return torch.stack(losses).mean()


@mistake(
    "early_exit_loss",
    "ignores_weights",
    "ignores the weights it is given: multiply each exit's cross-entropy by its weight "
    "w_n (all weights are 1 only when weights is None)",
    visible="the weights are ignored",
)
def early_exit_loss_ignores_weights(logits_per_exit, y, weights=None):
    return sum(F.cross_entropy(z, y) for z in logits_per_exit)


@mistake(
    "early_exit_loss",
    "softmax_first",
    "applies a softmax before the cross-entropy, which takes raw logits and applies the "
    "log-softmax itself: give each exit's logits to the cross-entropy unchanged",
    visible="a softmax of your own came before the cross-entropy",
)
def early_exit_loss_softmax_first(logits_per_exit, y, weights=None):
    if weights is None:
        weights = [1.0] * len(logits_per_exit)
    return sum(w * F.cross_entropy(torch.softmax(z, dim=1), y) for w, z in zip(weights, logits_per_exit))


@mistake(
    "early_exit_loss",
    "nll_on_logits",
    "reads the logits as log-probabilities (a negative log-likelihood loss on raw logits "
    "only picks -z_y): the cross-entropy is -ln softmax(z)_y, so the logits go through a "
    "log-softmax first",
    visible="read as log-probabilities",
)
def early_exit_loss_nll_on_logits(logits_per_exit, y, weights=None):
    if weights is None:
        weights = [1.0] * len(logits_per_exit)
    return sum(w * F.nll_loss(z, y) for w, z in zip(weights, logits_per_exit))


@mistake(
    "early_exit_loss",
    "batch_sum",
    "adds up the cross-entropy over the batch: each exit's loss is the *mean* over the batch",
    visible="you added the cross-entropy over the batch",
)
def early_exit_loss_batch_sum(logits_per_exit, y, weights=None):
    if weights is None:
        weights = [1.0] * len(logits_per_exit)
    return sum(w * F.cross_entropy(z, y, reduction="sum") for w, z in zip(weights, logits_per_exit))


@mistake(
    "early_exit_loss",
    "detached",
    "returns a loss cut off from the autograd graph (built from Python numbers): training "
    "needs its gradient, so add up the weighted losses as tensors",
    matches_output=False,
    visible="cut off from the logits",
)
def early_exit_loss_detached(logits_per_exit, y, weights=None):
    if weights is None:
        weights = [1.0] * len(logits_per_exit)
    total = 0.0
    for w, z in zip(weights, logits_per_exit):
        total += w * F.cross_entropy(z, y).item()
    return torch.tensor(total)


# --- 2. entropy_score --------------------------------------------------------------------


@mistake(
    "entropy_score",
    "log_of_zero",
    "gives NaN when a probability underflows to 0 (a very sure exit): the logarithm of 0 "
    "is -inf, and 0 * -inf is NaN. Compute ln p_k from the logits directly, "
    "z_k - logsumexp(z), never as the logarithm of a probability",
    matches_output=False,
    visible="underflows to 0",
)
def entropy_score_log_of_zero(logits):
    p = torch.softmax(logits, dim=1)
    return -(p * torch.log(p)).sum(dim=1)


@mistake(
    "entropy_score",
    "masked_logit_nan",
    "gives NaN for a logit of -inf (a masked class): there p = 0 and ln p = -inf, and "
    "0 * -inf is NaN. A term with p = 0 contributes its limit, 0: keep only the terms "
    "with p > 0",
    matches_output=False,
    visible="a masked class (logit -inf) gave nan",
)
def entropy_score_masked_logit_nan(logits):
    log_p = torch.log_softmax(logits, dim=1)
    return -(log_p.exp() * log_p).sum(dim=1)


@mistake(
    "entropy_score",
    "bits",
    "measures the entropy in bits (log2): the score is in nats, H = -sum_k p_k ln p_k with the natural logarithm",
    visible="you measured in bits",
)
def entropy_score_bits(logits):
    p = torch.softmax(logits, dim=1)
    return -(p * torch.log2(p.clamp_min(1e-30))).sum(dim=1)


@mistake(
    "entropy_score",
    "entropy_of_logits",
    "weighs ln p by the logits instead of the probabilities: H = -sum_k p_k ln p_k, with "
    "p = softmax(logits) in both places",
    visible="you weighed ln p_k by the logits",
)
def entropy_score_entropy_of_logits(logits):
    log_p = torch.log_softmax(logits, dim=1)
    return -(logits * log_p).sum(dim=1)


@mistake(
    "entropy_score",
    "no_minus_sign",
    "forgets the minus sign: sum_k p_k ln p_k is <= 0, the entropy is its negative, "
    "H = -sum_k p_k ln p_k (0 for a sure exit, ln K for a uniform one)",
    visible="the sign is missing",
)
def entropy_score_no_minus_sign(logits):
    log_p = torch.log_softmax(logits, dim=1)
    p = log_p.exp()
    return torch.where(p > 0, p * log_p, torch.zeros_like(p)).sum(dim=1)


@mistake(
    "entropy_score",
    "mean_over_classes",
    "averages -p_k ln p_k over the classes: the entropy is their *sum* over k, ln K for a uniform distribution",
    visible="you averaged over the classes",
)
def entropy_score_mean_over_classes(logits):
    log_p = torch.log_softmax(logits, dim=1)
    p = log_p.exp()
    return -torch.where(p > 0, p * log_p, torch.zeros_like(p)).mean(dim=1)


# --- 3. predict_with_exits ---------------------------------------------------------------


@mistake(
    "predict_with_exits",
    "below_threshold",
    "lets a sample leave when its score is *below* the threshold: for MaxSoftmax a higher "
    "score is surer, so a sample leaves when its score reaches the threshold. Let the "
    "rule decide who leaves: it knows which way its score points",
    visible="*reaches* the threshold",
)
def predict_with_exits_below_threshold(model, x, rule, thresholds):
    was_training = model.training
    model.eval()
    predictions = torch.full((x.shape[0],), -1, dtype=torch.long)
    exit_index = torch.full((x.shape[0],), -1, dtype=torch.long)
    remaining = torch.arange(x.shape[0])
    heads = list(model.exits.values())
    h, k = x, 0
    with torch.no_grad():
        for i, block in enumerate(model.features, start=1):
            h = block(h)
            if i not in model.exit_blocks:
                continue
            logits = heads[k](h)
            if k == model.num_exits - 1:
                leave = torch.ones(len(h), dtype=torch.bool)
            else:
                leave = rule.score(logits) < thresholds[k]
            predictions[remaining[leave]] = logits[leave].argmax(dim=1)
            exit_index[remaining[leave]] = k
            remaining, h = remaining[~leave], h[~leave]
            k += 1
            if len(remaining) == 0:
                break
    model.train(was_training)
    return predictions, exit_index


@mistake(
    "predict_with_exits",
    "ignores_direction",
    "always lets a sample leave when its score is >= the threshold, which is right only "
    "when a higher score is surer: for Entropy a *lower* score is surer. Let the rule "
    "decide who leaves: it knows which way its score points",
    visible="where a lower score is surer",
)
def predict_with_exits_ignores_direction(model, x, rule, thresholds):
    was_training = model.training
    model.eval()
    predictions = torch.full((x.shape[0],), -1, dtype=torch.long)
    exit_index = torch.full((x.shape[0],), -1, dtype=torch.long)
    remaining = torch.arange(x.shape[0])
    heads = list(model.exits.values())
    h, k = x, 0
    with torch.no_grad():
        for i, block in enumerate(model.features, start=1):
            h = block(h)
            if i not in model.exit_blocks:
                continue
            logits = heads[k](h)
            if k == model.num_exits - 1:
                leave = torch.ones(len(h), dtype=torch.bool)
            else:
                leave = rule.score(logits) >= thresholds[k]
            predictions[remaining[leave]] = logits[leave].argmax(dim=1)
            exit_index[remaining[leave]] = k
            remaining, h = remaining[~leave], h[~leave]
            k += 1
            if len(remaining) == 0:
                break
    model.train(was_training)
    return predictions, exit_index


@mistake(
    "predict_with_exits",
    "later_exit_overwrites",
    "predicts some samples twice: a sample that already left at an earlier exit is "
    "overwritten by a later exit that is sure of it too. A sample leaves at the *first* "
    "exit sure enough of it: drop its row from the batch then, and keep the original "
    "positions of the rows that go on",
    visible="the second exit answered them all",
)
def predict_with_exits_later_exit_overwrites(model, x, rule, thresholds):
    was_training = model.training
    model.eval()
    predictions = torch.full((x.shape[0],), -1, dtype=torch.long)
    exit_index = torch.full((x.shape[0],), -1, dtype=torch.long)
    heads = list(model.exits.values())
    h, k = x, 0
    with torch.no_grad():
        for i, block in enumerate(model.features, start=1):
            h = block(h)
            if i not in model.exit_blocks:
                continue
            logits = heads[k](h)
            if k == model.num_exits - 1:
                leave = exit_index == -1
            else:
                leave = rule.exits(logits, thresholds[k])
            predictions[leave] = logits[leave].argmax(dim=1)
            exit_index[leave] = k
            k += 1
    model.train(was_training)
    return predictions, exit_index


@mistake(
    "predict_with_exits",
    "relative_indices",
    "writes the results at positions counted in the shrunken batch, so once samples have "
    "left, others are overwritten and some get no prediction at all: keep the original "
    "index of every row next to the features, drop the same rows from both, and write "
    "each result at its row's original index",
    visible="row i of the batch is no longer sample i",
)
def predict_with_exits_relative_indices(model, x, rule, thresholds):
    was_training = model.training
    model.eval()
    predictions = torch.full((x.shape[0],), -1, dtype=torch.long)
    exit_index = torch.full((x.shape[0],), -1, dtype=torch.long)
    heads = list(model.exits.values())
    h, k = x, 0
    with torch.no_grad():
        for i, block in enumerate(model.features, start=1):
            h = block(h)
            if i not in model.exit_blocks:
                continue
            logits = heads[k](h)
            if k == model.num_exits - 1:
                leave = torch.ones(len(h), dtype=torch.bool)
            else:
                leave = rule.exits(logits, thresholds[k])
            idx = leave.nonzero().squeeze(1)
            predictions[idx] = logits[leave].argmax(dim=1)
            exit_index[idx] = k
            h = h[~leave]
            k += 1
            if len(h) == 0:
                break
    model.train(was_training)
    return predictions, exit_index


@mistake(
    "predict_with_exits",
    "final_exit_forgotten",
    "never uses the final exit, so the samples no side exit was sure of get no "
    "prediction: after the last side exit, run the remaining blocks and let the final "
    "exit take every sample still left (it has no threshold)",
    visible="the final exit has no threshold",
)
def predict_with_exits_final_exit_forgotten(model, x, rule, thresholds):
    was_training = model.training
    model.eval()
    predictions = torch.full((x.shape[0],), -1, dtype=torch.long)
    exit_index = torch.full((x.shape[0],), -1, dtype=torch.long)
    remaining = torch.arange(x.shape[0])
    blocks, heads = list(model.features), list(model.exits.values())
    h, start = x, 0
    with torch.no_grad():
        for k, threshold in enumerate(thresholds):
            for block in blocks[start : model.exit_blocks[k]]:
                h = block(h)
            start = model.exit_blocks[k]
            logits = heads[k](h)
            leave = rule.exits(logits, threshold)
            predictions[remaining[leave]] = logits[leave].argmax(dim=1)
            exit_index[remaining[leave]] = k
            remaining, h = remaining[~leave], h[~leave]
    model.train(was_training)
    return predictions, exit_index


@mistake(
    "predict_with_exits",
    "one_based_exits",
    "numbers the exits from 1: exit_index is 0-based, 0 for the first side exit and "
    "model.num_exits - 1 for the final exit",
    visible="exit_index is 0-based",
)
def predict_with_exits_one_based_exits(model, x, rule, thresholds):
    was_training = model.training
    model.eval()
    predictions = torch.full((x.shape[0],), -1, dtype=torch.long)
    exit_index = torch.full((x.shape[0],), -1, dtype=torch.long)
    remaining = torch.arange(x.shape[0])
    heads = list(model.exits.values())
    h, k = x, 0
    with torch.no_grad():
        for i, block in enumerate(model.features, start=1):
            h = block(h)
            if i not in model.exit_blocks:
                continue
            logits = heads[k](h)
            k += 1
            if k == model.num_exits:
                leave = torch.ones(len(h), dtype=torch.bool)
            else:
                leave = rule.exits(logits, thresholds[k - 1])
            predictions[remaining[leave]] = logits[leave].argmax(dim=1)
            exit_index[remaining[leave]] = k
            remaining, h = remaining[~leave], h[~leave]
            if len(remaining) == 0:
                break
    model.train(was_training)
    return predictions, exit_index


@mistake(
    "predict_with_exits",
    "all_blocks",
    "runs later blocks on samples that have already left (e.g. every block on the whole "
    "batch, then picks each sample's exit): the answers are right, but the savings are "
    "not real, the network does all the work anyway. After each exit drop the rows of the "
    "samples that left, so that the next block never sees them",
    matches_output=False,
    visible="drop the rows of the samples that left before running the next block",
)
def predict_with_exits_all_blocks(model, x, rule, thresholds):
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logits_per_exit = model(x)
    model.train(was_training)
    exit_index = torch.full((x.shape[0],), model.num_exits - 1, dtype=torch.long)
    undecided = torch.ones(x.shape[0], dtype=torch.bool)
    for k, threshold in enumerate(thresholds):
        leave = undecided & rule.exits(logits_per_exit[k], threshold)
        exit_index[leave] = k
        undecided &= ~leave
    stacked = torch.stack(logits_per_exit)
    predictions = stacked[exit_index, torch.arange(x.shape[0])].argmax(dim=1)
    return predictions, exit_index


@mistake(
    "predict_with_exits",
    "no_grad_missing",
    "builds the autograd graph at every block: inference needs no gradients, so run the "
    "model with gradient tracking switched off (saves memory and time)",
    matches_output=False,
    visible="gradient tracking on",
)
def predict_with_exits_no_grad_missing(model, x, rule, thresholds):
    was_training = model.training
    model.eval()
    predictions = torch.full((x.shape[0],), -1, dtype=torch.long)
    exit_index = torch.full((x.shape[0],), -1, dtype=torch.long)
    remaining = torch.arange(x.shape[0])
    heads = list(model.exits.values())
    h, k = x, 0
    for i, block in enumerate(model.features, start=1):
        h = block(h)
        if i not in model.exit_blocks:
            continue
        logits = heads[k](h)
        if k == model.num_exits - 1:
            leave = torch.ones(len(h), dtype=torch.bool)
        else:
            leave = rule.exits(logits, thresholds[k])
        predictions[remaining[leave]] = logits[leave].argmax(dim=1)
        exit_index[remaining[leave]] = k
        remaining, h = remaining[~leave], h[~leave]
        k += 1
        if len(remaining) == 0:
            break
    model.train(was_training)
    return predictions, exit_index


@mistake(
    "predict_with_exits",
    "train_mode",
    _TRAIN_MODE,
    matches_output=False,
    visible="the result depends on the mode the model came in",
)
def predict_with_exits_train_mode(model, x, rule, thresholds):
    predictions = torch.full((x.shape[0],), -1, dtype=torch.long)
    exit_index = torch.full((x.shape[0],), -1, dtype=torch.long)
    remaining = torch.arange(x.shape[0])
    heads = list(model.exits.values())
    h, k = x, 0
    with torch.no_grad():
        for i, block in enumerate(model.features, start=1):
            h = block(h)
            if i not in model.exit_blocks:
                continue
            logits = heads[k](h)
            if k == model.num_exits - 1:
                leave = torch.ones(len(h), dtype=torch.bool)
            else:
                leave = rule.exits(logits, thresholds[k])
            predictions[remaining[leave]] = logits[leave].argmax(dim=1)
            exit_index[remaining[leave]] = k
            remaining, h = remaining[~leave], h[~leave]
            k += 1
            if len(remaining) == 0:
                break
    return predictions, exit_index


@mistake(
    "predict_with_exits",
    "mode_not_restored",
    "does not give the model back in the mode it came in: note its mode before switching "
    "to eval mode, and restore that mode before returning",
    matches_output=False,
    visible="give the model back in the mode it came in",
)
def predict_with_exits_mode_not_restored(model, x, rule, thresholds):
    model.eval()
    predictions = torch.full((x.shape[0],), -1, dtype=torch.long)
    exit_index = torch.full((x.shape[0],), -1, dtype=torch.long)
    remaining = torch.arange(x.shape[0])
    heads = list(model.exits.values())
    h, k = x, 0
    with torch.no_grad():
        for i, block in enumerate(model.features, start=1):
            h = block(h)
            if i not in model.exit_blocks:
                continue
            logits = heads[k](h)
            if k == model.num_exits - 1:
                leave = torch.ones(len(h), dtype=torch.bool)
            else:
                leave = rule.exits(logits, thresholds[k])
            predictions[remaining[leave]] = logits[leave].argmax(dim=1)
            exit_index[remaining[leave]] = k
            remaining, h = remaining[~leave], h[~leave]
            k += 1
            if len(remaining) == 0:
                break
    return predictions, exit_index


# --- 4. conv2d_macs ----------------------------------------------------------------------


@mistake(
    "conv2d_macs",
    "no_groups",
    "ignores groups: with groups=g each output channel sees only its own group's C_in / g "
    "input channels, so the dot product behind each output value is g times shorter",
    visible="its own group's input channels",
)
def conv2d_macs_no_groups(layer, input_shape):
    C, H, W = input_shape
    kh, kw = layer.kernel_size
    (sh, sw), (ph, pw), (dh, dw) = layer.stride, layer.padding, layer.dilation
    h_out = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    w_out = (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    return layer.out_channels * h_out * w_out * layer.in_channels * kh * kw


@mistake(
    "conv2d_macs",
    "no_stride",
    "computes the output size without the stride: H_out = floor((H + 2p - d(k - 1) - 1) "
    "/ s) + 1, a stride of 2 halves the output (and the MACs per output channel by 4)",
    visible="the stride is missing",
)
def conv2d_macs_no_stride(layer, input_shape):
    C, H, W = input_shape
    kh, kw = layer.kernel_size
    (ph, pw), (dh, dw) = layer.padding, layer.dilation
    h_out = H + 2 * ph - dh * (kh - 1)
    w_out = W + 2 * pw - dw * (kw - 1)
    return layer.out_channels * h_out * w_out * (layer.in_channels // layer.groups) * kh * kw


@mistake(
    "conv2d_macs",
    "no_padding",
    "ignores the padding in the output size: H_out = floor((H + 2p - d(k - 1) - 1) / s) "
    "+ 1, with p = layer.padding (padding=1 keeps a 3x3 convolution's size)",
    visible="the padding is missing",
)
def conv2d_macs_no_padding(layer, input_shape):
    C, H, W = input_shape
    kh, kw = layer.kernel_size
    (sh, sw), (dh, dw) = layer.stride, layer.dilation
    h_out = (H - dh * (kh - 1) - 1) // sh + 1
    w_out = (W - dw * (kw - 1) - 1) // sw + 1
    return layer.out_channels * h_out * w_out * (layer.in_channels // layer.groups) * kh * kw


@mistake(
    "conv2d_macs",
    "counts_bias",
    "counts the bias as one more MAC per output value: the course counts multiplications "
    "of a weight by an input value only",
    visible="you counted the bias",
)
def conv2d_macs_counts_bias(layer, input_shape):
    C, H, W = input_shape
    kh, kw = layer.kernel_size
    (sh, sw), (ph, pw), (dh, dw) = layer.stride, layer.padding, layer.dilation
    h_out = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    w_out = (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    macs = layer.out_channels * h_out * w_out * (layer.in_channels // layer.groups) * kh * kw
    if layer.bias is not None:
        macs += layer.out_channels * h_out * w_out
    return macs


@mistake(
    "conv2d_macs",
    "no_dilation",
    "ignores the dilation in the output size: a dilated kernel spans d(k - 1) + 1 pixels, "
    "so H_out = floor((H + 2p - d(k - 1) - 1) / s) + 1",
    visible="the dilation is missing",
)
def conv2d_macs_no_dilation(layer, input_shape):
    C, H, W = input_shape
    kh, kw = layer.kernel_size
    (sh, sw), (ph, pw) = layer.stride, layer.padding
    h_out = (H + 2 * ph - (kh - 1) - 1) // sh + 1
    w_out = (W + 2 * pw - (kw - 1) - 1) // sw + 1
    return layer.out_channels * h_out * w_out * (layer.in_channels // layer.groups) * kh * kw


@mistake(
    "conv2d_macs",
    "square_kernel",
    "assumes square kernels, strides and paddings (uses only their first value): "
    "layer.kernel_size, layer.stride, layer.padding and layer.dilation are (height, "
    "width) pairs, use each for its own axis",
    visible="the width the second",
)
def conv2d_macs_square_kernel(layer, input_shape):
    C, H, W = input_shape
    k, s, p, d = layer.kernel_size[0], layer.stride[0], layer.padding[0], layer.dilation[0]
    h_out = (H + 2 * p - d * (k - 1) - 1) // s + 1
    w_out = (W + 2 * p - d * (k - 1) - 1) // s + 1
    return layer.out_channels * h_out * w_out * (layer.in_channels // layer.groups) * k * k


@mistake(
    "conv2d_macs",
    "rounds_up",
    "rounds the output size up: a window that would stick out of the (padded) image is "
    "not computed, so H_out = floor((H + 2p - d(k - 1) - 1) / s) + 1",
    visible="rounded up",
)
def conv2d_macs_rounds_up(layer, input_shape):
    C, H, W = input_shape
    kh, kw = layer.kernel_size
    (sh, sw), (ph, pw), (dh, dw) = layer.stride, layer.padding, layer.dilation
    h_out = math.ceil((H + 2 * ph - dh * (kh - 1) - 1) / sh) + 1
    w_out = math.ceil((W + 2 * pw - dw * (kw - 1) - 1) / sw) + 1
    return layer.out_channels * h_out * w_out * (layer.in_channels // layer.groups) * kh * kw


# --- 5. exit_costs -----------------------------------------------------------------------


@mistake(
    "exit_costs",
    "blocks_only",
    "counts only the blocks: a sample that leaves at exit k also paid for every exit head "
    "evaluated on its way, the earlier side exits that let it go on and exit k itself",
    visible="also costs that exit's head",
)
def exit_costs_blocks_only(model, input_shape):
    parts = macs_by_part(model, input_shape)
    costs, spent = [], 0
    for i in range(1, len(model.features) + 1):
        spent += parts[f"block{i}"]
        if i in model.exit_blocks:
            costs.append(spent)
    return torch.tensor(costs, dtype=torch.float64)


@mistake(
    "exit_costs",
    "own_head_only",
    "adds only the exit's own head: the earlier side exits were evaluated too (they "
    "decided to let the sample go on), so exit k costs the blocks up to it plus exits "
    "1 to k",
    visible="the earlier side exits were evaluated too",
)
def exit_costs_own_head_only(model, input_shape):
    parts = macs_by_part(model, input_shape)
    costs, blocks = [], 0
    for i in range(1, len(model.features) + 1):
        blocks += parts[f"block{i}"]
        if i in model.exit_blocks:
            k = model.exit_blocks.index(i) + 1
            costs.append(blocks + parts[f"exit{k}"])
    return torch.tensor(costs, dtype=torch.float64)


@mistake(
    "exit_costs",
    "one_block_short",
    "leaves out the block an exit sits after: model.exit_blocks are 1-based, exit k "
    "follows block model.exit_blocks[k], so blocks 1 to model.exit_blocks[k] (included) "
    "have run",
    visible="up to and including",
)
def exit_costs_one_block_short(model, input_shape):
    parts = macs_by_part(model, input_shape)
    costs, heads = [], 0
    for k, b in enumerate(model.exit_blocks, start=1):
        heads += parts[f"exit{k}"]
        blocks = sum(parts[f"block{i}"] for i in range(1, b))
        costs.append(blocks + heads)
    return torch.tensor(costs, dtype=torch.float64)


@mistake(
    "exit_costs",
    "exit_after_block_k",
    "assumes exit k sits right after block k: look up where each exit is, it follows "
    "block model.exit_blocks[k] (1-based), and blocks without an exit count too",
    visible="look up the block each exit follows",
)
def exit_costs_exit_after_block_k(model, input_shape):
    parts = macs_by_part(model, input_shape)
    costs, spent = [], 0
    for k in range(1, model.num_exits + 1):
        spent += parts[f"block{k}"] + parts[f"exit{k}"]
        costs.append(spent)
    return torch.tensor(costs, dtype=torch.float64)


# --- 6. expected_calibration_error -------------------------------------------------------


@mistake(
    "expected_calibration_error",
    "true_class_confidence",
    "uses the probability of the true class as the confidence: the confidence is the "
    "probability the model gives its own prediction, the largest of the row",
    visible="not the probability of the true class",
)
def expected_calibration_error_true_class_confidence(probs, y, n_bins=15):
    confidence = probs.gather(1, y[:, None]).squeeze(1)
    correct = (probs.argmax(dim=1) == y).float()
    ece = 0.0
    for b in range(n_bins):
        in_bin = (confidence > b / n_bins) & (confidence <= (b + 1) / n_bins)
        if in_bin.any():
            gap = (correct[in_bin].mean() - confidence[in_bin].mean()).abs()
            ece += in_bin.float().mean().item() * gap.item()
    return ece


@mistake(
    "expected_calibration_error",
    "unweighted_bins",
    "averages the bins' gaps with equal weights: weigh each bin by its share of the "
    "samples, n_b / N, so a bin with one sample counts less than one with a hundred",
    visible="you averaged the bins with equal weights",
)
def expected_calibration_error_unweighted_bins(probs, y, n_bins=15):
    confidence, predicted = probs.max(dim=1)
    correct = (predicted == y).float()
    gaps = []
    for b in range(n_bins):
        in_bin = (confidence > b / n_bins) & (confidence <= (b + 1) / n_bins)
        if in_bin.any():
            gaps.append((correct[in_bin].mean() - confidence[in_bin].mean()).abs().item())
    return sum(gaps) / len(gaps)


@mistake(
    "expected_calibration_error",
    "empty_bins_nan",
    "gives NaN when a bin is empty (the mean of no values is 0 / 0): skip the empty "
    "bins, their weight n_b / N is 0 anyway",
    matches_output=False,
    visible="skip the empty bins",
)
def expected_calibration_error_empty_bins_nan(probs, y, n_bins=15):
    confidence, predicted = probs.max(dim=1)
    correct = (predicted == y).float()
    ece = 0.0
    for b in range(n_bins):
        in_bin = (confidence > b / n_bins) & (confidence <= (b + 1) / n_bins)
        gap = (correct[in_bin].mean() - confidence[in_bin].mean()).abs()
        ece += in_bin.float().mean().item() * gap.item()
    return ece


@mistake(
    "expected_calibration_error",
    "global_accuracy",
    "compares each bin's confidence with the accuracy of *all* samples: acc_b is the "
    "accuracy of the samples in bin b only",
    visible="not the accuracy of all samples",
)
def expected_calibration_error_global_accuracy(probs, y, n_bins=15):
    confidence, predicted = probs.max(dim=1)
    accuracy = (predicted == y).float().mean()
    ece = 0.0
    for b in range(n_bins):
        in_bin = (confidence > b / n_bins) & (confidence <= (b + 1) / n_bins)
        if in_bin.any():
            ece += in_bin.float().mean().item() * (accuracy - confidence[in_bin].mean()).abs().item()
    return ece


@mistake(
    "expected_calibration_error",
    "signed_gap",
    "adds up the signed gaps acc_b - conf_b, so over- and underconfident bins cancel "
    "out: take their absolute value, |acc_b - conf_b|",
    visible="bins cancel",
)
def expected_calibration_error_signed_gap(probs, y, n_bins=15):
    confidence, predicted = probs.max(dim=1)
    correct = (predicted == y).float()
    ece = 0.0
    for b in range(n_bins):
        in_bin = (confidence > b / n_bins) & (confidence <= (b + 1) / n_bins)
        if in_bin.any():
            ece += in_bin.float().mean().item() * (correct[in_bin].mean() - confidence[in_bin].mean()).item()
    return ece


@mistake(
    "expected_calibration_error",
    "counts_not_shares",
    "weighs each bin by its number of samples n_b: divide by N, the weights n_b / N add "
    "up to 1 and the ECE lies in [0, 1]",
    visible="not its count",
)
def expected_calibration_error_counts_not_shares(probs, y, n_bins=15):
    confidence, predicted = probs.max(dim=1)
    correct = (predicted == y).float()
    ece = 0.0
    for b in range(n_bins):
        in_bin = (confidence > b / n_bins) & (confidence <= (b + 1) / n_bins)
        if in_bin.any():
            gap = (correct[in_bin].mean() - confidence[in_bin].mean()).abs()
            ece += in_bin.sum().item() * gap.item()
    return ece


# --- 7. fit_temperature ------------------------------------------------------------------


@mistake(
    "fit_temperature",
    "multiplies",
    "multiplies the logits by T instead of dividing them: temperature scaling is "
    "softmax(logits / T), so your T is about 1 / (the right one)",
    visible="you multiplied the logits by T",
)
def fit_temperature_multiplies(logits, y):
    logits = logits.detach().double()
    t = torch.ones((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([t], lr=0.5, max_iter=100, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(logits * t, y)
        loss.backward()
        return loss

    optimizer.step(closure)
    return t.item()


@mistake(
    "fit_temperature",
    "fits_accuracy",
    "chooses T by accuracy: dividing every logit by the same T > 0 changes no argmax, so "
    "the accuracy is the same for every T. Minimise the negative log-likelihood of "
    "softmax(logits / T) instead",
    visible="not by accuracy",
)
def fit_temperature_fits_accuracy(logits, y):
    best_t, best_acc = None, -1.0
    for t in torch.linspace(0.05, 5.0, 100).tolist():
        acc = ((logits / t).argmax(dim=1) == y).float().mean().item()
        if acc > best_acc:
            best_t, best_acc = t, acc
    return best_t


@mistake(
    "fit_temperature",
    "returns_log_t",
    "returns log T: optimising t = log T keeps T positive, but the temperature is "
    "T = exp(t), and that is what to return",
    visible="you returned log T",
)
def fit_temperature_returns_log_t(logits, y):
    logits = logits.detach().double()
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.5, max_iter=100, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), y)
        loss.backward()
        return loss

    optimizer.step(closure)
    return log_t.item()


@mistake(
    "fit_temperature",
    "coarse_grid",
    "searches too coarse a grid of temperatures (steps of 0.5): the best T lies between "
    "the grid points. Minimise the NLL continuously (L-BFGS or Adam on log T) or on a "
    "grid with steps of 0.01 or finer",
    visible="a grid that coarse",
)
def fit_temperature_coarse_grid(logits, y):
    return min([0.5, 1.0, 1.5, 2.0], key=lambda t: _nll(logits, y, t))
