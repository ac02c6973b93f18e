"""Grading a class: autograde every submission, write feedback and the grades CSV.

For each student: repair the notebook against the release (:func:`xaiexit.course.notebooks.repair`),
scan it for tampering (:mod:`xaiexit_grading.audit`), autograde it with nbgrader (in a
bubblewrap sandbox with ``sandbox=True``, where the lesson's references are redacted:
:mod:`xaiexit_grading.references`), and record the result. nbgrader's Execute step is
:class:`~xaiexit_grading.trusted_execute.TrustedExecute`: the hidden tests run here, in the
grader, and call the learner's functions in the kernel (:mod:`xaiexit_grading.remote`).
Then every graded answer is compared with the references and the class
(:mod:`xaiexit_grading.similarity`). A crash, an endless loop or a broken notebook costs
only that student (and, for a crash, only that exercise).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path

from xaiexit.course.nbgrader_app import load_config, prepended, run_converter, scoped_environ
from xaiexit.course.notebooks import exercises, grade_id, nbgrader_meta, read_notebook, repair
from xaiexit.course.workspace import CourseError, resolve_lesson, source_notebook, workspace_path
from xaiexit_grading import audit, references, similarity
from xaiexit_grading import sandbox as jail
from xaiexit_grading.gradebook import export, feedback, load_report, save_report, scores
from xaiexit_grading.submissions import Submission, collect


def prepare_gradebook(course: Path, lesson: str, workspace: Path, config):
    """Record the lesson's cells and checksums in the gradebook, from the current source;
    return the student version, written to ``<workspace>/release/`` (never the repository)."""
    from nbgrader.converters import GenerateAssignment

    read_notebook(source_notebook(course, lesson))
    config.CourseDirectory.release_directory = str(workspace / "release")
    run_converter(GenerateAssignment, config, lesson, force=True, create_assignment=True)
    return read_notebook(workspace / "release" / lesson / f"{lesson}.ipynb")


def grade(
    course: Path,
    lesson: str,
    submissions: Path,
    workspace=None,
    progress=print,
    write_feedback: bool = True,
    csv_path: Path | None = None,
    timeout: int | None = None,
    sandbox: bool = True,
) -> dict:
    """Autograde every submission in ``submissions``; return the per-student report.

    ``timeout`` overrides the seconds a cell may run (autograder/nbgrader_config.py: 60);
    a cell that runs longer is interrupted and fails on its own. ``sandbox`` (the default)
    runs every notebook in a bubblewrap sandbox (see :mod:`xaiexit_grading.sandbox`); without
    bwrap installed, grading stops before it starts and says how to install it.
    """
    if sandbox:
        jail.require_bwrap()
    lesson = resolve_lesson(course, lesson)
    workspace = workspace_path(workspace)
    workspace.mkdir(parents=True, exist_ok=True)
    config = load_config(course, workspace)
    if timeout is not None:
        config.Execute.timeout = timeout
    use_trusted_checks(config)
    release_nb = prepare_gradebook(course, lesson, workspace, config)
    graded_names = {p["name"] for p in exercises(release_nb)}
    subs, skipped = collect(Path(submissions), lesson)
    for line in skipped:
        progress(f"  {line}")
    report = load_report(workspace, lesson)
    with _kernels(progress) as runtime:
        if sandbox:  # the package the kernels see: the lesson's exercises without their references
            references.redacted_package({p["name"] for p in exercises(release_nb) if p["test"]}, runtime / "package")
        for i, sub in enumerate(subs, 1):
            if sub.problem is None:
                sub.notebook, repairs = repair(sub.notebook, release_nb)
                sub.notes += repairs
                sub.flags = audit.scan_notebook(sub.notebook, graded_names)
                own = [workspace / step / sub.student / lesson for step in ("submitted", "autograded")]
                for folder in own:  # in the sandbox, the only writable folders
                    folder.mkdir(parents=True, exist_ok=True)
                group = jail.configure(config, course, workspace, own, runtime, sandbox)
                try:
                    sub.problem = _autograde(lesson, config, workspace, sub, release_nb)
                finally:
                    jail.end_group(group)
            _record(config, workspace, lesson, report, sub, f"[{i}/{len(subs)}]", progress)
    for student, lines in similarity.for_class(course, lesson, workspace, report, release_nb).items():
        report[student]["similar"] = lines
    save_report(workspace, lesson, report)
    if write_feedback:
        feedback(course, lesson, workspace, students=[s.student for s in subs if s.problem is None])
    export(course, [lesson], workspace, csv_path)
    return report


def use_trusted_checks(config) -> None:
    """Autograde with :class:`~xaiexit_grading.trusted_execute.TrustedExecute`: the hidden
    tests run in this process and call the learner's functions in the kernel."""
    from nbgrader.converters import Autograde

    from xaiexit_grading.trusted_execute import TrustedExecute

    steps = Autograde.class_traits()["autograde_preprocessors"].default()
    config.Autograde.autograde_preprocessors = [TrustedExecute if s.__name__ == "Execute" else s for s in steps]


@contextlib.contextmanager
def _kernels(warn=print):
    """A private folder for the kernels' kernelspec, sockets and exchange, on JUPYTER_PATH,
    and their process limit, for the duration of the block."""
    with tempfile.TemporaryDirectory(prefix="xaiexit-kernels-") as runtime:
        with scoped_environ(JUPYTER_PATH=prepended("JUPYTER_PATH", runtime)), jail.process_limit(Path(runtime), warn):
            yield Path(runtime)


def _record(config, workspace: Path, lesson: str, report: dict, sub: Submission, counter: str, progress) -> None:
    """Save one student's report entry and print their line."""
    report[sub.student] = {"problem": sub.problem, "notes": sub.notes, "flags": sub.flags}
    save_report(workspace, lesson, report)
    score = scores(config, lesson, [sub.student]).get(sub.student)
    shown = f"{score['score']:g}/{score['max_score']:g}" if score and not sub.problem else "0 (not graded)"
    progress(f"{counter} {sub.student}: {shown}" + (f" - {sub.problem}" if sub.problem else ""))


def _write_atomic(folder: Path, filename: str, nb) -> None:
    import nbformat

    staging = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    nbformat.write(nb, staging / filename)
    if folder.exists():
        shutil.rmtree(folder)
    staging.rename(folder)


def _autograde(lesson: str, config, workspace: Path, sub: Submission, release_nb) -> str | None:
    """Autograde one submission; return why it could not be graded, or None.

    When the learner's code kills the Python kernel (``os._exit``, a segfault, memory),
    nbgrader loses the whole notebook. Here the cell that was running when it died is
    named, the answer it belongs to is graded as not attempted, and the rest of the
    notebook is graded again, so the crash costs only that exercise.
    """
    from nbgrader.converters import Autograde

    folder = workspace / "submitted" / sub.student / lesson
    answers = {grade_id(c) for c in release_nb.cells if nbgrader_meta(c).get("solution")}
    for _ in range(len(exercises(release_nb)) + 1):
        _write_atomic(folder, f"{lesson}.ipynb", sub.notebook)
        started = []  # the code cells nbgrader's kernel was given, in order
        config.Execute.on_cell_execute = lambda cell, cell_index: started.append(grade_id(cell) or "")
        try:
            run_converter(Autograde, config, lesson, sub.student, force=True, create_student=True)
            return None
        except CourseError as exc:
            if "DeadKernelError" not in str(exc) and "Kernel died" not in str(exc):
                return f"grading failed: {exc}"
        finally:
            config.Execute.on_cell_execute = None
        answer = _answer_of(started[-1] if started else "", answers)
        if answer is None:
            return "grading failed: the Python kernel died and the cell responsible could not be found"
        stub = next(c for c in release_nb.cells if grade_id(c) == answer)
        for cell in sub.notebook.cells:
            if grade_id(cell) == answer:
                cell.source = stub.source
        sub.notes.append(
            f"the answer '{answer}' crashed the Python kernel while graded (os._exit, a "
            "segfault or too much memory); it was graded as not attempted"
        )
    return "grading failed: the Python kernel kept dying"


def _answer_of(cell_id: str, answers: set[str]) -> str | None:
    """The answer a cell belongs to: the answer cell itself, or the exercise whose test cell
    it is (the test calls the answer); None for any other cell."""
    if cell_id in answers:
        return cell_id
    if cell_id.endswith("_test") and cell_id.removesuffix("_test") in answers:
        return cell_id.removesuffix("_test")
    return None
