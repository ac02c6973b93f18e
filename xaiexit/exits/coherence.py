"""Do two saliency maps agree? Cosine similarity and SSIM between the maps of two exits.

Exits see the image at different resolutions (an 8x8 map after block 2, a 4x4 one at the
end), so both measures first bring the two maps to a common size
(:func:`resize_to_common`: bilinear, to the larger of the two sizes).

:func:`coherence_scores` compares every side exit's map with the *previous* exit's map
(known when the sample reaches the exit: usable at inference) or with the *final* exit's
map (known only after the whole network ran: an oracle's view, saving nothing).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from xaiexit.saliency import sanity


def _check_pair(a: torch.Tensor, b: torch.Tensor) -> None:
    for name, m in (("a", a), ("b", b)):
        if not isinstance(m, torch.Tensor) or m.dim() != 3:
            shape = tuple(m.shape) if isinstance(m, torch.Tensor) else type(m).__name__
            raise ValueError(f"{name} must be a (B, H, W) tensor of maps, got {shape}")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"a holds {a.shape[0]} maps and b {b.shape[0]}; compare the maps of the same samples")


def resize_to_common(a: torch.Tensor, b: torch.Tensor) -> tuple:
    """Bring two batches of maps to one size: ``(B, h1, w1), (B, h2, w2) -> two (B, H, W)``.

    ``H = max(h1, h2)``, ``W = max(w1, w2)``; a map of another size is resized bilinearly
    (``align_corners=False``, so pixel centres line up as in ``F.interpolate``); a map
    already at ``(H, W)`` is returned as it is. Both come back in float64.

    Examples
    --------
    >>> a, b = resize_to_common(torch.ones(2, 8, 8), torch.ones(2, 4, 4))
    >>> tuple(a.shape), tuple(b.shape)
    ((2, 8, 8), (2, 8, 8))
    """
    _check_pair(a, b)
    size = (max(a.shape[1], b.shape[1]), max(a.shape[2], b.shape[2]))

    def resized(m):
        m = m.double()
        if tuple(m.shape[1:]) == size:
            return m
        return F.interpolate(m[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]

    return resized(a), resized(b)


def cosine_similarity_maps(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r"""Cosine of the angle between each pair of maps, seen as vectors: ``(B,)`` float64.

    .. math:: \cos(a, b) = \frac{\sum_i a_i b_i}{\lVert a \rVert \, \lVert b \rVert}

    after :func:`resize_to_common`. 1 for maps equal up to a positive factor, 0 for maps
    with no overlap; blind to each map's scale. A pair with an all-zero map scores 0
    (nothing to agree on).

    Examples
    --------
    >>> a = torch.rand(3, 6, 6)
    >>> cosine_similarity_maps(a, 5 * a).allclose(torch.ones(3, dtype=torch.float64))
    True
    >>> left = torch.zeros(1, 4, 4); left[0, :, :2] = 1.0
    >>> cosine_similarity_maps(left, 1 - left)                  # no overlap
    tensor([0.], dtype=torch.float64)
    """
    a, b = resize_to_common(a, b)
    a, b = a.flatten(1), b.flatten(1)
    norms = a.norm(dim=1) * b.norm(dim=1)
    cos = (a * b).sum(dim=1) / norms.clamp(min=torch.finfo(torch.float64).tiny)
    return torch.where(norms > 0, cos, torch.zeros_like(cos))


def ssim_maps(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0, window: int = 7) -> torch.Tensor:
    r"""Structural similarity of each pair of maps, after :func:`resize_to_common`: ``(B,)``.

    The mean over every ``window x window`` patch lying fully inside the maps of

    .. math:: \frac{(2 \mu_a \mu_b + C_1)(2 \sigma_{ab} + C_2)}
              {(\mu_a^2 + \mu_b^2 + C_1)(\sigma_a^2 + \sigma_b^2 + C_2)},
              \quad C_1 = (0.01 L)^2,\ C_2 = (0.03 L)^2,

    with the patch means :math:`\mu`, *sample* variances and covariance (divided by
    ``n - 1``, ``n = window**2``) and ``L = data_range``. Equal to scikit-image's
    ``structural_similarity(a, b, data_range=L, win_size=window)`` map by map.

    Scale maps to [0, 1] first (:func:`normalize_maps`) and keep ``data_range=1``: unlike
    the cosine, SSIM compares brightness and contrast, not only the pattern.

    Examples
    --------
    >>> a = torch.rand(2, 8, 8)
    >>> ssim_maps(a, a)
    tensor([1., 1.], dtype=torch.float64)
    """
    a, b = resize_to_common(a, b)
    if min(a.shape[1:]) < window:
        raise ValueError(
            f"maps of {a.shape[1]}x{a.shape[2]} are smaller than the {window}x{window} SSIM window; upsample both "
            f"first (F.interpolate(maps[:, None], size=(16, 16), mode='bilinear')[:, 0]) or use a smaller odd window"
        )
    return sanity.ssim_maps(a, b, data_range=data_range, window=window)


def normalize_maps(maps: torch.Tensor) -> torch.Tensor:
    """Each map divided by its maximum: ``(B, H, W)`` non-negative -> values in [0, 1].
    An all-zero map stays zero.

    Examples
    --------
    >>> normalize_maps(torch.tensor([[[1.0, 4.0]], [[0.0, 0.0]]]))
    tensor([[[0.2500, 1.0000]],
    <BLANKLINE>
            [[0.0000, 0.0000]]])
    """
    top = maps.flatten(1).amax(dim=1).clamp(min=torch.finfo(maps.dtype).tiny)
    return maps / top[:, None, None]


def coherence_scores(
    maps_per_exit: Sequence[torch.Tensor],
    reference: str = "previous",
    similarity=cosine_similarity_maps,
) -> torch.Tensor:
    """Agreement of each exit's map with another exit's map: ``(E - 1, B)`` float64.

    Parameters
    ----------
    maps_per_exit : list of E tensors ``(B, h_k, w_k)``
        The same samples' maps at every exit, earliest first (resolutions may differ).
    reference : ``"previous"`` or ``"final"``
        ``"previous"``: row ``j`` compares exit ``j + 1`` with exit ``j`` (what a sample
        at exit ``j + 1`` already knows: usable at inference). ``"final"``: row ``j``
        compares side exit ``j`` with the final exit (needs the whole network).
    similarity : callable ``(a, b) -> (B,)``
        :func:`cosine_similarity_maps` (default) or, for instance,
        ``lambda a, b: ssim_maps(normalize_maps(a), normalize_maps(b))``.

    Examples
    --------
    >>> maps = [torch.rand(4, 8, 8), torch.rand(4, 4, 4), torch.rand(4, 4, 4)]
    >>> tuple(coherence_scores(maps).shape), tuple(coherence_scores(maps, "final").shape)
    ((2, 4), (2, 4))
    >>> bool((coherence_scores(maps)[1] == cosine_similarity_maps(maps[2], maps[1])).all())
    True
    """
    if len(maps_per_exit) < 2:
        raise ValueError(f"coherence needs the maps of at least 2 exits, got {len(maps_per_exit)}")
    if reference == "previous":
        pairs = [(maps_per_exit[k], maps_per_exit[k - 1]) for k in range(1, len(maps_per_exit))]
    elif reference == "final":
        pairs = [(maps_per_exit[k], maps_per_exit[-1]) for k in range(len(maps_per_exit) - 1)]
    else:
        raise ValueError(f"reference must be 'previous' or 'final', got {reference!r}")
    return torch.stack([similarity(a, b) for a, b in pairs])
