"""Turn attributions into one displayable map per image."""

from __future__ import annotations

import torch

REDUCTIONS = ("max_abs", "sum_abs", "sum", "l2")


def to_heatmap(attr: torch.Tensor, reduce: str = "max_abs", normalize: bool = True) -> torch.Tensor:
    r"""Collapse the channels of an attribution and scale each map to [0, 1].

    Parameters
    ----------
    attr : (B, C, H, W) or (B, H, W) tensor
        Attributions. A ``(B, H, W)`` input (e.g. from :func:`grad_cam`) is only
        normalized.
    reduce : {"max_abs", "sum_abs", "sum", "l2"}
        How channels are combined at each pixel: the largest magnitude (Simonyan et
        al.), the summed magnitude, the signed sum, or the Euclidean norm.
    normalize : bool
        Min-max scale every map on its own to [0, 1]. A constant map becomes all
        zeros (no division by zero).

    Returns
    -------
    heatmap : (B, H, W) tensor

    Notes
    -----
    .. math:: M_{ij} = \max_c |A_{cij}|, \qquad
              \hat M = \frac{M - \min M}{\max M - \min M}

    References
    ----------
    .. [1] K. Simonyan, A. Vedaldi, A. Zisserman, "Deep Inside Convolutional
       Networks: Visualising Image Classification Models and Saliency Maps",
       arXiv:1312.6034, 2013.

    Examples
    --------
    >>> heatmap = to_heatmap(torch.randn(2, 3, 8, 8), reduce="max_abs")
    >>> heatmap.shape, float(heatmap.min()), float(heatmap.max())
    (torch.Size([2, 8, 8]), 0.0, 1.0)
    """
    if not isinstance(attr, torch.Tensor) or attr.dim() not in (3, 4):
        shape = tuple(attr.shape) if isinstance(attr, torch.Tensor) else type(attr).__name__
        raise ValueError(
            f"attr must be shaped (B, C, H, W) or (B, H, W), got {shape}; add a batch dimension with attr.unsqueeze(0)"
        )
    if reduce not in REDUCTIONS:
        raise ValueError(f"unknown reduce {reduce!r}; choose one of {REDUCTIONS}")
    attr = attr.detach()
    if attr.dim() == 3:
        heatmap = attr.clone()
    elif reduce == "max_abs":
        heatmap = attr.abs().amax(dim=1)
    elif reduce == "sum_abs":
        heatmap = attr.abs().sum(dim=1)
    elif reduce == "sum":
        heatmap = attr.sum(dim=1)
    else:  # l2
        heatmap = attr.pow(2).sum(dim=1).sqrt()
    if not normalize:
        return heatmap
    low = heatmap.amin(dim=(1, 2), keepdim=True)
    span = heatmap.amax(dim=(1, 2), keepdim=True) - low
    # A constant map has span 0: divide by 1 instead, which leaves all zeros.
    return (heatmap - low) / torch.where(span > 0, span, torch.ones_like(span))
