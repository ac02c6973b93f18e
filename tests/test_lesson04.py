"""Lesson 4's solutions are the library's references (the checks every lesson shares
are in test_lessons.py)."""

import pytest

from course_helpers import LESSON4


def test_solutions_equal_the_library():
    """The notebook's solutions are the library's references, numerically."""
    import math

    import torch

    from xaiexit import exits

    ns = LESSON4.solution_namespace()
    g = torch.Generator().manual_seed(0)
    maps = torch.rand(5, 9, 9, generator=g)
    maps[0] = 0.0
    maps[1, :4] = 0.0
    small = torch.rand(5, 4, 4, generator=g)
    for name in ("spatial_entropy", "moment_of_inertia"):
        assert torch.allclose(ns[name](maps).double(), getattr(exits, name)(maps), atol=1e-6)
    assert torch.allclose(ns["cosine_similarity_maps"](maps, small).double(), exits.cosine_similarity_maps(maps, small))
    big = torch.rand(5, 16, 16, generator=g)
    assert torch.allclose(ns["ssim_maps"](big, maps).double(), exits.ssim_maps(big, maps), atol=1e-6)
    per_exit = [big, maps, small]
    for reference in ("previous", "final"):
        assert torch.allclose(
            ns["coherence_scores"](per_exit, reference=reference).double(),
            exits.coherence_scores(per_exit, reference=reference),
            atol=1e-6,
        )
    scores = torch.randint(0, 6, (40,), generator=g).float() / 5  # ties
    correct = torch.rand(40, generator=g) < 0.7
    for target in (0.6, 0.8, 0.95, 1.0):
        for surer in (True, False):
            ours = float(ns["choose_threshold"](scores, correct, target, surer))
            assert ours == exits.choose_threshold(scores, correct, target, surer)
    test_scores, test_correct = torch.rand(30, generator=g), torch.rand(30, generator=g) < 0.6
    got = ns["operating_point"](scores, correct, test_scores, test_correct, 0.8)
    want = exits.operating_point(scores, correct, test_scores, test_correct, 0.8)
    assert float(got[0]) == want.threshold and float(got[2]) == want.share
    assert float(got[1]) == pytest.approx(want.accuracy) or (math.isnan(float(got[1])) and math.isnan(want.accuracy))
