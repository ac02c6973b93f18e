"""SyntheticPets: determinism, ground truth, and factors that do what they say."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from xaiexit.data import SyntheticPets
from xaiexit.data._shapes import dilate, erode
from xaiexit.data.synthetic_pets import (
    FACTOR_NAMES,
    MIN_SIZE,
    band_radius,
    difficulty_from_factors,
    trimap_from_mask,
)

EASY = {name: 0.0 for name in FACTOR_NAMES}


@pytest.fixture(scope="module")
def pets() -> SyntheticPets:
    return SyntheticPets("train", n=400, size=64, seed=0)


def _correlation(a, b) -> float:
    return float(np.corrcoef(np.asarray(a, dtype=float), np.asarray(b, dtype=float))[0, 1])


# --- determinism ------------------------------------------------------------------------


def test_same_arguments_give_identical_tensors(pets):
    again = SyntheticPets("train", n=400, size=64, seed=0)
    for name in ("images", "labels", "masks", "trimaps", "difficulty"):
        assert torch.equal(getattr(pets, name), getattr(again, name)), name
    for name in FACTOR_NAMES:
        assert torch.equal(pets.factors[name], again.factors[name])


def test_prefix_does_not_depend_on_n(pets):
    small = SyntheticPets("train", n=10, size=64, seed=0)
    assert torch.equal(small.images, pets.images[:10])
    assert torch.equal(small.trimaps, pets.trimaps[:10])


@pytest.mark.parametrize("other", [dict(split="train", seed=1), dict(split="val", seed=0), dict(split="test", seed=0)])
def test_other_seed_or_split_gives_other_data(pets, other):
    different = SyntheticPets(n=20, size=64, **other)
    assert not torch.equal(different.images, pets.images[:20])
    # no image is shared at all: each split/seed is its own random stream
    distances = torch.cdist(different.images.flatten(1), pets.images.flatten(1))
    assert distances.min() > 1.0


# --- shapes, dtypes, ranges ---------------------------------------------------------------


def test_shapes_dtypes_ranges(pets):
    n, s = 400, 64
    assert pets.images.shape == (n, 3, s, s) and pets.images.dtype == torch.float32
    assert 0.0 <= pets.images.min() and pets.images.max() <= 1.0
    assert pets.labels.shape == (n,) and pets.labels.dtype == torch.int64
    assert set(pets.labels.tolist()) == {0, 1}
    assert pets.masks.shape == (n, s, s) and pets.masks.dtype == torch.bool
    assert pets.trimaps.shape == (n, s, s) and pets.trimaps.dtype == torch.uint8
    assert pets.difficulty.shape == (n,) and pets.difficulty.dtype == torch.float32
    assert set(pets.factors) == set(FACTOR_NAMES)
    for value in pets.factors.values():
        assert value.shape == (n,) and value.dtype == torch.float32
        assert 0.0 <= value.min() and value.max() <= 1.0
    assert pets.classes == ("cat", "dog")
    assert len(pets) == n


def test_default_sizes_per_split():
    assert len(SyntheticPets("val", size=32)) == 500
    assert len(SyntheticPets("test", size=32)) == 500


def test_item_and_sample(pets):
    image, label = pets[3]
    assert image.shape == (3, 64, 64) and label.dtype == torch.int64 and label.ndim == 0
    sample = pets.sample(3)
    assert set(sample) == {"image", "label", "mask", "trimap", "difficulty", "factors"}
    assert torch.equal(sample["image"], image) and int(sample["label"]) == int(label)
    assert sample["mask"].shape == (64, 64) and sample["trimap"].shape == (64, 64)
    assert set(sample["factors"]) == set(FACTOR_NAMES)
    assert sample["difficulty"] == pytest.approx(float(np.mean(list(sample["factors"].values()))), abs=1e-6)


def test_works_with_a_dataloader(pets):
    images, labels = next(iter(torch.utils.data.DataLoader(pets, batch_size=8)))
    assert images.shape == (8, 3, 64, 64) and labels.shape == (8,)


def test_repr_names_the_arguments():
    assert repr(SyntheticPets("val", n=3, size=48, seed=7)) == "SyntheticPets(split='val', n=3, size=48, seed=7)"


def test_other_sizes_work():
    for size in (MIN_SIZE, 96):
        ds = SyntheticPets("val", n=6, size=size)
        assert ds.images.shape == (6, 3, size, size)
        assert ds.masks.any(dim=(1, 2)).all()


# --- labels and difficulty ----------------------------------------------------------------


def test_labels_are_balanced():
    labels = SyntheticPets("train", size=32).labels.float()
    assert 0.45 < labels.mean() < 0.55


def test_difficulty_is_the_mean_of_the_factors(pets):
    stacked = torch.stack([pets.factors[name] for name in FACTOR_NAMES])
    assert torch.allclose(pets.difficulty, stacked.mean(0), atol=1e-6)
    assert torch.allclose(pets.difficulty, torch.from_numpy(difficulty_from_factors(pets.factors)), atol=1e-6)
    assert 0.0 <= pets.difficulty.min() and pets.difficulty.max() <= 1.0


def test_most_images_are_easy_or_moderate_with_a_hard_tail(pets):
    d = pets.difficulty
    assert (d < 0.4).float().mean() > 0.7
    assert (d > 0.4).any()
    assert (pets.factors["occlusion"] == 0).float().mean() > 0.3  # many images have no occluder


# --- masks and trimaps -------------------------------------------------------------------


def test_every_image_shows_a_pet(pets):
    area = pets.masks.float().mean(dim=(1, 2))
    assert (area > 0.003).all()


def test_trimap_values_follow_oxford(pets):
    assert set(torch.unique(pets.trimaps).tolist()) == {1, 2, 3}


def test_trimap_is_consistent_with_the_mask(pets):
    masks = pets.masks.numpy()
    trimaps = pets.trimaps.numpy()
    radius = band_radius(64)
    inner = erode(masks, radius)  # pet pixels away from the outline
    outer = ~dilate(masks, radius)  # background pixels away from the outline
    assert (trimaps[inner] == 1).all()
    assert (trimaps[outer] == 2).all()
    band = trimaps == 3
    assert not (band & inner).any() and not (band & outer).any()
    # the band hugs the outline: it has pet pixels and background pixels in it
    assert (band & masks).any() and (band & ~masks).any()
    # pet pixels are never labelled background, and vice versa
    assert not ((trimaps == 2) & masks).any() and not ((trimaps == 1) & ~masks).any()


def test_band_width_scales_with_size():
    assert band_radius(64) < band_radius(128)
    small, large = SyntheticPets("val", n=4, size=64), SyntheticPets("val", n=4, size=128)
    share = lambda ds: float((ds.trimaps == 3).sum()) / float(ds.masks.sum())
    assert share(large) == pytest.approx(share(small), rel=0.5)


def test_trimap_from_mask_on_a_square():
    mask = np.zeros((1, 9, 9), dtype=bool)
    mask[0, 2:7, 2:7] = True
    trimap = trimap_from_mask(mask, radius=1.0)[0]
    assert trimap[4, 4] == 1 and trimap[0, 0] == 2
    assert trimap[2, 4] == 3 and trimap[1, 4] == 3  # one pixel inside and outside the edge
    assert trimap[3, 4] == 1 and trimap[0, 4] == 2


# --- the factors do what they say --------------------------------------------------------


def test_darkness_darkens_the_scene(pets):
    for i in range(5):
        light = pets.variant(i, **EASY)["image"]
        dark = pets.variant(i, **{**EASY, "darkness": 1.0})["image"]
        assert dark.mean() < 0.5 * light.mean()
    quiet = pets.factors["noise"] < 0.2
    assert _correlation(pets.factors["darkness"][quiet], pets.images[quiet].mean(dim=(1, 2, 3))) < -0.4


def test_noise_raises_local_variance_in_flat_background(pets):
    def roughness(image: torch.Tensor) -> float:  # mean squared difference of neighbours
        return float(((image[:, :, 1:] - image[:, :, :-1]) ** 2).mean())

    for i in range(5):
        levels = [roughness(pets.variant(i, **{**EASY, "noise": level})["image"]) for level in (0.0, 0.5, 1.0)]
        assert levels[0] < levels[1] < levels[2]
    assert _correlation(pets.factors["noise"], [roughness(image) for image in pets.images]) > 0.6


def test_larger_size_factor_means_smaller_pet(pets):
    for i in range(5):
        areas = [int(pets.variant(i, **{**EASY, "size": level})["mask"].sum()) for level in (0.0, 0.5, 1.0)]
        assert areas[0] > areas[1] > areas[2]
    area = pets.masks.float().mean(dim=(1, 2))
    assert _correlation(pets.factors["size"], area) < -0.6


def test_occlusion_hides_part_of_the_pet(pets):
    hidden = []
    for i in range(40):
        whole = pets.variant(i, **EASY)["mask"]
        seen = pets.variant(i, **{**EASY, "occlusion": float(pets.factors["occlusion"][i])})["mask"]
        assert not (seen & ~whole).any()  # the occluder only hides, it never adds pet
        hidden.append(1.0 - float(seen.sum()) / float(whole.sum()))
    occlusion = pets.factors["occlusion"][:40]
    assert all(h == 0.0 for h, o in zip(hidden, occlusion) if o == 0)
    assert _correlation(occlusion, hidden) > 0.6


def test_contrast_factor_brings_pet_and_background_colours_together(pets):
    def colour_gap(sample) -> float:
        image, mask = sample["image"], sample["mask"]
        ring = torch.from_numpy(dilate(mask[None].numpy(), 3.0)[0]) & ~mask
        return float((image[:, mask].mean(1) - image[:, ring].mean(1)).norm())

    gaps = {level: [] for level in (0.0, 1.0)}
    for i in range(20):
        for level in gaps:
            gaps[level].append(colour_gap(pets.variant(i, **{**EASY, "contrast": level})))
    assert np.mean(gaps[1.0]) < 0.5 * np.mean(gaps[0.0])


def test_bodies_have_flat_interiors(pets):
    for i in range(10):
        sample = pets.variant(i, **{**EASY, "noise": 0.0})
        inside = torch.from_numpy(erode(sample["mask"][None].numpy(), 1.5)[0])
        pixels = sample["image"][:, inside]
        assert pixels.shape[1] > 10
        assert float(pixels.var(dim=1).max()) < 1e-10


def test_variant_without_changes_reproduces_the_sample(pets):
    for i in (0, 7, -1):
        same, original = pets.variant(i), pets.sample(i)
        assert torch.equal(same["image"], original["image"])
        assert torch.equal(same["trimap"], original["trimap"])


def test_variant_can_swap_the_class_in_the_same_scene(pets):
    cat = pets.variant(0, label=0, **EASY)
    dog = pets.variant(0, label=1, **EASY)
    assert int(cat["label"]) == 0 and int(dog["label"]) == 1
    assert not torch.equal(cat["mask"], dog["mask"])
    background = ~(cat["mask"] | dog["mask"])
    assert torch.equal(cat["image"][:, background], dog["image"][:, background])


# --- the class is shape, not colour ------------------------------------------------------


def test_coat_colour_alone_does_not_separate_the_classes():
    ds = SyntheticPets("train", n=1000, size=32, seed=3)
    # the coat colour: mean over the pet's interior (inside its darker rim)
    interior = torch.from_numpy(erode(ds.masks.numpy(), 1.0))
    usable = interior.any(dim=(1, 2))
    colour = torch.stack([image[:, inside].mean(1) for image, inside in zip(ds.images[usable], interior[usable])])
    labels = ds.labels[usable]
    assert len(labels) > 900
    features = torch.cat([colour, torch.ones(len(ds), 1)], 1).double()
    target = labels.double() * 2 - 1
    fit, test = slice(0, 650), slice(650, None)
    weights = torch.linalg.lstsq(features[fit], target[fit, None]).solution
    accuracy = float(((features[test] @ weights)[:, 0].sign() == target[test]).double().mean())
    assert accuracy < 0.6
    # nor does any single channel threshold
    for channel in range(3):
        for threshold in torch.linspace(0.1, 0.9, 9):
            split = (colour[:, channel] > threshold).long()
            assert float((split == labels).float().mean()) < 0.6
            assert float((split != labels).float().mean()) < 0.6


# --- errors -------------------------------------------------------------------------------


def test_unknown_split_names_the_valid_ones():
    with pytest.raises(ValueError, match="'train', 'val', 'test'"):
        SyntheticPets("validation")


def test_too_small_size_names_the_minimum():
    with pytest.raises(ValueError, match=f">= {MIN_SIZE}"):
        SyntheticPets("val", n=2, size=MIN_SIZE - 1)


@pytest.mark.parametrize("n", [0, -3])
def test_n_must_be_positive(n):
    with pytest.raises(ValueError, match="n must be a positive integer"):
        SyntheticPets("val", n=n)


def test_seed_must_be_non_negative():
    with pytest.raises(ValueError, match="non-negative"):
        SyntheticPets("val", n=2, seed=-1)


def test_variant_rejects_unknown_factors_and_bad_values(pets):
    with pytest.raises(ValueError, match="unknown factor"):
        pets.variant(0, brightness=0.5)
    with pytest.raises(ValueError, match="outside"):
        pets.variant(0, noise=2.0)
    with pytest.raises(IndexError):
        pets.variant(400)


# --- speed (reported, not asserted) -------------------------------------------------------


def test_generation_time_of_the_default_train_split(capsys):
    start = time.perf_counter()
    ds = SyntheticPets("train")
    seconds = time.perf_counter() - start
    with capsys.disabled():
        print(f"\nSyntheticPets('train') generated {len(ds)} images of 64x64 in {seconds:.2f} s")
    assert len(ds) == 2000
