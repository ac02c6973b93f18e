"""Intervals for exit-rule numbers: the vectorised bootstrap draws exactly the resamples of
xaiexit.stats and evaluates the same statistics, checked against the scalar versions
(xaiexit.stats.bootstrap_ci / hierarchical_bootstrap_ci with xaiexit.exits.auroc,
accuracy_cost_area and plain means) and against scikit-learn's roc_auc_score."""

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from xaiexit.exits import accuracy_cost_area, auroc
from xaiexit.exits.intervals import (
    Resampler,
    area_statistic,
    auroc_statistic,
    batched_area,
    difference_interval,
    mean_statistic,
    oracle_share_statistic,
    percentile_interval,
)
from xaiexit.stats import bootstrap_ci, hierarchical_bootstrap_ci

pytestmark = pytest.mark.usefixtures("one_thread")


def _scores(n, levels=None, seed=0):
    g = np.random.default_rng(seed)
    s = g.random(n)
    if levels:
        s = np.round(s * (levels - 1)) / (levels - 1)
    positive = g.random(n) < 0.3 + 0.5 * s
    positive[:2] = [True, False]
    return s, positive


def _ones(n):
    return torch.ones(n, 1, dtype=torch.float64)


@pytest.mark.parametrize("levels", [None, 5])
@pytest.mark.parametrize("higher_is_surer", [True, False])
def test_weighted_auroc_equals_scikit_learn_on_the_items_and_on_a_stratum(levels, higher_is_surer):
    s, positive = _scores(300, levels)
    s = s if higher_is_surer else 1 - s
    s[:7] = -np.inf if higher_is_surer else np.inf  # "never" scores tie with each other
    statistic = auroc_statistic(s, positive, higher_is_surer)
    sure = np.nan_to_num(s if higher_is_surer else -s, neginf=-1e300)
    assert float(statistic(_ones(300))[0]) == pytest.approx(roc_auc_score(positive, sure), abs=1e-12)
    where = np.arange(300) % 3 == 0
    stratum = auroc_statistic(s, positive, higher_is_surer, where=where)
    want = roc_auc_score(positive[where], sure[where])
    assert float(stratum(_ones(300))[0]) == pytest.approx(want, abs=1e-12)


def test_weighted_auroc_counts_a_repeated_item_as_often_as_it_was_drawn():
    s, positive = _scores(40, levels=6)
    counts = np.random.default_rng(1).integers(0, 4, size=40)
    counts[:2] = 1  # both groups present
    rows = np.repeat(np.arange(40), counts)
    expected = auroc(torch.tensor(s[rows]), torch.tensor(positive[rows]))
    got = auroc_statistic(s, positive)(torch.tensor(counts, dtype=torch.float32)[:, None])
    assert float(got[0]) == pytest.approx(expected, abs=1e-9)


def test_weighted_auroc_is_nan_without_a_pair_or_a_finite_score():
    s, positive = _scores(20)
    assert math.isnan(float(auroc_statistic(s, np.ones(20, bool))(_ones(20))[0]))
    assert math.isnan(float(auroc_statistic(np.full(20, -np.inf), positive)(_ones(20))[0]))


def test_bootstrap_intervals_equal_xaiexit_stats():
    s, positive = _scores(250, levels=8)
    cost, oracle = 0.3 + np.random.default_rng(2).random((2, 250)) * [[0.7], [0.2]]
    resampler = Resampler([250], n_resamples=300, hierarchical=False, seed=5)
    pairs = [
        (auroc_statistic(s, positive), lambda a, b: auroc(torch.tensor(a), torch.tensor(b)), (s, positive)),
        (mean_statistic(cost), np.mean, (cost,)),
        (oracle_share_statistic(cost, oracle), lambda c, o: (1 - c.mean()) / (1 - o.mean()), (cost, oracle)),
    ]
    for fast, slow, samples in pairs:
        want = bootstrap_ci(slow, *samples, n_resamples=300, seed=5)
        assert np.allclose(resampler.interval(fast), want, atol=1e-6), (resampler.interval(fast), want)


def test_hierarchical_intervals_equal_xaiexit_stats():
    sizes = [90, 120, 60]
    s, positive = _scores(sum(sizes), levels=10, seed=3)
    resampler = Resampler(sizes, n_resamples=300, seed=7)
    groups = np.split(np.arange(sum(sizes)), np.cumsum(sizes)[:-1])

    def slow(rows):
        rows = rows.astype(int)
        return auroc(torch.tensor(s[rows]), torch.tensor(positive[rows]), higher_is_surer=False)

    want = hierarchical_bootstrap_ci(slow, groups, n_resamples=300, seed=7)
    assert np.allclose(resampler.interval(auroc_statistic(s, positive, False)), want, atol=1e-9)
    keep = np.arange(sum(sizes)) % 2 == 0
    want = hierarchical_bootstrap_ci(
        lambda rows: s[rows.astype(int)][keep[rows.astype(int)]].mean(), groups, 300, seed=7
    )
    assert np.allclose(resampler.interval(mean_statistic(s, keep)), want, atol=1e-6)


def test_batched_area_equals_accuracy_cost_area_for_every_curve():
    g = torch.Generator().manual_seed(0)
    costs = 0.1 + 1.3 * torch.rand(20, 9, generator=g, dtype=torch.float64)
    accuracies = torch.rand(20, 9, generator=g, dtype=torch.float64)
    costs[3] = 1.5  # every point beyond the budgets: area 0
    got = batched_area(costs, accuracies, low=0.3)
    for row in range(20):
        assert float(got[row]) == pytest.approx(accuracy_cost_area(costs[row], accuracies[row], low=0.3), abs=1e-12)
    assert float(got[3]) == 0.0


def test_accuracy_cost_area_counts_budgets_without_a_point_as_zero():
    # budgets 0.2..0.5 reach no point: 0; 0.5..1.0: 0.9 -> (0.3 * 0 + 0.5 * 0.9) / 0.8
    assert accuracy_cost_area(torch.tensor([0.5, 1.2]), torch.tensor([0.9, 1.0]), low=0.2) == pytest.approx(0.5625)


def test_area_statistic_is_the_area_of_the_mean_curve_and_of_a_resample():
    g = np.random.default_rng(4)
    exits_taken = g.integers(0, 3, size=(6, 50))
    exits_taken[2] = exits_taken[1]  # a repeated point of the curve
    cost_of_exit, right = np.array([0.3, 0.6, 1.05]), g.random((3, 50)) < 0.85
    point_costs = cost_of_exit[exits_taken]
    point_right = right[exits_taken, np.arange(50)].astype(float)
    statistic = area_statistic(point_costs, point_right, low=0.3)
    want = accuracy_cost_area(torch.tensor(point_costs.mean(1)), torch.tensor(point_right.mean(1)), low=0.3)
    assert float(statistic(_ones(50))[0]) == pytest.approx(want, abs=1e-12)
    rows = g.integers(0, 50, size=50)
    counts = torch.tensor(np.bincount(rows, minlength=50), dtype=torch.float32)[:, None]
    want = accuracy_cost_area(
        torch.tensor(point_costs[:, rows].mean(1)), torch.tensor(point_right[:, rows].mean(1)), low=0.3
    )
    assert float(statistic(counts)[0]) == pytest.approx(want, abs=1e-6)


def test_difference_of_independent_samples_and_percentiles():
    a, b = np.arange(100.0), np.arange(100.0) + 10
    first, second = Resampler([100], 400, seed=1, hierarchical=False), Resampler([100], 400, seed=2, hierarchical=False)
    diff = difference_interval((first, mean_statistic(a)), (second, mean_statistic(b)))
    assert diff.estimate == pytest.approx(-10.0) and diff.low < -10 < diff.high
    with pytest.raises(ValueError, match="n_resamples"):
        difference_interval((first, mean_statistic(a)), (Resampler([100], 300), mean_statistic(b)))
    assert math.isnan(percentile_interval(0.5, np.array([np.nan, np.inf])).low)
    with pytest.raises(ValueError, match="level"):
        percentile_interval(0.5, np.arange(3.0), level=1.5)


def test_resampler_counts_are_draws_with_replacement():
    resampler = Resampler([30, 20], n_resamples=50, seed=0)
    counts = resampler.counts
    assert counts.shape == (50, 50) and (counts >= 0).all()
    totals = counts.sum(axis=1)
    assert set(totals.tolist()) <= {40, 50, 60}  # two groups drawn with replacement: 30 + 30, 30 + 20 or 20 + 20
    with pytest.raises(ValueError, match="at least one item"):
        Resampler([10, 0])
