"""Concentration (entropy, inertia) and coherence (cosine, SSIM) of saliency maps, checked
against hand cases, scipy and scikit-image."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import entropy as scipy_entropy
from skimage.measure import moments_central
from skimage.metrics import structural_similarity

from xaiexit.exits import (
    coherence_scores,
    cosine_similarity_maps,
    moment_of_inertia,
    normalize_maps,
    resize_to_common,
    spatial_entropy,
    ssim_maps,
)


def _maps(*shape, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def _blob(size, centres, radius=1):
    m = torch.zeros(1, size, size)
    for r, c in centres:
        m[0, r - radius : r + radius + 1, c - radius : c + radius + 1] = 1.0
    return m


# --- spatial entropy ------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(2, 2), (8, 8), (5, 12)])
def test_entropy_of_a_delta_is_0_and_of_a_uniform_map_is_1(size):
    delta = torch.zeros(1, *size)
    delta[0, -1, 1] = 3.0
    assert spatial_entropy(delta).item() == 0.0
    assert spatial_entropy(torch.full((1, *size), 0.2)).item() == pytest.approx(1.0, abs=1e-12)


def test_entropy_equals_scipy_normalised_by_log_of_the_pixel_count():
    maps = _maps(4, 6, 7)
    maps[0, :3] = 0.0  # zero pixels contribute 0
    expected = [scipy_entropy(m.flatten().numpy().astype(np.float64)) / math.log(42) for m in maps]
    assert spatial_entropy(maps).numpy() == pytest.approx(expected, rel=1e-12)


def test_entropy_is_blind_to_scale_and_one_blob_is_below_two():
    maps = _maps(3, 8, 8)
    assert torch.allclose(spatial_entropy(maps), spatial_entropy(7.5 * maps))
    one, two = _blob(16, [(4, 4)]), _blob(16, [(4, 4), (11, 11)])
    assert spatial_entropy(one) < spatial_entropy(two)
    # twice the pixels, same weight: ln 18 vs ln 9 over ln 256
    assert spatial_entropy(two).item() == pytest.approx(math.log(18) / math.log(256))


def test_entropy_of_an_all_zero_map_is_that_of_a_uniform_map():
    assert spatial_entropy(torch.zeros(2, 4, 4)).tolist() == [1.0, 1.0]


@pytest.mark.parametrize("measure", [spatial_entropy, moment_of_inertia])
def test_bad_maps_are_refused_with_the_fix(measure):
    with pytest.raises(ValueError, match="positive part"):
        measure(torch.tensor([[[1.0, -0.5]]]))
    with pytest.raises(ValueError, match=r"\(B, H, W\)"):
        measure(torch.rand(8, 8))
    with pytest.raises(ValueError, match="nan"):
        measure(torch.tensor([[[1.0, float("nan")]]]))
    with pytest.raises(ValueError, match="single pixel"):
        measure(torch.ones(2, 1, 1))


# --- moment of inertia -----------------------------------------------------------------------


def test_inertia_equals_scikit_image_central_moments_scaled_to_the_unit_square():
    maps = _maps(3, 9, 13, seed=2)
    for m, value in zip(maps, moment_of_inertia(maps)):
        mu = moments_central(m.numpy().astype(np.float64), order=2)  # pixel units, (row, col)
        expected = (mu[2, 0] / 9**2 + mu[0, 2] / 13**2) / mu[0, 0]
        assert value.item() == pytest.approx(expected, rel=1e-10)


def test_inertia_hand_cases():
    point = torch.zeros(1, 8, 8)
    point[0, 1, 6] = 1.0
    assert moment_of_inertia(point).item() == 0.0
    H, W = 6, 10
    uniform = moment_of_inertia(torch.ones(1, H, W)).item()
    assert uniform == pytest.approx((1 - 1 / H**2) / 12 + (1 - 1 / W**2) / 12)
    corners = torch.zeros(1, 8, 8)
    corners[0, 0, 0] = corners[0, 7, 7] = 1.0  # centres 7/8 apart in y and in x
    assert moment_of_inertia(corners).item() == pytest.approx(2 * (7 / 16) ** 2)


def test_inertia_is_about_the_centroid_so_it_does_not_change_when_the_blob_moves():
    near_corner, centred = _blob(16, [(3, 3)]), _blob(16, [(8, 8)])
    assert moment_of_inertia(near_corner).item() == pytest.approx(moment_of_inertia(centred).item())
    one, two = _blob(16, [(4, 4)]), _blob(16, [(4, 4), (11, 11)])
    assert moment_of_inertia(one) < moment_of_inertia(two)
    # resolution-free: the same picture at twice the resolution has nearly the same inertia
    fine = F.interpolate(two[None], scale_factor=2, mode="nearest")[0]
    assert moment_of_inertia(fine).item() == pytest.approx(moment_of_inertia(two).item(), rel=0.02)


# --- cosine and SSIM -------------------------------------------------------------------------


def test_cosine_of_a_map_with_itself_is_1_and_matches_torch_on_flattened_maps():
    a, b = _maps(4, 8, 8, seed=3), _maps(4, 8, 8, seed=4)
    assert torch.allclose(cosine_similarity_maps(a, a), torch.ones(4, dtype=torch.float64))
    assert torch.allclose(cosine_similarity_maps(a, 3 * a), torch.ones(4, dtype=torch.float64))
    expected = F.cosine_similarity(a.flatten(1).double(), b.flatten(1).double(), dim=1)
    assert torch.allclose(cosine_similarity_maps(a, b), expected)


def test_cosine_of_disjoint_maps_is_0_and_a_zero_map_scores_0_not_nan():
    left = torch.zeros(1, 4, 4)
    left[0, :, :2] = 1.0
    assert cosine_similarity_maps(left, 1 - left).item() == 0.0
    assert cosine_similarity_maps(torch.zeros(1, 4, 4), left).item() == 0.0


def test_maps_of_different_resolutions_are_resized_bilinearly_to_the_larger_one():
    a, b = _maps(3, 8, 8, seed=5), _maps(3, 4, 4, seed=6)
    up = F.interpolate(b.double()[:, None], size=(8, 8), mode="bilinear", align_corners=False)[:, 0]
    ra, rb = resize_to_common(a, b)
    assert torch.equal(ra, a.double()) and torch.allclose(rb, up)
    expected = F.cosine_similarity(a.flatten(1).double(), up.flatten(1), dim=1)
    assert torch.allclose(cosine_similarity_maps(a, b), expected)
    assert torch.allclose(cosine_similarity_maps(b, a), expected)  # symmetric
    with pytest.raises(ValueError, match="same samples"):
        cosine_similarity_maps(_maps(3, 4, 4), _maps(2, 4, 4))


@pytest.mark.parametrize("shapes", [((9, 9), (9, 9)), ((16, 16), (8, 8)), ((12, 7), (12, 7))])
def test_ssim_equals_scikit_image_map_by_map(shapes):
    a, b = _maps(3, *shapes[0], seed=7), _maps(3, *shapes[1], seed=8)
    b[0] = 0.0  # a flat map: only the constants keep the ratio finite
    ours = ssim_maps(a, b)
    ra, rb = resize_to_common(a, b)
    for k in range(3):
        expected = structural_similarity(ra[k].numpy(), rb[k].numpy(), data_range=1.0, win_size=7)
        assert ours[k].item() == pytest.approx(expected, abs=1e-10)
    assert torch.allclose(ssim_maps(a, a), torch.ones(3, dtype=torch.float64))


def test_ssim_refuses_maps_smaller_than_its_window_and_says_how_to_fix_it():
    with pytest.raises(ValueError, match="upsample"):
        ssim_maps(_maps(2, 4, 4), _maps(2, 4, 4))


def test_normalize_maps_scales_each_map_to_a_maximum_of_1():
    maps = _maps(3, 5, 5) * torch.tensor([1.0, 10.0, 0.0])[:, None, None]
    out = normalize_maps(maps)
    assert out.flatten(1).amax(1).tolist() == [1.0, 1.0, 0.0]


# --- coherence across exits ------------------------------------------------------------------


def test_coherence_scores_pair_each_exit_with_the_previous_or_the_final_exit():
    maps = [_maps(5, 8, 8, seed=10), _maps(5, 4, 4, seed=11), _maps(5, 4, 4, seed=12), _maps(5, 2, 2, seed=13)]
    previous, final = coherence_scores(maps), coherence_scores(maps, reference="final")
    assert previous.shape == final.shape == (3, 5)
    for j in range(3):
        assert torch.equal(previous[j], cosine_similarity_maps(maps[j + 1], maps[j]))
        assert torch.equal(final[j], cosine_similarity_maps(maps[j], maps[-1]))
    ssim = coherence_scores(maps[:2], similarity=lambda a, b: ssim_maps(normalize_maps(a), normalize_maps(b)))
    assert ssim.shape == (1, 5)
    with pytest.raises(ValueError, match="previous"):
        coherence_scores(maps, reference="next")
    with pytest.raises(ValueError, match="at least 2"):
        coherence_scores(maps[:1])
