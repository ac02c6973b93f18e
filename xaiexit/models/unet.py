"""U-Net (Ronneberger, Fischer, Brox 2015): a contracting path, an expanding path, and skips.

The contracting path is the usual classifier: two 3x3 convolutions with ReLU, then a 2x2
max-pool that halves the size, ``depth`` times, doubling the channels each time. The
expanding path climbs back: a 2x2 up-convolution (``nn.ConvTranspose2d``, stride 2) halves
the channels and doubles the size, the feature map of the same level of the contracting
path is **cropped** to that size and concatenated, then two 3x3 convolutions. A final 1x1
convolution gives one score per class and pixel.

In the paper's version (``padding=False``) every 3x3 convolution is *valid*: it loses one
pixel on each side. So the output is smaller than the input (572 -> 388) and only some
input sizes are legal (:func:`unet_output_size`); every output pixel sees its full
context, which is what makes seamless overlap-tile prediction possible. ``padding=True``
gives the common same-size variant.

References
----------
.. [1] O. Ronneberger, P. Fischer, T. Brox, "U-Net: Convolutional Networks for Biomedical
   Image Segmentation", MICCAI 2015, arXiv:1505.04597.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def unet_output_size(input_size: int, depth: int = 4, padding: bool = False) -> int:
    """Side of the output of a U-Net for a square input of side ``input_size``.

    Valid version (``padding=False``): each level of the contracting path takes 4 pixels
    (two 3x3 valid convs) then halves (the max-pool needs an even size); the bottom level
    takes 4; each level of the expanding path doubles then takes 4. Padded version: the
    size must be divisible by ``2 ** depth`` and the output has the same size.

    Raises
    ------
    ValueError
        If the size is illegal, naming the nearest legal sizes.

    Examples
    --------
    >>> unet_output_size(572)
    388
    >>> unet_output_size(188), unet_output_size(92, depth=2)
    (4, 52)
    >>> unet_output_size(570)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: input size 570 is not legal for a valid U-Net of depth 4: ... the nearest legal sizes are 556 and 572
    """
    size = _walk(int(input_size), depth, padding)
    if size is None:
        below, above = nearest_legal_sizes(input_size, depth, padding)
        kind = "padded" if padding else "valid"
        near = f"{below} and {above}" if below is not None else f"{above}"
        rule = (
            "it must be divisible by 2 ** depth"
            if padding
            else "every max-pool needs an even size and every layer a positive one"
        )
        raise ValueError(
            f"input size {input_size} is not legal for a {kind} U-Net of depth {depth}: {rule}; "
            f"the nearest legal sizes are {near}"
        )
    return size


def _walk(size: int, depth: int, padding: bool):
    """The output size, or None when some layer gets an odd size before a pool or a size < 1."""
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    loss = 0 if padding else 4  # two 3x3 convolutions
    for _ in range(depth):
        size -= loss
        if size < 2 or size % 2:
            return None
        size //= 2
    size -= loss
    if size < 1:
        return None
    for _ in range(depth):
        size = 2 * size - loss
        if size < 1:
            return None
    return size


def nearest_legal_sizes(input_size: int, depth: int = 4, padding: bool = False) -> tuple:
    """The largest legal size below ``input_size`` (None if none) and the smallest above it."""
    below = next((s for s in range(int(input_size) - 1, 0, -1) if _walk(s, depth, padding) is not None), None)
    above = next(
        s
        for s in range(int(input_size) + 1, int(input_size) + 2 ** (depth + 3) + 200)
        if _walk(s, depth, padding) is not None
    )
    return below, above


def center_crop(features: torch.Tensor, size) -> torch.Tensor:
    """The central ``size`` window of a ``(B, C, H, W)`` batch: ``(B, C, h, w)``.

    ``size`` is an int or ``(h, w)``. The window starts at ``(H - h) // 2``, so when the
    difference is odd the extra row and column are dropped at the bottom and right.

    Examples
    --------
    >>> x = torch.arange(36.0).view(1, 1, 6, 6)
    >>> center_crop(x, 2)
    tensor([[[[14., 15.],
              [20., 21.]]]])
    """
    h, w = (int(size[0]), int(size[1])) if isinstance(size, (tuple, list, torch.Size)) else (int(size), int(size))
    H, W = features.shape[-2:]
    if h > H or w > W:
        raise ValueError(f"cannot crop a {H}x{W} map to {h}x{w}: the crop is larger than the map")
    top, left = (H - h) // 2, (W - w) // 2
    return features[..., top : top + h, left : left + w]


def double_conv(in_channels: int, out_channels: int, padding: bool) -> nn.Sequential:
    """``conv 3x3 -> ReLU -> conv 3x3 -> ReLU``, valid (``padding=False``) or same-size."""
    p = 1 if padding else 0
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=p),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=p),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """The U-Net of Ronneberger et al. (2015), with its valid convolutions, or padded.

    Parameters
    ----------
    in_channels : int
        Channels of the input image (1 in the paper).
    num_classes : int
        Output channels: one score per class and pixel (2 in the paper).
    depth : int
        Number of max-pools (4 in the paper).
    base_width : int
        Channels of the first level, doubled at each level down (64 in the paper:
        64-128-256-512-1024).
    padding : bool
        False (the paper): valid 3x3 convolutions, a smaller output, legal input sizes
        only. True: zero-padded convolutions, output as large as the input, whose side must
        be divisible by ``2 ** depth``.
    dropout : float
        Dropout probability at the end of the contracting path (the paper uses dropout
        there; 0 turns it off).

    Shapes
    ------
    ``(B, in_channels, S, S) -> (B, num_classes, s, s)`` with ``s = unet_output_size(S)``
    (``s = S`` when padded). Non-square inputs work the same way, side by side.

    Names
    -----
    ``down<i>`` (``i = 1 .. depth``) are the contracting levels, ``bottom`` the lowest one,
    ``up<i>`` the up-convolutions and ``dec<i>`` the convolutions after each concatenation
    (``i = depth .. 1``, from the bottom up), ``head`` the final 1x1 convolution.

    Examples
    --------
    >>> paper = UNet()
    >>> sum(p.numel() for p in paper.parameters())
    31030658
    >>> small = UNet(in_channels=1, num_classes=2, depth=2, base_width=8)
    >>> small(torch.zeros(1, 1, 92, 92)).shape
    torch.Size([1, 2, 52, 52])
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 2,
        depth: int = 4,
        base_width: int = 64,
        padding: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if depth < 1 or base_width < 1:
            raise ValueError(f"depth and base_width must be positive, got depth={depth}, base_width={base_width}")
        self.in_channels, self.num_classes = in_channels, num_classes
        self.depth, self.base_width, self.padding = depth, base_width, padding
        widths = [base_width * 2**i for i in range(depth + 1)]
        channels = in_channels
        for i in range(1, depth + 1):
            setattr(self, f"down{i}", double_conv(channels, widths[i - 1], padding))
            channels = widths[i - 1]
        self.pool = nn.MaxPool2d(2)
        self.bottom = double_conv(channels, widths[depth], padding)
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        for i in range(depth, 0, -1):
            setattr(self, f"up{i}", nn.ConvTranspose2d(widths[i], widths[i - 1], kernel_size=2, stride=2))
            setattr(self, f"dec{i}", double_conv(2 * widths[i - 1], widths[i - 1], padding))
        self.head = nn.Conv2d(widths[0], num_classes, kernel_size=1)
        he_init(self)

    def output_size(self, input_size: int) -> int:
        """Output side for an input side (see :func:`unet_output_size`)."""
        return unet_output_size(input_size, self.depth, self.padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"UNet expects a batch shaped (B, {self.in_channels}, H, W), got {tuple(x.shape)}; "
                "add a batch dimension with x.unsqueeze(0) for a single image"
            )
        for side in x.shape[-2:]:
            unet_output_size(int(side), self.depth, self.padding)  # a clear error for an illegal size
        skips: list[torch.Tensor] = []
        for i in range(1, self.depth + 1):
            x = getattr(self, f"down{i}")(x)
            skips.append(x)
            x = self.pool(x)
        x = self.dropout(self.bottom(x))
        for i in range(self.depth, 0, -1):
            x = getattr(self, f"up{i}")(x)
            skip = center_crop(skips[i - 1], x.shape[-2:])
            x = getattr(self, f"dec{i}")(torch.cat([skip, x], dim=1))
        return self.head(x)


def he_init(model: nn.Module) -> None:
    """The paper's initialisation: weights drawn from N(0, sqrt(2 / N)), N the number of
    inputs of one output unit (``C_in k_h k_w`` for a convolution; ``C_in`` for a 2x2
    stride-2 up-convolution, where each output pixel gets one tap per input channel);
    biases 0."""
    for module in model.modules():
        if isinstance(module, nn.ConvTranspose2d):
            kh, kw = module.kernel_size
            sh, sw = module.stride
            fan_in = module.in_channels * math.ceil(kh / sh) * math.ceil(kw / sw)
        elif isinstance(module, nn.Conv2d):
            fan_in = module.in_channels * module.kernel_size[0] * module.kernel_size[1] // module.groups
        else:
            continue
        nn.init.normal_(module.weight, mean=0.0, std=math.sqrt(2.0 / fan_in))
        if module.bias is not None:
            nn.init.zeros_(module.bias)
