"""Every saliency method agrees with Captum on the same model, input and settings."""

import captum.attr as captum_attr  # noqa: E402
import pytest
import torch
from torch import nn

from xaiexit.models import SmallCNN  # noqa: E402
from xaiexit.saliency import (  # noqa: E402
    completeness_gap,
    grad_cam,
    gradient_x_input,
    integrated_gradients,
    occlusion,
    smoothgrad,
    vanilla_gradient,
)

RTOL = 1e-5


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, and it keeps timing stable on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_model(num_classes: int, seed: int = 0) -> nn.Module:
    """A small seeded SmallCNN in eval mode, with non-trivial batch-norm statistics."""
    torch.manual_seed(seed)
    model = SmallCNN(num_classes=num_classes, widths=(8, 16, 32))
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    return model.eval()


def make_images(batch: int, size: int = 32, seed: int = 1) -> torch.Tensor:
    """Images in [0, 1] whose value range is exactly 1 in every sample."""
    x = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))
    x[:, 0, 0, 0] = 0.0
    x[:, 0, 0, 1] = 1.0
    return x


def close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    """Relative agreement to 1e-5; the absolute floor only covers values near zero."""
    torch.testing.assert_close(actual, expected, rtol=RTOL, atol=1e-6 * expected.abs().max().item() + 1e-12)


@pytest.fixture(params=[2, 5], ids=["2-class", "5-class"])
def setup(request):
    num_classes = request.param
    model = make_model(num_classes)
    x = make_images(3)
    target = torch.tensor([0, 1, num_classes - 1])
    return model, x, target


@pytest.mark.parametrize("abs_", [True, False])
def test_vanilla_gradient_matches_saliency(setup, abs_):
    model, x, target = setup
    expected = captum_attr.Saliency(model).attribute(x, target=target, abs=abs_)
    close(vanilla_gradient(model, x, target, abs=abs_), expected)


def test_gradient_x_input_matches_input_x_gradient(setup):
    model, x, target = setup
    expected = captum_attr.InputXGradient(model).attribute(x, target=target)
    close(gradient_x_input(model, x, target), expected)


@pytest.mark.parametrize(
    "rule", ["gausslegendre", "riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle"]
)
def test_integrated_gradients_matches_every_rule(setup, rule):
    model, x, target = setup
    expected = captum_attr.IntegratedGradients(model).attribute(x, target=target, n_steps=12, method=rule)
    if rule == "riemann_trapezoid":
        # Captum weighs the 12 trapezoid points 1/12 instead of h = 1/11 (see path_rule)
        expected = expected * 12 / 11
    close(integrated_gradients(model, x, target, steps=12, rule=rule), expected)


def test_integrated_gradients_matches_with_nonzero_baseline_and_delta(setup):
    model, x, target = setup
    baseline = torch.full((1, 3, 32, 32), 0.5)
    baseline[..., :8] = -0.25
    expected, delta = captum_attr.IntegratedGradients(model).attribute(
        x, baselines=baseline, target=target, n_steps=20, return_convergence_delta=True
    )
    attr, gap = integrated_gradients(model, x, target, baseline=baseline, steps=20, return_gap=True)
    close(attr, expected)
    # Captum's delta is the same completeness gap; compare it on the scale of the scores.
    torch.testing.assert_close(gap, delta.to(gap.dtype), rtol=1e-4, atol=1e-5)


def test_integrated_gradients_float_baseline(setup):
    model, x, target = setup
    expected = captum_attr.IntegratedGradients(model).attribute(x, baselines=0.3, target=target, n_steps=10)
    close(integrated_gradients(model, x, target, baseline=0.3, steps=10), expected)


@pytest.mark.parametrize("kind", ["smoothgrad", "smoothgrad_sq", "vargrad"])
@pytest.mark.parametrize("abs_", [True, False])
def test_smoothgrad_matches_noise_tunnel_with_the_same_noise(setup, kind, abs_):
    # Captum draws all B * n noise samples in one torch.normal call from the global
    # generator, copy i belonging to sample i // n, with an absolute stdev. Our noise
    # is relative: sigma = noise * (max - min) per sample, and every image here has
    # range exactly 1, so sigma = noise. Re-seeding before each call gives both sides
    # identical draws.
    model, x, target = setup
    noise, n = 0.2, 8
    torch.manual_seed(1234)
    expected = captum_attr.NoiseTunnel(captum_attr.Saliency(model)).attribute(
        x, nt_type=kind, nt_samples=n, stdevs=noise, target=target, abs=abs_
    )
    torch.manual_seed(1234)
    actual = smoothgrad(model, x, target, n=n, noise=noise, kind=kind, abs=abs_)
    close(actual, expected)


def test_smoothgrad_generator_gives_the_same_noise_as_the_seeded_global_one():
    model, x, target = make_model(2), make_images(2), 1
    torch.manual_seed(7)
    expected = captum_attr.NoiseTunnel(captum_attr.Saliency(model)).attribute(
        x, nt_type="smoothgrad", nt_samples=5, stdevs=0.1, target=target
    )
    actual = smoothgrad(model, x, target, n=5, noise=0.1, generator=torch.Generator().manual_seed(7))
    close(actual, expected)


@pytest.mark.parametrize("layer", ["block3", "block2"])
def test_grad_cam_matches_layer_grad_cam(setup, layer):
    model, x, target = setup
    module = getattr(model, layer)
    cam = captum_attr.LayerGradCam(model, module).attribute(x, target=target, relu_attributions=True)
    expected = captum_attr.LayerAttribution.interpolate(cam, (32, 32), "bilinear")[:, 0]
    close(grad_cam(model, x, target, layer=layer), expected)


def test_grad_cam_raw_map_matches_without_relu_and_upsampling(setup):
    model, x, target = setup
    expected = captum_attr.LayerGradCam(model, model.block3).attribute(x, target=target)[:, 0]
    actual = grad_cam(model, x, target, layer=model.block3, relu=False, upsample=False)
    assert actual.shape == (3, 4, 4)
    close(actual, expected)


@pytest.mark.parametrize("window,stride", [(8, 4), (6, 4), (5, 5)])
def test_occlusion_matches_captum(setup, window, stride):
    # (6, 4) leaves a last window that sticks out of the 32-pixel image.
    model, x, target = setup
    expected = captum_attr.Occlusion(model).attribute(
        x, sliding_window_shapes=(3, window, window), strides=(3, stride, stride), target=target, baselines=0.0
    )
    close(occlusion(model, x, target, window=window, stride=stride, batch_size=len(x)), expected)


def test_occlusion_matches_captum_with_rectangular_window_and_baseline():
    model, x, target = make_model(2), make_images(2), torch.tensor([1, 0])
    expected = captum_attr.Occlusion(model).attribute(
        x, sliding_window_shapes=(3, 4, 8), strides=(3, 2, 4), target=target, baselines=0.5
    )
    close(occlusion(model, x, target, window=(4, 8), stride=(2, 4), baseline=0.5, batch_size=len(x)), expected)


COMPLETENESS_BASELINES = {
    # ours, Captum's start_point
    "zeros": (None, 0.0),
    "float": (0.3, 0.3),
    "(C, H, W)": (
        torch.linspace(-0.5, 0.5, 3 * 32 * 32, dtype=torch.float64).view(3, 32, 32),
        torch.linspace(-0.5, 0.5, 3 * 32 * 32, dtype=torch.float64).view(1, 3, 32, 32),
    ),
}


@pytest.mark.parametrize("baselines", COMPLETENESS_BASELINES.values(), ids=COMPLETENESS_BASELINES.keys())
@pytest.mark.parametrize("method", ["integrated_gradients", "gradient_x_input"])
def test_completeness_gap_is_captums_convergence_delta(setup, method, baselines):
    # Captum's compute_convergence_delta is sum_i A_i - (F(end_point) - F(start_point)):
    # the same sign as ours, attributions minus the score change (positive when the
    # attributions overshoot). Any attributions will do: two-point left-Riemann IG and
    # gradient x input both leave a real gap on this ReLU network. In float64 the two
    # differ only by the order of the sums.
    model, x, target = setup
    model, x = model.double(), x.double()
    ours, start_point = baselines
    if method == "integrated_gradients":
        attr = integrated_gradients(model, x, target, baseline=ours, steps=2, rule="riemann_left")
    else:
        attr = gradient_x_input(model, x, target)
    delta = captum_attr.IntegratedGradients(model).compute_convergence_delta(
        attr, start_point=start_point, end_point=x, target=target
    )
    gap = completeness_gap(model, x, target, attr, ours)
    assert gap.shape == (3,) and gap.dtype == torch.float64
    torch.testing.assert_close(gap, delta, rtol=1e-9, atol=1e-12)
    assert delta.abs().max() > 1e-3
