"""What grading leaves behind: the gradebook's scores, per-student reports, feedback, the CSV.

nbgrader's gradebook (sqlite, or a database server through ``XAIEXIT_DB_URL``) holds the
points; ``<workspace>/reports/<lesson>.json`` holds what nbgrader has no place for (why a
submission could not be graded, notes on repairs, flags from the audit). :func:`feedback`
and :func:`export` can be run again on their own, e.g. after manual grading.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from xaiexit.course.nbgrader_app import load_config, run_converter
from xaiexit.course.notebooks import exercises, read_notebook
from xaiexit.course.workspace import CourseError, lessons, released_notebook, resolve_lesson, workspace_path


def _report_path(workspace: Path, lesson: str) -> Path:
    return workspace / "reports" / f"{lesson}.json"


def load_report(workspace: Path, lesson: str) -> dict:
    """student -> {"problem", "notes", "flags"} for one lesson."""
    path = _report_path(workspace, lesson)
    return json.loads(path.read_text()) if path.is_file() else {}


def save_report(workspace: Path, lesson: str, report: dict) -> None:
    path = _report_path(workspace, lesson)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=1, sort_keys=True))
    tmp.replace(path)


def scores(config, lesson: str, students: list[str] | None = None) -> dict:
    """student -> {"score", "max_score", "needs_manual_grade", "parts": {grade_id: points}}."""
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
            parts = {g.name: g.score for nb in sub.notebooks for g in nb.grades}
            out[student] = {
                "score": sub.score,
                "max_score": assignment.max_score,
                "needs_manual_grade": sub.needs_manual_grade,
                "parts": parts,
            }
    return out


def feedback(course: Path, lesson: str, workspace=None, students: list[str] | None = None) -> list[Path]:
    """Write feedback HTML (hidden tests scrubbed) for autograded students; return the pages."""
    from nbgrader.converters import GenerateFeedback

    lesson = resolve_lesson(course, lesson)
    workspace = workspace_path(workspace)
    config = load_config(course, workspace)
    autograded = workspace / "autograded"
    if students is None:
        students = sorted(p.name for p in autograded.iterdir() if (p / lesson).is_dir()) if autograded.is_dir() else []
    if not students:
        raise CourseError(
            f"nothing to give feedback on: no autograded submissions of {lesson} in {workspace}; run grade first"
        )
    written = []
    for student in students:
        run_converter(GenerateFeedback, config, lesson, student, force=True)
        written.append(workspace / "feedback" / student / lesson / f"{lesson}.html")
    return written


def export(course: Path, names: list[str] | None = None, workspace=None, output: Path | None = None) -> Path:
    """Write a grades CSV: one row per student and lesson, every student of the class.

    Columns: student, lesson, score, max_score, one column per graded part (its points),
    needs_manual_grading, problem, notes, flags, similar (answers mostly found in a reference
    or another student's answer: :mod:`xaiexit_grading.similarity`). A submission that could
    not be graded has score 0 and says why in ``problem``.
    """
    workspace = workspace_path(workspace)
    config = load_config(course, workspace)
    selected = [resolve_lesson(course, n) for n in names] if names else lessons(course)
    output = Path(output) if output else workspace / "grades.csv"
    rows, part_names = [], []
    for lesson in selected:
        parts = exercises(read_notebook(released_notebook(course, lesson)))
        max_score = float(sum(p["points"] for p in parts))
        part_names += [p["name"] for p in parts if p["name"] not in part_names]
        report = load_report(workspace, lesson)
        graded = scores(config, lesson)
        for student in sorted(set(report) | set(graded)):
            entry = report.get(student, {})
            s = graded.get(student) if not entry.get("problem") else None
            row = {
                "student": student,
                "lesson": lesson,
                "score": f"{s['score']:g}" if s else "0",
                "max_score": f"{max_score:g}",
                "needs_manual_grading": str(bool(s and s["needs_manual_grade"])).lower(),
                "problem": entry.get("problem") or "",
                "notes": "; ".join(entry.get("notes", [])),
                "flags": "; ".join(entry.get("flags", [])),
                "similar": "; ".join(entry.get("similar", [])),
            }
            for p in parts:
                value = (s or {}).get("parts", {}).get(p["test"] or p["answer"])
                row[p["name"]] = f"{value:g}" if value is not None else "0"
            rows.append(row)
    columns = [
        "student",
        "lesson",
        "score",
        "max_score",
        *part_names,
        "needs_manual_grading",
        "problem",
        "notes",
        "flags",
        "similar",
    ]
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(output)
    return output
