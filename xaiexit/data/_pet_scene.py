"""How a SyntheticPets scene is drawn: colours, clutter, the pet, the occluder, noise.

Each scene is painted from its own vector of uniform random numbers (:class:`_Uniforms`
hands out its columns in order), so that a scene can be redrawn with one part changed
and everything else kept. :mod:`xaiexit.data.synthetic_pets` decides what to draw (labels,
difficulty factors, where the evidence lies); this module draws it.
"""

from __future__ import annotations

import math

import numpy as np

from xaiexit.data._pet_drawing import PET_EXTENT, Pose, silhouettes
from xaiexit.data._shapes import ellipse, erode, strip

#: colour evidence: coats are tinted by this much, +R -B for cats (warm) and -R +B for dogs (cool);
#: the class palettes overlap: a tinted colour of one class can be warmer than another colour of the other
COAT_TINT = 0.10
TINT_DIRECTION = np.array([1.0, 0.0, -1.0], dtype=np.float32)

# --- how the factors act; each pair is (value at factor 0, value at factor 1) ---------
PET_SCALE = (0.30, 0.13)  # one pet unit, as a fraction of the image side
COLOUR_DISTANCE = (0.62, 0.08)  # RGB distance between pet and background colour
BRIGHTNESS = (1.0, 0.18)  # the scene is multiplied by this
NOISE_STD = (0.0, 0.2)  # standard deviation of the added Gaussian noise
OCCLUDER_WIDTH = (0.0, 1.6)  # width of the occluding post, in pet units


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


def _tinted(colours: np.ndarray, tints: np.ndarray) -> np.ndarray:
    """Coat colours (N, 3) tinted by ``tints`` (N,): +1 warm (cat), -1 cool (dog), 0 none."""
    return np.clip(colours + COAT_TINT * tints[:, None] * TINT_DIRECTION, 0.0, 1.0)


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
    shapes: np.ndarray,
    tints: np.ndarray,
    factors: dict[str, np.ndarray],
    table: np.ndarray,
    noise: np.ndarray,
    size: int,
    change: str | None = None,
    fresh: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw a chunk of scenes.

    Parameters
    ----------
    shapes : ndarray of int, shape (N,)
        The silhouette to draw: 0 cat, 1 dog.
    tints : ndarray of float, shape (N,)
        Coat tint: +1 warm (cat), -1 cool (dog), 0 none (colour is no evidence).
    factors : dict of str to ndarray, each shape (N,)
    table : ndarray, shape (N, N_UNIFORMS)
        Each scene's uniform random numbers.
    noise : ndarray of float32, shape (N, 3, size, size)
        Standard normal noise, scaled by the noise factor here.
    size : int
    change : one of :data:`PARTS`, optional
        Redraw that part as the other class would have it; everything else is kept.
    fresh : ndarray, shape (N, N_UNIFORMS), optional
        Uniform random numbers for the redrawn part (needed with ``change``).

    Returns
    -------
    images : ndarray of float32, shape (N, 3, size, size), in [0, 1]
    masks : ndarray of bool, shape (N, size, size)
    """
    draws = _Uniforms(table)
    f = {name: np.asarray(value, dtype=np.float32)[:, None, None] for name, value in factors.items()}
    y, x = (np.mgrid[0:size, 0:size].astype(np.float32) + 0.5)[:, None]  # each (1, H, W)

    base = _palette_colour(draws)  # the untinted coat: rim and background follow it
    coat, rim_colour = _tinted(base, tints), OUTLINE_SHADE * base
    if change in ("coat", "rim"):
        other = _tinted(_palette_colour(_Uniforms(fresh)), -tints)  # from the other class's palette
        coat, rim_colour = (other, rim_colour) if change == "coat" else (coat, OUTLINE_SHADE * other)

    # the background and its clutter; a redrawn background uses fresh numbers, and the pet
    # then takes the same numbers as before
    scenery = _Uniforms(fresh) if change == "background" else draws
    before = scenery.used
    background = _background_colour(base, lerp(COLOUR_DISTANCE, f["contrast"][:, :, 0]), scenery)
    images = np.broadcast_to(background[:, :, None, None], (len(shapes), 3, size, size)).copy()
    _clutter(images, x, y, size, background, scenery)
    if scenery is not draws:
        draws.take(scenery.used - before)

    u, v, (cx, cy, unit) = _pet_frame(x, y, size, f["size"], draws)
    pet = silhouettes(u, v, 1 - shapes if change == "shape" else shapes, _draw_pose(draws))
    _paint(images, pet, coat)
    if OUTLINE:
        _paint(images, _rim(pet, size), rim_colour)

    post_center = (cx + draws.uniform(-0.9, 0.9) * unit, cy)
    post = strip(x, y, post_center, lerp(OCCLUDER_WIDTH, f["occlusion"]) * unit, draws.uniform(-0.35, 0.35))
    _paint(images, post, _colour_near(background, draws, 0.1, 0.45))

    images *= lerp(BRIGHTNESS, f["darkness"])[:, None]
    images += lerp(NOISE_STD, f["noise"])[:, None] * noise
    np.clip(images, 0.0, 1.0, out=images)
    return images.astype(np.float32), pet & ~post


def _render(
    shapes: np.ndarray,
    tints: np.ndarray,
    factors: dict[str, np.ndarray],
    scene_rngs: list[np.random.Generator],
    size: int,
    change: str | None = None,
    fresh_rngs: list[np.random.Generator] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Render all scenes, :data:`CHUNK` at a time; each scene draws from its own generator
    (and a redrawn part from its own ``fresh_rngs`` generator)."""
    n = len(shapes)
    images = np.empty((n, 3, size, size), dtype=np.float32)
    masks = np.empty((n, size, size), dtype=bool)
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        rngs = scene_rngs[start:stop]
        table = np.stack([rng.random(N_UNIFORMS, dtype=np.float32) for rng in rngs])
        noise = np.stack([rng.standard_normal((3, size, size), dtype=np.float32) for rng in rngs])
        fresh = None
        if change is not None:
            fresh = np.stack([rng.random(N_UNIFORMS, dtype=np.float32) for rng in fresh_rngs[start:stop]])
        chunk_factors = {name: value[start:stop] for name, value in factors.items()}
        images[start:stop], masks[start:stop] = _render_chunk(
            shapes[start:stop], tints[start:stop], chunk_factors, table, noise, size, change, fresh
        )
    return images, masks
