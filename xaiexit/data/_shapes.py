"""Vectorised drawing primitives: boolean masks of simple shapes for a batch of images.

Every function takes coordinate grids ``x, y`` (any shapes that broadcast, usually
``(1, H, W)`` pixel centres or ``(N, H, W)`` coordinates in a figure's own frame) and
shape parameters that broadcast against them (scalars, or ``(N, 1, 1)`` arrays: one
value per image). It returns a boolean array of the broadcast shape, ``True`` inside
the shape. Drawing a shape into ``N`` images therefore costs one numpy expression,
not a Python loop over images.

A capsule (a segment with round ends) is the workhorse: legs, tails, necks and
droopy ears are all capsules.
"""

from __future__ import annotations

import numpy as np

ArrayLike = float | np.ndarray
Point = tuple[ArrayLike, ArrayLike]


def ellipse(x: np.ndarray, y: np.ndarray, center: Point, axes: Point, angle: ArrayLike = 0.0) -> np.ndarray:
    """Mask of a filled ellipse.

    Parameters
    ----------
    x, y : ndarray
        Coordinates of the points to test.
    center : (cx, cy)
        Centre of the ellipse.
    axes : (a, b)
        Semi-axes along the ellipse's own x and y directions.
    angle : float or ndarray
        Rotation of the ellipse in radians (counter-clockwise in x-right, y-up axes).

    Returns
    -------
    mask : ndarray of bool
        ``True`` where ``(x, y)`` lies inside the ellipse.

    Examples
    --------
    >>> y, x = np.mgrid[0:5, 0:5] + 0.5
    >>> ellipse(x, y, center=(2.5, 2.5), axes=(2.0, 1.0)).sum()
    np.int64(7)
    """
    dx, dy = x - center[0], y - center[1]
    cos, sin = np.cos(angle), np.sin(angle)
    along = (dx * cos + dy * sin) / axes[0]
    across = (dy * cos - dx * sin) / axes[1]
    return along * along + across * across <= 1.0


def disk(x: np.ndarray, y: np.ndarray, center: Point, radius: ArrayLike) -> np.ndarray:
    """Mask of a filled circle of the given ``radius`` around ``center``."""
    return (x - center[0]) ** 2 + (y - center[1]) ** 2 <= np.square(radius)


def capsule(x: np.ndarray, y: np.ndarray, start: Point, end: Point, radius: ArrayLike) -> np.ndarray:
    """Mask of all points closer than ``radius`` to the segment from ``start`` to ``end``.

    The point on the segment nearest to ``(x, y)`` is ``start + t (end - start)`` with
    ``t`` the projection of ``(x, y) - start`` on the segment, clipped to ``[0, 1]``.

    Examples
    --------
    >>> y, x = np.mgrid[0:3, 0:7] + 0.5
    >>> capsule(x, y, start=(1.5, 1.5), end=(5.5, 1.5), radius=0.6).astype(int)
    array([[0, 0, 0, 0, 0, 0, 0],
           [0, 1, 1, 1, 1, 1, 0],
           [0, 0, 0, 0, 0, 0, 0]])
    """
    ex, ey = end[0] - start[0], end[1] - start[1]
    px, py = x - start[0], y - start[1]
    length2 = np.maximum(ex * ex + ey * ey, 1e-12)
    t = np.clip((px * ex + py * ey) / length2, 0.0, 1.0)
    return (px - t * ex) ** 2 + (py - t * ey) ** 2 <= np.square(radius)


def triangle(x: np.ndarray, y: np.ndarray, a: Point, b: Point, c: Point) -> np.ndarray:
    """Mask of the filled triangle with corners ``a``, ``b``, ``c`` (in any order).

    A point is inside when it lies on the same side of all three edges, i.e. the three
    cross products ``edge x (point - edge start)`` share one sign.
    """

    def side(p: Point, q: Point) -> np.ndarray:
        return (q[0] - p[0]) * (y - p[1]) - (q[1] - p[1]) * (x - p[0])

    s1, s2, s3 = side(a, b), side(b, c), side(c, a)
    return ((s1 >= 0) & (s2 >= 0) & (s3 >= 0)) | ((s1 <= 0) & (s2 <= 0) & (s3 <= 0))


def strip(x: np.ndarray, y: np.ndarray, center: Point, width: ArrayLike, angle: ArrayLike) -> np.ndarray:
    """Mask of an infinite straight band of the given ``width`` through ``center``.

    ``angle = 0`` gives a vertical band (like a post); the band turns with ``angle``
    (radians). A width of 0 gives an empty mask.
    """
    distance = (x - center[0]) * np.cos(angle) + (y - center[1]) * np.sin(angle)
    return np.abs(distance) < np.asarray(width) / 2


def dilate(masks: np.ndarray, radius: float) -> np.ndarray:
    """Binary dilation of a batch of masks by a disk of ``radius`` pixels.

    Parameters
    ----------
    masks : ndarray of bool, shape (N, H, W)
    radius : float
        Radius of the disk-shaped structuring element, in pixels (>= 1).

    Returns
    -------
    dilated : ndarray of bool, shape (N, H, W)
        ``True`` wherever a ``True`` pixel of ``masks`` lies within ``radius``.
        Pixels outside the image count as ``False``.

    Notes
    -----
    The dilation is the union of the mask shifted by every offset inside the disk;
    with a handful of offsets this is fast and needs no image library.
    """
    n, h, w = masks.shape
    reach = int(np.floor(radius))
    padded = np.zeros((n, h + 2 * reach, w + 2 * reach), dtype=bool)
    padded[:, reach : reach + h, reach : reach + w] = masks
    out = np.zeros_like(masks)
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            if dx * dx + dy * dy <= radius * radius:
                out |= padded[:, reach + dy : reach + dy + h, reach + dx : reach + dx + w]
    return out


def erode(masks: np.ndarray, radius: float) -> np.ndarray:
    """Binary erosion of a batch of masks by a disk: the dual of :func:`dilate`.

    Pixels outside the image count as foreground, so a mask cut by the image border
    does not erode from there: the border of the picture is not an outline.
    """
    return ~dilate(~masks, radius)
