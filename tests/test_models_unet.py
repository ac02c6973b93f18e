"""U-Net: the paper's sizes layer by layer, its parameter count, legal sizes, initialisation."""

import math

import pytest
import torch
from torch import nn

from xaiexit.models import UNet, center_crop, unet_output_size
from xaiexit.models.unet import nearest_legal_sizes


def test_the_paper_configuration_has_23_conv_layers_and_31030658_parameters():
    model = UNet(in_channels=1, num_classes=2)
    convs = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert len(convs) == 23
    assert sum(p.numel() for p in model.parameters()) == 31_030_658
    widths = [m.out_channels for m in convs if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert widths[:10] == [64, 64, 128, 128, 256, 256, 512, 512, 1024, 1024]


def test_572_becomes_388_through_the_papers_sizes_layer_by_layer():
    """The sizes of Figure 1 of the paper, seen by forward hooks (a narrow copy: sizes do not
    depend on the width)."""
    model = UNet(in_channels=1, num_classes=2, depth=4, base_width=2).eval()
    sizes = []
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m.kernel_size != (1, 1):
            m.register_forward_hook(lambda mod, args, out: sizes.append(out.shape[-1]))
    with torch.no_grad():
        out = model(torch.zeros(1, 1, 572, 572))
    assert out.shape == (1, 2, 388, 388)
    assert sizes == [
        570,
        568,
        282,
        280,
        138,
        136,
        66,
        64,
        30,
        28,  # contracting path and bottom
        56,
        54,
        52,
        104,
        102,
        100,
        200,
        198,
        196,
        392,
        390,
        388,
    ]  # up-conv, two convs per level
    assert unet_output_size(572) == 388 and unet_output_size(572 + 16) == 388 + 16


def test_legal_sizes_are_188_plus_multiples_of_16():
    legal = [s for s in range(100, 700) if _legal(s)]
    assert legal == list(range(188, 700, 16))
    assert all(unet_output_size(s) == s - 184 for s in legal)


def _legal(size):
    try:
        unet_output_size(size)
        return True
    except ValueError:
        return False


@pytest.mark.parametrize("size, below, above", [(570, 556, 572), (100, None, 188), (573, 572, 588)])
def test_an_illegal_size_names_the_nearest_legal_ones(size, below, above):
    assert nearest_legal_sizes(size) == (below, above)
    with pytest.raises(ValueError, match=str(above)):
        UNet(depth=4, base_width=2)(torch.zeros(1, 1, size, size))


def test_the_padded_version_keeps_the_size_and_needs_multiples_of_2_to_the_depth():
    model = UNet(in_channels=3, num_classes=4, depth=3, base_width=4, padding=True)
    assert model(torch.zeros(2, 3, 48, 64)).shape == (2, 4, 48, 64)
    with pytest.raises(ValueError, match="divisible"):
        model(torch.zeros(1, 3, 50, 64))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        model(torch.zeros(3, 48, 64))


def test_he_initialisation_draws_weights_with_std_sqrt_2_over_fan_in():
    torch.manual_seed(0)
    model = UNet(in_channels=1, num_classes=2, depth=2, base_width=32)
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.ConvTranspose2d):
            fan_in = m.in_channels  # 2x2 stride 2: one tap per input channel reaches each output pixel
        else:
            continue
        if m.weight.numel() < 2000:
            continue
        assert m.weight.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.1)
        assert m.weight.mean().abs().item() < 0.1 * math.sqrt(2 / fan_in)
        assert torch.all(m.bias == 0)


def test_center_crop_takes_the_middle_and_drops_the_odd_pixel_at_the_end():
    x = torch.arange(49.0).view(1, 1, 7, 7)
    assert center_crop(x, 3)[0, 0, 0].tolist() == [16.0, 17.0, 18.0]
    assert center_crop(x, (2, 4))[0, 0].tolist() == [[15.0, 16.0, 17.0, 18.0], [22.0, 23.0, 24.0, 25.0]]
    assert torch.equal(center_crop(x, 7), x)
    with pytest.raises(ValueError, match="larger"):
        center_crop(x, 8)
