"""Plausible mistakes in Lesson 6's exercises (U-Net segmentation), each written out as a learner would.

See :mod:`xaiexit_grading.gradient_saliency_mistakes` for how the catalogue is used. The
functions here may call the module-level helpers below (``_balanced`` and so on): a
mistake pasted into a notebook as an answer cell brings the helpers it calls along, so
each helper is self-contained. ``np``, ``ndimage`` (``scipy.ndimage``), ``warp`` and
``mirror_pad`` are names the notebook's setup cell gives its learners.

Most mistakes of ``elastic_deform`` and some of ``overlap_tile_predict`` are not
recognised from their output (``matches_output=False``): the deformation is random and
the learner may draw in another order than the reference, so the hidden test measures
properties (labels kept, one field for image and mask, a bicubic coarse grid with its
corners on the image's corners, displacements at the control points that are independent,
centred on 0 and spread by sigma, the generator used), and a model's mode and the tiles it
sees are watched with hooks.

Two decisions: ``weighted_cross_entropy`` divided by the sum of the weights (a weighted
mean, as ``F.cross_entropy(weight=...)`` computes) is a mistake here, since the lesson asks
for the paper's mean over all pixels, which keeps the weight map's scale
(``divided_by_weight_sum``); and ``overlap_tile_predict`` run with gradients on is a
mistake (``no_grad_missing``), since the kept activations make the memory grow with the
image again.

Deliberately *not* mistakes (the hidden tests accept them):

- ``center_crop`` returning a view (plain slicing) or a copy (``.clone()``,
  ``torch.narrow``), reading the sizes from ``features.shape[2:]`` or ``[-2:]``.
- ``unet_output_size`` by a loop over the levels or by a closed form with its own
  legality test, raising ValueError with any message.
- ``weight_map`` returning a float NumPy array instead of a tensor, or float64; sorting
  the distances with ``np.sort`` or ``np.partition``; the class weights from
  ``np.bincount`` or from counts.
- ``weighted_cross_entropy`` through ``F.cross_entropy(..., reduction="none")`` or
  ``F.log_softmax`` and ``gather``, in float32 or float64.
- ``elastic_deform`` drawing the row and column displacements in any order or as one
  ``(2, grid, grid)`` draw (``torch.randn`` or ``torch.normal``, with the generator),
  interpolating the image bilinearly instead of bicubically (the mask must stay
  nearest), swapping which of the two drawn grids moves rows and which moves columns.
- ``overlap_tile_predict`` averaging the overlapping tiles (where tiles overlap they
  agree, for strides that are multiples of ``2 ** depth``), padding with
  ``F.pad(..., mode="reflect")`` instead of ``mirror_pad`` (the hidden images are large
  enough for its pads; ``mirror_pad`` also takes pads larger than the image), running
  the tiles as one batch, cutting more tiles than needed (``range(0, H, stride)``),
  stitching on a float32 canvas.
- ``iou`` returning a 0-dim tensor or a NumPy float, or smoothed as
  ``(inter + eps) / (union + eps)`` with ``eps <= 1e-6``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from xaiexit.segmentation import mirror_pad, warp
from xaiexit_grading import early_exit_mistakes as _lesson3
from xaiexit_grading import gradient_saliency_mistakes as _lesson1
from xaiexit_grading._catalogue import Catalogue, Mistake

_catalogue = Catalogue()
mistake, of, message, CATALOGUE = _catalogue.mistake, _catalogue.of, _catalogue.message, _catalogue.entries

__all__ = ["CATALOGUE", "Mistake", "mistake", "of", "message"]

# A model run in training mode, or given back in another mode, reads as in Lessons 1 and 3.
_TRAIN_MODE = _lesson1.message("vanilla_gradient", "train_mode")
_MODE_NOT_RESTORED = _lesson3.message("predict_with_exits", "mode_not_restored")


# --- helpers the mistakes share (each correct on its own) --------------------------------


def _balanced(labels):
    """U-Net's class weights w_c: N / (2 N_class) for each pixel's class (foreground = any
    cell); ones when the image holds one class only."""
    foreground = labels > 0
    n, n_fg = foreground.size, int(foreground.sum())
    if n_fg in (0, n):
        return np.ones(labels.shape)
    return np.where(foreground, n / (2.0 * n_fg), n / (2.0 * (n - n_fg)))


def _sorted_distances(labels):
    """Distance from every pixel to the nearest pixel of each cell, sorted over the cells:
    (n_cells, H, W), the nearest first."""
    ids = [i for i in np.unique(labels) if i > 0]
    if not ids:
        return np.zeros((0,) + labels.shape)
    return np.sort(np.stack([ndimage.distance_transform_edt(labels != i) for i in ids]), axis=0)


def _tile_count(size, out, stride):
    """Tiles along one axis so that (n - 1) * stride + out covers ``size``."""
    return max(1, math.ceil((size - out) / stride) + 1)


def _stitch(model, padded, tile, out, stride, ny, nx):
    """The model's output for every tile of the padded image, each put in its place."""
    scores = None
    for ty in range(ny):
        for tx in range(nx):
            y, x = ty * stride, tx * stride
            piece = model(padded[None, :, y : y + tile, x : x + tile])[0]
            if scores is None:
                scores = piece.new_zeros(piece.shape[0], (ny - 1) * stride + out, (nx - 1) * stride + out)
            scores[:, y : y + out, x : x + out] = piece
    return scores


# --- 1. center_crop ----------------------------------------------------------------------


@mistake(
    "center_crop",
    "corner",
    "crops the top-left corner: the window is centred, it starts at row top = (H - h) // 2 "
    "and column left = (W - w) // 2",
    visible="top-left corner",
)
def center_crop_corner(features, size):
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    return features[..., :h, :w]


@mistake(
    "center_crop",
    "extra_pixel_at_top",
    "drops the odd extra pixel at the top and left (it rounds (H - h) / 2 up): start at "
    "top = (H - h) // 2 and left = (W - w) // 2, so that the extra row and column are "
    "dropped at the bottom and right",
    visible="(rounding down)",
)
def center_crop_extra_pixel_at_top(features, size):
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    H, W = features.shape[-2:]
    top, left = math.ceil((H - h) / 2), math.ceil((W - w) / 2)
    return features[..., top : top + h, left : left + w]


@mistake(
    "center_crop",
    "batch_and_channels",
    "crops the first two dimensions, batch and channels: the rows and columns of a "
    "(B, C, H, W) batch are its last two dimensions, features[..., top:top + h, left:left + w]",
    visible="not the batch and the channels",
)
def center_crop_batch_and_channels(features, size):
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    H, W = features.shape[-2:]
    top, left = (H - h) // 2, (W - w) // 2
    return features[top : top + h, left : left + w]


@mistake(
    "center_crop",
    "float_offset",
    "computes the offsets with /, which gives floats, and a float cannot index a tensor: "
    "use integer division, top = (H - h) // 2 and left = (W - w) // 2",
    matches_output=False,
    visible="integer division",
)
def center_crop_float_offset(features, size):
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    H, W = features.shape[-2:]
    top, left = (H - h) / 2, (W - w) / 2
    return features[..., top : top + h, left : left + w]


@mistake(
    "center_crop",
    "ignores_pair",
    "crops a square even when size is a pair (h, w): unpack it, h, w = size, and keep h "
    "rows and w columns (an int size means h = w = size)",
    visible="keep h rows and w columns",
)
def center_crop_ignores_pair(features, size):
    s = size if isinstance(size, int) else size[0]
    H, W = features.shape[-2:]
    top, left = (H - s) // 2, (W - s) // 2
    return features[..., top : top + s, left : left + s]


@mistake(
    "center_crop",
    "pair_swapped",
    "reads a pair size as (w, h): it is (h, w), rows first, like the last two entries of a tensor's shape",
    visible="rows first",
)
def center_crop_pair_swapped(features, size):
    w, h = (size, size) if isinstance(size, int) else tuple(size)
    H, W = features.shape[-2:]
    top, left = (H - h) // 2, (W - w) // 2
    return features[..., top : top + h, left : left + w]


@mistake(
    "center_crop",
    "int_size",
    "takes size to be a pair always, so an int size crashes: size may be an int too, which "
    "means a square window, h = w = size",
    matches_output=False,
    visible="size may be an int too",
)
def center_crop_int_size(features, size):
    h, w = size
    H, W = features.shape[-2:]
    top, left = (H - h) // 2, (W - w) // 2
    return features[..., top : top + h, left : left + w]


# --- 2. unet_output_size -----------------------------------------------------------------


@mistake(
    "unet_output_size",
    "one_conv_per_level",
    "takes 2 pixels per level, as if each level had one 3x3 convolution: each level has "
    "two valid 3x3 convolutions, which take 4 pixels (2 each), before every max-pool, at "
    "the bottom and after every up-convolution",
    visible="two valid 3x3 convolutions",
)
def unet_output_size_one_conv_per_level(input_size, depth=4):
    size = input_size
    for _ in range(depth):
        size -= 2
        if size < 2 or size % 2:
            raise ValueError(f"input size {input_size} is not legal")
        size //= 2
    size -= 2
    for _ in range(depth):
        size = 2 * size - 2
    if size < 1:
        raise ValueError(f"input size {input_size} is not legal")
    return size


@mistake(
    "unet_output_size",
    "no_bottom",
    "forgets the two convolutions of the bottom level: after the last max-pool, take 4 "
    "pixels before the expanding path starts",
    visible="the bottom's two convolutions",
)
def unet_output_size_no_bottom(input_size, depth=4):
    size = input_size
    for _ in range(depth):
        size -= 4
        if size < 2 or size % 2:
            raise ValueError(f"input size {input_size} is not legal")
        size //= 2
    for _ in range(depth):
        size = 2 * size - 4
    if size < 1:
        raise ValueError(f"input size {input_size} is not legal")
    return size


@mistake(
    "unet_output_size",
    "no_error_for_odd_sizes",
    "halves odd sizes silently (floor division): a 2x2 max-pool of an odd size drops a "
    "row, and then the crops no longer line up; raise a ValueError when a size before a "
    "max-pool is odd",
    visible="raise a ValueError, you returned",
)
def unet_output_size_no_error_for_odd_sizes(input_size, depth=4):
    size = input_size
    for _ in range(depth):
        size = (size - 4) // 2
    size -= 4
    for _ in range(depth):
        size = 2 * size - 4
    if size < 1:
        raise ValueError(f"input size {input_size} is too small")
    return size


@mistake(
    "unet_output_size",
    "no_convs_after_up",
    "forgets the two convolutions after each up-convolution: each level of the expanding "
    "path doubles the size and then takes 4 pixels, size = 2 * size - 4",
    visible="after each up-convolution",
)
def unet_output_size_no_convs_after_up(input_size, depth=4):
    size = input_size
    for _ in range(depth):
        size -= 4
        if size < 2 or size % 2:
            raise ValueError(f"input size {input_size} is not legal")
        size //= 2
    size -= 4
    if size < 1:
        raise ValueError(f"input size {input_size} is not legal")
    for _ in range(depth):
        size = 2 * size
    return size


@mistake(
    "unet_output_size",
    "halves_going_up",
    "halves the size on the expanding path too: each up-convolution *doubles* the size, "
    "then its two convolutions take 4 pixels, size = 2 * size - 4",
    visible="you halved it on the way up",
)
def unet_output_size_halves_going_up(input_size, depth=4):
    size = input_size
    for _ in range(depth):
        size -= 4
        if size < 2 or size % 2:
            raise ValueError(f"input size {input_size} is not legal")
        size //= 2
    size -= 4
    for _ in range(depth):
        size = (size - 4) // 2
    return size


@mistake(
    "unet_output_size",
    "ignores_depth",
    "always counts four levels: use depth, the number of max-pools (and of up-convolutions)",
    visible="use depth",
)
def unet_output_size_ignores_depth(input_size, depth=4):
    size = input_size
    for _ in range(4):
        size -= 4
        if size < 2 or size % 2:
            raise ValueError(f"input size {input_size} is not legal")
        size //= 2
    size -= 4
    for _ in range(4):
        size = 2 * size - 4
    if size < 1:
        raise ValueError(f"input size {input_size} is not legal")
    return size


@mistake(
    "unet_output_size",
    "float_division",
    "returns a float (it halves with /): sizes are whole numbers of pixels; check that "
    "the size is even, halve it with //, and return an int",
    matches_output=False,
    visible="return a Python int",
)
def unet_output_size_float_division(input_size, depth=4):
    size = input_size
    for _ in range(depth):
        size -= 4
        if size < 2 or size % 2:
            raise ValueError(f"input size {input_size} is not legal")
        size /= 2
    size -= 4
    for _ in range(depth):
        size = 2 * size - 4
    if size < 1:
        raise ValueError(f"input size {input_size} is not legal")
    return size


# --- 3. weight_map -----------------------------------------------------------------------


@mistake(
    "weight_map",
    "sigma_not_squared",
    "divides by 2 * sigma instead of 2 * sigma**2 (sigma is a width in pixels, and its "
    "square belongs in the denominator): the border term is "
    "w0 * exp(-(d1 + d2)**2 / (2 * sigma**2))",
    visible="2 sigma instead of 2 sigma^2",
)
def weight_map_sigma_not_squared(instance_labels, w0=10, sigma=5, class_weights="balanced"):
    labels = np.asarray(instance_labels)
    wc = _balanced(labels) if class_weights == "balanced" else np.ones(labels.shape)
    d = _sorted_distances(labels)
    border = np.zeros(labels.shape)
    if len(d) >= 2:
        border = np.where(labels == 0, w0 * np.exp(-((d[0] + d[1]) ** 2) / (2 * sigma)), 0.0)
    return torch.tensor(wc + border, dtype=torch.float32)


@mistake(
    "weight_map",
    "difference",
    "uses (d1 - d2), which is 0 half-way between any two cells, however far apart: the "
    "border term uses the sum, exp(-(d1 + d2)**2 / (2 * sigma**2)), which is large only "
    "where two cells come close",
    visible="not (d1 - d2)",
)
def weight_map_difference(instance_labels, w0=10, sigma=5, class_weights="balanced"):
    labels = np.asarray(instance_labels)
    wc = _balanced(labels) if class_weights == "balanced" else np.ones(labels.shape)
    d = _sorted_distances(labels)
    border = np.zeros(labels.shape)
    if len(d) >= 2:
        border = np.where(labels == 0, w0 * np.exp(-((d[0] - d[1]) ** 2) / (2 * sigma**2)), 0.0)
    return torch.tensor(wc + border, dtype=torch.float32)


@mistake(
    "weight_map",
    "nearest_cell_only",
    "uses the distance to the nearest cell twice (d1 + d1): d2 is the distance to the "
    "*second*-nearest cell; sort each pixel's distances to all the cells and take the "
    "first two",
    visible="not the nearest one again",
)
def weight_map_nearest_cell_only(instance_labels, w0=10, sigma=5, class_weights="balanced"):
    labels = np.asarray(instance_labels)
    wc = _balanced(labels) if class_weights == "balanced" else np.ones(labels.shape)
    d = _sorted_distances(labels)
    border = np.zeros(labels.shape)
    if len(d) >= 2:
        border = np.where(labels == 0, w0 * np.exp(-((d[0] + d[0]) ** 2) / (2 * sigma**2)), 0.0)
    return torch.tensor(wc + border, dtype=torch.float32)


@mistake(
    "weight_map",
    "farthest_cells",
    "uses the distances to the two *farthest* cells (the two largest distances): d1 and d2 "
    "are the distances to the nearest and the second-nearest cell, the two smallest of each "
    "pixel's distances to the cells",
    visible="the two farthest cells",
)
def weight_map_farthest_cells(instance_labels, w0=10, sigma=5, class_weights="balanced"):
    labels = np.asarray(instance_labels)
    wc = _balanced(labels) if class_weights == "balanced" else np.ones(labels.shape)
    d = _sorted_distances(labels)
    border = np.zeros(labels.shape)
    if len(d) >= 2:
        border = np.where(labels == 0, w0 * np.exp(-((d[-1] + d[-2]) ** 2) / (2 * sigma**2)), 0.0)
    return torch.tensor(wc + border, dtype=torch.float32)


@mistake(
    "weight_map",
    "squares_not_summed",
    "adds the squared distances, d1**2 + d2**2: square their sum, (d1 + d2)**2",
    visible="square their sum",
)
def weight_map_squares_not_summed(instance_labels, w0=10, sigma=5, class_weights="balanced"):
    labels = np.asarray(instance_labels)
    wc = _balanced(labels) if class_weights == "balanced" else np.ones(labels.shape)
    d = _sorted_distances(labels)
    border = np.zeros(labels.shape)
    if len(d) >= 2:
        border = np.where(labels == 0, w0 * np.exp(-(d[0] ** 2 + d[1] ** 2) / (2 * sigma**2)), 0.0)
    return torch.tensor(wc + border, dtype=torch.float32)


@mistake(
    "weight_map",
    "border_on_cells",
    "adds the border term on the cells' own pixels too: it belongs to the background "
    "pixels (label 0) between cells; a cell pixel gets w_c alone",
    visible="cell pixels get no border term",
)
def weight_map_border_on_cells(instance_labels, w0=10, sigma=5, class_weights="balanced"):
    labels = np.asarray(instance_labels)
    wc = _balanced(labels) if class_weights == "balanced" else np.ones(labels.shape)
    d = _sorted_distances(labels)
    border = np.zeros(labels.shape)
    if len(d) >= 2:
        border = w0 * np.exp(-((d[0] + d[1]) ** 2) / (2 * sigma**2))
    return torch.tensor(wc + border, dtype=torch.float32)


@mistake(
    "weight_map",
    "single_cell_border",
    "gives a border term to an image with a single cell (its nearest cell counted as the "
    "second-nearest too): with fewer than two cells there is no border to separate, so "
    "the border term is 0 everywhere",
    visible="one cell, no border term",
)
def weight_map_single_cell_border(instance_labels, w0=10, sigma=5, class_weights="balanced"):
    labels = np.asarray(instance_labels)
    wc = _balanced(labels) if class_weights == "balanced" else np.ones(labels.shape)
    d = _sorted_distances(labels)
    border = np.zeros(labels.shape)
    if len(d) >= 1:
        d2 = d[1] if len(d) >= 2 else d[0]
        border = np.where(labels == 0, w0 * np.exp(-((d[0] + d2) ** 2) / (2 * sigma**2)), 0.0)
    return torch.tensor(wc + border, dtype=torch.float32)


@mistake(
    "weight_map",
    "balance_swapped",
    "gives each pixel the inverse frequency of the *other* class, so the rarer class "
    "weighs less: w_c = N / (2 * N_c) with N_c the number of pixels of the pixel's own "
    "class (foreground = any cell, background = 0)",
    visible="the class weights are swapped",
)
def weight_map_balance_swapped(instance_labels, w0=10, sigma=5, class_weights="balanced"):
    labels = np.asarray(instance_labels)
    foreground = labels > 0
    n, n_fg = foreground.size, int(foreground.sum())
    if class_weights == "balanced" and 0 < n_fg < n:
        wc = np.where(foreground, n / (2.0 * (n - n_fg)), n / (2.0 * n_fg))
    else:
        wc = np.ones(labels.shape)
    d = _sorted_distances(labels)
    border = np.zeros(labels.shape)
    if len(d) >= 2:
        border = np.where(labels == 0, w0 * np.exp(-((d[0] + d[1]) ** 2) / (2 * sigma**2)), 0.0)
    return torch.tensor(wc + border, dtype=torch.float32)


@mistake(
    "weight_map",
    "no_class_weights",
    "ignores class_weights='balanced' (w_c = 1 everywhere): by default each pixel gets "
    "w_c = N / (2 * N_c) for its class, and w_c = 1 only with class_weights=None",
    visible="the cell pixels got w_c = 1",
)
def weight_map_no_class_weights(instance_labels, w0=10, sigma=5, class_weights="balanced"):
    labels = np.asarray(instance_labels)
    wc = np.ones(labels.shape)
    d = _sorted_distances(labels)
    border = np.zeros(labels.shape)
    if len(d) >= 2:
        border = np.where(labels == 0, w0 * np.exp(-((d[0] + d[1]) ** 2) / (2 * sigma**2)), 0.0)
    return torch.tensor(wc + border, dtype=torch.float32)


@mistake(
    "weight_map",
    "w0_scales_class_weights",
    "multiplies the class weights by w0 too: w0 is the height of the border term only, "
    "w = w_c + w0 * exp(-(d1 + d2)**2 / (2 * sigma**2))",
    visible="w0 scales the border term only",
)
def weight_map_w0_scales_class_weights(instance_labels, w0=10, sigma=5, class_weights="balanced"):
    labels = np.asarray(instance_labels)
    wc = _balanced(labels) if class_weights == "balanced" else np.ones(labels.shape)
    d = _sorted_distances(labels)
    border = np.zeros(labels.shape)
    if len(d) >= 2:
        border = np.where(labels == 0, np.exp(-((d[0] + d[1]) ** 2) / (2 * sigma**2)), 0.0)
    return torch.tensor(w0 * (wc + border), dtype=torch.float32)


@mistake(
    "weight_map",
    "cell_centres",
    "measures the distances to the cells' centres: d1 and d2 are the distances to the "
    "nearest *pixel* of the nearest and second-nearest cell, "
    "ndimage.distance_transform_edt(labels != i) for cell i",
    visible="the cells' centres",
)
def weight_map_cell_centres(instance_labels, w0=10, sigma=5, class_weights="balanced"):
    labels = np.asarray(instance_labels)
    wc = _balanced(labels) if class_weights == "balanced" else np.ones(labels.shape)
    ids = [i for i in np.unique(labels) if i > 0]
    border = np.zeros(labels.shape)
    if len(ids) >= 2:
        yy, xx = np.indices(labels.shape)
        centres = [np.argwhere(labels == i).mean(axis=0) for i in ids]
        d = np.sort(np.stack([np.hypot(yy - cy, xx - cx) for cy, cx in centres]), axis=0)
        border = np.where(labels == 0, w0 * np.exp(-((d[0] + d[1]) ** 2) / (2 * sigma**2)), 0.0)
    return torch.tensor(wc + border, dtype=torch.float32)


@mistake(
    "weight_map",
    "distance_inside_cells",
    "computes distance_transform_edt(labels == i), the distance from the pixels *inside* "
    "cell i to its outside (0 on the background): the transform measures the distance to "
    "the nearest zero, so pass labels != i to get every pixel's distance to cell i",
    visible="nearest zero of its argument",
)
def weight_map_distance_inside_cells(instance_labels, w0=10, sigma=5, class_weights="balanced"):
    labels = np.asarray(instance_labels)
    wc = _balanced(labels) if class_weights == "balanced" else np.ones(labels.shape)
    ids = [i for i in np.unique(labels) if i > 0]
    border = np.zeros(labels.shape)
    if len(ids) >= 2:
        d = np.sort(np.stack([ndimage.distance_transform_edt(labels == i) for i in ids]), axis=0)
        border = np.where(labels == 0, w0 * np.exp(-((d[0] + d[1]) ** 2) / (2 * sigma**2)), 0.0)
    return torch.tensor(wc + border, dtype=torch.float32)


# --- 4. weighted_cross_entropy -----------------------------------------------------------


@mistake(
    "weighted_cross_entropy",
    "divided_by_weight_sum",
    "divides by the sum of the weights: the loss is the mean over all pixels, "
    "(weights * ce).sum() / ce.numel(), so that a weight of 10 on the borders makes "
    "them count 10 times as much (dividing by the sum would undo the weight map's scale)",
    visible="divided by the sum of the weights",
)
def weighted_cross_entropy_divided_by_weight_sum(logits, target, weights):
    ce = F.cross_entropy(logits, target, reduction="none")
    return (weights * ce).sum() / weights.sum()


@mistake(
    "weighted_cross_entropy",
    "weights_on_logits",
    "multiplies the logits by the weights: weigh each pixel's *loss*, "
    "F.cross_entropy(logits, target, reduction='none') * weights, then take the mean",
    visible="multiplied the logits by the weights",
)
def weighted_cross_entropy_weights_on_logits(logits, target, weights):
    return F.cross_entropy(logits * weights[:, None], target)


@mistake(
    "weighted_cross_entropy",
    "log_of_softmax",
    "takes the log of the softmax, which underflows: for large logits a probability "
    "rounds to 0 and its log is -inf. Use F.log_softmax(logits, dim=1) (or "
    "F.cross_entropy(..., reduction='none')), which computes the log-probabilities stably",
    matches_output=False,
    visible="underflows to -inf",
)
def weighted_cross_entropy_log_of_softmax(logits, target, weights):
    logp = torch.log(torch.softmax(logits, dim=1))
    ce = -logp.gather(1, target[:, None])[:, 0]
    return (weights * ce).mean()


@mistake(
    "weighted_cross_entropy",
    "log_softmax_eps",
    "adds a small eps inside log(softmax(...)), which caps each pixel's loss at "
    "-log(eps) where the network is confidently wrong: use F.log_softmax(logits, dim=1), "
    "exact and stable, with no eps",
    visible="an eps inside the log",
)
def weighted_cross_entropy_log_softmax_eps(logits, target, weights):
    logp = torch.log(torch.softmax(logits, dim=1) + 1e-8)
    ce = -logp.gather(1, target[:, None])[:, 0]
    return (weights * ce).mean()


@mistake(
    "weighted_cross_entropy",
    "sum",
    "sums over the pixels: take the mean, so that the loss does not grow with the size of the image or of the batch",
    visible="summed over the pixels",
)
def weighted_cross_entropy_sum(logits, target, weights):
    return (weights * F.cross_entropy(logits, target, reduction="none")).sum()


@mistake(
    "weighted_cross_entropy",
    "softmax_over_width",
    "takes the softmax over the last dimension, the image's columns: the classes of "
    "(B, K, H, W) logits are dimension 1, F.log_softmax(logits, dim=1)",
    visible="softmax over the classes",
)
def weighted_cross_entropy_softmax_over_width(logits, target, weights):
    logp = F.log_softmax(logits, dim=-1)
    ce = -logp.gather(1, target[:, None])[:, 0]
    return (weights * ce).mean()


@mistake(
    "weighted_cross_entropy",
    "ignores_weights",
    "ignores the weights: multiply each pixel's cross-entropy by its weight before "
    "the mean, (weights * F.cross_entropy(logits, target, reduction='none')).mean()",
    visible="the weights are ignored",
)
def weighted_cross_entropy_ignores_weights(logits, target, weights):
    return F.cross_entropy(logits, target)


@mistake(
    "weighted_cross_entropy",
    "detached",
    "returns a value cut off from the computation graph (.item(), a float, "
    "torch.no_grad() or .detach()): the loss must be a tensor that backward() can "
    "follow back to the logits",
    matches_output=False,
    visible="backward() can follow",
)
def weighted_cross_entropy_detached(logits, target, weights):
    return (weights * F.cross_entropy(logits, target, reduction="none")).mean().item()


# --- 5. elastic_deform -------------------------------------------------------------------


@mistake(
    "elastic_deform",
    "mask_bilinear",
    "interpolates the mask (bilinearly or bicubically), which blends neighbouring labels into "
    "labels that were not there (between a 5 and a 9, a 7): warp the mask with nearest neighbour",
    matches_output=False,
    visible="labels that were never there",
)
def elastic_deform_mask_bilinear(image, mask, grid=3, sigma=10.0, generator=None):
    H, W = mask.shape
    coarse = torch.randn(1, 2, grid, grid, generator=generator) * sigma
    field = F.interpolate(coarse, size=(H, W), mode="bicubic", align_corners=True)[0]
    return warp(image, field, "bicubic"), warp(mask[None].float(), field, "bilinear")[0].round().to(mask.dtype)


@mistake(
    "elastic_deform",
    "mask_as_floats",
    "returns the warped mask as floats (warp gives floats): give it back the mask's own "
    "dtype, rounded, so that it stays a label mask",
    matches_output=False,
    visible="floating-point values",
)
def elastic_deform_mask_as_floats(image, mask, grid=3, sigma=10.0, generator=None):
    H, W = mask.shape
    coarse = torch.randn(1, 2, grid, grid, generator=generator) * sigma
    field = F.interpolate(coarse, size=(H, W), mode="bicubic", align_corners=True)[0]
    return warp(image, field, "bicubic"), warp(mask[None].float(), field, "nearest")[0]


@mistake(
    "elastic_deform",
    "image_nearest",
    "interpolates the image with nearest neighbour, which moves it in whole-pixel steps: "
    "warp the image bicubically (or bilinearly); only the mask uses nearest neighbour",
    matches_output=False,
    visible="moved in whole pixels",
)
def elastic_deform_image_nearest(image, mask, grid=3, sigma=10.0, generator=None):
    H, W = mask.shape
    coarse = torch.randn(1, 2, grid, grid, generator=generator) * sigma
    field = F.interpolate(coarse, size=(H, W), mode="bicubic", align_corners=True)[0]
    return warp(image, field, "nearest"), warp(mask[None].float(), field, "nearest")[0].round().to(mask.dtype)


@mistake(
    "elastic_deform",
    "two_fields",
    "moves the image and the mask with two different random fields, so the labels no "
    "longer lie on the pixels they describe: draw one field and warp both with it",
    matches_output=False,
    visible="moved differently",
)
def elastic_deform_two_fields(image, mask, grid=3, sigma=10.0, generator=None):
    H, W = mask.shape
    coarse = torch.randn(1, 2, grid, grid, generator=generator) * sigma
    field = F.interpolate(coarse, size=(H, W), mode="bicubic", align_corners=True)[0]
    coarse_mask = torch.randn(1, 2, grid, grid, generator=generator) * sigma
    field_mask = F.interpolate(coarse_mask, size=(H, W), mode="bicubic", align_corners=True)[0]
    return warp(image, field, "bicubic"), warp(mask[None].float(), field_mask, "nearest")[0].round().to(mask.dtype)


@mistake(
    "elastic_deform",
    "dense_noise",
    "draws a displacement for every pixel (per-pixel noise, smoothed or not, as "
    "torchvision's ElasticTransform does): U-Net draws displacements for the grid x grid "
    "control points only, and interpolates them bicubically to every pixel",
    matches_output=False,
    visible="changes from pixel to pixel",
)
def elastic_deform_dense_noise(image, mask, grid=3, sigma=10.0, generator=None):
    H, W = mask.shape
    field = torch.randn(2, H, W, generator=generator) * sigma
    return warp(image, field, "bicubic"), warp(mask[None].float(), field, "nearest")[0].round().to(mask.dtype)


@mistake(
    "elastic_deform",
    "bilinear_grid",
    "interpolates the coarse grid bilinearly, which gives a field with kinks along the "
    "grid lines: interpolate it bicubically (control points on the corners), a smooth field",
    matches_output=False,
    visible="interpolated bilinearly",
)
def elastic_deform_bilinear_grid(image, mask, grid=3, sigma=10.0, generator=None):
    H, W = mask.shape
    coarse = torch.randn(1, 2, grid, grid, generator=generator) * sigma
    field = F.interpolate(coarse, size=(H, W), mode="bilinear", align_corners=True)[0]
    return warp(image, field, "bicubic"), warp(mask[None].float(), field, "nearest")[0].round().to(mask.dtype)


@mistake(
    "elastic_deform",
    "nearest_grid",
    "enlarges the coarse grid with nearest neighbour, which tears the image along the block "
    "edges: interpolate it bicubically (control points on the corners), a smooth field",
    matches_output=False,
    visible="along straight lines",
)
def elastic_deform_nearest_grid(image, mask, grid=3, sigma=10.0, generator=None):
    H, W = mask.shape
    coarse = torch.randn(1, 2, grid, grid, generator=generator) * sigma
    field = F.interpolate(coarse, size=(H, W), mode="nearest")[0]
    return warp(image, field, "bicubic"), warp(mask[None].float(), field, "nearest")[0].round().to(mask.dtype)


@mistake(
    "elastic_deform",
    "grid_not_on_corners",
    "puts the control points half a grid cell inside the image (F.interpolate's default, "
    "align_corners=False): the outer control points lie on the image's corner pixels, so "
    "enlarge the grid with align_corners=True",
    matches_output=False,
    visible="your control points sit inside the image",
)
def elastic_deform_grid_not_on_corners(image, mask, grid=3, sigma=10.0, generator=None):
    H, W = mask.shape
    coarse = torch.randn(1, 2, grid, grid, generator=generator) * sigma
    field = F.interpolate(coarse, size=(H, W), mode="bicubic", align_corners=False)[0]
    return warp(image, field, "bicubic"), warp(mask[None].float(), field, "nearest")[0].round().to(mask.dtype)


@mistake(
    "elastic_deform",
    "ignores_grid",
    "always draws a 3 x 3 grid: draw grid x grid control points",
    matches_output=False,
    visible="neighbouring control points move together",
)
def elastic_deform_ignores_grid(image, mask, grid=3, sigma=10.0, generator=None):
    H, W = mask.shape
    coarse = torch.randn(1, 2, 3, 3, generator=generator) * sigma
    field = F.interpolate(coarse, size=(H, W), mode="bicubic", align_corners=True)[0]
    return warp(image, field, "bicubic"), warp(mask[None].float(), field, "nearest")[0].round().to(mask.dtype)


@mistake(
    "elastic_deform",
    "one_shift",
    "draws one displacement (rows, columns) for the whole image, so the image only shifts: "
    "draw a displacement for every one of the grid x grid control points, and interpolate "
    "between them",
    matches_output=False,
    visible="moved by the same amount",
)
def elastic_deform_one_shift(image, mask, grid=3, sigma=10.0, generator=None):
    H, W = mask.shape
    field = (torch.randn(2, 1, 1, generator=generator) * sigma).expand(2, H, W)
    return warp(image, field, "bicubic"), warp(mask[None].float(), field, "nearest")[0].round().to(mask.dtype)


@mistake(
    "elastic_deform",
    "sigma_as_variance",
    "uses sigma as the variance (it multiplies by sqrt(sigma)): sigma is the standard "
    "deviation of the displacements, in pixels",
    matches_output=False,
    visible="about sqrt(sigma)",
)
def elastic_deform_sigma_as_variance(image, mask, grid=3, sigma=10.0, generator=None):
    H, W = mask.shape
    coarse = torch.randn(1, 2, grid, grid, generator=generator) * math.sqrt(sigma)
    field = F.interpolate(coarse, size=(H, W), mode="bicubic", align_corners=True)[0]
    return warp(image, field, "bicubic"), warp(mask[None].float(), field, "nearest")[0].round().to(mask.dtype)


@mistake(
    "elastic_deform",
    "ignores_sigma",
    "draws standard normal displacements and never scales them by sigma, so the control "
    "points move by about 1 pixel whatever sigma is: multiply the draws by sigma",
    matches_output=False,
    visible="about 1 pixel whatever sigma",
)
def elastic_deform_ignores_sigma(image, mask, grid=3, sigma=10.0, generator=None):
    H, W = mask.shape
    coarse = torch.randn(1, 2, grid, grid, generator=generator)
    field = F.interpolate(coarse, size=(H, W), mode="bicubic", align_corners=True)[0]
    return warp(image, field, "bicubic"), warp(mask[None].float(), field, "nearest")[0].round().to(mask.dtype)


@mistake(
    "elastic_deform",
    "uniform_draws",
    "draws the displacements uniformly in [0, sigma) (torch.rand), so they are never "
    "negative and every pixel is pulled from below and to the right: draw them from a "
    "normal distribution with mean 0 and standard deviation sigma",
    matches_output=False,
    visible="not centred on 0",
)
def elastic_deform_uniform_draws(image, mask, grid=3, sigma=10.0, generator=None):
    H, W = mask.shape
    coarse = torch.rand(1, 2, grid, grid, generator=generator) * sigma
    field = F.interpolate(coarse, size=(H, W), mode="bicubic", align_corners=True)[0]
    return warp(image, field, "bicubic"), warp(mask[None].float(), field, "nearest")[0].round().to(mask.dtype)


@mistake(
    "elastic_deform",
    "normalised_units",
    "scales the displacements to grid_sample's units, where the image spans [-1, 1]: "
    "warp takes the field in pixels, so pass the N(0, sigma^2) displacements as they are",
    matches_output=False,
    visible="grid_sample's [-1, 1] units",
)
def elastic_deform_normalised_units(image, mask, grid=3, sigma=10.0, generator=None):
    H, W = mask.shape
    coarse = torch.randn(1, 2, grid, grid, generator=generator) * sigma
    field = F.interpolate(coarse, size=(H, W), mode="bicubic", align_corners=True)[0]
    field = field * torch.tensor([2 / (H - 1), 2 / (W - 1)])[:, None, None]
    return warp(image, field, "bicubic"), warp(mask[None].float(), field, "nearest")[0].round().to(mask.dtype)


@mistake(
    "elastic_deform",
    "ignores_generator",
    "ignores the generator (it draws from torch's global one), so the same generator seed "
    "gives another deformation each time: draw every random number from the generator it is given",
    matches_output=False,
    visible="the same generator must give the same result",
)
def elastic_deform_ignores_generator(image, mask, grid=3, sigma=10.0, generator=None):
    H, W = mask.shape
    coarse = torch.randn(1, 2, grid, grid) * sigma
    field = F.interpolate(coarse, size=(H, W), mode="bicubic", align_corners=True)[0]
    return warp(image, field, "bicubic"), warp(mask[None].float(), field, "nearest")[0].round().to(mask.dtype)


@mistake(
    "elastic_deform",
    "one_grid_for_both_axes",
    "moves rows and columns by the same displacement (one grid x grid draw shared by the "
    "two axes), so every pixel moves along the diagonal: draw independent displacements "
    "for the rows and for the columns",
    matches_output=False,
    visible="rows and columns moved by the same displacement",
)
def elastic_deform_one_grid_for_both_axes(image, mask, grid=3, sigma=10.0, generator=None):
    H, W = mask.shape
    coarse = torch.randn(1, 1, grid, grid, generator=generator) * sigma
    field = F.interpolate(coarse, size=(H, W), mode="bicubic", align_corners=True)[0].expand(2, H, W)
    return warp(image, field, "bicubic"), warp(mask[None].float(), field, "nearest")[0].round().to(mask.dtype)


# --- 6. overlap_tile_predict -------------------------------------------------------------


@mistake(
    "overlap_tile_predict",
    "full_output_stride",
    "moves the tiles by the whole output tile by default: unless the output tile is a "
    "multiple of 2 ** depth (388 is not a multiple of 16), the tiles' max-pools do not "
    "line up with each other and the result shows seams. The default stride is the largest "
    "multiple of 2 ** model.depth not above the output tile, out // 2**depth * 2**depth",
    visible="the default stride is the largest multiple",
)
def overlap_tile_predict_full_output_stride(model, image, tile, stride=None):
    with torch.no_grad():
        was_training = model.training
        model.eval()
        out = model.output_size(tile)
        if stride is None:
            stride = out
        H, W = image.shape[1:]
        ny, nx = _tile_count(H, out, stride), _tile_count(W, out, stride)
        margin = (tile - out) // 2
        padded = mirror_pad(
            image, margin, margin + (ny - 1) * stride + out - H, margin, margin + (nx - 1) * stride + out - W
        )
        scores = _stitch(model, padded, tile, out, stride, ny, nx)
        model.train(was_training)
    return scores[:, :H, :W]


@mistake(
    "overlap_tile_predict",
    "zero_padding",
    "pads the image with zeros: mirror it (mirror_pad), so that the tiles at the border "
    "see a plausible continuation of the image as context, as in the paper",
    visible="holds zeros",
)
def overlap_tile_predict_zero_padding(model, image, tile, stride=None):
    with torch.no_grad():
        was_training = model.training
        model.eval()
        out = model.output_size(tile)
        if stride is None:
            stride = out // 2**model.depth * 2**model.depth
        H, W = image.shape[1:]
        ny, nx = _tile_count(H, out, stride), _tile_count(W, out, stride)
        margin = (tile - out) // 2
        padded = F.pad(
            image, (margin, margin + (nx - 1) * stride + out - W, margin, margin + (ny - 1) * stride + out - H)
        )
        scores = _stitch(model, padded, tile, out, stride, ny, nx)
        model.train(was_training)
    return scores[:, :H, :W]


@mistake(
    "overlap_tile_predict",
    "no_margin",
    "does not pad the top and left by the margin, so each output tile is the centre of "
    "its input tile and every score lands (tile - out) / 2 pixels away from its pixel: "
    "mirror-pad all four sides by the margin (tile - out) // 2 (and the bottom and right "
    "a little more, so that the tiles cover the image)",
    visible="starts at the image's corner",
)
def overlap_tile_predict_no_margin(model, image, tile, stride=None):
    with torch.no_grad():
        was_training = model.training
        model.eval()
        out = model.output_size(tile)
        if stride is None:
            stride = out // 2**model.depth * 2**model.depth
        H, W = image.shape[1:]
        ny, nx = _tile_count(H, out, stride), _tile_count(W, out, stride)
        padded = mirror_pad(image, 0, (ny - 1) * stride + tile - H, 0, (nx - 1) * stride + tile - W)
        scores = _stitch(model, padded, tile, out, stride, ny, nx)
        model.train(was_training)
    return scores[:, :H, :W]


@mistake(
    "overlap_tile_predict",
    "margin_off_by_one",
    "pads by one pixel too many on the top and left, so every score lands one pixel away "
    "from its pixel: the margin is (tile - out) // 2 exactly",
    visible="one pixel away from its pixel",
)
def overlap_tile_predict_margin_off_by_one(model, image, tile, stride=None):
    with torch.no_grad():
        was_training = model.training
        model.eval()
        out = model.output_size(tile)
        if stride is None:
            stride = out // 2**model.depth * 2**model.depth
        H, W = image.shape[1:]
        ny, nx = _tile_count(H, out, stride), _tile_count(W, out, stride)
        margin = (tile - out) // 2 + 1
        padded = mirror_pad(
            image, margin, margin + (ny - 1) * stride + out - H, margin, margin + (nx - 1) * stride + out - W
        )
        scores = _stitch(model, padded, tile, out, stride, ny, nx)
        model.train(was_training)
    return scores[:, :H, :W]


@mistake(
    "overlap_tile_predict",
    "last_rows_uncovered",
    "leaves the last rows or columns without a tile (it counts the tiles with floor "
    "division): use enough tiles that (n - 1) * stride + out >= H, "
    "n = math.ceil((H - out) / stride) + 1, and pad the bottom and right to match",
    matches_output=False,
    visible="enough tiles to cover the image",
)
def overlap_tile_predict_last_rows_uncovered(model, image, tile, stride=None):
    with torch.no_grad():
        was_training = model.training
        model.eval()
        out = model.output_size(tile)
        if stride is None:
            stride = out // 2**model.depth * 2**model.depth
        H, W = image.shape[1:]
        ny, nx = (H - out) // stride + 1, (W - out) // stride + 1
        margin = (tile - out) // 2
        padded = mirror_pad(image, margin, margin, margin, margin)
        scores = torch.zeros(model.num_classes, H, W, dtype=image.dtype)
        for ty in range(ny):
            for tx in range(nx):
                y, x = ty * stride, tx * stride
                scores[:, y : y + out, x : x + out] = model(padded[None, :, y : y + tile, x : x + tile])[0]
        model.train(was_training)
    return scores


@mistake(
    "overlap_tile_predict",
    "not_cropped",
    "returns the scores of every tile, larger than the image: crop them to the image, scores[:, :H, :W]",
    visible="crop the canvas",
)
def overlap_tile_predict_not_cropped(model, image, tile, stride=None):
    with torch.no_grad():
        was_training = model.training
        model.eval()
        out = model.output_size(tile)
        if stride is None:
            stride = out // 2**model.depth * 2**model.depth
        H, W = image.shape[1:]
        ny, nx = _tile_count(H, out, stride), _tile_count(W, out, stride)
        margin = (tile - out) // 2
        padded = mirror_pad(
            image, margin, margin + (ny - 1) * stride + out - H, margin, margin + (nx - 1) * stride + out - W
        )
        scores = _stitch(model, padded, tile, out, stride, ny, nx)
        model.train(was_training)
    return scores


@mistake(
    "overlap_tile_predict",
    "whole_image",
    "runs the model on the whole mirrored image at once: the numbers are right, but the "
    "memory grows with the image, which is what overlap-tile avoids. Cut tile x tile "
    "pieces of the padded image and run the model on each",
    matches_output=False,
    visible="whole padded image at once",
)
def overlap_tile_predict_whole_image(model, image, tile, stride=None):
    with torch.no_grad():
        was_training = model.training
        model.eval()
        out = model.output_size(tile)
        if stride is None:
            stride = out // 2**model.depth * 2**model.depth
        H, W = image.shape[1:]
        ny, nx = _tile_count(H, out, stride), _tile_count(W, out, stride)
        margin = (tile - out) // 2
        padded = mirror_pad(
            image, margin, margin + (ny - 1) * stride + out - H, margin, margin + (nx - 1) * stride + out - W
        )
        scores = model(padded[None])[0]
        model.train(was_training)
    return scores[:, :H, :W]


@mistake(
    "overlap_tile_predict",
    "ignores_stride",
    "ignores the stride it is given (it always uses the default): cut a tile every "
    "stride pixels when stride is given, and use the default only when stride is None",
    matches_output=False,
    visible="use the stride given",
)
def overlap_tile_predict_ignores_stride(model, image, tile, stride=None):
    with torch.no_grad():
        was_training = model.training
        model.eval()
        out = model.output_size(tile)
        stride = out // 2**model.depth * 2**model.depth
        H, W = image.shape[1:]
        ny, nx = _tile_count(H, out, stride), _tile_count(W, out, stride)
        margin = (tile - out) // 2
        padded = mirror_pad(
            image, margin, margin + (ny - 1) * stride + out - H, margin, margin + (nx - 1) * stride + out - W
        )
        scores = _stitch(model, padded, tile, out, stride, ny, nx)
        model.train(was_training)
    return scores[:, :H, :W]


@mistake("overlap_tile_predict", "train_mode", _TRAIN_MODE, matches_output=False, visible="run the model in eval mode")
def overlap_tile_predict_train_mode(model, image, tile, stride=None):
    with torch.no_grad():
        out = model.output_size(tile)
        if stride is None:
            stride = out // 2**model.depth * 2**model.depth
        H, W = image.shape[1:]
        ny, nx = _tile_count(H, out, stride), _tile_count(W, out, stride)
        margin = (tile - out) // 2
        padded = mirror_pad(
            image, margin, margin + (ny - 1) * stride + out - H, margin, margin + (nx - 1) * stride + out - W
        )
        scores = _stitch(model, padded, tile, out, stride, ny, nx)
    return scores[:, :H, :W]


@mistake(
    "overlap_tile_predict",
    "mode_not_restored",
    _MODE_NOT_RESTORED,
    matches_output=False,
    visible="give the model back in the mode it came in",
)
def overlap_tile_predict_mode_not_restored(model, image, tile, stride=None):
    with torch.no_grad():
        model.eval()
        out = model.output_size(tile)
        if stride is None:
            stride = out // 2**model.depth * 2**model.depth
        H, W = image.shape[1:]
        ny, nx = _tile_count(H, out, stride), _tile_count(W, out, stride)
        margin = (tile - out) // 2
        padded = mirror_pad(
            image, margin, margin + (ny - 1) * stride + out - H, margin, margin + (nx - 1) * stride + out - W
        )
        scores = _stitch(model, padded, tile, out, stride, ny, nx)
    return scores[:, :H, :W]


@mistake(
    "overlap_tile_predict",
    "no_grad_missing",
    "runs the model with gradients on, so every tile's activations are kept for a "
    "backward pass that never comes and the memory grows with the image again: wrap the "
    "loop in with torch.no_grad():",
    matches_output=False,
    visible="inside torch.no_grad()",
)
def overlap_tile_predict_no_grad_missing(model, image, tile, stride=None):
    was_training = model.training
    model.eval()
    out = model.output_size(tile)
    if stride is None:
        stride = out // 2**model.depth * 2**model.depth
    H, W = image.shape[1:]
    ny, nx = _tile_count(H, out, stride), _tile_count(W, out, stride)
    margin = (tile - out) // 2
    padded = mirror_pad(
        image, margin, margin + (ny - 1) * stride + out - H, margin, margin + (nx - 1) * stride + out - W
    )
    scores = _stitch(model, padded, tile, out, stride, ny, nx)
    model.train(was_training)
    return scores[:, :H, :W].detach()


# --- 7. iou ------------------------------------------------------------------------------


@mistake(
    "iou",
    "empty_union",
    "does not handle two empty masks, whose union is empty (0 / 0): they agree "
    "perfectly, so return 1.0 when the union is 0",
    matches_output=False,
    visible="two empty masks",
)
def iou_empty_union(pred, target):
    pred, target = pred != 0, target != 0
    return ((pred & target).sum() / (pred | target).sum()).item()


@mistake(
    "iou",
    "union_double_counts",
    "divides by |A| + |B|, which counts the intersection twice: the union is "
    "|A| + |B| - |A and B|, or (pred | target).sum()",
    visible="counts each pixel once",
)
def iou_union_double_counts(pred, target):
    pred, target = pred != 0, target != 0
    total = int(pred.sum()) + int(target.sum())
    return 1.0 if total == 0 else int((pred & target).sum()) / total


@mistake(
    "iou",
    "dice",
    "computes the Dice coefficient, 2 |A and B| / (|A| + |B|): the IoU is "
    "|A and B| / |A or B| (Dice = 2 IoU / (1 + IoU) is always the larger)",
    visible="Dice coefficient",
)
def iou_dice(pred, target):
    pred, target = pred != 0, target != 0
    total = int(pred.sum()) + int(target.sum())
    return 1.0 if total == 0 else 2 * int((pred & target).sum()) / total


@mistake(
    "iou",
    "mean_over_images",
    "averages one IoU per image: pool all the pixels of the batch, "
    "(pred & target).sum() / (pred | target).sum() over everything, as the exercise asks",
    visible="averaged one IoU per image",
)
def iou_mean_over_images(pred, target):
    values = []
    for p, t in zip(pred != 0, target != 0):
        union = int((p | t).sum())
        values.append(1.0 if union == 0 else int((p & t).sum()) / union)
    return sum(values) / len(values)


@mistake(
    "iou",
    "uint8_counts",
    "counts the pixels in uint8, which wraps around above 255 (256 pixels count as 0): "
    "count in a wide integer type (a sum of booleans in PyTorch is already int64)",
    visible="wide integer type",
)
def iou_uint8_counts(pred, target):
    pred, target = (pred != 0).to(torch.uint8), (target != 0).to(torch.uint8)
    union = (pred | target).sum(dtype=torch.uint8)
    return 1.0 if int(union) == 0 else int((pred & target).sum(dtype=torch.uint8)) / int(union)


@mistake(
    "iou",
    "only_ones_are_true",
    "counts only pixels equal to 1 as inside the mask, so a mask stored as 0 and 255 "
    "looks empty: every nonzero value counts, pred != 0",
    visible="nonzero values (255 too)",
)
def iou_only_ones_are_true(pred, target):
    pred, target = pred == 1, target == 1
    union = int((pred | target).sum())
    return 1.0 if union == 0 else int((pred & target).sum()) / union
