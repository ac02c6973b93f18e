"""SyntheticPets' evidence kinds and counterfactuals: the class lives where it is told to."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xaiexit.data import SyntheticPets
from xaiexit.data._pet_scene import _rim
from xaiexit.data._shapes import erode

N = 300


@pytest.fixture(scope="module")
def pets():
    return {evidence: SyntheticPets("val", n=N, evidence=evidence) for evidence in ("shape", "colour", "both")}


def interior(pets: SyntheticPets) -> np.ndarray:
    """The coat's pixels: the visible pet minus its rim, shrunk by one more pixel."""
    masks = pets.masks.numpy()
    return erode(masks & ~_rim(masks, pets.size), 1.0)


def coat_warmth(pets: SyntheticPets) -> np.ndarray:
    """Mean red minus blue over each coat, divided by the scene's brightness factor (N,)."""
    inside = torch.from_numpy(interior(pets))
    red_minus_blue = pets.images[:, 0] - pets.images[:, 2]
    return ((red_minus_blue * inside).sum(dim=(1, 2)) / inside.sum(dim=(1, 2)).clamp(min=1)).numpy()


def best_threshold_accuracy(feature: np.ndarray, labels: np.ndarray) -> float:
    """The accuracy of the best rule 'feature above t' (either direction)."""
    order = np.argsort(feature)
    hits = np.cumsum(labels[order] == 0) + (labels == 1).sum() - np.cumsum(labels[order] == 1)
    best = hits.max() / len(labels)
    return float(max(best, 1 - hits.min() / len(labels)))


def test_shape_evidence_is_the_default_data(pets):
    default = SyntheticPets("val", n=N)
    assert torch.equal(default.images, pets["shape"].images)
    assert torch.equal(pets["shape"].shapes, pets["shape"].labels)
    assert (pets["shape"].tints == 0).all()


def test_colour_evidence_draws_the_silhouette_independently_of_the_class(pets):
    colour = pets["colour"]
    agreement = (colour.shapes == colour.labels).double().mean().item()
    assert 0.4 < agreement < 0.6  # a binomial(300, 1/2) share
    assert torch.equal(pets["both"].shapes, pets["both"].labels)


@pytest.mark.parametrize("evidence", ["colour", "both"])
def test_the_coat_colour_carries_the_class_only_when_told(pets, evidence):
    labels = pets[evidence].labels.numpy()
    warm = coat_warmth(pets[evidence])
    assert warm[labels == 0].mean() > warm[labels == 1].mean()  # cats warm, dogs cool
    # the class palettes overlap: one threshold on the coat's warmth is good but not perfect
    assert 0.65 < best_threshold_accuracy(warm, labels) < 0.97


def test_with_shape_evidence_the_coat_says_nothing(pets):
    labels = pets["shape"].labels.numpy()
    warm = coat_warmth(pets["shape"])
    gap = warm[labels == 0].mean() - warm[labels == 1].mean()
    spread = warm.std() * np.sqrt(1 / (labels == 0).sum() + 1 / (labels == 1).sum())
    assert abs(gap) < 3 * spread


@pytest.mark.parametrize("evidence", ["shape", "colour"])
def test_a_redrawn_coat_changes_only_the_coat(pets, evidence):
    data = pets[evidence]
    changed = (data.counterfactual("coat") != data.images).any(dim=1)
    assert not changed[~data.masks].any()  # nothing outside the visible pet
    coat = torch.from_numpy(interior(data))
    assert changed[coat].float().mean() > 0.5  # the coat's colour really moved (noise and clipping aside)


def test_a_redrawn_rim_changes_only_the_rim(pets):
    data = pets["colour"]
    changed = (data.counterfactual("rim") != data.images).any(dim=1)
    rim = torch.from_numpy(_rim(data.masks.numpy(), data.size))
    assert not changed[~rim].any() and changed[rim].any()


def test_a_redrawn_background_keeps_the_pet(pets):
    data = pets["both"]
    redrawn = data.counterfactual("background")
    pet = data.masks[:, None].expand_as(redrawn)
    assert torch.equal(redrawn[pet], data.images[pet])
    assert (redrawn[~pet] != data.images[~pet]).float().mean() > 0.5


def test_the_other_shape_is_the_other_animal_in_the_same_scene(pets):
    data = pets["shape"]
    swapped = data.counterfactual("shape", index=[0, 5, 9])
    for row, i in enumerate([0, 5, 9]):
        other = data.variant(i, label=1 - int(data.labels[i]))
        assert torch.equal(swapped[row], other["image"])


def test_counterfactuals_are_deterministic_and_index_like_the_dataset(pets):
    data = pets["colour"]
    everything = data.counterfactual("coat")
    assert torch.equal(data.counterfactual("coat", index=[3, -1]), everything[[3, N - 1]])
    assert torch.equal(SyntheticPets("val", n=N, evidence="colour").counterfactual("coat"), everything)


def test_bad_evidence_or_part_names_the_choices():
    with pytest.raises(ValueError, match="'shape', 'colour', 'both'"):
        SyntheticPets("val", n=4, evidence="texture")
    with pytest.raises(ValueError, match="'coat', 'rim', 'shape', 'background', 'class'"):
        SyntheticPets("val", n=4).counterfactual("ears")
    with pytest.raises(IndexError):
        SyntheticPets("val", n=4).counterfactual("coat", index=[4])


@pytest.mark.parametrize("evidence", ["shape", "colour", "both"])
def test_the_other_class_is_the_variant_with_the_other_label(pets, evidence):
    data = pets[evidence]
    others = data.counterfactual("class", index=[1, 2, 7])
    for row, i in enumerate([1, 2, 7]):
        assert torch.equal(others[row], data.variant(i, label=1 - int(data.labels[i]))["image"])
    if evidence == "colour":  # the same silhouette, the other tint: only coat pixels change
        assert not (others != data.images[[1, 2, 7]]).any(dim=1)[~data.masks[[1, 2, 7]]].any()
