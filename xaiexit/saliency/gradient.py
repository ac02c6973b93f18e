"""Gradient saliency: how much does the class score react to each input value?"""

from __future__ import annotations

import torch
from torch import nn

from xaiexit.saliency._common import Target, check_images, frozen_eval, input_gradients, resolve_target


def vanilla_gradient(model: nn.Module, x: torch.Tensor, target: Target = None, abs: bool = True) -> torch.Tensor:
    r"""Gradient of the target class score with respect to the input.

    Parameters
    ----------
    model : nn.Module
        Classifier returning logits ``(B, num_classes)``. It runs in eval mode with
        frozen parameters; its mode and ``requires_grad`` flags are restored after.
    x : (B, C, H, W) tensor
        Input images. Never modified.
    target : int, (B,) long tensor or None
        Class whose score is explained, per sample. ``None`` uses the class the model
        predicts for each sample.
    abs : bool
        Return ``|gradient|`` (the saliency map of Simonyan et al.), as Captum's
        ``Saliency`` does by default. ``False`` keeps the sign.

    Returns
    -------
    attr : (B, C, H, W) tensor
        Same shape, dtype and device as ``x``.

    Notes
    -----
    With :math:`S_c(x)` the logit of class :math:`c`,

    .. math:: A(x) = \left| \frac{\partial S_c}{\partial x} \right|

    The logit is used rather than the softmax probability, whose gradient also
    depends on the other classes.

    References
    ----------
    .. [1] K. Simonyan, A. Vedaldi, A. Zisserman, "Deep Inside Convolutional
       Networks: Visualising Image Classification Models and Saliency Maps",
       arXiv:1312.6034, 2013.

    Examples
    --------
    >>> model = SmallCNN().eval()
    >>> attr = vanilla_gradient(model, torch.rand(2, 3, 64, 64), target=1)
    >>> attr.shape
    torch.Size([2, 3, 64, 64])
    """
    x = check_images(x)
    with frozen_eval(model):
        target = resolve_target(model, x, target)
        grad = input_gradients(model, x, target)
    return grad.abs() if abs else grad


def gradient_x_input(model: nn.Module, x: torch.Tensor, target: Target = None) -> torch.Tensor:
    r"""Gradient of the target score times the input, element by element.

    Parameters
    ----------
    model : nn.Module
        Classifier returning logits ``(B, num_classes)``; see :func:`vanilla_gradient`.
    x : (B, C, H, W) tensor
        Input images. Never modified.
    target : int, (B,) long tensor or None
        Class explained per sample; ``None`` uses the predicted class.

    Returns
    -------
    attr : (B, C, H, W) tensor
        Signed attributions, shaped like ``x``.

    Notes
    -----
    .. math:: A(x) = x \odot \frac{\partial S_c}{\partial x}

    For a linear model :math:`S_c = w^\top x + b` this is exactly each input's
    contribution :math:`w_i x_i` to the score (relative to the all-zero input).

    References
    ----------
    .. [1] A. Shrikumar, P. Greenside, A. Shcherbina, A. Kundaje, "Not Just a Black
       Box: Learning Important Features Through Propagating Activation
       Differences", arXiv:1605.01713, 2016.

    Examples
    --------
    >>> model = SmallCNN().eval()
    >>> attr = gradient_x_input(model, torch.rand(2, 3, 64, 64), target=torch.tensor([0, 1]))
    >>> attr.shape
    torch.Size([2, 3, 64, 64])
    """
    x = check_images(x)
    with frozen_eval(model):
        target = resolve_target(model, x, target)
        grad = input_gradients(model, x, target)
    return grad * x
