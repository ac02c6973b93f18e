"""Shared by the course tests: each lesson's notebooks and submissions built from them.

``Lesson("02_flat_regions", "flat_regions")`` gives the source and released notebooks of
a lesson, its solution functions, its mistakes written as answer cells, and released
notebooks filled in as a learner would. The module-level names are Lesson 1's.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import inspect
import os
import re
import secrets
import signal
import socket
import subprocess
import time
from functools import cached_property
from pathlib import Path

import nbformat
import psutil
import requests
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
    its module in ``xaiexit_grading`` (``gradient_saliency``); ``prints``: cell -> text that
    the cell must print when the solution notebook runs."""

    def __init__(self, name: str, grading: str, prints: dict[str, str] | None = None):
        self.name = name
        self.prints = prints or {}
        self.number = str(int(name.split("_")[0]))
        self.source = ROOT / "solutions" / name / f"{name}.ipynb"
        self.release = ROOT / "lessons" / name / f"{name}.ipynb"
        self.grading = importlib.import_module(f"xaiexit_grading.{grading}")
        self.mistakes = importlib.import_module(f"xaiexit_grading.{grading}_mistakes")

    @cached_property
    def solution_sources(self) -> dict[str, str]:
        """grade_id -> source of every answer cell (code and written) in the source notebook."""
        nb = nbformat.read(self.source, as_version=4)
        return {gid: c.source for gid, c in cells_by_id(nb).items() if c.metadata["nbgrader"].get("solution")}

    @cached_property
    def points(self) -> dict[str, int]:
        """Auto-graded exercise -> its points, read from the test cells."""
        nb = nbformat.read(self.source, as_version=4)
        return {
            gid[: -len("_test")]: int(c.metadata["nbgrader"]["points"])
            for gid, c in cells_by_id(nb).items()
            if c.metadata["nbgrader"].get("grade") and c.cell_type == "code"
        }

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
        helpers = [
            name
            for name in dict.fromkeys(re.findall(r"\b(_[a-z]\w*)\(", source))
            if inspect.isfunction(getattr(self.mistakes, name, None))
        ]
        imports = "import copy\nimport math\n\nimport torch\nimport torch.nn.functional as F\n\n"
        return imports + "".join(inspect.getsource(getattr(self.mistakes, h)) + "\n\n" for h in helpers) + source

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
LESSON3 = Lesson("03_early_exit", "early_exit", prints={"operating_point": "== simulate_exits on the test split: True"})
LESSON4 = Lesson("04_map_concentration", "map_concentration")
LESSON5 = Lesson("05_exit_rules", "exit_rules")
LESSON6 = Lesson("06_unet", "unet")
LESSONS = [LESSON1, LESSON2, LESSON3, LESSON4, LESSON5, LESSON6]  # the course, in order

# Lesson 1 under the names the first tests use
LESSON = LESSON1.name
SOURCE = LESSON1.source
RELEASE = LESSON1.release
solution_namespace = LESSON1.solution_namespace
mistake_source = LESSON1.mistake_source
submission = LESSON1.submission


def solution_sources() -> dict[str, str]:
    return LESSON1.solution_sources


def assert_claims_hold(lesson: Lesson, nb) -> None:
    """The solution notebook ``nb``, run, backs its claims: at least three assert cells
    printed "claim holds", every exercise's test cell printed "visible tests passed", and the
    cells in ``lesson.prints`` printed what they must."""
    claims = [c for c in nb.cells if c.cell_type == "code" and "claim holds" in c.source]
    assert len(claims) >= 3, "every lesson backs its claims with assert cells"
    silent = [c.id for c in claims if "claim holds" not in printed(c)]
    assert silent == [], f"these assert cells did not print 'claim holds': {silent}"
    cells = {c.id: c for c in nb.cells}
    quiet = [f"{name}_test" for name in lesson.points if "visible tests passed" not in printed(cells[f"{name}_test"])]
    assert quiet == [], f"these test cells did not pass their visible tests: {quiet}"
    for cell, expected in lesson.prints.items():
        assert expected in printed(cells[cell]), f"{cell} did not print {expected!r}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """JupyterLab started the way the README starts it, ``make lab``, on a free port with a
    token, its runtime and config folders private under ``folder`` and its log in
    ``folder/lab.log``. ``env``: environment variables to set (or, given as None, to unset) for
    the server and its kernels; ``make_args``: variables for ``make`` (``AUTOGRADER=1``);
    ``lab_args``: more options for ``jupyter lab``. It runs in its own process group; ``stop()``
    ends it and every process it started."""

    def __init__(
        self,
        folder: Path,
        env: dict[str, str | None] | None = None,
        make_args: tuple[str, ...] = (),
        lab_args: str = "",
    ):
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "lab.log"
        environment = dict(
            os.environ,
            JUPYTER_TOKEN=self.token,
            JUPYTER_RUNTIME_DIR=str(folder / "runtime"),
            JUPYTER_CONFIG_DIR=str(folder / "config"),
            **(env or {}),
        )
        environment = {name: value for name, value in environment.items() if value is not None}
        with open(self.log, "wb") as log:  # a file, not a pipe: a full pipe would stall the server
            self.process = subprocess.Popen(
                [
                    "make",
                    "lab",
                    *make_args,
                    f"PORT={self.port}",
                    f"LAB_ARGS=--no-browser --ip=127.0.0.1 {lab_args}".strip(),
                ],
                cwd=ROOT,
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )

    def get(self, path: str, timeout: float = 10) -> requests.Response:
        """``GET path`` (``/api/status``, ``/lab``, ...) with the token."""
        return requests.get(self.url + path, params={"token": self.token}, timeout=timeout)

    def delete(self, path: str, timeout: float = 10) -> requests.Response:
        """``DELETE path`` (``/api/sessions/<id>``, ...) with the token."""
        return requests.delete(self.url + path, params={"token": self.token}, timeout=timeout)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:]

    def wait_until_serving(self, timeout: float = 90) -> requests.Response | None:
        """The first answer of ``/api/status`` (None if none came within ``timeout`` seconds or
        the server exited)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                return self.get("/api/status", timeout=2)
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.5)
        return None

    def stop(self) -> None:
        """SIGTERM to the process group, SIGKILL if ``make`` still runs 20 s later; then SIGKILL
        to whatever it started that is still running 20 s later (the server shuts its kernels
        down on SIGTERM, but they run in process groups of their own)."""
        try:
            started = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            started = []
        self._signal_group(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.process.wait()
        _, alive = psutil.wait_procs(started, timeout=20)
        for process in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        psutil.wait_procs(alive, timeout=20)

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)
