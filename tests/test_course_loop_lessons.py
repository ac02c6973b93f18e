"""Every lesson through the real nbgrader: the solution gets full marks, the release zero,
and every catalogued mistake loses exactly its exercise's points with a message that names it.
(test_course_loop.py grades forgeries, broken submissions, crashes and the sandbox on Lesson 1.)

To keep the class small, each submission carries one mistake in *every* exercise that
still has one left (the first submission the first mistake of each exercise, and so on).
Exercises are graded independently, so each submission must lose exactly the points of
the exercises it got wrong, and its feedback must name each of its mistakes.
"""
import csv
import html
import os
import subprocess
import sys
from itertools import zip_longest

import nbformat
import pytest

from course_helpers import LESSON1, LESSON2, LESSON3, LESSON4, LESSON5, ROOT

LESSONS = [LESSON1, LESSON2, LESSON3, LESSON4, LESSON5]
HIDDEN_MARKERS = ("BEGIN HIDDEN TESTS", "grading.check_", "from xaiexit.grading")


def think_answers(lesson) -> dict[str, str]:
    """A short answer to every written question."""
    return {gid: "An answer." for gid in lesson.solution_sources if gid.startswith("think")}


def mixed_submissions(lesson) -> dict[str, list]:
    """student -> the catalogued mistakes in their notebook, at most one per exercise."""
    per_exercise = [lesson.mistakes.of(exercise) for exercise in lesson.points]
    rounds = zip_longest(*per_exercise)
    return {f"mistakes_{i}": [m for m in row if m is not None] for i, row in enumerate(rounds, start=1)}


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.name)
def test_every_mistake_is_in_one_submission_and_every_exercise_has_mistakes(lesson):
    placed = [m for ms in mixed_submissions(lesson).values() for m in ms]
    assert sorted(placed, key=id) == sorted(lesson.mistakes.CATALOGUE, key=id)
    assert set(lesson.points) == set(lesson.grading.CHECKS)
    for exercise in lesson.points:
        assert lesson.mistakes.of(exercise), exercise


@pytest.fixture(scope="module", params=LESSONS, ids=lambda lesson: lesson.name)
def graded(request, tmp_path_factory):
    """Grade one class of a lesson once; the tests below read the results."""
    lesson = request.param
    root = tmp_path_factory.mktemp(f"class{lesson.number}")
    subs, workspace = root / "submissions", root / "workspace"
    subs.mkdir()
    points = lesson.points
    expected, mistakes_of = {}, {}

    def write(student, nb, score):
        (subs / student).mkdir()
        nbformat.write(nb, subs / student / f"{lesson.name}.ipynb")
        expected[student] = score

    write("solution", lesson.submission(think_answers(lesson)), dict(points))
    write("untouched", nbformat.read(lesson.release, as_version=4), dict.fromkeys(points, 0))
    for student, wrong in mixed_submissions(lesson).items():
        answers = {m.exercise: lesson.mistake_source(m) for m in wrong}
        write(student, lesson.submission(answers), {**points, **dict.fromkeys(answers, 0)})
        mistakes_of[student] = wrong

    result = subprocess.run([sys.executable, "-m", "xaiexit.course", "grade", lesson.number, str(subs),
                             "--workspace", str(workspace)], cwd=ROOT, capture_output=True, text=True,
                            env=dict(os.environ), timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = {row["student"]: row for row in csv.DictReader(open(workspace / "grades.csv"))}
    return dict(lesson=lesson, workspace=workspace, rows=rows, expected=expected, mistakes=mistakes_of)


def _feedback(graded, student) -> str:
    name = graded["lesson"].name
    page = graded["workspace"] / "feedback" / student / name / f"{name}.html"
    return html.unescape(page.read_text())


def test_each_student_gets_exactly_the_points_of_the_exercises_they_got_right(graded):
    rows, expected = graded["rows"], graded["expected"]
    assert set(rows) == set(expected)
    for student, points in expected.items():
        got = {name: float(rows[student][name]) for name in points}
        assert got == {k: float(v) for k, v in points.items()}, student
        assert float(rows[student]["score"]) == sum(points.values()), student
        lesson = graded["lesson"]
        assert float(rows[student]["max_score"]) == sum(lesson.points.values()) + len(think_answers(lesson))


def test_solution_gets_full_marks_and_waits_for_manual_grading(graded):
    row = graded["rows"]["solution"]
    assert float(row["score"]) == sum(graded["lesson"].points.values())
    assert row["needs_manual_grading"] == "true" and row["flags"] == "" and row["problem"] == ""


def test_feedback_names_every_mistake_and_hides_the_hidden_tests(graded):
    for student, wrong in graded["mistakes"].items():
        text = _feedback(graded, student)
        for m in wrong:
            assert m.message in text, f"{student}: {m.exercise}/{m.name}"
    for page in (graded["workspace"] / "feedback").rglob("*.html"):
        text = page.read_text()
        for marker in HIDDEN_MARKERS:
            assert marker not in text, (page, marker)


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.name)
def test_check_of_a_finished_lesson_passes(tmp_path, lesson):
    path = tmp_path / f"{lesson.name}.ipynb"
    nbformat.write(lesson.submission(), path)
    result = subprocess.run([sys.executable, "-m", "xaiexit.course", "check", str(path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(lesson.points)} of {len(lesson.points)} exercises pass" in result.stdout
