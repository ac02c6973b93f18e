"""Grad-CAM: weight a layer's feature maps by how much the class score needs them."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from xaiexit.saliency._common import Target, check_images, frozen_eval, resolve_target, target_scores


def find_layer(model: nn.Module, layer: str | nn.Module) -> nn.Module:
    """Resolve ``layer`` to a submodule of ``model``.

    A module is returned as is. A name is looked up exactly
    (``model.get_submodule("features.block3")``); failing that, the unique submodule
    whose qualified name ends with ``"." + layer`` is used, so ``"block3"`` finds
    ``"features.block3"``.
    """
    if isinstance(layer, nn.Module):
        return layer
    if not isinstance(layer, str):
        raise TypeError(f"layer must be a module name (str) or an nn.Module, got {type(layer).__name__}")
    names = [name for name, _ in model.named_modules() if name]
    if layer in names:
        return model.get_submodule(layer)
    matches = [name for name in names if name.endswith("." + layer)]
    if len(matches) == 1:
        return model.get_submodule(matches[0])
    if len(matches) > 1:
        raise ValueError(f"layer name {layer!r} is ambiguous, it matches {matches}; give the full name")
    raise ValueError(f"model has no layer named {layer!r}; available names: {names}")


def grad_cam(
    model: nn.Module,
    x: torch.Tensor,
    target: Target = None,
    layer: str | nn.Module = "block3",
    relu: bool = True,
    upsample: bool = True,
) -> torch.Tensor:
    r"""Class activation map of a convolutional layer, weighted by pooled gradients.

    Parameters
    ----------
    model : nn.Module
        Classifier returning logits ``(B, num_classes)``. It runs in eval mode with
        frozen parameters; its mode and ``requires_grad`` flags are restored after.
    x : (B, C, H, W) tensor
        Input images. Never modified.
    target : int, (B,) long tensor or None
        Class explained per sample; ``None`` uses the predicted class.
    layer : str or nn.Module
        Layer whose output :math:`A` (shaped ``(B, K, h, w)``) is explained: a module,
        a full name such as ``"features.block3"`` or a unique name ending such as
        ``"block3"`` or ``"layer4"`` (see :func:`find_layer`). Usually the last
        convolutional block.
    relu : bool
        Keep only the positive evidence for the class, as in the paper.
    upsample : bool
        Resize the map bilinearly (``align_corners=False``) to the input's ``(H, W)``.

    Returns
    -------
    cam : (B, H, W) tensor, or (B, h, w) with ``upsample=False``
        One map per image (channels are summed away).

    Notes
    -----
    .. math:: \alpha_k = \frac{1}{hw} \sum_{i,j} \frac{\partial S_c}{\partial A_{k,ij}},
              \qquad L = \mathrm{ReLU}\Big(\sum_k \alpha_k A_k\Big)

    Only the part of the network after ``layer`` is differentiated: the hook below
    detaches the activation, so everything before it is treated as a constant.

    References
    ----------
    .. [1] R. R. Selvaraju, M. Cogswell, A. Das, R. Vedantam, D. Parikh, D. Batra,
       "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based
       Localization", ICCV 2017, arXiv:1610.02391.

    Examples
    --------
    >>> model = SmallCNN().eval()
    >>> cam = grad_cam(model, torch.rand(2, 3, 64, 64), target=1, layer="block3")
    >>> cam.shape
    torch.Size([2, 64, 64])
    """
    x = check_images(x)
    module = find_layer(model, layer)
    saved = {}

    def keep_activation(module, inputs, output):
        if not isinstance(output, torch.Tensor):
            raise TypeError(f"grad_cam needs a layer that returns one tensor, {type(module).__name__} does not")
        # Cut the graph here: A becomes a leaf we can differentiate with respect to.
        saved["A"] = output.detach().requires_grad_(True)
        # The rest of the forward pass continues from a copy, so that an in-place
        # operation after the layer (e.g. ReLU(inplace=True)) cannot change A.
        return saved["A"].clone()

    with frozen_eval(model):
        target = resolve_target(model, x, target)
        handle = module.register_forward_hook(keep_activation)
        try:
            with torch.enable_grad():
                scores = target_scores(model(x), target)
                if "A" not in saved:
                    raise ValueError(f"layer {layer!r} was not used in the forward pass of the model")
                activation = saved["A"]
                (grad,) = torch.autograd.grad(scores.sum(), activation)
        finally:
            handle.remove()

    if activation.dim() != 4:
        raise ValueError(f"grad_cam needs a layer with (B, K, h, w) output, got {tuple(activation.shape)}")
    alpha = grad.mean(dim=(2, 3), keepdim=True)  # (B, K, 1, 1): importance of each map
    cam = (alpha * activation.detach()).sum(dim=1, keepdim=True)  # (B, 1, h, w)
    if relu:
        cam = F.relu(cam)
    if upsample:
        cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)
    return cam[:, 0]
