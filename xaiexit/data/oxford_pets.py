"""The Oxford-IIIT Pet folder layout: write SyntheticPets into it, read it through torchvision.

The real dataset (Parkhi et al., 2012; https://www.robots.ox.ac.uk/~vgg/data/pets/)
unpacks to::

    <root>/oxford-iiit-pet/
        images/<id>.jpg                  RGB photos
        annotations/trimaps/<id>.png     uint8 trimaps: 1 pet, 2 background, 3 border
        annotations/trainval.txt         one line per image: <id> <class_id> <species> <breed_id>
        annotations/test.txt

``<class_id>`` numbers the breeds from 1, ``<species>`` is 1 for cat and 2 for dog and
``<breed_id>`` numbers the breeds within a species from 1. An id is the breed name and
a number joined by ``_`` (``Abyssinian_12``, ``beagle_7``); cat breeds are capitalised,
dog breeds are not. ``torchvision.datasets.OxfordIIITPet`` reads this layout and takes
a breed's name from the id up to its last ``_``.

:func:`write_oxford_layout` saves SyntheticPets in exactly this layout, with one "breed"
per species (``Synthetic_Cat`` and ``synthetic_dog``). :class:`OxfordPets` loads the
layout through torchvision -- the code path a learner with the real dataset uses -- so
the lessons run unchanged on synthetic or on real pets.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

if TYPE_CHECKING:  # torchvision is imported where it is used: importing it costs a second or more
    from torchvision.datasets import OxfordIIITPet

PathLike = str | os.PathLike

FOLDER = "oxford-iiit-pet"
SPLITS = ("trainval", "test")
CLASSES = ("cat", "dog")
#: label (0 cat, 1 dog) -> (breed name used in ids, class id, species, breed id)
SYNTHETIC_BREEDS = {0: ("Synthetic_Cat", 1, 1, 1), 1: ("synthetic_dog", 2, 2, 1)}
JPEG_QUALITY = 95

LAYOUT = f"""{FOLDER}/
    images/<id>.jpg
    annotations/trimaps/<id>.png
    annotations/trainval.txt
    annotations/test.txt"""

HOW_TO_GET_IT = (
    "download images.tar.gz and annotations.tar.gz from "
    "https://www.robots.ox.ac.uk/~vgg/data/pets/ and extract both into {base}, "
    "or write the synthetic copy with xaiexit.data.write_oxford_layout(root, trainval, test)"
)


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


def _as_list(datasets, name: str) -> list:
    """Accept one dataset or a sequence of them; check they carry what is written."""
    if isinstance(datasets, Dataset) or hasattr(datasets, "images"):
        datasets = [datasets]
    datasets = list(datasets)
    if not datasets:
        raise ValueError(f"{name} is empty; pass a SyntheticPets dataset or a list of them")
    for ds in datasets:
        missing = [attr for attr in ("images", "labels", "trimaps") if not hasattr(ds, attr)]
        if missing:
            raise TypeError(
                f"{name} must hold datasets with images, labels and trimaps (e.g. SyntheticPets); "
                f"{type(ds).__name__} lacks {', '.join(missing)}"
            )
    return datasets


def _to_uint8_rgb(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) float in [0, 1] -> (H, W, 3) uint8."""
    return (image.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()


def _write_split(base: Path, datasets: list, counters: dict[int, int]) -> list[str]:
    """Write one split's images and trimaps; return its annotation lines."""
    lines = []
    for ds in datasets:
        for image, label, trimap in zip(ds.images, ds.labels, ds.trimaps):
            label = int(label)
            breed, class_id, species, breed_id = SYNTHETIC_BREEDS[label]
            counters[label] += 1
            image_id = f"{breed}_{counters[label]}"
            Image.fromarray(_to_uint8_rgb(image)).save(
                base / "images" / f"{image_id}.jpg", quality=JPEG_QUALITY, subsampling=0
            )
            Image.fromarray(trimap.to(torch.uint8).numpy()).save(  # 2-D uint8 -> greyscale PNG
                base / "annotations" / "trimaps" / f"{image_id}.png"
            )
            lines.append(f"{image_id} {class_id} {species} {breed_id}")
    return lines


def _write_tree(base: Path, trainval: list, test: list) -> None:
    """Write the full layout into the (empty) folder ``base``."""
    (base / "images").mkdir(parents=True)
    (base / "annotations" / "trimaps").mkdir(parents=True)
    counters = {0: 0, 1: 0}  # ids are numbered per breed across both splits
    for split, datasets in (("trainval", trainval), ("test", test)):
        lines = _write_split(base, datasets, counters)
        (base / "annotations" / f"{split}.txt").write_text("\n".join(lines) + "\n")
    sources = "\n".join(
        f"  {split}: {ds!r}" for split, group in (("trainval", trainval), ("test", test)) for ds in group
    )
    (base / "README.txt").write_text(
        "Synthetic pets in the folder layout of the Oxford-IIIT Pet dataset, written by\n"
        "xaiexit.data.write_oxford_layout. Not real photographs. Made from:\n" + sources + "\n"
    )


def write_oxford_layout(root: PathLike, trainval, test, *, overwrite: bool = False) -> Path:
    """Save synthetic pets in the folder layout of the Oxford-IIIT Pet dataset.

    Parameters
    ----------
    root : str or path
        Folder that will contain ``oxford-iiit-pet/`` (created if needed).
    trainval, test : SyntheticPets or sequence of SyntheticPets
        Images for ``annotations/trainval.txt`` and ``annotations/test.txt``; e.g.
        ``trainval=[train, val]``. Any dataset with ``images`` (N, 3, H, W) in [0, 1],
        ``labels`` (N,) 0 = cat / 1 = dog and ``trimaps`` (N, H, W) works.
    overwrite : bool
        Replace an existing, non-empty ``oxford-iiit-pet`` folder.

    Returns
    -------
    path : Path
        ``root / "oxford-iiit-pet"``.

    Raises
    ------
    FileExistsError
        If the folder exists, is not empty and ``overwrite`` is False.

    Notes
    -----
    Images are JPEGs at quality 95 without chroma subsampling; trimaps are PNGs with the
    exact values 1, 2, 3. Cats get ids ``Synthetic_Cat_<k>`` (class id 1, species 1),
    dogs ``synthetic_dog_<k>`` (class id 2, species 2), ``k`` counting from 1 per breed.
    Everything is written into a temporary folder next to the target and renamed into
    place at the end, so an interrupted call leaves no half-written dataset behind.

    Examples
    --------
    >>> from xaiexit.data import SyntheticPets, OxfordPets
    >>> path = write_oxford_layout(tmp, SyntheticPets("train", n=20), SyntheticPets("test", n=10))  # doctest: +SKIP
    >>> len(OxfordPets(tmp, split="test"))  # doctest: +SKIP
    10
    """
    trainval, test = _as_list(trainval, "trainval"), _as_list(test, "test")
    root = Path(root)
    target = root / FOLDER
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise FileExistsError(
            f"{target} already exists and is not empty; pass overwrite=True to replace it "
            "(this deletes what is there), or choose another root"
        )
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{FOLDER}-writing-", dir=root))
    try:
        _write_tree(staging / FOLDER, trainval, test)
        _move_into_place(staging / FOLDER, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _move_into_place(new: Path, target: Path) -> None:
    """Rename ``new`` to ``target``; an existing ``target`` is deleted only on success."""
    if not target.exists():
        new.rename(target)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{FOLDER}-old-", dir=target.parent))
    target.rename(retired / FOLDER)
    try:
        new.rename(target)
    except BaseException:
        (retired / FOLDER).rename(target)  # put the old dataset back
        raise
    finally:
        shutil.rmtree(retired, ignore_errors=True)


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


def _check_layout(base: Path, split: str) -> None:
    """Raise a FileNotFoundError naming the first missing piece of the layout."""
    if not base.is_dir():
        raise FileNotFoundError(f"no Oxford-IIIT Pet dataset at {base}; " + HOW_TO_GET_IT.format(base=base))
    required = [base / "images", base / "annotations" / "trimaps", base / "annotations" / f"{split}.txt"]
    for path in required:
        if not path.exists():
            raise FileNotFoundError(
                f"{path} is missing, so {base} is not a complete Oxford-IIIT Pet layout. "
                f"Expected:\n{LAYOUT}\n" + HOW_TO_GET_IT.format(base=base)
            )


def _load(torchvision_ds: OxfordIIITPet, index: int, size: int, split: str):
    """One sample as ((3, size, size) float32, label, (size, size) uint8 trimap)."""
    import torchvision.transforms.functional as TF

    try:
        image, (label, trimap) = torchvision_ds[index]
    except FileNotFoundError as error:
        raise FileNotFoundError(
            f"{error.filename} is listed in annotations/{split}.txt but the file is missing; "
            f"every listed <id> needs images/<id>.jpg and annotations/trimaps/<id>.png"
        ) from error
    image = TF.pil_to_tensor(image).float().div(255)
    image = TF.resize(image, [size, size], interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    trimap = TF.pil_to_tensor(trimap)
    trimap = TF.resize(trimap, [size, size], interpolation=TF.InterpolationMode.NEAREST)
    return image.clamp(0, 1), int(label), trimap[0].to(torch.uint8)


class OxfordPets(Dataset):
    """The Oxford-IIIT Pet layout (real or synthetic) as tensors, read through torchvision.

    Parameters
    ----------
    root : str or path
        Folder containing ``oxford-iiit-pet/``.
    split : {"trainval", "test"}
    size : int
        Images are resized to ``size x size`` (bilinear, antialiased), trimaps too
        (nearest neighbour, so they keep the values 1, 2, 3).
    limit : int, optional
        Load only the first ``limit`` images of the split (the real dataset has
        3,680 trainval and 3,669 test images).

    Attributes
    ----------
    images : Tensor, float32, shape (N, 3, size, size), in [0, 1]
    labels : Tensor, int64, shape (N,)
        0 = cat, 1 = dog.
    trimaps : Tensor, uint8, shape (N, size, size)
        1 pet, 2 background, 3 unclassified border.
    masks : Tensor, bool, shape (N, size, size)
        ``trimaps == 1``.
    difficulty : None
        Real photos come without difficulty factors.
    classes : tuple of str
        ``("cat", "dog")``.
    breeds : tuple of str
        Breed names as torchvision derives them from the ids.

    Raises
    ------
    FileNotFoundError
        If ``root/oxford-iiit-pet`` or a part of its layout is missing.

    Examples
    --------
    >>> ds = OxfordPets("data", split="test", size=64, limit=100)  # doctest: +SKIP
    >>> image, label = ds[0]  # doctest: +SKIP
    """

    classes = CLASSES

    def __init__(self, root: PathLike, split: str = "trainval", size: int = 64, limit: int | None = None) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose 'trainval' or 'test'")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"size must be a positive integer (pixels per side), got {size!r}")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ValueError(f"limit must be None (all images) or a positive integer, got {limit!r}")
        self.root, self.split, self.size = Path(root), split, size
        _check_layout(self.root / FOLDER, split)

        from torchvision.datasets import OxfordIIITPet

        source = OxfordIIITPet(self.root, split=split, target_types=["binary-category", "segmentation"], download=False)
        n = len(source) if limit is None else min(limit, len(source))
        if n == 0:
            raise ValueError(f"annotations/{split}.txt under {self.root / FOLDER} lists no images")
        samples = [_load(source, i, size, split) for i in range(n)]
        self.images = torch.stack([image for image, _, _ in samples])
        self.labels = torch.tensor([label for _, label, _ in samples], dtype=torch.int64)
        self.trimaps = torch.stack([trimap for _, _, trimap in samples])
        self.masks = self.trimaps == 1
        self.difficulty = None
        self.breeds = tuple(source.classes)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(image (3, size, size) float32, label int64 scalar)``."""
        return self.images[index], self.labels[index]

    def __repr__(self) -> str:
        return f"OxfordPets(root={str(self.root)!r}, split={self.split!r}, n={len(self)}, size={self.size})"
