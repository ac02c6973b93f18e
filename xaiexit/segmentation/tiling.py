"""Overlap-tile prediction: segment an image of any size with a valid U-Net, tile by tile.

A valid U-Net maps a ``tile x tile`` input to a smaller ``out x out`` output, the centre of
the tile, every output pixel with its full context. To cover a large image: mirror the
image at its borders by the margin ``(tile - out) / 2`` (the missing context is reflected),
cut input tiles every ``stride`` pixels, and put each tile's output in its place. Memory
then depends on the tile, not the image.

The result equals one pass over the whole (mirrored) image exactly when every tile starts
at a multiple of ``2 ** depth`` (16 for the paper's four max-pools): only then do the
tile's pooling windows line up with those of the whole image. With the paper's 388-pixel
output tiles, a stride of 388 leaves visible seams; 384 does not.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def mirror_index(n: int, before: int, after: int, device=None) -> torch.Tensor:
    """Indices of a length-``n`` axis extended by mirroring (without repeating the edge
    pixel, like ``numpy.pad(mode="reflect")``), ``before`` and ``after`` it, for pads of any size.

    Examples
    --------
    >>> mirror_index(3, 4, 2).tolist()
    [0, 1, 2, 1, 0, 1, 2, 1, 0]
    """
    i = torch.arange(-before, n + after, device=device)
    if n == 1:
        return torch.zeros_like(i)
    period = 2 * (n - 1)
    i = i.remainder(period)
    return torch.where(i >= n, period - i, i)


def mirror_pad(image: torch.Tensor, top: int, bottom: int, left: int, right: int) -> torch.Tensor:
    """Mirror-pad the last two dimensions of ``image`` (``(..., H, W)``), any pad size."""
    H, W = image.shape[-2:]
    rows = mirror_index(H, top, bottom, image.device)
    cols = mirror_index(W, left, right, image.device)
    return image[..., rows, :][..., :, cols]


def _tiling(model: nn.Module, size: int, tile: int, stride: int | None):
    out = model.output_size(tile)
    if out == tile:
        raise ValueError("overlap-tile needs a valid U-Net (padding=False), whose output is smaller than its input")
    step = 2**model.depth
    if stride is None:
        if out < step:
            raise ValueError(
                f"the {tile}-pixel tile gives a {out}-pixel output, smaller than 2 ** depth = {step}, so "
                f"no stride can keep tiles aligned with the pooling; use a larger tile "
                f"(e.g. {tile + step * -(-(step - out) // step)})"
            )
        stride = out // step * step  # the largest multiple of 2 ** depth that leaves no gap
    if not 0 < stride <= out:
        raise ValueError(f"stride must be between 1 and the output tile {out} (no gaps between tiles), got {stride}")
    n = max(1, math.ceil((size - out) / stride) + 1)
    return out, stride, n


@torch.no_grad()
def overlap_tile_predict(model: nn.Module, image: torch.Tensor, tile: int, stride: int | None = None) -> torch.Tensor:
    """Scores for every pixel of a large image, from a valid U-Net run on ``tile x tile`` pieces.

    Parameters
    ----------
    model : UNet
        A valid U-Net (``padding=False``); run in eval mode (restored after).
    image : (C, H, W) tensor
        Any size.
    tile : int
        Side of the input tiles; a legal input size of the model (``unet_output_size``).
    stride : int, optional
        Distance between tiles, at most the output tile's side. Default: the largest
        multiple of ``2 ** depth`` not above it (384 for the paper's 388), for which the
        result equals :func:`whole_image_predict`.

    Returns
    -------
    scores : (num_classes, H, W) tensor
    """
    if image.dim() != 3:
        raise ValueError(f"image must be (C, H, W), got {tuple(image.shape)}")
    H, W = image.shape[1:]
    out, stride_y, ny = _tiling(model, H, tile, stride)
    _, stride_x, nx = _tiling(model, W, tile, stride)
    margin = (tile - out) // 2
    covered_y, covered_x = (ny - 1) * stride_y + out, (nx - 1) * stride_x + out
    padded = mirror_pad(image, margin, margin + covered_y - H, margin, margin + covered_x - W)
    scores = None
    was_training = model.training
    model.eval()
    try:
        for ty in range(ny):
            for tx in range(nx):
                y, x = ty * stride_y, tx * stride_x
                piece = model(padded[None, :, y : y + tile, x : x + tile])[0]
                if scores is None:
                    scores = piece.new_empty(piece.shape[0], covered_y, covered_x)
                scores[:, y : y + out, x : x + out] = piece  # later tiles overwrite the overlap: no averaging
    finally:
        model.train(was_training)
    return scores[:, :H, :W]


def valid_padding(model: nn.Module, height: int, width: int) -> tuple:
    """Mirror padding ``(top, bottom, left, right)`` that lets a U-Net output at least
    ``height x width``: zeros for a padded U-Net whose sides are legal; for a valid U-Net, the
    margin ``(input - output) / 2`` on every side plus what makes the output size legal.

    Crop the output to ``[:height, :width]``.

    Examples
    --------
    >>> from xaiexit.models import UNet
    >>> valid_padding(UNet(depth=3, base_width=4), 128, 128)     # 220 -> 132 >= 128
    (44, 48, 44, 48)
    """
    pads = []
    for side in (height, width):
        size = side
        while True:
            try:
                out = model.output_size(size)
            except ValueError:
                size += 1
                continue
            if model.padding:
                pads.append((0, size - side))
                break
            margin = (size - out) // 2
            # grow the input until its output covers the side
            grown = size + max(0, side - out)
            if grown != size:
                size = grown
                continue
            pads.append((margin, size - side - margin))
            break
    (top, bottom), (left, right) = pads
    return top, bottom, left, right


def segment(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Scores for every pixel of a batch, in one pass: ``(B, C, H, W) -> (B, K, H, W)``.

    A valid U-Net gets the batch mirror-padded (:func:`valid_padding`); the output is cropped
    to ``H x W``. Gradients flow (use it for training).
    """
    top, bottom, left, right = valid_padding(model, images.shape[-2], images.shape[-1])
    padded = mirror_pad(images, top, bottom, left, right) if top + bottom + left + right else images
    return model(padded)[..., : images.shape[-2], : images.shape[-1]]


@torch.no_grad()
def whole_image_predict(model: nn.Module, image: torch.Tensor) -> torch.Tensor:
    """The whole mirrored image in one forward pass: ``(C, H, W) -> (K, H, W)``.

    The reference :func:`overlap_tile_predict` must equal: the image gets the same mirror
    margin on the top and left (:func:`valid_padding`), so the pooling windows line up with
    those of tiles that start at multiples of ``2 ** depth``, and every kept output pixel sees
    the same mirrored context. Memory grows with the image.
    """
    if image.dim() != 3:
        raise ValueError(f"image must be (C, H, W), got {tuple(image.shape)}")
    was_training = model.training
    model.eval()
    try:
        return segment(model, image[None])[0]
    finally:
        model.train(was_training)
