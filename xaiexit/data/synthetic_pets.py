"""SyntheticPets: cats and dogs drawn from flat shapes, with masks, trimaps and difficulty.

Every image shows one cat or one dog on a cluttered background. Because the scene is
drawn, everything about it is known exactly:

* the class (``labels``: 0 = cat, 1 = dog) and where its evidence lies (``evidence``):

  - ``"shape"`` (the default): pointed upright ears and a long curled tail for cats;
    floppy ears, a long snout, long legs and a short bushy tail for dogs. Coat colours
    come from one palette for both classes, so the colour says nothing;
  - ``"colour"``: the coat colour, drawn from two overlapping class palettes, fills the
    flat interior: the shared palette tinted warm for cats and cool for dogs, so that a
    cat's tinted blue-grey is still cooler than a dog's tinted ginger and the tint must
    be read against the colour it tints. The silhouette is drawn independently of the
    class and the rim keeps the untinted colour, so shape and outline say nothing;
  - ``"both"``: the silhouette and the coat colour both follow the class;

* what a part of the picture does for the class: :meth:`SyntheticPets.counterfactual`
  redraws one part (the coat, the rim, the shape or the background) as the other class
  would have it and keeps everything else, so the change of a model's logit is a causal
  measure of that part's evidence;
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

import numpy as np
import torch
from torch.utils.data import Dataset

from xaiexit.data._pet_scene import _render
from xaiexit.data._shapes import dilate, erode

CLASSES = ("cat", "dog")
FACTOR_NAMES = ("contrast", "darkness", "size", "occlusion", "noise")
#: where the class evidence lies, see the module docstring
EVIDENCE = ("shape", "colour", "both")
#: the parts :meth:`SyntheticPets.counterfactual` can redraw as the other class would have them
PARTS = ("coat", "rim", "shape", "background", "class")
#: split name -> (stream id, default number of images)
SPLITS = {"train": (0, 2000), "val": (1, 500), "test": (2, 500)}
#: Smallest image side: below it a small pet's ears and tail are under a pixel wide.
MIN_SIZE = 32

# --- how the factors are drawn: Beta(a, b) each; occlusion only sometimes ------------
FACTOR_PRIORS = {
    "contrast": (0.8, 3.5),
    "darkness": (0.8, 3.5),
    "size": (1.5, 3.0),
    "occlusion": (2.0, 2.5),
    "noise": (0.6, 4.0),
}
P_OCCLUDED = 0.4  # fraction of images with an occluder at all


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
    """The generator for one purpose of one image: 0 = label and factors, 1 = scene,
    2 = the silhouette when it does not follow the class, 3 = counterfactual draws."""
    return np.random.default_rng(np.random.SeedSequence([seed, split_id, index], spawn_key=(purpose,)))


def _draw_label_and_factors(rng: np.random.Generator) -> tuple[int, dict[str, float]]:
    """One image's class and difficulty factors."""
    label = int(rng.integers(2))
    factors = {name: float(rng.beta(*FACTOR_PRIORS[name])) for name in FACTOR_NAMES}
    if rng.random() >= P_OCCLUDED:
        factors["occlusion"] = 0.0
    return label, factors


# --------------------------------------------------------------------------------------
# The dataset
# --------------------------------------------------------------------------------------


def _check_arguments(split: str, n: int | None, size: int, seed: int, evidence: str) -> int:
    """Validate the constructor's arguments; return the number of images."""
    if evidence not in EVIDENCE:
        raise ValueError(f"unknown evidence {evidence!r}; choose one of {', '.join(repr(e) for e in EVIDENCE)}")
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
        Non-negative seed; the same ``(split, n, size, seed, evidence)`` gives bit-identical
        data.
    evidence : {"shape", "colour", "both"}
        Where the class lives: the silhouette (default), the coat colour of the flat
        interior, or both. See the module docstring.

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
    shapes : Tensor, int64, shape (N,)
        The silhouette drawn, 0 = cat, 1 = dog: the label unless ``evidence="colour"``.
    tints : Tensor, float32, shape (N,)
        The coat's tint, +1 warm (cat), -1 cool (dog), 0 none (``evidence="shape"``).

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

    With the class in the coat's colour, the silhouette is drawn independently of it:

    >>> colour = SyntheticPets("val", n=200, evidence="colour")
    >>> 0.35 < float((colour.shapes == colour.labels).float().mean()) < 0.65
    True

    The same scenes with the coat recoloured from the other class's palette:

    >>> recoloured = colour.counterfactual("coat", index=[0, 1])
    >>> recoloured.shape
    torch.Size([2, 3, 64, 64])

    The same scene, only darker (the scene's own randomness is kept):

    >>> dark = ds.variant(0, darkness=1.0)
    >>> bool(dark["image"].mean() < ds.images[0].mean())
    True
    """

    classes = CLASSES

    def __init__(
        self, split: str = "train", n: int | None = None, size: int = 64, seed: int = 0, evidence: str = "shape"
    ) -> None:
        self.n = _check_arguments(split, n, size, seed, evidence)
        self.split, self.size, self.seed, self.evidence = split, int(size), int(seed), evidence
        self._split_id = SPLITS[split][0]

        labels, factors = self._draw_labels_and_factors()
        shapes = np.array([self._shape_for(i, label) for i, label in enumerate(labels)], dtype=np.int64)
        tints = np.array([self._tint_for(label) for label in labels], dtype=np.float32)
        images, masks = _render(shapes, tints, factors, [self._scene_rng(i) for i in range(self.n)], self.size)
        trimaps = trimap_from_mask(masks, band_radius(self.size))

        self.images = torch.from_numpy(images)
        self.labels = torch.from_numpy(labels.astype(np.int64))
        self.shapes = torch.from_numpy(shapes)
        self.tints = torch.from_numpy(tints)
        self._factors_np = factors
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

    def _shape_for(self, index: int, label: int) -> int:
        """The silhouette: the label, or an independent draw when only colour is evidence."""
        if self.evidence == "colour":
            return int(_stream(self.seed, self._split_id, index, purpose=2).integers(2))
        return int(label)

    def _tint_for(self, label: int) -> float:
        """The coat's tint: warm for a cat, cool for a dog, none when colour is no evidence."""
        return 0.0 if self.evidence == "shape" else (1.0 if label == 0 else -1.0)

    def counterfactual(self, part: str, index=None, with_masks: bool = False):
        """The images with one part redrawn as the other class would have it.

        Everything else (position, pose, clutter, factors, noise) is kept, so the change
        of a model's logit between ``images[i]`` and ``counterfactual(part)[i]`` measures
        what that part of image ``i`` does for the model's decision.

        Parameters
        ----------
        part : {"coat", "rim", "shape", "background", "class"}
            ``"coat"``: the flat interior takes a colour drawn from the other class's
            palette (with ``evidence="shape"`` both classes share one palette, so this is
            a random recolouring); ``"rim"``: the outline takes the rim colour of such a
            draw; ``"shape"``: the other class's silhouette, in the same pose and colours;
            ``"background"``: a freshly drawn background and clutter behind the same pet;
            ``"class"``: the other class in the same scene, all its evidence changed and
            nothing else (the other silhouette where shape is evidence, the other tint of
            the same coat colour where colour is), as :meth:`variant` with the other label.
        index : int, sequence of int or None
            Which images (default: all).
        with_masks : bool
            Also return the counterfactual scenes' pet masks.

        Returns
        -------
        images : Tensor, float32, shape (len(index), 3, size, size)
        masks : Tensor, bool, shape (len(index), size, size)
            Only with ``with_masks=True``. They differ from ``masks`` where the silhouette
            changed (``"shape"``, and ``"class"`` when shape is evidence).
        """
        if part not in PARTS:
            raise ValueError(f"unknown part {part!r}; choose one of {', '.join(repr(p) for p in PARTS)}")
        chosen = range(self.n) if index is None else np.atleast_1d(np.asarray(index, dtype=np.int64))
        chosen = [range(self.n)[int(i)] for i in chosen]  # negative indices, IndexError
        factors = {name: value[chosen] for name, value in self._factors_np.items()}
        shapes, tints = self.shapes.numpy()[chosen], self.tints.numpy()[chosen]
        scenes = [self._scene_rng(i) for i in chosen]
        if part == "class":
            other = 1 - self.labels.numpy()[chosen]
            shapes = np.array([self._shape_for(i, label) for i, label in zip(chosen, other)], dtype=np.int64)
            images, masks = _render(shapes, -tints, factors, scenes, self.size)
        else:
            fresh = [_stream(self.seed, self._split_id, i, purpose=3) for i in chosen]
            images, masks = _render(shapes, tints, factors, scenes, self.size, change=part, fresh_rngs=fresh)
        if with_masks:
            return torch.from_numpy(images), torch.from_numpy(masks)
        return torch.from_numpy(images)

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
        the other animal (its shape and coat tint as the evidence kind decides). This makes
        controlled experiments possible.

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
        shape = self._shape_for(index, label)
        tint = self._tint_for(label)
        images, masks = _render(
            np.array([shape]), np.array([tint], dtype=np.float32), chosen, [self._scene_rng(index)], self.size
        )
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
        evidence = "" if self.evidence == "shape" else f", evidence={self.evidence!r}"
        return f"SyntheticPets(split={self.split!r}, n={self.n}, size={self.size}, seed={self.seed}{evidence})"
