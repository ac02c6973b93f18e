"""ECE against torchmetrics and by hand; reliability bins by brute force; temperature scaling."""

import math

import pytest
import torch
import torch.nn.functional as F
from torchmetrics.classification import MulticlassCalibrationError

from xaiexit.exits import expected_calibration_error, fit_temperature, reliability


def _random_probs(n, k, seed, scale=2.0):
    g = torch.Generator().manual_seed(seed)
    probs = torch.softmax(scale * torch.randn(n, k, generator=g, dtype=torch.float64), dim=1)
    y = torch.randint(0, k, (n,), generator=g)
    return probs, y


def _sample_labels(probs, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.multinomial(probs, 1, generator=g).squeeze(1)


@pytest.mark.parametrize("k,n_bins", [(2, 15), (3, 15), (10, 15), (2, 10), (3, 7), (10, 20), (3, 1)])
def test_ece_matches_torchmetrics(k, n_bins):
    probs, y = _random_probs(500, k, seed=k * 31 + n_bins)
    # mix in some right answers so that the bins' accuracies vary
    y = torch.where(torch.arange(500) % 3 == 0, probs.argmax(dim=1), y)
    # torchmetrics bins confidences as [lo, hi), this course as Guo et al.'s (lo, hi]: the two agree
    # unless a confidence sits exactly on an edge, which random probabilities do not
    # (torchmetrics bins in float32, so check float32 too)
    for dtype in (torch.float64, torch.float32):
        edges = torch.linspace(0, 1, n_bins + 1, dtype=dtype)
        assert not torch.isin(probs.max(dim=1).values.to(dtype), edges).any()
    metric = MulticlassCalibrationError(num_classes=k, n_bins=n_bins, norm="l1")
    expected = metric(probs, y).item()
    # torchmetrics sums in float32 (about 7 digits), this course in float64
    assert expected_calibration_error(probs, y, n_bins=n_bins) == pytest.approx(expected, abs=1e-6)
    assert expected_calibration_error(probs.float(), y, n_bins=n_bins) == pytest.approx(expected, abs=1e-6)


def test_ece_by_hand():
    probs = torch.tensor([[0.85, 0.15], [0.85, 0.15], [0.35, 0.65], [0.65, 0.35], [0.65, 0.35]])
    y = torch.tensor([0, 1, 1, 0, 1])
    # bin (0.8, 0.9]: 2 samples, confidence 0.85, accuracy 1/2; bin (0.6, 0.7]: 3 samples, 0.65, 2/3
    expected = 2 / 5 * abs(0.5 - 0.85) + 3 / 5 * abs(2 / 3 - 0.65)
    assert expected_calibration_error(probs, y, n_bins=10) == pytest.approx(expected)
    # one bin: |overall accuracy - mean confidence|
    assert expected_calibration_error(probs, y, n_bins=1) == pytest.approx(abs(3 / 5 - (2 * 0.85 + 3 * 0.65) / 5))
    # always right with confidence 1: perfectly calibrated
    assert expected_calibration_error(torch.eye(3), torch.arange(3)) == 0.0


def test_a_confidence_on_an_edge_belongs_to_the_bin_below():
    """Guo et al.'s bins are (lo, hi]: 0.25, 0.5, 0.75, 1 each close one of 4 bins."""
    probs = torch.tensor([[0.25, 0.25, 0.25, 0.25], [0.5, 0.5, 0.0, 0.0], [0.75, 0.25, 0.0, 0.0], [1.0, 0, 0, 0]])
    bins = reliability(probs, torch.zeros(4, dtype=torch.long), n_bins=4)
    assert bins.count.tolist() == [1, 1, 1, 1]
    assert bins.confidence.tolist() == [0.25, 0.5, 0.75, 1.0]
    assert bins.edges.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]


@pytest.mark.parametrize("n_bins", [15, 4])
def test_reliability_against_brute_force(n_bins):
    probs, y = _random_probs(300, 4, seed=n_bins)
    y = torch.where(torch.arange(300) % 2 == 0, probs.argmax(dim=1), y)
    bins = reliability(probs, y, n_bins=n_bins)
    assert bins.count.sum() == 300
    assert bins.edges.shape == (n_bins + 1,) and len(bins.count) == n_bins
    confidence, predicted = probs.max(dim=1)
    for b in range(n_bins):
        inside = (confidence > b / n_bins) & (confidence <= (b + 1) / n_bins)
        assert bins.count[b] == inside.sum()
        if inside.any():
            assert bins.confidence[b].item() == pytest.approx(confidence[inside].mean().item())
            assert bins.accuracy[b].item() == pytest.approx((predicted == y)[inside].double().mean().item())
        else:
            assert bins.confidence[b] == 0 and bins.accuracy[b] == 0


def test_reliability_errors_name_the_fix():
    with pytest.raises(ValueError, match="one row per label"):
        reliability(torch.full((4, 2), 0.5), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="n_bins"):
        reliability(torch.full((4, 2), 0.5), torch.zeros(4, dtype=torch.long), n_bins=0)


def test_calibrated_data_have_a_small_ece_and_overconfident_data_a_large_one():
    n, n_bins = 20_000, 15
    g = torch.Generator().manual_seed(0)
    logits = 2.0 * torch.randn(n, 4, generator=g, dtype=torch.float64)
    probs = torch.softmax(logits, dim=1)
    y = _sample_labels(probs, seed=1)  # labels drawn from the predicted probabilities: calibrated
    # E|acc_b - conf_b| <= sqrt(Var acc_b) <= sqrt(1 / (4 n_b)), so
    # E[ECE] <= sum_b (n_b / N) / (2 sqrt(n_b)) <= sqrt(n_bins / N) / 2 (Cauchy-Schwarz): 0.0137 here
    bound = math.sqrt(n_bins / n) / 2
    assert expected_calibration_error(probs, y, n_bins) < 2 * bound
    bins = reliability(probs, y, n_bins)
    big = bins.count >= 200
    assert big.sum() >= 5
    sigma = (bins.confidence * (1 - bins.confidence) / bins.count.clamp_min(1)).sqrt()
    assert ((bins.accuracy - bins.confidence).abs()[big] < 4 * sigma[big]).all()
    # the same predictions but labels drawn at T = 3: the model is overconfident
    y_hot = _sample_labels(torch.softmax(logits / 3, dim=1), seed=2)
    assert expected_calibration_error(probs, y_hot, n_bins) > 4 * bound


# ---------------------------------------------------------------- temperature
def _tempered_data(n, k, t0, seed):
    """Logits z and labels drawn from softmax(z / t0)."""
    g = torch.Generator().manual_seed(seed)
    z = 2.0 * torch.randn(n, k, generator=g, dtype=torch.float64)
    return z, _sample_labels(torch.softmax(z / t0, dim=1), seed + 1)


def _nll(z, y, t):
    return F.cross_entropy(z.double() / t, y).item()


def _nll_grid(z, y, temperatures):
    """NLL at each temperature, from the definition: mean of -ln softmax(z / T)_y."""
    log_p = torch.log_softmax(z.double()[None] / temperatures[:, None, None], dim=2)  # (G, N, K)
    return -log_p[:, torch.arange(len(y)), y].mean(dim=1)


@pytest.mark.parametrize("t0", [2.5, 0.5])
def test_fit_temperature_recovers_the_temperature_the_data_were_drawn_at(t0):
    n = 3000
    z, y = _tempered_data(n, 5, t0, seed=int(t0 * 10))
    t = fit_temperature(z.float(), y)
    assert isinstance(t, float) and t > 0
    # maximum likelihood in beta = 1 / T: the Fisher information per sample is Var_p(z) with
    # p = softmax(beta z), so sd(beta_hat) ~ 1 / sqrt(sum_i Var_{p_i}(z_i)); allow 4 sd
    p = torch.softmax(z / t0, dim=1)
    var = (p * z**2).sum(1) - (p * z).sum(1) ** 2
    sd = 1 / math.sqrt(var.sum().item())
    assert abs(1 / t - 1 / t0) < 4 * sd, (t, t0, sd)


def test_temperature_scaling_lowers_validation_nll_and_is_the_grid_minimum():
    z_val, y_val = _tempered_data(2000, 4, 2.0, seed=3)  # an overconfident model: logits too large
    z_test, y_test = _tempered_data(2000, 4, 2.0, seed=5)
    t = fit_temperature(z_val, y_val)
    assert _nll(z_val, y_val, t) < _nll(z_val, y_val, 1.0)
    assert _nll(z_test, y_test, t) < _nll(z_test, y_test, 1.0), "and on data it was not fitted on"
    assert expected_calibration_error(torch.softmax(z_test / t, 1), y_test) < expected_calibration_error(
        torch.softmax(z_test, 1), y_test
    )
    # brute force: the NLL over a fine grid of temperatures, 0.1 to 10
    log_grid = torch.linspace(math.log(0.1), math.log(10.0), 2001, dtype=torch.float64)
    nll = torch.cat([_nll_grid(z_val, y_val, chunk.exp()) for chunk in log_grid.split(250)])
    torch.testing.assert_close(nll[1000].item(), _nll(z_val, y_val, 1.0))  # the grid's T = 1
    best = int(nll.argmin())
    assert _nll(z_val, y_val, t) <= nll[best].item() + 1e-10
    assert abs(math.log(t) - log_grid[best].item()) <= (log_grid[1] - log_grid[0]).item()
    # predictions do not change
    assert torch.equal((z_val / t).argmax(dim=1), z_val.argmax(dim=1))


def test_fit_temperature_leaves_calibrated_logits_near_1_and_inputs_untouched():
    z, y = _tempered_data(4000, 3, 1.0, seed=7)
    z = z.float().requires_grad_()
    before = z.detach().clone()
    t = fit_temperature(z, y)
    p = torch.softmax(before.double(), dim=1)
    sd = 1 / math.sqrt(((p * before.double() ** 2).sum(1) - (p * before.double()).sum(1) ** 2).sum().item())
    assert abs(1 / t - 1) < 4 * sd
    assert torch.equal(z.detach(), before) and z.grad is None
