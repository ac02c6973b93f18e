"""U-Net's weight map and loss, elastic augmentation, overlap-tile inference and the
segmentation metrics, against hand cases, scipy, scikit-image and torchmetrics."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage.metrics import adapted_rand_error as skimage_adapted_rand_error
from torchmetrics.classification import BinaryJaccardIndex, MulticlassJaccardIndex

from xaiexit.data import OxfordPets, SyntheticPets, TouchingCells, write_oxford_layout
from xaiexit.models import UNet
from xaiexit.segmentation import (
    adapted_rand_error,
    border_term,
    class_iou,
    dice,
    elastic_deform,
    elastic_field,
    iou,
    mirror_pad,
    overlap_tile_predict,
    pixel_error,
    warp,
    weight_map,
    weighted_cross_entropy,
    whole_image_predict,
)
from xaiexit.segmentation.metrics import separated_share, touching_pairs
from xaiexit.segmentation.tiling import mirror_index
from xaiexit.segmentation.training import (
    CellTrainingSet,
    TrimapTrainingSet,
    fit_unet,
    predict_masks,
    trimap_classes,
)


def _two_discs(gap=1, radius=5, size=(15, 30)):
    """Two discs side by side with ``gap`` background columns between their closest pixels."""
    yy, xx = np.mgrid[0 : size[0], 0 : size[1]]
    cy = size[0] // 2
    left_c = 2 + radius
    right_c = left_c + 2 * radius + 1 + gap
    labels = np.zeros(size, dtype=np.int64)
    labels[(yy - cy) ** 2 + (xx - left_c) ** 2 <= radius**2] = 1
    labels[(yy - cy) ** 2 + (xx - right_c) ** 2 <= radius**2] = 2
    return labels, cy, left_c + radius + 1


# --- the weight map -----------------------------------------------------------------------------


def test_golden_case_two_discs_one_pixel_apart():
    labels, row, gap_col = _two_discs(gap=1)
    assert labels[row, gap_col] == 0 and labels[row, gap_col - 1] == 1 and labels[row, gap_col + 1] == 2
    term = border_term(labels, w0=10, sigma=5)
    assert term[row, gap_col] == pytest.approx(10 * math.exp(-4 / 50))
    assert (term[labels > 0] == 0).all() and term.max() == pytest.approx(10 * math.exp(-4 / 50))


def test_one_cell_has_no_border_term():
    labels, _, _ = _two_discs()
    labels[labels == 2] = 0
    assert (border_term(labels) == 0).all()
    w = weight_map(labels)
    n, n_fg = labels.size, (labels > 0).sum()
    assert torch.allclose(w[torch.from_numpy(labels > 0)], torch.tensor(n / (2.0 * n_fg), dtype=torch.float32))


def test_border_term_equals_brute_force_distances_to_the_two_nearest_cells():
    rng = np.random.default_rng(0)
    labels = np.zeros((12, 14), dtype=np.int64)
    for k in range(1, 4):
        r, c = rng.integers(1, 10), rng.integers(1, 12)
        labels[r : r + 2, c : c + 3] = k
    coords = {k: np.argwhere(labels == k) for k in range(1, 4) if (labels == k).any()}
    expected = np.zeros(labels.shape)
    for (r, c), value in np.ndenumerate(labels):
        if value:
            continue
        d = sorted(np.sqrt(((pts - [r, c]) ** 2).sum(1)).min() for pts in coords.values())
        expected[r, c] = 10 * math.exp(-((d[0] + d[1]) ** 2) / (2 * 5**2))
    assert np.allclose(border_term(labels), expected)


def test_balanced_class_weights_give_both_classes_the_same_total():
    labels, _, _ = _two_discs()
    w = weight_map(labels, w0=0)
    fg = torch.from_numpy(labels > 0)
    assert w[fg].sum().item() == pytest.approx(w[~fg].sum().item())
    assert torch.equal(weight_map(labels, w0=0, class_weights=None), torch.ones(labels.shape))


def test_weight_map_refuses_bad_labels_with_the_fix():
    with pytest.raises(ValueError, match="image by image"):
        weight_map(np.zeros((2, 4, 4), dtype=int))
    with pytest.raises(ValueError, match="integers"):
        weight_map(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="class_weights"):
        weight_map(np.zeros((4, 4), dtype=int), class_weights="inverse")


def test_weighted_cross_entropy_is_the_weighted_mean_of_pixel_losses():
    g = torch.Generator().manual_seed(0)
    logits, target = torch.randn(2, 3, 5, 6, generator=g), torch.randint(0, 3, (2, 5, 6), generator=g)
    weights = torch.rand(2, 5, 6, generator=g)
    assert torch.allclose(weighted_cross_entropy(logits, target), F.cross_entropy(logits, target))
    p = torch.softmax(logits, dim=1).gather(1, target[:, None])[:, 0]
    assert torch.allclose(weighted_cross_entropy(logits, target, weights), (-weights * p.log()).mean())
    with pytest.raises(ValueError, match="center_crop"):
        weighted_cross_entropy(logits[..., :4, :4], target)


# --- elastic deformation ------------------------------------------------------------------------


def test_the_field_is_the_coarse_grid_interpolated_bicubically():
    field = elastic_field(33, 41, grid=3, sigma=10.0, generator=torch.Generator().manual_seed(1))
    coarse = torch.randn(1, 2, 3, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 10.0
    # align_corners: the 3x3 control points sit at the corners, edge middles and the centre
    assert torch.allclose(field[:, ::16, ::20], coarse[0].float(), atol=1e-4)
    draws = torch.stack([elastic_field(9, 9, generator=torch.Generator().manual_seed(s))[:, 0, 0] for s in range(400)])
    assert draws.std().item() == pytest.approx(10.0, rel=0.1)  # N(0, sigma) at a control point


def test_warp_with_zero_field_is_the_identity_and_a_shift_moves_by_whole_pixels():
    image = torch.rand(2, 10, 12)
    assert torch.allclose(warp(image, torch.zeros(2, 10, 12)), image, atol=1e-6)
    shift = torch.zeros(2, 10, 12)
    shift[1] = 2.0  # pull from two columns to the right
    assert torch.allclose(warp(image, shift)[:, :, :10], image[:, :, 2:], atol=1e-6)


def test_elastic_deform_keeps_mask_labels_and_moves_image_and_mask_together():
    cells = TouchingCells("test", n=1, size=64)
    image, labels = cells.images[0], cells.instances[0]
    g = lambda: torch.Generator().manual_seed(3)
    warped, warped_labels = elastic_deform(image, labels, generator=g())
    assert warped_labels.dtype == labels.dtype
    assert set(warped_labels.unique().tolist()) <= set(labels.unique().tolist())
    assert not torch.equal(warped_labels, labels)
    # the same field: the labels pushed through as an "image" with nearest land exactly on the mask
    as_image, _ = elastic_deform(labels[None].float(), labels, generator=g(), image_mode="nearest")
    assert torch.equal(as_image[0].long(), warped_labels)
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        elastic_deform(image, labels[None])


# --- overlap-tile --------------------------------------------------------------------------------


@pytest.mark.parametrize("n, before, after", [(5, 2, 3), (3, 7, 9), (1, 2, 2), (4, 0, 0)])
def test_mirror_index_matches_numpy_reflect_for_any_pad(n, before, after):
    expected = np.pad(np.arange(n), (before, after), mode="reflect" if n > 1 else "edge")
    assert mirror_index(n, before, after).tolist() == expected.tolist()
    image = torch.rand(1, n, n)
    assert mirror_pad(image, before, after, after, before).shape == (1, n + before + after, n + before + after)


@pytest.mark.parametrize("depth, tile, image_size", [(2, 92, (150, 170)), (4, 252, (160, 200))])
def test_overlap_tile_equals_whole_image_when_tiles_start_at_multiples_of_2_to_the_depth(depth, tile, image_size):
    """Exact in exact arithmetic; float64 keeps the rounding of two differently sized
    convolutions far below the tolerance."""
    torch.manual_seed(0)
    model = UNet(in_channels=1, num_classes=2, depth=depth, base_width=4).double().eval()
    image = torch.rand(1, *image_size, dtype=torch.float64)
    whole = whole_image_predict(model, image)
    tiled = overlap_tile_predict(model, image, tile)
    assert tiled.shape == (2, *image_size)
    assert (tiled - whole).abs().max().item() < 1e-5
    out = model.output_size(tile)
    seam = overlap_tile_predict(model, image, tile, stride=out)  # not a multiple of 2 ** depth
    if out % 2**depth:
        assert (seam - whole).abs().max().item() > 1e-4


def test_overlap_tile_refuses_a_padded_unet_and_gaps_between_tiles():
    with pytest.raises(ValueError, match="valid U-Net"):
        overlap_tile_predict(UNet(depth=2, base_width=2, padding=True), torch.rand(1, 64, 64), 64)
    model = UNet(depth=2, base_width=2)
    with pytest.raises(ValueError, match="gaps"):
        overlap_tile_predict(model, torch.rand(1, 100, 100), 92, stride=60)


# --- metrics --------------------------------------------------------------------------------------


def test_iou_and_dice_equal_torchmetrics_and_dice_is_2j_over_1_plus_j():
    g = torch.Generator().manual_seed(4)
    pred, target = torch.rand(3, 20, 20, generator=g) > 0.5, torch.rand(3, 20, 20, generator=g) > 0.4
    j = iou(pred, target)
    assert j == pytest.approx(BinaryJaccardIndex()(pred.long(), target.long()).item(), abs=1e-6)
    assert dice(pred, target) == pytest.approx(2 * j / (1 + j))
    empty = torch.zeros(4, 4)
    assert iou(empty, empty) == 1.0 and dice(empty, empty) == 1.0 and iou(empty, torch.ones(4, 4)) == 0.0


def test_adapted_rand_error_equals_scikit_image():
    rng = np.random.default_rng(5)
    truth = TouchingCells("val", n=1, size=64).instances[0].numpy()
    for seg in (rng.integers(0, 4, truth.shape), (truth > 0).astype(int), truth, np.where(truth == 2, 1, truth)):
        assert adapted_rand_error(seg, truth) == pytest.approx(skimage_adapted_rand_error(truth, seg), abs=1e-12)


def test_class_iou_with_the_border_ignored_equals_torchmetrics():
    g = torch.Generator().manual_seed(6)
    pred, target = torch.randint(0, 3, (4, 16, 16), generator=g), torch.randint(0, 3, (4, 16, 16), generator=g)
    ours = class_iou(pred, target, 3, ignore_index=2)
    assert math.isnan(ours[2])
    reference = MulticlassJaccardIndex(num_classes=3, ignore_index=2)(pred, target).item()
    assert torch.nanmean(ours).item() == pytest.approx(reference, abs=1e-6)
    assert pixel_error(torch.tensor([0, 1, 2, 2]), torch.tensor([0, 1, 1, 2])) == 0.25


def test_touching_pairs_are_kept_apart_only_by_a_predicted_border():
    labels, row, gap_col = _two_discs(gap=1)
    assert touching_pairs(labels) == [(1, 2)]
    assert separated_share(labels > 0, labels) == 1.0
    merged = labels > 0
    merged[row - 1 : row + 2, gap_col] = True  # a bridge across the gap
    assert separated_share(merged, labels) == 0.0
    assert math.isnan(separated_share(labels == 1, np.where(labels == 2, 0, labels)))


# --- data and training -----------------------------------------------------------------------------


def test_touching_cells_are_separated_by_background_and_deterministic():
    cells = TouchingCells("train", n=4, size=96)
    again = TouchingCells("train", n=2, size=96)
    assert torch.equal(cells.images[:2], again.images) and torch.equal(cells.instances[:2], again.instances)
    assert not torch.equal(TouchingCells("test", n=1, size=96).images[0], cells.images[0])
    for labels in cells.instances:
        ids = labels.unique()
        assert ids.tolist() == list(range(int(ids.max()) + 1))  # numbered 1..n
        for shifted in (labels[1:], labels[:, 1:]):
            here = labels[: shifted.shape[0], : shifted.shape[1]]
            assert not ((here > 0) & (shifted > 0) & (here != shifted)).any()  # no two cells 4-adjacent
    assert sum(len(touching_pairs(labels)) for labels in cells.instances) >= 4
    assert cells.images.min() >= 0 and cells.images.max() <= 1
    with pytest.raises(ValueError, match="split"):
        TouchingCells("training")


def test_training_sets_give_the_weights_of_the_loss():
    cells = TouchingCells("train", n=3, size=64)
    image, target, weights = CellTrainingSet(cells.images, cells.instances)[1]
    assert torch.equal(target, cells.masks[1]) and torch.equal(weights, weight_map(cells.instances[1]))
    _, aug_target, aug_weights = CellTrainingSet(cells.images, cells.instances, augment=True, seed=0)[1]
    assert aug_target.shape == aug_weights.shape == (64, 64)
    pets = SyntheticPets("test", n=3, size=64)
    _, classes, w = TrimapTrainingSet(pets.images, pets.trimaps)[0]
    assert torch.equal(classes, pets.trimaps[0].long() - 1) and torch.equal(w, (classes != 2).float())
    with pytest.raises(ValueError, match="1, 2, 3"):
        trimap_classes(torch.zeros(2, 2, dtype=torch.uint8))


@pytest.mark.slow
def test_a_small_unet_learns_touching_cells():
    cells = TouchingCells("train", n=8, size=64)
    model = UNet(in_channels=1, num_classes=2, depth=2, base_width=4)
    history = fit_unet(model, CellTrainingSet(cells.images, cells.instances), epochs=6, lr=5e-3, batch_size=4)
    assert history["train_loss"][-1] < history["train_loss"][0]
    predicted = predict_masks(model, cells.images)
    assert predicted.shape == cells.masks.shape and pixel_error(predicted, cells.masks) < 0.5


def test_the_oxford_layout_gives_trimap_targets_through_torchvision(tmp_path):
    train, test = SyntheticPets("train", n=4, size=64), SyntheticPets("test", n=3, size=64)
    write_oxford_layout(tmp_path, train, test)
    loaded = OxfordPets(tmp_path, split="test", size=64)
    data = TrimapTrainingSet(loaded.images, loaded.trimaps)
    _, classes, weights = data[2]
    assert torch.equal(classes, test.trimaps[2].long() - 1) and set(classes.unique().tolist()) == {0, 1, 2}


def test_warp_keeps_float64_and_a_too_small_tile_names_a_larger_one():
    image = torch.rand(1, 12, 12, dtype=torch.float64)
    assert warp(image, torch.zeros(2, 12, 12)).dtype == torch.float64
    with pytest.raises(ValueError, match="larger tile"):
        overlap_tile_predict(UNet(depth=4, base_width=2), torch.rand(1, 300, 300), 188)  # 188 -> 4 < 16
