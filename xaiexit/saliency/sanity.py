r"""Sanity checks for saliency methods: does the map depend on what it should?

Two tests from the literature, and the map comparisons they need:

- **cascading model-parameter randomisation** (Adebayo et al. 2018): re-initialise
  the layers one by one from the output down and compare each map with the original.
  A map that explains the *model* must change as the model is destroyed; a map that
  stays the same only shows the input (edges, say).
- **constant-shift invariance** (Kindermans et al. 2017): a network fed ``x + m``
  whose first layer subtracts what ``m`` adds computes the same function. A method
  that explains the function should give the same map; gradient x input and
  Integrated Gradients with a black baseline do not.

Maps are compared with :func:`spearman_rank_correlation` (do the two maps rank the
pixels alike?) and :func:`ssim_maps` (do they look alike?).

References
----------
.. [1] J. Adebayo, J. Gilmer, M. Muelly, I. Goodfellow, M. Hardt, B. Kim, "Sanity
   Checks for Saliency Maps", NeurIPS 2018, arXiv:1810.03292.
.. [2] P.-J. Kindermans, S. Hooker, J. Adebayo, M. Alber, K. T. Schuett, S. Daehne,
   D. Erhan, B. Kim, "The (Un)reliability of Saliency Methods", 2017, arXiv:1711.00867.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from xaiexit.saliency._common import Target, check_images

Method = Callable[[nn.Module, torch.Tensor, Target], torch.Tensor]
Similarity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


# --- comparing two maps -------------------------------------------------------------------


def average_ranks(values: torch.Tensor) -> torch.Tensor:
    """Rank the values of each row from 1 to n; tied values share their average rank.

    Parameters
    ----------
    values : (B, n) tensor

    Returns
    -------
    ranks : (B, n) float64 tensor
        ``ranks[b, i]`` is 1 for the smallest value of row ``b`` and n for the largest.

    Examples
    --------
    >>> average_ranks(torch.tensor([[10.0, 30.0, 20.0, 30.0]]))
    tensor([[1.0000, 3.5000, 2.0000, 3.5000]], dtype=torch.float64)
    """
    if values.dtype == torch.bool:
        values = values.to(torch.uint8)  # searchsorted has no bool kernel
    values = values.contiguous()  # searchsorted copies (and warns about) a strided input
    ordered, _ = values.sort(dim=1)
    # a value sits after the `below` smaller ones, and its ties fill positions below+1 .. upto
    below = torch.searchsorted(ordered, values, right=False)
    upto = torch.searchsorted(ordered, values, right=True)
    return (below + 1 + upto).double() / 2


def spearman_rank_correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r"""Spearman's rank correlation between two maps of each sample.

    Parameters
    ----------
    a, b : (B, ...) tensors of the same shape
        Maps (attributions or heatmaps); all dimensions after the batch are pooled.

    Returns
    -------
    rho : (B,) float64 tensor
        In [-1, 1]: 1 when both maps order the pixels the same way. A constant map
        has no order, so its correlation is defined as 0 (scipy returns nan).

    Notes
    -----
    The Pearson correlation of the ranks, with tied values given their average rank:

    .. math:: \rho = \frac{\sum_i (r_i - \bar r)(s_i - \bar s)}
              {\sqrt{\sum_i (r_i - \bar r)^2 \sum_i (s_i - \bar s)^2}}

    The shortcut :math:`1 - 6 \sum d_i^2 / (n (n^2 - 1))` is only right without ties;
    saliency maps have many (all the zeros of a ReLU network's gradient, say).

    Examples
    --------
    >>> spearman_rank_correlation(torch.tensor([[1.0, 2.0, 3.0, 4.0]]), torch.tensor([[1.0, 4.0, 9.0, 16.0]]))
    tensor([1.], dtype=torch.float64)
    >>> spearman_rank_correlation(torch.tensor([[1.0, 2.0, 2.0, 3.0]]), torch.tensor([[1.0, 3.0, 2.0, 4.0]]))
    tensor([0.9487], dtype=torch.float64)
    """
    a, b = _pair_of_maps(a, b)
    ra, rb = average_ranks(a), average_ranks(b)
    ra = ra - ra.mean(dim=1, keepdim=True)
    rb = rb - rb.mean(dim=1, keepdim=True)
    norm = (ra.pow(2).sum(dim=1) * rb.pow(2).sum(dim=1)).sqrt()
    rho = (ra * rb).sum(dim=1) / torch.where(norm > 0, norm, torch.ones_like(norm))
    return rho.clamp(-1.0, 1.0)


def ssim_maps(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0, window: int = 7) -> torch.Tensor:
    r"""Structural similarity (SSIM) between two heatmaps of each sample.

    Parameters
    ----------
    a, b : (B, H, W) tensors of the same shape
        Heatmaps, typically scaled to [0, 1] with ``to_heatmap``.
    data_range : float
        The range the maps' values span (1 for heatmaps in [0, 1]).
    window : int
        Side of the square averaging window (7, as in scikit-image).

    Returns
    -------
    ssim : (B,) float64 tensor
        At most 1, reached when the maps are equal.

    Notes
    -----
    For every ``window x window`` patch, with means :math:`\mu`, sample variances
    :math:`\sigma^2` and covariance :math:`\sigma_{ab}`,

    .. math:: \mathrm{SSIM} = \frac{(2 \mu_a \mu_b + C_1)(2 \sigma_{ab} + C_2)}
              {(\mu_a^2 + \mu_b^2 + C_1)(\sigma_a^2 + \sigma_b^2 + C_2)},
              \quad C_1 = (0.01 L)^2,\ C_2 = (0.03 L)^2

    averaged over the patches that lie fully inside the map. This equals
    scikit-image's ``structural_similarity(a, b, data_range=L, win_size=7)``. The
    constants keep flat, dark patches (where both means and variances vanish) from
    dividing zero by zero.

    References
    ----------
    .. [1] Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image Quality
       Assessment: From Error Visibility to Structural Similarity", IEEE TIP 13(4), 2004.

    Examples
    --------
    >>> heat = torch.rand(2, 16, 16)
    >>> ssim_maps(heat, heat)
    tensor([1., 1.], dtype=torch.float64)
    """
    if not isinstance(a, torch.Tensor) or a.dim() != 3:
        raise ValueError(
            f"heatmaps must be shaped (B, H, W), got {_shape(a)}; turn attributions into maps "
            "with to_heatmap(attr) first"
        )
    flat_a, flat_b = _pair_of_maps(a, b)
    a, b = flat_a.double().view(a.shape), flat_b.double().view(a.shape)
    H, W = a.shape[1:]
    if window < 2 or window % 2 == 0 or min(H, W) < window:
        raise ValueError(f"window must be odd, >= 3 and fit the {H}x{W} maps; got {window}")
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    stack = torch.stack([a, b, a * a, b * b, a * b], dim=1)  # (B, 5, H, W)
    mean = F.avg_pool2d(stack, window, stride=1)  # every window fully inside the map
    mu_a, mu_b, aa, bb, ab = mean.unbind(dim=1)
    n = window * window
    unbiased = n / (n - 1)  # sample (co)variances, as scikit-image computes them
    var_a, var_b = unbiased * (aa - mu_a**2), unbiased * (bb - mu_b**2)
    cov = unbiased * (ab - mu_a * mu_b)
    ssim = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return ssim.mean(dim=(1, 2))


# --- cascading randomisation --------------------------------------------------------------


def layers_top_down(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The model's convolution and linear layers, from the output back to the input.

    Returns
    -------
    layers : list of (name, module)
        In reverse order of definition, which is the order of the forward pass for
        sequential models such as ``SmallCNN``.

    Examples
    --------
    >>> [name for name, _ in layers_top_down(SmallCNN(widths=(8, 16)))]
    ['classifier', 'features.block2.0', 'features.block1.0']
    """
    layers = [(name, m) for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    return layers[::-1]


def reinitialize(layer: nn.Module, seed: int) -> nn.Module:
    """Draw a layer's parameters afresh from its default initialisation, reproducibly.

    The new values are drawn in float32 on the CPU from a generator seeded with
    ``seed`` (so the same seed gives the same layer on any device and in any dtype)
    and copied in place.

    Examples
    --------
    >>> a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    >>> torch.equal(reinitialize(a, seed=1).weight, reinitialize(b, seed=1).weight)
    True
    """
    fresh = copy.deepcopy(layer).cpu().float()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh.reset_parameters()
    with torch.no_grad():
        for param, new in zip(layer.parameters(), fresh.parameters()):
            param.copy_(new)
    return layer


def cascading_randomization(
    model: nn.Module,
    x: torch.Tensor,
    target: Target,
    method: Method,
    similarity: Similarity = None,
    seed: int = 0,
) -> torch.Tensor:
    r"""Similarity of each sample's map to the original as layers are randomised top-down.

    Parameters
    ----------
    model : nn.Module
        Classifier returning logits. Never modified: a copy is randomised.
    x : (B, C, H, W) tensor
        Input images.
    target : int, (B,) long tensor or None
        Class explained per sample. ``None`` is resolved once, on the original model,
        so every map explains the same class.
    method : callable
        ``method(model, x, target) -> (B, ...)`` attributions, e.g. ``vanilla_gradient``.
    similarity : callable, optional
        ``similarity(a, b) -> (B,)``. Default: the Spearman rank correlation of the
        absolute values, ``spearman_rank_correlation(a.abs(), b.abs())``.
    seed : int
        Layer ``k`` (1 = the output layer) is re-initialised with ``seed + k``.

    Returns
    -------
    curve : (L + 1, B) tensor
        Row 0 compares the original map with itself; row ``k`` compares it with the
        map after the top ``k`` layers of :func:`layers_top_down` are randomised.

    Notes
    -----
    Randomisation is *cascading*: the layers stay randomised as the next one goes,
    so the last row is a fully random network. Adebayo et al. report that the
    gradient and Grad-CAM decorrelate quickly (they pass), while Guided Backprop
    barely changes (it fails).

    Examples
    --------
    >>> from xaiexit.saliency import vanilla_gradient
    >>> curve = cascading_randomization(SmallCNN(widths=(8, 16)).eval(), torch.rand(2, 3, 32, 32), 0, vanilla_gradient)
    >>> curve.shape, curve[0]
    (torch.Size([4, 2]), tensor([1., 1.], dtype=torch.float64))
    """
    x = check_images(x)
    if similarity is None:
        similarity = _spearman_of_magnitudes
    if target is None:
        with torch.no_grad():
            target = copy.deepcopy(model).eval()(x).argmax(dim=1)
    original = method(model, x, target).detach()
    randomized = copy.deepcopy(model)
    curve = [similarity(original, original)]
    for k, (_, layer) in enumerate(layers_top_down(randomized), start=1):
        reinitialize(layer, seed + k)
        curve.append(similarity(original, method(randomized, x, target).detach()))
    return torch.stack([c.double() for c in curve])


def _spearman_of_magnitudes(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return spearman_rank_correlation(a.abs(), b.abs())


# --- constant-shift invariance ------------------------------------------------------------


class ShiftAbsorbed(nn.Module):
    """A first layer that takes ``x + m`` and computes what ``layer`` computes on ``x``.

    The layer's bias absorbs the shift: ``b' = b - W m``. For a convolution with zero
    padding, ``W m`` is smaller near the image edge (the padding is not shifted), so
    the absorbed term is the layer's response to the constant image ``m`` itself,
    one value per output position.
    """

    def __init__(self, layer: nn.Module, shift: torch.Tensor):
        super().__init__()
        self.layer = layer
        self.register_buffer("shift", shift)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if isinstance(self.layer, nn.Linear):
            # z is the flattened image; a per-channel shift covers H * W features per
            # channel, channel-major, as nn.Flatten lays out (C, H, W)
            m = self.shift.repeat_interleave(z.shape[-1] // self.shift.numel())
            w_m = F.linear(m.view(1, -1), self.layer.weight)  # (1, out)
        else:
            constant = self.shift.view(1, -1, 1, 1).expand(1, z.shape[1], *z.shape[2:])
            w_m = self.layer._conv_forward(constant, self.layer.weight, None)  # (1, out, H', W')
        return self.layer(z) - w_m


def shift_input_layer(model: nn.Module, shift: float | torch.Tensor) -> nn.Module:
    """A copy of ``model`` that expects ``x + shift`` and gives exactly ``model(x)``.

    Parameters
    ----------
    model : nn.Module
        Its first ``nn.Conv2d`` or ``nn.Linear`` (in definition order) takes the input
        (a linear layer after ``nn.Flatten``, which lays the channels out one after another).
    shift : float or (C,) tensor
        The constant added to every pixel (per channel for a tensor).

    Returns
    -------
    shifted : nn.Module
        ``shifted(x + shift) == model(x)`` up to rounding, for every ``x``.

    Examples
    --------
    >>> model = SmallCNN(widths=(8, 16)).eval()
    >>> x = torch.rand(2, 3, 32, 32)
    >>> torch.allclose(shift_input_layer(model, 1.0)(x + 1.0), model(x), atol=1e-5)
    True
    """
    shifted = copy.deepcopy(model)
    first = next(((name, m) for name, m in shifted.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))), None)
    if first is None:
        raise ValueError("the model has no nn.Conv2d or nn.Linear layer to absorb the shift")
    name, layer = first
    weight = layer.weight
    shift = torch.as_tensor(shift, dtype=weight.dtype, device=weight.device).flatten()
    if isinstance(layer, nn.Linear):
        fits = shift.numel() > 0 and layer.in_features % shift.numel() == 0
    else:
        fits = shift.numel() in (1, layer.in_channels)
    if not fits:
        raise ValueError(
            f"a shift of {shift.numel()} values (one per input channel) does not fit the first "
            f"layer {name!r}, {layer}; give a float or one value per input channel"
        )
    parent = shifted.get_submodule(name.rpartition(".")[0]) if "." in name else shifted
    setattr(parent, name.rpartition(".")[2], ShiftAbsorbed(layer, shift))
    return shifted


def constant_shift_test(
    model: nn.Module,
    x: torch.Tensor,
    target: Target,
    method: Method,
    shift: float | torch.Tensor = 1.0,
) -> torch.Tensor:
    r"""How much a method's map changes when the input is shifted and the model absorbs it.

    Parameters
    ----------
    model : nn.Module
        Classifier returning logits; not modified.
    x : (B, C, H, W) tensor
        Input images.
    target : int, (B,) long tensor or None
        Class explained per sample (``None``: predicted by ``model`` on ``x``).
    method : callable
        ``method(model, x, target) -> (B, ...)`` attributions.
    shift : float or (C,) tensor
        The constant ``m`` added to the input.

    Returns
    -------
    change : (B,) tensor
        :math:`\lVert A(f_2, x + m) - A(f_1, x) \rVert / \lVert A(f_1, x) \rVert` per
        sample (0 for an input-invariant method; ``f_2`` is
        :func:`shift_input_layer` of ``f_1``).

    Examples
    --------
    >>> from xaiexit.saliency import gradient_x_input, vanilla_gradient
    >>> model, x = SmallCNN(widths=(8, 16)).eval(), torch.rand(2, 3, 32, 32)
    >>> bool(constant_shift_test(model, x, 0, vanilla_gradient).max() < 1e-3)
    True
    >>> bool(constant_shift_test(model, x, 0, gradient_x_input).min() > 0.1)
    True
    """
    x = check_images(x)
    if target is None:
        with torch.no_grad():
            target = copy.deepcopy(model).eval()(x).argmax(dim=1)
    shifted = shift_input_layer(model, shift)
    m = torch.as_tensor(shift, dtype=x.dtype, device=x.device).flatten()
    m = m.view(1, -1, 1, 1) if m.numel() > 1 else m.view(1, 1, 1, 1)
    original = method(model, x, target).detach().flatten(1)
    moved = method(shifted, x + m, target).detach().flatten(1)
    norm = original.norm(dim=1)
    return (moved - original).norm(dim=1) / torch.where(norm > 0, norm, torch.ones_like(norm))


# --- helpers ------------------------------------------------------------------------------


def _shape(t) -> object:
    return tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__


def _pair_of_maps(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Check two batches of maps; return them flattened to ``(B, n)`` without gradient."""
    for name, t in (("a", a), ("b", b)):
        if not isinstance(t, torch.Tensor) or t.dim() < 2:
            raise ValueError(f"{name} must be a tensor shaped (B, ...) with a batch dimension, got {_shape(t)}")
    if a.shape != b.shape:
        raise ValueError(
            f"the maps must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}; "
            "compare maps of the same method and resolution"
        )
    return a.detach().flatten(1), b.detach().flatten(1).to(a.device)
