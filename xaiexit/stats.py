"""Intervals for measured numbers: the percentile bootstrap.

A claim such as "the gradient puts less than a random region's share on the interior"
is a statement about a mean over images, trained networks and test draws. The bootstrap
gives it an interval: resample the images (with replacement) many times, recompute the
statistic each time, and read the interval off the spread of the results (Efron &
Tibshirani, *An Introduction to the Bootstrap*, 1993, ch. 13).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch


class Interval(NamedTuple):
    """A point estimate with its two-sided interval: ``low <= estimate <= high`` usually."""

    estimate: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.estimate:.3f} [{self.low:.3f}, {self.high:.3f}]"


def _as_numpy(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().double().numpy()
    return np.asarray(value, dtype=np.float64)


def bootstrap_ci(
    statistic: Callable[..., float],
    *samples,
    n_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval of ``statistic(*samples)``.

    Parameters
    ----------
    statistic : callable
        Takes NumPy arrays shaped like ``samples`` and returns a number, e.g. ``np.mean``
        or ``lambda scores, errors: auroc(scores, errors)``.
    *samples : array-like or tensors, each shape (N, ...)
        Paired samples: resampling draws the same rows from every one of them.
    n_resamples : int
        Number of bootstrap resamples.
    level : float
        Coverage of the interval, in (0, 1).
    seed : int
        The resampling is seeded: the same call gives the same interval.

    Returns
    -------
    Interval
        ``estimate`` is the statistic on the samples themselves; ``low`` and ``high`` the
        ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the resampled statistics.
        Resamples on which the statistic is not finite (e.g. an AUROC of a resample with
        one class only) are left out.

    Examples
    --------
    >>> interval = bootstrap_ci(np.mean, np.arange(100.0))
    >>> round(interval.estimate, 1), interval.low < 49.5 < interval.high
    (49.5, True)
    """
    if not samples:
        raise ValueError("give at least one sample to resample")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), e.g. 0.95; got {level!r}")
    arrays = [_as_numpy(s) for s in samples]
    n = len(arrays[0])
    if n == 0:
        raise ValueError("the samples are empty: nothing to bootstrap")
    if any(len(a) != n for a in arrays):
        raise ValueError(f"paired samples must have the same length; got {[len(a) for a in arrays]}")
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, n, size=(n_resamples, n))
    values = np.array([statistic(*(a[r] for a in arrays)) for r in rows], dtype=np.float64)
    values = values[np.isfinite(values)]
    estimate = float(statistic(*arrays))
    if values.size == 0:
        return Interval(estimate, float("nan"), float("nan"))
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return Interval(estimate, float(low), float(high))


def _check_groups(values_per_group: list, level: float) -> list[np.ndarray]:
    groups = [_as_numpy(g) for g in values_per_group]
    if not groups or any(len(g) == 0 for g in groups):
        raise ValueError("give at least one non-empty group of values")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), e.g. 0.95; got {level!r}")
    return groups


def _hierarchical_resamples(statistic, groups: list[np.ndarray], n_resamples: int, rng) -> np.ndarray:
    """The statistic on ``n_resamples`` resamples: groups with replacement, then rows within each."""
    values = np.empty(n_resamples)
    for k in range(n_resamples):
        chosen = rng.integers(0, len(groups), size=len(groups))
        pooled = np.concatenate([groups[g][rng.integers(0, len(groups[g]), size=len(groups[g]))] for g in chosen])
        values[k] = statistic(pooled)
    return values


def _percentile_interval(estimate: float, values: np.ndarray, level: float) -> Interval:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return Interval(estimate, float("nan"), float("nan"))
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return Interval(estimate, float(low), float(high))


def hierarchical_bootstrap_ci(
    statistic: Callable[[np.ndarray], float],
    values_per_group: list,
    n_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap over groups and then over the items of each group.

    Use it when numbers come from a few trained networks (the groups, e.g. three training
    seeds), each measured on many images: resampling the networks as well as the images
    puts the spread between training runs into the interval, which resampling the images
    alone would miss.

    Parameters
    ----------
    statistic : callable
        Takes the pooled resampled rows (a NumPy array) and returns a number.
    values_per_group : list of array-like, each shape (N_g,) or (N_g, k)
        One array per group; its rows (one per image, say) are resampled whole.

    Returns
    -------
    Interval
        ``estimate`` is the statistic on all values pooled.

    Examples
    --------
    >>> groups = [np.zeros(50), np.ones(50), 2 * np.ones(50)]
    >>> interval = hierarchical_bootstrap_ci(np.mean, groups)
    >>> interval.estimate, interval.low < 1.0 < interval.high
    (1.0, True)
    """
    groups = _check_groups(values_per_group, level)
    values = _hierarchical_resamples(statistic, groups, n_resamples, np.random.default_rng(seed))
    return _percentile_interval(float(statistic(np.concatenate(groups))), values, level)


def hierarchical_bootstrap_difference(
    statistic: Callable[[np.ndarray], float],
    groups_a: list,
    groups_b: list,
    n_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Interval of ``statistic(a) - statistic(b)`` for two independent sets of groups.

    For instance the interior share of a saliency method on three colour-evidence
    networks minus the same on three shape-evidence networks: each side is resampled as
    in :func:`hierarchical_bootstrap_ci`, independently, and the interval is read off the
    differences.

    Examples
    --------
    >>> a = [np.full(30, 1.0), np.full(30, 1.2)]
    >>> b = [np.full(30, 0.0), np.full(30, 0.2)]
    >>> interval = hierarchical_bootstrap_difference(np.mean, a, b)
    >>> round(interval.estimate, 6), interval.low > 0.5
    (1.0, True)
    """
    a, b = _check_groups(groups_a, level), _check_groups(groups_b, level)
    rng = np.random.default_rng(seed)
    values = _hierarchical_resamples(statistic, a, n_resamples, rng) - _hierarchical_resamples(
        statistic, b, n_resamples, rng
    )
    estimate = float(statistic(np.concatenate(a)) - statistic(np.concatenate(b)))
    return _percentile_interval(estimate, values, level)
