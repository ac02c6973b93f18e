"""The U-Net loss: a pixel-wise weighted cross-entropy that makes the borders between
touching cells count.

Two touching cells are only told apart by the thin line of background between them. Those
few pixels are a tiny share of the loss, so a network learns to merge the cells. U-Net's
weight map (Ronneberger et al. 2015, eq. 2) raises their weight:

.. math:: w(x) = w_c(x) + w_0 \\exp\\left(-\\frac{(d_1(x) + d_2(x))^2}{2 \\sigma^2}\\right)

with :math:`d_1, d_2` the distances from pixel :math:`x` to the nearest and the second
nearest cell, and :math:`w_c` a weight that balances the class frequencies.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage


def class_balance_weights(labels: np.ndarray) -> np.ndarray:
    """``w_c``: each pixel weighted by ``N / (2 N_c)``, the inverse frequency of its class
    (two classes: foreground = any cell, background = 0), so both classes weigh the same in
    total. An image with one class only gets weights 1.

    Examples
    --------
    >>> class_balance_weights(np.array([[0, 0, 0, 1]]))
    array([[0.66666667, 0.66666667, 0.66666667, 2.        ]])
    """
    foreground = np.asarray(labels) > 0
    n, n_fg = foreground.size, int(foreground.sum())
    if n_fg in (0, n):
        return np.ones(foreground.shape)
    return np.where(foreground, n / (2.0 * n_fg), n / (2.0 * (n - n_fg)))


def border_term(instance_labels: np.ndarray, w0: float = 10.0, sigma: float = 5.0) -> np.ndarray:
    """``w0 exp(-(d1 + d2)^2 / (2 sigma^2))`` on background pixels, 0 on cells.

    ``d1`` and ``d2`` are the Euclidean distances (in pixels) to the nearest pixel of the
    nearest and of the second-nearest cell. With fewer than two cells there is no border to
    separate: the term is 0 everywhere.

    Examples
    --------
    >>> labels = np.zeros((1, 5), dtype=int); labels[0, 0:2] = 1; labels[0, 3:5] = 2
    >>> bool(np.isclose(border_term(labels)[0, 2], 10 * np.exp(-4 / 50)))   # the one-pixel gap: d1 = d2 = 1
    True
    """
    labels = np.asarray(instance_labels)
    ids = [i for i in np.unique(labels) if i > 0]
    if len(ids) < 2:
        return np.zeros(labels.shape)
    # distance from every pixel to the nearest pixel of each cell: (n_cells, H, W)
    distances = np.stack([ndimage.distance_transform_edt(labels != i) for i in ids])
    distances.sort(axis=0)
    d1, d2 = distances[0], distances[1]
    term = w0 * np.exp(-((d1 + d2) ** 2) / (2.0 * sigma**2))
    return np.where(labels == 0, term, 0.0)


def weight_map(
    instance_labels: np.ndarray | torch.Tensor,
    w0: float = 10.0,
    sigma: float = 5.0,
    class_weights: str | None = "balanced",
) -> torch.Tensor:
    """U-Net's per-pixel loss weights for one image: ``(H, W)`` labels -> ``(H, W)`` float32.

    Parameters
    ----------
    instance_labels : (H, W) integer array or tensor
        0 for background, ``1, 2, ...`` for each cell (an instance label image).
    w0 : float
        Height of the border term (10 in the paper).
    sigma : float
        Width of the border term in pixels (about 5 in the paper).
    class_weights : ``"balanced"`` or None
        ``"balanced"``: ``w_c`` from :func:`class_balance_weights`; None: ``w_c = 1``.

    Returns
    -------
    weights : (H, W) float32 tensor
        ``w_c + border_term`` (:func:`border_term`: only background pixels between
        cells get it).

    Examples
    --------
    >>> labels = np.zeros((1, 5), dtype=int); labels[0, 0:2] = 1; labels[0, 3:5] = 2
    >>> weight_map(labels, class_weights=None)
    tensor([[ 1.0000,  1.0000, 10.2312,  1.0000,  1.0000]])
    """
    labels = instance_labels.cpu().numpy() if isinstance(instance_labels, torch.Tensor) else np.asarray(instance_labels)
    if labels.ndim != 2:
        raise ValueError(
            f"instance_labels must be one (H, W) label image, got shape {labels.shape}; "
            "compute the weights image by image"
        )
    if not np.issubdtype(labels.dtype, np.integer) or (labels < 0).any():
        raise ValueError("instance_labels must hold integers >= 0 (0 background, 1, 2, ... one per cell)")
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    if class_weights == "balanced":
        wc = class_balance_weights(labels)
    elif class_weights is None:
        wc = np.ones(labels.shape)
    else:
        raise ValueError(f"class_weights must be 'balanced' or None, got {class_weights!r}")
    return torch.from_numpy((wc + border_term(labels, w0, sigma)).astype(np.float32))


def weighted_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Pixel-wise softmax cross-entropy, each pixel weighted: a scalar.

    .. math:: E = \\frac{1}{N} \\sum_{x} w(x) \\left(-\\ln \\mathrm{softmax}(z(x))_{\\ell(x)}\\right)

    the mean over all ``N`` pixels of the batch, so that ``weights=None`` (all ones) is
    ``F.cross_entropy(logits, target)``.

    Parameters
    ----------
    logits : (B, K, H, W) tensor
    target : (B, H, W) long tensor of class indices
    weights : (B, H, W) tensor, optional

    Examples
    --------
    >>> logits, target = torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long)
    >>> weighted_cross_entropy(logits, target, torch.full((1, 2, 2), 2.0))   # 2 ln 2
    tensor(1.3863)
    """
    if logits.dim() != 4 or target.dim() != 3:
        raise ValueError(
            f"logits must be (B, K, H, W) and target (B, H, W), got {tuple(logits.shape)} and {tuple(target.shape)}"
        )
    if logits.shape[-2:] != target.shape[-2:]:
        raise ValueError(
            f"logits are {tuple(logits.shape[-2:])} but the target is {tuple(target.shape[-2:])}: a valid U-Net's "
            "output is smaller than its input; crop the target (and the weights) with center_crop first"
        )
    per_pixel = F.cross_entropy(logits, target.long(), reduction="none")
    if weights is not None:
        if weights.shape != per_pixel.shape:
            raise ValueError(
                f"weights must be shaped like the target {tuple(per_pixel.shape)}, got {tuple(weights.shape)}"
            )
        per_pixel = per_pixel * weights
    return per_pixel.mean()
