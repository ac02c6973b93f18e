"""Digits: scikit-learn's handwritten digits as a stratified, deterministic dataset."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from xaiexit.data import Digits
from xaiexit.data import digits as digits_module

pytest.importorskip("sklearn", reason="Digits reads the data that ships with scikit-learn")
from sklearn.datasets import load_digits  # noqa: E402

SPLITS = ("train", "val", "test")


@pytest.fixture(scope="module")
def raw():
    bunch = load_digits()
    return bunch.images.astype(np.float64), bunch.target.astype(np.int64)


@pytest.fixture(scope="module")
def splits() -> dict[str, Digits]:
    return {split: Digits(split, seed=0) for split in SPLITS}


def test_shapes_dtypes_ranges(splits):
    for ds in splits.values():
        n = len(ds)
        assert ds.images.shape == (n, 1, 32, 32) and ds.images.dtype == torch.float32
        assert 0.0 <= float(ds.images.min()) and float(ds.images.max()) <= 1.0
        assert ds.labels.shape == (n,) and ds.labels.dtype == torch.int64
        assert ds.CLASSES == ds.classes == tuple("0123456789")
        image, label = ds[0]
        assert image.shape == (1, 32, 32) and label.ndim == 0 and 0 <= int(label) <= 9
    assert [len(splits[s]) for s in SPLITS] == [1078, 359, 360]


def test_splits_are_disjoint_and_cover_every_image_once(splits, raw):
    indices = np.concatenate([splits[s].indices.numpy() for s in SPLITS])
    assert len(indices) == len(raw[1]) == 1797
    assert sorted(indices.tolist()) == list(range(1797))


def test_splits_are_stratified(splits, raw):
    per_class = np.bincount(raw[1], minlength=10)
    for split, share in (("train", 0.6), ("val", 0.2), ("test", 0.2)):
        counts = np.bincount(splits[split].labels.numpy(), minlength=10)
        assert np.all(np.abs(counts - share * per_class) <= 1), (split, counts)
        assert counts.tolist() == [digits_module.split_counts(int(n))[split] for n in per_class]


def test_labels_and_images_come_from_load_digits(splits, raw):
    images, labels = raw
    for ds in splits.values():
        assert torch.equal(ds.labels, torch.from_numpy(labels[ds.indices.numpy()]))


def test_upsampling_is_bilinear_interpolation_of_the_8x8_image_over_16(splits, raw):
    images, _ = raw
    ds = splits["val"]
    original = torch.from_numpy(images[ds.indices.numpy()] / 16.0).float()[:, None]
    expected = F.interpolate(original, size=(32, 32), mode="bilinear", align_corners=False)
    assert torch.allclose(ds.images, expected, atol=1e-6)
    small = Digits("val", size=8)
    assert torch.allclose(small.images, original, atol=1e-7)
    other = Digits("val", size=20)
    assert other.images.shape == (len(ds), 1, 20, 20)
    assert torch.allclose(
        other.images, F.interpolate(original, size=(20, 20), mode="bilinear", align_corners=False), atol=1e-6
    )


def test_deterministic_and_seed_dependent(splits):
    again = Digits("train", seed=0)
    assert torch.equal(again.images, splits["train"].images)
    assert torch.equal(again.indices, splits["train"].indices)
    other = Digits("train", seed=1)
    assert set(other.indices.tolist()) != set(splits["train"].indices.tolist())
    assert len(other) == len(splits["train"])  # the counts per class depend on the data only


def test_classes_are_mixed_within_a_split(splits):
    first = splits["train"].labels[:100]
    assert len(torch.unique(first)) == 10


def test_errors():
    with pytest.raises(ValueError, match="'train', 'val', 'test'"):
        Digits("validation")
    with pytest.raises(ValueError, match="size"):
        Digits("train", size=0)
    with pytest.raises(ValueError, match="seed"):
        Digits("train", seed=-1)


def test_missing_scikit_learn_says_how_to_install_it(monkeypatch):
    # a None entry in sys.modules makes `import sklearn` raise ImportError
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"pip install scikit-learn") as error:
        Digits("train")
    assert "pip install -e '.[dev]'" in str(error.value)


def test_docstring_examples():
    import doctest

    result = doctest.testmod(digits_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
