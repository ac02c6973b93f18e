"""Lesson 4's solutions are the library's references (the checks every lesson shares are in
test_lessons.py; that every catalogued mistake gets its own visible hint, in
test_visible_hints.py)."""

import math

import pytest
import torch

from xaiexit import exits

from course_helpers import LESSON4

pytestmark = pytest.mark.usefixtures("one_thread")


def test_solutions_equal_the_library():
    """The notebook's solutions are the library's references, numerically, edge cases included."""
    ns = LESSON4.solution_namespace()
    g = torch.Generator().manual_seed(0)
    maps = torch.rand(5, 9, 9, generator=g)
    maps[0] = 0.0
    maps[1, :4] = 0.0
    for name in ("spatial_entropy", "moment_of_inertia"):
        assert torch.allclose(ns[name](maps).double(), getattr(exits, name)(maps), atol=1e-6)
    scores = torch.randint(0, 6, (40,), generator=g).float() / 5  # ties
    scores[:3] = -math.inf  # "never"
    correct = torch.rand(40, generator=g) < 0.7
    for surer in (True, False):
        s = scores if surer else -scores
        assert float(ns["auroc"](s, correct, surer)) == pytest.approx(exits.auroc(s, correct, surer), abs=1e-12)
    for positive in (torch.ones(4, dtype=torch.bool), torch.zeros(4, dtype=torch.bool)):
        assert math.isnan(ns["auroc"](torch.rand(4), positive))
