"""Lesson 5's solutions are the library's references (the checks every lesson shares
are in test_lessons.py)."""

import pytest

from course_helpers import LESSON5


def test_solutions_equal_the_library():
    """The notebook's solutions are the library's references, numerically."""
    import numpy as np
    import torch

    from xaiexit import segmentation
    from xaiexit.data import TouchingCells
    from xaiexit.models import UNet, center_crop, unet_output_size

    ns = LESSON5.solution_namespace()
    x = torch.arange(2 * 3 * 9 * 8.0).view(2, 3, 9, 8)
    for size in (4, (5, 2), 9 - 1):
        assert torch.equal(ns["center_crop"](x, size), center_crop(x, size))
    for size in (572, 188, 204, 700):
        assert ns["unet_output_size"](size) == unet_output_size(size)
    assert ns["unet_output_size"](92, 2) == unet_output_size(92, depth=2)
    with pytest.raises(ValueError):
        ns["unet_output_size"](570)
    labels = TouchingCells("test", n=1, size=64).instances[0]
    for kwargs in ({}, {"w0": 5.0, "sigma": 3.0}, {"class_weights": None}):
        ours = torch.as_tensor(np.asarray(ns["weight_map"](labels, **kwargs)), dtype=torch.float64)
        assert torch.allclose(ours, segmentation.weight_map(labels, **kwargs).double(), atol=1e-5)
    g = torch.Generator().manual_seed(0)
    logits, target = torch.randn(2, 3, 6, 7, generator=g), torch.randint(0, 3, (2, 6, 7), generator=g)
    weights = torch.rand(2, 6, 7, generator=g)
    assert torch.allclose(
        ns["weighted_cross_entropy"](logits, target, weights),
        segmentation.weighted_cross_entropy(logits, target, weights),
    )
    image, mask = torch.rand(1, 40, 40, generator=g), labels[:40, :40]
    warped, warped_mask = ns["elastic_deform"](image, mask, sigma=0.0, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(warped, image, atol=1e-5) and torch.equal(warped_mask, mask)
    torch.manual_seed(0)
    model = UNet(in_channels=1, num_classes=2, depth=2, base_width=4).double().eval()
    big = torch.rand(1, 130, 150, dtype=torch.float64, generator=g)
    assert torch.allclose(
        ns["overlap_tile_predict"](model, big, 92), segmentation.overlap_tile_predict(model, big, 92), atol=1e-10
    )
    pred, true = torch.rand(50, generator=g) > 0.5, torch.rand(50, generator=g) > 0.5
    assert float(ns["iou"](pred, true)) == pytest.approx(segmentation.iou(pred, true))
    assert float(ns["iou"](torch.zeros(3), torch.zeros(3))) == 1.0
