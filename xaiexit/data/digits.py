"""Digits: scikit-learn's 1,797 handwritten digits as a stratified, deterministic dataset.

``sklearn.datasets.load_digits()`` holds 1,797 grey 8 x 8 images of the digits 0 to 9
(174 to 183 per class), each pixel a count from 0 to 16: the test part of the UCI
"Optical Recognition of Handwritten Digits" data (Alpaydin & Kaynak, 1998), in which
every 32 x 32 bitmap of a handwritten digit was summed over 4 x 4 blocks. The file is
part of the scikit-learn package, so nothing is downloaded. Small as it is, it is real
data with ten classes: enough for a small network's early exits to differ in accuracy,
so that an exit rule has something to decide.

The 1,797 digits were written by 13 people and the data does not say who wrote which, so
the splits here are random per class: the same hands appear in train and test, and test
accuracy measures digits by writers already seen in training, not by new ones.

References
----------
.. [1] E. Alpaydin, C. Kaynak, "Optical Recognition of Handwritten Digits", UCI Machine
   Learning Repository, 1998.
   https://archive.ics.uci.edu/ml/datasets/Optical+Recognition+of+Handwritten+Digits
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

CLASSES = tuple(str(digit) for digit in range(10))
#: the largest pixel value of ``load_digits()`` (a count of 16 pixels set)
MAX_VALUE = 16.0
#: split name -> share of each class; per class, ``round(0.6 n)`` train, ``round(0.2 n)``
#: val, the rest test
SPLIT_SHARES = {"train": 0.6, "val": 0.2, "test": 0.2}

_CACHE: dict = {}


def _sklearn_datasets():
    try:
        from sklearn import datasets
    except ImportError as error:
        raise ImportError(
            "xaiexit.data.Digits reads the digits that ship with scikit-learn, which is not installed: "
            "run `pip install scikit-learn` (or `pip install -e '.[dev]'` in the xaiexit repository)"
        ) from error
    return datasets


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 images of ``sklearn.datasets.load_digits()`` with their labels.

    Returns
    -------
    images : ndarray of float32, shape (1797, 8, 8), in [0, 1]
        The pixel counts divided by 16.
    labels : ndarray of int64, shape (1797,)
        The digit, 0 to 9.

    Raises
    ------
    ImportError
        When scikit-learn is missing; the message says how to install it.
    """
    datasets = _sklearn_datasets()  # checked on every call, so a missing package is always reported
    if "arrays" not in _CACHE:
        bunch = datasets.load_digits()
        images = (np.asarray(bunch.images, dtype=np.float64) / MAX_VALUE).astype(np.float32)
        _CACHE["arrays"] = (images, np.asarray(bunch.target, dtype=np.int64))
    images, labels = _CACHE["arrays"]
    return images.copy(), labels.copy()


def split_counts(n: int) -> dict[str, int]:
    """Images of one class in each split: ``round(0.6 n)``, ``round(0.2 n)`` and the rest.

    Examples
    --------
    >>> split_counts(178)
    {'train': 107, 'val': 36, 'test': 35}
    """
    train = int(round(SPLIT_SHARES["train"] * n))
    val = int(round(SPLIT_SHARES["val"] * n))
    return {"train": train, "val": val, "test": n - train - val}


def stratified_split(labels: np.ndarray, split: str, seed: int) -> np.ndarray:
    """Indices of one split: a seeded shuffle of each class, cut into train/val/test.

    Every class is shuffled once with the same seed and cut at the same places
    (:func:`split_counts`) for all three splits, so the splits are disjoint, together
    hold every image exactly once, keep each class's share, and are the same on every
    call. The returned indices are shuffled (classes mixed).

    Parameters
    ----------
    labels : ndarray of int, shape (N,)
    split : {"train", "val", "test"}
    seed : int

    Returns
    -------
    indices : ndarray of int64, shape (n_split,)

    Examples
    --------
    >>> labels = np.repeat(np.arange(3), 10)
    >>> test = stratified_split(labels, "test", seed=0)
    >>> len(test), np.bincount(labels[test]).tolist()
    (6, [2, 2, 2])
    """
    if split not in SPLIT_SHARES:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(repr(s) for s in SPLIT_SHARES)}")
    rng = np.random.default_rng(seed)
    position = list(SPLIT_SHARES).index(split)
    chosen = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        starts = np.cumsum([0] + list(split_counts(len(members)).values()))
        chosen.append(members[starts[position] : starts[position + 1]])
    mixer = np.random.default_rng([seed, position])  # the split's own order, classes mixed
    return mixer.permutation(np.concatenate(chosen)).astype(np.int64)


class Digits(Dataset):
    """Handwritten digits 0-9 from ``sklearn.datasets.load_digits()`` (real, offline, small).

    Each 8 x 8 image is divided by 16 (to [0, 1]) and upsampled bilinearly to
    ``size x size`` (``F.interpolate(..., mode="bilinear", align_corners=False)``), so a
    CNN with several pooling stages can read it.

    Parameters
    ----------
    split : {"train", "val", "test"}
        Per class about 60 / 20 / 20 % of the images (:func:`split_counts`): 1,078 / 359 /
        360 in all; disjoint, and together every image once.
    size : int
        Side of the returned images (8 keeps the originals; below 8 the images are
        shrunk with antialiasing).
    seed : int
        Seed of the split; the same seed always gives the same split.

    Attributes
    ----------
    images : Tensor, float32, shape (N, 1, size, size), in [0, 1]
    labels : Tensor, int64, shape (N,)
        The digit shown.
    indices : Tensor, int64, shape (N,)
        Position of each image in ``load_digits()``.
    classes : tuple of str
        ``("0", "1", ..., "9")`` (also the module's ``CLASSES``).

    Raises
    ------
    ImportError
        When scikit-learn is not installed (``pip install scikit-learn``).

    Examples
    --------
    >>> ds = Digits("train", size=32)
    >>> len(ds), tuple(ds.images.shape)
    (1078, (1078, 1, 32, 32))
    >>> image, label = ds[0]
    >>> tuple(image.shape), ds.classes[int(label)] in ds.classes
    ((1, 32, 32), True)
    """

    classes = CLASSES
    CLASSES = CLASSES

    def __init__(self, split: str = "train", size: int = 32, seed: int = 0) -> None:
        if split not in SPLIT_SHARES:
            raise ValueError(f"unknown split {split!r}; choose one of {', '.join(repr(s) for s in SPLIT_SHARES)}")
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"size must be a positive integer (8 keeps the 8 x 8 originals), got {size!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.split, self.size, self.seed = split, int(size), int(seed)

        all_images, all_labels = load_digits_arrays()
        chosen = stratified_split(all_labels, split, self.seed)
        images = torch.from_numpy(all_images[chosen])[:, None]  # (N, 1, 8, 8)
        if self.size != images.shape[-1]:
            images = F.interpolate(
                images,
                size=(self.size, self.size),
                mode="bilinear",
                align_corners=False,
                antialias=self.size < images.shape[-1],
            )
            images = images.clamp(0.0, 1.0)  # bilinear weights are convex: only rounding can leave [0, 1]
        self.images = images.contiguous()
        self.labels = torch.from_numpy(all_labels[chosen])
        self.indices = torch.from_numpy(chosen)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(image (1, size, size) float32, label int64 scalar)``."""
        return self.images[index], self.labels[index]

    def __repr__(self) -> str:
        return f"Digits(split={self.split!r}, n={len(self)}, size={self.size}, seed={self.seed})"


__all__ = ["Digits", "CLASSES", "load_digits_arrays", "stratified_split", "split_counts"]
