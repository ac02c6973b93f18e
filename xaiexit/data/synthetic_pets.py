"""SyntheticPets: cats and dogs drawn from flat shapes, with masks, trimaps and difficulty.

Every image shows one cat or one dog on a cluttered background. Because the scene is
drawn, everything about it is known exactly:

* the class (``labels``: 0 = cat, 1 = dog), decided by **shape only** (pointed upright
  ears and a long curled tail for cats; floppy ears, a long snout, long legs and a
  short bushy tail for dogs). Pet colours come from one distribution for both classes;
* which pixels show the pet (``masks``) and an Oxford-IIIT-Pet-style trimap
  (``trimaps``: 1 pet, 2 background, 3 a thin unclassified band along the outline);
* how hard the image is, factor by factor (``factors``), and overall (``difficulty``).

Pets (and half of the clutter blobs) are drawn like cartoons: one flat colour inside a
thin darker rim. The flat interiors are on purpose: inside a flat region a small
change of one pixel barely changes what a network sees, so gradient saliency goes
quiet there -- a phenomenon the course studies.

Five difficulty factors, each in ``[0, 1]`` with 0 = easy and 1 = hard:

==========  ====================================================================
factor      what it does to the picture
==========  ====================================================================
contrast    the pet's colour moves towards the background colour
darkness    the whole scene is multiplied by a brightness below 1
size        the pet shrinks
occlusion   a post in a background-like colour covers part of the pet
noise       Gaussian noise is added to every pixel
==========  ====================================================================

``difficulty`` is the plain mean of the five factors. Factors are drawn from skewed
Beta distributions, so most images are easy or moderate with a tail of hard ones
(a small pet in a dark, noisy, low-contrast scene).

Randomness is fully determined by ``seed`` and ``split``: image ``i`` of a split uses
its own random stream derived from ``(seed, split, i)``, so the same arguments give
bit-identical data, splits never share a stream, and the first ``k`` images do not
depend on ``n``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.utils.data import Dataset

from xaiexit.data._pet_drawing import PET_EXTENT, Pose, silhouettes
from xaiexit.data._shapes import dilate, ellipse, erode, strip

CLASSES = ("cat", "dog")
FACTOR_NAMES = ("contrast", "darkness", "size", "occlusion", "noise")
#: split name -> (stream id, default number of images)
SPLITS = {"train": (0, 2000), "val": (1, 500), "test": (2, 500)}
#: Smallest image side: below it a small pet's ears and tail are under a pixel wide.
MIN_SIZE = 32

# --- how the factors act; each pair is (value at factor 0, value at factor 1) ---------
PET_SCALE = (0.30, 0.13)  # one pet unit, as a fraction of the image side
COLOUR_DISTANCE = (0.62, 0.08)  # RGB distance between pet and background colour
BRIGHTNESS = (1.0, 0.18)  # the scene is multiplied by this
NOISE_STD = (0.0, 0.2)  # standard deviation of the added Gaussian noise
OCCLUDER_WIDTH = (0.0, 1.6)  # width of the occluding post, in pet units

# --- how the factors are drawn: Beta(a, b) each; occlusion only sometimes ------------
FACTOR_PRIORS = {
    "contrast": (0.8, 3.5),
    "darkness": (0.8, 3.5),
    "size": (1.5, 3.0),
    "occlusion": (2.0, 2.5),
    "noise": (0.6, 4.0),
}
P_OCCLUDED = 0.4  # fraction of images with an occluder at all

#: Pet coat colours (RGB in [0, 1]): black, white, grey, ginger, brown, cream, blue-grey.
PET_PALETTE = np.array(
    [
        [0.12, 0.10, 0.10],
        [0.92, 0.90, 0.86],
        [0.50, 0.50, 0.52],
        [0.85, 0.50, 0.20],
        [0.48, 0.30, 0.17],
        [0.90, 0.80, 0.60],
        [0.42, 0.48, 0.58],
    ],
    dtype=np.float32,
)

N_BLOBS = 5  # clutter ellipses per background
CLUTTER_DISTANCE = (0.08, 0.25)  # RGB distance of clutter colours from the background colour
P_COAT_BLOB = 0.1  # chance that a clutter blob takes a coat colour (a distractor)
N_UNIFORMS = 160  # length of each scene's vector of uniform random numbers
MAX_ROTATION = math.radians(15.0)
# Figures are drawn like cartoons: a flat fill inside a thin, darker rim. The rim gives
# a small CNN an edge to hold on to whatever the colours; half the blobs get one too,
# so "has a rim" does not give the pet away.
OUTLINE = True
OUTLINE_SHADE = 0.45  # rim colour = this times the fill colour
P_BLOB_OUTLINE = 0.5  # chance that a clutter blob has a rim
CHUNK = 256  # images rendered at once (bounds memory for large sizes)


def lerp(pair: tuple[float, float], t):
    """Linear interpolation ``pair[0] + t * (pair[1] - pair[0])`` (``t`` may be an array)."""
    return pair[0] + t * (pair[1] - pair[0])


def band_radius(size: int) -> float:
    """Half-width in pixels of the trimap's unclassified band: ``max(1, size / 40)``.

    At 64 px the band reaches 1 px (diagonals included) to each side of the outline.
    """
    return max(1.0, size / 40.0)


def trimap_from_mask(masks: np.ndarray, radius: float) -> np.ndarray:
    """Oxford-IIIT-Pet trimaps from pet masks.

    Parameters
    ----------
    masks : ndarray of bool, shape (N, H, W)
        ``True`` on visible pet pixels.
    radius : float
        Half-width of the unclassified band, in pixels.

    Returns
    -------
    trimaps : ndarray of uint8, shape (N, H, W)
        1 on pet pixels, 2 on background, 3 on every pixel within ``radius`` of the
        outline (on either side of it).

    Examples
    --------
    >>> mask = np.zeros((1, 7, 7), dtype=bool)
    >>> mask[0, 1:6, 1:6] = True
    >>> trimap_from_mask(mask, radius=1.0)[0]
    array([[2, 3, 3, 3, 3, 3, 2],
           [3, 3, 3, 3, 3, 3, 3],
           [3, 3, 1, 1, 1, 3, 3],
           [3, 3, 1, 1, 1, 3, 3],
           [3, 3, 1, 1, 1, 3, 3],
           [3, 3, 3, 3, 3, 3, 3],
           [2, 3, 3, 3, 3, 3, 2]], dtype=uint8)
    """
    band = dilate(masks, radius) & ~erode(masks, radius)
    trimaps = np.where(masks, np.uint8(1), np.uint8(2))
    trimaps[band] = 3
    return trimaps


def difficulty_from_factors(factors: dict[str, np.ndarray]) -> np.ndarray:
    """Overall difficulty: the mean of the five factors (each in [0, 1])."""
    return np.mean([np.asarray(factors[name], dtype=np.float32) for name in FACTOR_NAMES], axis=0)


# --------------------------------------------------------------------------------------
# Random streams
# --------------------------------------------------------------------------------------


def _stream(seed: int, split_id: int, index: int, purpose: int) -> np.random.Generator:
    """The generator for one purpose (0 = label and factors, 1 = scene) of one image."""
    return np.random.default_rng(np.random.SeedSequence([seed, split_id, index], spawn_key=(purpose,)))


def _draw_label_and_factors(rng: np.random.Generator) -> tuple[int, dict[str, float]]:
    """One image's class and difficulty factors."""
    label = int(rng.integers(2))
    factors = {name: float(rng.beta(*FACTOR_PRIORS[name])) for name in FACTOR_NAMES}
    if rng.random() >= P_OCCLUDED:
        factors["occlusion"] = 0.0
    return label, factors


class _Uniforms:
    """Hands out the columns of a ``(N, k)`` table of U(0, 1) numbers, in order.

    Each scene is a fixed-length vector of uniform numbers; naming the columns as they
    are used keeps the drawing code readable and every image's randomness separate.
    """

    def __init__(self, table: np.ndarray) -> None:
        self.table = table
        self.used = 0

    def take(self, k: int) -> np.ndarray:
        """The next ``k`` columns, shape (N, k)."""
        if self.used + k > self.table.shape[1]:
            raise RuntimeError("scene needs more random numbers than N_UNIFORMS; increase it")
        columns = self.table[:, self.used : self.used + k]
        self.used += k
        return columns

    def uniform(self, low: float = 0.0, high: float = 1.0) -> np.ndarray:
        """One number per image from U(low, high), shape (N, 1, 1) to broadcast over pixels."""
        return (low + (high - low) * self.take(1))[:, :, None]


# --------------------------------------------------------------------------------------
# Colours
# --------------------------------------------------------------------------------------


def _direction(draws: _Uniforms) -> np.ndarray:
    """A random unit vector in RGB space per image, shape (N, 3)."""
    vector = 2.0 * draws.take(3) - 1.0
    return vector / np.maximum(np.linalg.norm(vector, axis=1, keepdims=True), 1e-6)


def _palette_colour(draws: _Uniforms) -> np.ndarray:
    """A coat colour from :data:`PET_PALETTE` with a little jitter, shape (N, 3)."""
    index = np.minimum((draws.take(1)[:, 0] * len(PET_PALETTE)).astype(int), len(PET_PALETTE) - 1)
    return np.clip(PET_PALETTE[index] + 0.12 * (draws.take(3) - 0.5), 0.0, 1.0)


def _colour_near(base: np.ndarray, draws: _Uniforms, low: float, high: float) -> np.ndarray:
    """``base`` moved a random distance in ``[low, high]`` in a random direction, clipped."""
    distance = low + (high - low) * draws.take(1)
    return np.clip(base + distance * _direction(draws), 0.0, 1.0)


def _background_colour(pet: np.ndarray, distance: np.ndarray, draws: _Uniforms) -> np.ndarray:
    """A background colour ``distance`` away from ``pet``, towards the far end of brightness.

    A dark pet gets a lighter background and a light pet a darker one, as in a photo
    with good contrast. The step points away from the pet's grey level, tilted a little
    towards a random hue, and is clipped to [0, 1].
    """
    away = np.where(pet.mean(axis=1, keepdims=True) < 0.5, 1.0, -1.0)
    direction = away * np.ones(3) / np.sqrt(3) + 0.6 * _direction(draws)
    offset = distance * direction / np.linalg.norm(direction, axis=1, keepdims=True)
    return np.clip(pet + offset, 0.0, 1.0).astype(np.float32)


def _paint(images: np.ndarray, mask: np.ndarray, colour: np.ndarray) -> None:
    """Fill ``mask`` (N, H, W) of ``images`` (N, 3, H, W) with one colour (N, 3) per image."""
    np.copyto(images, colour[:, :, None, None].astype(images.dtype), where=mask[:, None])


# --------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------


def _rim(masks: np.ndarray, size: int) -> np.ndarray:
    """The outermost pixels of each mask: a line about ``size / 64`` pixels wide."""
    return masks & ~erode(masks, max(1.0, size / 64))


def _clutter(images: np.ndarray, x, y, size: int, background: np.ndarray, draws: _Uniforms) -> None:
    """Shading, blobs, a stripe patch and a pet-coloured distractor on the background."""
    # gentle light gradient: a long sine wave across the scene
    amplitude, period = draws.uniform(0.0, 0.08), draws.uniform(0.7, 2.0) * size
    angle, phase = draws.uniform(0.0, 2 * np.pi), draws.uniform(0.0, 2 * np.pi)
    wave = amplitude * np.sin(2 * np.pi * (x * np.cos(angle) + y * np.sin(angle)) / period + phase)
    images += wave[:, None]

    # flat blobs of varied colours, some thin like sticks, some in coat colours
    for _ in range(N_BLOBS):
        present = draws.uniform() < 0.75
        center = (draws.uniform(0, size), draws.uniform(0, size))
        axes = (draws.uniform(0.04, 0.25) * size, draws.uniform(0.04, 0.14) * size)
        blob = present & ellipse(x, y, center, axes, draws.uniform(0.0, np.pi))
        near = _colour_near(background, draws, *CLUTTER_DISTANCE)
        coat = _palette_colour(draws)
        use_coat = draws.take(1) < P_COAT_BLOB
        colour = np.where(use_coat, coat, near)
        _paint(images, blob, colour)
        if OUTLINE:
            _paint(images, (draws.uniform() < P_BLOB_OUTLINE) & _rim(blob, size), OUTLINE_SHADE * colour)

    # a patch of stripes on one side of a random line
    present = draws.uniform() < 0.4
    angle, period = draws.uniform(0.0, np.pi), draws.uniform(0.08, 0.2) * size
    phase = draws.uniform(0.0, 2 * np.pi)
    side_angle = draws.uniform(0.0, 2 * np.pi)
    px, py = draws.uniform(0, size), draws.uniform(0, size)
    waves = np.sin(2 * np.pi * (x * np.cos(angle) + y * np.sin(angle)) / period + phase) > 0.2
    half_plane = (x - px) * np.cos(side_angle) + (y - py) * np.sin(side_angle) > 0
    _paint(images, present & waves & half_plane, _colour_near(background, draws, *CLUTTER_DISTANCE))


def _pet_frame(x, y, size: int, scale_factor: np.ndarray, draws: _Uniforms):
    """Pet position, scale, rotation and mirroring; returns pet coordinates ``u, v``."""
    unit = lerp(PET_SCALE, scale_factor) * size  # pixels per pet unit
    u_min, u_max, v_min, v_max = PET_EXTENT
    reach = max(-u_min, u_max) * unit  # the pet may face either way
    cx = reach + draws.uniform() * np.maximum(size - 2 * reach, 0.0)
    cy = -v_min * unit + draws.uniform() * np.maximum(size - (v_max - v_min) * unit, 0.0)
    angle = draws.uniform(-MAX_ROTATION, MAX_ROTATION)
    mirror = np.where(draws.uniform() < 0.5, -1.0, 1.0)
    dx, dy = (x - cx) / unit, (y - cy) / unit
    u = (dx * np.cos(angle) + dy * np.sin(angle)) * mirror
    v = -dx * np.sin(angle) + dy * np.cos(angle)
    return u.astype(np.float32), v.astype(np.float32), (cx, cy, unit)


def _draw_pose(draws: _Uniforms) -> Pose:
    return Pose(
        aspect=draws.uniform(0.9, 1.1),
        head_du=draws.uniform(-0.06, 0.06),
        head_dv=draws.uniform(-0.06, 0.06),
        tail_angle=draws.uniform(-0.35, 0.35),
        front_swing=draws.uniform(-0.12, 0.12),
        back_swing=draws.uniform(-0.12, 0.12),
    )


def _render_chunk(
    labels: np.ndarray, factors: dict[str, np.ndarray], table: np.ndarray, noise: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Draw a chunk of scenes.

    Parameters
    ----------
    labels : ndarray of int, shape (N,)
    factors : dict of str to ndarray, each shape (N,)
    table : ndarray, shape (N, N_UNIFORMS)
        Each scene's uniform random numbers.
    noise : ndarray of float32, shape (N, 3, size, size)
        Standard normal noise, scaled by the noise factor here.
    size : int

    Returns
    -------
    images : ndarray of float32, shape (N, 3, size, size), in [0, 1]
    masks : ndarray of bool, shape (N, size, size)
    """
    draws = _Uniforms(table)
    f = {name: np.asarray(value, dtype=np.float32)[:, None, None] for name, value in factors.items()}
    y, x = (np.mgrid[0:size, 0:size].astype(np.float32) + 0.5)[:, None]  # each (1, H, W)

    pet_colour = _palette_colour(draws)
    background = _background_colour(pet_colour, lerp(COLOUR_DISTANCE, f["contrast"][:, :, 0]), draws)
    images = np.broadcast_to(background[:, :, None, None], (len(labels), 3, size, size)).copy()
    _clutter(images, x, y, size, background, draws)

    u, v, (cx, cy, unit) = _pet_frame(x, y, size, f["size"], draws)
    pet = silhouettes(u, v, labels, _draw_pose(draws))
    _paint(images, pet, pet_colour)
    if OUTLINE:
        _paint(images, _rim(pet, size), OUTLINE_SHADE * pet_colour)

    post_center = (cx + draws.uniform(-0.9, 0.9) * unit, cy)
    post = strip(x, y, post_center, lerp(OCCLUDER_WIDTH, f["occlusion"]) * unit, draws.uniform(-0.35, 0.35))
    _paint(images, post, _colour_near(background, draws, 0.1, 0.45))

    images *= lerp(BRIGHTNESS, f["darkness"])[:, None]
    images += lerp(NOISE_STD, f["noise"])[:, None] * noise
    np.clip(images, 0.0, 1.0, out=images)
    return images.astype(np.float32), pet & ~post


def _render(
    labels: np.ndarray, factors: dict[str, np.ndarray], scene_rngs: list[np.random.Generator], size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Render all scenes, :data:`CHUNK` at a time; each scene draws from its own generator."""
    n = len(labels)
    images = np.empty((n, 3, size, size), dtype=np.float32)
    masks = np.empty((n, size, size), dtype=bool)
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        rngs = scene_rngs[start:stop]
        table = np.stack([rng.random(N_UNIFORMS, dtype=np.float32) for rng in rngs])
        noise = np.stack([rng.standard_normal((3, size, size), dtype=np.float32) for rng in rngs])
        chunk_factors = {name: value[start:stop] for name, value in factors.items()}
        images[start:stop], masks[start:stop] = _render_chunk(labels[start:stop], chunk_factors, table, noise, size)
    return images, masks


# --------------------------------------------------------------------------------------
# The dataset
# --------------------------------------------------------------------------------------


def _check_arguments(split: str, n: int | None, size: int, seed: int) -> int:
    """Validate the constructor's arguments; return the number of images."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(repr(s) for s in SPLITS)}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < MIN_SIZE:
        raise ValueError(f"size={size!r} is too small to draw a pet; use an integer size >= {MIN_SIZE} (e.g. 64)")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    n = SPLITS[split][1] if n is None else n
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer (the number of images), got {n!r}")
    return int(n)


class SyntheticPets(Dataset):
    """Cats and dogs on cluttered backgrounds, with masks, trimaps and difficulty.

    Parameters
    ----------
    split : {"train", "val", "test"}
        Which random stream to draw from; splits never overlap.
    n : int, optional
        Number of images; defaults to 2000 for ``"train"`` and 500 for ``"val"``/``"test"``.
    size : int
        Image side in pixels, at least :data:`MIN_SIZE` (32).
    seed : int
        Non-negative seed; the same ``(split, n, size, seed)`` gives bit-identical data.

    Attributes
    ----------
    images : Tensor, float32, shape (N, 3, size, size)
        RGB in [0, 1].
    labels : Tensor, int64, shape (N,)
        0 = cat, 1 = dog (see ``classes``).
    masks : Tensor, bool, shape (N, size, size)
        Visible pet pixels (an occluder in front of the pet is not pet).
    trimaps : Tensor, uint8, shape (N, size, size)
        Oxford-IIIT Pet convention: 1 pet, 2 background, 3 unclassified band about
        ``size / 40`` pixels to each side of the outline.
    factors : dict of str to Tensor, float32, shape (N,)
        ``"contrast"``, ``"darkness"``, ``"size"``, ``"occlusion"``, ``"noise"``; each in
        [0, 1], 0 = easy, 1 = hard.
    difficulty : Tensor, float32, shape (N,)
        The mean of the five factors.
    classes : tuple of str
        ``("cat", "dog")``.

    Examples
    --------
    >>> ds = SyntheticPets("val", n=8, size=64)
    >>> image, label = ds[0]
    >>> image.shape, image.dtype, label.dtype
    (torch.Size([3, 64, 64]), torch.float32, torch.int64)
    >>> sorted(ds.sample(0))
    ['difficulty', 'factors', 'image', 'label', 'mask', 'trimap']
    >>> ds
    SyntheticPets(split='val', n=8, size=64, seed=0)

    The same scene, only darker (the scene's own randomness is kept):

    >>> dark = ds.variant(0, darkness=1.0)
    >>> bool(dark["image"].mean() < ds.images[0].mean())
    True
    """

    classes = CLASSES

    def __init__(self, split: str = "train", n: int | None = None, size: int = 64, seed: int = 0) -> None:
        self.n = _check_arguments(split, n, size, seed)
        self.split, self.size, self.seed = split, int(size), int(seed)
        self._split_id = SPLITS[split][0]

        labels, factors = self._draw_labels_and_factors()
        images, masks = _render(labels, factors, [self._scene_rng(i) for i in range(self.n)], self.size)
        trimaps = trimap_from_mask(masks, band_radius(self.size))

        self.images = torch.from_numpy(images)
        self.labels = torch.from_numpy(labels.astype(np.int64))
        self.masks = torch.from_numpy(masks)
        self.trimaps = torch.from_numpy(trimaps)
        self.factors = {name: torch.from_numpy(value) for name, value in factors.items()}
        self.difficulty = torch.from_numpy(difficulty_from_factors(factors))

    def _draw_labels_and_factors(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        labels = np.empty(self.n, dtype=np.int64)
        factors = {name: np.empty(self.n, dtype=np.float32) for name in FACTOR_NAMES}
        for i in range(self.n):
            labels[i], drawn = _draw_label_and_factors(_stream(self.seed, self._split_id, i, purpose=0))
            for name, value in drawn.items():
                factors[name][i] = value
        return labels, factors

    def _scene_rng(self, index: int) -> np.random.Generator:
        return _stream(self.seed, self._split_id, index, purpose=1)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(image (3, H, W) float32, label int64 scalar)``, ready for a DataLoader."""
        return self.images[index], self.labels[index]

    def sample(self, index: int) -> dict:
        """Everything known about one image.

        Returns
        -------
        sample : dict
            ``image`` (3, H, W) float32, ``label`` int64 scalar, ``mask`` (H, W) bool,
            ``trimap`` (H, W) uint8, ``difficulty`` float and ``factors`` (dict of float).
        """
        return {
            "image": self.images[index],
            "label": self.labels[index],
            "mask": self.masks[index],
            "trimap": self.trimaps[index],
            "difficulty": float(self.difficulty[index]),
            "factors": {name: float(value[index]) for name, value in self.factors.items()},
        }

    def variant(self, index: int, label: int | None = None, **factors: float) -> dict:
        """Re-draw image ``index`` with some knobs changed and everything else kept.

        The scene (colours, clutter, position, pose, noise pattern) comes from the same
        random stream, so only what you change changes: ``variant(i, darkness=1.0)`` is
        the same picture in the dark, ``variant(i, label=1 - label)`` the same scene with
        the other animal. This makes controlled experiments possible.

        Parameters
        ----------
        index : int
        label : int, optional
            0 (cat) or 1 (dog); default: the image's own label.
        **factors : float
            New values in [0, 1] for any of ``contrast``, ``darkness``, ``size``,
            ``occlusion``, ``noise``.

        Returns
        -------
        sample : dict
            Same keys as :meth:`sample`.
        """
        index = range(self.n)[index]  # supports negative indices, raises IndexError
        unknown = set(factors) - set(FACTOR_NAMES)
        if unknown:
            raise ValueError(f"unknown factor(s) {sorted(unknown)}; choose from {FACTOR_NAMES}")
        for name, value in factors.items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"factor {name}={value} is outside [0, 1]")
        label = int(self.labels[index]) if label is None else label
        if label not in (0, 1):
            raise ValueError(f"label must be 0 (cat) or 1 (dog), got {label!r}")
        chosen = {name: np.array([factors.get(name, float(self.factors[name][index]))]) for name in FACTOR_NAMES}
        images, masks = _render(np.array([label]), chosen, [self._scene_rng(index)], self.size)
        trimap = trimap_from_mask(masks, band_radius(self.size))
        return {
            "image": torch.from_numpy(images[0]),
            "label": torch.tensor(label, dtype=torch.int64),
            "mask": torch.from_numpy(masks[0]),
            "trimap": torch.from_numpy(trimap[0]),
            "difficulty": float(difficulty_from_factors(chosen)[0]),
            "factors": {name: float(value[0]) for name, value in chosen.items()},
        }

    def __repr__(self) -> str:
        return f"SyntheticPets(split={self.split!r}, n={self.n}, size={self.size}, seed={self.seed})"
