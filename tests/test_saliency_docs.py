"""The examples in the saliency docstrings run and print what they claim."""
import doctest
import importlib

import pytest
import torch
from torch import nn

from xaiexit.models import SmallCNN

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
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        result = doctest.testmod(
            module,
            extraglobs={"torch": torch, "nn": nn, "SmallCNN": SmallCNN},
            optionflags=doctest.NORMALIZE_WHITESPACE,
        )
    finally:
        torch.set_num_threads(threads)
    assert result.attempted > 0 and result.failed == 0
