"""Integrated Gradients: gradients accumulated along a straight path from a baseline."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from xaiexit.saliency._common import (
    Target,
    baseline_like,
    check_images,
    check_positive,
    default_batch_size,
    frozen_eval,
    input_gradients,
    resolve_target,
    target_scores,
)

RULES = ("gausslegendre", "riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle")


def path_rule(rule: str, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Points ``alpha_k`` in [0, 1] and weights ``w_k`` with ``sum_k w_k f(alpha_k) ~ int_0^1 f``.

    The points are the ones Captum uses. The weights are Captum's too, except for
    ``"riemann_trapezoid"``: its points ``linspace(0, 1, steps)`` are spaced
    ``h = 1 / (steps - 1)``, so the trapezoid rule weighs them ``h`` (``h / 2`` at
    both ends) and the weights add up to 1. Captum uses ``1 / steps`` instead, which
    adds up to ``(steps - 1) / steps``: its trapezoid result is that much too small.
    """
    check_positive(steps, "steps")
    if rule == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(steps)  # on [-1, 1]
        return torch.from_numpy((nodes + 1) / 2), torch.from_numpy(weights / 2)
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; choose one of {RULES}")
    if rule == "riemann_trapezoid" and steps < 2:
        raise ValueError("rule='riemann_trapezoid' needs steps >= 2 (both ends of the path)")
    n = steps
    weights = torch.full((n,), 1 / n, dtype=torch.float64)
    if rule == "riemann_trapezoid":
        alphas = torch.linspace(0, 1, n)
        weights = torch.full((n,), 1 / (n - 1), dtype=torch.float64)
        weights[0] = weights[-1] = 1 / (2 * (n - 1))
    elif rule == "riemann_left":
        alphas = torch.linspace(0, 1 - 1 / n, n)
    elif rule == "riemann_right":
        alphas = torch.linspace(1 / n, 1, n)
    else:  # riemann_middle
        alphas = torch.linspace(1 / (2 * n), 1 - 1 / (2 * n), n)
    return alphas.double(), weights


def integrated_gradients(
    model: nn.Module,
    x: torch.Tensor,
    target: Target = None,
    baseline: None | float | torch.Tensor = None,
    steps: int = 50,
    rule: str = "gausslegendre",
    batch_size: int | None = None,
    return_gap: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    r"""Integrate the input gradient along the straight line from a baseline to ``x``.

    Parameters
    ----------
    model : nn.Module
        Classifier returning logits ``(B, num_classes)``. It runs in eval mode with
        frozen parameters; its mode and ``requires_grad`` flags are restored after.
    x : (B, C, H, W) tensor
        Input images. Never modified.
    target : int, (B,) long tensor or None
        Class explained per sample; ``None`` uses the class predicted for ``x``.
    baseline : None, float or tensor
        The "absence of signal" :math:`x'`. ``None`` is all zeros (black image), a
        float fills the image with that value, a tensor must broadcast to ``x``.
    steps : int
        Number of points on the path (gradient evaluations per image).
    rule : str
        Quadrature rule: ``"gausslegendre"`` (default, as in Captum),
        ``"riemann_trapezoid"``, ``"riemann_left"``, ``"riemann_right"`` or
        ``"riemann_middle"``.
    batch_size : int, optional
        Path points per forward/backward pass; the ``steps * B`` points are processed
        in chunks of this size, so memory stays bounded. Default: as many as keep one
        chunk under ``CHUNK_BUDGET`` = 2**19 input numbers.
    return_gap : bool
        Also return the completeness gap (see Notes).

    Returns
    -------
    attr : (B, C, H, W) tensor
        Shaped like ``x``.
    gap : (B,) tensor
        Only with ``return_gap=True``: :math:`\sum_i A_i - (S_c(x) - S_c(x'))`.
        It goes to zero as ``steps`` grows; a large gap means too few steps.

    Notes
    -----
    .. math:: A_i(x) = (x_i - x'_i) \int_0^1
              \frac{\partial S_c\big(x' + \alpha (x - x')\big)}{\partial x_i} d\alpha
              \approx (x_i - x'_i) \sum_{k=1}^{m} w_k
              \frac{\partial S_c\big(x' + \alpha_k (x - x')\big)}{\partial x_i}

    Completeness: :math:`\sum_i A_i(x) = S_c(x) - S_c(x')` for the exact integral.

    References
    ----------
    .. [1] M. Sundararajan, A. Taly, Q. Yan, "Axiomatic Attribution for Deep
       Networks", ICML 2017, arXiv:1703.01365.

    Examples
    --------
    >>> model = SmallCNN().eval()
    >>> attr, gap = integrated_gradients(model, torch.rand(2, 3, 64, 64), 1, return_gap=True)
    >>> attr.shape, gap.shape
    (torch.Size([2, 3, 64, 64]), torch.Size([2]))
    """
    x = check_images(x)
    alphas, weights = path_rule(rule, steps)
    batch_size = default_batch_size(x) if batch_size is None else check_positive(batch_size, "batch_size")
    baseline = baseline_like(baseline, x)
    alphas = alphas.to(device=x.device, dtype=x.dtype)
    weights = weights.to(device=x.device, dtype=x.dtype)

    batch = x.shape[0]
    points = steps * batch  # point i is step i // batch of sample i % batch
    total = torch.zeros_like(x)
    with frozen_eval(model):
        target = resolve_target(model, x, target)
        for start in range(0, points, batch_size):
            index = torch.arange(start, min(start + batch_size, points), device=x.device)
            step, sample = index // batch, index % batch
            alpha = alphas[step].view(-1, 1, 1, 1)
            on_path = baseline[sample] + alpha * (x[sample] - baseline[sample])
            grad = input_gradients(model, on_path, target[sample])
            total.index_add_(0, sample, grad * weights[step].view(-1, 1, 1, 1))
        attr = total * (x - baseline)
    if not return_gap:
        return attr
    return attr, completeness_gap(model, x, target, attr, baseline)


def completeness_gap(
    model: nn.Module,
    x: torch.Tensor,
    target: Target,
    attributions: torch.Tensor,
    baseline: None | float | torch.Tensor = None,
) -> torch.Tensor:
    r"""How far attributions are from adding up to the score change from the baseline.

    Parameters
    ----------
    model : nn.Module
        Classifier returning logits ``(B, num_classes)``; run in eval mode, restored after.
    x : (B, C, H, W) tensor
        The explained images.
    target : int, (B,) long tensor or None
        Class explained per sample; ``None`` uses the class predicted for ``x``.
    attributions : (B, C, H, W) tensor
        Attributions of ``x`` (for example Integrated Gradients).
    baseline : None, float or tensor
        As in :func:`integrated_gradients`: zeros, a constant, or a tensor that
        broadcasts to ``x``.

    Returns
    -------
    gap : (B,) tensor
        :math:`\sum_i A_i - \big(S_c(x) - S_c(x')\big)`, in the units of the logit.
        Zero for attributions that satisfy completeness.

    Notes
    -----
    The completeness axiom of Integrated Gradients says the attributions add up to
    the change of the class score along the path: :math:`\sum_i A_i(x) = S_c(x) -
    S_c(x')`. A gradient map, or IG with too few steps, leaves a gap.

    Examples
    --------
    >>> model = SmallCNN().eval()
    >>> x = torch.rand(2, 3, 64, 64)
    >>> attr = integrated_gradients(model, x, 1, steps=64)
    >>> completeness_gap(model, x, 1, attr).abs().max() < 1e-2
    tensor(True)
    """
    x = check_images(x)
    if not isinstance(attributions, torch.Tensor) or attributions.shape != x.shape:
        shape = tuple(attributions.shape) if isinstance(attributions, torch.Tensor) else type(attributions).__name__
        raise ValueError(f"attributions must be shaped like x, {tuple(x.shape)}, got {shape}")
    baseline = baseline_like(baseline, x)
    with frozen_eval(model), torch.no_grad():
        target = resolve_target(model, x, target)
        change = target_scores(model(x), target) - target_scores(model(baseline), target)
    return attributions.detach().sum(dim=(1, 2, 3)) - change
