"""Flag code in a submission that tries to influence its own grading.

The hidden tests already refuse answers that fake equality or replace builtins; this
scan adds a second line of defence for the instructor. It reads (never runs) the cells a
learner may edit and reports constructs a lesson never needs: replacing attributes of
torch or builtins, defining comparison hooks, reaching into the grading code or the
solutions, or calling the reference implementation of a graded function. A flag is a
prompt to look at the notebook, not a verdict; it does not change the score.
"""

from __future__ import annotations

import ast

from xaiexit.course.notebooks import nbgrader_meta

_MODULES = {"builtins", "ctypes", "gc", "importlib", "subprocess", "socket"}
_PROTECTED = {"torch", "builtins", "nn", "F", "np", "numpy", "xaiexit", "math", "sys", "os"}
_HOOKS = {
    "__eq__",
    "__ne__",
    "__bool__",
    "__torch_function__",
    "__class__",
    "__builtins__",
    "__instancecheck__",
    "__subclasscheck__",
}


def _root_name(node) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def scan_source(source: str, graded_names: set[str]) -> list[str]:
    """Flags for one cell's source (IPython magics and shell lines are ignored)."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return []
    flags = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            names = [a.name for a in node.names]
            for mod in [module] if module else names:
                if mod and (mod.split(".")[0] in _MODULES or mod.startswith("xaiexit_grading")):
                    flags.append(f"imports {mod}")
            if module and module.startswith("xaiexit"):
                for name in names:
                    if name in graded_names:
                        flags.append(f"imports the reference {name} from {module}")
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and _root_name(target) in _PROTECTED:
                    flags.append(f"assigns to {ast.unparse(target)}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in {"setattr", "delattr"}:
            flags.append(f"calls {node.func.id}()")
        elif isinstance(node, ast.FunctionDef) and node.name in _HOOKS:
            flags.append(f"defines {node.name}")
        elif isinstance(node, ast.Name) and node.id in {"__builtins__"}:
            flags.append("uses __builtins__")
        elif isinstance(node, ast.Attribute) and node.attr == "modules" and _root_name(node) == "sys":
            flags.append("uses sys.modules")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "solutions" in node.value:
            flags.append(f"mentions {node.value!r}")
    return flags


def scan_notebook(nb, graded_names: set[str]) -> list[str]:
    """Flags for every cell a learner may edit (answer cells and cells they added)."""
    flags = []
    for cell in nb.cells:
        if cell.get("cell_type") != "code" or nbgrader_meta(cell).get("locked"):
            continue
        for flag in scan_source(cell.source, graded_names):
            where = nbgrader_meta(cell).get("grade_id") or "an added cell"
            entry = f"{where}: {flag}"
            if entry not in flags:
                flags.append(entry)
    return flags
