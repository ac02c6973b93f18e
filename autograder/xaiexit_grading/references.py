"""The references of a lesson's exercises: out of the grading kernel's reach.

``xaiexit`` holds the correct version of everything a learner writes. While a lesson is
graded in the sandbox, the kernel sees a copy of the package (:func:`redacted_package`) in
which each of the lesson's exercises (``vanilla_gradient`` in Lesson 1, wherever the package
defines it) keeps its signature and docstring but not its body: it calls
``xaiexit._stand_in.stand_in`` (:mod:`xaiexit_grading.stand_in`) instead. No import, no
string built at run time and no file the kernel can read holds the reference's code; the
compiled caches (``__pycache__``) are left out of the copy.

The library keeps working: during a hidden test's call, the references a call needs
(library code that calls an exercise, the reference helpers a check swaps in) run in the
trusted grader, which sends back their values (:mod:`xaiexit_grading.remote`); elsewhere an
exercise of the package stands for the learner's own function of that name.
"""

from __future__ import annotations

import ast
import importlib
import shutil
from pathlib import Path

import xaiexit

PACKAGE = Path(xaiexit.__file__).resolve().parent


def _definitions(names: set[str], package: Path = PACKAGE):
    """``(file, module name, function node)`` for every top-level function of the package
    named in ``names``."""
    for path in sorted(package.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        tree = ast.parse(path.read_text())
        module = ".".join(("xaiexit", *path.relative_to(package).with_suffix("").parts))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name in names:
                yield path, module, node


def references(names: set[str]) -> dict:
    """``"module:function" -> function`` for each definition of the named exercises in the
    package (``ssim_maps`` has two, say), imported here in the trusted grader."""
    found = {}
    for _, module, node in _definitions(names):
        found[f"{module}:{node.name}"] = getattr(importlib.import_module(module), node.name)
    return found


def _stand_in_source(module: str, node: ast.FunctionDef, lines: list[str]) -> str:
    """The function's decorators and docstring, and a body that passes whatever it is given
    to the stand-in (its own signature may differ from the learner's)."""
    first = node.body[0]
    if first.lineno == node.lineno:
        raise ValueError(f"{module}.{node.name}: its body must start on a line of its own")
    decorators = "".join("".join(lines[d.lineno - 1 : d.end_lineno]) for d in node.decorator_list)
    docstring = ast.get_docstring(node, clean=False) is not None
    doc = "".join(lines[first.lineno - 1 : first.end_lineno]) if docstring else ""
    indent, inner = " " * node.col_offset, " " * first.col_offset
    return (
        f"{decorators}{indent}def {node.name}(*args, **kwargs):\n{doc}"
        f"{inner}from xaiexit._stand_in import stand_in\n\n"
        f"{inner}return stand_in({module + ':' + node.name!r}, args, kwargs)\n"
    )


def redacted_package(names: set[str], destination: Path) -> Path:
    """Copy the package to ``destination/xaiexit`` with the named exercises' bodies
    replaced (see the module's docstring); return the copy."""
    copy = Path(destination) / "xaiexit"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    by_file: dict[Path, list] = {}
    for path, module, node in _definitions(names):
        by_file.setdefault(path, []).append((module, node))
    for path, found in by_file.items():
        lines = path.read_text().splitlines(keepends=True)
        for module, node in sorted(found, key=lambda item: -item[1].lineno):  # bottom up: line numbers hold
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
            lines[start : node.end_lineno] = [_stand_in_source(module, node, lines)]
        target = copy / path.relative_to(PACKAGE)
        target.write_text("".join(lines))
    shutil.copyfile(Path(__file__).with_name("stand_in.py"), copy / "_stand_in.py")
    return copy
