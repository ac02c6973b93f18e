"""Release: regenerate ``lessons/`` from ``solutions/`` with nbgrader's ``generate_assignment``.

Solutions and hidden tests are removed, outputs cleared, and the result written in one
canonical JSON layout, so the same source gives the same bytes on every run.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from xaiexit.course.nbgrader_app import load_config, run_converter
from xaiexit.course.notebooks import read_notebook
from xaiexit.course.workspace import lessons, resolve_lesson, source_notebook


def generate(course: Path, lesson: str, root: Path) -> Path:
    """Generate the student version of ``lesson`` inside the scratch folder ``root``;
    return the folder that holds it."""
    import nbformat
    from nbgrader.converters import GenerateAssignment

    source = source_notebook(course, lesson)
    read_notebook(source)  # a clear error for a broken source notebook
    shutil.copytree(
        source.parent, root / "solutions" / lesson, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
    )
    config = load_config(course, root / "workspace")
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.db_url = f"sqlite:///{root / 'release.db'}"
    run_converter(GenerateAssignment, config, lesson, force=True, create_assignment=True)
    out = root / "lessons" / lesson
    for path in out.glob("*.ipynb"):  # one canonical JSON layout, whatever wrote it
        nbformat.write(nbformat.read(path, as_version=4), path)
    return out


def _same_tree(a: Path, b: Path) -> bool:
    def files(folder: Path) -> list[Path]:
        return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())

    if not b.is_dir() or files(a) != files(b):
        return False
    return all((a / f).read_bytes() == (b / f).read_bytes() for f in files(a))


def release(course: Path, names: list[str] | None = None, check: bool = False) -> list[str]:
    """Regenerate ``lessons/<id>`` for the given lessons (all by default).

    Returns the lessons whose released version changed (with ``check=True``, the ones
    that are stale; nothing is written then). Each lesson folder is replaced whole.
    """
    selected = [resolve_lesson(course, n) for n in names] if names else lessons(course)
    changed = []
    for lesson in selected:
        with tempfile.TemporaryDirectory(prefix="xaiexit-release-") as tmp:
            generated = generate(course, lesson, Path(tmp))
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
