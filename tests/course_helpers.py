"""Shared by the course tests: each lesson's notebooks and submissions built from them.

``Lesson("02_flat_regions", "flat_regions")`` gives the source and released notebooks of
a lesson, its solution functions, its mistakes written as answer cells, and released
notebooks filled in as a learner would. The module-level names are Lesson 1's.
"""
from __future__ import annotations

import copy
import importlib
import inspect
import os
import re
from functools import cached_property
from pathlib import Path

import nbformat
import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent


def printed(cell) -> str:
    """Everything a code cell printed."""
    return "".join(o.get("text", "") for o in cell.outputs)


def cells_by_id(nb) -> dict:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}


class Lesson:
    """One lesson: ``name`` is its folder (``01_gradient_saliency``), ``grading`` the name of
    its module in ``xaiexit.grading`` (``gradient_saliency``)."""

    def __init__(self, name: str, grading: str):
        self.name = name
        self.number = str(int(name.split("_")[0]))
        self.source = ROOT / "solutions" / name / f"{name}.ipynb"
        self.release = ROOT / "lessons" / name / f"{name}.ipynb"
        self.grading = importlib.import_module(f"xaiexit.grading.{grading}")
        self.mistakes = importlib.import_module(f"xaiexit.grading.{grading}_mistakes")

    @cached_property
    def solution_sources(self) -> dict[str, str]:
        """grade_id -> source of every answer cell (code and written) in the source notebook."""
        nb = nbformat.read(self.source, as_version=4)
        return {gid: c.source for gid, c in cells_by_id(nb).items() if c.metadata["nbgrader"].get("solution")}

    @cached_property
    def points(self) -> dict[str, int]:
        """Auto-graded exercise -> its points, read from the test cells."""
        nb = nbformat.read(self.source, as_version=4)
        return {gid[: -len("_test")]: int(c.metadata["nbgrader"]["points"]) for gid, c in cells_by_id(nb).items()
                if c.metadata["nbgrader"].get("grade") and c.cell_type == "code"}

    def solution_namespace(self) -> dict:
        """The solution functions, defined as the notebook defines them (in order), after the
        setup cell's imports."""
        namespace = {"torch": torch, "nn": nn}
        nb = nbformat.read(self.source, as_version=4)
        setup = cells_by_id(nb)["setup"].source.splitlines()
        exec("\n".join(line for line in setup if line.startswith(("import ", "from "))), namespace)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "code" and (meta.get("solution") or meta.get("grade_id", "").endswith("_given")):
                exec(cell.source, namespace)
        return namespace

    def mistake_source(self, mistake) -> str:
        """A catalogued mistake as the learner's answer cell: renamed to the exercise, with
        the module-level helpers it calls (``_name(...)``) defined before it."""
        body = inspect.getsource(mistake.function).split("\n")
        start = next(i for i, line in enumerate(body) if line.startswith("def "))
        source = "\n".join(body[start:]).replace(f"def {mistake.function.__name__}(", f"def {mistake.exercise}(", 1)
        helpers = [name for name in dict.fromkeys(re.findall(r"\b(_[a-z]\w*)\(", source))
                   if inspect.isfunction(getattr(self.mistakes, name, None))]
        imports = "import copy\nimport math\n\nimport torch\nimport torch.nn.functional as F\n\n"
        return imports + "".join(inspect.getsource(getattr(self.mistakes, h)) + "\n\n" for h in helpers) + source

    def execute(self, grading: str | None = None):
        """Run the source notebook top to bottom as a learner would (or, with
        ``grading="autograde"``, as the autograder does); return it with its outputs.

        Figures are drawn with matplotlib's Agg backend, so they are computed but not
        sent to the client: widgets that redraw large figures through ``interact`` can
        otherwise stall nbclient now and then (a lost iopub message ends in the cell timeout).
        """
        from nbclient import NotebookClient

        nb = nbformat.read(self.source, as_version=4)
        saved = {name: os.environ.pop(name, None) for name in ("NBGRADER_EXECUTION", "MPLBACKEND")}
        os.environ["MPLBACKEND"] = "Agg"
        if grading:
            os.environ["NBGRADER_EXECUTION"] = grading
        try:
            NotebookClient(nb, timeout=600, kernel_name="python3",
                           resources={"metadata": {"path": str(self.source.parent)}}).execute()
            return nb
        finally:
            for name, value in saved.items():
                os.environ.pop(name, None)
                if value is not None:
                    os.environ[name] = value

    def cells_printing_while_grading(self) -> list[str]:
        """Cells guarded by ``if not GRADING:`` that still printed when run as the autograder
        runs the notebook (there should be none: grading must not train or plot)."""
        nb = self.execute("autograde")
        return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
                if c.cell_type == "code" and c.source.startswith("if not GRADING:") and c.outputs]

    def submission(self, answers: dict[str, str] | None = None, solved: bool = True):
        """The released notebook with answer cells filled in.

        ``solved``: start from the notebook's own solutions; ``answers`` overrides cells.
        """
        nb = nbformat.read(self.release, as_version=4)
        cells = cells_by_id(nb)
        filled = dict(self.solution_sources) if solved else {}
        filled.update(answers or {})
        for gid, source in filled.items():
            cells[gid].source = source
        return copy.deepcopy(nb)


LESSON1 = Lesson("01_gradient_saliency", "gradient_saliency")
LESSON2 = Lesson("02_flat_regions", "flat_regions")
LESSON3 = Lesson("03_early_exit", "early_exit")
LESSON4 = Lesson("04_exit_rules", "exit_rules")
LESSON5 = Lesson("05_unet", "unet")

# Lesson 1 under the names the first tests use
LESSON = LESSON1.name
SOURCE = LESSON1.source
RELEASE = LESSON1.release
solution_namespace = LESSON1.solution_namespace
mistake_source = LESSON1.mistake_source
submission = LESSON1.submission


def solution_sources() -> dict[str, str]:
    return LESSON1.solution_sources
