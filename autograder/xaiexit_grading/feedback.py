"""Feedback that explains a failure without showing the hidden tests.

nbgrader's feedback is the autograded notebook turned into HTML, and that notebook holds
the hidden tests (restored while grading) and full tracebacks through them. Before the
HTML is written, :class:`ScrubHiddenTests` replaces every hidden block in a test cell by
one comment line and cuts each test cell's tracebacks down to the error's last line,
which the checks in :mod:`xaiexit_grading` write for the learner.
"""

from __future__ import annotations

import re

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
PLACEHOLDER = "# hidden tests: they ran, their code is not shown"
_HIDDEN = re.compile(re.escape(BEGIN) + r".*?(" + re.escape(END) + r"|\Z)", re.DOTALL)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def scrub_source(source: str) -> str:
    """Replace each hidden-test block (delimiters included) with :data:`PLACEHOLDER`."""
    return _HIDDEN.sub(PLACEHOLDER, source)


TIMED_OUT = (
    "this cell ran longer than the grading time limit and was stopped: look for an "
    "endless loop (or very slow code) in the function it tests"
)


def scrub_error(output: dict) -> dict:
    """Keep an error's name and message; drop the traceback through the test code."""
    if output.get("ename") in ("KeyboardInterrupt", "CellTimeoutError") and not str(output.get("evalue", "")).strip():
        output["evalue"] = TIMED_OUT
    message = _ANSI.sub("", f"{output.get('ename', 'Error')}: {output.get('evalue', '')}")
    output["traceback"] = [message]
    return output


def is_test_cell(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution") and cell.get("cell_type") == "code"


class ScrubHiddenTests(Preprocessor):
    """nbconvert preprocessor used by ``GenerateFeedback`` (see autograder/nbgrader_config.py)."""

    enabled = Bool(True, help="nbconvert registers preprocessors disabled unless they say otherwise")

    def preprocess_cell(self, cell, resources, index):
        if is_test_cell(cell):
            cell.source = scrub_source(cell.source)
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    scrub_error(output)
        return cell, resources
