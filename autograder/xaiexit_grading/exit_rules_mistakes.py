"""Plausible mistakes in Lesson 4's exercises (exit rules from saliency), each written out as a learner would.

See :mod:`xaiexit_grading.gradient_saliency_mistakes` for how the catalogue is used. The
functions here may call the module-level helpers below (``_distribution`` and so on): a
mistake pasted into a notebook as an answer cell brings the helpers it calls along, so
each helper is self-contained. ``resize_to_common`` is the name the notebook's setup cell
gives its learners; ``cosine_similarity_maps`` and ``choose_threshold`` are their answers
to Exercises 3 and 6, which Exercises 5 and 7 call (the hidden tests of those two swap in
the reference, so a mistake is not counted twice).

Deliberately *not* mistakes (the hidden tests accept them):

- ``spatial_entropy`` in bits *divided by* ``log2(H * W)``: the normalised entropy is the
  same in every base. A small ``eps`` inside the logarithm (``torch.log(p + 1e-12)``) or
  ``torch.special.xlogy(p, p)`` are fine too; only NaN for pixels without mass is a
  mistake (``log_of_zero``).
- ``moment_of_inertia`` with pixel *corners* (``row / H``) instead of centres: moving
  every pixel by the same half pixel moves the centroid with it, and the moment about
  the centroid does not change. Only coordinates that stretch the image
  (``torch.linspace(0, 1, H)``, or pixel units) change it. Computing it as
  ``E[y^2] - E[y]^2 + E[x^2] - E[x]^2`` is the same number.
- ``cosine_similarity_maps`` with ``F.cosine_similarity(a.flatten(1), b.flatten(1), dim=1)``
  after ``resize_to_common`` (its ``eps`` makes a pair with an all-zero map score 0), or
  with the maps scaled (``normalize_maps``) first: the cosine ignores each map's scale.
- ``coherence_scores`` that compares exit ``j`` with exit ``j + 1`` in either order: the
  cosine is symmetric.
- ``choose_threshold`` by brute force over the distinct scores, returning a Python float or
  a 0-dim tensor; ``operating_point`` returning a plain tuple instead of ``OperatingPoint``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from xaiexit.exits import choose_threshold, cosine_similarity_maps, resize_to_common
from xaiexit_grading._catalogue import Catalogue, Mistake

_catalogue = Catalogue()
mistake, of, message, CATALOGUE = _catalogue.mistake, _catalogue.of, _catalogue.message, _catalogue.entries

__all__ = ["CATALOGUE", "Mistake", "mistake", "of", "message"]


# --- helpers the mistakes share (each correct on its own) --------------------------------


def _distribution(heatmap):
    """Each map divided by its sum, (B, H, W) float64; an all-zero map becomes uniform."""
    m = heatmap.double()
    total = m.sum(dim=(1, 2), keepdim=True)
    uniform = torch.full_like(m, 1.0 / (m.shape[1] * m.shape[2]))
    return torch.where(total > 0, m / torch.where(total > 0, total, torch.ones_like(total)), uniform)


def _centres(height, width):
    """Pixel centres in the unit square: y (H, 1) and x (1, W), float64."""
    y = (torch.arange(height, dtype=torch.float64) + 0.5) / height
    x = (torch.arange(width, dtype=torch.float64) + 0.5) / width
    return y[:, None], x[None, :]


def _cosine(a, b):
    """Cosine of each pair of same-size maps, flattened; 0 for a pair with an all-zero map."""
    a, b = a.double().flatten(1), b.double().flatten(1)
    norms = a.norm(dim=1) * b.norm(dim=1)
    return torch.where(
        norms > 0, (a * b).sum(dim=1) / torch.where(norms > 0, norms, torch.ones_like(norms)), torch.zeros_like(norms)
    )


def _ssim(a, b, data_range=1.0, window=7):
    """Windowed SSIM of same-size maps: uniform window, valid patches, sample (co)variances."""
    a, b = a.double()[:, None], b.double()[:, None]
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_a, mu_b = F.avg_pool2d(a, window, stride=1), F.avg_pool2d(b, window, stride=1)
    n = window * window
    var_a = (F.avg_pool2d(a * a, window, stride=1) - mu_a**2) * n / (n - 1)
    var_b = (F.avg_pool2d(b * b, window, stride=1) - mu_b**2) * n / (n - 1)
    cov = (F.avg_pool2d(a * b, window, stride=1) - mu_a * mu_b) * n / (n - 1)
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.mean(dim=(1, 2, 3))


# --- 1. spatial_entropy ------------------------------------------------------------------


@mistake(
    "spatial_entropy",
    "log_of_zero",
    "gives NaN for pixels without mass: torch.log(0) is -inf and 0 * -inf is NaN. A "
    "pixel with p = 0 contributes 0 (the limit of p ln p): use torch.special.xlogy(p, p) "
    "or torch.where(p > 0, p * torch.log(p), 0)",
    matches_output=False,
)
def spatial_entropy_log_of_zero(heatmap):
    p = _distribution(heatmap)
    H, W = heatmap.shape[1:]
    return -(p * torch.log(p)).sum(dim=(1, 2)) / math.log(H * W)


@mistake(
    "spatial_entropy",
    "unnormalised_map",
    "takes the entropy of the raw map values: divide each map by its sum first, "
    "p = heatmap / heatmap.sum(dim=(1, 2), keepdim=True), so that the p add up to 1",
)
def spatial_entropy_unnormalised_map(heatmap):
    m = heatmap.double()
    H, W = heatmap.shape[1:]
    return -torch.special.xlogy(m, m).sum(dim=(1, 2)) / math.log(H * W)


@mistake(
    "spatial_entropy",
    "max_not_sum",
    "divides each map by its maximum: the entropy needs a distribution, so divide by "
    "the map's sum, p = heatmap / heatmap.sum(dim=(1, 2), keepdim=True)",
)
def spatial_entropy_max_not_sum(heatmap):
    m = heatmap.double()
    p = m / m.amax(dim=(1, 2), keepdim=True)
    H, W = heatmap.shape[1:]
    return -torch.special.xlogy(p, p).sum(dim=(1, 2)) / math.log(H * W)


@mistake(
    "spatial_entropy",
    "softmax_of_map",
    "turns the map into probabilities with a softmax, which exponentiates the values "
    "(a map of zeros and ones does not become uniform over its ones): divide the map "
    "by its sum instead, p = heatmap / heatmap.sum(dim=(1, 2), keepdim=True)",
)
def spatial_entropy_softmax_of_map(heatmap):
    p = torch.softmax(heatmap.double().flatten(1), dim=1)
    H, W = heatmap.shape[1:]
    return -torch.special.xlogy(p, p).sum(dim=1) / math.log(H * W)


@mistake(
    "spatial_entropy",
    "nats",
    "is not normalised: divide by ln(H * W), the entropy of the uniform map, so that "
    "the score lies in [0, 1] and maps of different resolutions can be compared",
)
def spatial_entropy_nats(heatmap):
    p = _distribution(heatmap)
    return -torch.special.xlogy(p, p).sum(dim=(1, 2))


@mistake(
    "spatial_entropy",
    "bits",
    "measures the entropy in bits (log2) and does not normalise it: divide by the "
    "entropy of the uniform map, ln(H * W) (or log2(H * W) in bits), so that it lies "
    "in [0, 1] whatever the base",
)
def spatial_entropy_bits(heatmap):
    p = _distribution(heatmap)
    return -(torch.special.xlogy(p, p) / math.log(2)).sum(dim=(1, 2))


@mistake(
    "spatial_entropy",
    "mean_over_pixels",
    "averages -p ln p over the pixels: the entropy is their *sum*, divided by ln(H * W) (a uniform map gives 1)",
)
def spatial_entropy_mean_over_pixels(heatmap):
    p = _distribution(heatmap)
    H, W = heatmap.shape[1:]
    return -torch.special.xlogy(p, p).mean(dim=(1, 2)) / math.log(H * W)


@mistake(
    "spatial_entropy",
    "log_of_batch_size",
    "divides by the log of the number of values in the whole batch (heatmap.numel()): "
    "normalise by ln(H * W), the number of pixels of one map",
)
def spatial_entropy_log_of_batch_size(heatmap):
    p = _distribution(heatmap)
    return -torch.special.xlogy(p, p).sum(dim=(1, 2)) / math.log(heatmap.numel())


@mistake(
    "spatial_entropy",
    "batch_distribution",
    "divides by the sum of the whole batch: each map is a distribution of its own, "
    "p = heatmap / heatmap.sum(dim=(1, 2), keepdim=True)",
)
def spatial_entropy_batch_distribution(heatmap):
    m = heatmap.double()
    p = m / m.sum()
    H, W = heatmap.shape[1:]
    return -torch.special.xlogy(p, p).sum(dim=(1, 2)) / math.log(H * W)


@mistake(
    "spatial_entropy",
    "zero_map_nan",
    "gives NaN for an all-zero map (0 / 0): treat it as the uniform map, whose "
    "entropy is 1, e.g. torch.where(total > 0, heatmap / total, 1 / (H * W))",
    matches_output=False,
)
def spatial_entropy_zero_map_nan(heatmap):
    m = heatmap.double()
    p = m / m.sum(dim=(1, 2), keepdim=True)
    H, W = heatmap.shape[1:]
    return -torch.special.xlogy(p, p).sum(dim=(1, 2)) / math.log(H * W)


@mistake(
    "spatial_entropy",
    "zero_map_zero",
    "gives 0 for an all-zero map, as if all its mass sat on one pixel: an all-zero map "
    "says nothing about where the network looks, so treat it as the uniform map "
    "(entropy 1)",
)
def spatial_entropy_zero_map_zero(heatmap):
    m = heatmap.double()
    p = m / m.sum(dim=(1, 2), keepdim=True).clamp(min=1e-12)
    H, W = heatmap.shape[1:]
    return -torch.special.xlogy(p, p).sum(dim=(1, 2)) / math.log(H * W)


# --- 2. moment_of_inertia ----------------------------------------------------------------


@mistake(
    "moment_of_inertia",
    "image_centre",
    "measures distances from the image centre (0.5, 0.5): the centre is the map's own "
    "centroid, the mass-weighted mean position cy = sum p * y, cx = sum p * x",
)
def moment_of_inertia_image_centre(heatmap):
    p = _distribution(heatmap)
    y, x = _centres(*heatmap.shape[1:])
    return (p * ((y - 0.5) ** 2 + (x - 0.5) ** 2)).sum(dim=(1, 2))


@mistake(
    "moment_of_inertia",
    "peak_centre",
    "measures distances from the map's peak (argmax): the centre is the centroid, "
    "the mass-weighted mean position cy = sum p * y, cx = sum p * x",
)
def moment_of_inertia_peak_centre(heatmap):
    p = _distribution(heatmap)
    H, W = heatmap.shape[1:]
    y, x = _centres(H, W)
    peak = p.flatten(1).argmax(dim=1)
    cy = y[:, 0][peak // W][:, None, None]
    cx = x[0][peak % W][:, None, None]
    return (p * ((y - cy) ** 2 + (x - cx) ** 2)).sum(dim=(1, 2))


@mistake(
    "moment_of_inertia",
    "unnormalised_map",
    "weighs the squared distances by the raw map: divide each map by its sum first, "
    "p = heatmap / heatmap.sum(dim=(1, 2), keepdim=True), so that the moment is a mean "
    "squared distance and does not depend on the map's scale",
)
def moment_of_inertia_unnormalised_map(heatmap):
    m = heatmap.double()
    y, x = _centres(*heatmap.shape[1:])
    total = m.sum(dim=(1, 2), keepdim=True)
    cy, cx = (m * y).sum(dim=(1, 2), keepdim=True) / total, (m * x).sum(dim=(1, 2), keepdim=True) / total
    return (m * ((y - cy) ** 2 + (x - cx) ** 2)).sum(dim=(1, 2))


@mistake(
    "moment_of_inertia",
    "pixel_units",
    "measures positions in pixels: put the pixel centres in the unit square, "
    "y = (row + 0.5) / H and x = (col + 0.5) / W, so that the value does not depend on "
    "the map's resolution",
)
def moment_of_inertia_pixel_units(heatmap):
    p = _distribution(heatmap)
    H, W = heatmap.shape[1:]
    y = torch.arange(H, dtype=torch.float64)[:, None] + 0.5
    x = torch.arange(W, dtype=torch.float64)[None, :] + 0.5
    cy, cx = (p * y).sum(dim=(1, 2), keepdim=True), (p * x).sum(dim=(1, 2), keepdim=True)
    return (p * ((y - cy) ** 2 + (x - cx) ** 2)).sum(dim=(1, 2))


@mistake(
    "moment_of_inertia",
    "linspace_coordinates",
    "puts the first and last pixels on the borders of the image (torch.linspace(0, 1, H)), "
    "which stretches the image: use pixel centres, y = (row + 0.5) / H and "
    "x = (col + 0.5) / W",
)
def moment_of_inertia_linspace_coordinates(heatmap):
    p = _distribution(heatmap)
    H, W = heatmap.shape[1:]
    y = torch.linspace(0, 1, H, dtype=torch.float64)[:, None]
    x = torch.linspace(0, 1, W, dtype=torch.float64)[None, :]
    cy, cx = (p * y).sum(dim=(1, 2), keepdim=True), (p * x).sum(dim=(1, 2), keepdim=True)
    return (p * ((y - cy) ** 2 + (x - cx) ** 2)).sum(dim=(1, 2))


@mistake(
    "moment_of_inertia",
    "sizes_swapped",
    "divides the row index by the width and the column index by the height: "
    "y = (row + 0.5) / H and x = (col + 0.5) / W, each by its own axis's size",
)
def moment_of_inertia_sizes_swapped(heatmap):
    p = _distribution(heatmap)
    H, W = heatmap.shape[1:]
    y = (torch.arange(H, dtype=torch.float64)[:, None] + 0.5) / W
    x = (torch.arange(W, dtype=torch.float64)[None, :] + 0.5) / H
    cy, cx = (p * y).sum(dim=(1, 2), keepdim=True), (p * x).sum(dim=(1, 2), keepdim=True)
    return (p * ((y - cy) ** 2 + (x - cx) ** 2)).sum(dim=(1, 2))


@mistake(
    "moment_of_inertia",
    "only_x",
    "adds up only the horizontal term (x - cx)^2: the squared distance from the "
    "centroid is (y - cy)^2 + (x - cx)^2, both axes",
)
def moment_of_inertia_only_x(heatmap):
    p = _distribution(heatmap)
    y, x = _centres(*heatmap.shape[1:])
    cx = (p * x).sum(dim=(1, 2), keepdim=True)
    return (p * (x - cx) ** 2).sum(dim=(1, 2))


@mistake(
    "moment_of_inertia",
    "only_y",
    "adds up only the vertical term (y - cy)^2: the squared distance from the "
    "centroid is (y - cy)^2 + (x - cx)^2, both axes",
)
def moment_of_inertia_only_y(heatmap):
    p = _distribution(heatmap)
    y, x = _centres(*heatmap.shape[1:])
    cy = (p * y).sum(dim=(1, 2), keepdim=True)
    return (p * (y - cy) ** 2).sum(dim=(1, 2))


@mistake(
    "moment_of_inertia",
    "standard_deviation",
    "takes the square root (a standard deviation, the radius of gyration): the moment "
    "of inertia is the mean *squared* distance, sum p * ((y - cy)^2 + (x - cx)^2)",
)
def moment_of_inertia_standard_deviation(heatmap):
    p = _distribution(heatmap)
    y, x = _centres(*heatmap.shape[1:])
    cy, cx = (p * y).sum(dim=(1, 2), keepdim=True), (p * x).sum(dim=(1, 2), keepdim=True)
    return (p * ((y - cy) ** 2 + (x - cx) ** 2)).sum(dim=(1, 2)).sqrt()


@mistake(
    "moment_of_inertia",
    "zero_map_nan",
    "gives NaN for an all-zero map (0 / 0): treat it as the uniform map, "
    "torch.where(total > 0, heatmap / total, 1 / (H * W))",
    matches_output=False,
)
def moment_of_inertia_zero_map_nan(heatmap):
    m = heatmap.double()
    p = m / m.sum(dim=(1, 2), keepdim=True)
    y, x = _centres(*heatmap.shape[1:])
    cy, cx = (p * y).sum(dim=(1, 2), keepdim=True), (p * x).sum(dim=(1, 2), keepdim=True)
    return (p * ((y - cy) ** 2 + (x - cx) ** 2)).sum(dim=(1, 2))


@mistake(
    "moment_of_inertia",
    "zero_map_zero",
    "gives 0 for an all-zero map, as if all its mass sat on one pixel: an all-zero map "
    "says nothing about where the network looks, so treat it as the uniform map "
    "(the least concentrated one)",
)
def moment_of_inertia_zero_map_zero(heatmap):
    m = heatmap.double()
    p = m / m.sum(dim=(1, 2), keepdim=True).clamp(min=1e-12)
    y, x = _centres(*heatmap.shape[1:])
    cy, cx = (p * y).sum(dim=(1, 2), keepdim=True), (p * x).sum(dim=(1, 2), keepdim=True)
    return (p * ((y - cy) ** 2 + (x - cx) ** 2)).sum(dim=(1, 2))


# --- 3. cosine_similarity_maps -----------------------------------------------------------


@mistake(
    "cosine_similarity_maps",
    "no_resize",
    "does not bring the two maps to a common size, so maps of exits at different "
    "resolutions (8x8 and 4x4) are not compared pixel by pixel: call "
    "a, b = resize_to_common(a, b) first",
)
def cosine_similarity_maps_no_resize(a, b):
    a, b = a.double().flatten(1), b.double().flatten(1)
    norms = a.norm(dim=1) * b.norm(dim=1)
    return torch.where(norms > 0, (a * b).sum(dim=1) / norms.clamp(min=1e-300), torch.zeros_like(norms))


@mistake(
    "cosine_similarity_maps",
    "nearest",
    "resizes with mode='nearest', which repeats pixels in blocks: bring the maps to a "
    "common size with resize_to_common(a, b) (bilinear, align_corners=False)",
)
def cosine_similarity_maps_nearest(a, b):
    size = (max(a.shape[1], b.shape[1]), max(a.shape[2], b.shape[2]))
    a = F.interpolate(a.double()[:, None], size=size, mode="nearest")[:, 0]
    b = F.interpolate(b.double()[:, None], size=size, mode="nearest")[:, 0]
    return _cosine(a, b)


@mistake(
    "cosine_similarity_maps",
    "align_corners",
    "resizes with align_corners=True, which shifts the pixel centres of the smaller map: "
    "bring the maps to a common size with resize_to_common(a, b) (bilinear, "
    "align_corners=False)",
)
def cosine_similarity_maps_align_corners(a, b):
    size = (max(a.shape[1], b.shape[1]), max(a.shape[2], b.shape[2]))
    a = F.interpolate(a.double()[:, None], size=size, mode="bilinear", align_corners=True)[:, 0]
    b = F.interpolate(b.double()[:, None], size=size, mode="bilinear", align_corners=True)[:, 0]
    return _cosine(a, b)


@mistake(
    "cosine_similarity_maps",
    "b_to_size_of_a",
    "resizes b to the size of a, which shrinks b when a is the smaller map: bring both "
    "to the larger size with resize_to_common(a, b)",
)
def cosine_similarity_maps_b_to_size_of_a(a, b):
    b = F.interpolate(b.double()[:, None], size=tuple(a.shape[1:]), mode="bilinear", align_corners=False)[:, 0]
    return _cosine(a.double(), b)


@mistake(
    "cosine_similarity_maps",
    "to_smaller_size",
    "shrinks the larger map to the smaller size, which throws its details away: bring "
    "both to the *larger* size with resize_to_common(a, b)",
)
def cosine_similarity_maps_to_smaller_size(a, b):
    size = (min(a.shape[1], b.shape[1]), min(a.shape[2], b.shape[2]))
    a = F.interpolate(a.double()[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
    b = F.interpolate(b.double()[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
    return _cosine(a, b)


@mistake(
    "cosine_similarity_maps",
    "whole_batch",
    "computes one cosine for the whole batch: flatten each sample's map on its own, "
    "a.flatten(1), and return one cosine per sample, shape (B,)",
)
def cosine_similarity_maps_whole_batch(a, b):
    a, b = resize_to_common(a, b)
    a, b = a.flatten(), b.flatten()
    return (a * b).sum() / (a.norm() * b.norm())


@mistake(
    "cosine_similarity_maps",
    "columns_averaged",
    "compares the maps column by column and averages the cosines (F.cosine_similarity "
    "along dim=1 of (B, H, W) maps): flatten each map first, a.flatten(1), so that the "
    "whole map is one vector",
)
def cosine_similarity_maps_columns_averaged(a, b):
    a, b = resize_to_common(a, b)
    return F.cosine_similarity(a, b, dim=1).mean(dim=1)


@mistake(
    "cosine_similarity_maps",
    "one_norm",
    "divides by the norm of a only: the cosine divides the dot product by both norms, sum(a * b) / (||a|| * ||b||)",
)
def cosine_similarity_maps_one_norm(a, b):
    a, b = resize_to_common(a, b)
    a, b = a.flatten(1), b.flatten(1)
    return (a * b).sum(dim=1) / a.norm(dim=1)


@mistake(
    "cosine_similarity_maps",
    "centred",
    "subtracts each map's mean first (a Pearson correlation): the cosine compares the "
    "maps as they are, sum(a * b) / (||a|| * ||b||)",
)
def cosine_similarity_maps_centred(a, b):
    a, b = resize_to_common(a, b)
    a, b = a.flatten(1), b.flatten(1)
    return _cosine(a - a.mean(dim=1, keepdim=True), b - b.mean(dim=1, keepdim=True))


@mistake(
    "cosine_similarity_maps",
    "zero_map_nan",
    "gives NaN for a pair with an all-zero map (0 / 0): such a pair has nothing to "
    "agree on and scores 0, e.g. torch.where(norms > 0, dot / norms, 0)",
    matches_output=False,
)
def cosine_similarity_maps_zero_map_nan(a, b):
    a, b = resize_to_common(a, b)
    a, b = a.flatten(1), b.flatten(1)
    return (a * b).sum(dim=1) / (a.norm(dim=1) * b.norm(dim=1))


# --- 4. ssim_maps ------------------------------------------------------------------------


@mistake(
    "ssim_maps",
    "no_constants",
    "leaves out the constants C1 = (0.01 L)^2 and C2 = (0.03 L)^2, so flat patches "
    "(no variance, or a mean of 0) divide 0 by 0: add them to the numerator and "
    "denominator as in the formula",
)
def ssim_maps_no_constants(a, b, data_range=1.0, window=7):
    a, b = resize_to_common(a, b)
    a, b = a[:, None], b[:, None]
    mu_a, mu_b = F.avg_pool2d(a, window, stride=1), F.avg_pool2d(b, window, stride=1)
    n = window * window
    var_a = (F.avg_pool2d(a * a, window, stride=1) - mu_a**2) * n / (n - 1)
    var_b = (F.avg_pool2d(b * b, window, stride=1) - mu_b**2) * n / (n - 1)
    cov = (F.avg_pool2d(a * b, window, stride=1) - mu_a * mu_b) * n / (n - 1)
    s = (2 * mu_a * mu_b * 2 * cov) / ((mu_a**2 + mu_b**2) * (var_a + var_b))
    return s.mean(dim=(1, 2, 3))


@mistake(
    "ssim_maps",
    "constants_not_squared",
    "uses C1 = 0.01 L and C2 = 0.03 L: the constants are squared, C1 = (0.01 L)^2 and C2 = (0.03 L)^2",
)
def ssim_maps_constants_not_squared(a, b, data_range=1.0, window=7):
    a, b = resize_to_common(a, b)
    a, b = a[:, None], b[:, None]
    c1, c2 = 0.01 * data_range, 0.03 * data_range
    mu_a, mu_b = F.avg_pool2d(a, window, stride=1), F.avg_pool2d(b, window, stride=1)
    n = window * window
    var_a = (F.avg_pool2d(a * a, window, stride=1) - mu_a**2) * n / (n - 1)
    var_b = (F.avg_pool2d(b * b, window, stride=1) - mu_b**2) * n / (n - 1)
    cov = (F.avg_pool2d(a * b, window, stride=1) - mu_a * mu_b) * n / (n - 1)
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.mean(dim=(1, 2, 3))


@mistake(
    "ssim_maps",
    "population_variance",
    "uses population variances and covariance (divided by n): the exercise, like "
    "scikit-image, uses sample ones, divided by n - 1 (multiply by n / (n - 1), "
    "n = window**2)",
)
def ssim_maps_population_variance(a, b, data_range=1.0, window=7):
    a, b = resize_to_common(a, b)
    a, b = a[:, None], b[:, None]
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_a, mu_b = F.avg_pool2d(a, window, stride=1), F.avg_pool2d(b, window, stride=1)
    var_a = F.avg_pool2d(a * a, window, stride=1) - mu_a**2
    var_b = F.avg_pool2d(b * b, window, stride=1) - mu_b**2
    cov = F.avg_pool2d(a * b, window, stride=1) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.mean(dim=(1, 2, 3))


@mistake(
    "ssim_maps",
    "gaussian_window",
    "weighs each patch with a Gaussian window: this exercise uses the plain average over "
    "each window x window patch, F.avg_pool2d(x, window, stride=1) (scikit-image's "
    "default)",
)
def ssim_maps_gaussian_window(a, b, data_range=1.0, window=7):
    a, b = resize_to_common(a, b)
    a, b = a[:, None], b[:, None]
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    g = torch.exp(-((torch.arange(window, dtype=torch.float64) - (window - 1) / 2) ** 2) / (2 * 1.5**2))
    kernel = g[:, None] * g[None, :]
    kernel = (kernel / kernel.sum())[None, None]
    mu_a, mu_b = F.conv2d(a, kernel), F.conv2d(b, kernel)
    var_a = F.conv2d(a * a, kernel) - mu_a**2
    var_b = F.conv2d(b * b, kernel) - mu_b**2
    cov = F.conv2d(a * b, kernel) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.mean(dim=(1, 2, 3))


@mistake(
    "ssim_maps",
    "padded_patches",
    "also averages over patches that stick out of the map (padding=window // 2, padded "
    "with zeros): keep only the patches fully inside the map, F.avg_pool2d(x, window, "
    "stride=1) without padding",
)
def ssim_maps_padded_patches(a, b, data_range=1.0, window=7):
    a, b = resize_to_common(a, b)
    a, b = a[:, None], b[:, None]
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2

    def pool(x):
        return F.avg_pool2d(x, window, stride=1, padding=window // 2)

    mu_a, mu_b = pool(a), pool(b)
    n = window * window
    var_a = (pool(a * a) - mu_a**2) * n / (n - 1)
    var_b = (pool(b * b) - mu_b**2) * n / (n - 1)
    cov = (pool(a * b) - mu_a * mu_b) * n / (n - 1)
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.mean(dim=(1, 2, 3))


@mistake(
    "ssim_maps",
    "non_overlapping_patches",
    "uses patches that do not overlap (F.avg_pool2d's stride defaults to the window "
    "size): slide the window one pixel at a time, F.avg_pool2d(x, window, stride=1)",
)
def ssim_maps_non_overlapping_patches(a, b, data_range=1.0, window=7):
    a, b = resize_to_common(a, b)
    a, b = a[:, None], b[:, None]
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_a, mu_b = F.avg_pool2d(a, window), F.avg_pool2d(b, window)
    n = window * window
    var_a = (F.avg_pool2d(a * a, window) - mu_a**2) * n / (n - 1)
    var_b = (F.avg_pool2d(b * b, window) - mu_b**2) * n / (n - 1)
    cov = (F.avg_pool2d(a * b, window) - mu_a * mu_b) * n / (n - 1)
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.mean(dim=(1, 2, 3))


@mistake(
    "ssim_maps",
    "whole_map",
    "computes one SSIM from the means and variances of the whole map: SSIM is local, "
    "computed on every window x window patch and then averaged over the patches",
)
def ssim_maps_whole_map(a, b, data_range=1.0, window=7):
    a, b = resize_to_common(a, b)
    a, b = a.flatten(1), b.flatten(1)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_a, mu_b = a.mean(dim=1), b.mean(dim=1)
    var_a, var_b = a.var(dim=1), b.var(dim=1)
    cov = ((a - mu_a[:, None]) * (b - mu_b[:, None])).sum(dim=1) / (a.shape[1] - 1)
    return ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))


@mistake(
    "ssim_maps",
    "ignores_data_range",
    "ignores data_range (computes the constants for L = 1): C1 = (0.01 * data_range)^2 and C2 = (0.03 * data_range)^2",
)
def ssim_maps_ignores_data_range(a, b, data_range=1.0, window=7):
    a, b = resize_to_common(a, b)
    return _ssim(a, b, 1.0, window)


@mistake(
    "ssim_maps",
    "ignores_window",
    "ignores the window argument (always uses 7 x 7 patches): use window x window "
    "patches, F.avg_pool2d(x, window, stride=1), and n = window**2",
)
def ssim_maps_ignores_window(a, b, data_range=1.0, window=7):
    a, b = resize_to_common(a, b)
    return _ssim(a, b, data_range, 7)


@mistake(
    "ssim_maps",
    "batch_mean",
    "averages the SSIM over the whole batch: average over each sample's patches only, "
    ".mean(dim=(1, 2)), and return one value per sample, shape (B,)",
)
def ssim_maps_batch_mean(a, b, data_range=1.0, window=7):
    a, b = resize_to_common(a, b)
    return _ssim(a, b, data_range, window).mean()


@mistake(
    "ssim_maps",
    "no_resize",
    "does not bring the two maps to a common size, so maps of exits at different "
    "resolutions (16x16 and 8x8) are not compared patch by patch: call "
    "a, b = resize_to_common(a, b) first",
)
def ssim_maps_no_resize(a, b, data_range=1.0, window=7):
    return _ssim(a, b, data_range, window)


# --- 5. coherence_scores -----------------------------------------------------------------


@mistake(
    "coherence_scores",
    "all_with_first",
    "compares every exit with the *first* exit: with reference='previous', row j "
    "compares exit j + 1 with exit j, the exit just before it",
)
def coherence_scores_all_with_first(maps_per_exit, reference="previous"):
    E = len(maps_per_exit)
    if reference == "previous":
        rows = [cosine_similarity_maps(maps_per_exit[j + 1], maps_per_exit[0]) for j in range(E - 1)]
    elif reference == "final":
        rows = [cosine_similarity_maps(maps_per_exit[j], maps_per_exit[-1]) for j in range(E - 1)]
    else:
        raise ValueError(f"reference must be 'previous' or 'final', got {reference!r}")
    return torch.stack(rows)


@mistake(
    "coherence_scores",
    "ignores_reference",
    "ignores the reference argument (always compares with the previous exit): with "
    "reference='final', row j compares side exit j with the final exit, "
    "maps_per_exit[-1]",
)
def coherence_scores_ignores_reference(maps_per_exit, reference="previous"):
    E = len(maps_per_exit)
    return torch.stack([cosine_similarity_maps(maps_per_exit[j + 1], maps_per_exit[j]) for j in range(E - 1)])


@mistake(
    "coherence_scores",
    "references_swapped",
    "swaps the two references: 'previous' compares exit j + 1 with exit j (row j), "
    "'final' compares side exit j with the last exit, maps_per_exit[-1]",
)
def coherence_scores_references_swapped(maps_per_exit, reference="previous"):
    E = len(maps_per_exit)
    if reference == "final":
        rows = [cosine_similarity_maps(maps_per_exit[j + 1], maps_per_exit[j]) for j in range(E - 1)]
    elif reference == "previous":
        rows = [cosine_similarity_maps(maps_per_exit[j], maps_per_exit[-1]) for j in range(E - 1)]
    else:
        raise ValueError(f"reference must be 'previous' or 'final', got {reference!r}")
    return torch.stack(rows)


@mistake(
    "coherence_scores",
    "wraps_around",
    "compares exit j with exit j - 1 for j = 0 to E - 2, so row 0 compares the first "
    "exit with maps_per_exit[-1], the last one: row j compares exit j + 1 with exit j, "
    "for j = 0 to E - 2",
)
def coherence_scores_wraps_around(maps_per_exit, reference="previous"):
    E = len(maps_per_exit)
    if reference == "previous":
        rows = [cosine_similarity_maps(maps_per_exit[j], maps_per_exit[j - 1]) for j in range(E - 1)]
    elif reference == "final":
        rows = [cosine_similarity_maps(maps_per_exit[j], maps_per_exit[-1]) for j in range(E - 1)]
    else:
        raise ValueError(f"reference must be 'previous' or 'final', got {reference!r}")
    return torch.stack(rows)


@mistake(
    "coherence_scores",
    "final_with_itself",
    "also compares the final exit with itself (a row of ones), giving E rows: with "
    "reference='final' there is one row per *side* exit, j = 0 to E - 2",
)
def coherence_scores_final_with_itself(maps_per_exit, reference="previous"):
    E = len(maps_per_exit)
    if reference == "previous":
        rows = [cosine_similarity_maps(maps_per_exit[j + 1], maps_per_exit[j]) for j in range(E - 1)]
    elif reference == "final":
        rows = [cosine_similarity_maps(maps_per_exit[j], maps_per_exit[-1]) for j in range(E)]
    else:
        raise ValueError(f"reference must be 'previous' or 'final', got {reference!r}")
    return torch.stack(rows)


@mistake(
    "coherence_scores",
    "final_skips_first_exit",
    "with reference='final' starts at the second exit and ends with the final exit "
    "compared with itself: row j compares side exit j with the final exit, for "
    "j = 0 to E - 2",
)
def coherence_scores_final_skips_first_exit(maps_per_exit, reference="previous"):
    E = len(maps_per_exit)
    if reference == "previous":
        rows = [cosine_similarity_maps(maps_per_exit[j + 1], maps_per_exit[j]) for j in range(E - 1)]
    elif reference == "final":
        rows = [cosine_similarity_maps(maps_per_exit[j], maps_per_exit[-1]) for j in range(1, E)]
    else:
        raise ValueError(f"reference must be 'previous' or 'final', got {reference!r}")
    return torch.stack(rows)


@mistake(
    "coherence_scores",
    "transposed",
    "returns one row per sample, shape (B, E - 1): return one row per compared pair "
    "of exits, shape (E - 1, B) (torch.stack(rows), dim=0)",
)
def coherence_scores_transposed(maps_per_exit, reference="previous"):
    E = len(maps_per_exit)
    if reference == "previous":
        rows = [cosine_similarity_maps(maps_per_exit[j + 1], maps_per_exit[j]) for j in range(E - 1)]
    elif reference == "final":
        rows = [cosine_similarity_maps(maps_per_exit[j], maps_per_exit[-1]) for j in range(E - 1)]
    else:
        raise ValueError(f"reference must be 'previous' or 'final', got {reference!r}")
    return torch.stack(rows, dim=1)


@mistake(
    "coherence_scores",
    "returns_list",
    "returns a list of rows: stack them into one (E - 1, B) tensor with torch.stack(rows)",
    matches_output=False,
)
def coherence_scores_returns_list(maps_per_exit, reference="previous"):
    E = len(maps_per_exit)
    if reference == "previous":
        return [cosine_similarity_maps(maps_per_exit[j + 1], maps_per_exit[j]) for j in range(E - 1)]
    if reference == "final":
        return [cosine_similarity_maps(maps_per_exit[j], maps_per_exit[-1]) for j in range(E - 1)]
    raise ValueError(f"reference must be 'previous' or 'final', got {reference!r}")


@mistake(
    "coherence_scores",
    "no_value_error",
    "accepts a reference that is neither 'previous' nor 'final' and quietly compares "
    "with the previous exit: raise a ValueError naming the two choices, so that a typo "
    "is not read as 'previous'",
    matches_output=False,
)
def coherence_scores_no_value_error(maps_per_exit, reference="previous"):
    E = len(maps_per_exit)
    if reference == "final":
        rows = [cosine_similarity_maps(maps_per_exit[j], maps_per_exit[-1]) for j in range(E - 1)]
    else:
        rows = [cosine_similarity_maps(maps_per_exit[j + 1], maps_per_exit[j]) for j in range(E - 1)]
    return torch.stack(rows)


# --- 6. choose_threshold -----------------------------------------------------------------


@mistake(
    "choose_threshold",
    "ignores_direction",
    "always lets the samples with score >= threshold leave, which is right only when a "
    "higher score is surer: with higher_is_surer=False the *low* scores leave (score "
    "<= threshold), so sort the scores the other way (or negate them, and negate the "
    "threshold back)",
)
def choose_threshold_ignores_direction(scores, correct, target_accuracy, higher_is_surer=True):
    s, order = torch.sort(scores.double(), descending=True, stable=True)
    right = correct[order].double()
    accuracy = right.cumsum(0) / torch.arange(1, len(s) + 1)
    last = torch.ones(len(s), dtype=torch.bool)
    last[:-1] = s[1:] != s[:-1]
    ok = (accuracy >= target_accuracy) & last
    if not ok.any():
        return math.inf
    return s[int(ok.nonzero().max())].item()


@mistake(
    "choose_threshold",
    "assumes_sorted",
    "assumes the scores come sorted: sort them first, surest first "
    "(torch.sort(scores, descending=higher_is_surer)), and reorder correct the same way",
)
def choose_threshold_assumes_sorted(scores, correct, target_accuracy, higher_is_surer=True):
    s = scores.double()
    accuracy = correct.double().cumsum(0) / torch.arange(1, len(s) + 1)
    last = torch.ones(len(s), dtype=torch.bool)
    last[:-1] = s[1:] != s[:-1]
    ok = (accuracy >= target_accuracy) & last
    if not ok.any():
        return math.inf if higher_is_surer else -math.inf
    return s[int(ok.nonzero().max())].item()


@mistake(
    "choose_threshold",
    "ties_split",
    "cuts between samples with equal scores, which no threshold can separate (they all "
    "leave or all stay): only cut after the last of a run of equal scores",
)
def choose_threshold_ties_split(scores, correct, target_accuracy, higher_is_surer=True):
    s, order = torch.sort(scores.double(), descending=higher_is_surer, stable=True)
    accuracy = correct[order].double().cumsum(0) / torch.arange(1, len(s) + 1)
    ok = accuracy >= target_accuracy
    if not ok.any():
        return math.inf if higher_is_surer else -math.inf
    return s[int(ok.nonzero().max())].item()


@mistake(
    "choose_threshold",
    "strict_leave",
    "lets a sample leave when its score is strictly above the threshold: a sample "
    "leaves when score >= threshold (<= when lower is surer), so the threshold is the "
    "score of the last sample that leaves",
)
def choose_threshold_strict_leave(scores, correct, target_accuracy, higher_is_surer=True):
    s = scores.double() if higher_is_surer else -scores.double()
    best = math.inf
    for t in torch.unique(s).tolist():
        leave = s > t
        if leave.any() and correct[leave].double().mean() >= target_accuracy:
            best = min(best, t)
    return best if higher_is_surer else -best


@mistake(
    "choose_threshold",
    "strict_target",
    "requires the accuracy to be *above* the target: a threshold whose leaving samples "
    "reach exactly the target accuracy is fine (accuracy >= target_accuracy)",
)
def choose_threshold_strict_target(scores, correct, target_accuracy, higher_is_surer=True):
    s, order = torch.sort(scores.double(), descending=higher_is_surer, stable=True)
    accuracy = correct[order].double().cumsum(0) / torch.arange(1, len(s) + 1)
    last = torch.ones(len(s), dtype=torch.bool)
    last[:-1] = s[1:] != s[:-1]
    ok = (accuracy > target_accuracy) & last
    if not ok.any():
        return math.inf if higher_is_surer else -math.inf
    return s[int(ok.nonzero().max())].item()


@mistake(
    "choose_threshold",
    "first_failing_score",
    "returns the score at which the accuracy first falls below the target, so the "
    "sample that breaks the target leaves too: return the score of the *last* sample "
    "of the loosest cut that still reaches the target",
)
def choose_threshold_first_failing_score(scores, correct, target_accuracy, higher_is_surer=True):
    s, order = torch.sort(scores.double(), descending=higher_is_surer, stable=True)
    right = correct[order].double()
    for n in range(len(s)):
        if right[: n + 1].mean() < target_accuracy:
            return s[n].item()
    return s[-1].item()


@mistake(
    "choose_threshold",
    "stops_at_first_dip",
    "stops at the first cut below the target, but the accuracy of the leaving samples "
    "can rise again as more samples leave: check every cut (after each run of equal "
    "scores) and keep the loosest one that reaches the target",
)
def choose_threshold_stops_at_first_dip(scores, correct, target_accuracy, higher_is_surer=True):
    s, order = torch.sort(scores.double(), descending=higher_is_surer, stable=True)
    right = correct[order].double()
    best = math.inf if higher_is_surer else -math.inf
    n = 0
    while n < len(s):
        end = n
        while end + 1 < len(s) and s[end + 1] == s[n]:
            end += 1
        if right[: end + 1].mean() < target_accuracy:
            break
        best = s[end].item()
        n = end + 1
    return best


@mistake(
    "choose_threshold",
    "accuracy_of_all_samples",
    "divides the number of right samples among those leaving by the number of *all* "
    "samples: the accuracy of a cut is measured among the samples that leave, "
    "right / leaving",
)
def choose_threshold_accuracy_of_all_samples(scores, correct, target_accuracy, higher_is_surer=True):
    s, order = torch.sort(scores.double(), descending=higher_is_surer, stable=True)
    accuracy = correct[order].double().cumsum(0) / len(s)
    last = torch.ones(len(s), dtype=torch.bool)
    last[:-1] = s[1:] != s[:-1]
    ok = (accuracy >= target_accuracy) & last
    if not ok.any():
        return math.inf if higher_is_surer else -math.inf
    return s[int(ok.nonzero().max())].item()


@mistake(
    "choose_threshold",
    "midpoint",
    "returns a value half-way between the last score that leaves and the next one: "
    "return the score of the last sample that leaves itself, so that exactly the "
    "samples with score >= threshold leave",
)
def choose_threshold_midpoint(scores, correct, target_accuracy, higher_is_surer=True):
    s, order = torch.sort(scores.double(), descending=higher_is_surer, stable=True)
    accuracy = correct[order].double().cumsum(0) / torch.arange(1, len(s) + 1)
    last = torch.ones(len(s), dtype=torch.bool)
    last[:-1] = s[1:] != s[:-1]
    ok = (accuracy >= target_accuracy) & last
    if not ok.any():
        return math.inf if higher_is_surer else -math.inf
    n = int(ok.nonzero().max())
    if n == len(s) - 1:
        return s[n].item()
    return ((s[n] + s[n + 1]) / 2).item()


@mistake(
    "choose_threshold",
    "everyone_leaves",
    "lets every sample leave when no threshold reaches the target accuracy: then "
    "nobody may leave, so return float('inf') (or -inf when a lower score is surer)",
)
def choose_threshold_everyone_leaves(scores, correct, target_accuracy, higher_is_surer=True):
    s, order = torch.sort(scores.double(), descending=higher_is_surer, stable=True)
    accuracy = correct[order].double().cumsum(0) / torch.arange(1, len(s) + 1)
    last = torch.ones(len(s), dtype=torch.bool)
    last[:-1] = s[1:] != s[:-1]
    ok = (accuracy >= target_accuracy) & last
    if not ok.any():
        return -math.inf if higher_is_surer else math.inf
    return s[int(ok.nonzero().max())].item()


@mistake(
    "choose_threshold",
    "changes_scores",
    "changes the scores it is given in place (scores *= -1 or scores.neg_() flips the "
    "caller's tensor): work on a copy, s = -scores",
    matches_output=False,
)
def choose_threshold_changes_scores(scores, correct, target_accuracy, higher_is_surer=True):
    if not higher_is_surer:
        scores *= -1
    s, order = torch.sort(scores.double(), descending=True, stable=True)
    accuracy = correct[order].double().cumsum(0) / torch.arange(1, len(s) + 1)
    last = torch.ones(len(s), dtype=torch.bool)
    last[:-1] = s[1:] != s[:-1]
    ok = (accuracy >= target_accuracy) & last
    sign = 1.0 if higher_is_surer else -1.0
    if not ok.any():
        return sign * math.inf
    return sign * s[int(ok.nonzero().max())].item()


# --- 7. operating_point ------------------------------------------------------------------


@mistake(
    "operating_point",
    "fitted_on_test",
    "chooses the threshold on the test split: choose it on validation, "
    "choose_threshold(val_scores, val_correct, ...), and only measure it on test. A "
    "threshold tuned on test reports the accuracy it was tuned to reach, not the one it "
    "will have on new data",
)
def operating_point_fitted_on_test(
    val_scores, val_correct, test_scores, test_correct, target_accuracy, higher_is_surer=True
):
    threshold = choose_threshold(test_scores, test_correct, target_accuracy, higher_is_surer)
    leave = test_scores >= threshold if higher_is_surer else test_scores <= threshold
    accuracy = test_correct[leave].double().mean().item() if leave.any() else math.nan
    return threshold, accuracy, leave.double().mean().item()


@mistake(
    "operating_point",
    "accuracy_on_validation",
    "measures the accuracy on the validation split: the threshold comes from "
    "validation, but the accuracy is measured on test, among the test samples that "
    "leave",
)
def operating_point_accuracy_on_validation(
    val_scores, val_correct, test_scores, test_correct, target_accuracy, higher_is_surer=True
):
    threshold = choose_threshold(val_scores, val_correct, target_accuracy, higher_is_surer)
    val_leave = val_scores >= threshold if higher_is_surer else val_scores <= threshold
    leave = test_scores >= threshold if higher_is_surer else test_scores <= threshold
    accuracy = val_correct[val_leave].double().mean().item() if val_leave.any() else math.nan
    return threshold, accuracy, leave.double().mean().item()


@mistake(
    "operating_point",
    "share_on_validation",
    "measures the share of samples that leave on the validation split: measure it on "
    "test, the share of the test samples with a score sure enough to leave",
)
def operating_point_share_on_validation(
    val_scores, val_correct, test_scores, test_correct, target_accuracy, higher_is_surer=True
):
    threshold = choose_threshold(val_scores, val_correct, target_accuracy, higher_is_surer)
    val_leave = val_scores >= threshold if higher_is_surer else val_scores <= threshold
    leave = test_scores >= threshold if higher_is_surer else test_scores <= threshold
    accuracy = test_correct[leave].double().mean().item() if leave.any() else math.nan
    return threshold, accuracy, val_leave.double().mean().item()


@mistake(
    "operating_point",
    "accuracy_of_all_samples",
    "divides the right test samples that leave by *all* test samples: the accuracy is "
    "measured among the samples that leave, test_correct[leave].mean()",
)
def operating_point_accuracy_of_all_samples(
    val_scores, val_correct, test_scores, test_correct, target_accuracy, higher_is_surer=True
):
    threshold = choose_threshold(val_scores, val_correct, target_accuracy, higher_is_surer)
    leave = test_scores >= threshold if higher_is_surer else test_scores <= threshold
    accuracy = (test_correct & leave).double().sum().item() / len(test_scores) if leave.any() else math.nan
    return threshold, accuracy, leave.double().mean().item()


@mistake(
    "operating_point",
    "share_is_count",
    "returns the number of test samples that leave: the share is that number divided "
    "by the number of test samples, leave.float().mean()",
)
def operating_point_share_is_count(
    val_scores, val_correct, test_scores, test_correct, target_accuracy, higher_is_surer=True
):
    threshold = choose_threshold(val_scores, val_correct, target_accuracy, higher_is_surer)
    leave = test_scores >= threshold if higher_is_surer else test_scores <= threshold
    accuracy = test_correct[leave].double().mean().item() if leave.any() else math.nan
    return threshold, accuracy, float(leave.sum().item())


@mistake(
    "operating_point",
    "strict_leave",
    "lets a test sample leave only when its score is strictly beyond the threshold: a "
    "sample leaves when score >= threshold (<= when lower is surer), as in "
    "choose_threshold",
)
def operating_point_strict_leave(
    val_scores, val_correct, test_scores, test_correct, target_accuracy, higher_is_surer=True
):
    threshold = choose_threshold(val_scores, val_correct, target_accuracy, higher_is_surer)
    leave = test_scores > threshold if higher_is_surer else test_scores < threshold
    accuracy = test_correct[leave].double().mean().item() if leave.any() else math.nan
    return threshold, accuracy, leave.double().mean().item()


@mistake(
    "operating_point",
    "ignores_direction",
    "always lets the test samples with score >= threshold leave: with "
    "higher_is_surer=False the samples with score <= threshold leave",
)
def operating_point_ignores_direction(
    val_scores, val_correct, test_scores, test_correct, target_accuracy, higher_is_surer=True
):
    threshold = choose_threshold(val_scores, val_correct, target_accuracy, higher_is_surer)
    leave = test_scores >= threshold
    accuracy = test_correct[leave].double().mean().item() if leave.any() else math.nan
    return threshold, accuracy, leave.double().mean().item()


@mistake(
    "operating_point",
    "no_leavers_zero",
    "gives an accuracy of 0 when no test sample leaves: the accuracy of nobody is "
    "undefined, return float('nan') then (the share is 0)",
)
def operating_point_no_leavers_zero(
    val_scores, val_correct, test_scores, test_correct, target_accuracy, higher_is_surer=True
):
    threshold = choose_threshold(val_scores, val_correct, target_accuracy, higher_is_surer)
    leave = test_scores >= threshold if higher_is_surer else test_scores <= threshold
    accuracy = (test_correct & leave).double().sum().item() / max(int(leave.sum()), 1)
    return threshold, accuracy, leave.double().mean().item()
