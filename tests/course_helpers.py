"""Shared by the course tests: the Lesson 1 notebooks and submissions built from them."""
from __future__ import annotations

import copy
import inspect
from functools import lru_cache
from pathlib import Path

import nbformat
import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
LESSON = "01_gradient_saliency"
SOURCE = ROOT / "solutions" / LESSON / f"{LESSON}.ipynb"
RELEASE = ROOT / "lessons" / LESSON / f"{LESSON}.ipynb"


def cells_by_id(nb) -> dict:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}


@lru_cache(maxsize=1)
def solution_sources() -> dict[str, str]:
    """grade_id -> source of every answer cell (code and written) in the source notebook."""
    nb = nbformat.read(SOURCE, as_version=4)
    return {gid: c.source for gid, c in cells_by_id(nb).items() if c.metadata["nbgrader"].get("solution")}


def solution_namespace() -> dict:
    """The five solution functions, defined as the notebook defines them."""
    namespace = {"torch": torch, "nn": nn}
    for gid, source in solution_sources().items():
        if not gid.startswith("think"):
            exec(source, namespace)
    return namespace


def mistake_source(mistake) -> str:
    """A catalogued mistake as the learner's answer cell: renamed to the exercise, with
    any module-level helper it calls defined alongside."""
    from xaiexit.grading import gradient_saliency_mistakes as module

    body = inspect.getsource(mistake.function).split("\n")
    start = next(i for i, line in enumerate(body) if line.startswith("def "))
    source = "\n".join(body[start:]).replace(f"def {mistake.function.__name__}(", f"def {mistake.exercise}(", 1)
    if "_abs_gradient(" in source:
        source = inspect.getsource(module._abs_gradient) + "\n\n" + source
    return source


def submission(answers: dict[str, str] | None = None, solved: bool = True):
    """The released notebook with answer cells filled in.

    ``solved``: start from the notebook's own solutions; ``answers`` overrides cells.
    """
    nb = nbformat.read(RELEASE, as_version=4)
    cells = cells_by_id(nb)
    filled = dict(solution_sources()) if solved else {}
    filled.update(answers or {})
    for gid, source in filled.items():
        cells[gid].source = source
    return copy.deepcopy(nb)
