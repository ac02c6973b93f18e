"""Every lesson through the real nbgrader, in the sandbox as `xaiexit grade` grades by
default: the solution gets full marks, the release zero, a catalogued mistake and a crash
each lose exactly their exercise's points, feedback names the mistake without showing the
hidden tests, and grading runs nothing heavy.

That every catalogued mistake fails its hidden check with its message is shown in-process
(test_grading_catalogues.py); here one mistake per lesson shows that the message reaches the
learner through nbgrader. test_course_loop.py grades forgeries, broken submissions, endless
loops and the sandbox on Lesson 1.
"""

import csv
import html
import os
import subprocess
import sys

import nbformat
import pytest

from course_helpers import LESSONS, ROOT

#: seconds a cell may run while graded here: nothing in these notebooks loops, so no ordinary
#: cell may fail for being slow on a busy machine
GENEROUS_TIMEOUT = "600"
HIDDEN_MARKERS = ("BEGIN HIDDEN TESTS", "grading.check_", "xaiexit_grading")


def think_answers(lesson) -> dict[str, str]:
    """A short answer to every written question."""
    return {gid: "An answer." for gid in lesson.solution_sources if gid.startswith("think")}


def crash_source(exercise: str) -> str:
    """An answer that kills the Python kernel when it is called."""
    return f"import os\n\ndef {exercise}(*args, **kwargs):\n    os._exit(1)\n"


#: under pytest-xdist (``make test``: ``--dist loadgroup``), the tests that read one lesson's
#: graded class run on one worker, so that the class is graded once, not once per worker
CLASSES = [
    pytest.param(lesson, id=lesson.name, marks=pytest.mark.xdist_group(f"class-{lesson.name}")) for lesson in LESSONS
]


@pytest.fixture(scope="module", params=CLASSES)
def graded(request, tmp_path_factory):
    """Grade one small class of a lesson once; the tests below read the results.

    Students: the solution, the untouched release, and one notebook with the lesson's first
    catalogued mistake in one exercise and a kernel crash in another.
    """
    lesson = request.param
    root = tmp_path_factory.mktemp(f"class{lesson.number}")
    subs, workspace = root / "submissions", root / "workspace"
    subs.mkdir()
    points = lesson.points
    mistake = lesson.mistakes.CATALOGUE[0]
    crashing = next(exercise for exercise in points if exercise != mistake.exercise)
    students = {
        "solution": (lesson.submission(think_answers(lesson)), dict(points)),
        "untouched": (nbformat.read(lesson.release, as_version=4), dict.fromkeys(points, 0)),
        "mistake_and_crash": (
            lesson.submission({mistake.exercise: lesson.mistake_source(mistake), crashing: crash_source(crashing)}),
            {**points, mistake.exercise: 0, crashing: 0},
        ),
    }
    for student, (nb, _) in students.items():
        (subs / student).mkdir()
        nbformat.write(nb, subs / student / f"{lesson.name}.ipynb")
    result = subprocess.run(
        [sys.executable, "-m", "xaiexit.course", "grade", lesson.number, str(subs), "--workspace", str(workspace)]
        + ["--timeout", GENEROUS_TIMEOUT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=1800,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = {row["student"]: row for row in csv.DictReader(open(workspace / "grades.csv"))}
    expected = {student: score for student, (_, score) in students.items()}
    return dict(lesson=lesson, workspace=workspace, rows=rows, expected=expected, mistake=mistake, crashing=crashing)


def _feedback(graded, student) -> str:
    name = graded["lesson"].name
    page = graded["workspace"] / "feedback" / student / name / f"{name}.html"
    return html.unescape(page.read_text())


def test_each_student_gets_exactly_the_points_of_the_exercises_they_got_right(graded):
    rows, expected, lesson = graded["rows"], graded["expected"], graded["lesson"]
    assert set(rows) == set(expected)
    for student, points in expected.items():
        got = {name: float(rows[student][name]) for name in points}
        assert got == {k: float(v) for k, v in points.items()}, student
        assert float(rows[student]["score"]) == sum(points.values()), student
        assert float(rows[student]["max_score"]) == sum(lesson.points.values()) + len(think_answers(lesson))


def test_solution_gets_full_marks_and_waits_for_manual_grading(graded):
    row = graded["rows"]["solution"]
    assert float(row["score"]) == sum(graded["lesson"].points.values())
    assert row["needs_manual_grading"] == "true" and row["flags"] == "" and row["problem"] == ""


def test_a_crash_costs_only_its_exercise_and_is_explained(graded):
    row = graded["rows"]["mistake_and_crash"]
    assert row["problem"] == ""
    assert f"the answer '{graded['crashing']}' crashed the Python kernel" in row["notes"]


def test_feedback_names_the_mistake_and_hides_the_hidden_tests(graded):
    assert graded["mistake"].message in _feedback(graded, "mistake_and_crash")
    for page in (graded["workspace"] / "feedback").rglob("*.html"):
        text = page.read_text()
        for marker in HIDDEN_MARKERS:
            assert marker not in text, (page, marker)


def test_grading_runs_nothing_heavy(graded):
    """Cells guarded by ``if not GRADING:`` print nothing in the autograded solution: grading
    must not train, time or plot."""
    name = graded["lesson"].name
    nb = nbformat.read(graded["workspace"] / "autograded" / "solution" / name / f"{name}.ipynb", as_version=4)
    guarded = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("if not GRADING:")]
    assert guarded, "the lesson's worked cells are guarded by `if not GRADING:`"
    heavy = [c.metadata["nbgrader"]["grade_id"] for c in guarded if c.outputs]
    assert heavy == [], f"cells guarded by `if not GRADING` printed while grading: {heavy}"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.name)
def test_check_of_a_finished_lesson_passes(tmp_path, lesson):
    path = tmp_path / f"{lesson.name}.ipynb"
    nbformat.write(lesson.submission(), path)
    result = subprocess.run(
        [sys.executable, "-m", "xaiexit.course", "check", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(lesson.points)} of {len(lesson.points)} exercises pass" in result.stdout
