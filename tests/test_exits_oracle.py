"""The oracle exit against a hand case and brute force: over every exit assignment of a few
samples, and over threshold rules on random scores."""

import itertools

import pytest
import torch

from xaiexit.exits import Entropy, Margin, MaxSoftmax, Oracle, oracle_exits, simulate_exits


def _onehot_logits(classes, k=3):
    """Logits whose argmax is the given class of each sample."""
    return 2.0 * torch.nn.functional.one_hot(torch.tensor(classes), k).float()


def _random_case(seed, exits, n, k):
    """Random logits at ``exits`` exits (later exits a little more often right), labels, and
    strictly increasing costs of leaving at each exit."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, k, (n,), generator=g)
    onehot = torch.nn.functional.one_hot(y, k)
    logits = [torch.randn(n, k, generator=g) + e / exits * onehot for e in range(exits)]
    costs = torch.cumsum(0.1 + torch.rand(exits, generator=g, dtype=torch.float64), dim=0)
    return logits, y, costs


def test_oracle_by_hand():
    y = torch.tensor([0, 1, 2, 0, 1])
    # predictions per exit:   sample 0  1  2  3  4
    exit0 = _onehot_logits([0, 0, 0, 1, 1])  # right: 0, 4
    exit1 = _onehot_logits([1, 1, 2, 1, 0])  # right: 1, 2
    exit2 = _onehot_logits([1, 1, 1, 1, 0])  # right: 1
    oracle = oracle_exits([exit0, exit1, exit2], y)
    assert isinstance(oracle, Oracle)
    assert oracle.exit_index.tolist() == [0, 1, 1, 0, 0]  # sample 3: no exit is right -> the cheapest, exit 0
    assert oracle.correct.tolist() == [True, True, True, False, True]
    assert oracle.exit_index.dtype == torch.long and oracle.correct.dtype == torch.bool
    # right earlier but wrong at the final exit: samples 0, 2, 4
    assert oracle.overthinking == pytest.approx(3 / 5)


def test_everyone_right_at_exit_0_and_nobody_right_anywhere():
    y = torch.tensor([2, 0, 1])
    right = _onehot_logits([2, 0, 1])
    wrong = _onehot_logits([0, 1, 2])
    oracle = oracle_exits([right, wrong, wrong, wrong], y)
    assert oracle.exit_index.tolist() == [0, 0, 0] and oracle.correct.all()
    assert oracle.overthinking == 1.0
    oracle = oracle_exits([wrong, wrong, wrong], y)  # wrong everywhere: leave where it is cheapest
    assert oracle.exit_index.tolist() == [0, 0, 0] and not oracle.correct.any()
    assert oracle.overthinking == 0.0
    oracle = oracle_exits([wrong], y)  # a single exit: the oracle is that exit, nothing to overthink
    assert oracle.exit_index.tolist() == [0, 0, 0] and oracle.overthinking == 0.0


@pytest.mark.parametrize("exits,k", [(2, 2), (4, 3), (5, 10)])
def test_oracle_against_a_loop_over_samples(exits, k):
    logits, y, _ = _random_case(exits * 100 + k, exits, 300, k)
    oracle = oracle_exits(logits, y)
    exit_index, correct, overthinking = [], [], 0
    for i in range(len(y)):
        right = [int(z[i].argmax()) == int(y[i]) for z in logits]
        exit_index.append(right.index(True) if any(right) else 0)
        correct.append(any(right))
        overthinking += any(right[:-1]) and not right[-1]
    assert oracle.exit_index.tolist() == exit_index
    assert oracle.correct.tolist() == correct
    assert oracle.overthinking == pytest.approx(overthinking / len(y))
    # the oracle is at least as accurate as any single exit
    for z in logits:
        assert oracle.correct.float().mean() >= (z.argmax(dim=1) == y).float().mean()


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("exits", [2, 3, 4])
def test_no_exit_assignment_reaches_the_oracles_accuracy_for_less(seed, exits):
    """Every way of sending 7 samples to the exits (exits ** 7 assignments): none is more
    accurate than the oracle, and none that is as accurate costs less on average."""
    n = 7
    logits, y, costs = _random_case(1000 * exits + seed, exits, n, k=3)
    right = torch.stack([z.argmax(dim=1) == y for z in logits])  # (exits, n)
    assignments = torch.tensor(list(itertools.product(range(exits), repeat=n)))  # (exits ** n, n)
    accuracy = right[assignments, torch.arange(n)].double().mean(dim=1)
    mean_cost = costs[assignments].mean(dim=1)

    oracle = oracle_exits(logits, y)
    oracle_accuracy = oracle.correct.double().mean()
    oracle_cost = costs[oracle.exit_index].mean()
    assert torch.equal(oracle.correct, right[oracle.exit_index, torch.arange(n)])  # its accuracy is real
    assert accuracy.max() == oracle_accuracy, "the oracle reaches the best accuracy of any assignment"
    as_accurate = accuracy >= oracle_accuracy
    assert mean_cost[as_accurate].min() == pytest.approx(oracle_cost.item(), abs=1e-12)
    assert (mean_cost[as_accurate] >= oracle_cost - 1e-12).all()


def test_the_brute_force_sees_samples_no_exit_gets_right():
    """The cases above include samples that every exit gets wrong (where the oracle's
    choice of exit matters for its cost), and not only such samples."""
    never, some = 0, 0
    for exits in (2, 3, 4):
        for seed in range(6):
            logits, y, _ = _random_case(1000 * exits + seed, exits, 7, k=3)
            right = torch.stack([z.argmax(dim=1) == y for z in logits]).any(dim=0)
            never, some = never + int((~right).sum()), some + int(right.sum())
    assert never >= 10 and some >= 10


def test_sending_never_right_samples_to_the_last_exit_is_not_the_least_cost():
    """The bound needs the cheapest exit for hopeless samples: the final exit costs more at
    the same accuracy."""
    y = torch.tensor([0, 1])
    logits = [_onehot_logits([0, 0], 2), _onehot_logits([1, 0], 2), _onehot_logits([1, 0], 2)]
    costs = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    oracle = oracle_exits(logits, y)
    assert oracle.exit_index.tolist() == [0, 0]
    to_the_end = torch.tensor([0, 2])  # the same accuracy (1 of 2)
    assert costs[oracle.exit_index].mean() < costs[to_the_end].mean()


@pytest.mark.parametrize("rule", [MaxSoftmax(), Entropy(), Margin()], ids=lambda r: type(r).__name__)
@pytest.mark.parametrize("seed", range(3))
def test_no_threshold_rule_beats_the_oracle(rule, seed):
    """Threshold rules on random logits, with thresholds at every pair of score quantiles:
    none is more accurate than the oracle, none at its accuracy is cheaper."""
    logits, y, costs = _random_case(seed, 3, 400, k=4)
    oracle = oracle_exits(logits, y)
    oracle_accuracy = oracle.correct.double().mean()
    oracle_cost = costs[oracle.exit_index].mean()
    levels = torch.linspace(0, 1, 21, dtype=torch.float64)
    quantiles = [torch.quantile(rule.score(z).double(), levels).tolist() for z in logits[:2]]
    seen_cheaper = False
    for t0, t1 in itertools.product(quantiles[0] + [-1e9, 1e9], quantiles[1] + [-1e9, 1e9]):
        pred, ex = simulate_exits(logits, rule, [t0, t1])
        accuracy = (pred == y).double().mean()
        cost = costs[ex].mean()
        assert accuracy <= oracle_accuracy
        if accuracy == oracle_accuracy:
            assert cost >= oracle_cost - 1e-12
        seen_cheaper |= bool(cost < oracle_cost)
    assert seen_cheaper, "some rules are cheaper than the oracle, at a lower accuracy"
