"""Lesson 5 runs top to bottom with its assert cells, and is shaped like a lesson."""
import nbformat
import pytest

from course_helpers import LESSON5, printed

SOURCE = LESSON5.source

# Every assert cell of the lesson ends by printing "claim holds: ..."
CLAIM_CELLS = ("sliding_claim", "architecture_claim", "legal_claim", "weights_claim", "border_claim",
               "elastic_claim", "augment_claim", "seam_claim", "trimap_claim", "pets_claim")
ANSWERS = ["center_crop", "unet_output_size", "weight_map", "weighted_cross_entropy", "elastic_deform",
           "overlap_tile_predict", "iou"]


@pytest.mark.slow
def test_solution_notebook_runs_and_its_claims_hold():
    nb = LESSON5.execute()  # nbclient raises CellExecutionError on any failing cell or assert
    cells = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells}
    missing = [gid for gid in CLAIM_CELLS if "claim holds" not in printed(cells[gid])]
    assert missing == [], f"these assert cells did not print 'claim holds': {missing}"
    tests = [f"{name}_test" for name in ANSWERS]
    assert all("visible tests passed" in printed(cells[gid]) for gid in tests)


def test_grading_mode_runs_nothing_heavy():
    heavy = LESSON5.cells_printing_while_grading()
    assert heavy == [], f"cells guarded by `if not GRADING` printed while grading: {heavy}"


def test_lesson_has_the_parts_of_a_lesson():
    nb = nbformat.read(SOURCE, as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    meta = [c.metadata["nbgrader"] for c in nb.cells]
    assert "objectives" in text.lower() and "Think!" in text
    assert "ipywidgets" in text  # the widget
    answers = [m["grade_id"] for m in meta if m.get("solution") and not m["grade_id"].startswith("think")]
    assert answers == ANSWERS
    assert LESSON5.points == {"center_crop": 1, "unet_output_size": 1, "weight_map": 2, "weighted_cross_entropy": 1,
                              "elastic_deform": 2, "overlap_tile_predict": 2, "iou": 1}
    thinks = [m for m in meta if m.get("solution") and m["grade_id"].startswith("think")]
    assert [m["grade_id"] for m in thinks] == ["think_border", "think_tiles"]
    assert all(m.get("grade") and m.get("points") == 1 for m in thinks)
    assert len({m["grade_id"] for m in meta}) == len(meta), "grade_ids must be unique"
    assert all(c.id == c.metadata["nbgrader"]["grade_id"] for c in nb.cells), "cell ids equal grade_ids"
    hidden = [c.source for c in nb.cells if c.metadata["nbgrader"].get("grade") and c.cell_type == "code"]
    assert len(hidden) == 7 and all("from xaiexit.grading import unet as grading" in s for s in hidden)
    heavy = [c for c in nb.cells if c.cell_type == "code" and not c.metadata["nbgrader"].get("solution")
             and not c.metadata["nbgrader"].get("grade") and c.id != "setup"]
    assert all(c.source.startswith("if not GRADING:") for c in heavy), "every worked cell is skipped while grading"
    assert all(c.get("outputs", []) == [] and c.get("execution_count") is None
               for c in nb.cells if c.cell_type == "code"), "save the notebook without outputs"


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
    assert torch.allclose(ns["weighted_cross_entropy"](logits, target, weights),
                          segmentation.weighted_cross_entropy(logits, target, weights))
    image, mask = torch.rand(1, 40, 40, generator=g), labels[:40, :40]
    warped, warped_mask = ns["elastic_deform"](image, mask, sigma=0.0, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(warped, image, atol=1e-5) and torch.equal(warped_mask, mask)
    torch.manual_seed(0)
    model = UNet(in_channels=1, num_classes=2, depth=2, base_width=4).double().eval()
    big = torch.rand(1, 130, 150, dtype=torch.float64, generator=g)
    assert torch.allclose(ns["overlap_tile_predict"](model, big, 92),
                          segmentation.overlap_tile_predict(model, big, 92), atol=1e-10)
    pred, true = torch.rand(50, generator=g) > 0.5, torch.rand(50, generator=g) > 0.5
    assert float(ns["iou"](pred, true)) == pytest.approx(segmentation.iou(pred, true))
    assert float(ns["iou"](torch.zeros(3), torch.zeros(3))) == 1.0


def test_released_lesson_is_current():
    """lessons/05 has no solutions and no hidden tests, and each exercise raises NotImplementedError."""
    nb = nbformat.read(LESSON5.release, as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    answers = [c for c in nb.cells if c.metadata["nbgrader"].get("solution") and c.cell_type == "code"]
    assert len(answers) == 7 and all("raise NotImplementedError()" in c.source for c in answers)
