"""The hidden tests run in the grader and call the learner's functions in a kernel
(xaiexit_grading.remote). Through that proxy every check must say exactly what it says
in-process, and nothing the kernel sends back may be more than plain data."""

import contextlib
import json
import os
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from jupyter_client.manager import start_new_kernel

from xaiexit_grading import GradingError
from xaiexit_grading.references import redacted_package, references
from xaiexit_grading.remote import KernelLink, RemoteFunction
from xaiexit_grading.reply import RemoteFailure

from course_helpers import LESSON1, LESSONS, ROOT, cells_by_id

pytestmark = pytest.mark.usefixtures("one_thread")


@contextlib.contextmanager
def started_kernel(folder: Path, lesson=None):
    """A kernel with the test models on its path, linked to this process. With ``lesson``,
    it sees the package as the grading sandbox shows it: the lesson's exercises redacted."""
    path = [str(ROOT / "autograder")]
    if lesson is not None:
        path.insert(0, str(redacted_package(set(lesson.points), folder / "package").parent))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path), "OMP_NUM_THREADS": "1"}
    km, kc = start_new_kernel(kernel_name="python3", env=env)
    (folder / "exchange").mkdir()
    link = KernelLink(kc, folder / "exchange", timeout=60, alive=km.is_alive, interrupt=km.interrupt_kernel)
    if lesson is not None:
        link.references = references(set(lesson.points))
    try:
        link.start()
        yield link
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    with started_kernel(tmp_path_factory.mktemp("kernel")) as link:
        yield link


def define(link: KernelLink, source: str) -> None:
    """Run an answer cell in the kernel."""
    reply = link.client.execute_interactive(source, timeout=60, output_hook=lambda msg: None)
    assert reply["content"]["status"] == "ok", reply["content"]


def prepare(link: KernelLink, lesson) -> None:
    """The lesson's imports and given helper cells, as the notebook defines them."""
    nb = nbformat.read(lesson.source, as_version=4)
    setup = cells_by_id(nb)["setup"].source.splitlines()
    define(link, "import copy, math\n" + "\n".join(line for line in setup if line.startswith(("import ", "from "))))
    for gid, cell in cells_by_id(nb).items():
        if gid.endswith("_given"):
            define(link, cell.source)


def outcome(check, fn) -> str:
    try:
        check(fn)
    except GradingError as error:
        return str(error)
    return "passed"


def same_verdict(there: str, here: str) -> bool:
    """Equal, but for the learner's line the kernel's verdict may quote: a catalogued
    mistake called in-process lives in the grading package, whose lines are never quoted."""
    start = next((i for i, (a, b) in enumerate(zip(there, here)) if a != b), min(len(there), len(here)))
    inserted = there[start : start + len(there) - len(here)]
    return there[start + len(inserted) :] == here[start:] and (
        inserted == "" or re.fullmatch(r" \(in \w+, line \d+: .*\)", inserted) is not None
    )


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.name)
def test_every_check_says_through_the_kernel_what_it_says_in_process(tmp_path, lesson):
    """The solution passes, and every catalogued mistake gets the message it gets when the
    check calls it directly: same inputs, same random draws, same hygiene (Lessons 3 and 6
    also watch the model's forward passes; 1, 2, 5 and 6 swap in reference helpers, which the
    grader serves), with the kernel seeing the package as the sandbox shows it."""
    with started_kernel(tmp_path, lesson) as kernel:
        all_verdicts_agree(kernel, lesson)


def all_verdicts_agree(kernel: KernelLink, lesson) -> None:
    namespace = lesson.solution_namespace()
    prepare(kernel, lesson)
    for exercise, check in lesson.grading.CHECKS.items():
        define(kernel, lesson.solution_sources[exercise])
        assert outcome(check, RemoteFunction(kernel, exercise)) == "passed", exercise
        assert outcome(check, namespace[exercise]) == "passed", exercise
    for mistake in lesson.mistakes.CATALOGUE:
        define(kernel, lesson.mistake_source(mistake))
        here = outcome(lesson.grading.CHECKS[mistake.exercise], mistake.function)
        there = outcome(lesson.grading.CHECKS[mistake.exercise], RemoteFunction(kernel, mistake.exercise))
        assert same_verdict(there, here), (mistake.name, there, here)
        define(kernel, lesson.solution_sources[mistake.exercise])


def test_a_forged_answer_cannot_cross(kernel):
    """An object whose == always says yes, a tensor subclass that fakes comparisons and
    patched comparisons in the kernel: the grader sees plain values and names the types."""
    check = LESSON1.grading.check_to_heatmap
    yes = "class Yes:\n    def __eq__(self, other):\n        return True\n\n"
    define(kernel, yes + "def to_heatmap(a):\n    return Yes()")
    assert "must return a torch.Tensor, got Yes" in outcome(check, RemoteFunction(kernel, "to_heatmap"))
    define(
        kernel,
        "import torch\nclass Fake(torch.Tensor):\n    def __eq__(self, other):\n        return True\n"
        "torch.allclose = lambda *a, **k: True\n"
        "def to_heatmap(a):\n    return torch.zeros(a.shape[0], *a.shape[2:]).as_subclass(Fake)",
    )
    assert "subclass of torch.Tensor is not accepted" in outcome(check, RemoteFunction(kernel, "to_heatmap"))


def test_a_call_that_runs_too_long_is_interrupted_and_fails(kernel):
    define(kernel, "import time\n\ndef to_heatmap(a):\n    while True:\n        time.sleep(0.01)")
    kernel.timeout = 2
    try:
        message = outcome(LESSON1.grading.check_to_heatmap, RemoteFunction(kernel, "to_heatmap"))
    finally:
        kernel.timeout = 60
    assert message.startswith("to_heatmap ran longer than the grading time limit (2 s) and was stopped")
    define(kernel, "x = 1")  # the kernel is free again


def fake_reply(tmp_path: Path, data, arrays: dict) -> tuple:
    """A KernelLink.read of ``data`` and ``arrays`` written as a kernel would."""
    link = KernelLink(None, tmp_path, timeout=1, alive=lambda: True, interrupt=lambda: None)
    (tmp_path / "1.out.json").write_text(data if isinstance(data, str) else json.dumps(data))
    with open(tmp_path / "1.out.npz", "wb") as fh:
        np.savez(fh, **arrays)
    return link, str(tmp_path / "1")


def test_a_reply_is_read_as_plain_data_only(tmp_path):
    """A pickled object in the arrays, a malformed structure, an unknown dtype: each is
    refused with a message, never unpickled or guessed."""
    cases = [
        ({"returned": {"ndarray": "a0"}}, {"a0": np.array([object()], dtype=object)}),
        ({"returned": {"tensor": "a0", "dtype": "object"}}, {"a0": np.zeros(2)}),
        ({"returned": {"tensor": "missing", "dtype": "float32"}}, {}),
        ({"returned": {"surprise": 1}}, {}),
        ({"returned": {"list": "not a list"}}, {}),
        ("not json", {}),
        ([1, 2], {}),
        ({}, {}),
    ]
    for data, arrays in cases:
        link, base = fake_reply(tmp_path, data, arrays)
        with pytest.raises(RemoteFailure):
            link.read("f", base, (), {})


def test_a_reply_rebuilds_values_and_the_arguments_state(tmp_path):
    """Tensors (dtype, requires_grad), tuples, dicts and NumPy scalars come back as values;
    the arguments get the kernel's modes, gradients and values."""
    model, x = torch.nn.Sequential(torch.nn.Linear(2, 1)), torch.zeros(3)
    a1 = {"tensor": "a1", "dtype": "float32"}
    bias = {"value": a1, "requires_grad": False, "grad": a1}
    data = {
        "returned": {"tuple": [{"tensor": "a0", "dtype": "float64"}, {"numpy": "float32", "value": 0.5}, None]},
        "args": [
            {"module": {"training": {"": False, "0": False}, "params": {"0.bias": bias}}},
            {"tensor": {"value": {"tensor": "a2", "dtype": "float32"}, "requires_grad": True, "grad": None}},
        ],
    }
    arrays = {"a0": np.arange(3.0), "a1": np.array([7.0], dtype=np.float32), "a2": np.ones(3, dtype=np.float32)}
    link, base = fake_reply(tmp_path, data, arrays)
    out = link.read("f", base, (model, x), {})
    assert type(out) is tuple and out[0].dtype == torch.float64 and out[0].tolist() == [0.0, 1.0, 2.0]
    assert type(out[1]) is np.float32 and out[1] == 0.5 and out[2] is None
    assert not model.training and not model[0].training
    assert model[0].bias.item() == 7.0 and not model[0].bias.requires_grad and model[0].bias.grad.item() == 7.0
    assert x.tolist() == [1.0, 1.0, 1.0] and x.requires_grad
