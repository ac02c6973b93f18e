"""Lesson 1's experiments run the learner's own functions (the reference only, with a note,
while an exercise still raises NotImplementedError), and the setup cell's helpers for them do
what the lesson says. The checks every lesson shares are in test_lessons.py; the visible tests'
hints in test_visible_hints.py."""

import re

import nbformat
import numpy as np
import pytest
import torch

from xaiexit import saliency
from xaiexit.saliency import metrics

from course_helpers import LESSON1, cells_by_id

#: the exercise functions and the references the experiments fall back to
REFERENCES = {
    "vanilla_gradient": "saliency.vanilla_gradient",
    "to_heatmap": "saliency.to_heatmap",
    "gradient_x_input": "saliency.gradient_x_input",
    "smoothgrad": "saliency.smoothgrad",
    "relevance_mass": "metrics.relevance_mass",
}


def _worked_cells() -> dict[str, str]:
    """grade_id -> source of every code cell that is neither an exercise nor its test."""
    nb = nbformat.read(LESSON1.source, as_version=4)
    return {
        gid: c.source
        for gid, c in cells_by_id(nb).items()
        if c.cell_type == "code" and not c.metadata["nbgrader"].get("solution") and not gid.endswith("_test")
    }


@pytest.fixture(scope="module")
def setup_namespace():
    """The setup cell, run as the notebook runs it (its helpers look up the learner's
    functions in this namespace)."""
    namespace = {"__name__": "__main__"}
    exec(cells_by_id(nbformat.read(LESSON1.source, as_version=4))["setup"].source, namespace)
    return namespace


@pytest.mark.parametrize("exercise", list(REFERENCES))
def test_the_experiments_call_the_learners_function_or_fall_back_with_a_note(exercise):
    """No worked or claim cell calls the library's version of an exercise directly, nor the
    learner's without the fallback: each goes through mine_or_reference(<reference>)."""
    reference = REFERENCES[exercise]
    using = []
    for gid, source in _worked_cells().items():
        code = re.sub(r"#.*", "", source)
        assert not re.search(rf"(?<![\w.]){exercise}\(", code), f"{gid} calls {exercise} without the fallback"
        direct = re.findall(rf"(mine_or_reference\()?\b{re.escape(reference)}\b", code)
        assert all(wrapped for wrapped in direct), f"{gid} calls the reference {reference} directly"
        using += [gid] * len(direct)
    assert "experiment" in using, f"the experiment does not use {exercise}: {using}"


def test_the_learners_function_is_used_when_written(setup_namespace, capsys):
    def mine(model, x, target):
        return torch.full_like(x, 7.0)

    setup_namespace["vanilla_gradient"] = mine
    gradient = setup_namespace["mine_or_reference"](saliency.vanilla_gradient)
    model, x = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 2)), torch.rand(2, 3, 2, 2)
    assert torch.equal(gradient(model, x, 1), torch.full_like(x, 7.0))
    assert "note" not in capsys.readouterr().out


def test_an_unwritten_function_falls_back_to_the_reference_with_one_note(setup_namespace, capsys):
    def mine(heatmap, mask):
        raise NotImplementedError()

    setup_namespace["relevance_mass"] = mine
    mass = setup_namespace["mine_or_reference"](metrics.relevance_mass)
    heat, mask = torch.rand(3, 4, 4), torch.rand(3, 4, 4) > 0.5
    for _ in range(2):
        assert torch.equal(mass(heat, mask), metrics.relevance_mass(heat, mask))
    out = capsys.readouterr().out
    assert out.count("note: your relevance_mass is not written yet") == 1, out
    assert "xaiexit.saliency.metrics.relevance_mass" in out
    del setup_namespace["relevance_mass"]  # never defined at all: the same fallback
    assert torch.equal(setup_namespace["mine_or_reference"](metrics.relevance_mass)(heat, mask), mass(heat, mask))


def test_other_errors_in_the_learners_function_are_not_hidden(setup_namespace):
    def mine(attr):
        raise ValueError("a bug of mine")

    setup_namespace["to_heatmap"] = mine
    with pytest.raises(ValueError, match="a bug of mine"):
        setup_namespace["mine_or_reference"](saliency.to_heatmap)(torch.rand(1, 3, 2, 2))


def test_the_bootstrap_interval_surrounds_the_mean_and_narrows_with_more_images(setup_namespace):
    mean_ci, bootstrap = setup_namespace["mean_ci"], setup_namespace["bootstrap"]
    rng = np.random.default_rng(1)
    few, many = rng.random(40), rng.random(4000)
    small, large = mean_ci(few), mean_ci(many)
    assert small.low < few.mean() < small.high and large.low < many.mean() < large.high
    assert small.estimate == pytest.approx(few.mean())
    assert (large.high - large.low) < (small.high - small.low) / 5  # about 1 / sqrt(100)
    assert mean_ci(few) == small  # seeded
    # two independent samples of constants: the difference is exact
    gap = bootstrap(lambda a, b: a - b, np.ones(30), np.zeros(70))
    assert (gap.estimate, gap.low, gap.high) == (1.0, 1.0, 1.0)
    # a 95 % interval of a mean of N(0, 1) values is about +-1.96 / sqrt(n) wide on each side
    normal = rng.standard_normal(2500)
    interval = mean_ci(normal)
    assert interval.high - interval.low == pytest.approx(2 * 1.96 / 50, rel=0.15)
