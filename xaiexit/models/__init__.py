"""Models used in the course."""
from xaiexit.models.small_cnn import SmallCNN

__all__ = ["SmallCNN"]
