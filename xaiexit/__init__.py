"""xaiexit: explainable deep learning, built by hand.

The reference library of the course: offline data with ground truth
(:mod:`xaiexit.data`), models (:mod:`xaiexit.models`), training loops
(:mod:`xaiexit.train`), saliency methods and their metrics (:mod:`xaiexit.saliency`)
and a zoo of small reproducible checkpoints (:mod:`xaiexit.zoo`).
"""
__version__ = "0.1.0"
