"""Batch norm folding and the CPU-inference copy compute exactly the model's function."""

import pytest
import torch
from torch import nn

from xaiexit.models import EarlyExitCNN, SmallCNN, fold_batchnorm, for_cpu_inference


def _with_batchnorm_statistics(model: nn.Module) -> nn.Module:
    """Running statistics and affine parameters far from their defaults, so folding matters."""
    torch.manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.2, 3)
            module.weight.data.uniform_(0.5, 2)
            module.bias.data.uniform_(-1, 1)
    return model.eval()


def _outputs(model, x):
    out = model(x)
    return out if isinstance(out, list) else [out]


@pytest.mark.parametrize(
    "build", [lambda: SmallCNN(widths=(8, 16)), lambda: EarlyExitCNN(widths=(8, 16, 16), exits_after=(1,))]
)
def test_folding_keeps_the_function_and_leaves_the_model_alone(build):
    model = _with_batchnorm_statistics(build())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(4, 3, 32, 32)
    folded = fold_batchnorm(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    for a, b in zip(_outputs(folded, x), _outputs(model, x)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    fast = for_cpu_inference(model)
    assert all(m.inplace for m in fast.modules() if isinstance(m, nn.ReLU))
    assert all(
        m.weight.is_contiguous(memory_format=torch.channels_last) for m in fast.modules() if isinstance(m, nn.Conv2d)
    )
    with torch.no_grad():
        fast_out = _outputs(fast, x.contiguous(memory_format=torch.channels_last))
    for a, b in zip(fast_out, _outputs(model, x)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not any(m.inplace for m in model.modules() if isinstance(m, nn.ReLU))


def test_a_batchnorm_not_after_a_convolution_is_kept():
    model = nn.Sequential(nn.BatchNorm2d(3), nn.Conv2d(3, 4, 3)).eval()
    folded = fold_batchnorm(model)
    assert isinstance(folded[0], nn.BatchNorm2d)
