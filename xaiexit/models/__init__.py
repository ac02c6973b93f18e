"""Models used in the course."""

from xaiexit.models.early_exit import EarlyExitCNN, Exit, SingleExit
from xaiexit.models.folding import fold_batchnorm, for_cpu_inference
from xaiexit.models.small_cnn import SmallCNN, conv_block
from xaiexit.models.unet import UNet, center_crop, unet_output_size

__all__ = [
    "SmallCNN",
    "EarlyExitCNN",
    "Exit",
    "SingleExit",
    "conv_block",
    "fold_batchnorm",
    "for_cpu_inference",
    "UNet",
    "center_crop",
    "unet_output_size",
]
