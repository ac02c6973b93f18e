"""Reading notebooks safely and comparing a learner's copy with the released lesson.

nbgrader identifies cells by ``metadata.nbgrader.grade_id``. A learner may delete a cell
by accident or paste a test cell twice; :func:`repair` puts deleted cells back (a test
cell from the release, an answer cell as its empty stub, which scores 0) and strips the
identity from duplicates, and says so in plain words.
"""

from __future__ import annotations

import copy
import json

from xaiexit.course.workspace import CourseError

MAX_BYTES = 50 * 2**20  # a lesson notebook without outputs is well under 1 MB


def parse_notebook(text: str | bytes, where: str):
    """Parse notebook JSON into an ``nbformat.NotebookNode``; a :class:`CourseError` says
    what is wrong with it."""
    import nbformat
    import nbformat.reader

    if len(text) > MAX_BYTES:
        raise CourseError(f"{where} is larger than {MAX_BYTES // 2**20} MB; clear its outputs and save it again")
    try:
        nb = nbformat.reads(text if isinstance(text, str) else text.decode("utf-8"), as_version=4)
    except (UnicodeDecodeError, json.JSONDecodeError, nbformat.reader.NotJSONError):
        raise CourseError(f"{where} is not a notebook: it is not valid JSON (was it saved completely?)") from None
    except Exception as exc:  # nbformat raises several types for broken structure
        raise CourseError(f"{where} is not a readable notebook ({type(exc).__name__}: {exc})") from None
    if not isinstance(nb.get("cells"), list):
        raise CourseError(f"{where} is not a notebook: it has no list of cells")
    return nb


def read_notebook(path):
    try:
        data = open(path, "rb").read()
    except OSError as exc:
        raise CourseError(f"cannot read {path}: {exc.strerror}") from None
    return parse_notebook(data, str(path))


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def grade_id(cell) -> str | None:
    return nbgrader_meta(cell).get("grade_id")


def exercises(release) -> list[dict]:
    """The graded parts of a lesson, in order.

    Each entry: ``name``, ``kind`` ("code" for an exercise with a test cell, "written"
    for a manually graded answer), ``answer`` (grade_id of the answer cell), ``test``
    (grade_id of the test cell, or None) and ``points``.
    """
    points = {grade_id(c): nbgrader_meta(c).get("points", 0) for c in release.cells if nbgrader_meta(c).get("grade")}
    parts = []
    for cell in release.cells:
        meta = nbgrader_meta(cell)
        if not meta.get("solution"):
            continue
        name = meta["grade_id"]
        if cell.cell_type == "markdown":
            parts.append(dict(name=name, kind="written", answer=name, test=None, points=points.get(name, 0)))
        else:
            test = f"{name}_test" if f"{name}_test" in points else None
            parts.append(dict(name=name, kind="code", answer=name, test=test, points=points.get(test, 0)))
    return parts


def repair(nb, release) -> tuple[object, list[str]]:
    """Make ``nb`` hold every cell of ``release`` exactly once.

    Returns the repaired copy and one note per change, for the learner's report.
    """
    nb = copy.deepcopy(nb)
    notes = []
    released = {grade_id(c): c for c in release.cells if grade_id(c)}
    seen = set()
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid is None or gid not in released:
            if gid is not None:  # an id the lesson does not have: treat as an ordinary cell
                del cell.metadata["nbgrader"]
            continue
        if gid in seen:
            del cell.metadata["nbgrader"]
            notes.append(f"cell '{gid}' appears more than once; only its first copy is graded")
            continue
        seen.add(gid)
        original = released[gid]
        if cell.cell_type != original.cell_type:
            notes.append(
                f"cell '{gid}' was changed from {original.cell_type} to {cell.cell_type}; "
                f"it is graded as {original.cell_type}"
            )
            cell.cell_type = original.cell_type
            cell.pop("attachments", None)
            if original.cell_type == "code":
                cell.setdefault("outputs", [])
                cell.setdefault("execution_count", None)
            else:
                cell.pop("outputs", None)
                cell.pop("execution_count", None)
    # Put deleted cells back after the released cell that precedes them.
    position = {grade_id(c): i for i, c in enumerate(nb.cells) if grade_id(c)}
    insert_at = 0
    for cell in release.cells:
        gid = grade_id(cell)
        if gid is None:
            continue
        if gid in position:
            insert_at = position[gid] + 1
            continue
        restored = copy.deepcopy(cell)
        if nbgrader_meta(cell).get("solution"):
            notes.append(f"answer cell '{gid}' was deleted; it was put back empty, so it scores 0")
        else:
            notes.append(f"cell '{gid}' was deleted; it was put back from the lesson")
        nb.cells.insert(insert_at, restored)
        position = {grade_id(c): i for i, c in enumerate(nb.cells) if grade_id(c)}
        insert_at = position[gid] + 1
    return nb, notes
