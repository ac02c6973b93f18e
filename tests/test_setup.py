"""The set-up a new user relies on: package metadata, conda file, Makefile, JupyterLab."""
from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import requests
import yaml
from packaging.requirements import Requirement

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
    return out, pip_section


def test_pyproject_declares_package_and_extras():
    project = _pyproject()["project"]
    assert project["name"] == "xaiexit"
    assert project["requires-python"] == ">=3.10"
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
    assert "make test" in script and "set -e" in script
    assert os.access(ROOT / ".ci" / "run", os.X_OK)


def test_makefile_targets_create_the_venv_only_once():
    """`make -n` after the install must not plan a reinstall: the stamp is up to date."""
    out = subprocess.run(
        ["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "pip install" not in out, f"make would reinstall on a second run:\n{out}"
    for target in ("lab", "test", "check", "release", "grade"):
        rule = subprocess.run(["make", "-n", "-B", target], cwd=ROOT, capture_output=True, text=True).stdout
        assert "pip install" in rule and "venv" in rule, f"make {target} does not create the venv:\n{rule}"


def test_course_targets_call_the_course_tool():
    plan = lambda *args: subprocess.run(["make", "-n", *args], cwd=ROOT, capture_output=True,  # noqa: E731
                                        text=True, check=True).stdout
    assert ".venv/bin/xaiexit release" in plan("release")
    assert ".venv/bin/xaiexit check 2" in plan("check", "LESSON=2")
    assert ".venv/bin/xaiexit grade 1 in/ --workspace /w" in plan("grade", "SUBMISSIONS=in/", "WORKSPACE=/w")
    # JupyterLab's terminals find `xaiexit check` without activating the venv
    assert f'PATH="{ROOT}/.venv/bin:$PATH"' in plan("lab")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_make_lab_serves_jupyterlab_on_the_course(tmp_path):
    """`make lab` (the README's command) starts JupyterLab from the venv; /api/status answers 200."""
    jupyter = Path(sys.executable).with_name("jupyter")
    assert jupyter.exists(), f"{jupyter} missing: install the course extra (pip install -e '.[course]')"
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(
        os.environ,
        JUPYTER_TOKEN=token,
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
    )
    server = subprocess.Popen(
        ["make", "lab", f"PORT={port}", "LAB_ARGS=--no-browser --ip=127.0.0.1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        deadline, status = time.monotonic() + 90, None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                status = requests.get(f"http://127.0.0.1:{port}/api/status", params={"token": token}, timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.5)
        assert server.poll() is None, f"make lab exited: {server.stderr.read().decode()[-2000:]}"
        assert status is not None and status.status_code == 200
        assert "started" in status.json()
        lab = requests.get(f"http://127.0.0.1:{port}/lab", params={"token": token}, timeout=10)
        assert lab.status_code == 200 and "JupyterLab" in lab.text
        # the file browser is rooted at the course
        contents = requests.get(f"http://127.0.0.1:{port}/api/contents", params={"token": token}, timeout=10).json()
        assert "README.md" in {item["name"] for item in contents["content"]}
        lesson = requests.get(f"http://127.0.0.1:{port}/api/contents/lessons/01_gradient_saliency/"
                              "01_gradient_saliency.ipynb", params={"token": token}, timeout=10)
        assert lesson.status_code == 200 and lesson.json()["type"] == "notebook"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
