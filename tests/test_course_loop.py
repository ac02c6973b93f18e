"""The course loop end to end through the real nbgrader, on Lesson 1: release, check, grade a
class (forgeries, repaired and broken submissions, an endless loop, the sandbox), feedback
without hidden tests, and the grades CSV. Every lesson's solution, release, a catalogued
mistake and a crash are graded in test_course_loop_lessons.py."""

import csv
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from xaiexit.course.release import release
from xaiexit.course.workspace import CourseError

from course_helpers import LESSON, RELEASE, ROOT, SOURCE, cells_by_id, submission

XAIEXIT = [sys.executable, "-m", "xaiexit.course"]
POINTS = {"vanilla_gradient": 2, "to_heatmap": 1, "gradient_x_input": 1, "smoothgrad": 2, "relevance_mass": 1}
AUTO_TOTAL = sum(POINTS.values())
HIDDEN_MARKERS = ("BEGIN HIDDEN TESTS", "grading.check_", "xaiexit_grading")


def run_cli(*args, env=None, cwd=ROOT):
    return subprocess.run(
        [*XAIEXIT, *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=600
    )


# --- release -------------------------------------------------------------------------------


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


def test_the_course_folder_can_be_given_before_or_after_the_command(tmp_path, capsys):
    from xaiexit.course.cli import build_parser, main

    for argv in (["--course", "DIR", "check", "1"], ["check", "1", "--course", "DIR"]):
        assert build_parser().parse_args(argv).course == "DIR"
    assert main(["release", "1", "--check", "--course", str(tmp_path)]) == 2
    assert f"{tmp_path} is not an xaiexit course" in capsys.readouterr().err


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
        release(course)


# --- check (the learner's command) ---------------------------------------------------------


#: answers that never return (they sleep, so that they do not slow the machine down)
ENDLESS = "import time\n\ndef to_heatmap(attr):\n    while True:\n        time.sleep(1)\n"
ENDLESS_SMOOTHGRAD = (
    "import time\n\ndef smoothgrad(model, x, target, n=50, noise=0.15):\n    while True:\n        time.sleep(1)\n"
)
#: a cell time limit that only an endless loop reaches, even on a busy 2-core laptop
#: (every ordinary cell of Lesson 1 runs in seconds while checked or graded); where nothing
#: loops, the gradings below allow 600 s
ENDLESS_TIMEOUT = "60"


def test_check_reports_each_exercise_and_stops_an_endless_loop(tmp_path):
    answers = {
        "to_heatmap": "def to_heatmap(attr):\n    return attr.sum(dim=1)\n",
        "smoothgrad": ENDLESS_SMOOTHGRAD,
        "think_logit": "Because the softmax mixes in the other classes.",
    }
    nb = submission(answers, solved=False)
    for gid in ("vanilla_gradient", "relevance_mass"):
        cells_by_id(nb)[gid].source = cells_by_id(nbformat.read(SOURCE, as_version=4))[gid].source
    path = tmp_path / f"{LESSON}.ipynb"
    nbformat.write(nb, path)
    result = run_cli("check", str(path), "--timeout", ENDLESS_TIMEOUT)
    lines = result.stdout
    assert result.returncode == 1
    # the kernel runs on local sockets: no TCP port, so no warning that looks like an error
    assert "without encryption" not in result.stdout + result.stderr
    assert re.search(r"passed\s+vanilla_gradient", lines)
    assert re.search(r"FAILED\s+to_heatmap .*AssertionError: expected \[\[0.75", lines)
    assert re.search(r"not attempted\s+gradient_x_input", lines)
    # the endless loop is stopped at the time limit, and the exercises after it still run
    assert re.search(rf"FAILED\s+smoothgrad .*stopped after {ENDLESS_TIMEOUT} s: look for an endless loop", lines)
    assert re.search(r"passed\s+relevance_mass", lines)
    assert re.search(r"answered\s+think_logit", lines) and re.search(r"not answered\s+think_interior", lines)
    assert "2 of 5 exercises pass" in lines


def test_check_runs_edited_test_cells_as_released(tmp_path):
    nb = submission({"to_heatmap": "def to_heatmap(attr):\n    return attr.sum(dim=1)\n"})
    cells_by_id(nb)["to_heatmap_test"].source = "pass  # no more tests"
    path = tmp_path / f"{LESSON}.ipynb"
    nbformat.write(nb, path)
    result = run_cli("check", str(path))
    assert f"checking the saved {path} " in result.stdout  # which copy it checked: a path outside the course
    assert re.search(r"FAILED\s+to_heatmap", result.stdout)
    assert "you edited the locked cell 'to_heatmap_test'" in result.stdout


def test_check_refuses_a_renamed_notebook(tmp_path):
    path = tmp_path / "Untitled.ipynb"
    nbformat.write(submission(), path)
    result = run_cli("check", str(path))
    assert result.returncode == 2 and "must keep their name" in result.stderr


# --- grading a class -----------------------------------------------------------------------

#: forgeries, both in one notebook: an answer whose == is always true (the first exercise), and
#: replacing torch.allclose and builtins.abs from an answer cell (the last exercise): the hidden
#: tests run in the grader, so neither reaches them (test_grading_hostile.py has the rest)
FORGERIES = {
    "vanilla_gradient": "class Yes:\n    def __eq__(self, other):\n        return True\n"
    "    shape = property(lambda self: None)\n\ndef vanilla_gradient(model, x, target):\n"
    "    return Yes()\n",
    "relevance_mass": "import builtins, torch\ntorch.allclose = lambda *a, **k: True\n"
    "builtins.abs = lambda v: v\n\ndef relevance_mass(heatmap, mask):\n"
    "    return heatmap.sum(dim=(1, 2))\n",
}


def _write(folder: Path, student: str, nb) -> None:
    (folder / student).mkdir()
    nbformat.write(nb, folder / student / f"{LESSON}.ipynb")


#: under pytest-xdist (``make test``: ``--dist loadgroup``), the tests that read the graded
#: class run on one worker, so that the class is graded once, not once per worker
ON_THE_CLASS = pytest.mark.xdist_group("class-lesson1")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade one class of Lesson 1 once; the tests below read the results.

    What every lesson's class shows (the solution, the release, a mistake, a crash) is in
    test_course_loop_lessons.py; this class holds what only Lesson 1 needs to show once.
    """
    root = tmp_path_factory.mktemp("class")
    subs, workspace = root / "submissions", root / "workspace"
    subs.mkdir()
    expected = {}
    _write(subs, "forger", submission(FORGERIES))
    expected["forger"] = {**POINTS, **dict.fromkeys(FORGERIES, 0)}
    # a zip, with a deleted test cell, a duplicated answer cell and a deleted answer cell
    # (which scores 0 for that exercise only)
    nb = submission()
    nb.cells = [
        c for c in nb.cells if c.metadata["nbgrader"]["grade_id"] not in ("to_heatmap_test", "gradient_x_input")
    ]
    nb.cells.append(nbformat.from_dict(dict(cells_by_id(nb)["smoothgrad"])))
    nbformat.write(nb, root / "zipped.ipynb")
    with zipfile.ZipFile(subs / "zipped.zip", "w") as archive:
        archive.write(root / "zipped.ipynb", f"handin/{LESSON}.ipynb")
    expected["zipped"] = {**POINTS, "gradient_x_input": 0}
    # an endless loop costs only its exercise
    _write(subs, "loops", submission({"to_heatmap": ENDLESS}))
    expected["loops"] = {**POINTS, "to_heatmap": 0}
    # submissions that cannot be graded
    (subs / "broken").mkdir()
    (subs / "broken" / f"{LESSON}.ipynb").write_text('{"cells": [')
    (subs / "empty").mkdir()
    (subs / "empty" / "notes.txt").write_text("forgot the notebook")
    expected["broken"] = expected["empty"] = dict.fromkeys(POINTS, 0)

    # without the sandbox (the instructor's explicit choice): every other class here is sandboxed
    result = run_cli(
        "grade", "1", str(subs), "--workspace", str(workspace), "--timeout", ENDLESS_TIMEOUT, "--no-sandbox"
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = {row["student"]: row for row in csv.DictReader(open(workspace / "grades.csv"))}
    return dict(workspace=workspace, rows=rows, expected=expected, stdout=result.stdout)


@ON_THE_CLASS
def test_every_student_is_in_the_csv_with_the_right_points(graded):
    rows, expected = graded["rows"], graded["expected"]
    assert set(rows) == set(expected)
    for student, points in expected.items():
        row = rows[student]
        got = {name: float(row[name]) for name in POINTS}
        assert got == {k: float(v) for k, v in points.items()}, student
        assert float(row["score"]) == sum(points.values()), student
        assert float(row["max_score"]) == AUTO_TOTAL + 2  # two written answers, 1 point each


@ON_THE_CLASS
def test_no_feedback_shows_hidden_tests(graded):
    for page in (graded["workspace"] / "feedback").rglob("*.html"):
        text = page.read_text()
        for marker in HIDDEN_MARKERS:
            assert marker not in text, (page, marker)


@ON_THE_CLASS
def test_answers_found_in_a_reference_or_a_classmate_are_named(graded):
    """zipped and loops handed in the solution's SmoothGrad: the CSV names it like the
    reference, and each like the other; the forger's own answer is not named."""
    rows = graded["rows"]
    assert "smoothgrad: 1.00 like the reference" in rows["zipped"]["similar"]
    assert "smoothgrad: 1.00 like loops" in rows["zipped"]["similar"]
    assert "smoothgrad: 1.00 like zipped" in rows["loops"]["similar"]
    assert "vanilla_gradient" not in rows["forger"]["similar"]
    assert rows["broken"]["similar"] == rows["empty"]["similar"] == ""


@ON_THE_CLASS
def test_forgeries_score_zero_and_are_flagged(graded):
    assert "assigns to torch.allclose" in graded["rows"]["forger"]["flags"]
    feedback = (graded["workspace"] / "feedback" / "forger" / LESSON / f"{LESSON}.html").read_text()
    assert "relevance_mass gives a wrong result" in feedback  # the patched comparisons changed nothing
    assert "must return a torch.Tensor, got Yes" in feedback


@ON_THE_CLASS
def test_broken_submissions_get_a_clear_problem_and_zero(graded):
    rows = graded["rows"]
    assert "not a" in rows["broken"]["problem"] and "notebook" in rows["broken"]["problem"]
    assert f"has no {LESSON}.ipynb (found: notes.txt)" in rows["empty"]["problem"]
    assert "to_heatmap_test' was deleted; it was put back" in rows["zipped"]["notes"]
    assert "'smoothgrad' appears more than once" in rows["zipped"]["notes"]
    assert "answer cell 'gradient_x_input' was deleted" in rows["zipped"]["notes"]


@ON_THE_CLASS
def test_an_endless_loop_costs_only_its_exercise(graded):
    assert graded["rows"]["loops"]["problem"] == ""
    feedback = (graded["workspace"] / "feedback" / "loops" / LESSON / f"{LESSON}.html").read_text()
    assert "ran longer than the grading time limit" in feedback


@ON_THE_CLASS
def test_export_and_feedback_run_again_on_their_own(graded):
    workspace = graded["workspace"]
    out = workspace / "again.csv"
    result = run_cli("export", "1", "--workspace", str(workspace), "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert list(csv.DictReader(open(out))) == list(graded["rows"].values())
    result = run_cli("feedback", "1", "--student", "zipped", "--workspace", str(workspace))
    assert result.returncode == 0 and "zipped" in result.stdout


# --- the sandbox ---------------------------------------------------------------------------

PROBE = """import os, socket
LEAKS = []
for path in [{solutions!r}, {other!r}, {gradebook!r}, {checks!r}]:
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
"""


def _probe(tmp_path, course_file: Path):
    """The probing answer, aimed at this repository's solutions, a classmate's notebook and
    the gradebook in ``tmp_path/workspace``, a listening local port and ``course_file``;
    returns (probe source, workspace, listener)."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    workspace = tmp_path / "workspace"
    # a classmate's notebook, where grading them earlier left it
    classmate = workspace / "submitted" / "a_classmate" / LESSON / f"{LESSON}.ipynb"
    classmate.parent.mkdir(parents=True)
    nbformat.write(submission(), classmate)
    probe = PROBE.format(
        solutions=str(ROOT / "solutions"),
        other=str(classmate.parents[1]),
        gradebook=str(workspace / "gradebook.db"),
        checks=str(ROOT / "autograder" / "xaiexit_grading" / "gradient_saliency.py"),
        port=listener.getsockname()[1],
        course_file=str(course_file),
    )
    return probe, workspace, listener


def test_the_probe_finds_every_door_open_in_an_ordinary_process(tmp_path):
    """The sandbox test below is not vacuous: run as an ordinary Python process (what a
    grading kernel is with --no-sandbox), its probe finds every door open."""
    course_file = tmp_path / "course_file.txt"  # stands in for a file of the course
    course_file.write_text("x")
    probe, workspace, listener = _probe(tmp_path, course_file)
    (workspace / "gradebook.db").write_bytes(b"")
    try:
        result = subprocess.run(
            [sys.executable, "-c", probe + "\nprint(LEAKS)"], capture_output=True, text=True, timeout=600
        )
    finally:
        listener.close()
    assert result.returncode == 0, result.stderr
    checks = "reads " + str(ROOT / "autograder" / "xaiexit_grading" / "gradient_saliency.py")
    for leak in ("sees " + str(ROOT / "solutions"), "sees", "gradebook.db", checks, "network", "can write the course"):
        assert leak in result.stdout, (leak, result.stdout)


def test_the_sandbox_hides_solutions_other_students_and_the_network(tmp_path):
    """Graded as `xaiexit grade` grades by default, in the sandbox, the same probing answer
    finds every door shut: it scores."""
    probe, workspace, listener = _probe(tmp_path, ROOT / "README.md")
    subs = tmp_path / "submissions"
    subs.mkdir()
    _write(subs, "probe", submission({"relevance_mass": probe}))
    try:
        result = run_cli("grade", "1", str(subs), "--workspace", str(workspace), "--timeout", "600")
    finally:
        listener.close()
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {row["student"]: row for row in csv.DictReader(open(workspace / "grades.csv"))}
    feedback = (workspace / "feedback" / "probe" / LESSON / f"{LESSON}.html").read_text()
    assert float(rows["probe"]["relevance_mass"]) == 1, feedback[-3000:]
    assert float(rows["probe"]["score"]) == AUTO_TOTAL


def test_grading_without_bubblewrap_stops_and_says_how_to_install_it(tmp_path):
    """The sandbox is the default: where bwrap cannot be found, nothing is graded and the
    message names the install command and the explicit way out."""
    subs = tmp_path / "submissions"
    subs.mkdir()
    _write(subs, "ann", submission())
    result = run_cli("grade", "1", str(subs), "--workspace", str(tmp_path / "ws"), env={"PATH": str(tmp_path)})
    assert result.returncode == 2
    assert "sudo apt-get install bubblewrap" in result.stderr and "--no-sandbox" in result.stderr
    assert not (tmp_path / "ws" / "submitted").exists()


# --- the learner's install -------------------------------------------------------------------


def test_the_grading_package_is_not_part_of_the_learners_install(tmp_path):
    """Hidden checks and mistake catalogues are not importable from the installed package; the
    instructor's commands find them in autograder/ themselves."""
    code = (
        "import importlib.util as u\n"
        "print(u.find_spec('xaiexit.course') is not None, u.find_spec('xaiexit.grading'), "
        "u.find_spec('xaiexit_grading'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.stdout.split() == ["True", "None", "None"], result.stdout + result.stderr
