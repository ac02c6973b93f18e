"""Saliency methods on cases small enough to work out by hand."""

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
from xaiexit.saliency.integrated_gradients import path_rule


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def linear_model(seed: int = 0) -> nn.Module:
    """Logits = W x + b on a flattened 2x3x3 image, 4 classes."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(2 * 3 * 3, 4)).eval()


class Saturating(nn.Module):
    """y = 1 - ReLU(1 - (x1 + x2)), the saturation example of the DeepLIFT paper."""

    def forward(self, x):
        s = x.sum(dim=(1, 2, 3))
        return (1 - torch.relu(1 - s))[:, None]


class SmoothNet(nn.Module):
    """A small smooth network (tanh), where quadrature converges quickly."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.head = nn.Linear(6 * 8 * 8, 3)

    def forward(self, x):
        return self.head(torch.tanh(self.conv(x)).flatten(1))


def test_gradient_of_a_linear_model_is_the_weight_row():
    model = linear_model()
    x = torch.randn(2, 2, 3, 3, generator=torch.Generator().manual_seed(1))
    weight = model[1].weight.detach()
    target = torch.tensor([3, 1])
    expected = weight[target].view(2, 2, 3, 3)
    torch.testing.assert_close(vanilla_gradient(model, x, target, abs=False), expected)
    torch.testing.assert_close(vanilla_gradient(model, x, target), expected.abs())
    torch.testing.assert_close(gradient_x_input(model, x, target), expected * x)


def test_integrated_gradients_of_a_linear_model_is_exact():
    # The gradient is constant along the path, so IG = (x - x') * w for any rule.
    model = linear_model()
    x = torch.randn(2, 2, 3, 3, generator=torch.Generator().manual_seed(1))
    baseline = torch.full_like(x, 0.5)
    w = model[1].weight.detach()[2].view(1, 2, 3, 3)
    for rule in ["gausslegendre", "riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle"]:
        attr, gap = integrated_gradients(model, x, 2, baseline=baseline, steps=4, rule=rule, return_gap=True)
        torch.testing.assert_close(attr, (x - baseline) * w)
        torch.testing.assert_close(gap, torch.zeros(2), atol=1e-5, rtol=0)


def test_deeplift_saturation_example():
    # At x1 = x2 = 1: x1 + x2 = 2, 1 - 2 < 0, so the ReLU is off and the gradient is 0.
    # Along the path alpha * (1, 1) from 0, y = 2 alpha until alpha = 1/2, then 1;
    # dy/dx1 = 1 on the first half and 0 on the second, so IG_1 = 1 * 1/2 = 0.5 = IG_2,
    # which adds up to y(x) - y(0) = 1.
    model = Saturating()
    x = torch.ones(1, 2, 1, 1)
    torch.testing.assert_close(vanilla_gradient(model, x, 0, abs=False), torch.zeros_like(x))
    half = torch.full_like(x, 0.5)
    torch.testing.assert_close(integrated_gradients(model, x, 0, steps=50, rule="riemann_middle"), half)
    torch.testing.assert_close(integrated_gradients(model, x, 0, steps=50), half, atol=1e-6, rtol=0)


def test_integrated_gradients_completeness_gap_shrinks_with_steps():
    model = SmoothNet().eval()
    x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    change = (model(x) - model(torch.zeros_like(x)))[:, 1].abs().detach()
    gaps = [
        integrated_gradients(model, x, 1, steps=steps, rule="riemann_middle", return_gap=True)[1].abs()
        for steps in (2, 8, 32, 128)
    ]
    for coarse, fine in zip(gaps, gaps[1:]):
        assert (fine < coarse).all()
    assert (gaps[-1] < 1e-3 * change).all()
    _, gap = integrated_gradients(model, x, 1, steps=32, return_gap=True)  # Gauss-Legendre
    assert (gap.abs() < 1e-5 * change).all()


def test_integrated_gradients_completeness_on_small_cnn():
    # With its default batch norm (no shift) and bias-free convs, a fresh SmallCNN is
    # positively homogeneous, f(a x) = a f(x) + bias, so IG from zero would be exact
    # with any number of steps. Random batch-norm shifts make the path curved. A ReLU
    # network is piecewise linear, so the gap shrinks unevenly: compare batch totals.
    torch.manual_seed(0)
    model = SmallCNN(widths=(4, 8), num_classes=3).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.bias.uniform_(-0.5, 0.5)
                module.running_mean.uniform_(-0.5, 0.5)
    x = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    coarse = integrated_gradients(model, x, 2, steps=4, rule="riemann_middle", return_gap=True)[1].abs()
    fine = integrated_gradients(model, x, 2, steps=256, rule="riemann_middle", return_gap=True)[1].abs()
    assert fine.sum() < coarse.sum() / 4
    change = (model(x) - model(torch.zeros_like(x)))[:, 2].abs().detach()
    assert fine.sum() < 1e-2 * change.sum()


@pytest.mark.parametrize(
    "rule", ["gausslegendre", "riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle"]
)
def test_path_rules_integrate_a_line_exactly(rule):
    # Every rule gets the integral of 1 right; all but left/right also get int_0^1 a da = 1/2.
    alphas, weights = path_rule(rule, 10)
    assert alphas.shape == weights.shape == (10,)
    assert ((alphas >= 0) & (alphas <= 1)).all()
    torch.testing.assert_close(weights.sum(), torch.tensor(1.0, dtype=torch.float64))
    if rule in ("gausslegendre", "riemann_trapezoid", "riemann_middle"):
        torch.testing.assert_close((weights * alphas).sum(), torch.tensor(0.5, dtype=torch.float64), atol=1e-7, rtol=0)


def test_smoothgrad_without_noise_is_the_gradient():
    model = linear_model()
    x = torch.randn(2, 2, 3, 3)
    grad = vanilla_gradient(model, x, 1, abs=False)
    torch.testing.assert_close(smoothgrad(model, x, 1, n=3, noise=0.0, abs=False), grad)
    torch.testing.assert_close(smoothgrad(model, x, 1, n=3, noise=0.0, kind="smoothgrad_sq", abs=False), grad**2)
    torch.testing.assert_close(smoothgrad(model, x, 1, n=3, noise=0.0, kind="vargrad"), torch.zeros_like(x))


def test_smoothgrad_noise_is_relative_to_each_samples_range():
    # Gradient of a linear model does not depend on the input, so compare the noise by
    # looking at what the model sees: an identity "model" summing one pixel.
    class PixelModel(nn.Module):
        def forward(self, x):
            return x[:, :, 0, 0].sum(dim=1, keepdim=True) ** 2  # d/dx00 = 2 * x00

    x = torch.zeros(2, 1, 4, 4)
    x[0, 0, 3, 3] = 1.0  # range 1
    x[1, 0, 3, 3] = 10.0  # range 10
    gen = torch.Generator().manual_seed(0)
    var = smoothgrad(PixelModel(), x, 0, n=4000, noise=0.1, kind="vargrad", abs=False, generator=gen)
    # grad = 2 * noise at pixel (0, 0), so its variance is 4 * sigma^2 with sigma = 0.1 * range.
    torch.testing.assert_close(var[:, 0, 0, 0], torch.tensor([0.04, 4.0]), rtol=0.1, atol=0)


def test_grad_cam_of_a_global_pool_linear_head_by_hand():
    # logits = W mean_ij(A) => dS/dA_kij = W_ck / (h w), alpha_k = W_ck / (h w),
    # raw cam = sum_k W_ck A_k / (h w).
    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Identity()
            self.fc = nn.Linear(2, 3, bias=False)

        def forward(self, x):
            return self.fc(self.features(x).mean(dim=(2, 3)))

    model = Head().eval()
    x = torch.randn(1, 2, 4, 4)
    w = model.fc.weight.detach()[1]
    expected = (w.view(1, 2, 1, 1) * x).sum(dim=1) / 16
    cam = grad_cam(model, x, 1, layer="features", relu=False, upsample=False)
    torch.testing.assert_close(cam, expected)
    torch.testing.assert_close(grad_cam(model, x, 1, layer="features", upsample=False), expected.clamp(min=0))


def test_occlusion_of_a_linear_model_by_hand():
    # With a linear score, hiding a patch drops the score by the patch's contribution
    # sum_{p in patch} w_p x_p. With window = stride = 1 each pixel has its own patch
    # covering all channels, so attr[c, i, j] = sum_c' w_c'ij x_c'ij for every c.
    model = linear_model()
    x = torch.randn(1, 2, 3, 3)
    w = model[1].weight.detach()[0].view(1, 2, 3, 3)
    expected = (w * x).sum(dim=1, keepdim=True).expand(1, 2, 3, 3)
    torch.testing.assert_close(occlusion(model, x, 0, window=1, stride=1), expected)


def test_occlusion_averages_over_the_windows_covering_a_pixel():
    # Score = sum of all pixels; a 2x2 window hides 4 ones, so every window drops the
    # score by 4 and every pixel's average is 4, wherever it lies.
    class Sum(nn.Module):
        def forward(self, x):
            return x.sum(dim=(1, 2, 3))[:, None]

    attr = occlusion(Sum(), torch.ones(1, 1, 5, 5), 0, window=2, stride=1)
    torch.testing.assert_close(attr, torch.full((1, 1, 5, 5), 4.0))
