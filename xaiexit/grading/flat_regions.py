"""Hidden tests of Lesson 2 (where gradients go blind). PROVISIONAL: compares with the reference only."""
from __future__ import annotations

import copy

import torch

from xaiexit import saliency
from xaiexit.grading._checks import GradingError, assert_untampered, call, close, seeded
from xaiexit.models import SmallCNN
from xaiexit.saliency import sanity
from xaiexit.saliency.metrics import interior_border_split as _ibs

SEED = 20261126


def _cnn():
    return SmallCNN(widths=(6, 8), num_classes=3).eval()


def _simple(name, fn, reference, *args):
    assert_untampered()
    with seeded(SEED):
        out = call(fn, name, *[copy.deepcopy(a) for a in args])
        expected = reference(*[copy.deepcopy(a) for a in args])
        if not isinstance(out, torch.Tensor) or out.shape != expected.shape or not close(out.double(), expected.double()):
            raise GradingError(f"{name} gives a wrong result")


def check_integrated_gradients(fn):
    x = torch.rand(2, 3, 16, 16)
    _simple("integrated_gradients", fn,
            lambda m, x, t, b, s: saliency.integrated_gradients(m, x, t, b, s, rule="riemann_trapezoid"),
            _cnn(), x, 1, 0.5, 8)


def check_completeness_gap(fn):
    x = torch.rand(2, 3, 16, 16)
    _simple("completeness_gap", fn, saliency.completeness_gap, _cnn(), x, 1, torch.randn(2, 3, 16, 16), 0.0)


def check_occlusion(fn):
    x = torch.rand(2, 3, 16, 16)
    _simple("occlusion", fn, saliency.occlusion, _cnn(), x, 1, 4, 2, 0.0)


def check_interior_border_split(fn):
    mask = torch.zeros(2, 12, 12, dtype=torch.bool)
    mask[:, 2:10, 3:9] = True
    _simple("interior_border_split", fn, _ibs, torch.rand(2, 12, 12), mask, 1)


def check_spearman_rank_correlation(fn):
    _simple("spearman_rank_correlation", fn, sanity.spearman_rank_correlation,
            torch.randint(0, 4, (3, 20)).float(), torch.rand(3, 20))


def check_cascading_randomization(fn):
    x = torch.rand(2, 3, 16, 16)
    _simple("cascading_randomization", fn, sanity.cascading_randomization, _cnn(), x, 1, saliency.vanilla_gradient)


CHECKS = {
    "integrated_gradients": check_integrated_gradients,
    "completeness_gap": check_completeness_gap,
    "occlusion": check_occlusion,
    "interior_border_split": check_interior_border_split,
    "spearman_rank_correlation": check_spearman_rank_correlation,
    "cascading_randomization": check_cascading_randomization,
}
