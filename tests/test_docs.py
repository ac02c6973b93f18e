"""The documentation tells the truth: the docstrings' examples run and print what they
claim, and the README's tables, counts and pins agree with the code."""

from __future__ import annotations

import doctest
import fnmatch
import importlib
import importlib.metadata
import json
import keyword
import pkgutil
import re
import tomllib
from pathlib import Path

import pytest
import torch
from torch import nn

import xaiexit
import xaiexit.exits
import xaiexit.saliency
import xaiexit.segmentation
from xaiexit.models import EarlyExitCNN, SmallCNN

MODULES = [
    "xaiexit.saliency",
    "xaiexit.saliency.gradient",
    "xaiexit.saliency.smoothgrad",
    "xaiexit.saliency.integrated_gradients",
    "xaiexit.saliency.grad_cam",
    "xaiexit.saliency.occlusion",
    "xaiexit.saliency.heatmap",
    "xaiexit.saliency.metrics",
    "xaiexit.saliency.sanity",
    "xaiexit.saliency.evidence",
    "xaiexit.exits.rules",
    "xaiexit.exits.loss",
    "xaiexit.exits.inference",
    "xaiexit.exits.macs",
    "xaiexit.exits.oracle",
    "xaiexit.exits.calibration",
    "xaiexit.exits.thresholds",
    "xaiexit.exits.concentration",
    "xaiexit.exits.coherence",
    "xaiexit.exits.exit_saliency",
    "xaiexit.exits.saliency_rules",
    "xaiexit.exits.evaluation",
    "xaiexit.exits.intervals",
    "xaiexit.exits.digits_setting",
    "xaiexit.models.early_exit",
    "xaiexit.models.folding",
    "xaiexit.models.unet",
    "xaiexit.segmentation.weights",
    "xaiexit.segmentation.elastic",
    "xaiexit.segmentation.tiling",
    "xaiexit.segmentation.metrics",
    "xaiexit.segmentation.training",
    "xaiexit.data.touching_cells",
    "xaiexit.data.synthetic_pets",
    "xaiexit.stats",
]


@pytest.mark.parametrize("package", [xaiexit.saliency, xaiexit.exits, xaiexit.segmentation], ids=lambda p: p.__name__)
def test_every_module_with_examples_is_listed(package):
    found = {
        f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")
    }
    assert found <= set(MODULES), f"add {sorted(found - set(MODULES))} to MODULES"


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        result = doctest.testmod(
            module,
            extraglobs={"torch": torch, "nn": nn, "SmallCNN": SmallCNN, "EarlyExitCNN": EarlyExitCNN},
            optionflags=doctest.NORMALIZE_WHITESPACE,
        )
    finally:
        torch.set_num_threads(threads)
    assert result.attempted > 0 and result.failed == 0


# ---------------------------------------------------------------------------------------
# The README cannot drift from the code.

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
DOTTED_NAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


def _section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.S | re.M)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def _library_table() -> dict[str, list[str]]:
    """``{module: [the backticked spans of its row]}`` from the README's library table."""
    rows = re.findall(r"^\| `(xaiexit(?:\.\w+)*)` \| (.*) \|$", _section("The library"), re.M)
    return {module: re.findall(r"`([^`]+)`", text) for module, text in rows}


def api_name(span: str) -> str | None:
    """The Python name a backticked span of the library table refers to, or None.

    The rule: a quoted string (``"pets_cnn"``, ``"block1"``) is a value, not a name; a call
    (``load("pets_cnn")``, ``EarlyExitCNN.without_branches()``) names what is called; what
    is left must be a (dotted) Python name, anything else (``python -m ...``,
    ``exits["exit1"]``, ``572 -> 388``) is an example, not a name, and is not checked.
    """
    if span[:1] in "\"'":
        return None
    name = re.sub(r"\(.*\)$", "", span)
    if not DOTTED_NAME.fullmatch(name) or any(keyword.iskeyword(part) for part in name.split(".")):
        return None
    return name


def resolve(module: str, name: str):
    """``module.name`` by getattr, importing submodules on the way (``saliency.metrics``);
    a name starting with ``xaiexit.`` is resolved from the top."""
    parts = name.split(".")
    if parts[0] == "xaiexit":
        module, parts = "xaiexit", parts[1:]
    obj = importlib.import_module(module)
    for part in parts:
        if not hasattr(obj, part) and hasattr(obj, "__path__"):  # a package: maybe a submodule
            try:
                importlib.import_module(f"{obj.__name__}.{part}")
            except ModuleNotFoundError:
                pass
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize(
    "span, name",
    [
        ("SyntheticPets", "SyntheticPets"),
        ('load("pets_cnn")', "load"),
        ("EarlyExitCNN.without_branches()", "EarlyExitCNN.without_branches"),
        ("smoothgrad(model, x, target, **options)", "smoothgrad"),
        ('"pets_cnn"', None),
        ('"cells_unet_no_border*"', None),
        ('exits["exit1"]', None),
        ("python -m xaiexit.zoo train pets_cnn", None),
        ("xaiexit check", None),
        ("572 -> 388", None),
    ],
)
def test_the_rule_for_names_in_the_library_table(span, name):
    assert api_name(span) == name


def test_the_library_table_is_found():
    table = _library_table()
    assert {
        "xaiexit.data",
        "xaiexit.models",
        "xaiexit.saliency",
        "xaiexit.exits",
        "xaiexit.zoo",
        "xaiexit.segmentation",
    } <= set(table), sorted(table)
    checked = [name for spans in table.values() for name in map(api_name, spans) if name]
    assert len(checked) > 60, checked  # the parser reads the rows, not nothing


@pytest.mark.parametrize("module", sorted(_library_table()))
def test_every_name_in_the_library_table_imports_from_its_module(module):
    """Each name listed for a module in the README's table is importable from that module."""
    missing = []
    for span in _library_table()[module]:
        name = api_name(span)
        if name is None:
            continue
        try:
            resolve(module, name)
        except (AttributeError, ImportError) as exc:
            missing.append(f"`{span}` ({type(exc).__name__}: {exc})")
    assert not missing, f"README lists under {module} what it does not have: {'; '.join(missing)}"


def test_the_zoo_row_names_every_shipped_model_and_no_other():
    """The quoted model names of the zoo's row (``*`` as a wildcard) are its recipes, all of them."""
    from xaiexit import zoo

    patterns = [q for span in _library_table()["xaiexit.zoo"] for q in re.findall(r'"([^"]+)"', span)]
    unknown = [p for p in patterns if not fnmatch.filter(zoo.available(), p)]
    unlisted = [n for n in zoo.available() if not any(fnmatch.fnmatchcase(n, p) for p in patterns)]
    assert not unknown, f"README names zoo models that do not exist: {unknown}"
    assert not unlisted, f"README's zoo row does not name: {unlisted}"


def test_the_course_map_links_every_lesson():
    links = re.findall(r"\]\((lessons/[^)]+\.ipynb)\)", _section("Course map"))
    assert sorted(links) == sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("lessons/*/*.ipynb"))


def test_the_readme_counts_the_graded_exercises_right():
    """ "N to M graded exercises": the fewest and most code exercises of any lesson."""
    counts = {}
    for path in ROOT.glob("lessons/*/*.ipynb"):
        cells = json.loads(path.read_text())["cells"]
        counts[path.stem] = sum(
            c["cell_type"] == "code" and c["metadata"].get("nbgrader", {}).get("solution", False) for c in cells
        )
    assert counts, "no lesson notebooks in lessons/"
    claim = re.search(r"(\d+) to (\d+) graded exercises", README)
    assert claim, "README no longer says how many graded exercises a lesson has"
    assert (int(claim.group(1)), int(claim.group(2))) == (min(counts.values()), max(counts.values())), counts


def test_the_learner_reads_how_to_check_before_the_reference_material():
    """A learner's path (start, work, check) comes first; the library and the instructor's
    guide after it."""
    headings = re.findall(r"^## (.+)$", README, re.M)
    assert headings == ["Your path through a lesson", "Course map", "The library", "Commands", "For instructors"]
    path = _section("Your path through a lesson")
    assert "YOUR CODE HERE" in path and "xaiexit check 1" in path and "make check LESSON=1" in path
    assert ".venv/bin/xaiexit check 1" in path and "--course" in path


# ---------------------------------------------------------------------------------------
# Facts written once.


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_version_is_written_once():
    """pyproject.toml takes the version from ``xaiexit.__version__``; the installed metadata
    agrees (if not, reinstall: ``.venv/bin/pip install --no-deps -e .``)."""
    project = _pyproject()
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "xaiexit.__version__"}
    assert importlib.metadata.version("xaiexit") == xaiexit.__version__, (
        "the installed metadata is stale; reinstall with `.venv/bin/pip install --no-deps -e .`"
    )


def test_the_python_pin_is_the_same_everywhere():
    """environment.yml asks conda for the Python that pyproject.toml requires."""
    import yaml

    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    [python] = [d for d in env["dependencies"] if isinstance(d, str) and re.match(r"python\b", d)]
    assert python.replace(" ", "") == "python" + _pyproject()["project"]["requires-python"]


def test_the_readme_gives_the_grading_time_limit_the_config_sets():
    """ "(`--timeout`, default N s)": the per-cell limit autograder/nbgrader_config.py sets."""
    claim = re.search(r"\(`--timeout`, default (\d+) s\)", README)
    assert claim, "README no longer says how long a cell may run while graded"
    config = re.search(r"^c\.Execute\.timeout = (\d+)$", (ROOT / "autograder" / "nbgrader_config.py").read_text(), re.M)
    assert config and config.group(1) == claim.group(1)
