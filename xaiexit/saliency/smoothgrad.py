"""SmoothGrad and VarGrad: average gradients over noisy copies of the input."""

from __future__ import annotations

import torch
from torch import nn

from xaiexit.saliency._common import (
    Target,
    check_images,
    check_positive,
    default_batch_size,
    frozen_eval,
    input_gradients,
    resolve_target,
)

KINDS = ("smoothgrad", "smoothgrad_sq", "vargrad")


def smoothgrad(
    model: nn.Module,
    x: torch.Tensor,
    target: Target = None,
    n: int = 50,
    noise: float = 0.15,
    kind: str = "smoothgrad",
    abs: bool = True,
    batch_size: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Average the input gradient over ``n`` noisy copies of each image.

    Parameters
    ----------
    model : nn.Module
        Classifier returning logits ``(B, num_classes)``. It runs in eval mode with
        frozen parameters; its mode and ``requires_grad`` flags are restored after.
    x : (B, C, H, W) tensor
        Input images. Never modified.
    target : int, (B,) long tensor or None
        Class explained per sample; ``None`` uses the class predicted for the clean
        image (not for the noisy copies).
    n : int
        Noisy copies per image.
    noise : float
        Noise level relative to each image's value range: the standard deviation is
        :math:`\sigma = \text{noise} \cdot (\max x - \min x)`, computed per sample.
        The paper finds 0.1 to 0.2 works well.
    kind : {"smoothgrad", "smoothgrad_sq", "vargrad"}
        Mean of the gradients, mean of their squares, or their variance.
    abs : bool
        Take ``|gradient|`` of every noisy copy before averaging (like Captum's
        ``NoiseTunnel(Saliency(model))``).
    batch_size : int, optional
        Noisy images per forward/backward pass. The ``n * B`` copies are processed
        in chunks of this size, so memory stays bounded whatever ``n`` is. Default:
        as many as keep one chunk under ``CHUNK_BUDGET`` = 2**19 input numbers (42
        images of 3x64x64).
    generator : torch.Generator, optional
        Source of the noise, on ``x``'s device; default is torch's global generator.

    Returns
    -------
    attr : (B, C, H, W) tensor
        Shaped like ``x``.

    Notes
    -----
    With :math:`g_j = \nabla_x S_c(x + \epsilon_j)`, :math:`\epsilon_j \sim
    \mathcal{N}(0, \sigma^2 I)`:

    .. math:: \text{SmoothGrad} = \frac{1}{n} \sum_j g_j, \qquad
              \text{SmoothGrad}_{sq} = \frac{1}{n} \sum_j g_j^2, \qquad
              \text{VarGrad} = \frac{1}{n} \sum_j g_j^2 - \Big(\frac{1}{n} \sum_j g_j\Big)^2

    Copies are ordered sample by sample (copy ``i`` belongs to sample ``i // n``),
    the same order in which Captum's ``NoiseTunnel`` draws its noise (with its
    default ``nt_samples_batch_size=None``). On CPU, torch draws normal numbers in
    blocks of 16, so when ``C * H * W`` is a multiple of 16 (as for usual image
    sizes) a seeded generator gives the same noise, and the same result, for any
    ``batch_size``.

    References
    ----------
    .. [1] D. Smilkov, N. Thorat, B. Kim, F. Viegas, M. Wattenberg, "SmoothGrad:
       removing noise by adding noise", arXiv:1706.03825, 2017.
    .. [2] J. Adebayo, J. Gilmer, I. Goodfellow, B. Kim, "Local Explanation Methods
       for Deep Neural Networks Lack Sensitivity to Parameter Values",
       arXiv:1810.03307, 2018 (VarGrad).

    Examples
    --------
    >>> model = SmallCNN().eval()
    >>> attr = smoothgrad(model, torch.rand(2, 3, 64, 64), target=1, n=20)
    >>> attr.shape
    torch.Size([2, 3, 64, 64])
    """
    x = check_images(x)
    check_positive(n, "n")
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {KINDS}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0 (a fraction of the value range, e.g. 0.15), got {noise}")
    batch_size = default_batch_size(x) if batch_size is None else check_positive(batch_size, "batch_size")

    copies = n * x.shape[0]
    sigma = noise * (x.amax(dim=(1, 2, 3)) - x.amin(dim=(1, 2, 3)))  # (B,), one per sample
    total = torch.zeros_like(x)
    total_sq = torch.zeros_like(x)
    with frozen_eval(model):
        target = resolve_target(model, x, target)
        for start in range(0, copies, batch_size):
            sample = torch.arange(start, min(start + batch_size, copies), device=x.device) // n
            eps = torch.randn((len(sample), *x.shape[1:]), generator=generator, device=x.device, dtype=x.dtype)
            noisy = x[sample] + sigma[sample].view(-1, 1, 1, 1) * eps
            grad = input_gradients(model, noisy, target[sample])
            if abs:
                grad = grad.abs()
            total.index_add_(0, sample, grad)  # add each copy's gradient to its own sample
            total_sq.index_add_(0, sample, grad * grad)

    mean, mean_sq = total / n, total_sq / n
    if kind == "smoothgrad":
        return mean
    if kind == "smoothgrad_sq":
        return mean_sq
    return mean_sq - mean * mean  # vargrad: the variance of the gradients
