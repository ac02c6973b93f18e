"""Plausible mistakes in Lesson 5's exercises (agreement of exit maps, thresholds), each written out as a learner would.

See :mod:`xaiexit_grading.gradient_saliency_mistakes` for how the catalogue is used. The
functions here may call the module-level helpers below (``_cosine`` and ``_ssim``): a
mistake pasted into a notebook as an answer cell brings the helpers it calls along, so
each helper is self-contained. ``resize_to_common`` is the name the notebook's setup cell
gives its learners; ``cosine_similarity_maps`` is their answer to Exercise 1, which
Exercise 3 calls (its hidden test swaps in the reference, so a mistake is not counted
twice).

Deliberately *not* mistakes (the hidden tests accept them):

- ``cosine_similarity_maps`` with ``F.cosine_similarity(a.flatten(1), b.flatten(1), dim=1)``
  after ``resize_to_common`` (its ``eps`` makes a pair with an all-zero map score 0), or
  with the maps scaled (``normalize_maps``) first: the cosine ignores each map's scale.
- ``coherence_scores`` that compares exit ``j`` with exit ``j + 1`` in either order: the
  cosine is symmetric.
- ``choose_threshold`` by brute force over the distinct scores, returning a Python float or
  a 0-dim tensor.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from xaiexit.exits import cosine_similarity_maps, resize_to_common
from xaiexit_grading._catalogue import Catalogue, Mistake

_catalogue = Catalogue()
mistake, of, message, CATALOGUE = _catalogue.mistake, _catalogue.of, _catalogue.message, _catalogue.entries

__all__ = ["CATALOGUE", "Mistake", "mistake", "of", "message"]


# --- helpers the mistakes share (each correct on its own) --------------------------------


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


# --- 1. cosine_similarity_maps -----------------------------------------------------------


@mistake(
    "cosine_similarity_maps",
    "no_resize",
    "does not bring the two maps to a common size, so maps of exits at different "
    "resolutions (8x8 and 4x4) are not compared pixel by pixel: call "
    "a, b = resize_to_common(a, b) first",
    visible="3 x 3 maps raised RuntimeError",
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
    hidden_only="the visible test sees that 6 x 6 against 3 x 3 maps come out wrong, not which resizing was used",
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
    hidden_only="the visible test sees that 6 x 6 against 3 x 3 maps come out wrong, not which resizing was used",
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
    visible="(the smaller one first)",
)
def cosine_similarity_maps_b_to_size_of_a(a, b):
    b = F.interpolate(b.double()[:, None], size=tuple(a.shape[1:]), mode="bilinear", align_corners=False)[:, 0]
    return _cosine(a.double(), b)


@mistake(
    "cosine_similarity_maps",
    "to_smaller_size",
    "shrinks the larger map to the smaller size, which throws its details away: bring "
    "both to the *larger* size with resize_to_common(a, b)",
    hidden_only="the visible test sees that 6 x 6 against 3 x 3 maps come out wrong, not which resizing was used",
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
    visible="the batch stays a batch",
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
    visible="the mean of per-pixel cosines",
)
def cosine_similarity_maps_columns_averaged(a, b):
    a, b = resize_to_common(a, b)
    return F.cosine_similarity(a, b, dim=1).mean(dim=1)


@mistake(
    "cosine_similarity_maps",
    "one_norm",
    "divides by the norm of a only: the cosine divides the dot product by both norms, sum(a * b) / (||a|| * ||b||)",
    visible="divide the dot product by both norms",
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
    visible="you subtracted each map's mean",
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
    visible="score such a pair 0",
)
def cosine_similarity_maps_zero_map_nan(a, b):
    a, b = resize_to_common(a, b)
    a, b = a.flatten(1), b.flatten(1)
    return (a * b).sum(dim=1) / (a.norm(dim=1) * b.norm(dim=1))


# --- 2. ssim_maps ------------------------------------------------------------------------


@mistake(
    "ssim_maps",
    "no_constants",
    "leaves out the constants C1 = (0.01 L)^2 and C2 = (0.03 L)^2, so flat patches "
    "(no variance, or a mean of 0) divide 0 by 0: add them to the numerator and "
    "denominator as in the formula",
    hidden_only="the visible test compares with scikit-image's SSIM, which tells a wrong formula, not which part of it",
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
    hidden_only="the visible test compares with scikit-image's SSIM, which tells a wrong formula, not which part of it",
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
    visible="population (co)variances",
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
    hidden_only="the visible test compares with scikit-image's SSIM, which tells wrong windows, not which ones",
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
    hidden_only="the visible test compares with scikit-image's SSIM, which tells wrong windows, not which ones",
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
    hidden_only="the visible test compares with scikit-image's SSIM, which tells wrong windows, not which ones",
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
    hidden_only="the visible test compares with scikit-image's SSIM, which tells wrong windows, not which ones",
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
    hidden_only="the visible test sees that window 5 with data_range 2 is wrong, not which of the two was ignored",
)
def ssim_maps_ignores_data_range(a, b, data_range=1.0, window=7):
    a, b = resize_to_common(a, b)
    return _ssim(a, b, 1.0, window)


@mistake(
    "ssim_maps",
    "ignores_window",
    "ignores the window argument (always uses 7 x 7 patches): use window x window "
    "patches, F.avg_pool2d(x, window, stride=1), and n = window**2",
    hidden_only="the visible test sees that window 5 with data_range 2 is wrong, not which of the two was ignored",
)
def ssim_maps_ignores_window(a, b, data_range=1.0, window=7):
    a, b = resize_to_common(a, b)
    return _ssim(a, b, data_range, 7)


@mistake(
    "ssim_maps",
    "batch_mean",
    "averages the SSIM over the whole batch: average over each sample's patches only, "
    ".mean(dim=(1, 2)), and return one value per sample, shape (B,)",
    visible="average the windows of each pair only",
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
    visible="8 x 8 maps raised RuntimeError",
)
def ssim_maps_no_resize(a, b, data_range=1.0, window=7):
    return _ssim(a, b, data_range, window)


@mistake(
    "ssim_maps",
    "no_size_check",
    "does not check that a window fits: maps smaller than window x window (after "
    "resize_to_common) have no window at all, so raise a ValueError that says so (e.g. "
    "'maps of 4x4 are smaller than the 7x7 window: upsample them first')",
    matches_output=False,
    visible="raise a ValueError saying that no window fits",
)
def ssim_maps_no_size_check(a, b, data_range=1.0, window=7):
    a, b = resize_to_common(a, b)
    return _ssim(a, b, data_range, window)


# --- 3. coherence_scores -----------------------------------------------------------------


@mistake(
    "coherence_scores",
    "all_with_first",
    "compares every exit with the *first* exit: with reference='previous', row j "
    "compares exit j + 1 with exit j, the exit just before it",
    visible="not with the first",
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
    visible="reference='final' compares each side exit",
)
def coherence_scores_ignores_reference(maps_per_exit, reference="previous"):
    E = len(maps_per_exit)
    return torch.stack([cosine_similarity_maps(maps_per_exit[j + 1], maps_per_exit[j]) for j in range(E - 1)])


@mistake(
    "coherence_scores",
    "references_swapped",
    "swaps the two references: 'previous' compares exit j + 1 with exit j (row j), "
    "'final' compares side exit j with the last exit, maps_per_exit[-1]",
    visible="not with the final exit",
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
    hidden_only="the visible test shows the expected and the given rows; the hidden tests name the wrong pairing",
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
    visible="the final exit is not compared with itself",
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
    hidden_only="the visible test shows the expected and the given rows; the hidden tests name the wrong pairing",
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
    visible="is one row per image",
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
    visible="not a list of rows",
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
    visible="raise a ValueError for a reference",
)
def coherence_scores_no_value_error(maps_per_exit, reference="previous"):
    E = len(maps_per_exit)
    if reference == "final":
        rows = [cosine_similarity_maps(maps_per_exit[j], maps_per_exit[-1]) for j in range(E - 1)]
    else:
        rows = [cosine_similarity_maps(maps_per_exit[j + 1], maps_per_exit[j]) for j in range(E - 1)]
    return torch.stack(rows)


# --- 4. choose_threshold -----------------------------------------------------------------


@mistake(
    "choose_threshold",
    "never_as_threshold",
    "can choose -inf, a 'never' score, as the threshold, which lets every sample leave, "
    "the ones that must never leave too: a score of -inf (inf when lower is surer) is "
    "never a threshold, so only cut after a finite score",
    visible="can never be the threshold",
)
def choose_threshold_never_as_threshold(scores, correct, target_accuracy, higher_is_surer=True):
    s, order = torch.sort(scores.double(), descending=higher_is_surer, stable=True)
    accuracy = correct[order].double().cumsum(0) / torch.arange(1, len(s) + 1)
    last = torch.ones(len(s), dtype=torch.bool)
    last[:-1] = s[1:] != s[:-1]
    ok = (accuracy >= target_accuracy - 1e-9) & last
    if not ok.any():
        return math.inf if higher_is_surer else -math.inf
    return s[int(ok.nonzero().max())].item()


@mistake(
    "choose_threshold",
    "no_tolerance",
    "compares the accuracy with the target without the tolerance: 7 right out of 10 is "
    "0.7, but a target computed as 0.1 * 7 is 0.7000000000000001, and rounding must not "
    "decide; an accuracy >= target_accuracy - 1e-9 reaches the target",
    visible="within the tolerance",
)
def choose_threshold_no_tolerance(scores, correct, target_accuracy, higher_is_surer=True):
    s, order = torch.sort(scores.double(), descending=higher_is_surer, stable=True)
    accuracy = correct[order].double().cumsum(0) / torch.arange(1, len(s) + 1)
    last = torch.ones(len(s), dtype=torch.bool)
    last[:-1] = s[1:] != s[:-1]
    ok = (accuracy >= target_accuracy) & last & torch.isfinite(s)
    if not ok.any():
        return math.inf if higher_is_surer else -math.inf
    return s[int(ok.nonzero().max())].item()


@mistake(
    "choose_threshold",
    "crashes_on_no_samples",
    "fails when there are no samples at all (an exit that nobody reaches): with no "
    "sample nobody may leave, so return float('inf') (or -inf when a lower score is surer)",
    matches_output=False,
    visible="no image at all: your choose_threshold raised",
)
def choose_threshold_crashes_on_no_samples(scores, correct, target_accuracy, higher_is_surer=True):
    s, order = torch.sort(scores.double(), descending=higher_is_surer, stable=True)
    accuracy = correct[order].double().cumsum(0) / torch.arange(1, len(s) + 1)
    last = torch.zeros(len(s), dtype=torch.bool)
    last[:-1] = s[1:] != s[:-1]
    last[-1] = True  # the last sample ends its run (an IndexError when there is none)
    ok = (accuracy >= target_accuracy - 1e-9) & last & torch.isfinite(s)
    if not ok.any():
        return math.inf if higher_is_surer else -math.inf
    return s[int(ok.nonzero().max())].item()


@mistake(
    "choose_threshold",
    "ignores_direction",
    "always lets the samples with score >= threshold leave, which is right only when a "
    "higher score is surer: with higher_is_surer=False the *low* scores leave (score "
    "<= threshold), so sort the scores the other way (or negate them, and negate the "
    "threshold back)",
    visible="the *lowest* scores are the surest",
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
    visible="the same scores in another order",
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
    visible="a cut is only possible after the last of a run",
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
    visible="0.25 would let all five leave",
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
    hidden_only="on the worked example it gives 0.875 like stopping at the first dip: the visible hint names both",
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
    visible="not of the first one that breaks the target",
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
    hidden_only="on the worked example it gives 0.875, as a strict target does: the visible hint names both",
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
    visible="measure the accuracy among the images that leave",
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
    visible="not a value between two scores",
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
    visible="not -inf",
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
    visible="choose_threshold must not modify its inputs",
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
