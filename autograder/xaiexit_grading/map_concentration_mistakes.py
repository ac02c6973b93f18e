"""Plausible mistakes in Lesson 4's exercises (AUROC and map concentration), each written out as a learner would.

See :mod:`xaiexit_grading.gradient_saliency_mistakes` for how the catalogue is used. The
functions here may call the module-level helpers below (``_distribution`` and so on): a
mistake pasted into a notebook as an answer cell brings the helpers it calls along, so
each helper is self-contained.

Deliberately *not* mistakes (the hidden tests accept them):

- ``auroc`` by any exact method: all (right, wrong) pairs compared at once, the rank sum
  with *average* ranks for ties (``scipy.stats.rankdata``), a sort and a cumulative count,
  or ``sklearn.metrics.roc_auc_score`` (ties count one half there too); a 0-dim tensor
  instead of a Python float.
- ``spatial_entropy`` in bits *divided by* ``log2(H * W)``: the normalised entropy is the
  same in every base. A small ``eps`` inside the logarithm (``torch.log(p + 1e-12)``) or
  ``torch.special.xlogy(p, p)`` are fine too; only NaN for pixels without mass is a
  mistake (``log_of_zero``).
- ``moment_of_inertia`` with pixel *corners* (``row / H``) instead of centres: moving
  every pixel by the same half pixel moves the centroid with it, and the moment about
  the centroid does not change. Only coordinates that stretch the image
  (``torch.linspace(0, 1, H)``, or pixel units) change it. Computing it as
  ``E[y^2] - E[y]^2 + E[x^2] - E[x]^2`` is the same number.
"""

from __future__ import annotations

import math

import torch

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


# --- 1. auroc ---------------------------------------------------------------------------


def _pairs(scores, positive, higher_is_surer):
    """Every (right, wrong) pair's comparison, surer first: ``(n_pos, n_neg)`` float64 tensors
    ``above`` (the right one is surer) and ``tied``; ``None`` when a group is empty or no
    score is finite."""
    s = scores.double() if higher_is_surer else -scores.double()
    positive = positive.bool()
    pos, neg = s[positive], s[~positive]
    if len(pos) == 0 or len(neg) == 0 or not torch.isfinite(s).any():
        return None
    return (pos[:, None] > neg[None, :]).double(), (pos[:, None] == neg[None, :]).double()


@mistake(
    "auroc",
    "ties_ignored",
    "counts a tie between a right and a wrong sample as 0: a tie says nothing about "
    "which one is surer, so it counts one half, (above + 0.5 * tied) / (n_right * n_wrong)",
    visible="counted 0 (7 / 12)",
)
def auroc_ties_ignored(scores, positive, higher_is_surer=True):
    pairs = _pairs(scores, positive, higher_is_surer)
    if pairs is None:
        return math.nan
    above, tied = pairs
    return above.mean().item()


@mistake(
    "auroc",
    "ties_count_one",
    "counts a tie between a right and a wrong sample as a win (>=): a tie counts one "
    "half, (above + 0.5 * tied) / (n_right * n_wrong)",
    visible="counted 1 (10 / 12)",
)
def auroc_ties_count_one(scores, positive, higher_is_surer=True):
    pairs = _pairs(scores, positive, higher_is_surer)
    if pairs is None:
        return math.nan
    above, tied = pairs
    return (above + tied).mean().item()


@mistake(
    "auroc",
    "ignores_direction",
    "ignores higher_is_surer: when a lower score is surer (an entropy), a right sample "
    "should score *lower* than a wrong one, so compare -scores (or flip the comparison)",
    visible="higher_is_surer=False was ignored",
)
def auroc_ignores_direction(scores, positive, higher_is_surer=True):
    pairs = _pairs(scores, positive, True)
    if pairs is None:
        return math.nan
    above, tied = pairs
    return (above + 0.5 * tied).mean().item()


@mistake(
    "auroc",
    "groups_swapped",
    "measures how often a *wrong* sample is surer than a right one (the two groups are "
    "swapped, which gives 1 - AUROC): count the pairs where the right (positive) sample "
    "is surer",
    visible="swap the groups",
)
def auroc_groups_swapped(scores, positive, higher_is_surer=True):
    pairs = _pairs(scores, ~positive.bool(), higher_is_surer)
    if pairs is None:
        return math.nan
    above, tied = pairs
    return (above + 0.5 * tied).mean().item()


@mistake(
    "auroc",
    "ordinal_ranks",
    "ranks the scores with argsort, which breaks every tie by position: equal scores "
    "must share their average rank (or compare pairs directly, a tie counting one half)",
    visible="break ties by position",
)
def auroc_ordinal_ranks(scores, positive, higher_is_surer=True):
    s = scores.double() if higher_is_surer else -scores.double()
    positive = positive.bool()
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0 or not torch.isfinite(s).any():
        return math.nan
    ranks = torch.argsort(torch.argsort(s, stable=True), stable=True).double() + 1
    return ((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)).item()


@mistake(
    "auroc",
    "rank_sum_not_centred",
    "divides the rank sum of the right samples by n_right * n_wrong without first "
    "subtracting n_right (n_right + 1) / 2, the smallest rank sum they can have "
    "(Mann-Whitney U = rank sum - n_right (n_right + 1) / 2)",
    visible="a rank sum must be centred",
)
def auroc_rank_sum_not_centred(scores, positive, higher_is_surer=True):
    s = scores.double() if higher_is_surer else -scores.double()
    positive = positive.bool()
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0 or not torch.isfinite(s).any():
        return math.nan
    below = (s[:, None] > s[None, :]).double().sum(dim=1)
    equal = (s[:, None] == s[None, :]).double().sum(dim=1)
    ranks = below + (equal + 1) / 2  # average ranks, 1-based
    return (ranks[positive].sum() / (n_pos * n_neg)).item()


@mistake(
    "auroc",
    "not_normalised",
    "returns the number of (right, wrong) pairs in order, not a probability: divide by "
    "the number of such pairs, n_right * n_wrong",
    visible="the number of pairs in order",
)
def auroc_not_normalised(scores, positive, higher_is_surer=True):
    pairs = _pairs(scores, positive, higher_is_surer)
    if pairs is None:
        return math.nan
    above, tied = pairs
    return (above + 0.5 * tied).sum().item()


@mistake(
    "auroc",
    "all_pairs",
    "averages over all N x N pairs of samples: only the (right, wrong) pairs count, so divide by n_right * n_wrong",
    visible="all 7 x 7 pairs",
)
def auroc_all_pairs(scores, positive, higher_is_surer=True):
    pairs = _pairs(scores, positive, higher_is_surer)
    if pairs is None:
        return math.nan
    above, tied = pairs
    return ((above + 0.5 * tied).sum() / len(scores) ** 2).item()


@mistake(
    "auroc",
    "difference_of_scores",
    "compares the *difference* of two scores with 0: two 'never' scores give "
    "-inf - (-inf) = nan, which is neither above, below nor equal to 0, so their tie "
    "is lost; compare the scores themselves (s_right > s_wrong, s_right == s_wrong)",
    visible="two -inf scores must tie",
)
def auroc_difference_of_scores(scores, positive, higher_is_surer=True):
    s = scores.double() if higher_is_surer else -scores.double()
    positive = positive.bool()
    pos, neg = s[positive], s[~positive]
    if len(pos) == 0 or len(neg) == 0 or not torch.isfinite(s).any():
        return math.nan
    d = pos[:, None] - neg[None, :]
    return ((d > 0).double() + 0.5 * (d == 0).double()).mean().item()


@mistake(
    "auroc",
    "coin_when_a_group_is_empty",
    "returns 0.5 when there is no right or no wrong sample: with one group empty there "
    "is no pair to compare and the AUROC is undefined, so return float('nan') (0.5 would "
    "claim a score that ranks no better than a coin)",
    visible="every image right: the AUROC is undefined, return math.nan (got 0.5)",
)
def auroc_coin_when_a_group_is_empty(scores, positive, higher_is_surer=True):
    positive = positive.bool()
    if positive.all() or not positive.any():
        return 0.5
    pairs = _pairs(scores, positive, higher_is_surer)
    if pairs is None:
        return math.nan
    above, tied = pairs
    return (above + 0.5 * tied).mean().item()


@mistake(
    "auroc",
    "zero_when_a_group_is_empty",
    "returns 0 when there is no right or no wrong sample: with one group empty there is "
    "no pair to compare and the AUROC is undefined, so return float('nan')",
    visible="return math.nan (got 0.0)",
)
def auroc_zero_when_a_group_is_empty(scores, positive, higher_is_surer=True):
    positive = positive.bool()
    if positive.all() or not positive.any():
        return 0.0
    pairs = _pairs(scores, positive, higher_is_surer)
    if pairs is None:
        return math.nan
    above, tied = pairs
    return (above + 0.5 * tied).mean().item()


@mistake(
    "auroc",
    "crashes_when_a_group_is_empty",
    "fails when there is no right or no wrong sample (a division by n_right * n_wrong = 0): "
    "check the two groups first and return float('nan') when one is empty",
    matches_output=False,
    visible="your auroc raised ZeroDivisionError",
)
def auroc_crashes_when_a_group_is_empty(scores, positive, higher_is_surer=True):
    s = scores.double() if higher_is_surer else -scores.double()
    positive = positive.bool()
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if torch.isfinite(s).any():
        above = (s[positive][:, None] > s[~positive][None, :]).double().sum().item()
        tied = (s[positive][:, None] == s[~positive][None, :]).double().sum().item()
        return (above + 0.5 * tied) / (n_pos * n_neg)
    return math.nan


@mistake(
    "auroc",
    "never_scores_rank",
    "ranks samples whose scores are all 'never' (-inf, or inf when lower is surer) as a "
    "tie and returns 0.5: a rule that cannot decide anywhere ranks nothing, so return "
    "float('nan') when no score is finite",
    visible="every score -inf: the AUROC is undefined",
)
def auroc_never_scores_rank(scores, positive, higher_is_surer=True):
    s = scores.double() if higher_is_surer else -scores.double()
    positive = positive.bool()
    pos, neg = s[positive], s[~positive]
    if len(pos) == 0 or len(neg) == 0:
        return math.nan
    above, tied = (pos[:, None] > neg[None, :]).double(), (pos[:, None] == neg[None, :]).double()
    return (above + 0.5 * tied).mean().item()


@mistake(
    "auroc",
    "changes_scores",
    "changes the scores it is given in place (scores.neg_() or scores *= -1 flips the "
    "caller's tensor): work on a copy, s = -scores",
    matches_output=False,
    visible="auroc must not modify its inputs",
)
def auroc_changes_scores(scores, positive, higher_is_surer=True):
    if not higher_is_surer:
        scores.neg_()
    pairs = _pairs(scores, positive, True)
    if pairs is None:
        return math.nan
    above, tied = pairs
    return (above + 0.5 * tied).mean().item()


# --- 2. spatial_entropy ------------------------------------------------------------------


@mistake(
    "spatial_entropy",
    "log_of_zero",
    "gives NaN for pixels without mass: torch.log(0) is -inf and 0 * -inf is NaN. A "
    "pixel with p = 0 contributes 0 (the limit of p ln p): use torch.special.xlogy(p, p) "
    "or torch.where(p > 0, p * torch.log(p), 0)",
    matches_output=False,
    visible="ln(0) * 0 is nan",
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
    visible="p must sum to 1 over each map",
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
    visible="its maximum gives p = 1 everywhere",
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
    visible="a softmax exponentiates",
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
    visible="gave ln 64",
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
    visible="its entropy in bits",
)
def spatial_entropy_bits(heatmap):
    p = _distribution(heatmap)
    return -(torch.special.xlogy(p, p) / math.log(2)).sum(dim=(1, 2))


@mistake(
    "spatial_entropy",
    "mean_over_pixels",
    "averages -p ln p over the pixels: the entropy is their *sum*, divided by ln(H * W) (a uniform map gives 1)",
    visible="not its mean",
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
    visible="pixels of *one* map",
)
def spatial_entropy_log_of_batch_size(heatmap):
    p = _distribution(heatmap)
    return -torch.special.xlogy(p, p).sum(dim=(1, 2)) / math.log(heatmap.numel())


@mistake(
    "spatial_entropy",
    "batch_distribution",
    "divides by the sum of the whole batch: each map is a distribution of its own, "
    "p = heatmap / heatmap.sum(dim=(1, 2), keepdim=True)",
    visible="not the whole batch's",
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
    visible="an all-zero map gave nan",
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
    visible="entropy 1; got -0.0",
)
def spatial_entropy_zero_map_zero(heatmap):
    m = heatmap.double()
    p = m / m.sum(dim=(1, 2), keepdim=True).clamp(min=1e-12)
    H, W = heatmap.shape[1:]
    return -torch.special.xlogy(p, p).sum(dim=(1, 2)) / math.log(H * W)


# --- 3. moment_of_inertia ----------------------------------------------------------------


@mistake(
    "moment_of_inertia",
    "image_centre",
    "measures distances from the image centre (0.5, 0.5): the centre is the map's own "
    "centroid, the mass-weighted mean position cy = sum p * y, cx = sum p * x",
    visible="not from the middle of the image",
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
    visible="not from the brightest pixel",
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
    visible="not by the raw map",
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
    visible="you measured in pixels",
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
    visible="linspace(0, 1, size) stretches the map",
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
    visible="rows and columns are swapped",
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
    visible="add the y distances",
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
    visible="the x distances count too",
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
    visible="no square root",
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
    visible="0.15625), got nan",
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
    visible="0.15625), got 0.0",
)
def moment_of_inertia_zero_map_zero(heatmap):
    m = heatmap.double()
    p = m / m.sum(dim=(1, 2), keepdim=True).clamp(min=1e-12)
    y, x = _centres(*heatmap.shape[1:])
    cy, cx = (p * y).sum(dim=(1, 2), keepdim=True), (p * x).sum(dim=(1, 2), keepdim=True)
    return (p * ((y - cy) ** 2 + (x - cx) ** 2)).sum(dim=(1, 2))
