"""Lesson 4 runs top to bottom with its assert cells, and is shaped like a lesson."""
import nbformat
import pytest

from course_helpers import LESSON4, printed

SOURCE = LESSON4.source

# Every assert cell of the lesson ends by printing "claim holds: ..."
CLAIM_CELLS = ("bar_claim", "toy_claim", "depth_claim", "agreement_claim", "evidence_claim", "cost_claim",
               "calibration_claim", "comparison_claim")
ANSWERS = ["spatial_entropy", "moment_of_inertia", "cosine_similarity_maps", "ssim_maps", "coherence_scores",
           "choose_threshold", "operating_point"]


@pytest.mark.slow
def test_solution_notebook_runs_and_its_claims_hold():
    nb = LESSON4.execute()  # nbclient raises CellExecutionError on any failing cell or assert
    cells = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells}
    missing = [gid for gid in CLAIM_CELLS if "claim holds" not in printed(cells[gid])]
    assert missing == [], f"these assert cells did not print 'claim holds': {missing}"
    tests = [gid for gid, c in cells.items() if gid.endswith("_test")]
    assert len(tests) == 7 and all("visible tests passed" in printed(cells[gid]) for gid in tests)


def test_grading_mode_runs_nothing_heavy():
    heavy = LESSON4.cells_printing_while_grading()
    assert heavy == [], f"cells guarded by `if not GRADING` printed while grading: {heavy}"


def test_lesson_has_the_parts_of_a_lesson():
    nb = nbformat.read(SOURCE, as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    meta = [c.metadata["nbgrader"] for c in nb.cells]
    assert "objectives" in text.lower() and "Think!" in text
    assert "ipywidgets" in text  # the widget
    answers = [m["grade_id"] for m in meta if m.get("solution") and not m["grade_id"].startswith("think")]
    assert answers == ANSWERS
    assert LESSON4.points == {"spatial_entropy": 1, "moment_of_inertia": 1, "cosine_similarity_maps": 1,
                              "ssim_maps": 2, "coherence_scores": 1, "choose_threshold": 2, "operating_point": 1}
    thinks = [m for m in meta if m.get("solution") and m["grade_id"].startswith("think")]
    assert [m["grade_id"] for m in thinks] == ["think_matured", "think_cost"]
    assert all(m.get("grade") and m.get("points") == 1 for m in thinks)
    assert len({m["grade_id"] for m in meta}) == len(meta), "grade_ids must be unique"
    assert all(c.id == c.metadata["nbgrader"]["grade_id"] for c in nb.cells), "cell ids equal grade_ids"
    hidden = [c.source for c in nb.cells if c.metadata["nbgrader"].get("grade") and c.cell_type == "code"]
    assert len(hidden) == 7 and all("from xaiexit.grading import exit_rules as grading" in s for s in hidden)
    heavy = [c for c in nb.cells if c.cell_type == "code" and not c.metadata["nbgrader"].get("solution")
             and not c.metadata["nbgrader"].get("grade") and c.id != "setup"]
    assert all(c.source.startswith("if not GRADING:") for c in heavy), "every worked cell is skipped while grading"
    assert all(c.get("outputs", []) == [] and c.get("execution_count") is None
               for c in nb.cells if c.cell_type == "code"), "save the notebook without outputs"


def test_solutions_equal_the_library():
    """The notebook's solutions are the library's references, numerically."""
    import math

    import torch

    from xaiexit import exits

    ns = LESSON4.solution_namespace()
    g = torch.Generator().manual_seed(0)
    maps = torch.rand(5, 9, 9, generator=g)
    maps[0] = 0.0
    maps[1, :4] = 0.0
    small = torch.rand(5, 4, 4, generator=g)
    for name in ("spatial_entropy", "moment_of_inertia"):
        assert torch.allclose(ns[name](maps).double(), getattr(exits, name)(maps), atol=1e-6)
    assert torch.allclose(ns["cosine_similarity_maps"](maps, small).double(), exits.cosine_similarity_maps(maps, small))
    big = torch.rand(5, 16, 16, generator=g)
    assert torch.allclose(ns["ssim_maps"](big, maps).double(), exits.ssim_maps(big, maps), atol=1e-6)
    per_exit = [big, maps, small]
    for reference in ("previous", "final"):
        assert torch.allclose(ns["coherence_scores"](per_exit, reference=reference).double(),
                              exits.coherence_scores(per_exit, reference=reference), atol=1e-6)
    scores = torch.randint(0, 6, (40,), generator=g).float() / 5  # ties
    correct = torch.rand(40, generator=g) < 0.7
    for target in (0.6, 0.8, 0.95, 1.0):
        for surer in (True, False):
            ours = float(ns["choose_threshold"](scores, correct, target, surer))
            assert ours == exits.choose_threshold(scores, correct, target, surer)
    test_scores, test_correct = torch.rand(30, generator=g), torch.rand(30, generator=g) < 0.6
    got = ns["operating_point"](scores, correct, test_scores, test_correct, 0.8)
    want = exits.operating_point(scores, correct, test_scores, test_correct, 0.8)
    assert float(got[0]) == want.threshold and float(got[2]) == want.share
    assert float(got[1]) == pytest.approx(want.accuracy) or (math.isnan(float(got[1])) and math.isnan(want.accuracy))


def test_released_lesson_is_current():
    """lessons/04 has no solutions and no hidden tests, and each exercise raises NotImplementedError."""
    nb = nbformat.read(LESSON4.release, as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    answers = [c for c in nb.cells if c.metadata["nbgrader"].get("solution") and c.cell_type == "code"]
    assert len(answers) == 7 and all("raise NotImplementedError()" in c.source for c in answers)
