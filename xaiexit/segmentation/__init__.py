"""Segmentation with U-Net: the weighted loss, augmentation, overlap-tile inference, metrics, training.

- the loss (:mod:`~xaiexit.segmentation.weights`): :func:`weight_map` (class balance plus
  the border term between touching cells), :func:`weighted_cross_entropy`;
- augmentation (:mod:`~xaiexit.segmentation.elastic`): :func:`elastic_deform` (the
  paper's coarse-grid bicubic field), :func:`augment` (shift, rotation, grey values);
- inference (:mod:`~xaiexit.segmentation.tiling`): :func:`overlap_tile_predict` and the
  reference it equals, :func:`whole_image_predict`;
- metrics (:mod:`~xaiexit.segmentation.metrics`): :func:`iou`, :func:`dice`,
  :func:`pixel_error`, :func:`adapted_rand_error`, :func:`class_iou`, and for touching
  cells :func:`touching_pairs` and :func:`separated_share`;
- training (:mod:`~xaiexit.segmentation.training`): the datasets :class:`CellTrainingSet`
  and :class:`TrimapTrainingSet` (with :func:`trimap_classes`), the loop :func:`fit_unet`,
  :func:`predict_masks` and :func:`cell_metrics`.

The model itself is :class:`xaiexit.models.UNet`.
"""

from xaiexit.segmentation.elastic import affine_field, augment, elastic_deform, elastic_field, warp
from xaiexit.segmentation.metrics import (
    adapted_rand_error,
    class_iou,
    dice,
    iou,
    pixel_error,
    separated_share,
    touching_pairs,
)
from xaiexit.segmentation.tiling import mirror_pad, overlap_tile_predict, whole_image_predict
from xaiexit.segmentation.training import (
    CellTrainingSet,
    TrimapTrainingSet,
    cell_metrics,
    fit_unet,
    predict_masks,
    trimap_classes,
)
from xaiexit.segmentation.weights import border_term, class_balance_weights, weight_map, weighted_cross_entropy

__all__ = [
    "weight_map",
    "border_term",
    "class_balance_weights",
    "weighted_cross_entropy",
    "elastic_deform",
    "elastic_field",
    "affine_field",
    "warp",
    "augment",
    "overlap_tile_predict",
    "whole_image_predict",
    "mirror_pad",
    "iou",
    "dice",
    "pixel_error",
    "adapted_rand_error",
    "class_iou",
    "touching_pairs",
    "separated_share",
    "CellTrainingSet",
    "TrimapTrainingSet",
    "trimap_classes",
    "fit_unet",
    "predict_masks",
    "cell_metrics",
]
