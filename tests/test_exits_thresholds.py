"""Thresholds chosen on validation: brute force over every cut, ties, entropy, exit by exit."""

import math

import pytest
import torch

from xaiexit.exits import (
    Entropy,
    Margin,
    MaxSoftmax,
    choose_threshold,
    choose_thresholds,
    predict_with_exits,
    simulate_exits,
)
from xaiexit.models import EarlyExitCNN


def _leaving(scores, threshold, higher_is_surer):
    return scores >= threshold if higher_is_surer else scores <= threshold


def _brute_force_most_leaving(scores, correct, target, higher_is_surer):
    """Try every threshold (each distinct score, and one nobody meets): the most samples that can
    leave with an accuracy >= target among them."""
    best = 0
    for t in scores.unique().tolist():
        leave = _leaving(scores, t, higher_is_surer)
        if correct[leave].double().mean().item() >= target:
            best = max(best, int(leave.sum()))
    return best


def _random_case(seed, n=60):
    g = torch.Generator().manual_seed(seed)
    scores = torch.randint(0, 12, (n,), generator=g).float() / 12  # many ties
    # surer samples are more often right
    correct = torch.rand(n, generator=g) < 0.3 + 0.7 * scores
    return scores, correct


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("target", [0.5, 0.7, 0.85, 0.95, 1.0])
@pytest.mark.parametrize("higher_is_surer", [True, False])
def test_choose_threshold_against_brute_force(seed, target, higher_is_surer):
    scores, correct = _random_case(seed)
    if not higher_is_surer:
        scores = 1 - scores  # an entropy-like score: low is sure, same ranking
    threshold = choose_threshold(scores, correct, target, higher_is_surer)
    leave = _leaving(scores, threshold, higher_is_surer)
    assert int(leave.sum()) == _brute_force_most_leaving(scores, correct, target, higher_is_surer)
    if leave.any():
        assert correct[leave].double().mean().item() >= target
        assert threshold in scores.tolist(), "a threshold on a score: the cut never splits a run of ties"
    else:
        assert threshold == (math.inf if higher_is_surer else -math.inf)


def test_low_is_sure_is_the_mirror_image():
    scores, correct = _random_case(11)
    for target in (0.6, 0.8, 0.9):
        assert choose_threshold(-scores, correct, target, higher_is_surer=False) == -choose_threshold(
            scores, correct, target
        )


def test_the_docstring_case_by_hand():
    scores = torch.tensor([1.0, 0.875, 0.75, 0.5, 0.25])
    correct = torch.tensor([True, True, False, True, False])
    # leaving top 1, 2, 3, 4, 5: accuracy 1, 1, 2/3, 3/4, 3/5
    assert choose_threshold(scores, correct, 0.75) == 0.5
    assert choose_threshold(scores, correct, 0.8) == 0.875
    assert choose_threshold(scores, correct, 0.6) == 0.25
    assert choose_threshold(scores, correct, 0.0) == 0.25, "target 0: everyone leaves"


def test_never_cut_between_equal_scores():
    scores = torch.tensor([0.875, 0.75, 0.75, 0.75, 0.125])  # exact in binary
    correct = torch.tensor([True, True, False, False, True])
    # leaving the 0.875 and one 0.75 would be 2/2 right, but a threshold cannot separate the 0.75s:
    # >= 0.75 lets all three go (2/4 right), so for 0.75 only the 0.875 leaves
    assert choose_threshold(scores, correct, 0.75) == 0.875
    assert choose_threshold(scores, correct, 0.5) == 0.125  # all five: 3/5 right
    # the same with entropy-like scores (low is sure), in any order
    order = torch.tensor([3, 0, 4, 2, 1])
    assert choose_threshold(1 - scores[order], correct[order], 0.75, higher_is_surer=False) == 0.125


def test_impossible_targets_let_nobody_leave():
    scores = torch.tensor([0.9, 0.7, 0.6])
    wrong = torch.zeros(3, dtype=torch.bool)
    assert choose_threshold(scores, wrong, 0.5) == math.inf
    assert choose_threshold(scores, wrong, 0.5, higher_is_surer=False) == -math.inf
    assert choose_threshold(scores, torch.ones(3, dtype=torch.bool), 1.01) == math.inf
    assert not MaxSoftmax().exits(torch.tensor([[0.0, 50.0]]), math.inf).any()
    assert not Entropy().exits(torch.tensor([[0.0, 50.0]]), -math.inf).any()
    # no samples at all: nobody leaves
    assert choose_threshold(torch.zeros(0), torch.zeros(0, dtype=torch.bool), 0.5) == math.inf
    with pytest.raises(ValueError, match="3 scores but 2 correct"):
        choose_threshold(scores, wrong[:2], 0.5)


# ----------------------------------------------------------- choose_thresholds
def _validation_logits(seed, n=400, k=4, exits=3):
    """Later exits are more accurate: logits = signal * onehot(y) + noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, k, (n,), generator=g)
    logits = [
        (0.8 + 0.8 * e) * torch.nn.functional.one_hot(y, k) + torch.randn(n, k, generator=g) for e in range(exits)
    ]
    return logits, y


@pytest.mark.parametrize("rule", [MaxSoftmax(), Entropy(), Margin()], ids=lambda r: r.name)
@pytest.mark.parametrize("temperatures", [None, [2.0, 0.5, 1.0]], ids=["T=1", "T"])
def test_thresholds_are_chosen_exit_by_exit_on_the_samples_left(rule, temperatures):
    logits, y = _validation_logits(seed=3)
    target = 0.9
    thresholds = choose_thresholds(logits, y, rule, target, temperatures)
    assert len(thresholds) == 2 and all(isinstance(t, float) for t in thresholds)
    temps = temperatures or [1.0, 1.0, 1.0]
    _, exit_index = simulate_exits(logits, rule, thresholds, temperatures)
    remaining = torch.ones(len(y), dtype=torch.bool)
    for k in range(2):
        z = logits[k][remaining] / temps[k]
        correct = z.argmax(dim=1) == y[remaining]
        scores = rule.score(z)
        # exit k lets leave the most samples still there that it can, at the target accuracy
        most = _brute_force_most_leaving(scores, correct, target, rule.higher_is_surer)
        assert int((exit_index == k).sum()) == most
        assert most > 0, "the case is meant to let some samples leave at every side exit"
        # and those leaving are accurate enough (on the data the thresholds were chosen on)
        leaving = exit_index == k
        assert (logits[k][leaving].argmax(dim=1) == y[leaving]).double().mean().item() >= target
        remaining &= exit_index != k


def test_choosing_on_the_remaining_samples_is_not_choosing_on_all():
    """At exit 1 the samples that left at exit 0 (the easy ones) are gone; a threshold fitted on all
    samples would differ. The chosen one equals choose_threshold on the samples left."""
    logits, y = _validation_logits(seed=5)
    rule, target = MaxSoftmax(), 0.9
    thresholds = choose_thresholds(logits, y, rule, target)
    stay = ~rule.exits(logits[0], thresholds[0])
    z = logits[1][stay]
    assert thresholds[1] == choose_threshold(rule.score(z), z.argmax(1) == y[stay], target)
    assert stay.sum() < len(y)


def test_an_unreachable_target_keeps_everyone_to_the_final_exit():
    logits, y = _validation_logits(seed=4)
    thresholds = choose_thresholds(logits, y, MaxSoftmax(), 1.01)
    assert thresholds == [math.inf, math.inf]
    predictions, exit_index = simulate_exits(logits, MaxSoftmax(), thresholds)
    assert (exit_index == 2).all() and torch.equal(predictions, logits[2].argmax(dim=1))
    assert choose_thresholds(logits, y, Entropy(), 1.01) == [-math.inf, -math.inf]


@torch.no_grad()
def test_thresholds_from_a_model_keep_the_target_when_it_really_stops():
    torch.manual_seed(0)
    model = EarlyExitCNN(in_channels=1, num_classes=2, widths=(4, 8, 8), exits_after=(1, 2), branch_width=4).eval()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(64, 1, 16, 16, generator=g)
    y = torch.randint(0, 2, (64,), generator=g)
    logits = model(x)
    thresholds = choose_thresholds(logits, y, MaxSoftmax(), 0.75)
    _, sim_exit = simulate_exits(logits, MaxSoftmax(), thresholds)
    for k in range(2):
        leaving = sim_exit == k
        if leaving.any():
            assert (logits[k][leaving].argmax(1) == y[leaving]).double().mean() >= 0.75
    # predict_with_exits runs the same model on the same images; the scores of the samples that go on
    # are recomputed on a smaller batch and may differ in the last bits, so compare what cannot flip
    predictions, exit_index = predict_with_exits(model, x, MaxSoftmax(), thresholds)
    assert torch.equal(exit_index == 0, sim_exit == 0), "exit 0 sees the full batch: identical decisions"
    assert ((exit_index >= 0) & (exit_index <= 2)).all()
