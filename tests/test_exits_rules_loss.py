"""Exit rules' scores against their formulas, and the joint early-exit loss by hand."""

import math

import pytest
import torch
import torch.nn.functional as F

import xaiexit.exits as exits
from xaiexit.exits import (
    Entropy,
    ExitRule,
    Margin,
    MaxSoftmax,
    early_exit_loss,
    entropy_score,
    margin_score,
    max_softmax_score,
)


def test_public_names():
    for name in exits.__all__:
        assert getattr(exits, name) is not None
    for rule in (MaxSoftmax(), Entropy(), Margin()):
        assert isinstance(rule, ExitRule)


def _logits(n=40, k=5, scale=3.0, seed=0):
    return scale * torch.randn(n, k, generator=torch.Generator().manual_seed(seed))


def _probs_by_hand(z):
    e = z.double().exp()
    return e / e.sum(dim=1, keepdim=True)


@pytest.mark.parametrize("k", [2, 3, 10])
def test_scores_match_the_formulas(k):
    z = _logits(k=k)
    p = _probs_by_hand(z)
    torch.testing.assert_close(max_softmax_score(z).double(), p.max(dim=1).values)
    torch.testing.assert_close(entropy_score(z).double(), -(p * p.log()).sum(dim=1))
    top = p.sort(dim=1, descending=True).values
    torch.testing.assert_close(margin_score(z).double(), top[:, 0] - top[:, 1])
    # the ranges the docstrings promise
    assert (max_softmax_score(z) >= 1 / k - 1e-6).all() and (max_softmax_score(z) <= 1).all()
    assert (entropy_score(z) >= 0).all() and (entropy_score(z) <= math.log(k) + 1e-6).all()
    assert (margin_score(z) >= 0).all() and (margin_score(z) <= 1).all()


def test_entropy_of_extreme_logits_is_finite():
    inf = float("inf")
    z = torch.tensor([[0.0, 1e4], [1e4, 0.0], [-1e4, 1e4], [1e4, 1e4], [0.0, -inf], [-1e30, 0.0]])
    h = entropy_score(z)
    assert torch.isfinite(h).all()
    torch.testing.assert_close(h, torch.tensor([0.0, 0.0, 0.0, math.log(2), 0.0, 0.0]))
    assert not torch.signbit(h).any(), "a sure sample has entropy +0, not -0"
    assert torch.isfinite(max_softmax_score(z)).all() and torch.isfinite(margin_score(z)).all()


@pytest.mark.parametrize("k", [2, 3, 7])
def test_equal_logits_are_the_least_sure(k):
    z = torch.full((3, k), 2.5)
    torch.testing.assert_close(entropy_score(z), torch.full((3,), math.log(k)))
    torch.testing.assert_close(max_softmax_score(z), torch.full((3,), 1 / k))
    torch.testing.assert_close(margin_score(z), torch.zeros(3))


def test_scores_ignore_a_shift_of_the_logits():
    z = _logits()
    for score in (max_softmax_score, entropy_score, margin_score):
        torch.testing.assert_close(score(z + 7.0), score(z), atol=1e-5, rtol=1e-5)


def test_each_rule_leaves_on_the_right_side_of_its_threshold():
    z = _logits(n=60)
    for rule, score in ((MaxSoftmax(), max_softmax_score), (Margin(), margin_score)):
        s = score(z)
        t = float(s.median())  # one sample sits exactly on the threshold: it leaves
        assert rule.higher_is_surer
        assert torch.equal(rule.score(z), s)
        assert torch.equal(rule.exits(z, t), s >= t)
        assert bool(rule.exits(z, t)[s == t].all())
    rule, h = Entropy(), entropy_score(z)
    t = float(h.median())
    assert not rule.higher_is_surer
    assert torch.equal(rule.exits(z, t), h <= t)
    assert bool(rule.exits(z, t)[h == t].all())
    # a sure sample (low entropy) leaves, an unsure one (equal logits) does not
    decided = Entropy().exits(torch.tensor([[0.0, 20.0], [1.0, 1.0]]), 0.1)
    assert decided.tolist() == [True, False]
    assert MaxSoftmax().exits(torch.tensor([[0.0, 20.0], [1.0, 1.0]]), 0.9).tolist() == [True, False]


def test_rules_want_2d_logits():
    for rule in (MaxSoftmax(), Entropy(), Margin()):
        with pytest.raises(ValueError, match=r"\(B, K\)"):
            rule.score(torch.zeros(4))
        assert repr(rule) == f"{type(rule).__name__}()"


# ----------------------------------------------------------------- loss
def _ce_by_hand(z, y):
    """mean over the batch of -ln softmax(z)_y, from the definition."""
    p = _probs_by_hand(z)
    return -p[torch.arange(len(y)), y].log().mean()


def test_loss_is_the_weighted_sum_of_cross_entropies():
    g = torch.Generator().manual_seed(0)
    logits = [torch.randn(9, 4, generator=g) * s for s in (0.5, 2.0, 4.0)]
    y = torch.randint(0, 4, (9,), generator=g)
    weights = [0.3, 1.0, 2.5]
    loss = early_exit_loss(logits, y, weights)
    expected = sum(w * _ce_by_hand(z, y) for w, z in zip(weights, logits))
    torch.testing.assert_close(loss.double(), expected)
    torch.testing.assert_close(loss, sum(w * F.cross_entropy(z, y) for w, z in zip(weights, logits)))
    assert loss.dim() == 0


def test_default_weights_are_ones_and_gradients_are_weighted():
    g = torch.Generator().manual_seed(1)
    logits = [torch.randn(6, 3, generator=g).requires_grad_() for _ in range(3)]
    y = torch.randint(0, 3, (6,), generator=g)
    torch.testing.assert_close(early_exit_loss(logits, y), early_exit_loss(logits, y, [1.0, 1.0, 1.0]))
    torch.testing.assert_close(early_exit_loss(logits, y).double(), sum(_ce_by_hand(z, y) for z in logits))
    weights = [0.0, 0.5, 2.0]
    early_exit_loss(logits, y, weights).backward()
    for w, z in zip(weights, logits):
        # d CE / d z = (softmax(z) - onehot(y)) / B
        expected = w * (torch.softmax(z.detach(), dim=1) - F.one_hot(y, 3)) / len(y)
        torch.testing.assert_close(z.grad, expected)


def test_loss_errors_name_the_fix():
    y = torch.zeros(4, dtype=torch.long)
    logits = [torch.zeros(4, 2), torch.zeros(4, 2)]
    with pytest.raises(ValueError, match="one weight per exit"):
        early_exit_loss(logits, y, [1.0])
    with pytest.raises(ValueError, match="one weight per exit"):
        early_exit_loss(logits, y, [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="list"):
        early_exit_loss(torch.zeros(4, 2), y)
    with pytest.raises(ValueError, match="non-empty"):
        early_exit_loss([], y)
