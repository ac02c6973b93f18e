"""Intervals for exit-rule numbers: the bootstrap of :mod:`xaiexit.stats`, many statistics at once.

An AUROC, an oracle share or an accuracy-MACs area measured on a few hundred wrong answers
is uncertain, and so is a number from three trained networks. :func:`xaiexit.stats.bootstrap_ci`
(images resampled) and :func:`xaiexit.stats.hierarchical_bootstrap_ci` (networks resampled,
then images) give the intervals; this module draws **exactly the same resamples** and
evaluates a statistic on all of them at once.

A resample only repeats or leaves out images, so it is a vector of **counts** over the
images (how often each one was drawn). Every statistic here is written as a function of
those counts - a weighted mean, a weighted AUROC - which turns 2000 resamples into a few
matrix products instead of 2000 Python calls.

Examples
--------
>>> import numpy as np
>>> from xaiexit.stats import bootstrap_ci
>>> values = np.arange(20.0)
>>> fast = Resampler([20], n_resamples=500, hierarchical=False).interval(mean_statistic(values))
>>> slow = bootstrap_ci(np.mean, values, n_resamples=500)
>>> np.allclose(fast, slow)
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from xaiexit.stats import Interval

Statistic = Callable[[torch.Tensor], torch.Tensor]  # counts (M items, r resamples) -> (r,) values


class Resampler:
    """The bootstrap resamples of ``sum(sizes)`` items, as counts: how often each item was drawn.

    Parameters
    ----------
    sizes : sequence of int
        Items per group (e.g. test images per trained network); the items are numbered
        group after group, ``0 .. sizes[0] - 1`` for the first.
    n_resamples, seed : int
        As in :mod:`xaiexit.stats`.
    hierarchical : bool
        ``True``: the draws of :func:`~xaiexit.stats.hierarchical_bootstrap_ci` (groups
        with replacement, then the items of each chosen group); ``False``: those of
        :func:`~xaiexit.stats.bootstrap_ci` on all items pooled (one group of
        ``sum(sizes)``).

    A statistic is a function of a ``(M, r)`` float32 tensor of counts - ``M`` items,
    ``r`` resamples - returning ``(r,)`` values (float64 tensor or array).
    """

    def __init__(
        self, sizes: Sequence[int], n_resamples: int = 2000, seed: int = 0, hierarchical: bool = True, chunk: int = 500
    ):
        sizes = [int(s) for s in sizes]
        if not sizes or any(s <= 0 for s in sizes):
            raise ValueError(f"every group needs at least one item, got sizes {sizes}")
        self.sizes, self.n_resamples, self.seed, self.hierarchical = sizes, int(n_resamples), seed, hierarchical
        total = sum(sizes)
        counts = np.zeros((self.n_resamples, total), dtype=np.uint16)
        rng = np.random.default_rng(seed)
        if hierarchical:
            offsets = np.cumsum([0] + sizes[:-1])
            for k in range(self.n_resamples):
                chosen = rng.integers(0, len(sizes), size=len(sizes))
                for g in chosen:
                    drawn = np.bincount(rng.integers(0, sizes[g], size=sizes[g]), minlength=sizes[g])
                    counts[k, offsets[g] : offsets[g] + sizes[g]] += drawn.astype(np.uint16)
        else:
            rows = rng.integers(0, total, size=(self.n_resamples, total))
            for k in range(self.n_resamples):
                counts[k] = np.bincount(rows[k], minlength=total)
        # (M, r) float32 blocks of resamples: an item's counts lie side by side, ready for matrix products
        self.blocks = [
            torch.from_numpy(np.ascontiguousarray(counts[start : start + chunk].T).astype(np.float32))
            for start in range(0, self.n_resamples, chunk)
        ]

    @property
    def counts(self) -> np.ndarray:
        """``(n_resamples, M)``: how often each item was drawn in each resample."""
        return torch.cat(self.blocks, dim=1).T.numpy().astype(np.int64)

    def values(self, statistic: Statistic) -> np.ndarray:
        """The statistic on every resample: ``(n_resamples,)`` float64."""
        return np.concatenate([np.asarray(statistic(block), dtype=np.float64) for block in self.blocks])

    def estimate(self, statistic: Statistic) -> float:
        """The statistic on the items themselves (every count 1)."""
        return float(np.asarray(statistic(torch.ones(sum(self.sizes), 1, dtype=torch.float64)), dtype=np.float64)[0])

    def interval(self, statistic: Statistic, level: float = 0.95) -> Interval:
        """Percentile interval: the estimate on the items, and the ``(1 -+ level) / 2``
        quantiles of the resampled values that are finite (as :mod:`xaiexit.stats`)."""
        return percentile_interval(self.estimate(statistic), self.values(statistic), level)


def percentile_interval(estimate: float, values: np.ndarray, level: float = 0.95) -> Interval:
    """``Interval(estimate, low, high)`` from resampled values (non-finite ones dropped)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), e.g. 0.95; got {level!r}")
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return Interval(float(estimate), float("nan"), float("nan"))
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return Interval(float(estimate), float(low), float(high))


def difference_interval(
    first: tuple[Resampler, Statistic], second: tuple[Resampler, Statistic], level: float = 0.95
) -> Interval:
    """Interval of ``statistic_1 - statistic_2`` measured on two **independent** samples
    (two settings with their own networks and images), each resampled by its own
    :class:`Resampler` (give them different seeds and the same ``n_resamples``)."""
    (r1, s1), (r2, s2) = first, second
    if r1.n_resamples != r2.n_resamples:
        raise ValueError("the two resamplers need the same n_resamples")
    return percentile_interval(r1.estimate(s1) - r2.estimate(s2), r1.values(s1) - r2.values(s2), level)


# --- statistics of counts ---------------------------------------------------------------------


def _as_tensor(values, dtype=torch.float64) -> torch.Tensor:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().to(dtype)
    return torch.as_tensor(np.asarray(values), dtype=dtype)


def _weighted_means(values: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``values`` ``(P, M)`` or ``(M,)`` averaged with counts ``w`` ``(M, r)``: ``(P, r)`` or ``(r,)``."""
    means = (values.to(w.dtype) @ w) / w.sum(
        dim=0
    )  # float32 for the resamples (counts are exact), float64 for the estimate
    return means.double()


def mean_statistic(values, where=None) -> Statistic:
    """Weighted mean of per-item values ``(M,)`` (of the items ``where`` ``(M,) bool`` only)."""
    v = _as_tensor(values)
    if where is None:
        return lambda w: _weighted_means(v, w)
    keep = _as_tensor(where, torch.bool)
    both = torch.stack([torch.where(keep, v, torch.zeros_like(v)), keep.double()])

    def statistic(w: torch.Tensor) -> torch.Tensor:
        total, count = both.to(w.dtype) @ w
        return (total / count).double()

    return statistic


def auroc_statistic(scores, positive, higher_is_surer: bool = True, where=None) -> Statistic:
    """Weighted AUROC of ``scores`` ``(M,)`` for ``positive`` ``(M,)``: the chance that a
    positive item scores surer than a negative one, ties counting one half, every item
    counted as often as it was drawn. ``nan`` where a group has no weight or no score is
    finite (as :func:`xaiexit.exits.auroc`). ``where`` ``(M,) bool`` keeps some items only
    (a stratum).

    Sort the scores and cut them into bins: every run of tied scores that holds a negative
    is a bin, and so is every stretch of positives between two such runs. With ``P_b`` and
    ``N_b`` the positive and negative weight of bin ``b``,
    ``U = sum_b P_b (N_1 + ... + N_(b-1) + N_b / 2)`` and the AUROC is ``U / (P N)``: the
    resamples need only the bins' weights, one ``index_add`` away.
    """
    s = _as_tensor(scores)
    pos = _as_tensor(positive, torch.bool)
    keep = torch.ones_like(pos) if where is None else _as_tensor(where, torch.bool)
    if not higher_is_surer:
        s = -s
    if not bool(torch.isfinite(s[keep]).any()):
        return lambda w: torch.full((w.shape[1],), float("nan"), dtype=torch.float64)
    kept = torch.nonzero(keep).flatten()
    order = kept[torch.argsort(s[kept])]
    sorted_s, sorted_pos = s[order], pos[order]
    new_run = torch.ones(len(order), dtype=torch.bool)
    new_run[1:] = sorted_s[1:] != sorted_s[:-1]
    run = torch.cumsum(new_run.long(), 0) - 1
    has_negative = torch.zeros(int(run[-1]) + 1, dtype=torch.bool).index_fill_(0, run[~sorted_pos], True)
    # a new bin starts at every run with a negative, and at the first run after one
    run_starts_bin = has_negative.clone()
    run_starts_bin[1:] |= has_negative[:-1]
    run_starts_bin[0] = True
    bin_of_run = torch.cumsum(run_starts_bin.long(), 0) - 1
    n_bins = int(bin_of_run[-1]) + 1
    slot = torch.full((len(s),), 2 * n_bins, dtype=torch.long)  # items left out go to a spare slot
    slot[order] = 2 * bin_of_run[run] + sorted_pos.long()  # slot 2b: bin b's negatives, 2b + 1: its positives

    def statistic(w: torch.Tensor) -> torch.Tensor:
        sums = torch.zeros(2 * n_bins + 1, w.shape[1], dtype=w.dtype).index_add_(0, slot, w)
        neg, pos_w = sums[0 : 2 * n_bins : 2].double(), sums[1 : 2 * n_bins : 2].double()
        below = torch.cumsum(neg, dim=0) - neg
        u = (pos_w * (below + 0.5 * neg)).sum(dim=0)
        n_pos, n_neg = pos_w.sum(dim=0), neg.sum(dim=0)
        out = u / (n_pos * n_neg)
        return torch.where((n_pos > 0) & (n_neg > 0), out, torch.full_like(out, float("nan")))

    return statistic


def oracle_share_statistic(costs, oracle_costs) -> Statistic:
    """Share of the oracle's saving, ``(1 - mean cost) / (1 - mean oracle cost)``, from
    per-item relative costs (MACs / backbone) under the rule and under the oracle."""
    both = torch.stack([_as_tensor(costs), _as_tensor(oracle_costs)])

    def statistic(w: torch.Tensor) -> torch.Tensor:
        rule, oracle = _weighted_means(both, w)
        return (1 - rule) / (1 - oracle)

    return statistic


def batched_area(costs: torch.Tensor, accuracies: torch.Tensor, low: float, high: float = 1.0) -> torch.Tensor:
    """:func:`~xaiexit.exits.accuracy_cost_area` of many curves at once: ``(R, P)`` costs and
    accuracies of ``P`` points each -> ``(R,)``. The mean over budgets ``c`` uniform in
    ``[low, high]`` of the best accuracy of a point costing at most ``c``; a budget that no
    point fits in counts as accuracy 0."""
    if not high > low:
        raise ValueError(f"the budget range is empty: low={low} >= high={high}")
    costs, accuracies = costs.double(), accuracies.double()
    order = torch.argsort(costs, dim=1, stable=True)
    c = torch.gather(costs, 1, order).clamp(low, high)
    best = torch.cummax(torch.gather(accuracies, 1, order), dim=1).values  # best reachable from each point on
    edges = torch.cat([c, torch.full_like(c[:, :1], high)], dim=1)
    return ((edges[:, 1:] - edges[:, :-1]) * best).sum(dim=1) / (high - low)


def area_statistic(point_costs, point_right, low: float, high: float = 1.0) -> Statistic:
    """Area under the accuracy-MACs curve from per-item records: ``point_costs`` and
    ``point_right`` ``(P, M)``, each curve point's relative cost and correctness of every
    item; the curve's points are their weighted means."""
    c, r = _as_tensor(point_costs), _as_tensor(point_right)
    # neighbouring points of the curve that send every item to the same exit are one point: keep one
    if len(c) > 1:
        new = torch.ones(len(c), dtype=torch.bool)
        new[1:] = (c[1:] != c[:-1]).any(dim=1) | (r[1:] != r[:-1]).any(dim=1)
        c, r = c[new], r[new]

    def statistic(w: torch.Tensor) -> torch.Tensor:
        return batched_area(_weighted_means(c, w).T, _weighted_means(r, w).T, low, high)

    return statistic
