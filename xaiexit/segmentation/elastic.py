"""Data augmentation as in U-Net: smooth elastic deformations, shifts, rotations and grey values.

With only some thirty training images, U-Net's authors made the network invariant to the
deformations tissue really undergoes: a random displacement for each point of a coarse
``grid x grid`` lattice, drawn from N(0, sigma) pixels, interpolated bicubically into a
smooth dense field. The same field moves the image (interpolated) and its label mask
(nearest neighbour, so no label appears that was not there). torchvision's
``ElasticTransform`` is a different scheme: per-pixel noise blurred by a Gaussian.

Convention: a displacement field ``d`` of shape ``(2, H, W)`` (rows, columns, in pixels)
warps by *pulling*: ``out[p] = in[p + d[p]]``; outside the image, values are mirrored.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def elastic_field(
    height: int, width: int, grid: int = 3, sigma: float = 10.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """A smooth random displacement field ``(2, height, width)`` in pixels.

    Displacements of the ``grid x grid`` control points (spread evenly, corners included)
    are drawn from N(0, sigma^2) for rows and for columns, then interpolated bicubically
    to every pixel.

    Examples
    --------
    >>> field = elastic_field(64, 48, generator=torch.Generator().manual_seed(0))
    >>> tuple(field.shape)
    (2, 64, 48)
    """
    if grid < 2:
        raise ValueError(f"grid must be at least 2 control points per side, got {grid}")
    coarse = torch.randn(1, 2, grid, grid, generator=generator, dtype=torch.float64) * sigma
    return F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=True)[0].float()


def affine_field(height: int, width: int, shift: tuple[float, float] = (0.0, 0.0), angle: float = 0.0) -> torch.Tensor:
    """The displacement field ``(2, H, W)`` of a rotation by ``angle`` degrees about the image
    centre followed by a shift of ``(rows, columns)`` pixels, in the pull convention."""
    y = torch.arange(height, dtype=torch.float64)[:, None].expand(height, width)
    x = torch.arange(width, dtype=torch.float64)[None, :].expand(height, width)
    cy, cx = (height - 1) / 2, (width - 1) / 2
    a = math.radians(angle)
    # the output pixel p shows the input at R^-1 (p - shift - c) + c
    py, px = y - shift[0] - cy, x - shift[1] - cx
    sy = math.cos(a) * py - math.sin(a) * px + cy
    sx = math.sin(a) * py + math.cos(a) * px + cx
    return torch.stack([sy - y, sx - x]).float()


def warp(image: torch.Tensor, field: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """Pull ``image`` ``(C, H, W)`` through ``field`` ``(2, H, W)``: ``out[p] = image[p + field[p]]``.

    A floating-point image keeps its dtype; an integer one comes back as float32.

    ``mode`` is ``"bilinear"``, ``"bicubic"`` or ``"nearest"`` (for label masks); outside the
    image, values are mirrored (``padding_mode="reflection"``).
    """
    C, H, W = image.shape
    dtype = image.dtype if image.is_floating_point() else torch.float32
    field = field.to(device=image.device, dtype=dtype)
    y = torch.arange(H, dtype=dtype, device=image.device)[:, None] + field[0]
    x = torch.arange(W, dtype=dtype, device=image.device)[None, :] + field[1]
    # grid_sample wants (x, y) in [-1, 1] with -1 and 1 the centres of the corner pixels
    grid = torch.stack([2 * x / max(W - 1, 1) - 1, 2 * y / max(H - 1, 1) - 1], dim=-1)[None]
    out = F.grid_sample(image[None].to(dtype), grid, mode=mode, padding_mode="reflection", align_corners=True)
    return out[0]


def _check(image: torch.Tensor, mask: torch.Tensor) -> None:
    if image.dim() != 3:
        raise ValueError(f"image must be (C, H, W), got {tuple(image.shape)}; use image[None] for a grey (H, W) image")
    if mask.dim() != 2 or mask.shape != image.shape[1:]:
        raise ValueError(f"mask must be (H, W) = {tuple(image.shape[1:])} like the image, got {tuple(mask.shape)}")


def elastic_deform(
    image: torch.Tensor,
    mask: torch.Tensor,
    grid: int = 3,
    sigma: float = 10.0,
    generator: torch.Generator | None = None,
    image_mode: str = "bicubic",
) -> tuple[torch.Tensor, torch.Tensor]:
    """The paper's elastic deformation, applied with one field to an image and its mask.

    Parameters
    ----------
    image : (C, H, W) float tensor
    mask : (H, W) integer tensor of labels
    grid : int
        Control points per side (3 in the paper).
    sigma : float
        Standard deviation of the control points' displacements, in pixels (10 in the paper).
    generator : torch.Generator, optional
        For reproducible draws.
    image_mode : ``"bicubic"`` or ``"bilinear"``
        Interpolation of the image; the mask always uses nearest neighbour.

    Returns
    -------
    image : (C, H, W) float tensor
    mask : (H, W) tensor, same dtype as ``mask``, holding only labels of the input mask

    Examples
    --------
    >>> image, mask = torch.rand(1, 32, 32), torch.randint(0, 3, (32, 32))
    >>> warped, warped_mask = elastic_deform(image, mask, generator=torch.Generator().manual_seed(0))
    >>> set(warped_mask.unique().tolist()) <= {0, 1, 2}
    True
    """
    _check(image, mask)
    field = elastic_field(image.shape[1], image.shape[2], grid, sigma, generator)
    return _apply(image, mask, field, image_mode)


def _apply(image, mask, field, image_mode):
    warped = warp(image, field, image_mode)
    warped_mask = warp(mask[None].float(), field, "nearest")[0].round().to(mask.dtype)
    return warped, warped_mask


def augment(
    image: torch.Tensor,
    mask: torch.Tensor,
    generator: torch.Generator | None = None,
    max_shift: float = 8.0,
    max_angle: float = 15.0,
    grid: int = 3,
    sigma: float = 10.0,
    grey: tuple[float, float] = (0.2, 0.1),
) -> tuple[torch.Tensor, torch.Tensor]:
    """Shift, rotation and elastic deformation in one resampling, then grey-value changes.

    A shift uniform in ``[-max_shift, max_shift]`` pixels per axis, an angle uniform in
    ``[-max_angle, max_angle]`` degrees, the elastic field of :func:`elastic_deform`; then the
    image (not the mask) becomes ``a * image + b`` with ``a`` uniform in ``[1 - grey[0],
    1 + grey[0]]`` (contrast) and ``b`` in ``[-grey[1], grey[1]]`` (brightness).
    """
    _check(image, mask)
    H, W = mask.shape
    u = torch.rand(5, generator=generator, dtype=torch.float64)
    shift = (float((2 * u[0] - 1) * max_shift), float((2 * u[1] - 1) * max_shift))
    angle = float((2 * u[2] - 1) * max_angle)
    field = affine_field(H, W, shift, angle) + elastic_field(H, W, grid, sigma, generator)
    warped, warped_mask = _apply(image, mask, field, "bicubic")
    a = 1 + (2 * float(u[3]) - 1) * grey[0]
    b = (2 * float(u[4]) - 1) * grey[1]
    return a * warped + b, warped_mask
