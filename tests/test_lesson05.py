"""Lesson 5's solutions are the library's references (the checks every lesson shares are in
test_lessons.py; that every catalogued mistake gets its own visible hint, in
test_visible_hints.py)."""

import math

import pytest
import torch

from xaiexit import exits

from course_helpers import LESSON5

pytestmark = pytest.mark.usefixtures("one_thread")


def test_solutions_equal_the_library():
    """The notebook's solutions are the library's references, numerically, edge cases included."""
    ns = LESSON5.solution_namespace()
    g = torch.Generator().manual_seed(0)
    maps = torch.rand(5, 9, 9, generator=g)
    maps[0] = 0.0
    maps[1, :4] = 0.0
    small = torch.rand(5, 4, 4, generator=g)
    assert torch.allclose(ns["cosine_similarity_maps"](maps, small).double(), exits.cosine_similarity_maps(maps, small))
    big = torch.rand(5, 16, 16, generator=g)
    assert torch.allclose(ns["ssim_maps"](big, maps).double(), exits.ssim_maps(big, maps), atol=1e-6)
    with pytest.raises(ValueError):
        ns["ssim_maps"](small, small)
    per_exit = [big, maps, small]
    for reference in ("previous", "final"):
        assert torch.allclose(
            ns["coherence_scores"](per_exit, reference=reference).double(),
            exits.coherence_scores(per_exit, reference=reference),
            atol=1e-6,
        )
    scores = torch.randint(0, 6, (40,), generator=g).float() / 5  # ties
    scores[:3] = -math.inf  # "never"
    correct = torch.rand(40, generator=g) < 0.7
    for target in (0.6, 0.8, 0.95, 1.0, 0.1 * 7):
        for surer in (True, False):
            s = scores if surer else -scores
            assert float(ns["choose_threshold"](s, correct, target, surer)) == exits.choose_threshold(
                s, correct, target, surer
            )
    assert ns["choose_threshold"](torch.zeros(0), torch.zeros(0, dtype=torch.bool), 0.9) == math.inf
