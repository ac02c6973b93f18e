"""The Oxford-IIIT Pet layout: write SyntheticPets, read it back through torchvision."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.datasets import OxfordIIITPet

from xaiexit.data import OxfordPets, SyntheticPets, write_oxford_layout


@pytest.fixture(scope="module")
def parts() -> dict[str, SyntheticPets]:
    return {
        "train": SyntheticPets("train", n=14, size=64, seed=0),
        "val": SyntheticPets("val", n=6, size=64, seed=0),
        "test": SyntheticPets("test", n=10, size=64, seed=0),
    }


@pytest.fixture(scope="module")
def root(tmp_path_factory, parts) -> Path:
    root = tmp_path_factory.mktemp("pets")
    write_oxford_layout(root, [parts["train"], parts["val"]], parts["test"])
    return root


def _concat(datasets, name):
    return torch.cat([getattr(ds, name) for ds in datasets])


def test_writes_the_oxford_folder_layout(root):
    base = root / "oxford-iiit-pet"
    assert (base / "images").is_dir() and (base / "annotations" / "trimaps").is_dir()
    assert len(list((base / "images").glob("*.jpg"))) == 30
    assert len(list((base / "annotations" / "trimaps").glob("*.png"))) == 30
    assert not [p for p in root.iterdir() if p.name != "oxford-iiit-pet"]  # no temporary folders left


def test_annotation_lines_parse_like_the_real_dataset(root, parts):
    base = root / "oxford-iiit-pet"
    ids = []
    for split, datasets in (("trainval", [parts["train"], parts["val"]]), ("test", [parts["test"]])):
        lines = (base / "annotations" / f"{split}.txt").read_text().splitlines()
        labels = _concat(datasets, "labels").tolist()
        assert len(lines) == len(labels)
        for line, label in zip(lines, labels):
            image_id, class_id, species, breed_id = line.split(" ")
            breed, number = image_id.rsplit("_", 1)
            assert number.isdigit() and int(breed_id) >= 1
            assert int(species) == label + 1 and int(class_id) == label + 1
            assert breed[0].isupper() == (label == 0)  # cats capitalised, dogs not, as in the real ids
            assert (base / "images" / f"{image_id}.jpg").is_file()
            ids.append(image_id)
    assert len(set(ids)) == len(ids)


def test_trimap_pngs_hold_exactly_1_2_3(root):
    for path in (root / "oxford-iiit-pet" / "annotations" / "trimaps").glob("*.png"):
        values = np.unique(np.asarray(Image.open(path)))
        assert set(values.tolist()) <= {1, 2, 3}


def test_torchvision_reads_the_layout(root):
    for split, n in (("trainval", 20), ("test", 10)):
        ds = OxfordIIITPet(root, split=split, target_types=["category", "binary-category", "segmentation"])
        assert len(ds) == n
        assert ds.classes == ["Synthetic Cat", "Synthetic Dog"]
        assert ds.bin_classes == ["Cat", "Dog"]
        image, (category, binary, trimap) = ds[0]
        assert image.mode == "RGB" and image.size == (64, 64)
        assert category == binary and trimap.size == (64, 64)


@pytest.mark.parametrize("split", ["trainval", "test"])
def test_round_trip_keeps_labels_and_trimaps_exactly(root, parts, split):
    datasets = [parts["train"], parts["val"]] if split == "trainval" else [parts["test"]]
    loaded = OxfordPets(root, split=split, size=64)
    assert len(loaded) == sum(len(ds) for ds in datasets)
    assert torch.equal(loaded.labels, _concat(datasets, "labels"))
    assert torch.equal(loaded.trimaps, _concat(datasets, "trimaps"))
    assert torch.equal(loaded.masks, _concat(datasets, "trimaps") == 1)
    error = (loaded.images - _concat(datasets, "images")).abs().mean()
    assert error < 0.03  # JPEG at quality 95
    assert loaded.difficulty is None and loaded.classes == ("cat", "dog")
    image, label = loaded[0]
    assert image.shape == (3, 64, 64) and image.dtype == torch.float32 and label.dtype == torch.int64


def test_resizing_and_limit(root):
    loaded = OxfordPets(root, split="trainval", size=32, limit=5)
    assert loaded.images.shape == (5, 3, 32, 32) and loaded.trimaps.shape == (5, 32, 32)
    assert set(torch.unique(loaded.trimaps).tolist()) <= {1, 2, 3}  # nearest keeps the values
    assert 0.0 <= loaded.images.min() and loaded.images.max() <= 1.0


def test_refuses_to_overwrite_unless_asked(root, parts, tmp_path):
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_oxford_layout(root, parts["train"], parts["test"])
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    path = write_oxford_layout(copy, parts["val"], parts["test"], overwrite=True)
    assert path == copy / "oxford-iiit-pet"
    assert len(OxfordPets(copy, split="trainval")) == len(parts["val"])


def test_a_failed_write_leaves_nothing_behind(tmp_path, parts):
    class Broken:  # has the attributes, but its images cannot be saved
        images = torch.zeros(2, 3, 8, 8, 1)
        labels = torch.zeros(2, dtype=torch.int64)
        trimaps = torch.ones(2, 8, 8, dtype=torch.uint8)

    with pytest.raises(Exception):  # noqa: B017 - whatever PIL raises; what matters is what is left
        write_oxford_layout(tmp_path, Broken(), parts["test"])
    assert list(tmp_path.iterdir()) == []


def test_rejects_things_that_are_not_datasets(tmp_path):
    with pytest.raises(TypeError, match="images, labels and trimaps"):
        write_oxford_layout(tmp_path, [object()], [object()])


def test_missing_folder_explains_how_to_get_the_data(tmp_path):
    with pytest.raises(FileNotFoundError, match="write_oxford_layout") as info:
        OxfordPets(tmp_path)
    assert "oxford-iiit-pet" in str(info.value) and "download" in str(info.value)


@pytest.mark.parametrize(
    "remove, named",
    [
        ("annotations/trimaps", "trimaps"),
        ("annotations/test.txt", "test.txt"),
        ("images", "images"),
    ],
)
def test_incomplete_layout_names_the_missing_part(root, tmp_path, remove, named):
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    target = copy / "oxford-iiit-pet" / remove
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    with pytest.raises(FileNotFoundError, match=named) as info:
        OxfordPets(copy, split="test")
    assert "annotations/trimaps/<id>.png" in str(info.value)  # the expected layout is shown


def test_a_listed_but_missing_image_is_named(root, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    first_id = (copy / "oxford-iiit-pet" / "annotations" / "test.txt").read_text().split()[0]
    (copy / "oxford-iiit-pet" / "images" / f"{first_id}.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=f"{first_id}.jpg"):
        OxfordPets(copy, split="test")


def test_bad_arguments(root):
    with pytest.raises(ValueError, match="'trainval' or 'test'"):
        OxfordPets(root, split="train")
    with pytest.raises(ValueError, match="limit"):
        OxfordPets(root, limit=0)
