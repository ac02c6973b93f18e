"""TouchingCells: grey microscopy-like images of cells that touch, with instance labels.

U-Net's hardest case: cells pressed against each other, told apart only by a faint line.
Each image holds 6 to 12 elliptical cells, most of them placed against a neighbour. The
pixels where two cells meet form a **separation border**, labelled background in the
ground truth (as in the ISBI and PhC-U373 annotations U-Net was trained on); the image
shows there only a slightly brighter membrane, blurred and noisy.

Everything is known exactly:

* ``images``: ``(N, 1, S, S)`` float32 in [0, 1];
* ``instances``: ``(N, S, S)`` int64, 0 background (borders included), 1..n one per cell;
* ``masks``: ``(N, S, S)`` int64, 1 cell, 0 background: the segmentation target.

Image ``i`` of a split uses its own random stream from ``(seed, split, i)``: the same
arguments give the same images, whatever ``n``.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage
from torch.utils.data import Dataset

#: split name -> (stream id, default number of images)
SPLITS = {"train": (0, 60), "val": (1, 20), "test": (2, 20)}


def _cells(rng: np.random.Generator, size: int):
    """Centres, radii (a, b) and angles of 6-12 cells, most placed against a neighbour."""
    n = int(rng.integers(6, 13))
    cells = []
    for _ in range(n):
        for _ in range(50):
            a = rng.uniform(0.07, 0.12) * size
            b = a * rng.uniform(0.7, 1.0)
            angle = rng.uniform(0, np.pi)
            if cells and rng.uniform() < 0.75:  # against a neighbour
                cy, cx, ra, _, _ = cells[int(rng.integers(len(cells)))]
                theta = rng.uniform(0, 2 * np.pi)
                reach = 0.9 * (ra + a)
                y, x = cy + reach * np.sin(theta), cx + reach * np.cos(theta)
            else:
                y, x = rng.uniform(0.1, 0.9, size=2) * size
            inside = 0.05 * size < y < 0.95 * size and 0.05 * size < x < 0.95 * size
            apart = all(np.hypot(y - c[0], x - c[1]) > 0.75 * (a + c[2]) for c in cells)
            if inside and apart:
                cells.append((y, x, a, b, angle))
                break
    return cells


def _render(rng: np.random.Generator, size: int):
    cells = _cells(rng, size)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    q = np.full((len(cells), size, size), np.inf)
    for k, (cy, cx, a, b, angle) in enumerate(cells):
        dy, dx = yy - cy, xx - cx
        u = np.cos(angle) * dx + np.sin(angle) * dy
        v = -np.sin(angle) * dx + np.cos(angle) * dy
        q[k] = np.hypot(u / a, v / b)  # < 1 inside the ellipse
    nearest = q.argmin(axis=0)
    partition = np.where(q.min(axis=0) < 1, nearest + 1, 0)  # each pixel to the cell it is deepest in
    # separation border: cell pixels with a 4-neighbour in another cell become background
    border = np.zeros((size, size), dtype=bool)
    for shift in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        other = np.roll(partition, shift, axis=(0, 1))
        border |= (partition > 0) & (other > 0) & (other != partition)
    instances = np.where(border, 0, partition)
    # the picture: a textured background, cells of their own brightness, a brighter membrane
    image = 0.22 + 0.05 * ndimage.gaussian_filter(rng.normal(size=(size, size)), 6) * 4
    rim_width = 1.5
    for k in range(len(cells)):
        inside = partition == k + 1
        depth = ndimage.distance_transform_edt(inside)
        level = rng.uniform(0.45, 0.7)
        image = np.where(inside, level + 0.04 * rng.normal(), image)
        image = np.where(inside & (depth <= rim_width), level + rng.uniform(0.08, 0.16), image)
    image = ndimage.gaussian_filter(image, 1.0) + rng.normal(0, 0.04, size=(size, size))
    return np.clip(image, 0, 1).astype(np.float32), instances.astype(np.int64)


def _relabel(instances: np.ndarray) -> np.ndarray:
    """Number the cells that kept pixels 1..n in order of first appearance."""
    ids = [i for i in np.unique(instances) if i > 0]
    lookup = np.zeros(instances.max() + 1, dtype=np.int64)
    lookup[ids] = np.arange(1, len(ids) + 1)
    return lookup[instances]


class TouchingCells(Dataset):
    """Grey images of touching cells with instance labels and separation borders.

    Parameters
    ----------
    split : {"train", "val", "test"}
        60, 20 and 20 images by default; splits use different random streams.
    n : int, optional
        Number of images (default per split above).
    size : int
        Side of the square images, at least 64.
    seed : int

    Attributes
    ----------
    images : Tensor, float32, (N, 1, size, size)
    instances : Tensor, int64, (N, size, size)
    masks : Tensor, int64, (N, size, size): 1 for cell pixels, 0 for background and borders

    Examples
    --------
    >>> cells = TouchingCells("test", n=2, size=96)
    >>> image, mask = cells[0]
    >>> tuple(image.shape), tuple(mask.shape), int(cells.instances[0].max()) >= 5
    ((1, 96, 96), (96, 96), True)
    """

    def __init__(self, split: str = "train", n: int | None = None, size: int = 128, seed: int = 0) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose one of {sorted(SPLITS)}")
        if isinstance(size, bool) or not isinstance(size, int) or size < 64:
            raise ValueError(f"size must be an integer of at least 64 pixels, got {size!r}")
        stream, default_n = SPLITS[split]
        n = default_n if n is None else n
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        self.split, self.size, self.seed = split, size, seed
        images, instances = [], []
        for i in range(n):
            rng = np.random.default_rng([seed, stream, i, 7])
            image, labels = _render(rng, size)
            images.append(image)
            instances.append(_relabel(labels))
        self.images = torch.from_numpy(np.stack(images))[:, None]
        self.instances = torch.from_numpy(np.stack(instances))
        self.masks = (self.instances > 0).long()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        """``(image (1, size, size) float32, mask (size, size) int64)``."""
        return self.images[index], self.masks[index]

    def __repr__(self) -> str:
        return f"TouchingCells(split={self.split!r}, n={len(self)}, size={self.size}, seed={self.seed})"
