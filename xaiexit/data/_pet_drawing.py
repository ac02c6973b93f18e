"""How a synthetic cat or dog is drawn: silhouettes made of a few flat shapes.

A pet is drawn in its own frame, in *pet units*: the body is an ellipse about two
units long centred on the origin, the head sits up and to the right (``+u`` points to
the nose, ``+v`` points down, as in image rows). Both classes share the same kind of
parts; they differ in shape only:

=========  ===========================================  ===========================================
part       cat                                          dog
=========  ===========================================  ===========================================
body       slim ellipse                                 thicker ellipse
head       round, no snout                              round with a long snout
ears       two pointed triangles standing up            one floppy ear hanging down behind the head
legs       short and thin                               long and thick
tail       long, thin, curled upwards (3 segments)      short and bushy (1 thick segment)
=========  ===========================================  ===========================================

Colour plays no part here: the silhouette is a boolean mask, painted later with a
colour drawn from the same distribution for both classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xaiexit.data._shapes import capsule, disk, ellipse, triangle

#: Extent of every pet in pet units, ``(u_min, u_max, v_min, v_max)``, with some margin;
#: used to keep a figure inside the picture.
PET_EXTENT = (-1.75, 1.75, -1.2, 1.1)


@dataclass
class Pose:
    """Per-image pose jitter of a figure, each field an array of shape ``(N, 1, 1)``.

    Attributes
    ----------
    aspect : ndarray
        Multiplies the body's height (about 0.9 to 1.1).
    head_du, head_dv : ndarray
        Shift of the head (and ears, snout) in pet units.
    tail_angle : ndarray
        Rotation of the tail around its root, radians.
    front_swing, back_swing : ndarray
        Horizontal offset of the front and back feet, pet units (walking legs).
    """

    aspect: np.ndarray
    head_du: np.ndarray
    head_dv: np.ndarray
    tail_angle: np.ndarray
    front_swing: np.ndarray
    back_swing: np.ndarray

    def subset(self, keep: np.ndarray) -> Pose:
        """The poses of the images selected by the boolean or index array ``keep``."""
        return Pose(**{name: value[keep] for name, value in vars(self).items()})


def _rotate_about(points: list[tuple[float, float]], pivot: tuple[float, float], angle: np.ndarray):
    """Rotate fixed ``points`` around ``pivot`` by a per-image ``angle`` (N, 1, 1)."""
    cos, sin = np.cos(angle), np.sin(angle)
    rotated = []
    for pu, pv in points:
        du, dv = pu - pivot[0], pv - pivot[1]
        rotated.append((pivot[0] + du * cos - dv * sin, pivot[1] + du * sin + dv * cos))
    return rotated


def _tail(u: np.ndarray, v: np.ndarray, points: list[tuple[float, float]], radius: float, angle: np.ndarray):
    """A chain of capsules through ``points`` (the first is the root), turned by ``angle``."""
    joints = [points[0]] + _rotate_about(points[1:], points[0], angle)
    mask = np.zeros(np.broadcast_shapes(u.shape, v.shape), dtype=bool)
    for start, end in zip(joints[:-1], joints[1:]):
        mask |= capsule(u, v, start, end, radius)
    return mask


def _legs(u, v, hips: tuple[float, ...], top: float, bottom: float, radius: float, pose: Pose):
    """Four legs as vertical capsules; the front two (u > 0) swing together, as do the back two."""
    mask = np.zeros(np.broadcast_shapes(u.shape, v.shape), dtype=bool)
    for hip in hips:
        swing = pose.front_swing if hip > 0 else pose.back_swing
        mask |= capsule(u, v, (hip, top), (hip + swing, bottom), radius)
    return mask


def cat_silhouette(u: np.ndarray, v: np.ndarray, pose: Pose) -> np.ndarray:
    """Boolean mask of a cat in pet coordinates ``(u, v)``, both shaped (N, H, W)."""
    hu, hv = 0.95 + pose.head_du, -0.5 + pose.head_dv
    mask = ellipse(u, v, (0.0, 0.0), (0.9, 0.3 * pose.aspect))
    mask |= capsule(u, v, (0.65, -0.1), (hu - 0.05, hv + 0.05), 0.14)  # neck
    mask |= disk(u, v, (hu, hv), 0.3)
    mask |= triangle(u, v, (hu - 0.30, hv - 0.10), (hu - 0.02, hv - 0.28), (hu - 0.26, hv - 0.72))  # ears
    mask |= triangle(u, v, (hu + 0.02, hv - 0.28), (hu + 0.30, hv - 0.10), (hu + 0.24, hv - 0.70))
    mask |= _legs(u, v, hips=(-0.68, -0.48, 0.44, 0.64), top=0.1, bottom=0.62, radius=0.07, pose=pose)
    curl = [(-0.82, -0.05), (-1.18, -0.4), (-1.24, -0.92), (-1.02, -1.15)]  # tail held up
    mask |= _tail(u, v, curl, radius=0.075, angle=pose.tail_angle)
    return mask


def dog_silhouette(u: np.ndarray, v: np.ndarray, pose: Pose) -> np.ndarray:
    """Boolean mask of a dog in pet coordinates ``(u, v)``, both shaped (N, H, W)."""
    hu, hv = 1.0 + pose.head_du, -0.5 + pose.head_dv
    mask = ellipse(u, v, (0.0, 0.02), (1.0, 0.44 * pose.aspect))
    mask |= capsule(u, v, (0.7, -0.1), (hu - 0.04, hv + 0.1), 0.18)  # neck
    mask |= disk(u, v, (hu, hv), 0.32)
    mask |= ellipse(u, v, (hu + 0.42, hv + 0.1), (0.36, 0.16))  # long snout
    mask |= ellipse(u, v, (hu - 0.24, hv + 0.12), (0.14, 0.38), angle=-0.35)  # floppy ear
    mask |= _legs(u, v, hips=(-0.72, -0.46, 0.46, 0.72), top=0.15, bottom=1.0, radius=0.11, pose=pose)
    mask |= _tail(u, v, [(-0.9, -0.1), (-1.3, -0.45)], radius=0.16, angle=pose.tail_angle)
    return mask


def silhouettes(u: np.ndarray, v: np.ndarray, labels: np.ndarray, pose: Pose) -> np.ndarray:
    """Cat (label 0) or dog (label 1) masks for a batch, each drawn only where needed.

    Parameters
    ----------
    u, v : ndarray, shape (N, H, W)
        Pixel coordinates in each image's pet frame.
    labels : ndarray of int, shape (N,)
    pose : Pose
        Jitter arrays shaped (N, 1, 1).

    Returns
    -------
    masks : ndarray of bool, shape (N, H, W)
    """
    masks = np.zeros(u.shape, dtype=bool)
    for label, draw in ((0, cat_silhouette), (1, dog_silhouette)):
        keep = np.flatnonzero(labels == label)
        if keep.size:
            masks[keep] = draw(u[keep], v[keep], pose.subset(keep))
    return masks
