"""The examples in the library's docstrings run and print what they claim."""
import doctest
import importlib
import pkgutil

import pytest
import torch
from torch import nn

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
    "xaiexit.models.early_exit",
    "xaiexit.models.folding",
    "xaiexit.models.unet",
    "xaiexit.segmentation.weights",
    "xaiexit.segmentation.elastic",
    "xaiexit.segmentation.tiling",
    "xaiexit.segmentation.metrics",
    "xaiexit.segmentation.training",
    "xaiexit.data.touching_cells",
]


@pytest.mark.parametrize("package", [xaiexit.saliency, xaiexit.exits, xaiexit.segmentation], ids=lambda p: p.__name__)
def test_every_module_with_examples_is_listed(package):
    found = {f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")}
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
