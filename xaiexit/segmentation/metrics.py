"""How good is a segmentation? Overlap, pixel error and the adapted Rand error.

- :func:`iou` (Jaccard) and :func:`dice` compare a predicted mask with the true one;
  ``Dice = 2 IoU / (1 + IoU)``;
- :func:`pixel_error`: the share of pixels with the wrong class;
- :func:`adapted_rand_error`: compares two *instance* labellings by pairs of pixels (are
  two pixels in the same cell in both?), so merging two touching cells costs a lot even
  when only a thin border is wrong - the measure the ISBI 2012 challenge ranked U-Net by;
- :func:`class_iou`: per-class IoU over a batch, optionally ignoring one class of the
  *target* (the Oxford-IIIT Pet trimap's "not classified" border).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import ndimage


def _pair(pred, target):
    pred, target = torch.as_tensor(pred), torch.as_tensor(target)
    if pred.shape != target.shape:
        raise ValueError(
            f"pred {tuple(pred.shape)} and target {tuple(target.shape)} must have the same shape; "
            "crop the target to a valid U-Net's output with center_crop"
        )
    return pred, target


def iou(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Intersection over union of two binary masks (any shape, all pixels pooled).

    ``|pred AND target| / |pred OR target|``; nonzero values count as True. When both masks
    are empty the union is empty too: they agree perfectly and the IoU is 1.

    Examples
    --------
    >>> iou(torch.tensor([1, 1, 0, 0]), torch.tensor([0, 1, 1, 0]))
    0.3333333333333333
    >>> iou(torch.zeros(3, 3), torch.zeros(3, 3))
    1.0
    """
    pred, target = _pair(pred, target)
    pred, target = pred != 0, target != 0
    union = int((pred | target).sum())
    return 1.0 if union == 0 else int((pred & target).sum()) / union


def dice(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Dice coefficient ``2 |A and B| / (|A| + |B|)`` of two binary masks; 1 when both are empty.

    Examples
    --------
    >>> dice(torch.tensor([1, 1, 0, 0]), torch.tensor([0, 1, 1, 0]))
    0.5
    """
    pred, target = _pair(pred, target)
    pred, target = pred != 0, target != 0
    total = int(pred.sum() + target.sum())
    return 1.0 if total == 0 else 2 * int((pred & target).sum()) / total


def pixel_error(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Share of pixels whose class differs: ``mean(pred != target)``.

    Examples
    --------
    >>> pixel_error(torch.tensor([0, 1, 2, 2]), torch.tensor([0, 1, 1, 2]))
    0.25
    """
    pred, target = _pair(pred, target)
    return float((pred != target).double().mean())


def adapted_rand_error(segmentation, truth, ignore_labels=(0,)) -> tuple:
    """Adapted Rand error between an instance segmentation and the true instances.

    With ``n_ij`` the number of pixels in true segment ``i`` and predicted segment ``j``
    (pixels whose *true* label is in ``ignore_labels`` left out), ``a_i`` and ``b_j`` the
    segment sizes and ``S = sum n_ij^2 - N``:

    precision = ``S / (sum a_i^2 - N)``, recall = ``S / (sum b_j^2 - N)``, and the error
    ``1 - 2 P R / (P + R)``. Equal to scikit-image's ``adapted_rand_error(truth,
    segmentation)``.

    Parameters
    ----------
    segmentation, truth : (H, W) integer arrays or tensors of instance labels

    Returns
    -------
    (error, precision, recall) : floats

    Examples
    --------
    >>> truth = np.array([[1, 1, 2, 2]])
    >>> adapted_rand_error(np.array([[1, 1, 1, 1]]), truth)[0]   # two cells merged into one
    0.5
    """
    seg = np.asarray(segmentation.cpu() if isinstance(segmentation, torch.Tensor) else segmentation).ravel()
    true = np.asarray(truth.cpu() if isinstance(truth, torch.Tensor) else truth).ravel()
    if seg.shape != true.shape:
        raise ValueError(
            f"segmentation and truth must have the same shape, got {np.shape(segmentation)} and {np.shape(truth)}"
        )
    keep = ~np.isin(true, list(ignore_labels))
    seg, true = seg[keep].astype(np.int64), true[keep].astype(np.int64)
    n = len(true)
    _, true_ids = np.unique(true, return_inverse=True)
    _, seg_ids = np.unique(seg, return_inverse=True)
    pairs = np.unique(true_ids * (seg_ids.max(initial=0) + 1) + seg_ids, return_counts=True)[1]
    a = np.bincount(true_ids).astype(np.float64)
    b = np.bincount(seg_ids).astype(np.float64)
    s = float(pairs.astype(np.float64) @ pairs - n)
    sum_a2, sum_b2 = float(a @ a - n), float(b @ b - n)
    precision = s / sum_a2 if sum_a2 > 0 else math.nan
    recall = s / sum_b2 if sum_b2 > 0 else math.nan
    denominator = 0.5 * sum_a2 + 0.5 * sum_b2
    error = 1.0 - s / denominator if denominator > 0 else 0.0
    return error, precision, recall


def class_iou(
    pred: torch.Tensor, target: torch.Tensor, num_classes: int, ignore_index: int | None = None
) -> torch.Tensor:
    """IoU of every class over a batch of label maps: ``(num_classes,)`` float64.

    Pixels whose target is ``ignore_index`` are left out (whatever was predicted there),
    and that class gets ``nan``. A class absent from both prediction and target also gets
    ``nan``. ``mean`` of the finite values is the mean IoU; it equals torchmetrics'
    ``JaccardIndex(task="multiclass", num_classes=K, ignore_index=...)``.

    Examples
    --------
    >>> pred, target = torch.tensor([0, 0, 1, 1, 2]), torch.tensor([0, 1, 1, 2, 2])
    >>> class_iou(pred, target, 3, ignore_index=2)       # the last two pixels are ignored
    tensor([0.5000, 0.5000,    nan], dtype=torch.float64)
    """
    pred, target = _pair(pred, target)
    pred, target = pred.flatten().long(), target.flatten().long()
    if ignore_index is not None:
        keep = target != ignore_index
        pred, target = pred[keep], target[keep]
    out = torch.full((num_classes,), math.nan, dtype=torch.float64)
    for k in range(num_classes):
        if k == ignore_index:
            continue
        union = int(((pred == k) | (target == k)).sum())
        if union:
            out[k] = int(((pred == k) & (target == k)).sum()) / union
    return out


def touching_pairs(instances, gap: float = 3.0) -> list:
    """Pairs ``(i, j)``, ``i < j``, of cells closer than ``gap`` pixels: the cells a
    separation border keeps apart.

    Examples
    --------
    >>> labels = np.array([[1, 1, 0, 2, 2, 0, 0, 0, 0, 3]])
    >>> touching_pairs(labels)
    [(1, 2)]
    """
    labels = np.asarray(instances.cpu() if isinstance(instances, torch.Tensor) else instances)
    ids = [int(i) for i in np.unique(labels) if i > 0]
    pairs = []
    for a, i in enumerate(ids):
        distance = ndimage.distance_transform_edt(labels != i)
        for j in ids[a + 1 :]:
            if distance[labels == j].min() <= gap:
                pairs.append((i, j))
    return pairs


def connected_components(mask) -> np.ndarray:
    """Instance labels of a binary mask: its 4-connected components numbered 1..n."""
    mask = np.asarray(mask.cpu() if isinstance(mask, torch.Tensor) else mask) != 0
    return ndimage.label(mask)[0]


def separated_share(pred_mask, instances, gap: float = 3.0) -> float:
    """Share of the touching pairs of true cells that the predicted mask keeps apart.

    Each true cell is assigned the predicted connected component covering most of its
    pixels (none when most are background); a pair is separated when both cells have a
    component and the components differ. ``nan`` when the image has no touching pair.

    Examples
    --------
    >>> truth = np.array([[1, 1, 0, 2, 2]])
    >>> separated_share(np.array([[1, 1, 0, 1, 1]]), truth), separated_share(np.ones((1, 5)), truth)
    (1.0, 0.0)
    """
    truth = np.asarray(instances.cpu() if isinstance(instances, torch.Tensor) else instances)
    pairs = touching_pairs(truth, gap)
    if not pairs:
        return math.nan
    components = connected_components(pred_mask)
    owner = {}
    for i in {k for pair in pairs for k in pair}:
        found = components[truth == i]
        counts = np.bincount(found, minlength=1)
        owner[i] = int(counts.argmax()) if counts.argmax() > 0 and counts.max() * 2 > len(found) else 0
    separated = [owner[i] != 0 and owner[j] != 0 and owner[i] != owner[j] for i, j in pairs]
    return float(np.mean(separated))
