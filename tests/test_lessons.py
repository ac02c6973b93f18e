"""Every lesson is shaped like a lesson, and its release is current.

Each solution notebook runs top to bottom with its assert cells in a real browser
(test_browser.py, through :func:`course_helpers.assert_claims_hold`); that grading runs
nothing heavy is read from each lesson's autograded solution (test_course_loop_lessons.py).

What differs from lesson to lesson is in ``SPECS``; lesson-specific checks (a lesson's
solutions against the library, say) live in ``test_lessonNN.py``.
"""

import nbformat
import pytest

from xaiexit.course.release import release

from course_helpers import LESSON1, LESSON2, LESSON3, LESSON4, LESSON5, LESSON6, ROOT

#: lesson -> its exercises with their points (in notebook order), its Think! cells and text
#: the lesson must contain (what some cells must print when run is ``Lesson.prints``)
SPECS = {
    LESSON1: dict(
        points={"vanilla_gradient": 2, "to_heatmap": 1, "gradient_x_input": 1, "smoothgrad": 2, "relevance_mass": 1},
        thinks=["think_logit", "think_interior"],
        text=["LFWFaces"],
    ),
    LESSON2: dict(
        points={
            "integrated_gradients": 2,
            "completeness_gap": 1,
            "occlusion": 2,
            "interior_border_split": 1,
            "spearman_rank_correlation": 1,
            "cascading_randomization": 2,
        },
        thinks=["think_flat", "think_baseline", "think_occlusion"],
        text=[],
    ),
    LESSON3: dict(
        points={
            "early_exit_loss": 1,
            "entropy_score": 1,
            "predict_with_exits": 3,
            "conv2d_macs": 1,
            "exit_costs": 1,
            "expected_calibration_error": 2,
            "fit_temperature": 1,
        },
        thinks=["think_overconfidence", "think_speedup"],
        text=[],
    ),
    LESSON4: dict(
        points={"auroc": 2, "spatial_entropy": 1, "moment_of_inertia": 1},
        thinks=["think_matured"],
        text=["hierarchical", "Digits", "stratum"],
    ),
    LESSON5: dict(
        points={"cosine_similarity_maps": 1, "ssim_maps": 2, "coherence_scores": 1, "choose_threshold": 2},
        thinks=["think_cost"],
        text=["evaluate_exit_rules", "OracleCoherenceRule", "exit_map_randomization", "Digits"],
    ),
    LESSON6: dict(
        points={
            "center_crop": 1,
            "unet_output_size": 1,
            "weight_map": 2,
            "weighted_cross_entropy": 1,
            "elastic_deform": 2,
            "overlap_tile_predict": 2,
            "iou": 1,
        },
        thinks=["think_border", "think_tiles"],
        text=["ElasticTransform", "31,030,658"],
    ),
}
LESSONS = list(SPECS)


def _by_name(lesson):
    return lesson.name


@pytest.mark.parametrize("lesson", LESSONS, ids=_by_name)
def test_lesson_has_the_parts_of_a_lesson(lesson):
    spec = SPECS[lesson]
    nb = nbformat.read(lesson.source, as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    meta = [c.metadata["nbgrader"] for c in nb.cells]
    assert "objectives" in text.lower() and "Think!" in text
    assert "ipywidgets" in text  # the widget
    assert all(needed in text for needed in spec["text"])
    answers = [m["grade_id"] for m in meta if m.get("solution") and not m["grade_id"].startswith("think")]
    assert answers == list(spec["points"])
    assert lesson.points == spec["points"]
    thinks = [m for m in meta if m.get("solution") and m["grade_id"].startswith("think")]
    assert [m["grade_id"] for m in thinks] == spec["thinks"]
    assert all(m.get("grade") and m.get("points") == 1 for m in thinks)
    assert len({m["grade_id"] for m in meta}) == len(meta), "grade_ids must be unique"
    assert all(c.id == c.metadata["nbgrader"]["grade_id"] for c in nb.cells), "cell ids equal grade_ids"
    hidden = [c.source for c in nb.cells if c.metadata["nbgrader"].get("grade") and c.cell_type == "code"]
    imports = f"from xaiexit_grading import {lesson.grading.__name__.rsplit('.', 1)[1]} as grading"
    assert len(hidden) == len(spec["points"]) and all(imports in s for s in hidden)
    worked = [
        c
        for c in nb.cells
        if c.cell_type == "code"
        and not c.metadata["nbgrader"].get("solution")
        and not c.metadata["nbgrader"].get("grade")
        and c.id != "setup"
    ]
    assert all(c.source.startswith("if not GRADING:") for c in worked), "every worked cell is skipped while grading"
    assert all(
        c.get("outputs", []) == [] and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code"
    ), "save the notebook without outputs"


@pytest.mark.parametrize("lesson", LESSONS, ids=_by_name)
def test_released_lesson_is_what_release_generates(lesson):
    """lessons/ is byte for byte what `make release` makes of solutions/ now (so the release
    is deterministic, and nobody edited a lesson without releasing it)."""
    stale = release(ROOT, [lesson.name], check=True)
    assert stale == [], f"lessons/ is stale for {stale}: run `make release` and commit lessons/"


@pytest.mark.parametrize("lesson", LESSONS, ids=_by_name)
def test_released_lesson_is_current(lesson):
    """lessons/ has no solutions, no hidden tests and no outputs, and each exercise raises
    NotImplementedError."""
    nb = nbformat.read(lesson.release, as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "grading.check_", "xaiexit_grading"):
        assert marker not in text, marker
    assert all(c.outputs == [] and c.execution_count is None for c in nb.cells if c.cell_type == "code")
    answers = [c for c in nb.cells if c.metadata["nbgrader"].get("solution") and c.cell_type == "code"]
    assert len(answers) == len(SPECS[lesson]["points"])
    assert all("raise NotImplementedError()" in c.source for c in answers)
