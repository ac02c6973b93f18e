"""Answers that look copied: every graded answer against the references and the class.

Each answer cell is fingerprinted with copydetect (winnowing, the method of Stanford's MOSS)
after its Python lexer has replaced every name, string and number by one symbol and dropped
comments and layout, so that renaming variables or reformatting does not hide a copy. The
share of an answer's tokens found in another source is its similarity to it (0 to 1). An
answer is reported when at least ``THRESHOLD`` of it is found in

- a reference: the solution cell of ``solutions/`` or the library's function of the same
  name (both are readable by anyone who has the course), or
- another student's answer to the same exercise.

Answers shorter than ``MIN_SYMBOLS`` symbols after filtering (two or three lines) are never
reported: two students may well write the same short line. A report is a
reason to look, not a verdict.

``xaiexit grade`` stores the lines in the lesson's report; the grades CSV shows them in its
``similar`` column, e.g. ``smoothgrad: 0.97 like the reference; occlusion: 1.00 like bob``.
"""

from __future__ import annotations

import ast
import importlib.util
import io
from pathlib import Path

from xaiexit.course.notebooks import grade_id, nbgrader_meta, read_notebook
from xaiexit.course.workspace import source_notebook

THRESHOLD = 0.9
NOISE, GUARANTEE = 25, 30  # copydetect's defaults: k-grams of 25 symbols, a match of 30 is always found
MIN_SYMBOLS = 60  # shorter answers (after filtering) are not compared

#: where the library's version of every exercise lives (the course's rule: same name, same signature)
LIBRARY = ("saliency", "exits", "models", "segmentation")

_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def library_source(name: str) -> str | None:
    """The source of the library's function ``name``: a top-level ``def`` in a module of one
    of ``LIBRARY``'s packages of ``xaiexit``, read from the file (nothing is imported), or None."""
    (root,) = importlib.util.find_spec("xaiexit").submodule_search_locations
    for package in LIBRARY:
        for path in sorted((Path(root) / package).rglob("*.py")):
            text = path.read_text()
            if f"def {name}(" not in text:
                continue
            for node in ast.parse(text).body:
                if isinstance(node, ast.FunctionDef) and node.name == name:
                    return ast.get_source_segment(text, node)
    return None


def solution_source(source: str) -> str:
    """A solution cell's code without nbgrader's markers."""
    return "\n".join(line for line in source.splitlines() if line.strip() not in _MARKERS)


def _fingerprint(source: str):
    """copydetect's fingerprint of ``source``, or None when it is too short to compare."""
    from copydetect import CodeFingerprint

    fingerprint = CodeFingerprint("answer.py", NOISE, GUARANTEE - NOISE + 1, language="python", fp=io.StringIO(source))
    return fingerprint if len(fingerprint.filtered_code) >= MIN_SYMBOLS else None


def _share_found(a, b) -> tuple[float, float]:
    """(share of a's symbols found in b, share of b's found in a); 0 for a missing fingerprint."""
    from copydetect import compare_files

    if a is None or b is None:
        return 0.0, 0.0
    _, (in_a, in_b), _ = compare_files(a, b)
    return float(in_a), float(in_b)


def similar_answers(answers: dict[str, dict[str, str]], references: dict[str, list[str]]) -> dict[str, list[str]]:
    """Who has an answer that is mostly found elsewhere.

    answers : student -> exercise -> the source of their answer cell.
    references : exercise -> the reference sources to compare with.
    Returns student -> lines such as ``"smoothgrad: 0.97 like the reference"`` or
    ``"smoothgrad: 0.95 like bob"``, for every student (empty lists included).
    """
    found = {student: [] for student in answers}
    exercises = sorted({e for by_exercise in answers.values() for e in by_exercise})
    for exercise in exercises:
        prints = {s: _fingerprint(a[exercise]) for s, a in answers.items() if a.get(exercise, "").strip()}
        refs = [_fingerprint(r) for r in references.get(exercise, []) if r.strip()]
        for student, mine in prints.items():
            best = max((_share_found(mine, ref)[0] for ref in refs), default=0.0)
            if best >= THRESHOLD:
                found[student].append(f"{exercise}: {best:.2f} like the reference")
        names = sorted(prints)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                in_a, in_b = _share_found(prints[a], prints[b])
                if in_a >= THRESHOLD:
                    found[a].append(f"{exercise}: {in_a:.2f} like {b}")
                if in_b >= THRESHOLD:
                    found[b].append(f"{exercise}: {in_b:.2f} like {a}")
    return found


def for_class(course: Path, lesson: str, workspace: Path, report: dict, release_nb) -> dict[str, list[str]]:
    """:func:`similar_answers` for every graded student of ``lesson`` in ``workspace`` (their
    submitted notebooks, this batch's and earlier ones), against the lesson's solution cells
    and the library's functions."""
    names = [grade_id(c) for c in release_nb.cells if nbgrader_meta(c).get("solution") and c.cell_type == "code"]
    solutions = {grade_id(c): c.source for c in read_notebook(source_notebook(course, lesson)).cells}
    references = {name: [solution_source(solutions.get(name, "")), library_source(name) or ""] for name in names}
    answers = {}
    for student, entry in report.items():
        path = workspace / "submitted" / student / lesson / f"{lesson}.ipynb"
        if not entry.get("problem") and path.is_file():
            answers[student] = {grade_id(c): c.source for c in read_notebook(path).cells if grade_id(c) in names}
    return similar_answers(answers, references)
