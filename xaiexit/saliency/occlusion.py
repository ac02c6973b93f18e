"""Occlusion: hide a patch, see how much the class score drops."""

from __future__ import annotations

import math

import torch
from torch import nn

from xaiexit.saliency._common import (
    Target,
    baseline_like,
    check_images,
    check_positive,
    default_batch_size,
    frozen_eval,
    resolve_target,
    target_scores,
)

Size = int | tuple[int, int]


def occlusion(
    model: nn.Module,
    x: torch.Tensor,
    target: Target = None,
    window: Size = 8,
    stride: Size = 4,
    baseline: float | torch.Tensor = 0.0,
    batch_size: int | None = None,
) -> torch.Tensor:
    r"""Score drop when a sliding window of the image is replaced by a baseline.

    Parameters
    ----------
    model : nn.Module
        Classifier returning logits ``(B, num_classes)``. It runs in eval mode with
        frozen parameters; its mode and ``requires_grad`` flags are restored after.
    x : (B, C, H, W) tensor
        Input images. Never modified.
    target : int, (B,) long tensor or None
        Class explained per sample; ``None`` uses the predicted class.
    window : int or (int, int)
        Height and width of the occluding patch; it covers all channels.
    stride : int or (int, int)
        Step between patch positions; at most ``window`` so every pixel is covered.
        Positions start at 0 and go on until the patch reaches the border; the last
        patch may stick out and is cut off there.
    baseline : float or tensor
        What the patch is filled with: a value, or a tensor broadcastable to ``x``
        (the patch then copies the matching region of the baseline).
    batch_size : int, optional
        Occluded images per forward pass (at least one patch position of the whole
        batch). Default: as many as keep one chunk under ``CHUNK_BUDGET`` = 2**19
        input numbers.

    Returns
    -------
    attr : (B, C, H, W) tensor
        Shaped like ``x``; equal across channels, since a patch hides all of them.

    Notes
    -----
    For every patch position :math:`p` with mask :math:`M_p` (1 inside the patch),

    .. math:: A_{ij} = \frac{\sum_p M_{p,ij} \big(S_c(x) - S_c(x \odot (1 - M_p) +
              b \odot M_p)\big)}{\sum_p M_{p,ij}}

    that is, each pixel gets the average drop over the patches covering it. This is
    Captum's ``Occlusion`` with ``sliding_window_shapes=(C, h, w)`` and
    ``strides=(C, s, s)``. No gradients are used; the cost is one forward pass per
    patch position.

    References
    ----------
    .. [1] M. D. Zeiler, R. Fergus, "Visualizing and Understanding Convolutional
       Networks", ECCV 2014, arXiv:1311.2901.

    Examples
    --------
    >>> model = SmallCNN().eval()
    >>> attr = occlusion(model, torch.rand(2, 3, 64, 64), target=1, window=8, stride=4)
    >>> attr.shape
    torch.Size([2, 3, 64, 64])
    """
    x = check_images(x)
    B, C, H, W = x.shape
    h, w = _pair(window, "window")
    sh, sw = _pair(stride, "stride")
    if h > H or w > W:
        raise ValueError(f"window {(h, w)} is larger than the image {(H, W)}; use a smaller window")
    if (sh > h and h < H) or (sw > w and w < W):
        raise ValueError(f"stride {(sh, sw)} is larger than window {(h, w)}: some pixels would never be occluded")
    batch_size = default_batch_size(x) if batch_size is None else check_positive(batch_size, "batch_size")
    baseline = baseline_like(baseline, x)

    # top changes fastest, the order Captum uses, so sums are added up in the same order
    positions = [(top, left) for left in _starts(W, w, sw) for top in _starts(H, h, sh)]
    per_chunk = max(1, batch_size // B)  # patch positions per forward pass
    total = torch.zeros(B, 1, H, W, dtype=x.dtype, device=x.device)  # summed score drops
    count = torch.zeros(1, 1, H, W, dtype=x.dtype, device=x.device)  # patches covering each pixel
    with frozen_eval(model), torch.no_grad():
        target = resolve_target(model, x, target)
        clean = target_scores(model(x), target)  # (B,)
        for first in range(0, len(positions), per_chunk):
            chunk = positions[first : first + per_chunk]
            occluded = x.repeat(len(chunk), 1, 1, 1).view(len(chunk), B, C, H, W)
            for i, (top, left) in enumerate(chunk):
                patch = (slice(None), slice(None), slice(top, top + h), slice(left, left + w))
                occluded[i][patch] = baseline[patch]
            scores = target_scores(model(occluded.view(-1, C, H, W)), target.repeat(len(chunk)))
            drops = clean - scores.view(len(chunk), B)  # (patches, B)
            for i, (top, left) in enumerate(chunk):
                total[:, :, top : top + h, left : left + w] += drops[i].view(B, 1, 1, 1)
                count[:, :, top : top + h, left : left + w] += 1
    return (total / count).expand(B, C, H, W).clone()


def _starts(size: int, window: int, stride: int) -> list[int]:
    """First index of every patch along one axis, as in Captum: ceil((size - window) / stride) + 1 of them."""
    return [k * stride for k in range(math.ceil((size - window) / stride) + 1)]


def _pair(value: Size, name: str) -> tuple[int, int]:
    """``4 -> (4, 4)``; ``(4, 2) -> (4, 2)``; both entries must be integers >= 1."""
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2:
        raise ValueError(f"{name} must be an int or a (height, width) pair, got {value!r}")
    return check_positive(pair[0], name), check_positive(pair[1], name)
