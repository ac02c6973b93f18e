"""Is a confidence of 0.9 right 90% of the time? Calibration error and temperature scaling."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F


class Reliability(NamedTuple):
    """Per confidence bin: mean ``confidence``, ``accuracy`` and ``count`` (``(n_bins,)`` each;
    confidence and accuracy are 0 in empty bins), and the bin ``edges`` ``(n_bins + 1,)``."""

    confidence: torch.Tensor
    accuracy: torch.Tensor
    count: torch.Tensor
    edges: torch.Tensor


def reliability(probs: torch.Tensor, y: torch.Tensor, n_bins: int = 15) -> Reliability:
    """Bin the samples by confidence (the largest probability) into equal-width bins.

    Bin ``b`` holds confidences in ``(b / n_bins, (b + 1) / n_bins]``. Plot ``accuracy``
    against ``confidence``: a calibrated model lies on the diagonal.

    Parameters
    ----------
    probs : (N, K) tensor
        Predicted class probabilities (rows add up to 1).
    y : (N,) long tensor
        True labels.
    n_bins : int
        Number of bins (15 as in Guo et al. 2017).
    """
    if probs.dim() != 2 or len(probs) != len(y):
        raise ValueError(f"probs must be (N, K) with one row per label, got {tuple(probs.shape)} and {len(y)} labels")
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    probs, y = probs.detach().double().cpu(), y.cpu()
    confidence, predicted = probs.max(dim=1)
    correct = (predicted == y).double()
    edges = torch.linspace(0, 1, n_bins + 1, dtype=torch.float64)
    # bucketize(right=False) puts v in bin b when edges[b] < v <= edges[b+1]
    index = (torch.bucketize(confidence, edges[1:-1], right=False)).clamp(0, n_bins - 1)
    count = torch.bincount(index, minlength=n_bins).double()
    sum_conf = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, index, confidence)
    sum_acc = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, index, correct)
    safe = count.clamp_min(1)
    return Reliability(sum_conf / safe, sum_acc / safe, count, edges)


def expected_calibration_error(probs: torch.Tensor, y: torch.Tensor, n_bins: int = 15) -> float:
    r"""Expected calibration error (ECE) with equal-width confidence bins.

    .. math:: \mathrm{ECE} = \sum_b \frac{n_b}{N} \, \big|\mathrm{acc}_b - \mathrm{conf}_b\big|

    Parameters
    ----------
    probs : (N, K) tensor
        Predicted class probabilities (e.g. ``softmax(logits / T)``).
    y : (N,) long tensor
        True labels.
    n_bins : int
        Number of bins over (0, 1] (15, as in Guo et al. 2017 and torchmetrics).

    Returns
    -------
    ece : float
        In [0, 1]; 0 for a perfectly calibrated model.

    References
    ----------
    .. [1] C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger, "On Calibration of Modern Neural
       Networks", ICML 2017, arXiv:1706.04599.

    Examples
    --------
    >>> probs = torch.tensor([[0.75, 0.25], [0.75, 0.25], [0.625, 0.375], [0.625, 0.375]])
    >>> expected_calibration_error(probs, torch.tensor([0, 1, 0, 0]))  # |0.5 - 0.75| / 2 + |1 - 0.625| / 2
    0.3125
    """
    bins = reliability(probs, y, n_bins)
    return float((bins.count / bins.count.sum() * (bins.accuracy - bins.confidence).abs()).sum())


def fit_temperature(logits: torch.Tensor, y: torch.Tensor, max_iter: int = 100) -> float:
    r"""The temperature :math:`T > 0` that minimises the NLL of ``softmax(logits / T)``.

    Fit it on a validation split, never on test. One scalar divides all logits, so
    predictions (the argmax) do not change, only how confident they are.

    Parameters
    ----------
    logits : (N, K) tensor
    y : (N,) long tensor
    max_iter : int
        L-BFGS iterations.

    Returns
    -------
    temperature : float
        > 1 softens an overconfident model, < 1 sharpens an underconfident one.

    Notes
    -----
    Minimises :math:`\frac{1}{N}\sum_i -\ln \mathrm{softmax}(z_i / T)_{y_i}` over
    :math:`t = \ln T` (so that :math:`T` stays positive), with L-BFGS in float64.

    Examples
    --------
    >>> logits = 4 * torch.randn(500, 3)
    >>> y = torch.distributions.Categorical(logits=logits / 4).sample()  # the data were drawn at T = 4
    >>> 3 < fit_temperature(logits, y) < 5.5
    True
    """
    logits, y = logits.detach().double().cpu(), y.cpu()
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.5, max_iter=max_iter, line_search_fn="strong_wolfe")

    def nll():
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), y)
        loss.backward()
        return loss

    optimizer.step(nll)
    return float(log_t.detach().exp())
