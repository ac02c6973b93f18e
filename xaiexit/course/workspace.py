"""Where things are: the course (a clone of this repository), its lessons, the workspace.

The course directory holds ``solutions/NN_topic/NN_topic.ipynb`` (nbgrader's source),
``lessons/`` (the released versions) and ``autograder/nbgrader_config.py``. The workspace
holds a class's submissions, grades and feedback, outside the repository.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

CONFIG = Path("autograder") / "nbgrader_config.py"
# nbgrader turns these folders into regular expressions and glob patterns without
# escaping them, so a path with one of these characters would silently match nothing.
_UNSAFE = re.compile(r"[][(){}*+?^$|\\]")


class CourseError(Exception):
    """A problem the user can fix; the message says how."""


def default_workspace() -> Path:
    """``$XDG_DATA_HOME/xaiexit/workspace``, i.e. ``~/.local/share/xaiexit/workspace``."""
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "xaiexit" / "workspace"


def check_workspace_path(path: str | os.PathLike) -> Path:
    """The absolute workspace path, refused if nbgrader could not handle it."""
    path = Path(path).expanduser().resolve()
    if _UNSAFE.search(str(path)):
        raise CourseError(
            f"workspace path {path} contains one of the characters []{{}}()*+?^$|\\, which "
            "nbgrader cannot handle in folder names; choose another with --workspace or "
            "XAIEXIT_WORKSPACE"
        )
    return path


def workspace_path(workspace: str | os.PathLike | None = None) -> Path:
    """The workspace to use: ``workspace``, else ``$XAIEXIT_WORKSPACE``, else the default."""
    return check_workspace_path(workspace or os.environ.get("XAIEXIT_WORKSPACE") or default_workspace())


def is_course(path: Path) -> bool:
    return (path / CONFIG).is_file() and (path / "solutions").is_dir()


def find_course(start: str | os.PathLike | None = None) -> Path:
    """The course directory: ``start`` if given, else the first folder upwards from the
    current one that holds ``autograder/nbgrader_config.py`` and ``solutions/``, else the
    clone this package was installed from."""
    if start is not None:
        path = Path(start).expanduser().resolve()
        if not is_course(path):
            raise CourseError(f"{path} is not an xaiexit course: it has no {CONFIG} and solutions/ folder")
        return path
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if is_course(folder):
            return folder
    installed = Path(__file__).resolve().parents[2]
    if is_course(installed):
        return installed
    raise CourseError(
        "no xaiexit course found here or above; run this inside the cloned repository or pass --course DIR"
    )


def lessons(course: Path) -> list[str]:
    """Lesson ids (``01_gradient_saliency``, ...) with a source notebook in ``solutions/``."""
    found = []
    for folder in sorted((course / "solutions").iterdir()):
        if folder.is_dir() and (folder / f"{folder.name}.ipynb").is_file():
            found.append(folder.name)
    return found


def resolve_lesson(course: Path, name: str) -> str:
    """Turn ``1``, ``01``, ``gradient_saliency`` or ``01_gradient_saliency`` into a lesson id."""
    available = lessons(course)
    wanted = str(name).strip().removesuffix(".ipynb")
    for lesson in available:
        number, _, topic = lesson.partition("_")
        if wanted in (lesson, topic) or (wanted.isdigit() and int(wanted) == int(number)):
            return lesson
    listing = ", ".join(available) or "none"
    raise CourseError(f"unknown lesson {name!r}; the course has: {listing}")


def source_notebook(course: Path, lesson: str) -> Path:
    return course / "solutions" / lesson / f"{lesson}.ipynb"


def released_notebook(course: Path, lesson: str) -> Path:
    return course / "lessons" / lesson / f"{lesson}.ipynb"
