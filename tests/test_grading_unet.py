"""Lesson 6's hidden tests, called directly (no notebook): they pass the reference and
answers written as a learner would, name every catalogued mistake (also when it is pasted
into a notebook as an answer cell, where it costs its own exercise only), accept the
variants the catalogue declares harmless, and resist forged answers and changed inputs."""

import copy
import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage
from test_grading_gradient_saliency import AlwaysEqual, FakeTensor
from torch import nn

from xaiexit import segmentation
from xaiexit.models import UNet, center_crop, unet_output_size
from xaiexit.segmentation import mirror_pad, warp
from xaiexit_grading import GradingError
from xaiexit_grading import unet as grading
from xaiexit_grading import unet_mistakes as mistakes

from course_helpers import LESSON6

pytestmark = pytest.mark.usefixtures("one_thread")

REFERENCES = {
    "center_crop": center_crop,
    "unet_output_size": unet_output_size,
    "weight_map": segmentation.weight_map,
    "weighted_cross_entropy": segmentation.weighted_cross_entropy,
    "elastic_deform": segmentation.elastic_deform,
    "overlap_tile_predict": segmentation.overlap_tile_predict,
    "iou": segmentation.iou,
}

# Right answers as a learner writes them in the notebook's answer cells: float32 weights
# from NumPy, a Python float from iou, and overlap_tile_predict calling the answer to
# Exercise 2 (unet_output_size) where model.output_size would do.
ANSWERS = """
def center_crop(features, size):
    if isinstance(size, int):
        size = (size, size)
    h, w = size
    H, W = features.shape[2], features.shape[3]
    top, left = (H - h) // 2, (W - w) // 2
    return features[:, :, top:top + h, left:left + w]


def unet_output_size(input_size, depth=4):
    size = input_size
    for _ in range(depth):
        size = size - 4
        if size < 2 or size % 2 == 1:
            raise ValueError(f"input size {input_size} does not fit a U-Net of depth {depth}")
        size = size // 2
    size = size - 4
    for _ in range(depth):
        size = 2 * size - 4
    if size < 1:
        raise ValueError(f"input size {input_size} is too small for a U-Net of depth {depth}")
    return size


def weight_map(instance_labels, w0=10, sigma=5, class_weights="balanced"):
    labels = np.asarray(instance_labels)
    wc = np.ones(labels.shape)
    if class_weights == "balanced":
        cells = labels > 0
        n, n_cells = labels.size, cells.sum()
        if 0 < n_cells < n:
            wc = np.where(cells, n / (2 * n_cells), n / (2 * (n - n_cells)))
    ids = [i for i in np.unique(labels) if i != 0]
    if len(ids) < 2:
        return torch.tensor(wc, dtype=torch.float32)
    d = np.sort(np.stack([ndimage.distance_transform_edt(labels != i) for i in ids]), axis=0)
    border = w0 * np.exp(-(d[0] + d[1]) ** 2 / (2 * sigma ** 2))
    return torch.tensor(wc + border * (labels == 0), dtype=torch.float32)


def weighted_cross_entropy(logits, target, weights):
    ce = F.cross_entropy(logits, target, reduction="none")
    return (weights * ce).mean()


def elastic_deform(image, mask, grid=3, sigma=10.0, generator=None):
    H, W = mask.shape
    coarse = torch.randn(1, 2, grid, grid, generator=generator) * sigma
    field = F.interpolate(coarse, size=(H, W), mode="bicubic", align_corners=True)[0]
    warped = warp(image, field, "bicubic")
    warped_mask = warp(mask[None].float(), field, "nearest")[0].round().to(mask.dtype)
    return warped, warped_mask


def overlap_tile_predict(model, image, tile, stride=None):
    out = unet_output_size(tile, model.depth)
    if stride is None:
        stride = out // 2 ** model.depth * 2 ** model.depth
    margin = (tile - out) // 2
    H, W = image.shape[1:]
    ny = max(1, math.ceil((H - out) / stride) + 1)
    nx = max(1, math.ceil((W - out) / stride) + 1)
    height, width = (ny - 1) * stride + out, (nx - 1) * stride + out
    padded = mirror_pad(image, margin, margin + height - H, margin, margin + width - W)
    scores = torch.zeros(model.num_classes, height, width, dtype=image.dtype)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for i in range(ny):
            for j in range(nx):
                y, x = i * stride, j * stride
                scores[:, y:y + out, x:x + out] = model(padded[None, :, y:y + tile, x:x + tile])[0]
    model.train(was_training)
    return scores[:, :H, :W]


def iou(pred, target):
    pred, target = pred != 0, target != 0
    union = (pred | target).sum().item()
    if union == 0:
        return 1.0
    return (pred & target).sum().item() / union
"""


def notebook_namespace() -> dict:
    """What an answer cell of Lesson 6 sees: the setup cell's imports and given helpers."""
    return {
        "copy": copy,
        "math": math,
        "np": np,
        "torch": torch,
        "nn": nn,
        "F": F,
        "ndimage": ndimage,
        "warp": warp,
        "mirror_pad": mirror_pad,
        "UNet": UNet,
    }


def answered_namespace() -> dict:
    """A notebook with every exercise answered right."""
    namespace = notebook_namespace()
    exec(ANSWERS, namespace)
    return namespace


@pytest.mark.parametrize("exercise", list(REFERENCES))
def test_reference_passes(exercise):
    grading.CHECKS[exercise](REFERENCES[exercise])


@pytest.mark.parametrize("exercise", list(REFERENCES))
def test_answers_written_as_a_learner_would_pass(exercise):
    grading.CHECKS[exercise](answered_namespace()[exercise])


def test_the_required_mistakes_are_catalogued():
    required = {
        "weight_map": {"sigma_not_squared", "difference"},
        "weighted_cross_entropy": {"divided_by_weight_sum", "log_of_softmax"},
        "elastic_deform": {"mask_bilinear", "dense_noise", "bilinear_grid", "ignores_generator"},
        "overlap_tile_predict": {"full_output_stride", "zero_padding", "train_mode", "not_cropped"},
        "iou": {"empty_union", "dice"},
    }
    for exercise, names in required.items():
        assert names <= {m.name for m in mistakes.of(exercise)}, exercise


@pytest.mark.parametrize("mistake", mistakes.CATALOGUE, ids=lambda m: f"{m.exercise}-{m.name}")
def test_each_mistake_pasted_as_an_answer_cell_costs_its_exercise_only(mistake):
    namespace = answered_namespace()
    exec(LESSON6.mistake_source(mistake), namespace)
    for exercise, check in grading.CHECKS.items():
        if exercise != mistake.exercise:
            check(namespace[exercise])  # e.g. a wrong unet_output_size does not fail overlap_tile_predict
            continue
        with pytest.raises(GradingError) as info:
            check(namespace[exercise])
        assert mistake.message in str(info.value)
        assert str(info.value).startswith(mistake.exercise)


@pytest.mark.parametrize("helper", ["unet_output_size", "center_crop"])
def test_a_wrong_earlier_answer_is_not_counted_again(helper):
    for wrong in mistakes.of(helper):
        namespace = answered_namespace()
        exec(LESSON6.mistake_source(wrong), namespace)
        learners = namespace[helper]
        with pytest.raises(GradingError):
            grading.CHECKS[helper](learners)
        grading.check_overlap_tile_predict(namespace["overlap_tile_predict"])
        assert namespace[helper] is learners  # the learner's own answer is back


# --- variants the catalogue declares harmless ----------------------------------------------


def crop_with_narrow(features, size):
    h, w = (size, size) if isinstance(size, int) else size
    top, left = (features.shape[-2] - h) // 2, (features.shape[-1] - w) // 2
    return features.narrow(-2, top, h).narrow(-1, left, w).clone()


def output_size_recursive(input_size, depth=4):
    def down(size, levels):
        if levels == 0:
            return size - 4
        if size - 4 < 2 or (size - 4) % 2:
            raise ValueError("illegal")
        return down((size - 4) // 2, levels - 1)

    size = down(input_size, depth)
    for _ in range(depth):
        size = 2 * size - 4
    if size < 1:
        raise ValueError("too small")
    return size


def weights_as_numpy(instance_labels, w0=10, sigma=5, class_weights="balanced"):
    return segmentation.weight_map(instance_labels, w0, sigma, class_weights).double().numpy()


def weights_with_partition(instance_labels, w0=10, sigma=5, class_weights="balanced"):
    labels = instance_labels.numpy()
    counts = np.bincount((labels > 0).ravel(), minlength=2)
    wc = np.ones(labels.shape)
    if class_weights == "balanced" and counts.min() > 0:
        wc = (labels.size / (2.0 * counts))[(labels > 0).astype(int)]
    ids = np.unique(labels)[1:] if (labels == 0).any() else np.unique(labels)
    if len(ids) < 2:
        return torch.from_numpy(wc)
    d = np.partition(np.stack([ndimage.distance_transform_edt(labels != i) for i in ids]), 1, axis=0)
    return torch.from_numpy(wc + np.where(labels == 0, w0 * np.exp(-((d[0] + d[1]) ** 2) / (2 * sigma**2)), 0))


def cross_entropy_by_gather(logits, target, weights):
    logp = F.log_softmax(logits.double(), dim=1)
    return -(weights * logp.gather(1, target[:, None])[:, 0]).mean()


def deform_columns_first_bilinear(image, mask, grid=3, sigma=10.0, generator=None):
    H, W = mask.shape
    columns = torch.normal(0.0, 1.0, (grid, grid), generator=generator) * sigma
    rows = torch.normal(0.0, 1.0, (grid, grid), generator=generator) * sigma
    field = F.interpolate(torch.stack([rows, columns])[None], size=(H, W), mode="bicubic", align_corners=True)[0]
    return warp(image, field, "bilinear"), warp(mask[None].float(), field, "nearest")[0].long().to(mask.dtype)


def deform_axes_swapped(image, mask, grid=3, sigma=10.0, generator=None):
    H, W = mask.shape
    coarse = torch.randn(1, 2, grid, grid, generator=generator, dtype=torch.float64) * sigma
    field = F.interpolate(coarse, size=(H, W), mode="bicubic", align_corners=True)[0].flip(0).float()
    return warp(image, field, "bicubic"), warp(mask[None].float(), field, "nearest")[0].round().to(mask.dtype)


def _tiling(model, image, tile, stride):
    out = model.output_size(tile)
    step = 2**model.depth
    stride = stride or out // step * step
    return out, stride, (tile - out) // 2


def tiles_averaged(model, image, tile, stride=None):
    out, stride, margin = _tiling(model, image, tile, stride)
    H, W = image.shape[1:]
    ny, nx = math.ceil((H - out) / stride) + 1, math.ceil((W - out) / stride) + 1
    height, width = (ny - 1) * stride + out, (nx - 1) * stride + out
    padded = mirror_pad(image, margin, margin + height - H, margin, margin + width - W)
    total = torch.zeros(model.num_classes, height, width, dtype=image.dtype)
    count = torch.zeros(1, height, width, dtype=image.dtype)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for y in range(0, height - out + 1, stride):
            for x in range(0, width - out + 1, stride):
                total[:, y : y + out, x : x + out] += model(padded[None, :, y : y + tile, x : x + tile])[0]
                count[:, y : y + out, x : x + out] += 1
    model.train(was_training)
    return (total / count)[:, :H, :W]


def tiles_batched_reflect_pad(model, image, tile, stride=None):
    """F.pad(mode="reflect"), tiles from range(0, H, stride) (more than needed), one batch,
    a float32 canvas."""
    out, stride, margin = _tiling(model, image, tile, stride)
    H, W = image.shape[1:]
    starts_y, starts_x = list(range(0, H, stride)), list(range(0, W, stride))
    height, width = starts_y[-1] + out, starts_x[-1] + out
    padded = F.pad(image[None], (margin, margin + width - W, margin, margin + height - H), mode="reflect")[0]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        batch = torch.stack([padded[:, y : y + tile, x : x + tile] for y in starts_y for x in starts_x])
        pieces = iter(model(batch))
    model.train(was_training)
    scores = torch.zeros(model.num_classes, height, width)
    for y in starts_y:
        for x in starts_x:
            scores[:, y : y + out, x : x + out] = next(pieces)
    return scores[:, :H, :W]


def iou_as_tensor(pred, target):
    return torch.tensor(segmentation.iou(pred, target))


def iou_with_numpy(pred, target):
    p, t = np.asarray(pred) != 0, np.asarray(target) != 0
    return np.float64(1.0) if not (p | t).any() else np.logical_and(p, t).sum() / np.logical_or(p, t).sum()


def iou_smoothed(pred, target):
    p, t = pred.bool(), target.bool()
    return (((p & t).sum() + 1e-6) / ((p | t).sum() + 1e-6)).item()


@pytest.mark.parametrize(
    "exercise, answer",
    [
        ("center_crop", crop_with_narrow),
        ("unet_output_size", output_size_recursive),
        ("weight_map", weights_as_numpy),
        ("weight_map", weights_with_partition),
        ("weighted_cross_entropy", cross_entropy_by_gather),
        ("elastic_deform", deform_columns_first_bilinear),
        ("elastic_deform", deform_axes_swapped),
        ("overlap_tile_predict", tiles_averaged),
        ("overlap_tile_predict", tiles_batched_reflect_pad),
        ("iou", iou_as_tensor),
        ("iou", iou_with_numpy),
        ("iou", iou_smoothed),
    ],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_harmless_variants_pass(exercise, answer):
    grading.CHECKS[exercise](answer)


def test_float32_and_float64_answers_pass():
    """Float32 or float64 results pass: the tolerance is float32's."""
    grading.check_center_crop(lambda features, size: center_crop(features, size).double())
    grading.check_weight_map(lambda labels, *args: segmentation.weight_map(labels, *args).double())
    grading.check_overlap_tile_predict(
        lambda model, image, tile, stride=None: segmentation.overlap_tile_predict(model, image, tile, stride).float()
    )


# --- what else a check catches ----------------------------------------------------------


def test_a_wrong_answer_outside_the_catalogue_gets_the_size_of_its_error():
    def off(instance_labels, w0=10, sigma=5, class_weights="balanced"):
        return 1.01 * segmentation.weight_map(instance_labels, w0, sigma, class_weights)

    with pytest.raises(GradingError, match="weight_map gives a wrong result on two discs one pixel apart"):
        grading.check_weight_map(off)

    with pytest.raises(GradingError, match="iou returns 0.581429 .*the correct IoU is 0.571429"):
        grading.check_iou(lambda pred, target: segmentation.iou(pred, target) + 0.01)

    with pytest.raises(GradingError, match="returns 389 for input_size=572.*; the correct output size is 388"):
        grading.check_unet_output_size(lambda input_size, depth=4: unet_output_size(input_size, depth) + 1)


def test_unet_output_size_must_raise_for_illegal_sizes_and_only_for_them():
    def never_raises(input_size, depth=4):
        try:
            return unet_output_size(input_size, depth)
        except ValueError:
            return -1

    with pytest.raises(GradingError, match="returns -1 for input_size=570.*raise a ValueError"):
        grading.check_unet_output_size(never_raises)

    def too_strict(input_size, depth=4):
        if input_size > 500:
            raise ValueError("too large")
        return unet_output_size(input_size, depth)

    with pytest.raises(GradingError, match="raises ValueError for input_size=572.*legal size: the output size is 388"):
        grading.check_unet_output_size(too_strict)

    class IllegalSize(ValueError):
        pass

    def own_error(input_size, depth=4):
        try:
            return unet_output_size(input_size, depth)
        except ValueError as err:
            raise IllegalSize(str(err)) from None

    grading.check_unet_output_size(own_error)  # a subclass of ValueError is a ValueError

    with pytest.raises(GradingError, match="must return an int, got Tensor: convert it with int"):
        grading.check_unet_output_size(lambda input_size, depth=4: torch.tensor(unet_output_size(input_size, depth)))


def test_unet_output_size_is_called_with_the_learners_signature_only():
    calls = []

    def recording(*args, **kwargs):
        assert len(args) in (1, 2) and not kwargs
        calls.append(args)
        return unet_output_size(*args)

    grading.check_unet_output_size(recording)
    assert {len(args) for args in calls} == {1, 2}


def test_overlap_tile_predict_relies_on_the_default_stride():
    """Some calls leave the stride out, and on the depth-3 U-Net the output tile (28) is not
    a multiple of 2 ** 3, so a default stride of 28 gives seams."""
    calls = []

    def recording(model, image, tile, stride=None, **kwargs):
        calls.append("stride" in kwargs or stride is not None)
        return segmentation.overlap_tile_predict(model, image, tile, stride)

    grading.check_overlap_tile_predict(recording)
    assert False in calls and True in calls
    model = UNet(1, 2, depth=3, base_width=4).double().eval()
    image = torch.rand(1, 76, 64, dtype=torch.float64)
    right = segmentation.whole_image_predict(model, image)
    assert torch.allclose(segmentation.overlap_tile_predict(model, image, 116), right, atol=1e-10)
    assert not torch.allclose(segmentation.overlap_tile_predict(model, image, 116, stride=28), right, atol=1e-3)


def test_the_golden_gap_pixel_of_the_weight_map():
    labels = grading._two_discs()
    assert labels[5, 9] == 1 and labels[5, 10] == 0 and labels[5, 11] == 2
    weights = segmentation.weight_map(labels, class_weights=None)
    assert math.isclose(float(weights[5, 10]), 1 + 10 * math.exp(-4 / 50), rel_tol=1e-6)


def test_a_loss_returned_as_a_float_is_named_as_detached():
    def item(logits, target, weights):
        return segmentation.weighted_cross_entropy(logits, target, weights).item()

    with pytest.raises(GradingError) as info:
        grading.check_weighted_cross_entropy(item)
    assert mistakes.message("weighted_cross_entropy", "detached") in str(info.value)


def test_a_mask_of_another_integer_dtype_is_explained():
    def long_mask(image, mask, grid=3, sigma=10.0, generator=None):
        warped, warped_mask = segmentation.elastic_deform(image, mask, grid, sigma, generator)
        return warped, warped_mask.long()

    with pytest.raises(GradingError, match=r"returned the mask as torch.int64; give it the dtype .*torch.uint8"):
        grading.check_elastic_deform(long_mask)


def test_a_fixed_seed_inside_elastic_deform_is_explained():
    def fixed(image, mask, grid=3, sigma=10.0, generator=None):
        return segmentation.elastic_deform(image, mask, grid, sigma, torch.Generator().manual_seed(0))

    with pytest.raises(GradingError, match="the same deformation for generators with different seeds"):
        grading.check_elastic_deform(fixed)


def test_a_wrong_spread_outside_the_catalogue_is_measured():
    def doubled(image, mask, grid=3, sigma=10.0, generator=None):
        return segmentation.elastic_deform(image, mask, grid, 2 * sigma, generator)

    with pytest.raises(GradingError, match=r"moves the control points by [\d.]+ pixels \(root mean square") as info:
        grading.check_elastic_deform(doubled)
    measured = float(re.search(r"by ([\d.]+) pixels", str(info.value)).group(1))
    sigma = grading._FIELD_SIGMA
    assert f"sigma={sigma}" in str(info.value)
    # the spread read back is the doubled sigma, within the check's own bound
    n = grading._DRAWS * 2 * 9
    assert abs(measured - 2 * sigma) <= 2 * sigma * grading._Z / math.sqrt(2 * n) + grading._readback_error()


def test_an_answer_that_moves_the_image_with_sigma_zero_is_caught():
    """A fixed half-pixel shift on top of a right field keeps the spread and the mean within
    their bounds; only the sigma=0 case shows it."""

    def shifted(image, mask, grid=3, sigma=10.0, generator=None):
        H, W = mask.shape
        coarse = torch.randn(1, 2, grid, grid, generator=generator) * sigma + 0.5
        field = F.interpolate(coarse, size=(H, W), mode="bicubic", align_corners=True)[0]
        return warp(image, field, "bicubic"), warp(mask[None].float(), field, "nearest")[0].round().to(mask.dtype)

    with pytest.raises(GradingError, match="changes the image or the mask with sigma=0.0"):
        grading.check_elastic_deform(shifted)


@pytest.mark.parametrize("skip", [1, 7, 30])
def test_right_answers_with_other_draws_pass(skip):
    """The check compares no draw: an answer that draws other numbers from the generator (here
    after skipping some), in float32, with the axes in the other order, passes."""

    def other_draws(image, mask, grid=3, sigma=10.0, generator=None):
        H, W = mask.shape
        torch.rand(skip, generator=generator)
        coarse = (torch.randn(2, grid, grid, generator=generator) * sigma).flip(0)
        field = F.interpolate(coarse[None], size=(H, W), mode="bicubic", align_corners=True)[0]
        return warp(image, field, "bicubic"), warp(mask[None].float(), field, "nearest")[0].round().to(mask.dtype)

    grading.check_elastic_deform(other_draws)


def test_the_elastic_bounds_follow_from_the_interpolation():
    """The read-back error is that of the bicubic kernel on a straight line: below a pixel, and
    zero for bilinear warping; the residual bound of a fit grows with it."""
    ramp = torch.arange(12.0)[None, :, None].expand(1, 12, 12)
    field = torch.zeros(2, 12, 12)
    field[0] = 0.3
    assert torch.allclose(warp(ramp, field, "bilinear")[:, 3:-3], ramp[:, 3:-3] + 0.3, atol=1e-5)
    error = (warp(ramp, field, "bicubic") - ramp - 0.3)[:, 3:-3].abs().max().item()
    assert 0 < error <= grading._readback_error() < 0.5
    assert grading._residual_bound(3) > 2 * grading._readback_error()


def _square_only(features, size):
    H, W = features.shape[-2:]
    top, left = (H - size) // 2, (W - size) // 2  # TypeError for a pair size
    return features[..., top : top + size, left : left + size]


def _pair_only(features, size):
    h, w = size[0], size[1]  # TypeError for an int size: 'int' object is not subscriptable
    H, W = features.shape[-2:]
    top, left = (H - h) // 2, (W - w) // 2
    return features[..., top : top + h, left : left + w]


@pytest.mark.parametrize("crop, mistake", [(_square_only, "ignores_pair"), (_pair_only, "int_size")])
def test_a_crash_on_one_kind_of_size_is_named(crop, mistake):
    with pytest.raises(GradingError) as info:
        grading.check_center_crop(crop)
    assert mistakes.message("center_crop", mistake) in str(info.value)
    assert "TypeError" in str(info.value)


def test_an_iou_that_crashes_on_empty_masks_is_named():
    def divides(pred, target):
        p, t = pred != 0, target != 0
        return int((p & t).sum()) / int((p | t).sum())  # ZeroDivisionError for two empty masks

    with pytest.raises(GradingError) as info:
        grading.check_iou(divides)
    assert mistakes.message("iou", "empty_union") in str(info.value)
    assert "ZeroDivisionError" in str(info.value)


# --- hygiene -------------------------------------------------------------------------------


def crop_in_place(features, size):
    result = center_crop(features, size).clone()
    features.zero_()
    return result


def weights_in_place(instance_labels, w0=10, sigma=5, class_weights="balanced"):
    result = segmentation.weight_map(instance_labels, w0, sigma, class_weights)
    instance_labels[instance_labels > 0] = 1
    return result


def loss_in_place(logits, target, weights):
    result = segmentation.weighted_cross_entropy(logits, target, weights)
    weights.mul_(2.0)
    return result


def deform_in_place(image, mask, grid=3, sigma=10.0, generator=None):
    result = segmentation.elastic_deform(image, mask, grid, sigma, generator)
    mask.zero_()
    return result


def tiles_in_place(model, image, tile, stride=None):
    image.sub_(image.mean())
    return segmentation.overlap_tile_predict(model, image, tile, stride)


def iou_in_place(pred, target):
    result = segmentation.iou(pred, target)
    pred.zero_()
    return result


@pytest.mark.parametrize(
    "exercise, answer",
    [
        ("center_crop", crop_in_place),
        ("weight_map", weights_in_place),
        ("weighted_cross_entropy", loss_in_place),
        ("elastic_deform", deform_in_place),
        ("overlap_tile_predict", tiles_in_place),
        ("iou", iou_in_place),
    ],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_changing_an_input_in_place_fails(exercise, answer):
    with pytest.raises(GradingError, match=f"{exercise} changes its input in place: compute on a copy"):
        grading.CHECKS[exercise](answer)


def test_a_model_handed_back_in_eval_mode_is_caught():
    def always_train_after(model, image, tile, stride=None):
        result = segmentation.overlap_tile_predict(model, image, tile, stride)
        model.train()
        return result

    with pytest.raises(GradingError) as info:
        grading.check_overlap_tile_predict(always_train_after)
    assert mistakes.message("overlap_tile_predict", "mode_not_restored") in str(info.value)


def test_checks_are_deterministic():
    for check, wrong in (
        (grading.check_weight_map, lambda labels, *args: torch.ones(labels.shape)),
        (grading.check_elastic_deform, mistakes.of("elastic_deform")[0].function),
        (grading.check_overlap_tile_predict, mistakes.of("overlap_tile_predict")[0].function),
    ):
        messages = []
        for _ in range(2):
            with pytest.raises(GradingError) as info:
                check(wrong)
            messages.append(str(info.value))
        assert messages[0] == messages[1]


def test_checks_do_not_disturb_the_notebooks_random_state():
    torch.manual_seed(3)
    expected = torch.rand(3)
    torch.manual_seed(3)
    for exercise, check in grading.CHECKS.items():
        check(REFERENCES[exercise])
    with pytest.raises(GradingError):  # an answer that draws from the global generator
        grading.check_elastic_deform(mistakes.elastic_deform_ignores_generator)
    assert torch.equal(torch.rand(3), expected)


def test_not_implemented_and_crashes_are_explained():
    def stub(features, size):
        raise NotImplementedError()

    with pytest.raises(GradingError, match="not implemented yet"):
        grading.check_center_crop(stub)

    def crashes(model, image, tile, stride=None):
        return model(image)  # ValueError: the U-Net wants a batch

    with pytest.raises(GradingError) as info:
        grading.check_overlap_tile_predict(crashes)
    assert "ValueError" in str(info.value) and "return model(image)" in str(info.value)


def test_a_value_equal_to_everything_is_rejected():
    with pytest.raises(GradingError, match="must return a torch.Tensor, got AlwaysEqual"):
        grading.check_center_crop(lambda features, size: AlwaysEqual())
    with pytest.raises(GradingError, match="must return an int, got AlwaysEqual"):
        grading.check_unet_output_size(lambda input_size, depth=4: AlwaysEqual())
    with pytest.raises(GradingError, match="must return the image as a torch.Tensor, got AlwaysEqual"):
        grading.check_elastic_deform(
            lambda image, mask, grid=3, sigma=10.0, generator=None: (AlwaysEqual(), AlwaysEqual())
        )
    with pytest.raises(GradingError, match="must return a float, got AlwaysEqual"):
        grading.check_iou(lambda pred, target: AlwaysEqual())

    class AnyInt(int):
        def __eq__(self, other):
            return True

        __hash__ = int.__hash__

    with pytest.raises(GradingError, match="must return an int, got AnyInt"):
        grading.check_unet_output_size(lambda input_size, depth=4: AnyInt(0))

    class AnyArray(np.ndarray):
        def __eq__(self, other):
            return np.ones(np.shape(self), dtype=bool)

    with pytest.raises(GradingError, match="must return a torch.Tensor, got AnyArray"):
        grading.check_weight_map(lambda labels, *args: np.zeros(tuple(labels.shape)).view(AnyArray))


def test_a_tensor_subclass_that_fakes_comparisons_is_rejected():
    def forged_weights(instance_labels, w0=10, sigma=5, class_weights="balanced"):
        return torch.zeros(instance_labels.shape).as_subclass(FakeTensor)

    with pytest.raises(GradingError, match="subclass of torch.Tensor is not accepted"):
        grading.check_weight_map(forged_weights)

    def forged_deformation(image, mask, grid=3, sigma=10.0, generator=None):
        return image.clone().as_subclass(FakeTensor), mask.clone()

    with pytest.raises(GradingError, match="subclass of torch.Tensor is not accepted"):
        grading.check_elastic_deform(forged_deformation)

    def forged_loss(logits, target, weights):
        return logits.sum().as_subclass(FakeTensor)

    with pytest.raises(GradingError, match="subclass of torch.Tensor is not accepted"):
        grading.check_weighted_cross_entropy(forged_loss)
