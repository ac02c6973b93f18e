"""nbgrader as a library: the course's configuration, one converter run, scoped settings.

Every command of the course loop (release, check, grade, feedback, export) runs nbgrader's
converters in-process through :func:`run_converter`, with the configuration of
``autograder/nbgrader_config.py`` loaded by :func:`load_config`. Settings that nbgrader and
its kernels read from the environment (the workspace, PATH, PYTHONPATH, JUPYTER_PATH) are
changed only for the duration of a ``with`` block (:func:`scoped_environ`).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
from pathlib import Path

from xaiexit.course.workspace import CONFIG, CourseError, workspace_path


@contextlib.contextmanager
def scoped_environ(**values: str):
    """Set environment variables inside the block; restore (or remove) them afterwards."""
    old = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def prepended(variable: str, folder: str | os.PathLike) -> str:
    """``folder`` in front of the path list in environment variable ``variable``."""
    rest = [p for p in os.environ.get(variable, "").split(os.pathsep) if p and p != str(folder)]
    return os.pathsep.join([str(folder), *rest])


@contextlib.contextmanager
def instructor_tools(course: Path):
    """Inside the block, ``import xaiexit_grading`` works here and in the kernels started here.

    The instructor's package (hidden checks, mistake catalogues, grading, the sandbox) lives
    in ``autograder/`` of the course and is never installed with the learner's ``xaiexit``.
    """
    folder = str(course / "autograder")
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        with scoped_environ(PYTHONPATH=prepended("PYTHONPATH", folder)):
            yield
    finally:
        if added and folder in sys.path:
            sys.path.remove(folder)


def load_config(course: Path, workspace: Path | None = None):
    """autograder/nbgrader_config.py, with the workspace it should use."""
    from traitlets.config.loader import PyFileConfigLoader

    with scoped_environ(XAIEXIT_WORKSPACE=str(workspace_path(workspace))):
        return PyFileConfigLoader(CONFIG.name, path=str(course / CONFIG.parent)).load_config()


def run_converter(converter, config, lesson: str, student: str | None = None, **options) -> str:
    """Run one nbgrader converter; return its log, or raise CourseError with the log's gist."""
    from nbgrader.coursedir import CourseDirectory

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
    # nbgrader runs helpers such as `alembic` as subprocesses: this environment's scripts
    # must be findable even when it is not activated (e.g. `.venv/bin/xaiexit ...`).
    with scoped_environ(PATH=prepended("PATH", Path(sys.executable).parent)):
        try:
            app.start()
        except BaseException as exc:  # nbgrader raises NbGraderException, or whatever broke
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise CourseError(explain(buffer.getvalue(), exc)) from None
    return buffer.getvalue()


def explain(log: str, exc: BaseException) -> str:
    """The most telling line of a failed nbgrader run: the last exception it logged."""
    raised = [line.strip() for line in log.splitlines() if re.match(r"^\s*[\w.]+(Error|Exception|Exit): ", line)]
    raised = [line for line in raised if not line.startswith("nbgrader.converters.base.NbGraderException")]
    if raised:
        return raised[-1]
    errors = [line.split("] ", 1)[-1] for line in log.splitlines() if line.startswith(("[ERROR]", "[CRITICAL]"))]
    errors = [e for e in errors if not e.startswith("Please see the")]
    return errors[-1] if errors else f"{type(exc).__name__}: {exc}"
