"""Lesson 3 runs top to bottom with its assert cells, and is shaped like a lesson."""
import nbformat
import pytest

from course_helpers import LESSON3, printed

SOURCE = LESSON3.source

# Every assert cell of the lesson ends by printing "claim holds: ..."
CLAIM_CELLS = ("history_claim", "difficulty_claim", "curve_claim", "timing_claim", "calibration_claim",
               "decisions_claim", "saliency_claim")


@pytest.mark.slow
def test_solution_notebook_runs_and_its_claims_hold():
    nb = LESSON3.execute()  # nbclient raises CellExecutionError on any failing cell or assert
    cells = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells}
    missing = [gid for gid in CLAIM_CELLS if "claim holds" not in printed(cells[gid])]
    assert missing == [], f"these assert cells did not print 'claim holds': {missing}"
    tests = [gid for gid, c in cells.items() if gid.endswith("_test")]
    assert all("visible tests passed" in printed(cells[gid]) for gid in tests)
    assert "== simulate_exits on the test split: True" in printed(cells["operating_point"])


def test_grading_mode_runs_nothing_heavy():
    heavy = LESSON3.cells_printing_while_grading()
    assert heavy == [], f"cells guarded by `if not GRADING` printed while grading: {heavy}"


def test_lesson_has_the_parts_of_a_lesson():
    nb = nbformat.read(SOURCE, as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    meta = [c.metadata["nbgrader"] for c in nb.cells]
    assert "objectives" in text.lower() and "Think!" in text
    assert "ipywidgets" in text  # the widget
    answers = [m["grade_id"] for m in meta if m.get("solution") and not m["grade_id"].startswith("think")]
    assert answers == ["early_exit_loss", "entropy_score", "predict_with_exits", "conv2d_macs", "exit_costs",
                       "expected_calibration_error", "fit_temperature"]
    assert LESSON3.points == {"early_exit_loss": 1, "entropy_score": 1, "predict_with_exits": 3, "conv2d_macs": 1,
                              "exit_costs": 1, "expected_calibration_error": 2, "fit_temperature": 1}
    thinks = [m for m in meta if m.get("solution") and m["grade_id"].startswith("think")]
    assert [m["grade_id"] for m in thinks] == ["think_overconfidence", "think_speedup"]
    assert all(m.get("grade") and m.get("points") == 1 for m in thinks)
    assert len({m["grade_id"] for m in meta}) == len(meta), "grade_ids must be unique"
    assert all(c.id == c.metadata["nbgrader"]["grade_id"] for c in nb.cells), "cell ids equal grade_ids"
    hidden = [c.source for c in nb.cells if c.metadata["nbgrader"].get("grade") and c.cell_type == "code"]
    assert len(hidden) == 7 and all("from xaiexit.grading import early_exit as grading" in s for s in hidden)
    heavy = [c for c in nb.cells if c.cell_type == "code" and not c.metadata["nbgrader"].get("solution")
             and not c.metadata["nbgrader"].get("grade") and c.id != "setup"]
    assert all(c.source.startswith("if not GRADING:") for c in heavy), "every worked cell is skipped while grading"
    assert all(c.get("outputs", []) == [] and c.get("execution_count") is None
               for c in nb.cells if c.cell_type == "code"), "save the notebook without outputs"


def test_solutions_equal_the_library():
    """The notebook's solutions are the library's references, numerically."""
    import torch

    from xaiexit import exits
    from xaiexit.models import EarlyExitCNN

    ns = LESSON3.solution_namespace()
    torch.manual_seed(0)
    logits, y = [torch.randn(32, 3) * 3, torch.randn(32, 3)], torch.randint(0, 3, (32,))
    assert torch.allclose(ns["early_exit_loss"](logits, y, [0.3, 1.0]), exits.early_exit_loss(logits, y, [0.3, 1.0]))
    z = torch.cat([logits[0], torch.tensor([[0.0, 1000.0, -float("inf")]])])
    assert torch.allclose(ns["entropy_score"](z), exits.entropy_score(z))
    model = EarlyExitCNN(widths=(4, 8, 8, 8), exits_after=(1, 3), branch_width=4).eval()
    x = torch.rand(16, 3, 16, 16)
    for got, want in zip(ns["predict_with_exits"](model, x, exits.MaxSoftmax(), [0.55, 0.6]),
                         exits.predict_with_exits(model, x, exits.MaxSoftmax(), [0.55, 0.6])):
        assert torch.equal(got, want)
    conv = torch.nn.Conv2d(6, 4, (3, 5), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2)
    assert ns["conv2d_macs"](conv, (6, 17, 13)) == exits.conv2d_macs(conv, (6, 17, 13))
    assert torch.equal(ns["exit_costs"](model, (3, 16, 16)), exits.exit_costs(model, (3, 16, 16)))
    probs = torch.softmax(torch.randn(200, 4) * 2, dim=1)
    labels = torch.randint(0, 4, (200,))
    assert abs(ns["expected_calibration_error"](probs, labels) - exits.expected_calibration_error(probs, labels)) < 1e-12
    z = torch.randn(200, 4) * 3
    assert abs(ns["fit_temperature"](z, labels) - exits.fit_temperature(z, labels)) < 1e-4


def test_released_lesson_is_current():
    """lessons/03 has no solutions and no hidden tests, and each exercise raises NotImplementedError."""
    nb = nbformat.read(LESSON3.release, as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    answers = [c for c in nb.cells if c.metadata["nbgrader"].get("solution") and c.cell_type == "code"]
    assert len(answers) == 7 and all("raise NotImplementedError()" in c.source for c in answers)
