"""Where the evidence is, and where an attribution puts it.

Two measurements that a saliency map can be held against:

* :func:`causal_effects`, what a part of the picture *does*: redraw one part of each
  image as the other class would have it (:meth:`SyntheticPets.counterfactual`) and
  measure how far the true class's logit falls. No gradient is involved;
* :func:`region_effects`, the same question for the regions a saliency map is scored
  on: paste the other class's pixels into one region only (the interior, say) and
  measure the fall of the logit;
* :func:`region_shares_with_null`, what share of an attribution falls on a region, next
  to the shares that the same region gets when it is moved to random places in the
  image (an area- and shape-matched control). A region that is 2% of the image gets 2%
  of a uniform map; only a share above the moved copies' says the method favours it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


@torch.no_grad()
def causal_effects(
    model: nn.Module,
    pets,
    index: Sequence[int] | torch.Tensor | None = None,
    parts: Sequence[str] = ("coat", "rim", "shape", "background", "class"),
    batch_size: int = 256,
) -> dict[str, torch.Tensor]:
    r"""Fall of the true class's logit when one part is redrawn as the other class would have it.

    For image :math:`x` with label :math:`y` and its counterfactual :math:`\tilde x_p`
    (part :math:`p` redrawn, everything else kept), the effect is
    :math:`S_y(x) - S_y(\tilde x_p)`: positive when the part held evidence for the true
    class. It is the same logit that the attribution methods explain.

    Parameters
    ----------
    model : nn.Module
        Maps ``(B, 3, H, W)`` to logits ``(B, 2)``; run in eval mode and given back in its mode.
    pets : SyntheticPets
        The images and their counterfactuals.
    index : sequence of int, optional
        Which images (default: all).
    parts : sequence of str
        Any of ``"coat"``, ``"rim"``, ``"shape"``, ``"background"``, ``"class"`` (see
        :meth:`SyntheticPets.counterfactual`).
    batch_size : int
        Images per forward pass.

    Returns
    -------
    effects : dict of str to (N,) tensor
        One float64 tensor on the CPU per part.
    """
    chosen = torch.arange(len(pets)) if index is None else torch.as_tensor(index).long().flatten()
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()

    def true_logits(images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        out = []
        for start in range(0, len(images), batch_size):
            logits = model(images[start : start + batch_size].to(device)).double().cpu()
            out.append(logits.gather(1, labels[start : start + batch_size, None])[:, 0])
        return torch.cat(out)

    labels = pets.labels[chosen]
    clean = true_logits(pets.images[chosen], labels)
    effects = {part: clean - true_logits(pets.counterfactual(part, chosen.tolist()), labels) for part in parts}
    model.train(was_training)
    return effects


@torch.no_grad()
def region_effects(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    counterfactual: torch.Tensor,
    regions: torch.Tensor,
) -> torch.Tensor:
    r"""Fall of the target logit when one region is taken from the counterfactual image.

    Parameters
    ----------
    model : nn.Module
        Maps ``(B, C, H, W)`` to logits ``(B, K)``; run in eval mode, given back in its mode.
    x : (B, C, H, W) tensor
        The images.
    target : (B,) long tensor
        The class whose logit is watched (usually the true class).
    counterfactual : (B, C, H, W) tensor
        The same scenes as the other class would have them
        (``SyntheticPets.counterfactual("class")``).
    regions : (B, R, H, W) bool tensor
        The regions, e.g. :func:`~xaiexit.saliency.metrics.mask_regions`.

    Returns
    -------
    effects : (B, R) float64 tensor
        :math:`S_t(x) - S_t(x_r)`, with :math:`x_r` equal to the counterfactual on region
        :math:`r` and to :math:`x` elsewhere. Positive: the region held evidence for the
        target class. The effects of the regions need not add up to the whole swap's.

    Examples
    --------
    >>> from torch import nn
    >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 1, bias=False))  # S = sum of pixels
    >>> _ = model[1].weight.data.fill_(1.0)
    >>> x, other = torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 2, 2)
    >>> left = torch.tensor([[[True, False], [True, False]]])
    >>> region_effects(model, x, torch.tensor([0]), other, torch.stack([left, ~left], dim=1))
    tensor([[2., 2.]], dtype=torch.float64)
    """
    if x.shape != counterfactual.shape:
        raise ValueError(f"counterfactual {tuple(counterfactual.shape)} must be shaped like x {tuple(x.shape)}")
    if regions.dim() != 4 or regions.shape[0] != x.shape[0] or regions.shape[2:] != x.shape[2:]:
        raise ValueError(f"regions must be (B, R, H, W) with B, H, W of x {tuple(x.shape)}, got {tuple(regions.shape)}")
    was_training = model.training
    model.eval()
    rows = torch.arange(len(x), device=x.device)
    target = target.to(x.device)
    clean = model(x)[rows, target].double()
    effects = []
    for r in range(regions.shape[1]):
        pasted = torch.where(regions[:, r : r + 1].to(x.device), counterfactual.to(x.device), x)
        effects.append(clean - model(pasted)[rows, target].double())
    model.train(was_training)
    return torch.stack(effects, dim=1).cpu()


def region_shares_with_null(
    attributions: torch.Tensor,
    region: torch.Tensor,
    n_shifts: int = 64,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Share of each map's mass on a region, and on randomly moved copies of the region.

    Parameters
    ----------
    attributions : (B, H, W) or (B, C, H, W) tensor
        Saliency; its absolute value is used and channels are summed.
    region : (B, H, W) bool tensor
        The region of each image (e.g. the pet's interior).
    n_shifts : int
        Moved copies per image.
    seed : int
        Seeds the shifts.

    Returns
    -------
    share : (B,) float64 tensor
        :math:`\sum_{ij \in R} |A_{ij}| / \sum_{ij} |A_{ij}|` (0 for an all-zero map).
    null : (B, n_shifts) float64 tensor
        The same share for the region rolled by a random whole-pixel offset (wrapping
        around the image edges, so every copy keeps the region's area and shape exactly).

    Notes
    -----
    The ratio ``share / null.mean(dim=1)`` is the region's **enrichment**: 1 when the
    method puts on the region what it puts anywhere on an equal area of the same shape,
    above 1 when it favours the region, below 1 when it avoids it. Unlike dividing by
    the region's area, the moved copies also match where saliency tends to cluster.

    Examples
    --------
    >>> a = torch.zeros(1, 8, 8)
    >>> a[0, 2:4, 2:4] = 1.0
    >>> region = a.bool()
    >>> share, null = region_shares_with_null(a, region, n_shifts=16)
    >>> share.item(), bool((null <= 1.0).all())
    (1.0, True)
    """
    if not isinstance(attributions, torch.Tensor) or attributions.dim() not in (3, 4):
        raise ValueError("attributions must be a (B, H, W) or (B, C, H, W) tensor")
    a = attributions.detach().double().abs()
    if a.dim() == 4:
        a = a.sum(dim=1)
    if not isinstance(region, torch.Tensor) or region.shape != a.shape:
        raise ValueError(
            f"region must be a bool tensor shaped like the maps {tuple(a.shape)}, got "
            f"{tuple(region.shape) if isinstance(region, torch.Tensor) else type(region).__name__}"
        )
    if isinstance(n_shifts, bool) or not isinstance(n_shifts, int) or n_shifts < 1:
        raise ValueError(f"n_shifts must be a positive integer, got {n_shifts!r}")
    region = region.to(a.device).bool()
    total = a.sum(dim=(1, 2))
    total = torch.where(total > 0, total, torch.ones_like(total))

    def share_of(r: torch.Tensor) -> torch.Tensor:
        return (a * r).sum(dim=(1, 2)) / total

    height, width = a.shape[-2:]
    generator = torch.Generator().manual_seed(seed)
    offsets = torch.stack(
        [
            torch.randint(0, height, (n_shifts,), generator=generator),
            torch.randint(0, width, (n_shifts,), generator=generator),
        ],
        dim=1,
    )
    null = torch.stack([share_of(torch.roll(region, (int(dy), int(dx)), dims=(1, 2))) for dy, dx in offsets], dim=1)
    return share_of(region).cpu(), null.cpu()
