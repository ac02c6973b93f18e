"""The course loop: release, check, grade, feedback, export (over nbgrader's converters).

- :func:`release` regenerates ``lessons/`` from ``solutions/`` (nbgrader's
  ``generate_assignment``), byte for byte the same on every run;
- :func:`check` runs a learner's saved notebook and reports each exercise;
- :func:`grade` imports a folder of submissions (one folder or zip per student),
  autogrades each one, writes feedback without hidden tests and a grades CSV;
- :func:`feedback` and :func:`export` redo those two steps on their own, e.g. after
  manual grading.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from xaiexit.course import audit
from xaiexit.course import sandbox as jail
from xaiexit.course.notebooks import exercises, grade_id, nbgrader_meta, parse_notebook, read_notebook, repair
from xaiexit.course.workspace import (
    CONFIG,
    CourseError,
    check_workspace_path,
    default_workspace,
    lessons,
    released_notebook,
    resolve_lesson,
    source_notebook,
)

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


# --- nbgrader plumbing ----------------------------------------------------------------------

def load_config(course: Path, workspace: Path | None = None):
    """autograder/nbgrader_config.py, with the workspace it should use."""
    from traitlets.config.loader import PyFileConfigLoader

    previous = os.environ.get("XAIEXIT_WORKSPACE")
    os.environ["XAIEXIT_WORKSPACE"] = str(workspace_path(workspace))
    try:
        return PyFileConfigLoader(CONFIG.name, path=str(course / CONFIG.parent)).load_config()
    finally:
        if previous is None:
            del os.environ["XAIEXIT_WORKSPACE"]
        else:
            os.environ["XAIEXIT_WORKSPACE"] = previous


def workspace_path(workspace=None) -> Path:
    return check_workspace_path(workspace or os.environ.get("XAIEXIT_WORKSPACE") or default_workspace())


def _run(converter, config, lesson: str, student: str | None = None, **options) -> str:
    """Run one nbgrader converter; return its log, or raise CourseError with the log."""
    from nbgrader.coursedir import CourseDirectory

    # nbgrader runs helpers such as `alembic` as subprocesses: make this environment's
    # scripts findable even when it is not activated (e.g. `.venv/bin/xaiexit ...`).
    scripts = str(Path(sys.executable).parent)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")
    buffer = io.StringIO()
    log = logging.getLogger(f"xaiexit.nbgrader.{converter.__name__}")
    log.propagate = False
    log.setLevel(logging.INFO)
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
    log.handlers = [handler]
    coursedir = CourseDirectory(config=config, log=log)
    coursedir.assignment_id = lesson
    if student is not None:
        coursedir.student_id = student
    app = converter(coursedir=coursedir, config=config, log=log)
    for name, value in options.items():
        setattr(app, name, value)
    try:
        app.start()
    except BaseException as exc:  # nbgrader raises NbGraderException, or whatever broke
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise CourseError(_explain(buffer.getvalue(), exc)) from None
    return buffer.getvalue()


def _explain(log: str, exc: BaseException) -> str:
    """The most telling line of a failed nbgrader run: the last exception it logged."""
    raised = [line.strip() for line in log.splitlines() if re.match(r"^\s*[\w.]+(Error|Exception|Exit): ", line)]
    raised = [line for line in raised if not line.startswith("nbgrader.converters.base.NbGraderException")]
    if raised:
        return raised[-1]
    errors = [line.split("] ", 1)[-1] for line in log.splitlines() if line.startswith(("[ERROR]", "[CRITICAL]"))]
    errors = [e for e in errors if not e.startswith("Please see the")]
    return errors[-1] if errors else f"{type(exc).__name__}: {exc}"


# --- release -----------------------------------------------------------------------------

def _generate(course: Path, lesson: str, root: Path) -> Path:
    """Generate the student version of ``lesson`` inside the scratch folder ``root``."""
    from nbgrader.converters import GenerateAssignment

    source = source_notebook(course, lesson)
    read_notebook(source)  # a clear error for a broken source notebook
    shutil.copytree(source.parent, root / "solutions" / lesson,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    config = load_config(course, root / "workspace")
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.db_url = f"sqlite:///{root / 'release.db'}"
    _run(GenerateAssignment, config, lesson, force=True, create_assignment=True)
    out = root / "lessons" / lesson
    for path in out.glob("*.ipynb"):  # one canonical JSON layout, whatever wrote it
        nb = nbformat.read(path, as_version=4)
        nbformat.write(nb, path)
    return out


def _same_tree(a: Path, b: Path) -> bool:
    if not b.is_dir():
        return False
    files = lambda p: sorted(q.relative_to(p) for q in p.rglob("*") if q.is_file())  # noqa: E731
    if files(a) != files(b):
        return False
    return all((a / f).read_bytes() == (b / f).read_bytes() for f in files(a))


def release(course: Path, names: list[str] | None = None, check: bool = False) -> list[str]:
    """Regenerate ``lessons/<id>`` for the given lessons (all by default).

    Returns the lessons whose released version changed (with ``check=True``, the ones
    that are stale; nothing is written then).
    """
    selected = [resolve_lesson(course, n) for n in names] if names else lessons(course)
    changed = []
    for lesson in selected:
        with tempfile.TemporaryDirectory(prefix="xaiexit-release-") as tmp:
            generated = _generate(course, lesson, Path(tmp))
            target = course / "lessons" / lesson
            if _same_tree(generated, target):
                continue
            changed.append(lesson)
            if check:
                continue
            staging = course / "lessons" / f".{lesson}.new"
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(generated, staging)
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
    return changed


# --- check (for the learner) ---------------------------------------------------------------

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


def _error_line(cell) -> tuple[str, str] | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return output.get("ename", "Error"), str(output.get("evalue", "")).strip()
    return None


def _lesson_of(course: Path, notebook: Path) -> str:
    stem = notebook.stem
    try:
        return resolve_lesson(course, stem)
    except CourseError:
        raise CourseError(
            f"{notebook.name} is not a lesson of this course ({', '.join(lessons(course))}); "
            "lesson notebooks must keep their name, e.g. 01_gradient_saliency.ipynb"
        ) from None


def check(course: Path, target: str, timeout: int = 120) -> CheckReport:
    """Run a learner's saved notebook with its visible tests and report each exercise.

    ``target`` is a notebook path or a lesson (``1``, ``01_gradient_saliency``), meaning
    the released notebook in ``lessons/``.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    path = Path(target)
    if path.suffix != ".ipynb":
        path = released_notebook(course, resolve_lesson(course, target))
    if not path.is_file():
        raise CourseError(f"no notebook at {path}")
    lesson = _lesson_of(course, path)
    release_nb = read_notebook(released_notebook(course, lesson))
    nb, notes = repair(read_notebook(path), release_nb)
    # nbgrader's own validation: a locked cell whose checksum no longer matches was edited
    from nbgrader import utils as nbgrader_utils

    released = {grade_id(c): c for c in release_nb.cells if grade_id(c)}
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if meta.get("locked") and "checksum" in meta and nbgrader_utils.compute_checksum(cell) != meta["checksum"]:
            notes.append(f"you edited the locked cell '{meta['grade_id']}'; it was run as released, as "
                         "grading will (your edits there do not count)")
            cell.source = released[meta["grade_id"]].source
    # like the autograder: a cell that runs too long is interrupted and the next one runs
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                            interrupt_on_timeout=True,
                            resources={"metadata": {"path": str(path.parent.resolve())}})
    with _environment(NBGRADER_EXECUTION="validate", NBGRADER_VALIDATING="1"):
        try:
            client.execute()
        except DeadKernelError:
            notes.append("the kernel died while running the notebook (a crash or too much memory); "
                         "results below stop where it died")
        except Exception as exc:  # a cell timing out, for one
            notes.append(f"running the notebook stopped: {type(exc).__name__}: {exc}".splitlines()[0])
    cells = {grade_id(c): c for c in nb.cells if grade_id(c)}
    results = []
    for part in exercises(release_nb):
        answer = cells.get(part["answer"])
        if part["kind"] == "written":
            text = (answer.source if answer else "").strip()
            done = bool(text) and text != "YOUR ANSWER HERE"
            results.append(ExerciseResult(part["name"], "written", "answered" if done else "not answered",
                                          part["points"], "graded by your instructor"))
            continue
        error = _error_line(answer) if answer else None
        test = cells.get(part["test"]) if part["test"] else None
        if error is None and test is not None:
            error = _error_line(test)
        if test is not None and not test.get("outputs") and test.get("execution_count") is None and error is None:
            results.append(ExerciseResult(part["name"], "code", "failed", part["points"],
                                          "its test cell did not run (an earlier cell stopped the notebook)"))
        elif error is None:
            results.append(ExerciseResult(part["name"], "code", "passed", part["points"]))
        elif error[0] == "NotImplementedError":
            results.append(ExerciseResult(part["name"], "code", "not attempted", part["points"]))
        elif error[0] in ("KeyboardInterrupt", "CellTimeoutError"):
            results.append(ExerciseResult(part["name"], "code", "failed", part["points"],
                                          f"stopped after {timeout} s: look for an endless loop"))
        else:
            message = f"{error[0]}: {error[1]}".splitlines()[0] if error[1] else error[0]
            results.append(ExerciseResult(part["name"], "code", "failed", part["points"], message))
    return CheckReport(lesson, results, notes)


@contextlib.contextmanager
def _environment(**values):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# --- grade ---------------------------------------------------------------------------------

@dataclass
class Submission:
    student: str
    notebook: nbformat.NotebookNode | None = None
    problem: str | None = None  # why it cannot be graded (scores 0)
    notes: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)


def _pick_notebook(names: list[str], lesson: str, where: str) -> tuple[str, list[str]]:
    names = [n for n in names if "__MACOSX" not in n and ".ipynb_checkpoints" not in n]
    exact = [n for n in names if Path(n).name == f"{lesson}.ipynb"]
    if len(exact) == 1:
        return exact[0], []
    if len(exact) > 1:
        raise CourseError(f"{where} holds {len(exact)} copies of {lesson}.ipynb ({', '.join(sorted(exact))}); keep one")
    others = [n for n in names if n.endswith(".ipynb")]
    if len(others) == 1:
        return others[0], [f"graded {Path(others[0]).name}, the only notebook found (expected {lesson}.ipynb)"]
    found = ", ".join(sorted(Path(n).name for n in names)[:8]) or "nothing"
    raise CourseError(f"{where} has no {lesson}.ipynb (found: {found})")


def _read_submission(entry: Path, lesson: str) -> Submission:
    student = entry.stem if entry.suffix == ".zip" else entry.name
    sub = Submission(student)
    try:
        if entry.is_dir():
            names = [str(p.relative_to(entry)) for p in entry.rglob("*") if p.is_file()]
            name, sub.notes = _pick_notebook(names, lesson, f"folder {entry.name}/")
            data = (entry / name).read_bytes()
        else:
            try:
                archive = zipfile.ZipFile(entry)
            except zipfile.BadZipFile:
                raise CourseError(f"{entry.name} is not a valid zip archive") from None
            with archive:
                infos = {i.filename: i for i in archive.infolist() if not i.is_dir()}
                name, sub.notes = _pick_notebook(list(infos), lesson, f"archive {entry.name}")
                if infos[name].file_size > 50 * 2**20:
                    raise CourseError(f"{name} in {entry.name} is larger than 50 MB; clear its outputs")
                data = archive.read(name)  # read, never extract: no path can escape
        sub.notebook = parse_notebook(data, f"{entry.name}: {name}")
    except CourseError as exc:
        sub.problem = str(exc)
    return sub


def collect(submissions: Path, lesson: str) -> tuple[list[Submission], list[str]]:
    """Read every student's notebook from ``submissions`` (folders or zips)."""
    if not submissions.is_dir():
        raise CourseError(f"{submissions} is not a folder; give a folder with one folder or .zip per student")
    subs, skipped = [], []
    for entry in sorted(submissions.iterdir()):
        if entry.name.startswith((".", "__MACOSX")):
            continue
        if not (entry.is_dir() or entry.suffix == ".zip"):
            skipped.append(f"ignored {entry.name}: expected one folder or .zip per student")
            continue
        student = entry.stem if entry.suffix == ".zip" else entry.name
        if not STUDENT_ID.match(student):
            skipped.append(f"ignored {entry.name}: a student id uses letters, digits and . _ - @ only")
            continue
        subs.append(_read_submission(entry, lesson))
    ids = [s.student for s in subs]
    for sub in subs:
        if ids.count(sub.student) > 1:
            sub.problem = f"two submissions for {sub.student} (a folder and a zip?); keep one"
    if not subs:
        raise CourseError(f"no submissions in {submissions}: expected one folder or .zip per student")
    return subs, skipped


def _write_atomic(folder: Path, filename: str, nb) -> None:
    staging = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    nbformat.write(nb, staging / filename)
    if folder.exists():
        shutil.rmtree(folder)
    staging.rename(folder)


def _report_path(workspace: Path, lesson: str) -> Path:
    return workspace / "reports" / f"{lesson}.json"


def _load_report(workspace: Path, lesson: str) -> dict:
    path = _report_path(workspace, lesson)
    return json.loads(path.read_text()) if path.is_file() else {}


def _save_report(workspace: Path, lesson: str, report: dict) -> None:
    path = _report_path(workspace, lesson)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=1, sort_keys=True))
    tmp.replace(path)


def prepare_gradebook(course: Path, lesson: str, workspace: Path, config) -> nbformat.NotebookNode:
    """Record the lesson's cells and checksums in the gradebook, from the current source.

    The student version goes to ``<workspace>/release/``, never into the repository.
    """
    from nbgrader.converters import GenerateAssignment

    read_notebook(source_notebook(course, lesson))
    config.CourseDirectory.release_directory = str(workspace / "release")
    _run(GenerateAssignment, config, lesson, force=True, create_assignment=True)
    return read_notebook(workspace / "release" / lesson / f"{lesson}.ipynb")


def grade(course: Path, lesson: str, submissions: Path, workspace=None, progress=print,
          write_feedback: bool = True, csv_path: Path | None = None, timeout: int | None = None,
          sandbox: bool = False) -> dict:
    """Autograde every submission in ``submissions``; return the per-student report.

    ``timeout`` overrides the seconds a cell may run (autograder/nbgrader_config.py: 60);
    a cell that runs longer is interrupted and fails on its own. ``sandbox`` runs every
    notebook in a bubblewrap sandbox (see :mod:`xaiexit.course.sandbox`).
    """
    lesson = resolve_lesson(course, lesson)
    workspace = workspace_path(workspace)
    workspace.mkdir(parents=True, exist_ok=True)
    config = load_config(course, workspace)
    if timeout is not None:
        config.Execute.timeout = timeout
    release_nb = prepare_gradebook(course, lesson, workspace, config)
    graded_names = {p["name"] for p in exercises(release_nb)}
    subs, skipped = collect(Path(submissions), lesson)
    for line in skipped:
        progress(f"  {line}")
    report = _load_report(workspace, lesson)
    if sandbox:
        jail.require_bwrap()
    runtime = tempfile.TemporaryDirectory(prefix="xaiexit-kernels-") if sandbox else contextlib.nullcontext()
    with runtime as runtime_dir:
        for i, sub in enumerate(subs, 1):
            if sub.problem is None:
                sub.notebook, repairs = repair(sub.notebook, release_nb)
                sub.notes += repairs
                sub.flags = audit.scan_notebook(sub.notebook, graded_names)
                if sandbox:  # this student's folders are the only writable ones
                    own = [workspace / step / sub.student / lesson for step in ("submitted", "autograded")]
                    for folder in own:
                        folder.mkdir(parents=True, exist_ok=True)
                    jail.configure(config, course, workspace, own, Path(runtime_dir))
                sub.problem = _autograde(course, lesson, config, workspace, sub, release_nb)
            _record(config, workspace, lesson, report, sub, i, len(subs), progress)
    if write_feedback:
        feedback(course, lesson, workspace, students=[s.student for s in subs if s.problem is None])
    export(course, [lesson], workspace, csv_path)
    return report


def _record(config, workspace: Path, lesson: str, report: dict, sub: Submission, i: int, n: int, progress) -> None:
    """Save one student's report entry and print their line."""
    report[sub.student] = {"problem": sub.problem, "notes": sub.notes, "flags": sub.flags}
    _save_report(workspace, lesson, report)
    score = _scores(config, lesson, [sub.student]).get(sub.student)
    shown = f"{score['score']:g}/{score['max_score']:g}" if score and not sub.problem else "0 (not graded)"
    progress(f"[{i}/{n}] {sub.student}: {shown}" + (f" - {sub.problem}" if sub.problem else ""))


def _autograde(course: Path, lesson: str, config, workspace: Path, sub: Submission, release_nb) -> str | None:
    """Autograde one submission; return why it could not be graded, or None.

    When the learner's code kills the Python kernel (``os._exit``, a segfault, memory),
    nbgrader loses the whole notebook. Here the cell that did it is found, the answer it
    belongs to is graded as not attempted, and the rest of the notebook is graded again,
    so the crash costs only that exercise.
    """
    from nbgrader.converters import Autograde

    folder = workspace / "submitted" / sub.student / lesson
    for _ in range(len(exercises(release_nb)) + 1):
        _write_atomic(folder, f"{lesson}.ipynb", sub.notebook)
        try:
            _run(Autograde, config, lesson, sub.student, force=True, create_student=True)
            return None
        except CourseError as exc:
            if "DeadKernelError" not in str(exc) and "Kernel died" not in str(exc):
                return f"grading failed: {exc}"
        answer = _crashing_answer(course, lesson, sub.notebook, folder, config)
        if answer is None:
            return "grading failed: the Python kernel died and the cell responsible could not be found"
        stub = next(c for c in release_nb.cells if grade_id(c) == answer)
        for cell in sub.notebook.cells:
            if grade_id(cell) == answer:
                cell.source = stub.source
        sub.notes.append(f"the answer '{answer}' crashed the Python kernel while graded (os._exit, a "
                         "segfault or too much memory); it was graded as not attempted")
    return "grading failed: the Python kernel kept dying"


def _crashing_answer(course: Path, lesson: str, nb, folder: Path, config) -> str | None:
    """Run the submission with its hidden tests and name the answer cell whose code killed
    the kernel (the answer itself, or the exercise whose test cell was running)."""
    import copy as _copy

    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    source = {grade_id(c): c for c in read_notebook(source_notebook(course, lesson)).cells if grade_id(c)}
    run = _copy.deepcopy(nb)
    for cell in run.cells:  # locked cells as the autograder runs them: hidden tests included
        gid = grade_id(cell)
        if gid in source and nbgrader_meta(cell).get("locked"):
            cell.source = source[gid].source
    started = []
    # the grading kernel settings (the sandbox's, when grading in one)
    client = NotebookClient(run, config=config, timeout=config.Execute.timeout,
                            kernel_name=config.Execute.get("kernel_name", "python3"), allow_errors=True,
                            on_cell_execute=lambda cell, cell_index: started.append(cell),
                            resources={"metadata": {"path": str(folder)}})
    with _environment(NBGRADER_EXECUTION="autograde"):
        try:
            client.execute()
            return None
        except DeadKernelError:
            pass
        except Exception:  # a timeout or anything else is not a crash
            return None
    if not started:
        return None
    gid = grade_id(started[-1]) or ""
    answers = {grade_id(c) for c in run.cells if nbgrader_meta(c).get("solution")}
    if gid in answers:
        return gid
    if gid.endswith("_test") and gid.removesuffix("_test") in answers:
        return gid.removesuffix("_test")
    return None


def _scores(config, lesson: str, students: list[str] | None = None) -> dict:
    """Per-student totals and per-exercise points from the gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    out = {}
    with Gradebook(config.CourseDirectory.db_url) as gb:
        try:
            assignment = gb.find_assignment(lesson)
        except MissingEntry:
            return out
        for student in students if students is not None else [s.id for s in gb.students]:
            try:
                sub = gb.find_submission(lesson, student)
            except MissingEntry:
                continue
            parts = {}
            for nb in sub.notebooks:
                for g in nb.grades:
                    parts[g.name] = g.score
            out[student] = {"score": sub.score, "max_score": assignment.max_score,
                            "needs_manual_grade": sub.needs_manual_grade, "parts": parts}
    return out


def feedback(course: Path, lesson: str, workspace=None, students: list[str] | None = None) -> list[Path]:
    """Write feedback HTML (hidden tests scrubbed) for autograded students."""
    from nbgrader.converters import GenerateFeedback

    lesson = resolve_lesson(course, lesson)
    workspace = workspace_path(workspace)
    config = load_config(course, workspace)
    autograded = workspace / "autograded"
    if students is None:
        students = sorted(p.name for p in autograded.iterdir() if (p / lesson).is_dir()) if autograded.is_dir() else []
    if not students:
        raise CourseError(f"nothing to give feedback on: no autograded submissions of {lesson} in {workspace}; run grade first")
    written = []
    for student in students:
        _run(GenerateFeedback, config, lesson, student, force=True)
        written.append(workspace / "feedback" / student / lesson / f"{lesson}.html")
    return written


def export(course: Path, names: list[str] | None = None, workspace=None, output: Path | None = None) -> Path:
    """Write a grades CSV: one row per student and lesson, every student of the class.

    Columns: student, lesson, score, max_score, one column per graded part (its points),
    needs_manual_grading, problem, notes, flags. A submission that could not be graded
    has score 0 and says why in ``problem``.
    """
    workspace = workspace_path(workspace)
    config = load_config(course, workspace)
    selected = [resolve_lesson(course, n) for n in names] if names else lessons(course)
    output = Path(output) if output else workspace / "grades.csv"
    rows, part_names = [], []
    for lesson in selected:
        release_nb = read_notebook(released_notebook(course, lesson))
        parts = exercises(release_nb)
        max_score = float(sum(p["points"] for p in parts))
        for p in parts:
            if p["name"] not in part_names:
                part_names.append(p["name"])
        report = _load_report(workspace, lesson)
        scores = _scores(config, lesson)
        for student in sorted(set(report) | set(scores)):
            entry = report.get(student, {})
            s = scores.get(student) if not entry.get("problem") else None
            row = {"student": student, "lesson": lesson,
                   "score": f"{s['score']:g}" if s else "0", "max_score": f"{max_score:g}",
                   "needs_manual_grading": str(bool(s and s["needs_manual_grade"])).lower(),
                   "problem": entry.get("problem") or "", "notes": "; ".join(entry.get("notes", [])),
                   "flags": "; ".join(entry.get("flags", []))}
            for p in parts:
                gid = p["test"] or p["answer"]
                value = (s or {}).get("parts", {}).get(gid)
                row[p["name"]] = f"{value:g}" if value is not None else "0"
            rows.append(row)
    columns = ["student", "lesson", "score", "max_score", *part_names, "needs_manual_grading", "problem", "notes", "flags"]
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(output)
    return output
