"""Lesson 1 runs top to bottom with its assert cells, and is shaped like a lesson."""
import nbformat
import pytest

from course_helpers import LESSON1, SOURCE


@pytest.mark.slow
def test_solution_notebook_runs_and_its_claims_hold():
    nb = LESSON1.execute()  # nbclient raises CellExecutionError on any failing cell or assert
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "claim holds" in outputs


def test_grading_mode_runs_nothing_heavy():
    heavy = LESSON1.cells_printing_while_grading()
    assert heavy == [], f"cells guarded by `if not GRADING` printed while grading: {heavy}"


def test_lesson_has_the_parts_of_a_lesson():
    nb = nbformat.read(SOURCE, as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    meta = [c.metadata["nbgrader"] for c in nb.cells]
    assert "objectives" in text.lower() and "Think!" in text
    assert "ipywidgets" in text  # the widget
    assert "LFWFaces" in text  # the same question on real faces
    assert sum(1 for m in meta if m.get("solution") and not m["grade_id"].startswith("think")) == 5
    assert sum(1 for m in meta if m.get("solution") and m["grade_id"].startswith("think")) >= 1
    assert len({m["grade_id"] for m in meta}) == len(meta), "grade_ids must be unique"
