"""Saliency at an exit, two ways, and what each costs.

An exit head is ``conv -> pool -> linear`` (the final head has no conv). Two maps explain
the class the exit predicts:

- **CAM** (Zhou et al. 2016), forward only: the head's feature map :math:`A`
  ``(B, C, h, w)`` weighted by the classifier's row of that class,
  :math:`\\mathrm{ReLU}(\\sum_c W_{kc} A_c)`. Because pooling and the classifier are
  linear, the exit's logit is the spatial mean of this map (before the ReLU) plus the
  bias: the map *is* the evidence, pixel by pixel, with no backward pass.
- **Grad-CAM** (Selvaraju et al. 2017) on the features the exit receives (the block's
  output): a backward pass through the head, its conv included. On the head's own feature
  map Grad-CAM would give CAM again (divided by ``h * w``): the gradient of a mean is
  constant over positions. Taken one layer earlier it is a different, finer map.

:func:`saliency_macs` counts what each costs per image, with the conventions of
:mod:`xaiexit.exits.macs`: a backward conv costs the MACs of the forward one (the
transposed convolution it is), and element-wise steps (ReLU, batch norm) are free.

References
----------
.. [1] B. Zhou, A. Khosla, A. Lapedriza, A. Oliva, A. Torralba, "Learning Deep Features
   for Discriminative Localization", CVPR 2016, arXiv:1512.04150.
.. [2] R. R. Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via
   Gradient-based Localization", ICCV 2017, arXiv:1610.02391.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from xaiexit.exits.macs import count_macs
from xaiexit.models.early_exit import EarlyExitCNN, Exit

METHODS = ("cam", "grad_cam")


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def exit_maps(head: Exit, features: torch.Tensor, method: str = "cam") -> tuple[torch.Tensor, torch.Tensor]:
    """An exit's logits and its map of the class it predicts.

    Parameters
    ----------
    head : Exit
        One exit head of an ``EarlyExitCNN`` (``model.exits["exit1"]``, ...).
    features : (B, C_in, H, W) tensor
        What the head receives: the output of the block it follows.
    method : ``"cam"`` or ``"grad_cam"``
        ``"cam"``: forward only, on the head's feature map ``(B, h, w)``;
        ``"grad_cam"``: gradients back through the head, on ``features`` ``(B, H, W)``.

    Returns
    -------
    logits : (B, K) tensor
        The exit's logits (exactly ``head(features)``), detached.
    maps : (B, h, w) or (B, H, W) tensor
        Non-negative maps of each sample's predicted class, detached.
    """
    _check_method(method)
    if method == "cam":
        with torch.no_grad():
            A = head.conv(features)  # (B, C, h, w)
            logits = head.classifier(head.pool(A).flatten(1))
            weights = head.classifier.weight[logits.argmax(dim=1)]  # (B, C): the predicted class's row
            cam = torch.einsum("bc,bchw->bhw", weights, A)
        return logits, cam.clamp(min=0)
    with torch.enable_grad():
        f = features.detach().requires_grad_(True)
        logits = head(f)
        chosen = logits.gather(1, logits.argmax(dim=1, keepdim=True)).sum()
        (grad,) = torch.autograd.grad(chosen, f)
    alpha = grad.mean(dim=(2, 3), keepdim=True)  # (B, C_in, 1, 1)
    return logits.detach(), (alpha * f.detach()).sum(dim=1).clamp(min=0)


def saliency_at_exits(
    model: EarlyExitCNN, x: torch.Tensor, method: str = "cam", batch_size: int = 256
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Every exit's logits and maps for a set of images (all exits computed: for analysis
    and for sweeping thresholds, not for saving compute).

    Parameters
    ----------
    model : EarlyExitCNN
        Run in eval mode (restored after).
    x : (N, C, H, W) tensor
    method : ``"cam"`` or ``"grad_cam"``
    batch_size : int
        Images per forward pass.

    Returns
    -------
    logits_per_exit : list of (N, K) tensors, on the CPU
    maps_per_exit : list of (N, h_k, w_k) tensors, on the CPU

    Examples
    --------
    >>> model = EarlyExitCNN(widths=(8, 16, 32), exits_after=(1,), branch_width=8)
    >>> logits, maps = saliency_at_exits(model, torch.rand(5, 3, 32, 32))
    >>> [tuple(m.shape) for m in maps]        # CAM on exit1.conv (8x8) and on block 3 (4x4)
    [(5, 8, 8), (5, 4, 4)]
    """
    _check_method(method)
    device = next(model.parameters()).device
    logits_parts = [[] for _ in range(model.num_exits)]
    maps_parts = [[] for _ in range(model.num_exits)]
    was_training = model.training
    model.eval()
    try:
        heads = list(model.exits.values())
        for start in range(0, len(x), batch_size):
            h, k = x[start : start + batch_size].to(device), 0
            for i, block in enumerate(model.features, start=1):
                with torch.no_grad():
                    h = block(h)
                if i in model.exit_blocks:
                    logits, maps = exit_maps(heads[k], h, method)
                    logits_parts[k].append(logits.cpu())
                    maps_parts[k].append(maps.cpu())
                    k += 1
    finally:
        model.train(was_training)
    return [torch.cat(p) for p in logits_parts], [torch.cat(p) for p in maps_parts]


@torch.no_grad()
def _head_shapes(model: EarlyExitCNN, input_shape: Sequence[int]) -> list:
    """For every exit: ``((C_in, H, W), (C, h, w))``, what the head receives and its own feature map."""
    shapes = {}
    hooks = []
    for name, head in model.exits.items():

        def hook(module, args, output, name=name):
            shapes[name] = (tuple(args[0].shape[1:]), tuple(module.conv(args[0]).shape[1:]))

        hooks.append(head.register_forward_hook(hook))
    param = next(model.parameters())
    was_training = model.training
    model.eval()
    try:
        model(torch.zeros(1, *input_shape, device=param.device, dtype=param.dtype))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return [shapes[name] for name in model.exits]


def exit_map_sizes(model: EarlyExitCNN, input_shape: Sequence[int], method: str = "cam") -> list:
    """``(h, w)`` of every exit's map: the head's feature map for CAM, the features it
    receives for Grad-CAM.

    Examples
    --------
    >>> model = EarlyExitCNN(widths=(8, 16), exits_after=(1,), branch_width=4)
    >>> exit_map_sizes(model, (3, 16, 16), "cam"), exit_map_sizes(model, (3, 16, 16), "grad_cam")
    ([(4, 4), (4, 4)], [(8, 8), (4, 4)])
    """
    _check_method(method)
    return [(h, w) if method == "cam" else (H, W) for (_, H, W), (_, h, w) in _head_shapes(model, input_shape)]


def saliency_macs(model: EarlyExitCNN, input_shape: Sequence[int], method: str = "cam") -> torch.Tensor:
    """MACs per image of one exit's map, for every exit: ``(num_exits,)`` float64.

    With ``C x h x w`` the head's feature map (after its conv) and ``C_in x H x W`` the
    features it receives:

    - ``"cam"``: ``C h w`` (one weighted sum over channels per position, for the one
      predicted class);
    - ``"grad_cam"``: the backward pass through the head - the classifier row (``C``),
      the average pooling (``C h w``), the head's conv (its forward MACs, 0 for the final
      head, which has none) - then the channel weights (``C_in H W`` to average the
      gradients) and the weighted sum (``C_in H W``).

    Examples
    --------
    >>> model = EarlyExitCNN(widths=(8, 16), exits_after=(1,), branch_width=4)
    >>> saliency_macs(model, (3, 16, 16))       # 4 x 4 x 4 on exit1.conv, 16 x 4 x 4 at the end
    tensor([ 64., 256.], dtype=torch.float64)
    """
    _check_method(method)
    costs = []
    for head, ((c_in, H, W), (c, h, w)) in zip(model.exits.values(), _head_shapes(model, input_shape)):
        if method == "cam":
            costs.append(c * h * w)
            continue
        conv_macs = 0 if isinstance(head.conv, nn.Identity) else sum(count_macs(head.conv, (c_in, H, W)).values())
        costs.append(c + c * h * w + conv_macs + 2 * c_in * H * W)
    return torch.tensor(costs, dtype=torch.float64)
