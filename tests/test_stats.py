"""Bootstrap intervals: against SciPy's percentile bootstrap, and by their coverage."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from xaiexit.stats import Interval, bootstrap_ci, hierarchical_bootstrap_ci, hierarchical_bootstrap_difference


def test_percentile_interval_agrees_with_scipy():
    rng = np.random.default_rng(1)
    data = rng.exponential(size=80)
    ours = bootstrap_ci(np.mean, data, n_resamples=20000, seed=3)
    theirs = scipy_stats.bootstrap((data,), np.mean, n_resamples=20000, method="percentile", random_state=4)
    # two independent Monte Carlo runs of the same interval: they agree to a few hundredths of its width
    width = theirs.confidence_interval.high - theirs.confidence_interval.low
    assert abs(ours.low - theirs.confidence_interval.low) < 0.05 * width
    assert abs(ours.high - theirs.confidence_interval.high) < 0.05 * width
    assert ours.estimate == pytest.approx(data.mean())


def test_paired_samples_are_resampled_together():
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    y = x + 0.01 * rng.normal(size=200)  # almost the same numbers, row by row
    interval = bootstrap_ci(lambda a, b: np.corrcoef(a, b)[0, 1], x, y, n_resamples=500)
    # resampled as pairs the correlation stays near 1; resampling x and y apart would give about 0
    assert interval.low > 0.99


def test_95_percent_intervals_cover_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(7)
    covered = [
        (lambda i: i.low <= 0.0 <= i.high)(bootstrap_ci(np.mean, rng.normal(size=60), n_resamples=400, seed=k))
        for k in range(200)
    ]
    # a binomial(200, ~0.94) count: the percentile interval is a little short at n = 60
    assert 0.85 <= np.mean(covered) <= 0.99


def test_the_interval_is_reproducible_and_seeded():
    data = np.arange(50.0)
    assert bootstrap_ci(np.median, data, seed=1) == bootstrap_ci(np.median, data, seed=1)
    assert bootstrap_ci(np.median, data, seed=1) != bootstrap_ci(np.median, data, seed=2)


def test_resamples_where_the_statistic_is_undefined_are_left_out():
    labels = np.array([0] * 3 + [1] * 3)  # many resamples hold one class only
    interval = bootstrap_ci(lambda y: np.nan if y.min() == y.max() else y.mean(), labels, n_resamples=300)
    assert np.isfinite(interval.low) and np.isfinite(interval.high)


def test_hierarchical_bootstrap_carries_the_spread_between_groups():
    rng = np.random.default_rng(0)
    groups = [rng.normal(loc=mu, scale=1.0, size=300) for mu in (0.0, 0.6, 1.2)]  # three "trained networks"
    pooled = bootstrap_ci(np.mean, np.concatenate(groups), n_resamples=1000)
    nested = hierarchical_bootstrap_ci(np.mean, groups, n_resamples=1000)
    assert nested.estimate == pytest.approx(pooled.estimate)
    assert nested.high - nested.low > 3 * (pooled.high - pooled.low)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: bootstrap_ci(np.mean), "at least one sample"),
        (lambda: bootstrap_ci(np.mean, []), "empty"),
        (lambda: bootstrap_ci(np.mean, [1.0, 2.0], [1.0]), "same length"),
        (lambda: bootstrap_ci(np.mean, [1.0, 2.0], level=95), "level"),
        (lambda: hierarchical_bootstrap_ci(np.mean, [[1.0], []]), "non-empty"),
    ],
)
def test_bad_input_names_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_interval_prints_estimate_and_bounds():
    assert str(Interval(0.5, 0.25, 0.75)) == "0.500 [0.250, 0.750]"


def test_difference_of_two_hierarchical_samples_matches_the_two_intervals():
    rng = np.random.default_rng(3)
    a = [rng.normal(loc=1.0 + mu, size=200) for mu in (0.0, 0.1, -0.1)]
    b = [rng.normal(loc=mu, size=200) for mu in (0.0, 0.1, -0.1)]
    diff = hierarchical_bootstrap_difference(np.mean, a, b, n_resamples=1000)
    assert diff.estimate == pytest.approx(np.concatenate(a).mean() - np.concatenate(b).mean())
    assert diff.low < 1.0 < diff.high and diff.low > 0.5
    # the difference is no more certain than either side: wider than each side's interval
    side = hierarchical_bootstrap_ci(np.mean, a, n_resamples=1000)
    assert diff.high - diff.low > side.high - side.low


def test_rows_of_a_group_are_resampled_whole():
    # column 1 is always twice column 0: any resample of whole rows keeps the ratio exactly 2
    groups = [np.stack([v, 2 * v], axis=1) for v in (np.arange(1.0, 20.0), np.arange(5.0, 30.0))]
    interval = hierarchical_bootstrap_ci(lambda rows: rows[:, 1].sum() / rows[:, 0].sum(), groups, n_resamples=200)
    assert interval == (2.0, 2.0, 2.0)
