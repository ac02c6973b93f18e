"""Lesson 6's solutions are the library's references (the checks every lesson shares
are in test_lessons.py)."""

import pytest

from course_helpers import LESSON6


def test_solutions_equal_the_library():
    """The notebook's solutions are the library's references, numerically."""
    import numpy as np
    import torch

    from xaiexit import segmentation
    from xaiexit.data import TouchingCells
    from xaiexit.models import UNet, center_crop, unet_output_size

    ns = LESSON6.solution_namespace()
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


def _setup_namespace() -> dict:
    import nbformat

    from course_helpers import cells_by_id

    namespace = {}
    exec(cells_by_id(nbformat.read(LESSON6.source, as_version=4))["setup"].source, namespace)
    return namespace


def test_experiments_call_the_learners_function_or_the_reference_with_a_note(capsys):
    """The setup cell's ``yours_or_reference``: the learner's function when it is written; the
    library's reference (from xaiexit.segmentation or xaiexit.models), with a note printed
    once, while it raises NotImplementedError or is missing."""
    import torch

    from xaiexit import segmentation
    from xaiexit.models import unet_output_size

    namespace = _setup_namespace()
    yours_or_reference = namespace["yours_or_reference"]
    pred, target = torch.tensor([1, 1, 0, 0]), torch.tensor([0, 1, 1, 0])
    capsys.readouterr()

    assert yours_or_reference("iou")(pred, target) == segmentation.iou(pred, target)  # missing
    assert "your iou is not written yet: xaiexit.segmentation.iou stands in" in capsys.readouterr().out
    assert yours_or_reference("unet_output_size")(572) == unet_output_size(572)
    assert "xaiexit.models.unet_output_size stands in" in capsys.readouterr().out

    def unwritten(pred, target):
        raise NotImplementedError()

    namespace["iou"] = unwritten
    assert yours_or_reference("iou")(pred, target) == segmentation.iou(pred, target)
    assert capsys.readouterr().out == ""  # the note is printed once

    namespace["iou"] = lambda pred, target: 0.25  # the learner's own, even if wrong
    assert yours_or_reference("iou")(pred, target) == 0.25


def test_experiments_use_the_learners_functions_only_through_yours_or_reference():
    """No experiment or claim cell calls an exercise function by its bare name: each goes
    through ``yours_or_reference``, so that it runs before the exercise is done."""
    import re

    import nbformat

    nb = nbformat.read(LESSON6.source, as_version=4)
    experiments = [
        c
        for c in nb.cells
        if c.cell_type == "code"
        and not c.metadata["nbgrader"].get("solution")
        and not c.metadata["nbgrader"].get("grade")
        and c.metadata["nbgrader"]["grade_id"] != "setup"
    ]
    for name in LESSON6.points:
        bare = re.compile(rf"(?<![\w.\"']){name}\(")
        callers = [c.metadata["nbgrader"]["grade_id"] for c in experiments if bare.search(c.source)]
        assert callers == [], f"{name} is called directly in {callers}"
        assert any(f'yours_or_reference("{name}")' in c.source for c in experiments), f"no experiment uses {name}"


def test_the_bootstrap_interval_of_a_mean():
    """``mean_interval``: an interval around the mean about 2 x 1.96 standard errors wide, the
    same twice; a constant has no spread."""
    import torch

    mean_interval = _setup_namespace()["mean_interval"]
    values = torch.rand(400, generator=torch.Generator().manual_seed(1)).double()
    low, high = mean_interval(values)
    se = (values.std() / len(values) ** 0.5).item()
    assert low < values.mean().item() < high
    assert abs((high - low) - 2 * 1.96 * se) < 0.25 * (high - low)
    assert mean_interval(values) == (low, high)
    assert mean_interval([0.7] * 50) == pytest.approx((0.7, 0.7))
