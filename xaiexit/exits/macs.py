"""Counting multiply-accumulates (MACs): what a forward pass costs, layer by layer.

Convention: one MAC is one multiplication plus one addition (some papers count "FLOPs"
as 2 per MAC; this course always counts MACs). Counted from the layers themselves:

- ``nn.Conv2d``: ``C_out * H_out * W_out * (C_in / groups) * k_h * k_w``;
- ``nn.ConvTranspose2d``: ``C_in * H_in * W_in * (C_out / groups) * k_h * k_w`` (every
  input value is spread over a ``k_h x k_w`` patch of every output channel); it is also
  what the gradient of a convolution with respect to its input costs, the same MACs as
  the convolution itself;
- ``nn.Linear``: ``in_features * out_features`` per input row (once per sample for a
  ``(B, in_features)`` input, once per position for ``(B, ..., in_features)``);
- average pooling (``nn.AvgPool2d``, ``nn.AdaptiveAvgPool2d``): one MAC per input value
  (each is added once, scaled by ``1 / n``);
- declared free: biases, batch norm (folded into the convolution for inference), ReLU
  and max-pooling (comparisons, not multiplications), and softmax-based exit rules
  (``O(K)`` per sample, negligible next to any layer).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from xaiexit.models.early_exit import EarlyExitCNN

COUNTED = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.AvgPool2d, nn.AdaptiveAvgPool2d)


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def conv2d_output_size(layer: nn.Conv2d, height: int, width: int) -> tuple:
    """``(H_out, W_out)`` of a convolution, from PyTorch's formula
    ``floor((H + 2 p - d (k - 1) - 1) / s) + 1``."""
    (kh, kw), (sh, sw) = _pair(layer.kernel_size), _pair(layer.stride)
    (dh, dw), padding = _pair(layer.dilation), layer.padding
    if isinstance(padding, str):  # "same" keeps the size, "valid" pads nothing
        if padding == "same":
            return height, width
        padding = (0, 0)
    ph, pw = _pair(padding)
    return (height + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (width + 2 * pw - dw * (kw - 1) - 1) // sw + 1


def conv2d_macs(layer: nn.Conv2d, input_shape: Sequence[int]) -> int:
    """MACs of one ``nn.Conv2d`` on one image.

    Parameters
    ----------
    layer : nn.Conv2d
    input_shape : (C, H, W)
        Shape of one input image (no batch dimension).

    Returns
    -------
    macs : int
        ``C_out * H_out * W_out * (C_in / groups) * k_h * k_w``: every output value
        is a dot product over a ``(C_in / groups) x k_h x k_w`` window. Bias not counted.

    Examples
    --------
    >>> conv2d_macs(nn.Conv2d(3, 16, kernel_size=3, padding=1), (3, 64, 64))  # 16 * 64 * 64 * 3 * 3 * 3
    1769472
    """
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (C, H, W) of one image, got {tuple(input_shape)}")
    channels, height, width = (int(v) for v in input_shape)
    if channels != layer.in_channels:
        raise ValueError(f"the layer takes {layer.in_channels} channels, input_shape has {channels}")
    out_h, out_w = conv2d_output_size(layer, height, width)
    kh, kw = _pair(layer.kernel_size)
    return layer.out_channels * out_h * out_w * (layer.in_channels // layer.groups) * kh * kw


def _layer_macs(layer: nn.Module, inputs: torch.Tensor) -> int:
    if isinstance(layer, nn.ConvTranspose2d):
        kh, kw = _pair(layer.kernel_size)
        return inputs[0].numel() * (layer.out_channels // layer.groups) * kh * kw
    if isinstance(layer, nn.Conv2d):
        return conv2d_macs(layer, inputs.shape[1:])
    if isinstance(layer, nn.Linear):
        return inputs[0].numel() // layer.in_features * layer.in_features * layer.out_features
    return inputs[0].numel()  # average pooling: one accumulation per input value


@torch.no_grad()
def count_macs(model: nn.Module, input_shape: Sequence[int]) -> OrderedDict[str, int]:
    """MACs per image of every counted layer, found by running the model once.

    Parameters
    ----------
    model : nn.Module
        Any model; it runs once, in eval mode (restored after), on a zero image.
    input_shape : (C, H, W)
        Shape of one input image.

    Returns
    -------
    macs : OrderedDict
        Qualified layer name -> MACs per image, in the order the layers ran. Layers
        not listed in the module docstring count 0 and are left out.

    Examples
    --------
    >>> model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 4))
    >>> dict(count_macs(model, (1, 4, 4)))   # 2*2*2*1*3*3 = 72 and 8*4 = 32
    {'0': 72, '2': 32}
    """
    macs: OrderedDict[str, int] = OrderedDict()
    hooks = []
    for name, module in model.named_modules():
        if isinstance(module, COUNTED):

            def hook(module, args, output, name=name):
                macs[name] = macs.get(name, 0) + _layer_macs(module, args[0])

            hooks.append(module.register_forward_hook(hook))
    param = next(model.parameters(), None)
    x = torch.zeros(1, *input_shape, device=param.device if param is not None else "cpu")
    was_training = model.training
    model.eval()
    try:
        model(x)
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return macs


def macs_by_part(model: EarlyExitCNN, input_shape: Sequence[int]) -> OrderedDict[str, int]:
    """MACs per image of each block and each exit of an early-exit model.

    Returns
    -------
    OrderedDict
        ``"block1"``, ``"block2"``, ..., ``"exit1"``, ..., each the sum of its layers.

    Examples
    --------
    >>> parts = macs_by_part(EarlyExitCNN(widths=(8, 16), exits_after=(1,), branch_width=4), (3, 16, 16))
    >>> list(parts)
    ['block1', 'block2', 'exit1', 'exit2']
    """
    parts: OrderedDict[str, int] = OrderedDict((n, 0) for n in model.features._modules)
    parts.update((n, 0) for n in model.exits)
    for name, macs in count_macs(model, input_shape).items():
        parts[name.split(".")[1]] += macs
    return parts


def exit_costs(model: EarlyExitCNN, input_shape: Sequence[int]) -> torch.Tensor:
    """MACs spent on a sample that leaves at each exit: ``(num_exits,)``.

    Leaving at exit ``k`` costs every block up to that exit **and every exit head
    evaluated on the way** (the earlier ones that let the sample go on, and exit ``k``).

    Examples
    --------
    >>> model = EarlyExitCNN(widths=(8, 16), exits_after=(1,), branch_width=4)
    >>> parts = macs_by_part(model, (3, 16, 16))
    >>> costs = exit_costs(model, (3, 16, 16))
    >>> int(costs[0]) == parts["block1"] + parts["exit1"]
    True
    >>> int(costs[1]) == sum(parts.values())
    True
    """
    parts = macs_by_part(model, input_shape)
    costs, spent = [], 0
    heads = iter(model.exits)
    for i, block in enumerate(model.features._modules, start=1):
        spent += parts[block]
        if i in model.exit_blocks:
            spent += parts[next(heads)]
            costs.append(spent)
    return torch.tensor(costs, dtype=torch.float64)
