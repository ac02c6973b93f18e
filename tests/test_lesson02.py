"""Lesson 2 runs top to bottom with its assert cells, and is shaped like a lesson."""
import nbformat
import pytest

from course_helpers import LESSON2, printed

SOURCE = LESSON2.source

# Every assert cell of the lesson ends by printing "claim holds: ..."
CLAIM_CELLS = ("saturation_claim", "steps_claim", "flat_claim", "remedy_claim", "intervention_claim",
               "cascade_claim", "shift_claim")


@pytest.mark.slow
def test_solution_notebook_runs_and_its_claims_hold():
    nb = LESSON2.execute()  # nbclient raises CellExecutionError on any failing cell or assert
    cells = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells}
    missing = [gid for gid in CLAIM_CELLS if "claim holds" not in printed(cells[gid])]
    assert missing == [], f"these assert cells did not print 'claim holds': {missing}"
    tests = [gid for gid, c in cells.items() if gid.endswith("_test")]
    assert all("visible tests passed" in printed(cells[gid]) for gid in tests)


def test_grading_mode_runs_nothing_heavy():
    heavy = LESSON2.cells_printing_while_grading()
    assert heavy == [], f"cells guarded by `if not GRADING` printed while grading: {heavy}"


def test_lesson_has_the_parts_of_a_lesson():
    nb = nbformat.read(SOURCE, as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    meta = [c.metadata["nbgrader"] for c in nb.cells]
    assert "objectives" in text.lower() and "Think!" in text
    assert "ipywidgets" in text  # the widget
    answers = [m["grade_id"] for m in meta if m.get("solution") and not m["grade_id"].startswith("think")]
    assert answers == ["integrated_gradients", "completeness_gap", "occlusion", "interior_border_split",
                       "spearman_rank_correlation", "cascading_randomization"]
    assert LESSON2.points == {"integrated_gradients": 2, "completeness_gap": 1, "occlusion": 2,
                              "interior_border_split": 1, "spearman_rank_correlation": 1,
                              "cascading_randomization": 2}
    thinks = [m for m in meta if m.get("solution") and m["grade_id"].startswith("think")]
    assert len(thinks) >= 2 and all(m.get("grade") and m.get("points") == 1 for m in thinks)
    assert len({m["grade_id"] for m in meta}) == len(meta), "grade_ids must be unique"
    assert all(c.id == c.metadata["nbgrader"]["grade_id"] for c in nb.cells), "cell ids equal grade_ids"
    hidden = [c.source for c in nb.cells if c.metadata["nbgrader"].get("grade") and c.cell_type == "code"]
    assert all("from xaiexit.grading import flat_regions as grading" in s for s in hidden)
    assert all(c.get("outputs", []) == [] and c.get("execution_count") is None
               for c in nb.cells if c.cell_type == "code"), "save the notebook without outputs"


def test_released_lesson_is_current():
    """lessons/02 has no solutions and no hidden tests, and each exercise raises NotImplementedError."""
    nb = nbformat.read(LESSON2.release, as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    answers = [c for c in nb.cells if c.metadata["nbgrader"].get("solution") and c.cell_type == "code"]
    assert len(answers) == 6 and all("raise NotImplementedError()" in c.source for c in answers)
