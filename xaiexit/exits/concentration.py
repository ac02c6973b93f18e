"""Is a saliency map concentrated? Two measures, both blind to the map's overall scale.

A map ``(B, H, W)`` of non-negative values is read as a distribution of "attention"
over the pixels: ``p = map / map.sum()``.

- :func:`spatial_entropy` asks *how many* pixels share the mass (0 = one pixel,
  1 = all equally), whatever their positions;
- :func:`moment_of_inertia` asks *how far apart* the mass lies: small for one compact
  region, large for regions scattered over the image.

An all-zero map (a CAM with nothing positive) says nothing about where the network
looks; both measures treat it as the uniform map, the least concentrated one.
"""

from __future__ import annotations

import math

import torch


def check_maps(heatmap: torch.Tensor, name: str = "heatmap") -> torch.Tensor:
    """Validate a batch of non-negative maps ``(B, H, W)``; returns it in float64."""
    if not isinstance(heatmap, torch.Tensor) or heatmap.dim() != 3:
        shape = tuple(heatmap.shape) if isinstance(heatmap, torch.Tensor) else type(heatmap).__name__
        raise ValueError(
            f"{name} must be a (B, H, W) tensor of maps, got {shape}; "
            "add a batch dimension with map[None] for a single map"
        )
    if heatmap.shape[1] * heatmap.shape[2] < 2:
        raise ValueError(f"{name} has a single pixel; a measure of spread needs at least 2")
    if not torch.isfinite(heatmap).all():
        raise ValueError(f"{name} contains nan or inf")
    if (heatmap < 0).any():
        raise ValueError(
            f"{name} has negative values; concentration reads a map as a distribution, "
            "so take the positive part (map.clamp(min=0), as CAM and Grad-CAM do) or |map| first"
        )
    return heatmap.double()


def as_distribution(heatmap: torch.Tensor) -> torch.Tensor:
    """Each map divided by its sum, ``(B, H, W) -> (B, H, W)`` summing to 1 per map.

    An all-zero map becomes the uniform distribution ``1 / (H W)``.

    Examples
    --------
    >>> as_distribution(torch.tensor([[[1.0, 3.0]], [[0.0, 0.0]]]))
    tensor([[[0.2500, 0.7500]],
    <BLANKLINE>
            [[0.5000, 0.5000]]], dtype=torch.float64)
    """
    heatmap = check_maps(heatmap)
    total = heatmap.sum(dim=(1, 2), keepdim=True)
    uniform = torch.full_like(heatmap, 1.0 / (heatmap.shape[1] * heatmap.shape[2]))
    return torch.where(total > 0, heatmap / total.clamp(min=torch.finfo(torch.float64).tiny), uniform)


def spatial_entropy(heatmap: torch.Tensor) -> torch.Tensor:
    r"""Normalised Shannon entropy of each map: ``(B, H, W) -> (B,)``, in [0, 1].

    .. math:: S = -\frac{1}{\ln(HW)} \sum_{i} p_i \ln p_i, \qquad p = \frac{m}{\sum_i m_i}

    0 when all the mass sits on one pixel, 1 when it is spread evenly over all
    ``H * W`` pixels; pixels with ``p = 0`` contribute 0 (the limit of ``p ln p``).
    Dividing by ``ln(HW)`` makes maps of different resolutions comparable.

    Examples
    --------
    >>> delta = torch.zeros(1, 8, 8); delta[0, 3, 5] = 2.0
    >>> spatial_entropy(torch.cat([delta, torch.ones(1, 8, 8)]))
    tensor([0., 1.], dtype=torch.float64)
    >>> half = torch.zeros(1, 4, 4); half[0, :2] = 1.0      # 8 of 16 pixels: ln 8 / ln 16
    >>> spatial_entropy(half)
    tensor([0.7500], dtype=torch.float64)
    """
    p = as_distribution(heatmap)
    n = p.shape[1] * p.shape[2]
    log_p = torch.log(p.clamp(min=torch.finfo(torch.float64).tiny))
    terms = torch.where(p > 0, -(p * log_p), torch.zeros_like(p))  # negated per pixel: no -0.0
    return (terms.sum(dim=(1, 2)) / math.log(n)).clamp(0.0, 1.0)


def pixel_centres(height: int, width: int, dtype=torch.float64, device=None) -> tuple:
    """Coordinates of pixel centres in the unit square: ``y (H, 1)`` and ``x (1, W)``,
    ``y_i = (i + 0.5) / H``, ``x_j = (j + 0.5) / W``."""
    y = (torch.arange(height, dtype=dtype, device=device) + 0.5) / height
    x = (torch.arange(width, dtype=dtype, device=device) + 0.5) / width
    return y[:, None], x[None, :]


def moment_of_inertia(heatmap: torch.Tensor) -> torch.Tensor:
    r"""Second moment of each map's mass about its own centroid: ``(B, H, W) -> (B,)``.

    .. math:: I = \sum_i p_i \left[(y_i - \bar y)^2 + (x_i - \bar x)^2\right],
              \qquad \bar y = \sum_i p_i y_i, \ \bar x = \sum_i p_i x_i

    with ``p`` the map divided by its sum and pixel centres in the unit square
    (``y_i = (row + 0.5) / H``, ``x_i = (col + 0.5) / W``), so the value does not depend
    on the resolution. It is the mean squared distance of the mass from its centre:
    0 for a single pixel, about ``1/6`` for a uniform map
    (``(1 - 1/H^2)/12 + (1 - 1/W^2)/12``), and up to 0.5 for mass split between
    opposite corners. One compact blob is small; two blobs far apart are large.

    Examples
    --------
    >>> one = torch.zeros(1, 8, 8); one[0, 4, 4] = 1.0
    >>> moment_of_inertia(one)
    tensor([0.], dtype=torch.float64)
    >>> two = torch.zeros(1, 8, 8); two[0, 0, 0] = two[0, 0, 4] = 1.0   # half-way apart in x
    >>> moment_of_inertia(two)          # each at distance 0.25 from the centroid
    tensor([0.0625], dtype=torch.float64)
    """
    p = as_distribution(heatmap)
    y, x = pixel_centres(p.shape[1], p.shape[2], device=p.device)
    cy = (p * y).sum(dim=(1, 2), keepdim=True)
    cx = (p * x).sum(dim=(1, 2), keepdim=True)
    return (p * ((y - cy) ** 2 + (x - cx) ** 2)).sum(dim=(1, 2))
