"""mask_regions and interior_border_split against scikit-image morphology and by hand."""

import numpy as np
import pytest
import torch
from skimage import morphology

from xaiexit.saliency.metrics import interior_border_split, mask_regions


def square(side: int) -> np.ndarray:
    """A side x side footprint; skimage 0.25 replaced ``square`` by ``footprint_rectangle``."""
    if hasattr(morphology, "footprint_rectangle"):
        return morphology.footprint_rectangle((side, side))
    return morphology.square(side)


def skimage_regions(mask: torch.Tensor, width: int) -> torch.Tensor:
    """(B, 3, H, W) interior / ring / background from scikit-image, pixels beyond the edge ignored.

    ``erosion``/``dilation`` of a 0/1 image are the binary ones (skimage 0.26 deprecates
    ``binary_erosion``/``binary_dilation`` in their favour); a square footprint is
    symmetric, so neither the even-size shift nor the mirroring they warn about applies.
    """
    out = []
    for m in mask.numpy().astype(np.uint8):
        footprint = square(2 * width + 1)
        eroded = morphology.erosion(m, footprint, mode="ignore").astype(bool)
        dilated = morphology.dilation(m, footprint, mode="ignore").astype(bool)
        out.append(np.stack([eroded, dilated & ~eroded, ~dilated]))
    return torch.from_numpy(np.stack(out))


def masks() -> torch.Tensor:
    """Blobs inside the image, blobs cut by every edge, an empty and a full mask; 13 x 17."""
    gen = torch.Generator().manual_seed(0)
    mask = torch.zeros(7, 13, 17, dtype=torch.bool)
    mask[0, 3:9, 4:12] = True  # a rectangle well inside
    mask[1, :5, :6] = True  # touches the top and left edges
    mask[1, 8:, 12:] = True  # and the bottom and right edges
    mask[2, :, 7:10] = True  # a band from top to bottom
    mask[3] = torch.rand(13, 17, generator=gen) < 0.6  # ragged, with holes
    mask[4, 6, 8] = True  # a single pixel
    # mask[5] stays empty
    mask[6] = True  # full
    return mask


@pytest.mark.parametrize("width", [0, 1, 2, 3])
def test_mask_regions_match_skimage_erosion_and_dilation(width):
    mask = masks()
    regions = mask_regions(mask, width)
    assert regions.dtype == torch.bool and regions.shape == (7, 3, 13, 17)
    assert torch.equal(regions, skimage_regions(mask, width))


@pytest.mark.parametrize("width", [0, 2])
def test_mask_regions_partition_the_image(width):
    regions = mask_regions(masks(), width)
    assert (regions.sum(dim=1) == 1).all()


def test_mask_regions_edge_cases_by_hand():
    mask = masks()
    regions = mask_regions(mask, 2)
    # width 0: no ring, the interior is the mask itself
    zero = mask_regions(mask, 0)
    assert torch.equal(zero[:, 0], mask) and not zero[:, 1].any() and torch.equal(zero[:, 2], ~mask)
    # an empty mask is all background; a full one all interior (the image edge is no object edge)
    assert regions[5, 2].all() and regions[6, 0].all()
    # a single pixel has no interior; its ring is the 5 x 5 square around it
    assert not regions[4, 0].any()
    expected = torch.zeros(13, 17, dtype=torch.bool)
    expected[4:9, 6:11] = True
    assert torch.equal(regions[4, 1], expected)
    # non-bool masks are read as True where nonzero
    assert torch.equal(mask_regions(mask.to(torch.uint8), 2), regions)


# ---------------------------------------------------------------- interior_border_split
MASK = torch.zeros(1, 6, 6, dtype=torch.bool)
MASK[0, 1:4, 1:4] = True  # 3 x 3 object; width 1: interior (2, 2), ring rows/cols 0..4 less it, rest outside


def test_interior_border_split_by_hand():
    heatmap = torch.zeros(1, 6, 6)
    heatmap[0, 2, 2] = 2.0  # interior
    heatmap[0, 0, 0] = -3.0  # ring (outside the object, within 1 pixel of it)
    heatmap[0, 4, 4] = 1.0  # ring (diagonal neighbour of the object's corner)
    heatmap[0, 5, 5] = 5.0  # background
    torch.testing.assert_close(interior_border_split(heatmap, MASK, width=1), torch.tensor([[2 / 11, 4 / 11, 5 / 11]]))
    # uniform map: the shares are the areas 1, 24 and 11 out of 36
    torch.testing.assert_close(
        interior_border_split(torch.ones(1, 6, 6), MASK, width=1), torch.tensor([[1 / 36, 24 / 36, 11 / 36]])
    )


def test_interior_border_split_matches_skimage_regions():
    gen = torch.Generator().manual_seed(1)
    heatmap = torch.randn(7, 13, 17, generator=gen, dtype=torch.float64)
    mask = masks()
    regions = skimage_regions(mask, 2).double()
    mass = (heatmap.abs()[:, None] * regions).sum(dim=(2, 3))
    expected = mass / heatmap.abs().sum(dim=(1, 2))[:, None]
    shares = interior_border_split(heatmap, mask, width=2)
    torch.testing.assert_close(shares, expected)
    torch.testing.assert_close(shares.sum(dim=1), torch.ones(7, dtype=torch.float64))


def test_interior_border_split_uses_magnitudes_and_sums_channels():
    gen = torch.Generator().manual_seed(2)
    mask = masks()[:4]
    signed = torch.randn(4, 13, 17, generator=gen)
    expected = interior_border_split(signed.abs(), mask, width=1)
    torch.testing.assert_close(interior_border_split(signed, mask, width=1), expected)
    torch.testing.assert_close(interior_border_split(-signed, mask, width=1), expected)
    attr = torch.randn(4, 3, 13, 17, generator=gen)  # (B, C, H, W): |.| summed over channels
    torch.testing.assert_close(
        interior_border_split(attr, mask, width=1), interior_border_split(attr.abs().sum(dim=1), mask, width=1)
    )


def test_interior_border_split_of_a_zero_map_is_zero():
    heatmap = torch.zeros(2, 6, 6)
    heatmap[1, 0, 0] = 1.0
    shares = interior_border_split(heatmap, MASK.expand(2, 6, 6), width=1)
    assert torch.isfinite(shares).all()
    torch.testing.assert_close(shares, torch.tensor([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))


def test_region_errors():
    for width in (-1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="width must be an integer >= 0"):
            interior_border_split(torch.ones(1, 6, 6), MASK, width=width)
    with pytest.raises(ValueError, match=r"mask must be shaped like the map.*\(1, 6, 6\)"):
        interior_border_split(torch.ones(1, 6, 6), torch.zeros(1, 5, 6, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"mask must be shaped like the map"):
        interior_border_split(torch.ones(2, 6, 6), MASK)
    with pytest.raises(ValueError, match=r"mask must be shaped \(B, H, W\), got \(6, 6\)"):
        mask_regions(MASK[0], 1)
