"""Models used in the course."""
from xaiexit.models.early_exit import EarlyExitCNN, Exit, SingleExit
from xaiexit.models.folding import fold_batchnorm, for_cpu_inference
from xaiexit.models.small_cnn import SmallCNN, conv_block

__all__ = ["SmallCNN", "EarlyExitCNN", "Exit", "SingleExit", "conv_block", "fold_batchnorm", "for_cpu_inference"]
