"""The set-up a new user relies on: package metadata, conda file, Makefile, JupyterLab."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from course_helpers import LabServer

ROOT = Path(__file__).resolve().parents[1]

# conda-forge names that differ from the PyPI names
CONDA_TO_PIP = {"pytorch": "torch"}


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _pip_requirements() -> dict[str, str]:
    project = _pyproject()["project"]
    reqs = list(project["dependencies"])
    for extra in ("course", "dev"):
        reqs += project["optional-dependencies"][extra]
    out: dict[str, str] = {}
    for line in reqs:
        req = Requirement(line)
        out[req.name.lower()] = str(req.specifier)
    return out


def _conda_requirements() -> tuple[dict[str, str], list]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out: dict[str, str] = {}
    pip_section = []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip_section = dep.get("pip", [])
            continue
        match = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", dep)
        name, spec = match.group(1).lower(), match.group(2).replace(" ", "")
        if name in ("python", "pip"):
            continue
        name = CONDA_TO_PIP.get(name, name)
        out[name] = str(Requirement(f"x{spec}").specifier)
    for line in pip_section:  # packages that conda-forge lacks come from PyPI through pip
        if not line.startswith("-"):
            req = Requirement(line)
            out[req.name.lower()] = str(req.specifier)
    return out, pip_section


def test_pyproject_declares_package_and_extras():
    project = _pyproject()["project"]
    assert project["name"] == "xaiexit"
    assert project["requires-python"] == ">=3.11"  # tomllib
    assert {"course", "dev"} <= set(project["optional-dependencies"])
    names = set(_pip_requirements())
    assert {"jupyterlab", "nbgrader", "ipywidgets", "matplotlib", "tqdm"} <= names
    assert {"pytest", "captum", "torchmetrics"} <= names


def test_torch_range_admits_the_pinned_pair_and_is_a_real_range():
    reqs = _pip_requirements()
    from packaging.specifiers import SpecifierSet

    torch_spec, vision_spec = SpecifierSet(reqs["torch"]), SpecifierSet(reqs["torchvision"])
    assert "2.14.1" in torch_spec and "0.29.1" in vision_spec
    # an honest range for other machines, not a pin
    assert "2.3.0" in torch_spec and "0.18.0" in vision_spec


def test_installed_torch_matches_the_declared_range():
    import torch
    import torchvision
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    reqs = _pip_requirements()
    assert Version(torch.__version__.split("+")[0]) in SpecifierSet(reqs["torch"])
    assert Version(torchvision.__version__.split("+")[0]) in SpecifierSet(reqs["torchvision"])


def test_environment_yml_lists_the_same_packages_as_pyproject():
    conda, pip_section = _conda_requirements()
    pip = _pip_requirements()
    assert conda == pip, (
        "environment.yml and pyproject.toml disagree; "
        f"only in conda: {sorted(set(conda.items()) - set(pip.items()))}, "
        f"only in pyproject: {sorted(set(pip.items()) - set(conda.items()))}"
    )
    assert "-e ." in pip_section, "environment.yml must install xaiexit itself with pip (-e .)"


def test_readme_starts_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    first_block = re.search(r"```(?:bash|sh)?\n(.*?)```", text, re.S).group(1).strip().splitlines()
    commands = [line for line in first_block if line and not line.startswith("#")]
    assert len(commands) == 2, commands
    assert commands[0].startswith("git clone") and commands[1] == "make lab"
    assert "make test" in text


def test_ci_runs_make_test():
    script = (ROOT / ".ci" / "run").read_text()
    assert "make lint" in script and "make test" in script and "set -e" in script
    assert os.access(ROOT / ".ci" / "run", os.X_OK)


def test_makefile_targets_create_the_venv_only_once():
    """`make -n` after the install must not plan a reinstall: the stamp is up to date."""
    out = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "pip install" not in out, f"make would reinstall on a second run:\n{out}"
    for target in ("lab", "test", "lint", "check", "release", "grade"):
        rule = subprocess.run(["make", "-n", "-B", target], cwd=ROOT, capture_output=True, text=True).stdout
        assert "pip install" in rule and "venv" in rule, f"make {target} does not create the venv:\n{rule}"


def test_course_targets_call_the_course_tool():
    def plan(*args):
        return subprocess.run(["make", "-n", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout

    assert ".venv/bin/xaiexit release" in plan("release")
    assert ".venv/bin/xaiexit check 2" in plan("check", "LESSON=2")
    assert ".venv/bin/xaiexit grade 1 in/ --workspace /w" in plan("grade", "SUBMISSIONS=in/", "WORKSPACE=/w")
    # JupyterLab's terminals find `xaiexit check` without activating the venv
    assert f'PATH="{ROOT}/.venv/bin:$PATH"' in plan("lab")
    # the solutions' hidden tests import the instructor's package only when asked for
    assert f'PYTHONPATH="{ROOT}/autograder' in plan("lab", "AUTOGRADER=1")
    assert "autograder" not in plan("lab")
    assert "tools/system-packages.sh" in plan("test")


def test_missing_system_packages_stop_make_test_with_the_command_to_run(tmp_path):
    """Without root and apt-get, tools/system-packages.sh names what to install and fails."""
    for tool in ("bash", "env"):
        (tmp_path / tool).symlink_to(shutil.which(tool))
    (tmp_path / "id").write_text("#!/bin/sh\necho 1000\n")  # not root
    (tmp_path / "id").chmod(0o755)
    result = subprocess.run(
        [str(ROOT / "tools" / "system-packages.sh")], env={"PATH": str(tmp_path)}, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "sudo apt-get install -y bubblewrap chromium" in result.stderr, result.stderr


@pytest.mark.slow
def test_make_lab_serves_jupyterlab_on_the_course(tmp_path):
    """`make lab` (the README's command) starts JupyterLab from the venv; /api/status answers 200."""
    jupyter = Path(sys.executable).with_name("jupyter")
    assert jupyter.exists(), f"{jupyter} missing: install the course extra (pip install -e '.[course]')"
    lab = LabServer(tmp_path)
    try:
        status = lab.wait_until_serving(timeout=600)  # returns as soon as it serves
        assert lab.process.poll() is None, f"make lab exited: {lab.log_tail()}"
        assert status is not None and status.status_code == 200
        assert "started" in status.json()
        page = lab.get("/lab")
        assert page.status_code == 200 and "JupyterLab" in page.text
        # the file browser is rooted at the course
        contents = lab.get("/api/contents").json()
        assert "README.md" in {item["name"] for item in contents["content"]}
        lesson = lab.get("/api/contents/lessons/01_gradient_saliency/01_gradient_saliency.ipynb")
        assert lesson.status_code == 200 and lesson.json()["type"] == "notebook"
    finally:
        lab.stop()


def test_make_test_keeps_each_graded_class_on_one_worker(tmp_path):
    """`make test` runs pytest-xdist with --dist loadgroup so that the tests reading one graded
    class run on one worker (the class is graded once); this breaks silently with pytest 9."""
    (tmp_path / "test_groups.py").write_text(
        "import os, pytest\n"
        "CLASSES = [pytest.param(i, marks=pytest.mark.xdist_group(f'class{i}')) for i in range(2)]\n"
        "@pytest.fixture(scope='module', params=CLASSES)\n"
        "def graded(request):\n"
        "    return request.param\n"
        "@pytest.mark.parametrize('k', range(4))\n"
        "def test_reads(graded, k):\n"
        "    with open(f'class{graded}.{os.environ[\"PYTEST_XDIST_WORKER\"]}', 'w'):\n"
        "        pass\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    workers = {name: sorted(p.suffix for p in tmp_path.glob(f"{name}.gw*")) for name in ("class0", "class1")}
    assert all(len(found) == 1 for found in workers.values()), f"a class was read on several workers: {workers}"
