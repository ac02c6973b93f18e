"""Scores for saliency maps: how sparse, how complex, how well localised.

Every function works per sample and returns a ``(B,)`` tensor.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

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


def mask_regions(mask: torch.Tensor, width: int) -> torch.Tensor:
    r"""Split an object mask into its interior, a ring around its border, and the rest.

    Parameters
    ----------
    mask : (B, H, W) bool tensor
        True on the object.
    width : int
        Half-width of the border ring in pixels (>= 0).

    Returns
    -------
    regions : (B, 3, H, W) bool tensor
        ``regions[:, 0]`` interior: the mask eroded by a ``(2w+1) x (2w+1)`` square;
        ``regions[:, 1]`` border ring: the dilated mask minus the eroded one (``w``
        pixels on each side of the outline); ``regions[:, 2]`` background: outside
        the dilated mask. Every pixel is in exactly one region.

    Notes
    -----
    The image edge is not an edge of the object: pixels beyond it are ignored, as
    with ``mode="ignore"`` in scikit-image's ``binary_erosion``/``binary_dilation``.
    Max-pooling does exactly this, because its padding never wins a maximum.

    Examples
    --------
    >>> mask = torch.zeros(1, 5, 5, dtype=torch.bool)
    >>> mask[0, 1:4, 1:4] = True
    >>> mask_regions(mask, 1)[0, :, 2]        # the middle row: interior, ring, background
    tensor([[False, False,  True, False, False],
            [ True,  True, False,  True,  True],
            [False, False, False, False, False]])
    """
    if not isinstance(mask, torch.Tensor) or mask.dim() != 3:
        shape = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ValueError(f"mask must be shaped (B, H, W), got {shape}")
    if isinstance(width, bool) or not isinstance(width, int) or width < 0:
        raise ValueError(f"width must be an integer >= 0 (pixels), got {width!r}")
    m = mask.bool()[:, None].float()  # (B, 1, H, W)
    size = 2 * width + 1
    dilated = F.max_pool2d(m, size, stride=1, padding=width) > 0
    eroded = ~(F.max_pool2d(1 - m, size, stride=1, padding=width) > 0)
    interior, outside = eroded[:, 0], ~dilated[:, 0]
    return torch.stack([interior, ~interior & ~outside, outside], dim=1)


def interior_border_split(heatmap: torch.Tensor, mask: torch.Tensor, width: int = 3) -> torch.Tensor:
    r"""Shares of the saliency in the object's interior, on its border ring, and outside.

    Parameters
    ----------
    heatmap : (B, H, W) or (B, C, H, W) tensor
        Saliency. Its absolute value is used; channels are summed.
    mask : (B, H, W) bool tensor
        True on the object (ground truth).
    width : int
        Half-width of the border ring, see :func:`mask_regions`.

    Returns
    -------
    shares : (B, 3) tensor
        ``[interior, border, background]``; each row adds up to 1. An all-zero map
        gets ``[0, 0, 0]``.

    Notes
    -----
    With regions :math:`I, R, O` from :func:`mask_regions`,

    .. math:: s_I = \frac{\sum_{ij \in I} |h_{ij}|}{\sum_{ij} |h_{ij}|}, \quad
              s_R = \frac{\sum_{ij \in R} |h_{ij}|}{\sum_{ij} |h_{ij}|}, \quad
              s_O = 1 - s_I - s_R

    A method that only sees edges puts its mass on the ring; one that sees the whole
    object also reaches the interior. Compare the shares with the regions' areas.

    Examples
    --------
    >>> mask = torch.zeros(1, 5, 5, dtype=torch.bool)
    >>> mask[0, 1:4, 1:4] = True
    >>> interior_border_split(torch.ones(1, 5, 5), mask, width=1)  # area shares: 1, 24, 0 pixels
    tensor([[0.0400, 0.9600, 0.0000]])
    """
    h, mask = _map_and_mask(heatmap, mask)
    regions = mask_regions(mask, width).to(h.dtype)  # (B, 3, H, W)
    h = h.abs()
    mass = (h[:, None] * regions).sum(dim=(2, 3))  # (B, 3)
    total = h.sum(dim=(1, 2))[:, None]
    return mass / torch.where(total > 0, total, torch.ones_like(total))


def _flat(attr: torch.Tensor, name: str) -> torch.Tensor:
    """``(B, ...) -> (B, n)`` as a floating-point tensor without gradient."""
    if not isinstance(attr, torch.Tensor) or attr.dim() < 2:
        shape = tuple(attr.shape) if isinstance(attr, torch.Tensor) else type(attr).__name__
        raise ValueError(
            f"{name} must be a tensor shaped (B, ...) with a batch dimension, got {shape}; "
            "add one with attr.unsqueeze(0)"
        )
    attr = attr.detach().flatten(1)
    return attr if attr.is_floating_point() else attr.float()


def _map_and_mask(heatmap: torch.Tensor, mask: torch.Tensor):
    """Check shapes; return the ``(B, H, W)`` float map and the ``(B, H, W)`` bool mask."""
    if not isinstance(heatmap, torch.Tensor) or heatmap.dim() not in (3, 4):
        raise ValueError(
            "heatmap must be a tensor shaped (B, H, W) or (B, C, H, W); add a batch dimension with heatmap.unsqueeze(0)"
        )
    heatmap = heatmap.detach()
    if not heatmap.is_floating_point():
        heatmap = heatmap.float()
    if heatmap.dim() == 4:
        heatmap = heatmap.abs().sum(dim=1)
    if not isinstance(mask, torch.Tensor) or tuple(mask.shape) != tuple(heatmap.shape):
        shape = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ValueError(f"mask must be shaped like the map, (B, H, W) = {tuple(heatmap.shape)}, got {shape}")
    return heatmap, mask.to(device=heatmap.device).bool()
