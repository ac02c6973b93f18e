"""The oracle exit against a hand case and a brute force over random logits."""

import pytest
import torch

from xaiexit.exits import Oracle, oracle_exits


def _onehot_logits(classes, k=3):
    """Logits whose argmax is the given class of each sample."""
    return 2.0 * torch.nn.functional.one_hot(torch.tensor(classes), k).float()


def test_oracle_by_hand():
    y = torch.tensor([0, 1, 2, 0, 1])
    # predictions per exit:   sample 0  1  2  3  4
    exit0 = _onehot_logits([0, 0, 0, 1, 1])  # right: 0, 4
    exit1 = _onehot_logits([1, 1, 2, 1, 0])  # right: 1, 2
    exit2 = _onehot_logits([1, 1, 1, 1, 0])  # right: 1
    oracle = oracle_exits([exit0, exit1, exit2], y)
    assert isinstance(oracle, Oracle)
    assert oracle.exit_index.tolist() == [0, 1, 1, 2, 0]  # sample 3: no exit is right -> the final one
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
    oracle = oracle_exits([wrong, wrong, wrong], y)
    assert oracle.exit_index.tolist() == [2, 2, 2] and not oracle.correct.any()
    assert oracle.overthinking == 0.0
    oracle = oracle_exits([wrong], y)  # a single exit: the oracle is that exit, nothing to overthink
    assert oracle.exit_index.tolist() == [0, 0, 0] and oracle.overthinking == 0.0


@pytest.mark.parametrize("exits,k", [(2, 2), (4, 3), (5, 10)])
def test_oracle_against_brute_force(exits, k):
    g = torch.Generator().manual_seed(exits * 100 + k)
    n = 300
    y = torch.randint(0, k, (n,), generator=g)
    logits = [
        torch.randn(n, k, generator=g) + 1.5 * e / exits * torch.nn.functional.one_hot(y, k) for e in range(exits)
    ]
    oracle = oracle_exits(logits, y)
    exit_index, correct, overthinking = [], [], 0
    for i in range(n):
        right = [int(z[i].argmax()) == int(y[i]) for z in logits]
        exit_index.append(right.index(True) if any(right) else exits - 1)
        correct.append(any(right))
        overthinking += any(right[:-1]) and not right[-1]
    assert oracle.exit_index.tolist() == exit_index
    assert oracle.correct.tolist() == correct
    assert oracle.overthinking == pytest.approx(overthinking / n)
    # the oracle is at least as accurate as any single exit
    for z in logits:
        assert oracle.correct.float().mean() >= (z.argmax(dim=1) == y).float().mean()
