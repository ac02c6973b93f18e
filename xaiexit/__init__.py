"""xaiexit: explainable deep learning, built by hand.

The reference library of the course: offline data with ground truth
(:mod:`xaiexit.data`), models (:mod:`xaiexit.models`), training loops
(:mod:`xaiexit.train`), saliency methods and their metrics (:mod:`xaiexit.saliency`),
early exits (:mod:`xaiexit.exits`), U-Net segmentation (:mod:`xaiexit.segmentation`),
a zoo of small reproducible checkpoints (:mod:`xaiexit.zoo`) and the ``xaiexit``
command (:mod:`xaiexit.course`).
"""

# The only place the version is written: pyproject.toml reads it (dynamic = ["version"]).
__version__ = "0.1.0"
