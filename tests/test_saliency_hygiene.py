"""Methods leave the model and the input as they found them and fail with clear messages."""

import pytest
import torch
from torch import nn

from xaiexit.models import SmallCNN
from xaiexit.saliency import (
    grad_cam,
    gradient_x_input,
    integrated_gradients,
    occlusion,
    smoothgrad,
    vanilla_gradient,
)

METHODS = {
    "vanilla_gradient": lambda m, x, t: vanilla_gradient(m, x, t),
    "gradient_x_input": lambda m, x, t: gradient_x_input(m, x, t),
    "smoothgrad": lambda m, x, t: smoothgrad(m, x, t, n=3, generator=torch.Generator().manual_seed(0)),
    "integrated_gradients": lambda m, x, t: integrated_gradients(m, x, t, steps=4),
    "grad_cam": lambda m, x, t: grad_cam(m, x, t),
    "occlusion": lambda m, x, t: occlusion(m, x, t, window=8, stride=8),
}


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_model(num_classes: int = 3, dropout: float = 0.0) -> nn.Module:
    torch.manual_seed(0)
    return SmallCNN(num_classes=num_classes, widths=(4, 8, 8), dropout=dropout)


def make_images(batch: int = 2) -> torch.Tensor:
    return torch.rand(batch, 3, 16, 16, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", METHODS)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_model_mode_is_restored(name, mode):
    model = make_model()
    model.train(mode == "train")
    METHODS[name](model, make_images(), 0)
    assert all(module.training == (mode == "train") for module in model.modules())


@pytest.mark.parametrize("name", METHODS)
def test_mixed_mode_is_restored_per_module(name):
    model = make_model().train()
    model.block2.eval()
    METHODS[name](model, make_images(), 0)
    assert model.training and model.block1.training and not model.block2.training


@pytest.mark.parametrize("name", METHODS)
def test_computes_in_eval_mode(name):
    # Dropout 0.9 and batch norm would change the result in train mode.
    model = make_model(dropout=0.9).train()
    x = make_images()
    in_train = METHODS[name](model, x, 1)
    in_eval = METHODS[name](model.eval(), x, 1)
    torch.testing.assert_close(in_train, in_eval)


@pytest.mark.parametrize("name", METHODS)
def test_parameters_get_no_gradient_and_flags_are_restored(name):
    model = make_model()
    params = list(model.parameters())
    params[0].requires_grad_(False)  # a frozen layer must stay frozen
    params[1].grad = torch.full_like(params[1], 7.0)  # an existing .grad must stay as it is
    METHODS[name](model, make_images(), 0)
    assert not params[0].requires_grad
    assert all(p.requires_grad for p in params[1:])
    torch.testing.assert_close(params[1].grad, torch.full_like(params[1], 7.0))
    assert all(p.grad is None for i, p in enumerate(params) if i != 1)


@pytest.mark.parametrize("name", METHODS)
def test_input_is_not_modified(name):
    x = make_images().requires_grad_(True)
    before = x.detach().clone()
    out = METHODS[name](make_model(), x, 0)
    torch.testing.assert_close(x.detach(), before, rtol=0, atol=0)
    assert x.grad is None
    assert not out.requires_grad


@pytest.mark.parametrize("name", METHODS)
def test_model_state_is_restored_after_an_error(name):
    model = make_model().train()
    with pytest.raises(ValueError):
        METHODS[name](model, make_images(), 99)
    assert model.training and all(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("name", METHODS)
def test_target_int_tensor_and_none_agree(name):
    model, x = make_model().eval(), make_images(3)
    predicted = model(x).argmax(dim=1)
    from_tensor = METHODS[name](model, x, predicted)
    torch.testing.assert_close(METHODS[name](model, x, None), from_tensor)
    single = METHODS[name](model, x, 2)
    torch.testing.assert_close(single, METHODS[name](model, x, torch.tensor([2, 2, 2])))
    torch.testing.assert_close(single, METHODS[name](model, x, torch.tensor(2)))


@pytest.mark.parametrize("name", METHODS)
def test_output_shape_and_dtype(name):
    x = make_images(3)
    out = METHODS[name](make_model(), x, 0)
    assert out.shape == ((3, 16, 16) if name == "grad_cam" else x.shape)
    assert out.dtype == x.dtype and out.device == x.device


@pytest.mark.parametrize("name", METHODS)
def test_errors_name_the_problem_and_the_fix(name):
    model, x = make_model(), make_images(2)
    method = METHODS[name]
    with pytest.raises(ValueError, match=r"unsqueeze\(0\)"):
        method(model, x[0], 0)
    with pytest.raises(ValueError, match="out of range.*between 0 and 2"):
        method(model, x, 3)
    with pytest.raises(ValueError, match="out of range"):
        method(model, x, torch.tensor([0, -1]))
    with pytest.raises(ValueError, match=r"holds 2 samples.*\(2,\)"):
        method(model, x, torch.tensor([0, 1, 2]))
    with pytest.raises(TypeError, match="integer class indices"):
        method(model, x, torch.tensor([0.0, 1.0]))
    with pytest.raises(TypeError, match="floating-point"):
        method(model, (x * 255).to(torch.uint8), 0)


def test_option_errors():
    model, x = make_model(), make_images(2)
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        integrated_gradients(model, x, 0, steps=0)
    with pytest.raises(ValueError, match="unknown rule"):
        integrated_gradients(model, x, 0, rule="simpson")
    with pytest.raises(ValueError, match="does not broadcast"):
        integrated_gradients(model, x, 0, baseline=torch.zeros(5, 5))
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        integrated_gradients(model, x, 0, batch_size=0)
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        smoothgrad(model, x, 0, n=0)
    with pytest.raises(ValueError, match="unknown kind"):
        smoothgrad(model, x, 0, kind="smoothgrad2")
    with pytest.raises(ValueError, match="noise must be >= 0"):
        smoothgrad(model, x, 0, noise=-0.1)
    with pytest.raises(ValueError, match="larger than the image"):
        occlusion(model, x, 0, window=32)
    with pytest.raises(ValueError, match="never be occluded"):
        occlusion(model, x, 0, window=4, stride=5)
    with pytest.raises(ValueError, match="window must be an integer >= 1"):
        occlusion(model, x, 0, window=0)


def test_grad_cam_layer_lookup():
    model, x = make_model(), make_images(2)
    by_short_name = grad_cam(model, x, 0, layer="block2")
    torch.testing.assert_close(grad_cam(model, x, 0, layer="features.block2"), by_short_name)
    torch.testing.assert_close(grad_cam(model, x, 0, layer=model.features.block2), by_short_name)
    with pytest.raises(ValueError, match=r"no layer named 'block9'.*features\.block3"):
        grad_cam(model, x, 0, layer="block9")
    with pytest.raises(ValueError, match="ambiguous"):
        grad_cam(model, x, 0, layer="0")  # features.block1.0, features.block2.0, ...


def test_grad_cam_finds_layer4_on_resnet18():
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=4).eval()
    x = torch.rand(1, 3, 64, 64)
    cam = grad_cam(model, x, 1, layer="layer4")
    assert cam.shape == (1, 64, 64) and (cam >= 0).all()
    raw = grad_cam(model, x, 1, layer="layer4", relu=False, upsample=False)
    assert raw.shape == (1, 2, 2)


def test_grad_cam_survives_an_inplace_relu_after_the_layer():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)
    ).eval()
    x = make_images(2)
    cam = grad_cam(model, x, 1, layer="0", relu=False, upsample=False)
    # by hand: the ReLU gate decides which activations reach the average pool
    activation = model[0](x).detach()
    grad = (activation > 0).float() * model[4].weight[1].detach().view(1, 4, 1, 1) / (16 * 16)
    torch.testing.assert_close(cam, (grad.mean(dim=(2, 3), keepdim=True) * activation).sum(dim=1))


def test_batch_size_does_not_change_the_result():
    model, x = make_model().eval(), make_images(3)
    target = torch.tensor([0, 1, 2])
    scale = model(x).abs().max().item()  # scores differ in the last bits between batch sizes
    big = integrated_gradients(model, x, target, steps=10)
    torch.testing.assert_close(integrated_gradients(model, x, target, steps=10, batch_size=4), big)
    torch.testing.assert_close(integrated_gradients(model, x, target, steps=10, batch_size=1), big)
    big = occlusion(model, x, target, window=4, stride=2)
    torch.testing.assert_close(
        occlusion(model, x, target, window=4, stride=2, batch_size=2), big, atol=1e-6 * scale, rtol=1e-4
    )
    torch.testing.assert_close(
        occlusion(model, x, target, window=4, stride=2, batch_size=7), big, atol=1e-6 * scale, rtol=1e-4
    )
    # 3 * 16 * 16 is a multiple of 16, so torch's CPU generator gives the same noise
    # whether it is drawn in one piece or chunk by chunk.
    for kind in ["smoothgrad", "vargrad"]:
        big = smoothgrad(model, x, target, n=5, kind=kind, generator=torch.Generator().manual_seed(3))
        small = smoothgrad(model, x, target, n=5, kind=kind, batch_size=4, generator=torch.Generator().manual_seed(3))
        torch.testing.assert_close(small, big)


def test_default_chunks_follow_the_memory_budget():
    from xaiexit.saliency._common import CHUNK_BUDGET, default_batch_size

    assert default_batch_size(torch.zeros(1, 3, 64, 64)) == CHUNK_BUDGET // (3 * 64 * 64)
    assert default_batch_size(torch.zeros(1, 3, 4096, 4096)) == 1
