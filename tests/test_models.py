import pytest
import torch

from xaiexit.models import SmallCNN


def test_shapes_and_named_blocks():
    model = SmallCNN(in_channels=3, num_classes=5, widths=(8, 16, 32, 32))
    assert model(torch.zeros(2, 3, 64, 64)).shape == (2, 5)
    assert [n for n, _ in model.features.named_children()] == ["block1", "block2", "block3", "block4"]
    assert model.block3 is model.features.block3
    assert model.get_submodule("features.block2") is model.block2
    # block i halves the resolution i times
    feats = model.features[:2](torch.zeros(1, 3, 64, 64))
    assert feats.shape == (1, 16, 16, 16)


def test_grey_input_and_any_size_that_survives_pooling():
    model = SmallCNN(in_channels=1, num_classes=2, widths=(4, 8, 8))
    assert model(torch.zeros(3, 1, 25, 25)).shape == (3, 2)
    assert model(torch.zeros(1, 1, 8, 8)).shape == (1, 2)


def test_bad_input_names_the_fix():
    model = SmallCNN()
    with pytest.raises(ValueError, match="unsqueeze"):
        model(torch.zeros(3, 64, 64))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        model(torch.zeros(1, 1, 64, 64))
    with pytest.raises(ValueError, match="at least 8x8"):
        model(torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match="widths"):
        SmallCNN(widths=())
    with pytest.raises(AttributeError):
        _ = model.block9


def test_deterministic_init_under_a_seed():
    torch.manual_seed(0)
    a = SmallCNN()
    torch.manual_seed(0)
    b = SmallCNN()
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_runs_on_every_available_device(device):
    model = SmallCNN().to(device)
    assert model(torch.zeros(2, 3, 64, 64, device=device)).device.type == device
