"""LFWFaces: the scikit-image face subset as a stratified, deterministic dataset."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.data import lfw_subset

from xaiexit.data import LFWFaces

SPLITS = {"train": 120, "val": 40, "test": 40}


@pytest.fixture(scope="module")
def splits() -> dict[str, LFWFaces]:
    return {split: LFWFaces(split, seed=0) for split in SPLITS}


def test_shapes_dtypes_ranges(splits):
    for split, n in SPLITS.items():
        ds = splits[split]
        assert len(ds) == n
        assert ds.images.shape == (n, 1, 25, 25) and ds.images.dtype == torch.float32
        assert 0.0 <= ds.images.min() and ds.images.max() <= 1.0
        assert ds.labels.shape == (n,) and ds.labels.dtype == torch.int64
        assert ds.classes == ("non-face", "face")
        image, label = ds[0]
        assert image.shape == (1, 25, 25) and label.ndim == 0


def test_splits_are_stratified(splits):
    for ds in splits.values():
        assert int(ds.labels.sum()) * 2 == len(ds)


def test_splits_are_disjoint_and_cover_everything(splits):
    indices = [set(ds.indices.tolist()) for ds in splits.values()]
    assert sum(len(s) for s in indices) == 200
    assert len(set.union(*indices)) == 200


def test_labels_follow_skimage_order_first_100_are_faces(splits):
    raw = np.asarray(lfw_subset(), dtype=np.float32)
    if raw.max() > 1.0:
        raw = raw / 255.0
    for ds in splits.values():
        assert torch.equal(ds.labels, (ds.indices < 100).long())
        assert torch.allclose(ds.images[:, 0], torch.from_numpy(raw[ds.indices.numpy()]))


def test_deterministic_and_seed_dependent(splits):
    again = LFWFaces("train", seed=0)
    assert torch.equal(again.images, splits["train"].images)
    assert torch.equal(again.indices, splits["train"].indices)
    other = LFWFaces("train", seed=1)
    assert set(other.indices.tolist()) != set(splits["train"].indices.tolist())


def test_classes_are_mixed_within_a_split(splits):
    labels = splits["train"].labels
    assert 0 < int(labels[:60].sum()) < 60


def test_resize():
    ds = LFWFaces("val", size=32)
    assert ds.images.shape == (40, 1, 32, 32)
    assert 0.0 <= ds.images.min() and ds.images.max() <= 1.0
    assert torch.equal(ds.labels, LFWFaces("val").labels)


def test_errors():
    with pytest.raises(ValueError, match="'train', 'val', 'test'"):
        LFWFaces("validation")
    with pytest.raises(ValueError, match="size"):
        LFWFaces("train", size=0)
