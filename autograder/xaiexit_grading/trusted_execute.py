"""nbgrader's Execute step, with the hidden tests run by the grader rather than the kernel.

Every cell runs in the kernel as usual, except a graded test cell: its visible part still
runs there (later cells may use what it defines), but its outcome, the cell's output and
so its score come from the hidden tests, which :class:`TrustedExecute` runs in the grader's
own process against :class:`~xaiexit_grading.remote.RemoteFunction` proxies. Whatever the
learner's code does in the kernel (replacing the checks, torch functions or builtins,
printing "passed", forging outputs) cannot reach them.

A hidden test block is two lines, and nothing else is accepted::

    from xaiexit_grading import gradient_saliency as grading
    grading.check_vanilla_gradient(vanilla_gradient)
"""

from __future__ import annotations

import ast
import copy
import importlib
import tempfile
from pathlib import Path

from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Unicode

from xaiexit_grading._checks import GradingError
from xaiexit_grading.feedback import BEGIN, END, is_test_cell
from xaiexit_grading.references import references
from xaiexit_grading.remote import KernelLink, RemoteFunction


class HiddenTestError(ValueError):
    """A hidden test block is not in the accepted form (an error in the course, not the learner's)."""


def split_hidden(source: str) -> tuple[str | None, str]:
    """``(hidden block or None, the rest of the cell)``."""
    if BEGIN not in source:
        return None, source
    head, _, rest = source.partition(BEGIN)
    hidden, _, tail = rest.partition(END)
    return hidden, head + tail


def parse_hidden(block: str) -> list[tuple[str, str, str]]:
    """The checks a hidden block calls: ``[(module, check function, learner's name), ...]``."""
    tree = ast.parse(block)
    modules, checks = {}, []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "xaiexit_grading" and node.level == 0:
            for alias in node.names:
                modules[alias.asname or alias.name] = alias.name
            continue
        call = node.value if isinstance(node, ast.Expr) else None
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Name)
            and call.func.value.id in modules
            and call.func.attr.startswith("check_")
            and len(call.args) == 1
            and isinstance(call.args[0], ast.Name)
            and not call.keywords
        ):
            checks.append((modules[call.func.value.id], call.func.attr, call.args[0].id))
            continue
        raise HiddenTestError(
            f"a hidden test block may only import xaiexit_grading modules and call "
            f"<module>.check_<exercise>(<name>); found: {ast.unparse(node)}"
        )
    if not checks:
        raise HiddenTestError("a hidden test block calls no check")
    return checks


def run_checks(link: KernelLink, checks: list[tuple[str, str, str]]) -> dict:
    """Run the checks in this process; return the test cell's output."""
    link.start()
    try:
        for module, check, name in checks:
            getattr(importlib.import_module(f"xaiexit_grading.{module}"), check)(RemoteFunction(link, name))
    except GradingError as error:
        message = str(error)
    except Exception as error:  # noqa: BLE001 - a check that cannot finish fails the exercise
        message = f"the hidden tests could not finish ({type(error).__name__}: {error})"
    else:
        return NotebookNode(output_type="stream", name="stdout", text="The hidden tests passed.\n")
    return NotebookNode(
        output_type="error", ename="GradingError", evalue=message, traceback=[f"GradingError: {message}"]
    )


class TrustedExecute(Execute):
    """nbgrader's Execute, with graded test cells checked by the grader (module docstring)."""

    exchange_directory = Unicode(
        "", help="A folder the grader and the kernel both reach (in the sandbox: bound writable)"
    ).tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._graded = {
            name
            for cell in nb.cells
            if is_test_cell(cell) and split_hidden(cell.source)[0] is not None
            for _, _, name in parse_hidden(split_hidden(cell.source)[0])
        }
        try:
            return super().preprocess(nb, resources, km=km)
        finally:
            link = getattr(self, "_kernel_link", None)
            if link is not None:
                link.client.stop_channels()
                self._kernel_link = None
            if getattr(self, "_exchange_tmp", None) is not None:
                self._exchange_tmp.cleanup()

    def preprocess_cell(self, cell, resources, index):
        hidden, visible = split_hidden(cell.source) if is_test_cell(cell) else (None, "")
        if hidden is None:
            return super().preprocess_cell(cell, resources, index)
        checks = parse_hidden(hidden)
        shown = copy.deepcopy(cell)
        shown.source = visible
        super().preprocess_cell(shown, resources, index)  # what later cells may need; no say in the grade
        self.nb.cells[index] = cell  # nbclient put the copy in the notebook
        cell.outputs = [run_checks(self._link(), checks)]
        cell.execution_count = shown.get("execution_count")
        return cell, resources

    def _link(self) -> KernelLink:
        from jupyter_client.blocking import BlockingKernelClient
        from jupyter_core.utils import run_sync

        if getattr(self, "_kernel_link", None) is None or self._kernel_link.client_for is not self.km:
            if not self.exchange_directory:
                self._exchange_tmp = tempfile.TemporaryDirectory(prefix="xaiexit-exchange-")
                self.exchange_directory = self._exchange_tmp.name
            client = BlockingKernelClient()
            client.load_connection_info(self.km.get_connection_info())
            client.start_channels(iopub=False, stdin=False, hb=False)
            process = getattr(getattr(self.km, "provisioner", None), "process", None)
            link = KernelLink(
                client,
                Path(self.exchange_directory),
                timeout=self.timeout or 60,
                alive=lambda: process is None or process.poll() is None,
                interrupt=lambda: run_sync(self.km.interrupt_kernel)(),
                references=references(self._graded),
            )
            link.client_for = self.km
            self._kernel_link = link
        return self._kernel_link
