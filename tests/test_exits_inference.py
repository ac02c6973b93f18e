"""predict_with_exits really stops, and decides as simulate_exits and one-by-one runs do."""

import pytest
import torch

from xaiexit.exits import Entropy, Margin, MaxSoftmax, entropy_score, predict_with_exits, simulate_exits
from xaiexit.models import EarlyExitCNN

N = 37


def _model(seed=0):
    torch.manual_seed(seed)
    model = EarlyExitCNN(in_channels=1, num_classes=4, widths=(4, 8, 8), exits_after=(1, 2), branch_width=4)
    return model.eval()


def _x(n=N, seed=1):
    return torch.randn(n, 1, 16, 16, generator=torch.Generator().manual_seed(seed))


def _gap_threshold(scores, low=0.25, high=0.75):
    """A threshold in the widest gap between consecutive sorted scores of the middle quantiles:
    far from every score, so float noise between batch sizes cannot flip a decision."""
    s = scores.double().sort().values
    lo, hi = int(low * (len(s) - 1)), int(high * (len(s) - 1))
    i = lo + int((s[lo + 1 : hi + 1] - s[lo:hi]).argmax())
    return float((s[i] + s[i + 1]) / 2)


@torch.no_grad()
def _thresholds(model, x, rule):
    """One threshold per side exit, each splitting the samples still there: every exit is used."""
    logits = model(x)
    remaining = torch.ones(len(x), dtype=torch.bool)
    thresholds = []
    for z in logits[:-1]:
        t = _gap_threshold(rule.score(z[remaining]))
        thresholds.append(t)
        remaining &= ~rule.exits(z, t)
    return thresholds


@pytest.mark.parametrize("rule", [MaxSoftmax(), Entropy(), Margin()], ids=lambda r: r.name)
def test_batch_equals_one_sample_at_a_time_and_the_simulation(rule):
    model, x = _model(), _x()
    thresholds = _thresholds(model, x, rule)
    predictions, exit_index = predict_with_exits(model, x, rule, thresholds)
    # nothing lost or duplicated while the batch shrinks: one prediction and one exit each
    assert predictions.shape == exit_index.shape == (N,)
    assert (predictions >= 0).all() and (predictions < 4).all()
    assert (exit_index >= 0).all() and (exit_index < 3).all()
    assert torch.bincount(exit_index, minlength=3).min() > 0, "the thresholds should use every exit"
    one_by_one = [predict_with_exits(model, x[i : i + 1], rule, thresholds) for i in range(N)]
    assert torch.equal(predictions, torch.cat([p for p, _ in one_by_one]))
    assert torch.equal(exit_index, torch.cat([e for _, e in one_by_one]))
    with torch.no_grad():
        logits = model(x)
    sim_predictions, sim_exit = simulate_exits(logits, rule, thresholds)
    assert torch.equal(predictions, sim_predictions) and torch.equal(exit_index, sim_exit)
    # the prediction is the argmax of the exit where the sample left
    for i in range(N):
        assert predictions[i] == logits[exit_index[i]][i].argmax()


def _record_batch_sizes(model):
    seen = {}
    for name in ["features.block1", "features.block2", "features.block3", "exits.exit1", "exits.exit2", "exits.exit3"]:
        model.get_submodule(name).register_forward_hook(
            lambda m, args, out, name=name: seen.setdefault(name, []).append(len(args[0]))
        )
    return seen


def test_samples_that_left_are_not_run_any_further():
    model, x, rule = _model(), _x(), MaxSoftmax()
    thresholds = _thresholds(model, x, rule)
    seen = _record_batch_sizes(model)
    _, exit_index = predict_with_exits(model, x, rule, thresholds)
    left0, left1 = int((exit_index == 0).sum()), int((exit_index == 1).sum())
    assert seen == {
        "features.block1": [N],
        "exits.exit1": [N],
        "features.block2": [N - left0],
        "exits.exit2": [N - left0],
        "features.block3": [N - left0 - left1],
        "exits.exit3": [N - left0 - left1],
    }


@pytest.mark.parametrize(
    "rule,stay",
    [(MaxSoftmax(), 1.01), (Margin(), float("inf")), (Entropy(), -1.0)],
    ids=["max softmax", "margin", "entropy"],
)
def test_thresholds_nobody_meets_send_everyone_to_the_final_exit(rule, stay):
    model, x = _model(), _x()
    predictions, exit_index = predict_with_exits(model, x, rule, [stay, stay])
    with torch.no_grad():
        final = model(x)[-1]
    assert (exit_index == 2).all()
    assert torch.equal(predictions, final.argmax(dim=1))


@pytest.mark.parametrize(
    "rule,go",
    [(MaxSoftmax(), 0.0), (Margin(), 0.0), (Entropy(), float("inf"))],
    ids=["max softmax", "margin", "entropy"],
)
def test_thresholds_everyone_meets_stop_everyone_at_exit_0(rule, go):
    model, x = _model(), _x()
    seen = _record_batch_sizes(model)
    predictions, exit_index = predict_with_exits(model, x, rule, [go, go])
    assert seen == {"features.block1": [N], "exits.exit1": [N]}, "nothing after exit 0 runs"
    with torch.no_grad():
        first = model.exits.exit1(model.features.block1(x))
    assert (exit_index == 0).all()
    assert torch.equal(predictions, first.argmax(dim=1))


def test_train_or_eval_mode_is_restored_and_bn_statistics_untouched():
    model, x = _model(), _x()
    thresholds = _thresholds(model, x, MaxSoftmax())
    model.train()
    stats = {k: v.clone() for k, v in model.state_dict().items()}
    predict_with_exits(model, x, MaxSoftmax(), thresholds)
    assert all(m.training for m in model.modules())
    for k, v in model.state_dict().items():
        assert torch.equal(v, stats[k]), f"{k} changed: the inference must run in eval mode"
    model.eval()
    predict_with_exits(model, x, MaxSoftmax(), thresholds)
    assert not any(m.training for m in model.modules())


def test_temperatures_change_who_leaves_as_expected():
    model, x, rule = _model(), _x(), MaxSoftmax()
    thresholds = _thresholds(model, x, rule)
    with torch.no_grad():
        logits = model(x)
    _, base = predict_with_exits(model, x, rule, thresholds)
    # a hotter exit 0 is less sure (max softmax does not grow with T): a subset of its samples leave
    _, hot = predict_with_exits(model, x, rule, thresholds, temperatures=[3.0, 1.0, 1.0])
    expected_leave = rule.score(logits[0] / 3.0) >= thresholds[0]
    assert torch.equal(hot == 0, expected_leave)
    assert ((hot == 0) <= (base == 0)).all() and (hot == 0).sum() < (base == 0).sum()
    # a colder exit 0 is surer: a superset leaves
    _, cold = predict_with_exits(model, x, rule, thresholds, temperatures=[0.25, 1.0, 1.0])
    assert ((base == 0) <= (cold == 0)).all() and (cold == 0).sum() > (base == 0).sum()
    # the same as simulating with the same temperatures
    for temperatures in ([3.0, 1.0, 1.0], [0.25, 2.0, 1.0]):
        a = predict_with_exits(model, x, rule, thresholds, temperatures=temperatures)
        b = simulate_exits(logits, rule, thresholds, temperatures=temperatures)
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    # the final exit's temperature decides nothing (its argmax does not depend on it)
    predictions, exit_index = predict_with_exits(model, x, rule, thresholds)
    hot_final = predict_with_exits(model, x, rule, thresholds, temperatures=[1.0, 1.0, 50.0])
    assert torch.equal(predictions, hot_final[0]) and torch.equal(exit_index, hot_final[1])


def test_wrong_number_of_thresholds_or_temperatures_raises():
    model, x = _model(), _x(4)
    with pytest.raises(ValueError, match=r"one per side exit \(2\)"):
        predict_with_exits(model, x, MaxSoftmax(), [0.9])
    with pytest.raises(ValueError, match=r"one per side exit \(2\)"):
        predict_with_exits(model, x, MaxSoftmax(), [0.9, 0.9, 0.9])
    with pytest.raises(ValueError, match="one per exit"):
        predict_with_exits(model, x, MaxSoftmax(), [0.9, 0.9], temperatures=[1.0, 1.0])
    logits = [torch.zeros(4, 2)] * 3
    with pytest.raises(ValueError, match="one per side exit"):
        simulate_exits(logits, MaxSoftmax(), [0.9])


def _simulate_by_brute_force(logits, rule, thresholds, temperatures):
    """Sample by sample, exit by exit: leave at the first side exit whose rule says so."""
    n, last = len(logits[0]), len(logits) - 1
    predictions, exit_index = [], []
    for i in range(n):
        k = next(
            (k for k in range(last) if bool(rule.exits(logits[k][i : i + 1] / temperatures[k], thresholds[k])[0])), last
        )
        exit_index.append(k)
        predictions.append(int(logits[k][i].argmax()))
    return torch.tensor(predictions), torch.tensor(exit_index)


@pytest.mark.parametrize("rule", [MaxSoftmax(), Entropy(), Margin()], ids=lambda r: r.name)
def test_simulate_exits_against_brute_force(rule):
    g = torch.Generator().manual_seed(2)
    logits = [torch.randn(50, 5, generator=g) * s for s in (1.0, 2.0, 3.0, 4.0)]
    temperatures = [1.5, 0.7, 1.0, 2.0]
    for thresholds in ([0.6, 0.5, 0.4], [0.3, 0.9, 0.1], [0.0, 0.0, 0.0]):
        if isinstance(rule, Entropy):  # entropies of 5 classes lie in [0, ln 5]
            thresholds = [1.6 * (1 - t) for t in thresholds]
        got = simulate_exits(logits, rule, thresholds, temperatures)
        expected = _simulate_by_brute_force(logits, rule, thresholds, temperatures)
        assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])


def test_simulate_exits_docstring_case_by_hand():
    # exit 0: softmax([3, 0]) max = 0.953 >= 0.9 leaves with class 0; softmax([0.1, 0]) = 0.525 stays
    logits = [torch.tensor([[3.0, 0.0], [0.1, 0.0]]), torch.tensor([[0.0, 1.0], [0.0, 1.0]])]
    predictions, exit_index = simulate_exits(logits, MaxSoftmax(), [0.9])
    assert predictions.tolist() == [0, 1] and exit_index.tolist() == [0, 1]
    # with entropy: H([3, 0]) = 0.194 <= 0.5 leaves, H([0.1, 0]) = 0.692 stays
    assert float(entropy_score(logits[0])[0]) < 0.5 < float(entropy_score(logits[0])[1])
    predictions, exit_index = simulate_exits(logits, Entropy(), [0.5])
    assert predictions.tolist() == [0, 1] and exit_index.tolist() == [0, 1]


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_runs_on_every_available_device(device):
    model, x, rule = _model().to(device), _x().to(device), Entropy()
    thresholds = _thresholds(model, x, rule)
    predictions, exit_index = predict_with_exits(model, x, rule, thresholds)
    assert predictions.device.type == exit_index.device.type == device
    with torch.no_grad():
        logits = model(x)
    sim_predictions, sim_exit = simulate_exits(logits, rule, thresholds)
    assert torch.equal(predictions.cpu(), sim_predictions) and torch.equal(exit_index.cpu(), sim_exit)
