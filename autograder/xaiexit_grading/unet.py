"""Hidden tests of Lesson 6 (U-Net segmentation, faithful to the paper).

Each ``check_<exercise>(fn)`` calls the learner's function on fresh, seeded inputs,
compares it with the reference in :mod:`xaiexit.models.unet` and
:mod:`xaiexit.segmentation` and with hand-computed answers, and raises
:class:`~xaiexit_grading.GradingError` with a message that names the mistake (see
:mod:`xaiexit_grading.unet_mistakes`) when it is wrong.

Two exercises are graded by properties rather than by equality:

- ``elastic_deform`` is random, and a learner may draw the displacements in another
  order than the reference, so no draw is ever compared. Its test warps images of the row
  and column indices (and a mask whose labels are the pixel indices) to read back the
  field the learner applied, and checks what the exercise asks: the mask keeps its labels
  and its dtype, the generator decides the draws, image and mask move by one field, the
  image is interpolated, the field is the bicubic interpolation (control points on the
  corners) of a grid x grid lattice, and the control points' displacements, read at the
  control points over many draws, are independent, centred on 0 and spread by sigma;
  sigma=0 moves nothing. Its bounds follow from the number of draws and from the
  interpolation's read-back error, which the test computes.
- ``overlap_tile_predict`` is compared with the reference (which equals one pass over
  the whole mirrored image), and forward hooks on the model check that every call sees a
  tile x tile input, in eval mode, without gradients, and that the tiles follow the
  stride it is given; the model must be given back in the mode it came in.

While ``overlap_tile_predict`` is tested, a ``unet_output_size`` or ``center_crop`` it
calls is replaced by the reference, so one mistake costs one exercise only.

Examples
--------
>>> from xaiexit.segmentation import iou
>>> check_iou(iou)   # the reference passes
"""

from __future__ import annotations

import copy
import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

from xaiexit import segmentation as reference
from xaiexit.models.unet import UNet, center_crop, unet_output_size
from xaiexit.segmentation import warp
from xaiexit_grading import gradient_saliency_mistakes as lesson1_mistakes
from xaiexit_grading import unet_mistakes as mistakes
from xaiexit_grading._checks import (
    FLOAT,
    INT,
    Grader,
    GradingError,
    Recorder,
    _type,
    assert_untampered,
    call,
    close,
    expect_tensor,
    max_diff,
    number,
    reference_helpers,
    same_number,
    seeded,
    show_number,
    unchanged,
)

SEED = 20261129  # hidden inputs differ from anything the notebook shows

_grader = Grader(mistakes, SEED, hygiene=(lesson1_mistakes, "vanilla_gradient"))


# --- shared helpers ----------------------------------------------------------------------


def _named_crash(name: str, err: GradingError, mistake: str, case: str) -> GradingError:
    """The message of the catalogued ``mistake`` for a crash ``err`` of the learner's code."""
    detail = str(err)[len(name) :].strip()
    return GradingError(f"{name} {mistakes.message(name, mistake)} ({case}, it {detail})")


def _compare_maps(
    name: str,
    fn,
    args: tuple,
    expected: torch.Tensor,
    case: str,
    crash_means=None,
    as_tensor=expect_tensor,
) -> torch.Tensor:
    """Call ``fn`` on copies of ``args``, check it left them unchanged and compare with
    ``expected`` (a catalogued mistake is named also when its output has another shape).

    crash_means : the catalogued mistake that a crash on these inputs means, or a function
        ``crash_means(message) -> str | None`` that names it from the crash's message (None:
        no catalogued mistake).
    as_tensor : ``as_tensor(out, name, shape)`` checks the output and gives it as a tensor.
    """
    given = [copy.deepcopy(a) for a in args]
    try:
        out = call(fn, name, *given)
    except GradingError as err:
        mistake = crash_means(str(err)) if callable(crash_means) else crash_means
        if mistake is None:
            raise
        raise _named_crash(name, err, mistake, case) from None
    unchanged(name, args, given)
    return _grader.compare_output(name, out, expected, args, case, as_tensor)


# --- 1. center_crop ----------------------------------------------------------------------


def _int_size_crash(text: str) -> str | None:
    """The catalogued mistake behind a crash on an int ``size``: a float used as an index
    (offsets computed with /), or an int taken for a pair (``h, w = size``, ``size[0]``)."""
    if "raised TypeError" not in text:
        return None
    if "slice indices must be integers" in text or "float" in text:
        return "float_offset"
    if "'int' object" in text or "non-iterable int" in text:
        return "int_size"
    return None


def check_center_crop(fn) -> None:
    """Hidden test of ``center_crop(features, size)``: the central (h, w) window of a
    (B, C, H, W) batch, starting at ((H - h) // 2, (W - w) // 2); ``size`` an int or a pair."""
    assert_untampered()
    name = "center_crop"
    with seeded(SEED):
        # by hand: the central 2 x 2 of a 6 x 6 grid of 0..35 is [[14, 15], [20, 21]]
        grid = torch.arange(36.0).view(1, 1, 6, 6)
        _compare_maps(
            name,
            fn,
            (grid, 2),
            torch.tensor([[[[14.0, 15.0], [20.0, 21.0]]]]),
            "cropping the 6 x 6 map of the numbers 0 to 35 (row by row) to size 2 (the centre is [[14, 15], [20, 21]])",
            crash_means=_int_size_crash,
        )
        # an odd difference: 7 - 4 = 3, so the window starts at row 1 (the extra row goes at the bottom)
        features = torch.randn(2, 3, 7, 9)
        _compare_maps(
            name,
            fn,
            (features, 4),
            center_crop(features, 4),
            "cropping a (2, 3, 7, 9) batch to size 4 (the window starts at row (7 - 4) // 2 = 1 "
            "and column (9 - 4) // 2 = 2)",
            crash_means=_int_size_crash,
        )
        for size, shape, case in (
            ((3, 6), (2, 3, 8, 9), "a pair size=(3, 6) on a (2, 3, 8, 9) batch (rows from 2, columns from 1)"),
            (
                torch.Size([5, 4]),
                (1, 2, 10, 9),
                "size=torch.Size([5, 4]), as the U-Net passes x.shape[-2:], on a (1, 2, 10, 9) batch",
            ),
            ((7, 7), (3, 1, 7, 7), "size=(7, 7) on a (3, 1, 7, 7) batch (nothing to crop)"),
        ):
            features = torch.randn(*shape)
            _compare_maps(
                name, fn, (features, size), center_crop(features, size), f"with {case}", crash_means="ignores_pair"
            )


# --- 2. unet_output_size -----------------------------------------------------------------

# (args, what the learner is told) in order; the expected outcomes come from the reference
_SIZES = (
    ((572,), "input_size=572, the paper's tile (the output is 388)"),
    ((188,), "input_size=188, the smallest legal size of depth 4"),
    ((252,), "input_size=252"),
    ((92, 2), "input_size=92, depth=2"),
    ((140, 3), "input_size=140, depth=3"),
    ((18, 1), "input_size=18, depth=1"),
    ((412, 5), "input_size=412, depth=5"),
    ((570,), "input_size=570, which is not legal (a max-pool further down gets an odd size)"),
    ((571,), "input_size=571, which is not legal (571 - 4 is odd)"),
    ((100,), "input_size=100, which is not legal"),
    ((94, 2), "input_size=94, depth=2, which is not legal"),
    ((96, 3), "input_size=96, depth=3, which is not legal"),
    ((16, 1), "input_size=16, depth=1, which is not legal (the output would be 0 pixels)"),
)


_RAISED = object()


def _size_outcome(fn, name: str, args: tuple):
    """The learner's answer for ``args``: an int, or the string "ValueError" (for any
    ValueError, a subclass included)."""

    def guarded(*given):
        try:
            return fn(*given)
        except ValueError:
            return _RAISED

    out = call(fn if not callable(fn) else guarded, name, *args)
    if out is _RAISED:
        return "ValueError"
    if _type(out) is INT:
        return out
    if _type(out) is FLOAT:
        raise GradingError(
            f"{name} {mistakes.message(name, 'float_division')} (it returned {out!r} for {_show_args(args)})"
        )
    raise GradingError(
        f"{name} must return an int, got {_type(out).__name__}"
        + (
            ": convert it with int(...)"
            if _type(out) is torch.Tensor or getattr(_type(out), "__module__", "") == "numpy"
            else ""
        )
    )


def _show_args(args: tuple) -> str:
    return f"input_size={args[0]}" + (f", depth={args[1]}" if len(args) > 1 else "")


def _reference_size(args: tuple):
    try:
        return unet_output_size(*args)
    except ValueError:
        return "ValueError"


def _mistake_sizes(m) -> list:
    table = []
    for args, _ in _SIZES:
        try:
            table.append(m.function(*args))
        except ValueError:
            table.append("ValueError")
        except Exception:  # noqa: BLE001 - a mistake that crashes here is not the learner's
            table.append(None)
    return table


def check_unet_output_size(fn) -> None:
    """Hidden test of ``unet_output_size(input_size, depth=4)`` (valid U-Net): each level
    takes 4 pixels and halves an even size, the bottom takes 4, each level up doubles and
    takes 4; illegal sizes raise ValueError."""
    assert_untampered()
    name = "unet_output_size"
    expected = [_reference_size(args) for args, _ in _SIZES]
    got = [_size_outcome(fn, name, args) for args, _ in _SIZES]
    if got == expected:
        return
    # name the catalogued mistake that answers every size as the learner does
    for m in mistakes.of(name):
        if m.matches_output and _mistake_sizes(m) == got:
            raise GradingError(f"{name} {m.message}")
    i = next(i for i, (g, e) in enumerate(zip(got, expected)) if g != e)
    case, g, e = _SIZES[i][1], got[i], expected[i]
    if e == "ValueError":
        raise GradingError(
            f"{name} returns {g} for {case}: raise a ValueError for a size that does not fit "
            "(an odd size before a max-pool, or a layer left with less than 1 pixel)"
        )
    if g == "ValueError":
        raise GradingError(f"{name} raises ValueError for {case}, a legal size: the output size is {e}")
    raise GradingError(f"{name} returns {g} for {case}; the correct output size is {e}")


# --- 3. weight_map -----------------------------------------------------------------------


def _as_map(out, name: str, shape: tuple) -> torch.Tensor:
    """The learner's weights as a tensor: a plain float tensor, or a float NumPy array."""
    if _type(out) is np.ndarray:
        if out.dtype.kind != "f":
            raise GradingError(f"{name} must return floating-point values, got dtype {out.dtype}")
        if tuple(out.shape) != tuple(shape):
            raise GradingError(f"{name} returned shape {tuple(out.shape)}; expected {tuple(shape)}")
        out = torch.from_numpy(np.array(out, dtype=np.float64))
    return expect_tensor(out, name, shape)


def _two_discs() -> torch.Tensor:
    """Two discs of radius 4.5 in an 11 x 21 image, one pixel apart: the gap pixels in
    rows 3 to 7 of column 10 are 1 pixel from each disc."""
    yy = torch.arange(11.0)[:, None]
    xx = torch.arange(21.0)[None, :]
    labels = torch.zeros(11, 21, dtype=torch.long)
    labels[(yy - 5) ** 2 + (xx - 5) ** 2 <= 4.5**2] = 1
    labels[(yy - 5) ** 2 + (xx - 15) ** 2 <= 4.5**2] = 2
    return labels


def _cells(height: int, width: int, n: int) -> torch.Tensor:
    """Instance labels 1..k of about ``n`` random discs, touching cells separated by a
    one-pixel background border (as in the lesson's data)."""
    centres = torch.rand(n, 2) * torch.tensor([height - 4.0, width - 4.0]) + 2
    radii = 2.5 + 3 * torch.rand(n)
    yy = torch.arange(height, dtype=torch.float32)[None, :, None]
    xx = torch.arange(width, dtype=torch.float32)[None, None, :]
    q = torch.sqrt((yy - centres[:, 0, None, None]) ** 2 + (xx - centres[:, 1, None, None]) ** 2) / radii[:, None, None]
    nearest = q.argmin(dim=0) + 1
    partition = torch.where(q.amin(dim=0) < 1, nearest, torch.zeros_like(nearest))
    border = torch.zeros(height, width, dtype=torch.bool)
    for shift in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        other = torch.roll(partition, shift, dims=(0, 1))
        border |= (partition > 0) & (other > 0) & (other != partition)
    labels = torch.where(border, torch.zeros_like(partition), partition)
    _, consecutive = torch.unique(labels, return_inverse=True)  # 0 stays 0, cells become 1..k
    return consecutive.long() if bool((labels == 0).any()) else consecutive.long() + 1


def check_weight_map(fn) -> None:
    """Hidden test of ``weight_map(instance_labels, w0=10, sigma=5, class_weights="balanced")``:
    w_c + w0 exp(-(d1 + d2)^2 / (2 sigma^2)) on background pixels (0 on cells, and
    everywhere with fewer than two cells); balanced w_c = N / (2 N_class)."""
    assert_untampered()
    name = "weight_map"
    with seeded(SEED):
        discs = _two_discs()
        gap = 1 + 10 * math.exp(-4 / 50)
        _compare_maps(
            name,
            fn,
            (discs, 10, 5, None),
            reference.weight_map(discs, 10, 5, None),
            f"on two discs one pixel apart with class_weights=None (the gap pixels between them are "
            f"1 pixel from each disc, d1 = d2 = 1, so they get 1 + 10 exp(-4 / 50) = {gap:.4f})",
            as_tensor=_as_map,
        )
        _compare_maps(
            name,
            fn,
            (discs,),
            reference.weight_map(discs),
            "on the same two discs with the default arguments (balanced class weights: each pixel "
            "gets N / (2 N_c) for its class, plus the border term on the background)",
            as_tensor=_as_map,
        )
        cells = _cells(26, 30, 7)
        _compare_maps(
            name,
            fn,
            (cells,),
            reference.weight_map(cells),
            f"on {int(cells.max())} random touching cells in a 26 x 30 image with the default arguments",
            as_tensor=_as_map,
        )
        cells = _cells(24, 20, 6)
        _compare_maps(
            name,
            fn,
            (cells, 5.0, 3.0, None),
            reference.weight_map(cells, 5.0, 3.0, None),
            f"on {int(cells.max())} random touching cells in a 24 x 20 image with w0=5.0, sigma=3.0 "
            "and class_weights=None",
            as_tensor=_as_map,
        )
        one = torch.zeros(12, 14, dtype=torch.long)
        one[3:8, 4:11] = 1
        _compare_maps(
            name,
            fn,
            (one,),
            reference.weight_map(one),
            "on an image with a single cell (no border to separate: only the class weights)",
            as_tensor=_as_map,
        )
        empty = torch.zeros(9, 10, dtype=torch.long)
        _compare_maps(
            name,
            fn,
            (empty,),
            reference.weight_map(empty),
            "on an image without cells (one class only: every weight is 1)",
            as_tensor=_as_map,
        )


# --- 4. weighted_cross_entropy -----------------------------------------------------------


def _compare_loss(name: str, fn, args: tuple, expected: torch.Tensor, case: str) -> None:
    logits, target, weights = args
    given = (logits.detach().clone().requires_grad_(True), target.clone(), weights.clone())
    out = call(fn, name, *given)
    unchanged(name, args, given)
    if (
        _type(out) is torch.Tensor
        and out.is_floating_point()
        and out.numel()
        and not bool(torch.all(torch.isfinite(out.detach())))
    ):
        value = out.detach().reshape(-1)[0].item()
        raise GradingError(
            f"{name} {mistakes.message(name, 'log_of_softmax')} ({case}, it returned {show_number(value)})"
        )
    if _type(out) in (FLOAT, INT) or (_type(out) is torch.Tensor and out.is_floating_point() and not out.requires_grad):
        raise GradingError(f"{name} {mistakes.message(name, 'detached')}")
    out = expect_tensor(out, name, ())
    if not close(out, expected):
        _grader.diagnose(name, name, out, expected, args, case)


def check_weighted_cross_entropy(fn) -> None:
    """Hidden test of ``weighted_cross_entropy(logits, target, weights)``: the mean over all
    pixels of w * CE, a tensor the gradient flows through."""
    assert_untampered()
    name = "weighted_cross_entropy"
    with seeded(SEED):
        # by hand: logits (0, ln 3) give p = (1/4, 3/4), so CE = ln 4 for class 0 and ln 4/3 for class 1
        logits = torch.zeros(1, 2, 2, 2)
        logits[:, 1] = math.log(3)
        target = torch.tensor([[[0, 1], [1, 0]]])
        weights = torch.tensor([[[1.0, 3.0], [0.0, 4.0]]])
        _compare_loss(
            name,
            fn,
            (logits, target, weights),
            torch.tensor((5 * math.log(4) + 3 * math.log(4 / 3)) / 4),
            "on a 2 x 2 image worked by hand (p = (1/4, 3/4) everywhere, targets [[0, 1], [1, 0]], "
            "weights [[1, 3], [0, 4]]: (ln 4 + 3 ln 4/3 + 0 + 4 ln 4) / 4 = 1.9486)",
        )
        logits, target = 2 * torch.randn(2, 3, 4, 5), torch.randint(0, 3, (2, 4, 5))
        ones = torch.ones(2, 4, 5)
        _compare_loss(
            name,
            fn,
            (logits, target, ones),
            F.cross_entropy(logits, target),
            "on random (2, 3, 4, 5) logits with all weights 1 (it must equal F.cross_entropy)",
        )
        logits, target = 2 * torch.randn(2, 3, 6, 7), torch.randint(0, 3, (2, 6, 7))
        weights = 0.5 + torch.rand(2, 6, 7) * 3
        weights[:, 2:4] += 8.0
        _compare_loss(
            name,
            fn,
            (logits, target, weights),
            reference.weighted_cross_entropy(logits, target, weights),
            "on random (2, 3, 6, 7) logits with weights between 0.5 and 11.5",
        )
        logits, target = 1000 * torch.randn(2, 2, 4, 4), torch.randint(0, 2, (2, 4, 4))
        weights = 0.5 + torch.rand(2, 4, 4)
        _compare_loss(
            name,
            fn,
            (logits, target, weights),
            reference.weighted_cross_entropy(logits, target, weights),
            "on logits of magnitude 1000 (a confident network: probabilities round to 0 and 1, "
            "yet each pixel's loss is finite, up to some thousands)",
        )


# --- 5. elastic_deform -------------------------------------------------------------------
#
# The deformation is random, and a learner may draw the displacements in another order than
# the reference, so the check never compares draws: it reads back the field the learner
# applied (by warping an image of the pixels' own rows and columns, and a mask whose labels
# are the pixel indices) and tests the properties the exercise asks for. Every tolerance
# follows from the test's own parameters (sigma, the number of draws) and from the read-back
# error of the interpolation, which is computed, not recorded from a run.

_FIELD_SIGMA = 4.0  # px, the sigma of the fields that are read back
_MARGIN = 36  # px, 9 sigma: no displacement inside it reaches the border, where warp mirrors
# H - 1 = 144 and W - 1 = 152 are multiples of 4, so the control points of a 5 x 5 grid (and
# of a 3 x 3 one) lie on pixels; the interior ones of a 5 x 5 grid are 36 px from the border
_FIELD_SIZE = (145, 153)
_SHAPE_DRAWS = 12  # grid=3 fields whose shape is tested
_DRAWS = 24  # grid=5 fields whose 3 x 3 interior control points are measured
_Z = 5.0  # a right answer's statistic lies more than 5 standard errors off with probability < 1e-6


def _deform(name: str, fn, image: torch.Tensor, mask: torch.Tensor, grid: int, sigma: float, seed: int) -> tuple:
    """Call the learner on copies with a generator seeded ``seed``; check the pair it returns."""
    given = (image.clone(), mask.clone())
    out = call(fn, name, *given, grid=grid, sigma=sigma, generator=torch.Generator().manual_seed(seed))
    unchanged(name, (image, mask), given)
    if _type(out) not in (tuple, list) or len(out) != 2:
        raise GradingError(
            f"{name} must return a pair (image, mask), got {_type(out).__name__}"
            + (f" of length {len(out)}" if _type(out) in (tuple, list) else "")
        )
    warped, warped_mask = out
    for what, t, like in (("image", warped, image), ("mask", warped_mask, mask)):
        if _type(t) is not torch.Tensor:
            extra = " (a subclass of torch.Tensor is not accepted)" if isinstance(t, torch.Tensor) else ""
            raise GradingError(f"{name} must return the {what} as a torch.Tensor, got {_type(t).__name__}{extra}")
        if tuple(t.shape) != tuple(like.shape):
            raise GradingError(
                f"{name} returned the {what} with shape {tuple(t.shape)}; expected "
                f"{tuple(like.shape)}, the shape of the {what} it was given"
            )
    if not warped.is_floating_point() or not bool(torch.all(torch.isfinite(warped.detach()))):
        raise GradingError(
            f"{name} must return the image as finite floating-point values, got "
            f"{warped.dtype}" + ("" if not warped.is_floating_point() else " with NaN or inf")
        )
    if warped_mask.dtype != mask.dtype:
        if warped_mask.is_floating_point():
            raise GradingError(f"{name} {mistakes.message(name, 'mask_as_floats')}")
        raise GradingError(
            f"{name} returned the mask as {warped_mask.dtype}; give it the dtype of the mask it "
            f"was given ({mask.dtype}), warped_mask.round().to(mask.dtype)"
        )
    return warped.detach().double(), warped_mask.detach()


@functools.cache
def _readback_error() -> float:
    """The largest error (px) with which a warped ramp reads back a displacement.

    A bicubic kernel reproduces a straight line only up to an error that depends on where
    between two pixels it samples (bilinear and nearest read it exactly, to rounding), so
    the error is measured on a ramp shifted by 256 sub-pixel offsets; 2e-3 px cover the
    offsets in between (the error changes by less than 0.5 px per px of offset) and float32
    rounding.
    """
    ramp = torch.arange(16, dtype=torch.float32)[None, :, None].expand(1, 16, 16)
    worst = 0.0
    for k in range(256):
        field = torch.zeros(2, 16, 16)
        field[0] = k / 256 - 0.5  # the taps stay inside the image for the rows tested
        error = warp(ramp, field, "bicubic") - (ramp + field[0])
        worst = max(worst, float(error[:, 4:-4, 4:-4].abs().max()))
    return worst + 2e-3


def _basis(n: int, grid: int, mode: str = "bicubic", align_corners: bool = True) -> torch.Tensor:
    """(n, grid): how each of ``grid`` control values spreads over ``n`` pixels when
    F.interpolate enlarges it (bicubic and bilinear interpolation are separable)."""
    eye = torch.eye(grid, dtype=torch.float64).view(grid, 1, 1, grid)
    kwargs = {} if mode == "nearest" else {"align_corners": align_corners}
    return F.interpolate(eye, size=(1, n), mode=mode, **kwargs)[:, 0, 0, :].T


def _inner_bases(grid: int, mode: str, align_corners: bool) -> tuple:
    H, W = _FIELD_SIZE
    m = _MARGIN
    return _basis(H, grid, mode, align_corners)[m : H - m], _basis(W, grid, mode, align_corners)[m : W - m]


def _fit(field: torch.Tensor, grid: int, mode: str = "bicubic", align_corners: bool = True) -> tuple:
    """The grid x grid control values whose interpolation best matches ``field`` (2, H, W)
    away from the border (least squares), and the largest difference left there (px)."""
    ay, ax = _inner_bases(grid, mode, align_corners)
    inner = _inner(field)
    control = torch.linalg.pinv(ay) @ inner @ torch.linalg.pinv(ax).T
    return control, float((inner - ay @ control @ ax.T).abs().max())


@functools.cache
def _residual_bound(grid: int, mode: str = "bicubic", align_corners: bool = True) -> float:
    """How large the fit's residual can be for a field that *is* such an interpolation (px).

    The read-back field is the true one plus an error e of at most ``_readback_error()``;
    the fit removes its projection P e, so the residual (I - P) e is at most
    (1 + ||P||_inf) max|e|, with ||P||_inf the largest absolute row sum of the projection
    (a product of the two axes' projections)."""
    ay, ax = _inner_bases(grid, mode, align_corners)
    norm = 1.0
    for a in (ay, ax):
        norm *= float((a @ torch.linalg.pinv(a)).abs().sum(dim=1).max())
    return (1 + norm) * _readback_error()


def _ramps(height: int, width: int) -> tuple:
    """An image whose two channels are each pixel's row and column, and a mask whose label
    is each pixel's index, row * width + column."""
    rows = torch.arange(height, dtype=torch.float32)[:, None].expand(height, width)
    cols = torch.arange(width, dtype=torch.float32)[None, :].expand(height, width)
    return torch.stack([rows, cols]), torch.arange(height * width).view(height, width)


def _read_field(name: str, fn, grid: int, sigma: float, seed: int) -> tuple:
    """The field the learner applied to the image (2, H, W), in pixels, and the one applied
    to the mask (whole pixels), from warping the ramps with a generator seeded ``seed``."""
    H, W = _FIELD_SIZE
    ramps, index = _ramps(H, W)
    warped, warped_mask = _deform(name, fn, ramps, index, grid, sigma, seed)
    image_field = warped - ramps.double()
    source = warped_mask.long()
    mask_field = torch.stack([source // W, source % W]).double() - ramps.double()
    return image_field, mask_field


def _inner(t: torch.Tensor) -> torch.Tensor:
    H, W = t.shape[-2:]
    return t[..., _MARGIN : H - _MARGIN, _MARGIN : W - _MARGIN]


def _one_field(name: str, image_field: torch.Tensor, mask_field: torch.Tensor, grid: int) -> None:
    """What every draw must show: a smoothly interpolated image, the mask moved by the same
    field, control points that move independently and a field that is the interpolation
    of a grid x grid lattice."""
    eps = _readback_error()
    inner = _inner(image_field)
    # a smooth field lands on whole pixels only by chance; nearest neighbour always does
    if float(((inner - inner.round()).abs() < 1e-3).double().mean()) > 0.5:
        raise GradingError(f"{name} {mistakes.message(name, 'image_nearest')}")
    # nearest neighbour reads the mask at most half a pixel (plus the image's read-back
    # error) from where the image is read; 1% of the pixels may land on a tie
    apart = float((_inner(image_field - mask_field).abs() > 0.5 + eps).any(dim=0).double().mean())
    if apart > 0.01:
        raise GradingError(
            f"{name} {mistakes.message(name, 'two_fields')} ({apart:.0%} of the pixels of "
            "the mask moved elsewhere than the same pixels of the image)"
        )
    spread = float((inner.amax(dim=(1, 2)) - inner.amin(dim=(1, 2))).max())
    if spread <= 2 * eps and float(inner.abs().max()) > 4 * eps:
        raise GradingError(
            f"{name} {mistakes.message(name, 'one_shift')} (with grid={grid} and sigma={_FIELD_SIGMA} "
            f"every pixel moved by the same ({float(inner[0].mean()):.2f}, {float(inner[1].mean()):.2f}) px)"
        )
    _smoothness(name, image_field, grid)


def _smoothness(name: str, field: torch.Tensor, grid: int) -> None:
    """Fail, naming the closest construction, unless ``field`` is the bicubic
    (align_corners=True) interpolation of a grid x grid lattice."""
    # a 3 x 3 field is (nearly) a finer one too, so test it first; a field of a fraction of a
    # pixel fits any grid to within the read-back error, and says nothing about it
    moves = float(_inner(field).abs().max()) > 4 * _residual_bound(3)
    if grid != 3 and moves and _fit(field, 3)[1] <= _residual_bound(3):
        raise GradingError(f"{name} {mistakes.message(name, 'ignores_grid')} (it was called with grid={grid})")
    _, residual = _fit(field, grid)
    if residual <= _residual_bound(grid):
        return
    for mistake, (mode, corners) in (
        ("bilinear_grid", ("bilinear", True)),
        ("nearest_grid", ("nearest", True)),
        ("grid_not_on_corners", ("bicubic", False)),
    ):
        if _fit(field, grid, mode, corners)[1] <= _residual_bound(grid, mode, corners):
            raise GradingError(f"{name} {mistakes.message(name, mistake)}")
    raise GradingError(
        f"{name} {mistakes.message(name, 'dense_noise')} (the field it applied with grid={grid} "
        f"is off a bicubic {grid} x {grid} grid by up to {residual:.2f} pixels)"
    )


def _control_points(field: torch.Tensor) -> torch.Tensor:
    """(2, 3, 3): the field at the interior control points of a 5 x 5 grid, where an
    interpolating field passes through the drawn displacements."""
    H, W = field.shape[-2:]
    rows, cols = [i * (H - 1) // 4 for i in (1, 2, 3)], [j * (W - 1) // 4 for j in (1, 2, 3)]
    return field[:, rows][:, :, cols]


def _correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.flatten() - a.mean(), b.flatten() - b.mean()
    return float((a * b).sum() / (a.norm() * b.norm()).clamp_min(1e-12))


def _statistics(name: str, values: torch.Tensor) -> None:
    """The control points' displacements ``values`` (draws, 2, 3, 3) must look like
    independent N(0, sigma^2) draws, rows and columns alike.

    Each bound is ``_Z`` standard errors of the statistic for n such draws, plus what the
    read-back error ``eps`` can add: the mean's standard error is sigma / sqrt(n), the
    root mean square's sigma / sqrt(2 n), a correlation's 1 / sqrt(pairs)."""
    sigma, eps = _FIELD_SIGMA, _readback_error()
    n = values.numel()
    # centred on 0
    mean = float(values.mean())
    if abs(mean) > _Z * sigma / math.sqrt(n) + eps:
        if float(values.min()) >= -eps:
            raise GradingError(
                f"{name} {mistakes.message(name, 'uniform_draws')} (with sigma={sigma} the control points "
                f"moved by {mean:.2f} px on average, and never by a negative amount)"
            )
        raise GradingError(
            f"{name} moves the control points by {mean:.2f} px on average with sigma={sigma}: the "
            "displacements must be centred on 0, drawn from N(0, sigma^2)"
        )
    # the two axes are drawn independently
    rows, cols = values[:, 0], values[:, 1]
    if abs(_correlation(rows, cols)) > _Z / math.sqrt(rows.numel()):
        if float((rows - cols).abs().max()) <= 2 * eps:
            raise GradingError(f"{name} {mistakes.message(name, 'one_grid_for_both_axes')}")
        raise GradingError(
            f"{name} draws row and column displacements that are correlated "
            f"({_correlation(rows, cols):.2f} over {rows.numel()} control points): draw them independently"
        )
    # so are neighbouring control points
    left = torch.cat([values[..., :, :-1].flatten(), values[..., :-1, :].flatten()])
    right = torch.cat([values[..., :, 1:].flatten(), values[..., 1:, :].flatten()])
    if abs(_correlation(left, right)) > _Z / math.sqrt(len(left)):
        raise GradingError(
            f"{name} moves neighbouring control points together (correlation {_correlation(left, right):.2f} "
            f"with grid=5, over {_DRAWS} draws): draw an independent displacement for every control point"
        )
    # spread sigma
    rms = float(values.pow(2).mean().sqrt())
    band = _Z / math.sqrt(2 * n)
    if abs(rms - sigma) <= sigma * band + eps:
        return
    H, W = _FIELD_SIZE
    for mistake, expected in (
        ("sigma_as_variance", math.sqrt(sigma)),
        ("ignores_sigma", 1.0),
        ("normalised_units", sigma * math.sqrt(((2 / (H - 1)) ** 2 + (2 / (W - 1)) ** 2) / 2)),
    ):
        if abs(rms - expected) <= expected * band + eps:
            raise GradingError(
                f"{name} {mistakes.message(name, mistake)} (with sigma={sigma} the control points "
                f"moved by {rms:.3g} pixels, root mean square)"
            )
    raise GradingError(
        f"{name} moves the control points by {rms:.3g} pixels (root mean square over {n} "
        f"displacements) with sigma={sigma}: draw each displacement from a normal distribution "
        "with standard deviation sigma, in pixels"
    )


def _label_blobs(height: int, width: int) -> torch.Tensor:
    """A mask of labels 0, 5 and 9: random discs of 5 and 9, many of them touching."""
    yy = torch.arange(height, dtype=torch.float32)[:, None]
    xx = torch.arange(width, dtype=torch.float32)[None, :]
    mask = torch.zeros(height, width, dtype=torch.long)
    for label in (5, 9, 5, 9, 5, 9):
        cy, cx = torch.rand(2) * torch.tensor([height, width])
        r = 4 + 6 * float(torch.rand(()))
        mask[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = label
    return mask


def check_elastic_deform(fn) -> None:
    """Hidden test of ``elastic_deform(image, mask, grid=3, sigma=10.0, generator=None)``.

    What the exercise asks, tested as properties (a learner may draw in any order): a pair of
    the input's shapes, the mask in its dtype with only its own labels; the same generator
    seed gives the same result, another seed another one; the image and the mask move by
    one field, the image interpolated (not in whole pixels); the field is the bicubic
    interpolation (control points on the corners) of a grid x grid lattice; the lattice's
    displacements are independent (between points and between the two axes), centred on 0,
    with standard deviation sigma; sigma=0 moves nothing.
    """
    assert_untampered()
    name = "elastic_deform"
    with seeded(SEED):
        # a mask of labels 0, 5 and 9 keeps only those labels
        image, mask = torch.rand(1, 40, 44), _label_blobs(40, 44)
        for seed in (2, 3):
            _, warped_mask = _deform(name, fn, image, mask, 3, 5.0, seed)
            new = sorted(set(warped_mask.unique().tolist()) - {0, 5, 9})
            if new:
                shown = ", ".join(str(v) for v in new[:4])
                raise GradingError(
                    f"{name} {mistakes.message(name, 'mask_bilinear')} (a mask of labels 0, 5 and 9 "
                    f"came back with the labels {shown})"
                )
        # the generator decides the draws
        first = _read_field(name, fn, 3, _FIELD_SIGMA, seed=4)
        again = _read_field(name, fn, 3, _FIELD_SIGMA, seed=4)
        if not all(torch.equal(a, b) for a, b in zip(first, again)):
            raise GradingError(f"{name} {mistakes.message(name, 'ignores_generator')}")
        other = _read_field(name, fn, 3, _FIELD_SIGMA, seed=5)
        if torch.equal(first[0], other[0]):
            raise GradingError(
                f"{name} gives the same deformation for generators with different seeds: draw every "
                "random number from the generator it is given"
            )
        # the shape of the field, on the paper's 3 x 3 grid and on a 5 x 5 one
        for seed in range(_SHAPE_DRAWS):
            _one_field(name, *_read_field(name, fn, 3, _FIELD_SIGMA, seed=100 + seed), 3)
        values = []
        for seed in range(_DRAWS):
            image_field, mask_field = _read_field(name, fn, 5, _FIELD_SIGMA, seed=200 + seed)
            _one_field(name, image_field, mask_field, 5)
            values.append(_control_points(image_field))
        # the draws' statistics, at the control points
        _statistics(name, torch.stack(values))
        # sigma = 0: nothing moves (a three-channel image, a uint8 mask)
        image = torch.rand(3, 20, 24)
        mask = torch.randint(0, 3, (20, 24)).mul(3).to(torch.uint8)
        warped, warped_mask = _deform(name, fn, image, mask, 3, 0.0, seed=1)
        if max_diff(warped, image) > 1e-4 or not torch.equal(warped_mask, mask):
            raise GradingError(
                f"{name} changes the image or the mask with sigma=0.0: every displacement is then 0, "
                f"so both must come back unchanged (the image differs by up to "
                f"{max_diff(warped, image):.3g})"
            )


# --- 6. overlap_tile_predict -------------------------------------------------------------


def _watch(model) -> tuple:
    """A forward pre-hook on the model's first level (it runs also when the learner calls
    ``model.forward`` directly): for each call, (input shape, training, grad enabled)."""
    seen = Recorder()
    return seen, model.down1.register_forward_pre_hook(seen)


def _tiles_seen(seen: list) -> int:
    return sum(shape[0] for shape, _, _ in seen)


def _uncovered(name: str, out, expected: torch.Tensor) -> None:
    """Name the ``last_rows_uncovered`` mistake when the output is right except in the last
    rows and/or columns, nearly every pixel of which is wrong (no tile wrote there; a few
    scores may be right by chance, where the reference's are 0 too)."""
    if _type(out) is not torch.Tensor or not out.is_floating_point() or out.shape != expected.shape:
        return
    scale = float(expected.abs().max())
    bad = ~((out.detach().double() - expected.double()).abs() <= 1e-4 * scale + 1e-6)  # NaN counts as bad
    bad = bad.any(dim=0)
    if not bool(bad.any()):
        return
    H, W = bad.shape
    rows, cols = (bad.double().mean(dim=1) >= 0.9).tolist(), (bad.double().mean(dim=0) >= 0.9).tolist()
    y0 = H - next((i for i, r in enumerate(reversed(rows)) if not r), H)
    x0 = W - next((i for i, c in enumerate(reversed(cols)) if not c), W)
    if (y0 == H and x0 == W) or y0 == 0 or x0 == 0 or bool(bad[:y0, :x0].any()):
        return
    missing = [f"rows {y0} to {H - 1}" if y0 < H else "", f"columns {x0} to {W - 1}" if x0 < W else ""]
    raise GradingError(
        f"{name} {mistakes.message(name, 'last_rows_uncovered')} (its scores are wrong in "
        f"{' and '.join(m for m in missing if m)} of a {H} x {W} image)"
    )


def _compare_tiles(name: str, fn, model, image: torch.Tensor, tile: int, stride, case: str) -> None:
    exercise = "overlap_tile_predict"
    # what the tiles must give: one pass over the whole mirrored image (equal to the tiles'
    # result for strides that are multiples of 2 ** depth, and cheaper)
    expected = reference.whole_image_predict(copy.deepcopy(model), image)
    out_tile = model.output_size(tile)
    step = stride or out_tile // 2**model.depth * 2**model.depth
    expected_tiles = math.prod(max(1, math.ceil((side - out_tile) / step) + 1) for side in image.shape[1:])
    learner_model, given = copy.deepcopy(model), image.clone()
    was_training = learner_model.training
    before = _grader.snapshot(learner_model, given)
    seen, handle = _watch(learner_model)
    try:
        out = (
            call(fn, name, learner_model, given, tile)
            if stride is None
            else call(fn, name, learner_model, given, tile, stride=stride)
        )
    finally:
        handle.remove()
    if any(training for _, training, _ in seen):
        raise GradingError(f"{name} {_grader.hygiene['train_mode']}")
    wrong_size = [shape for shape, _, _ in seen if tuple(shape[-2:]) != (tile, tile)]
    if len(seen) == 1 and wrong_size and min(wrong_size[0][-2:]) > tile:
        raise GradingError(
            f"{name} {mistakes.message(exercise, 'whole_image')} ({case}, the model got an input "
            f"of shape {wrong_size[0]}; tile={tile})"
        )
    if wrong_size:
        raise GradingError(
            f"{name} runs the model on an input of shape {wrong_size[0]} {case}: every call must "
            f"get tile x tile pieces of the padded image ({tile} x {tile} here)"
        )
    if learner_model.training != was_training:
        raise GradingError(f"{name} {mistakes.message(exercise, 'mode_not_restored')}")
    unchanged(name, (image,), (given,))
    _grader.check_hygiene(name, learner_model, given, before)
    args = (model, image, tile) if stride is None else (model, image, tile, stride)
    _uncovered(name, out, expected)
    as_tensor = functools.partial(expect_tensor, like=image)
    out = _grader.compare_output(name, out, expected, args, case, as_tensor, exercise=exercise)
    if any(grad for _, _, grad in seen):
        raise GradingError(f"{name} {mistakes.message(exercise, 'no_grad_missing')}")
    if _tiles_seen(seen) < expected_tiles:
        raise GradingError(
            f"{name} {mistakes.message(exercise, 'ignores_stride')} ({case}, it ran "
            f"{_tiles_seen(seen)} tiles where a tile every {step} pixels takes {expected_tiles})"
        )


def _unet(depth: int, in_channels: int = 1, num_classes: int = 2, dropout: float = 0.0, train: bool = True):
    """A small valid U-Net in float64 (so tiles and the whole image agree to rounding),
    handed over in training mode unless ``train`` is False."""
    model = UNet(in_channels, num_classes, depth=depth, base_width=4, dropout=dropout).double()
    return model.train(train)


def check_overlap_tile_predict(fn) -> None:
    """Hidden test of ``overlap_tile_predict(model, image, tile, stride=None)``: tiles of a
    mirror-padded image (margin (tile - out) / 2), every ``stride`` pixels (default: the
    largest multiple of 2 ** depth not above the output tile), stitched without gaps and
    cropped to (K, H, W); in eval mode (restored after), without gradients.

    A ``unet_output_size`` or ``center_crop`` the learner's function calls is replaced by
    the reference during this test: Exercises 1 and 2 are graded on their own.
    """
    assert_untampered()
    name = "overlap_tile_predict"
    with seeded(SEED), reference_helpers(fn, unet_output_size=unet_output_size, center_crop=center_crop):
        # depth 2 with dropout, handed over in training mode: 92 -> 52, stride 52 by default
        model = _unet(2, dropout=0.5)
        image = torch.rand(1, 110, 130, dtype=torch.float64)
        _compare_tiles(
            name,
            fn,
            model,
            image,
            92,
            None,
            "on a (1, 110, 130) image with a U-Net of depth 2 (tile 92, output tile 52) and the default "
            "stride (52, a multiple of 2 ** 2)",
        )
        _compare_tiles(name, fn, model, image, 92, 32, "on the same image and U-Net with stride=32")
        # depth 3: 116 -> 28, which is not a multiple of 2 ** 3, so the default stride is 24
        deep = _unet(3)
        image = torch.rand(1, 76, 64, dtype=torch.float64)
        _compare_tiles(
            name,
            fn,
            deep,
            image,
            116,
            None,
            "on a (1, 76, 64) image with a U-Net of depth 3 (tile 116, output tile 28, not a multiple "
            "of 2 ** 3 = 8) and the default stride (24)",
        )
        # two input channels, three classes, an image smaller than two output tiles, a model in eval mode
        wide = _unet(2, in_channels=2, num_classes=3, train=False)
        image = torch.rand(2, 70, 64, dtype=torch.float64)
        _compare_tiles(
            name,
            fn,
            wide,
            image,
            92,
            48,
            "on a (2, 70, 64) image with a 2-channel, 3-class U-Net of depth 2 handed over in eval "
            "mode, tile 92 and stride=48",
        )


# --- 7. iou ------------------------------------------------------------------------------


def _compare_iou(name: str, fn, args: tuple, case: str) -> None:
    expected = reference.iou(*args)
    given = [a.clone() for a in args]
    out = call(fn, name, *given)
    unchanged(name, args, given)
    value = number(out, name)
    if not same_number(value, expected):
        _grader.name_mistake(name, name, args, lambda wrong: same_number(number(wrong, name), value))
        raise GradingError(f"{name} returns {show_number(value)} {case}; the correct IoU is {show_number(expected)}")


def check_iou(fn) -> None:
    """Hidden test of ``iou(pred, target)``: |A and B| / |A or B| of two masks of any shape
    (nonzero = inside, all pixels pooled), 1.0 when both are empty, as a float."""
    assert_untampered()
    name = "iou"
    with seeded(SEED):
        # by hand: a batch of two 2 x 2 masks, IoU 1/3 and 3/4 each, 4/7 pooled
        pred = torch.tensor([[[1, 1], [0, 0]], [[1, 1], [1, 1]]])
        target = torch.tensor([[[0, 1], [1, 0]], [[1, 1], [1, 0]]])
        _compare_iou(
            name,
            fn,
            (pred, target),
            "on a batch of two 2 x 2 masks worked by hand (pred [[1, 1], [0, 0]] and [[1, 1], [1, 1]], "
            "target [[0, 1], [1, 0]] and [[1, 1], [1, 0]]: pooled, 4 pixels in both and 7 in either, "
            "4/7 = 0.5714)",
        )
        _compare_iou(
            name,
            fn,
            (torch.tensor([1, 1, 0, 0]), torch.tensor([0, 1, 1, 0])),
            "on the 1-d masks [1, 1, 0, 0] and [0, 1, 1, 0] (1 pixel in both, 3 in either: 1/3)",
        )
        pred, target = torch.rand(8, 9) < 0.5, torch.rand(8, 9) < 0.4
        _compare_iou(name, fn, (pred, target), "on random boolean (8, 9) masks")
        pred = (torch.rand(3, 6, 6) < torch.tensor([0.2, 0.5, 0.8])[:, None, None]).long()
        target = (torch.rand(3, 6, 6) < 0.5).long()
        _compare_iou(name, fn, (pred, target), "on a batch of three (6, 6) integer masks (all pixels pooled)")
        pred = (torch.rand(12, 10) < 0.5).to(torch.uint8) * 255
        target = (torch.rand(12, 10) < 0.5).long()
        _compare_iou(
            name, fn, (pred, target), "with a (12, 10) prediction stored as 0 and 255 (uint8) and a target of 0 and 1"
        )
        pred, target = torch.rand(1, 1, 40, 40) < 0.6, torch.rand(1, 1, 40, 40) < 0.6
        _compare_iou(name, fn, (pred, target), "on (1, 1, 40, 40) boolean masks (over a thousand pixels in the union)")
        # two empty masks agree perfectly
        empty = torch.zeros(5, 6, dtype=torch.long)
        case = "with two empty (5, 6) masks"
        try:
            out = call(fn, name, empty.clone(), empty.clone())
        except GradingError as err:
            raise _named_crash(name, err, "empty_union", case) from None
        value = number(out, name)
        if not same_number(value, 1.0):
            raise GradingError(
                f"{name} {mistakes.message(name, 'empty_union')} ({case} it returned {show_number(value)})"
            )


CHECKS = {
    "center_crop": check_center_crop,
    "unet_output_size": check_unet_output_size,
    "weight_map": check_weight_map,
    "weighted_cross_entropy": check_weighted_cross_entropy,
    "elastic_deform": check_elastic_deform,
    "overlap_tile_predict": check_overlap_tile_predict,
    "iou": check_iou,
}
