"""EarlyExitCNN, Exit and SingleExit: shapes, names, shared weights, clear errors."""

import pytest
import torch
from torch import nn

from xaiexit.exits import early_exit_loss
from xaiexit.models import EarlyExitCNN, Exit, SingleExit


def _model(seed=0, **kwargs):
    torch.manual_seed(seed)
    config = dict(in_channels=1, num_classes=3, widths=(4, 8, 8, 16), exits_after=(1, 3), branch_width=4)
    config.update(kwargs)
    return EarlyExitCNN(**config).eval()


def _x(n=5, channels=1, size=32, seed=1):
    return torch.randn(n, channels, size, size, generator=torch.Generator().manual_seed(seed))


def test_one_logits_tensor_per_exit():
    model = _model()
    out = model(_x())
    assert isinstance(out, list) and len(out) == 3 == model.num_exits
    assert [tuple(z.shape) for z in out] == [(5, 3)] * 3
    assert model.exit_blocks == (1, 3, 4)
    # any size that survives the four poolings
    assert [tuple(z.shape) for z in model(_x(2, size=16))] == [(2, 3)] * 3
    # every block halves the resolution and has its width
    h = _x()
    for i, block in enumerate(model.features, start=1):
        h = block(h)
        assert tuple(h.shape) == (5, model.widths[i - 1], 32 // 2**i, 32 // 2**i)
    only_final = _model(exits_after=())
    assert only_final.num_exits == 1 and len(only_final(_x())) == 1


def test_named_blocks_exits_and_exit_feature_maps():
    model = _model()
    for i in range(1, 5):
        assert model.get_submodule(f"features.block{i}") is model.features[i - 1]
    for k in range(1, 4):
        head = model.get_submodule(f"exits.exit{k}")
        assert isinstance(head, Exit)
        assert model.get_submodule(f"exits.exit{k}.conv") is head.conv
    # side exits: strided conv 3x3 -> BN -> ReLU; the final exit classifies the last block directly
    conv = model.get_submodule("exits.exit1.conv")[0]
    assert isinstance(conv, nn.Conv2d) and conv.kernel_size == (3, 3) and conv.stride == (2, 2)
    assert (conv.in_channels, conv.out_channels) == (4, 4)  # after block1 (width 4), branch_width 4
    assert model.get_submodule("exits.exit2.conv")[0].in_channels == 8  # after block3
    assert isinstance(model.get_submodule("exits.exit3.conv"), nn.Identity)
    assert model.get_submodule("exits.exit3.classifier").in_features == 16


@torch.no_grad()
def test_each_exit_is_its_head_on_the_blocks_before_it():
    model, x = _model(), _x()
    out = model(x)
    for k, block in enumerate(model.exit_blocks):
        expected = model.exits[f"exit{k + 1}"](model.features[:block](x))
        torch.testing.assert_close(out[k], expected, rtol=0, atol=0)


@torch.no_grad()
def test_without_branches_is_the_final_exit_and_shares_weights():
    model, x = _model(), _x()
    backbone = model.without_branches()
    torch.testing.assert_close(backbone(x), model(x)[-1], rtol=0, atol=0)
    # no side-exit parameter in it, and every parameter it has is the model's own tensor
    model_params = {id(p) for p in model.parameters()}
    assert {id(p) for p in backbone.parameters()} <= model_params
    side = {id(p) for k in (1, 2) for p in model.exits[f"exit{k}"].parameters()}
    assert not side & {id(p) for p in backbone.parameters()}
    # changing the model changes the backbone
    model.exits.exit3.classifier.bias += 1.0
    torch.testing.assert_close(backbone(x), model(x)[-1], rtol=0, atol=0)


@torch.no_grad()
@pytest.mark.parametrize("k", [0, 1, 2, -1, -3])
def test_single_exit_is_that_exit(k):
    model, x = _model(), _x()
    torch.testing.assert_close(SingleExit(model, k)(x), model(x)[k], rtol=0, atol=0)


@torch.no_grad()
def test_single_exit_runs_only_the_blocks_it_needs():
    model, x = _model(), _x()
    ran = []
    for i, block in enumerate(model.features, start=1):
        block.register_forward_hook(lambda m, a, o, i=i: ran.append(i))
    SingleExit(model, 0)(x)
    assert ran == [1]
    ran.clear()
    SingleExit(model, 1)(x)
    assert ran == [1, 2, 3]


def test_single_exit_rejects_an_exit_that_does_not_exist():
    model = _model()
    for bad in (3, 7, -4):
        with pytest.raises(ValueError, match="0 to 2"):
            SingleExit(model, bad)


@pytest.mark.parametrize("exits_after", [(2, 1), (1, 1), (0,), (4,), (1, 5), (-1,)])
def test_bad_exits_after_names_the_fix(exits_after):
    with pytest.raises(ValueError, match=r"increasing block numbers between 1 and 3"):
        EarlyExitCNN(widths=(4, 8, 8, 16), exits_after=exits_after)


def test_bad_widths_and_inputs_name_the_fix():
    with pytest.raises(ValueError, match="widths"):
        EarlyExitCNN(widths=())
    model = _model()
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        model(torch.zeros(2, 3, 32, 32))
    with pytest.raises(ValueError, match="unsqueeze"):
        model(torch.zeros(1, 32, 32))
    with pytest.raises(ValueError, match="at least 16x16"):
        model(torch.zeros(1, 1, 8, 8))


def test_joint_loss_reaches_every_parameter():
    model = _model().train()
    x, y = _x(8), torch.arange(8) % 3
    early_exit_loss(model(x), y).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_deterministic_init_under_a_seed():
    a, b = _model(seed=3), _model(seed=3)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
