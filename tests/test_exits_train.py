"""fit / evaluate / predict on a model with several exits, with the joint early-exit loss."""

from functools import partial

import pytest
import torch

from xaiexit.exits import early_exit_loss
from xaiexit.models import EarlyExitCNN
from xaiexit.train import History, evaluate, fit, predict


def _toy(n=48, seed=0):
    """Bright-left vs bright-right 16x16 images."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 16, 16, generator=g) * 0.2
    y = torch.arange(n) % 2
    x[y == 0, :, :, :8] += 0.8
    x[y == 1, :, :, 8:] += 0.8
    return x, y


def _model():
    torch.manual_seed(0)
    return EarlyExitCNN(in_channels=1, num_classes=2, widths=(4, 8), exits_after=(1,), branch_width=4)


def test_fit_with_the_early_exit_loss_records_the_final_exit():
    model = _model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    val = _toy(24, seed=1)
    history = fit(
        model, _toy(), val, epochs=1, lr=1e-2, batch_size=16, device="cpu", progress=False, loss=early_exit_loss
    )
    assert isinstance(history, History) and history.epochs == 1
    assert all(len(curve) == 1 for curve in history.as_dict().values())
    assert not model.training
    # the side exit was trained too: the joint loss reaches it
    for name in ("exits.exit1.classifier.weight", "exits.exit2.classifier.weight", "features.block1.0.weight"):
        assert not torch.equal(model.state_dict()[name], before[name]), name
    # after the only epoch the validation numbers are those of the final model, by hand
    with torch.no_grad():
        logits = model(val[0])
    assert history.val_accuracy[0] == pytest.approx((logits[-1].argmax(1) == val[1]).double().mean().item())
    assert history.val_loss[0] == pytest.approx(early_exit_loss(logits, val[1]).item(), rel=1e-5)


def test_evaluate_and_predict_with_a_list_of_exits():
    model = _model().train()
    x, y = _toy(40)
    weighted = partial(early_exit_loss, weights=[0.25, 1.0])
    result = evaluate(model, (x, y), batch_size=64, loss=weighted)
    with torch.no_grad():
        model.eval()
        logits = model(x)
        model.train()
    assert model.training
    assert result["n"] == 40
    assert result["accuracy"] == pytest.approx((logits[-1].argmax(1) == y).double().mean().item())
    expected = 0.25 * torch.nn.functional.cross_entropy(logits[0], y) + torch.nn.functional.cross_entropy(logits[1], y)
    assert result["loss"] == pytest.approx(expected.item(), rel=1e-5)
    out = predict(model, x, batch_size=7)
    assert isinstance(out, list) and len(out) == 2
    for got, want in zip(out, logits):
        assert got.shape == (40, 2)
        torch.testing.assert_close(got, want)
    assert model.training


def test_fit_without_a_loss_for_the_exits_names_the_fix():
    with pytest.raises(TypeError, match="early_exit_loss"):
        fit(_model(), _toy(16), epochs=1, device="cpu", progress=False)
