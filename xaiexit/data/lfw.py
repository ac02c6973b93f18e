"""LFWFaces: a tiny real dataset of faces and non-faces that ships with scikit-image.

``skimage.data.lfw_subset()`` holds 200 grey 25 x 25 crops from the Labeled Faces in
the Wild collection (Huang et al.): the first 100 are faces, the last 100 are patches
of background from the same photos. The file is part of the scikit-image package, so
nothing is downloaded. Small as it is, it is real data: a good place to ask whether a
face classifier looks at the face.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

CLASSES = ("non-face", "face")
N_FACES = 100  # lfw_subset(): images [0, 100) are faces, [100, 200) non-faces
#: split name -> images per class
SPLIT_SIZES = {"train": 60, "val": 20, "test": 20}


def load_lfw_subset() -> tuple[np.ndarray, np.ndarray]:
    """All 200 images of ``skimage.data.lfw_subset()`` with their labels.

    Returns
    -------
    images : ndarray of float32, shape (200, 25, 25), in [0, 1]
    labels : ndarray of int64, shape (200,)
        1 for the first 100 images (faces), 0 for the rest.
    """
    from skimage.data import lfw_subset

    images = np.asarray(lfw_subset())
    if np.issubdtype(images.dtype, np.integer):  # documented as uint8 in some versions
        images = images / 255.0
    labels = (np.arange(len(images)) < N_FACES).astype(np.int64)
    return images.astype(np.float32), labels


def stratified_split(labels: np.ndarray, split: str, seed: int) -> np.ndarray:
    """Indices of one split: a seeded shuffle of each class, cut into train/val/test.

    Every class is shuffled once with the same seed and cut at the same places for all
    splits, so the splits are disjoint, cover :data:`SPLIT_SIZES` images per class and
    are the same on every call. The returned indices are shuffled (classes mixed).

    Examples
    --------
    >>> labels = np.repeat([1, 0], 100)
    >>> test = stratified_split(labels, "test", seed=0)
    >>> len(test), int(labels[test].sum())
    (40, 20)
    """
    rng = np.random.default_rng(seed)
    starts = np.cumsum([0] + list(SPLIT_SIZES.values()))
    position = list(SPLIT_SIZES).index(split)
    chosen = []
    for label in (0, 1):
        members = rng.permutation(np.flatnonzero(labels == label))
        chosen.append(members[starts[position] : starts[position + 1]])
    mixer = np.random.default_rng([seed, position])  # the split's own order, classes mixed
    return mixer.permutation(np.concatenate(chosen))


class LFWFaces(Dataset):
    """Faces vs non-faces from ``skimage.data.lfw_subset()`` (real, offline, tiny).

    Parameters
    ----------
    split : {"train", "val", "test"}
        60 / 20 / 20 images per class (120 / 40 / 40 in all), disjoint.
    seed : int
        Seed of the split; the same seed always gives the same split.
    size : int, optional
        Resize the 25 x 25 images to ``size x size`` (bilinear), e.g. 32 for a network
        with several pooling stages. Default: keep 25.

    Attributes
    ----------
    images : Tensor, float32, shape (N, 1, H, W), in [0, 1]
    labels : Tensor, int64, shape (N,)
        1 = face, 0 = non-face.
    indices : Tensor, int64, shape (N,)
        Position of each image in ``skimage.data.lfw_subset()``.
    classes : tuple of str
        ``("non-face", "face")``.

    Examples
    --------
    >>> ds = LFWFaces("train", size=32)
    >>> len(ds), ds.images.shape
    (120, torch.Size([120, 1, 32, 32]))
    >>> image, label = ds[0]
    >>> ds.classes[int(label)] in ("face", "non-face")
    True
    """

    classes = CLASSES

    def __init__(self, split: str = "train", seed: int = 0, size: int | None = None) -> None:
        if split not in SPLIT_SIZES:
            raise ValueError(f"unknown split {split!r}; choose one of {', '.join(repr(s) for s in SPLIT_SIZES)}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if size is not None and (isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1):
            raise ValueError(f"size must be None (keep 25 x 25) or a positive integer, got {size!r}")
        self.split, self.seed, self.size = split, int(seed), size

        all_images, all_labels = load_lfw_subset()
        chosen = stratified_split(all_labels, split, self.seed)
        images = torch.from_numpy(all_images[chosen])[:, None]  # (N, 1, 25, 25)
        if size is not None and size != images.shape[-1]:
            images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
            images = images.clamp(0.0, 1.0)
        self.images = images.contiguous()
        self.labels = torch.from_numpy(all_labels[chosen])
        self.indices = torch.from_numpy(chosen.astype(np.int64))

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(image (1, H, W) float32, label int64 scalar)``."""
        return self.images[index], self.labels[index]

    def __repr__(self) -> str:
        return f"LFWFaces(split={self.split!r}, n={len(self)}, size={self.images.shape[-1]}, seed={self.seed})"
