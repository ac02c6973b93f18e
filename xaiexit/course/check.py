"""Check: run a learner's saved notebook as the autograder would, visible tests only.

``xaiexit check 1`` repairs the notebook the way grading does (deleted cells put back,
edited locked cells run as released), runs it with ``NBGRADER_EXECUTION=validate`` so that
nothing heavy runs, and reports each exercise: passed, failed with the test's message, or
not attempted. A cell that runs longer than ``timeout`` seconds is interrupted and the
next cell runs, as when grading.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from xaiexit.course.nbgrader_app import scoped_environ
from xaiexit.course.notebooks import exercises, grade_id, nbgrader_meta, read_notebook, repair
from xaiexit.course.workspace import CourseError, lessons, released_notebook, resolve_lesson


@dataclass
class ExerciseResult:
    name: str
    kind: str  # "code" or "written"
    status: str  # passed / failed / not attempted / answered / not answered
    points: float
    message: str = ""


@dataclass
class CheckReport:
    lesson: str
    results: list[ExerciseResult]
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.status in ("passed", "answered") for r in self.results)


def error_line(cell) -> tuple[str, str] | None:
    """(name, message) of the first error a code cell printed, or None."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return output.get("ename", "Error"), str(output.get("evalue", "")).strip()
    return None


def lesson_of(course: Path, notebook: Path) -> str:
    """The lesson a notebook belongs to, from its file name."""
    try:
        return resolve_lesson(course, notebook.stem)
    except CourseError:
        raise CourseError(
            f"{notebook.name} is not a lesson of this course ({', '.join(lessons(course))}); "
            "lesson notebooks must keep their name, e.g. 01_gradient_saliency.ipynb"
        ) from None


def _run_locked_cells_as_released(nb, release_nb, notes: list[str]) -> None:
    """nbgrader's own validation: a locked cell whose checksum no longer matches was edited."""
    from nbgrader import utils as nbgrader_utils

    released = {grade_id(c): c for c in release_nb.cells if grade_id(c)}
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if meta.get("locked") and "checksum" in meta and nbgrader_utils.compute_checksum(cell) != meta["checksum"]:
            notes.append(
                f"you edited the locked cell '{meta['grade_id']}'; it was run as released, as "
                "grading will (your edits there do not count)"
            )
            cell.source = released[meta["grade_id"]].source


def _result(part: dict, cells: dict, timeout: int) -> ExerciseResult:
    """One exercise's line, from its answer and test cells after the run."""
    name, points = part["name"], part["points"]
    answer = cells.get(part["answer"])
    if part["kind"] == "written":
        text = (answer.source if answer else "").strip()
        done = bool(text) and text != "YOUR ANSWER HERE"
        return ExerciseResult(
            name, "written", "answered" if done else "not answered", points, "graded by your instructor"
        )
    error = error_line(answer) if answer else None
    test = cells.get(part["test"]) if part["test"] else None
    if error is None and test is not None:
        error = error_line(test)
    if test is not None and not test.get("outputs") and test.get("execution_count") is None and error is None:
        return ExerciseResult(
            name, "code", "failed", points, "its test cell did not run (an earlier cell stopped the notebook)"
        )
    if error is None:
        return ExerciseResult(name, "code", "passed", points)
    if error[0] == "NotImplementedError":
        return ExerciseResult(name, "code", "not attempted", points)
    if error[0] in ("KeyboardInterrupt", "CellTimeoutError"):
        return ExerciseResult(name, "code", "failed", points, f"stopped after {timeout} s: look for an endless loop")
    message = f"{error[0]}: {error[1]}".splitlines()[0] if error[1] else error[0]
    return ExerciseResult(name, "code", "failed", points, message)


def notebook_to_check(course: Path, target: str) -> Path:
    """The notebook ``check`` runs: ``target`` itself if it is a ``.ipynb`` path, else the
    lesson's copy in the course's ``lessons/`` folder."""
    path = Path(target)
    if path.suffix != ".ipynb":
        path = released_notebook(course, resolve_lesson(course, target))
    if not path.is_file():
        raise CourseError(f"no notebook at {path}")
    return path


def check(course: Path, target: str, timeout: int = 120) -> CheckReport:
    """Run a learner's saved notebook with its visible tests and report each exercise.

    ``target`` is a notebook path or a lesson (``1``, ``01_gradient_saliency``), meaning
    the released notebook in ``lessons/``.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    path = notebook_to_check(course, target)
    lesson = lesson_of(course, path)
    release_nb = read_notebook(released_notebook(course, lesson))
    nb, notes = repair(read_notebook(path), release_nb)
    _run_locked_cells_as_released(nb, release_nb, notes)
    # like the autograder: a cell that runs too long is interrupted and the next one runs
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        interrupt_on_timeout=True,
        resources={"metadata": {"path": str(path.parent.resolve())}},
    )
    with (
        scoped_environ(NBGRADER_EXECUTION="validate", NBGRADER_VALIDATING="1"),
        tempfile.TemporaryDirectory(prefix="xaiexit-check-") as sockets,
    ):
        # the kernel talks to this process over local sockets in a private folder, not TCP
        # (no open port, and no "running over TCP without encryption" warning)
        client.km = client.kernel_manager_class(
            kernel_name="python3", transport="ipc", ip=str(Path(sockets) / "kernel")
        )
        try:
            client.execute()
        except DeadKernelError:
            notes.append(
                "the kernel died while running the notebook (a crash or too much memory); "
                "results below stop where it died"
            )
        except Exception as exc:  # a cell timing out, for one
            notes.append(f"running the notebook stopped: {type(exc).__name__}: {exc}".splitlines()[0])
    cells = {grade_id(c): c for c in nb.cells if grade_id(c)}
    return CheckReport(lesson, [_result(part, cells, timeout) for part in exercises(release_nb)], notes)
