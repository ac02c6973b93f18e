import pytest
import torch
from torch.utils.data import TensorDataset

from xaiexit.models import SmallCNN
from xaiexit.train import History, evaluate, fit, predict


def _toy(n=96, seed=0):
    """Bright-left vs bright-right images: a small CNN separates them in a few epochs."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 16, 16, generator=g) * 0.2
    y = torch.arange(n) % 2
    x[y == 0, :, :, :8] += 0.8
    x[y == 1, :, :, 8:] += 0.8
    return x, y


def test_fit_records_history_and_learns():
    torch.manual_seed(0)
    model = SmallCNN(in_channels=1, widths=(4, 8))
    history = fit(model, _toy(), _toy(seed=1), epochs=4, lr=1e-2, batch_size=16, progress=False)
    assert isinstance(history, History) and history.epochs == 4
    for curve in history.as_dict().values():
        assert len(curve) == 4
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.val_accuracy[-1] >= 0.9
    assert not model.training, "fit leaves the model in eval mode"


def test_fit_is_repeatable_with_the_same_seed():
    runs = []
    for _ in range(2):
        torch.manual_seed(123)  # model init
        model = SmallCNN(in_channels=1, widths=(4, 8))
        runs.append(fit(model, _toy(), epochs=2, batch_size=16, seed=7, progress=False).train_loss)
    assert runs[0] == runs[1]


def test_evaluate_matches_a_hand_count_and_restores_mode():
    model = SmallCNN(in_channels=1, widths=(4,)).train()
    x, y = _toy(40)
    result = evaluate(model, TensorDataset(x, y), batch_size=7)
    with torch.no_grad():
        model.eval()
        logits = model(x)
        model.train()
    assert result["n"] == 40
    assert result["accuracy"] == pytest.approx((logits.argmax(1) == y).float().mean().item())
    assert result["loss"] == pytest.approx(torch.nn.functional.cross_entropy(logits, y).item(), rel=1e-5)
    assert model.training
    torch.testing.assert_close(predict(model, x, batch_size=9), logits)


def test_empty_and_malformed_data_give_clear_errors():
    model = SmallCNN(in_channels=1, widths=(4,))
    empty = (torch.zeros(0, 1, 16, 16), torch.zeros(0, dtype=torch.long))
    with pytest.raises(ValueError, match="empty"):
        fit(model, empty, epochs=1, progress=False)
    with pytest.raises(ValueError, match="one label per image"):
        fit(model, (torch.zeros(4, 1, 16, 16), torch.zeros(3, dtype=torch.long)), progress=False)
    with pytest.raises(TypeError, match="Dataset"):
        evaluate(model, [1, 2, 3])
    with pytest.raises(ValueError, match="epochs"):
        fit(model, _toy(), epochs=0, progress=False)


def test_explicit_cpu_device():
    model = SmallCNN(in_channels=1, widths=(4,))
    fit(model, _toy(32), epochs=1, device="cpu", progress=False)
    assert next(model.parameters()).device.type == "cpu"


def test_cosine_schedule_ends_near_zero_and_constant_keeps_lr():
    model = SmallCNN(in_channels=1, widths=(4,))
    lrs = []

    class Spy(torch.optim.Adam):
        def step(self, closure=None):
            lrs.append(self.param_groups[0]["lr"])
            return super().step(closure)

    original = torch.optim.Adam
    torch.optim.Adam = Spy
    try:
        fit(model, _toy(32), epochs=3, lr=0.1, batch_size=32, progress=False)
        fit(model, _toy(32), epochs=2, lr=0.1, batch_size=32, schedule=None, progress=False)
    finally:
        torch.optim.Adam = original
    # half cosine from 0.1: epoch e uses 0.1 * (1 + cos(pi * e / 3)) / 2
    import math

    expected = [0.1 * (1 + math.cos(math.pi * e / 3)) / 2 for e in range(3)] + [0.1, 0.1]
    assert lrs == pytest.approx(expected)
    with pytest.raises(ValueError, match="schedule"):
        fit(model, _toy(32), schedule="step", progress=False)


def test_stop_after_runs_the_first_epochs_of_the_longer_run_exactly():
    runs = {}
    for stop_after in (None, 2):
        torch.manual_seed(123)  # model init
        model = SmallCNN(in_channels=1, widths=(4, 8))
        runs[stop_after] = fit(model, _toy(), epochs=5, batch_size=16, seed=7, stop_after=stop_after, progress=False)
    assert runs[2].epochs == 2
    assert runs[2].train_loss == runs[None].train_loss[:2]  # the schedule of 5 epochs, not of 2
    with pytest.raises(ValueError, match="stop_after"):
        fit(model, _toy(), epochs=5, stop_after=6, progress=False)
