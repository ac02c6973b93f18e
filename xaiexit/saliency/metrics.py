"""Scores for saliency maps: how sparse, how complex, how well localised.

Every function works per sample and returns a ``(B,)`` tensor.
"""
from __future__ import annotations

import torch

EPS = 1e-7  # added to |attr| by the Gini index, as in Quantus


def sparseness_gini(attr: torch.Tensor) -> torch.Tensor:
    r"""Gini index of the attribution magnitudes: 0 = spread evenly, ~1 = one value.

    Parameters
    ----------
    attr : (B, ...) tensor
        Attributions; all dimensions after the batch are pooled.

    Returns
    -------
    gini : (B,) tensor
        In [0, 1): 0 for a constant map, :math:`(n - 1) / n` (about) for a one-hot map.

    Notes
    -----
    With :math:`a = |A| + 10^{-7}` flattened to :math:`n` values and sorted ascending,
    :math:`a_{(1)} \le \dots \le a_{(n)}`,

    .. math:: G = \frac{\sum_{i=1}^{n} (2i - n - 1)\, a_{(i)}}{n \sum_{i=1}^{n} a_{(i)}}

    References
    ----------
    .. [1] P. Chalasani, J. Chen, A. R. Chowdhury, S. Jha, X. Wu, "Concise
       Explanations of Neural Networks using Adversarial Training", ICML 2020.
    .. [2] A. Hedstroem et al., "Quantus: An Explainable AI Toolkit for Responsible
       Evaluation of Neural Network Explanations", JMLR 24(34), 2023.

    Examples
    --------
    >>> sparseness_gini(torch.tensor([[0.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]]))
    tensor([0.7500, 0.0000])
    """
    a = _flat(attr, "attr").abs() + EPS
    a, _ = a.sort(dim=1)
    n = a.shape[1]
    i = torch.arange(1, n + 1, dtype=a.dtype, device=a.device)
    return ((2 * i - n - 1) * a).sum(dim=1) / (n * a.sum(dim=1))


def complexity_entropy(attr: torch.Tensor) -> torch.Tensor:
    r"""Entropy of the attribution magnitudes seen as a distribution: low = simple.

    Parameters
    ----------
    attr : (B, ...) tensor
        Attributions; all dimensions after the batch are pooled.

    Returns
    -------
    entropy : (B,) tensor
        Between 0 (all mass on one value) and :math:`\ln n` (uniform). An all-zero
        map has no distribution and gets 0.

    Notes
    -----
    .. math:: p_i = \frac{|a_i|}{\sum_j |a_j|}, \qquad H = -\sum_i p_i \ln p_i
              \quad (0 \ln 0 = 0)

    References
    ----------
    .. [1] U. Bhatt, A. Weller, J. M. F. Moura, "Evaluating and Aggregating
       Feature-based Model Explanations", IJCAI 2020, arXiv:2005.00631.

    Examples
    --------
    >>> complexity_entropy(torch.ones(1, 4))  # ln 4
    tensor([1.3863])
    """
    a = _flat(attr, "attr").abs()
    total = a.sum(dim=1, keepdim=True)
    p = a / torch.where(total > 0, total, torch.ones_like(total))
    return -torch.where(p > 0, p * p.log(), torch.zeros_like(p)).sum(dim=1)


def relevance_mass(heatmap: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    r"""Share of the saliency that falls inside the object mask.

    Parameters
    ----------
    heatmap : (B, H, W) or (B, C, H, W) tensor
        Saliency. Its absolute value is used; channels are summed.
    mask : (B, H, W) bool tensor
        True on the object (ground truth).

    Returns
    -------
    mass : (B,) tensor
        In [0, 1]; 1 when all saliency is inside the mask. An all-zero map gets 0.

    Notes
    -----
    .. math:: \mu = \frac{\sum_{ij \in \text{mask}} |R_{ij}|}{\sum_{ij} |R_{ij}|}

    References
    ----------
    .. [1] L. Arras, A. Osman, W. Samek, "CLEVR-XAI: A benchmark dataset for the
       ground truth evaluation of neural network explanations", Information Fusion
       81, 2022, arXiv:2003.07258.

    Examples
    --------
    >>> heatmap = torch.tensor([[[0.0, 1.0], [3.0, 0.0]]])
    >>> relevance_mass(heatmap, torch.tensor([[[False, False], [True, True]]]))
    tensor([0.7500])
    """
    r, mask = _map_and_mask(heatmap, mask)
    r = r.abs()
    total = r.sum(dim=(1, 2))
    inside = (r * mask).sum(dim=(1, 2))
    # An all-zero map has total 0: divide by 1 instead, which gives 0.
    return inside / torch.where(total > 0, total, torch.ones_like(total))


def pointing_game(heatmap: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    r"""Does the map's strongest point land on the object?

    Parameters
    ----------
    heatmap : (B, H, W) or (B, C, H, W) tensor
        Saliency. A (B, H, W) map is used as it is; for (B, C, H, W) the absolute
        values are summed over channels first.
    mask : (B, H, W) bool tensor
        True on the object (ground truth).

    Returns
    -------
    hit : (B,) bool tensor
        True if the location of the maximum lies inside the mask. With ties, the
        first maximum in row-major order (top row first, then left to right) counts.

    Notes
    -----
    .. math:: \text{hit} = \text{mask}\big[\arg\max_{ij} R_{ij}\big]

    References
    ----------
    .. [1] J. Zhang, Z. Lin, J. Brandt, X. Shen, S. Sclaroff, "Top-down Neural
       Attention by Excitation Backprop", ECCV 2016, arXiv:1608.00507.

    Examples
    --------
    >>> heatmap = torch.tensor([[[0.0, 1.0], [3.0, 0.0]]])
    >>> pointing_game(heatmap, torch.tensor([[[False, False], [True, False]]]))
    tensor([True])
    """
    r, mask = _map_and_mask(heatmap, mask)
    first_max = r.flatten(1).argmax(dim=1)  # torch returns the first of tied maxima
    return mask.flatten(1).gather(1, first_max[:, None]).squeeze(1)


def _flat(attr: torch.Tensor, name: str) -> torch.Tensor:
    """``(B, ...) -> (B, n)`` as a floating-point tensor without gradient."""
    if not isinstance(attr, torch.Tensor) or attr.dim() < 2:
        shape = tuple(attr.shape) if isinstance(attr, torch.Tensor) else type(attr).__name__
        raise ValueError(f"{name} must be a tensor shaped (B, ...) with a batch dimension, got {shape}; "
                         "add one with attr.unsqueeze(0)")
    attr = attr.detach().flatten(1)
    return attr if attr.is_floating_point() else attr.float()


def _map_and_mask(heatmap: torch.Tensor, mask: torch.Tensor):
    """Check shapes; return the ``(B, H, W)`` float map and the ``(B, H, W)`` bool mask."""
    if not isinstance(heatmap, torch.Tensor) or heatmap.dim() not in (3, 4):
        raise ValueError("heatmap must be a tensor shaped (B, H, W) or (B, C, H, W); "
                         "add a batch dimension with heatmap.unsqueeze(0)")
    heatmap = heatmap.detach()
    if not heatmap.is_floating_point():
        heatmap = heatmap.float()
    if heatmap.dim() == 4:
        heatmap = heatmap.abs().sum(dim=1)
    if not isinstance(mask, torch.Tensor) or tuple(mask.shape) != tuple(heatmap.shape):
        shape = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ValueError(f"mask must be shaped like the map, (B, H, W) = {tuple(heatmap.shape)}, got {shape}")
    return heatmap, mask.to(device=heatmap.device).bool()
