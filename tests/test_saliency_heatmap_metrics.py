"""to_heatmap and the saliency metrics on small hand-computed cases."""

import math

import pytest
import torch

import xaiexit.saliency as saliency
from xaiexit.saliency import to_heatmap
from xaiexit.saliency.metrics import complexity_entropy, pointing_game, relevance_mass, sparseness_gini


def test_public_names():
    for name in [
        "vanilla_gradient",
        "gradient_x_input",
        "smoothgrad",
        "integrated_gradients",
        "grad_cam",
        "occlusion",
        "to_heatmap",
    ]:
        assert callable(getattr(saliency, name))
    assert saliency.metrics.sparseness_gini is sparseness_gini


# ---------------------------------------------------------------- to_heatmap
ATTR = torch.tensor([[[[1.0, -2.0]], [[-3.0, 0.5]]]])  # (1, 2, 1, 2): two channels, two pixels


@pytest.mark.parametrize(
    "reduce,expected",
    [
        ("max_abs", [3.0, 2.0]),
        ("sum_abs", [4.0, 2.5]),
        ("sum", [-2.0, -1.5]),
        ("l2", [math.sqrt(10.0), math.sqrt(4.25)]),
    ],
)
def test_to_heatmap_reductions(reduce, expected):
    heatmap = to_heatmap(ATTR, reduce=reduce, normalize=False)
    assert heatmap.shape == (1, 1, 2)
    torch.testing.assert_close(heatmap, torch.tensor([[expected]]))


def test_to_heatmap_normalizes_each_map_on_its_own():
    attr = torch.stack([torch.arange(4.0).view(1, 2, 2), 10 + 5 * torch.arange(4.0).view(1, 2, 2)])
    heatmap = to_heatmap(attr, reduce="sum")
    expected = torch.tensor([[0.0, 1 / 3], [2 / 3, 1.0]])
    torch.testing.assert_close(heatmap, torch.stack([expected, expected]))


def test_to_heatmap_constant_map_becomes_zeros():
    attr = torch.zeros(2, 3, 4, 4)
    attr[1] = 5.0
    heatmap = to_heatmap(attr)
    assert torch.isfinite(heatmap).all()
    torch.testing.assert_close(heatmap, torch.zeros(2, 4, 4))


def test_to_heatmap_on_a_map_only_normalizes():
    cam = torch.tensor([[[2.0, 4.0], [6.0, 10.0]]])
    torch.testing.assert_close(to_heatmap(cam), torch.tensor([[[0.0, 0.25], [0.5, 1.0]]]))
    torch.testing.assert_close(to_heatmap(cam, normalize=False), cam)


def test_to_heatmap_errors():
    with pytest.raises(ValueError, match="unknown reduce"):
        to_heatmap(ATTR, reduce="mean")
    with pytest.raises(ValueError, match="unsqueeze"):
        to_heatmap(torch.zeros(4, 4))


# ---------------------------------------------------------------- Gini
def test_gini_of_one_hot_and_constant():
    n = 100
    one_hot = torch.zeros(1, n)
    one_hot[0, 17] = 1.0
    gini = sparseness_gini(torch.cat([one_hot, torch.full((1, n), 0.3)]))
    torch.testing.assert_close(gini, torch.tensor([(n - 1) / n, 0.0]), atol=1e-5, rtol=0)


def test_gini_by_hand_uses_magnitudes_over_all_dims():
    # |a| sorted = (1, 2, 3, 6) (+1e-7): sum (2i - n - 1) a_i = -3*1 - 1*2 + 1*3 + 3*6 = 16;
    # n * sum a = 4 * 12 = 48, so G = 1/3.
    attr = torch.tensor([[[[3.0, -1.0]], [[-6.0, 2.0]]]])  # (1, 2, 1, 2)
    torch.testing.assert_close(sparseness_gini(attr), torch.tensor([1 / 3]))


# ---------------------------------------------------------------- entropy
def test_entropy_of_uniform_and_one_hot():
    n = 64
    one_hot = torch.zeros(1, 1, 8, 8)
    one_hot[0, 0, 3, 4] = -2.0
    entropy = complexity_entropy(torch.cat([torch.full((1, 1, 8, 8), -0.5), one_hot]))
    torch.testing.assert_close(entropy, torch.tensor([math.log(n), 0.0]))


def test_entropy_by_hand_and_bounds():
    # p = (1/4, 1/4, 1/2): H = 2 * (1/4) ln 4 + (1/2) ln 2 = 1.5 ln 2
    torch.testing.assert_close(complexity_entropy(torch.tensor([[1.0, -1.0, 2.0]])), torch.tensor([1.5 * math.log(2)]))
    attr = torch.randn(5, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    entropy = complexity_entropy(attr)
    assert entropy.shape == (5,) and (entropy <= math.log(48) + 1e-6).all() and (entropy >= 0).all()
    assert complexity_entropy(torch.zeros(1, 4)).item() == 0.0


# ---------------------------------------------------------------- relevance mass and pointing game
MASK = torch.tensor([[[False, False, False], [False, True, True], [False, True, True]]])  # bottom-right 2x2


def test_relevance_mass_by_hand():
    heatmap = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, -3.0, 4.0]]])
    # |values| inside: 2 + 3 + 4 = 9 out of 10
    torch.testing.assert_close(relevance_mass(heatmap, MASK), torch.tensor([0.9]))
    # channels are summed after taking magnitudes: same answer when split over two channels
    split = torch.stack([heatmap / 2, -heatmap / 2], dim=1)
    torch.testing.assert_close(relevance_mass(split, MASK), torch.tensor([0.9]))
    assert relevance_mass(torch.zeros(1, 3, 3), MASK).item() == 0.0
    torch.testing.assert_close(relevance_mass(torch.ones(1, 3, 3), MASK), torch.tensor([4 / 9]))


def test_pointing_game_by_hand():
    inside = torch.tensor([[[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 5.0]]])
    outside = torch.tensor([[[5.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])
    hits = pointing_game(torch.cat([inside, outside]), MASK.expand(2, 3, 3))
    assert hits.dtype == torch.bool and hits.tolist() == [True, False]


def test_pointing_game_ties_use_the_first_maximum_in_row_major_order():
    tie = torch.tensor([[[0.0, 0.0, 0.0], [0.0, 0.0, 7.0], [7.0, 0.0, 0.0]]])  # (1, 2) in mask, (2, 0) not
    assert pointing_game(tie, MASK).tolist() == [True]
    flipped_mask = torch.tensor([[[False, False, False], [False, False, False], [True, False, False]]])
    assert pointing_game(tie, flipped_mask).tolist() == [False]
    assert pointing_game(torch.ones(1, 3, 3), MASK).tolist() == [False]  # first max is (0, 0)


def test_metric_shape_errors():
    with pytest.raises(ValueError, match=r"mask must be shaped like the map.*\(1, 3, 3\)"):
        relevance_mass(torch.zeros(1, 3, 3), torch.zeros(1, 4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask must be shaped"):
        pointing_game(torch.zeros(2, 3, 3), MASK)
    with pytest.raises(ValueError, match="unsqueeze"):
        pointing_game(torch.zeros(3, 3), MASK[0])
    with pytest.raises(ValueError, match="batch dimension"):
        sparseness_gini(torch.zeros(5))
