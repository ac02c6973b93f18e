"""The course loop end to end through the real nbgrader, on Lesson 1: release, check, grade a
class (solution, untouched release, forgeries, broken submissions, endless loops, crashes,
the sandbox), feedback without hidden tests, and the grades CSV. Every lesson's catalogued
mistakes are graded in test_course_loop_lessons.py."""
import csv
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from xaiexit.course import loop
from xaiexit.course.workspace import CourseError

from course_helpers import LESSON, RELEASE, ROOT, SOURCE, cells_by_id, submission

XAIEXIT = [sys.executable, "-m", "xaiexit.course"]
POINTS = {"vanilla_gradient": 2, "to_heatmap": 1, "gradient_x_input": 1, "smoothgrad": 2, "relevance_mass": 1}
AUTO_TOTAL = sum(POINTS.values())
HIDDEN_MARKERS = ("BEGIN HIDDEN TESTS", "grading.check_", "from xaiexit.grading")


def run_cli(*args, env=None, cwd=ROOT):
    return subprocess.run([*XAIEXIT, *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600)


# --- release -------------------------------------------------------------------------------

def test_committed_lessons_are_what_release_generates():
    stale = loop.release(ROOT, check=True)
    assert stale == [], f"lessons/ is stale for {stale}: run `make release` and commit lessons/"


def test_release_is_deterministic_and_strips_solutions_and_hidden_tests(tmp_path):
    first = loop._generate(ROOT, LESSON, tmp_path / "a") / f"{LESSON}.ipynb"
    second = loop._generate(ROOT, LESSON, tmp_path / "b") / f"{LESSON}.ipynb"
    assert first.read_bytes() == second.read_bytes()
    text = first.read_text()
    for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "grading.check_", "model answer"):
        assert marker not in text
    nb = nbformat.read(first, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.parametrize("path", [SOURCE, RELEASE])
def test_notebooks_are_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.metadata["nbgrader"]["grade_id"]


@pytest.mark.parametrize("command", ["check", "release", "grade", "feedback", "export"])
def test_every_command_has_help(command):
    result = run_cli(command, "--help")
    assert result.returncode == 0 and "usage: xaiexit" in result.stdout


def test_unknown_lesson_names_the_lessons_there_are(tmp_path):
    result = run_cli("grade", "7", str(tmp_path), "--workspace", str(tmp_path / "ws"))
    assert result.returncode == 2
    assert "unknown lesson '7'" in result.stderr and LESSON in result.stderr


def test_a_workspace_path_nbgrader_cannot_handle_is_refused(tmp_path):
    result = run_cli("export", "--workspace", str(tmp_path / "class (2026)"))
    assert result.returncode == 2 and "choose another" in result.stderr


def test_a_malformed_source_notebook_is_reported(tmp_path):
    course = tmp_path / "course"
    for part in ("autograder", "solutions", "lessons"):
        (course / part).mkdir(parents=True)
    (course / "autograder" / "nbgrader_config.py").write_text((ROOT / "autograder" / "nbgrader_config.py").read_text())
    (course / "solutions" / LESSON).mkdir()
    (course / "solutions" / LESSON / f"{LESSON}.ipynb").write_text('{"cells": ')
    with pytest.raises(CourseError, match="not a notebook"):
        loop.release(course)


# --- check (the learner's command) ---------------------------------------------------------

def test_check_reports_each_exercise(tmp_path):
    answers = {"to_heatmap": "def to_heatmap(attr):\n    return attr.sum(dim=1)\n",
               "think_logit": "Because the softmax mixes in the other classes."}
    nb = submission(answers, solved=False)
    for gid in ("vanilla_gradient", "relevance_mass"):
        cells_by_id(nb)[gid].source = cells_by_id(nbformat.read(SOURCE, as_version=4))[gid].source
    path = tmp_path / f"{LESSON}.ipynb"
    nbformat.write(nb, path)
    result = run_cli("check", str(path))
    lines = result.stdout
    assert result.returncode == 1
    assert re.search(r"passed\s+vanilla_gradient", lines)
    assert re.search(r"passed\s+relevance_mass", lines)
    assert re.search(r"FAILED\s+to_heatmap .*AssertionError: expected \[\[0.75", lines)
    assert re.search(r"not attempted\s+smoothgrad", lines)
    assert re.search(r"answered\s+think_logit", lines) and re.search(r"not answered\s+think_interior", lines)
    assert "2 of 5 exercises pass" in lines


def test_check_runs_edited_test_cells_as_released(tmp_path):
    nb = submission({"to_heatmap": "def to_heatmap(attr):\n    return attr.sum(dim=1)\n"})
    cells_by_id(nb)["to_heatmap_test"].source = "pass  # no more tests"
    path = tmp_path / f"{LESSON}.ipynb"
    nbformat.write(nb, path)
    result = run_cli("check", str(path))
    assert re.search(r"FAILED\s+to_heatmap", result.stdout)
    assert "you edited the locked cell 'to_heatmap_test'" in result.stdout


def test_check_stops_an_endless_loop_and_goes_on(tmp_path):
    nb = submission({"to_heatmap": "def to_heatmap(attr):\n    while True:\n        pass\n"})
    path = tmp_path / f"{LESSON}.ipynb"
    nbformat.write(nb, path)
    result = run_cli("check", str(path), "--timeout", "5")
    assert re.search(r"FAILED\s+to_heatmap .*stopped after 5 s: look for an endless loop", result.stdout)
    assert "4 of 5 exercises pass" in result.stdout


def test_check_refuses_a_renamed_notebook(tmp_path):
    path = tmp_path / "Untitled.ipynb"
    nbformat.write(submission(), path)
    result = run_cli("check", str(path))
    assert result.returncode == 2 and "must keep their name" in result.stderr


# --- grading a class -----------------------------------------------------------------------

CHEATS = {
    # an answer whose == is always true
    "cheat_always_equal": {"vanilla_gradient": "class Yes:\n    def __eq__(self, other):\n        return True\n"
                           "    shape = property(lambda self: None)\n\ndef vanilla_gradient(model, x, target):\n"
                           "    return Yes()\n"},
    # replacing torch.allclose and builtins.abs from an answer cell
    "cheat_patch": {"relevance_mass": "import builtins, torch\ntorch.allclose = lambda *a, **k: True\n"
                    "builtins.abs = lambda v: v\n\ndef relevance_mass(heatmap, mask):\n    return heatmap.sum(dim=(1, 2))\n"},
}


def _write(folder: Path, student: str, nb) -> None:
    (folder / student).mkdir()
    nbformat.write(nb, folder / student / f"{LESSON}.ipynb")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade one class of submissions once; the tests below read the results."""
    root = tmp_path_factory.mktemp("class")
    subs, workspace = root / "submissions", root / "workspace"
    subs.mkdir()
    expected = {}
    _write(subs, "solution", submission({"think_logit": "logit", "think_interior": "flat"}))
    expected["solution"] = dict(POINTS)
    _write(subs, "untouched", nbformat.read(RELEASE, as_version=4))
    expected["untouched"] = dict.fromkeys(POINTS, 0)
    for student, answers in CHEATS.items():
        _write(subs, student, submission(answers))
        expected[student] = {**POINTS, **dict.fromkeys(answers, 0)}
    # a zip, with a deleted test cell and a duplicated answer cell
    nb = submission()
    nb.cells = [c for c in nb.cells if c.metadata["nbgrader"]["grade_id"] != "to_heatmap_test"]
    nb.cells.append(nbformat.from_dict(dict(cells_by_id(nb)["smoothgrad"])))
    nbformat.write(nb, root / "zipped.ipynb")
    with zipfile.ZipFile(subs / "zipped.zip", "w") as archive:
        archive.write(root / "zipped.ipynb", f"handin/{LESSON}.ipynb")
    expected["zipped"] = dict(POINTS)
    # a deleted answer cell scores 0 for that exercise only
    nb = submission()
    nb.cells = [c for c in nb.cells if c.metadata["nbgrader"]["grade_id"] != "gradient_x_input"]
    _write(subs, "deleted_answer", nb)
    expected["deleted_answer"] = {**POINTS, "gradient_x_input": 0}
    # submissions that cannot be graded
    (subs / "broken").mkdir()
    (subs / "broken" / f"{LESSON}.ipynb").write_text('{"cells": [')
    (subs / "empty").mkdir()
    (subs / "empty" / "notes.txt").write_text("forgot the notebook")
    expected["broken"] = expected["empty"] = dict.fromkeys(POINTS, 0)

    result = run_cli("grade", "1", str(subs), "--workspace", str(workspace))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = {row["student"]: row for row in csv.DictReader(open(workspace / "grades.csv"))}
    return dict(workspace=workspace, rows=rows, expected=expected, stdout=result.stdout)


def test_every_student_is_in_the_csv_with_the_right_points(graded):
    rows, expected = graded["rows"], graded["expected"]
    assert set(rows) == set(expected)
    for student, points in expected.items():
        row = rows[student]
        got = {name: float(row[name]) for name in POINTS}
        assert got == {k: float(v) for k, v in points.items()}, student
        assert float(row["score"]) == sum(points.values()), student
        assert float(row["max_score"]) == AUTO_TOTAL + 2  # two written answers, 1 point each


def test_solution_gets_full_marks_and_waits_for_manual_grading(graded):
    row = graded["rows"]["solution"]
    assert float(row["score"]) == AUTO_TOTAL and row["needs_manual_grading"] == "true"
    assert row["flags"] == "" and row["problem"] == ""


def test_unmodified_release_gets_zero(graded):
    assert float(graded["rows"]["untouched"]["score"]) == 0


def test_no_feedback_shows_hidden_tests(graded):
    for page in (graded["workspace"] / "feedback").rglob("*.html"):
        text = page.read_text()
        for marker in HIDDEN_MARKERS:
            assert marker not in text, (page, marker)


def test_forgeries_score_zero_and_are_flagged(graded):
    rows = graded["rows"]
    assert "assigns to torch.allclose" in rows["cheat_patch"]["flags"]
    feedback = (graded["workspace"] / "feedback" / "cheat_patch" / LESSON / f"{LESSON}.html").read_text()
    assert "replaced builtins.abs" in feedback and "torch.allclose" in feedback
    feedback = (graded["workspace"] / "feedback" / "cheat_always_equal" / LESSON / f"{LESSON}.html").read_text()
    assert "must return a torch.Tensor, got Yes" in feedback


def test_broken_submissions_get_a_clear_problem_and_zero(graded):
    rows = graded["rows"]
    assert "not a" in rows["broken"]["problem"] and "notebook" in rows["broken"]["problem"]
    assert f"has no {LESSON}.ipynb (found: notes.txt)" in rows["empty"]["problem"]
    assert "to_heatmap_test' was deleted; it was put back" in rows["zipped"]["notes"]
    assert "'smoothgrad' appears more than once" in rows["zipped"]["notes"]
    assert "answer cell 'gradient_x_input' was deleted" in rows["deleted_answer"]["notes"]


def test_export_and_feedback_run_again_on_their_own(graded):
    workspace = graded["workspace"]
    out = workspace / "again.csv"
    result = run_cli("export", "1", "--workspace", str(workspace), "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert list(csv.DictReader(open(out))) == list(graded["rows"].values())
    result = run_cli("feedback", "1", "--student", "solution", "--workspace", str(workspace))
    assert result.returncode == 0 and "solution" in result.stdout


def test_an_endless_loop_or_a_kernel_crash_costs_only_its_exercise(tmp_path):
    subs = tmp_path / "submissions"
    subs.mkdir()
    _write(subs, "fine", submission())
    _write(subs, "loops", submission({"to_heatmap": "def to_heatmap(attr):\n    while True:\n        pass\n"}))
    _write(subs, "crashes", submission({"gradient_x_input": "import os\n\ndef gradient_x_input(model, x, target):\n"
                                                           "    os._exit(1)\n"}))
    workspace = tmp_path / "workspace"
    result = run_cli("grade", "1", str(subs), "--workspace", str(workspace), "--timeout", "10")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {row["student"]: row for row in csv.DictReader(open(workspace / "grades.csv"))}
    assert float(rows["fine"]["score"]) == AUTO_TOTAL
    assert {k: float(rows["loops"][k]) for k in POINTS} == {**POINTS, "to_heatmap": 0}
    assert {k: float(rows["crashes"][k]) for k in POINTS} == {**POINTS, "gradient_x_input": 0}
    assert "'gradient_x_input' crashed the Python kernel" in rows["crashes"]["notes"]
    feedback = (workspace / "feedback" / "loops" / LESSON / f"{LESSON}.html").read_text()
    assert "ran longer than the grading time limit" in feedback


# --- the sandbox ---------------------------------------------------------------------------

PROBE = '''import os, socket
LEAKS = []
for path in [{solutions!r}, {other!r}, {gradebook!r}]:
    try:
        if os.path.isdir(path):
            if os.listdir(path):
                LEAKS.append("sees " + path)
        else:
            open(path, "rb").read(1)
            LEAKS.append("reads " + path)
    except OSError:
        pass
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
    LEAKS.append("network")
except OSError:
    pass
try:
    open({course_file!r}, "rb+").close()
    LEAKS.append("can write the course")
except OSError:
    pass


def relevance_mass(heatmap, mask):
    assert not LEAKS, f"sandbox leaks: {{LEAKS}}"
    heat = heatmap.abs()
    total = heat.sum(dim=(1, 2))
    return (heat * mask).sum(dim=(1, 2)) / torch.where(total > 0, total, torch.ones_like(total))
'''


@pytest.mark.parametrize("sandboxed", [True, False])
def test_the_sandbox_hides_solutions_other_students_and_the_network(tmp_path, sandboxed):
    """The same probing answer leaks everything without --sandbox and nothing with it."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    workspace = tmp_path / "workspace"
    course_file = tmp_path / "course_file.txt"  # stands in for a file of the course
    course_file.write_text("x")
    probe = PROBE.format(solutions=str(ROOT / "solutions"),
                         other=str(workspace / "submitted" / "a_classmate" / LESSON / f"{LESSON}.ipynb"),
                         gradebook=str(workspace / "gradebook.db"), port=listener.getsockname()[1],
                         course_file=str(ROOT / "README.md") if sandboxed else str(course_file))
    subs = tmp_path / "submissions"
    subs.mkdir()
    _write(subs, "a_classmate", submission())
    _write(subs, "probe", submission({"relevance_mass": probe}))
    result = run_cli("grade", "1", str(subs), "--workspace", str(workspace), "--timeout", "30",
                     *(["--sandbox"] if sandboxed else []))
    listener.close()
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {row["student"]: row for row in csv.DictReader(open(workspace / "grades.csv"))}
    assert float(rows["a_classmate"]["score"]) == AUTO_TOTAL
    feedback = (workspace / "feedback" / "probe" / LESSON / f"{LESSON}.html").read_text()
    if sandboxed:
        assert float(rows["probe"]["relevance_mass"]) == 1, feedback[-3000:]
        assert float(rows["probe"]["score"]) == AUTO_TOTAL
    else:  # the probe itself works: without a sandbox it finds every door open
        assert float(rows["probe"]["relevance_mass"]) == 0
        for leak in ("sees", "reads", "gradebook.db", "network", "can write the course"):
            assert leak in feedback
