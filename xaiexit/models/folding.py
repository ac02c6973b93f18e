"""Fold batch norm into the convolution before it, for inference.

In eval mode batch norm is a fixed per-channel affine map, ``y = a * conv(x) + b``, so it
can be merged into the convolution's weights and bias: one layer, the same function, one
less pass over memory. This is what "batch norm is free at inference" means when MACs
are counted (:mod:`xaiexit.exits.macs`); timing benchmarks fold it so that the clock
and the MAC count describe the same network.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in eval mode where every ``Conv2d -> BatchNorm2d`` pair that sits
    side by side in an ``nn.Sequential`` is one convolution (the batch norm becomes
    ``nn.Identity``).

    Examples
    --------
    >>> from xaiexit.models import SmallCNN
    >>> model = SmallCNN().eval()
    >>> x = torch.rand(2, 3, 32, 32)
    >>> torch.allclose(fold_batchnorm(model)(x), model(x), atol=1e-5)
    True
    """
    folded = copy.deepcopy(model).eval()
    for module in folded.modules():
        if not isinstance(module, nn.Sequential):
            continue
        names = list(module._modules)
        for first, second in zip(names, names[1:]):
            conv, bn = module._modules[first], module._modules[second]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                module._modules[first] = fuse_conv_bn_eval(conv, bn)
                module._modules[second] = nn.Identity()
    return folded


def for_cpu_inference(model: nn.Module) -> nn.Module:
    """A copy of ``model`` set up for fast CPU inference, computing the same function.

    Three standard steps: batch norm folded into the convolutions
    (:func:`fold_batchnorm`), ReLUs computed in place (no new buffer for each
    activation), and the weights in channels-last memory format (feed it images made
    ``.contiguous(memory_format=torch.channels_last)``), the layout CPU convolution and
    pooling kernels are fastest in. Timing benchmarks use it for every network they
    compare, so that the clock measures the arithmetic the MAC count describes rather
    than memory traffic.

    Examples
    --------
    >>> from xaiexit.models import SmallCNN
    >>> model = SmallCNN().eval()
    >>> x = torch.rand(2, 3, 32, 32)
    >>> fast = for_cpu_inference(model)
    >>> torch.allclose(fast(x.contiguous(memory_format=torch.channels_last)), model(x), atol=1e-5)
    True
    """
    fast = fold_batchnorm(model)
    for module in fast.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = True
    return fast.to(memory_format=torch.channels_last)
