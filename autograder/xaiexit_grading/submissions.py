"""Reading a class's submissions: one folder or ``.zip`` per student, named by student id.

Nothing is extracted: a notebook is read from its folder or straight out of its archive,
so no path inside a zip can escape. A submission that cannot be read gets a ``problem``
that says why; it scores 0 and the rest of the class is graded as usual.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from xaiexit.course.notebooks import MAX_BYTES, parse_notebook
from xaiexit.course.workspace import CourseError

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


@dataclass
class Submission:
    student: str
    notebook: object | None = None  # an nbformat.NotebookNode
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


def read_submission(entry: Path, lesson: str) -> Submission:
    """One student's notebook from their folder or zip; a problem instead when unreadable."""
    sub = Submission(entry.stem if entry.suffix == ".zip" else entry.name)
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
                if infos[name].file_size > MAX_BYTES:
                    raise CourseError(
                        f"{name} in {entry.name} is larger than {MAX_BYTES // 2**20} MB; clear its outputs"
                    )
                data = archive.read(name)
        sub.notebook = parse_notebook(data, f"{entry.name}: {name}")
    except CourseError as exc:
        sub.problem = str(exc)
    return sub


def collect(submissions: Path, lesson: str) -> tuple[list[Submission], list[str]]:
    """Every student's notebook in ``submissions``, and a line for each entry skipped."""
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
        subs.append(read_submission(entry, lesson))
    ids = [s.student for s in subs]
    for sub in subs:
        if ids.count(sub.student) > 1:
            sub.problem = f"two submissions for {sub.student} (a folder and a zip?); keep one"
    if not subs:
        raise CourseError(f"no submissions in {submissions}: expected one folder or .zip per student")
    return subs, skipped
