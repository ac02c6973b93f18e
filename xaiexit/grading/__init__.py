"""Hidden tests of the lessons: compare a learner's function with the reference.

One module per lesson (``gradient_saliency`` for Lesson 1) holds a ``check_<exercise>``
function per exercise, and ``<lesson>_mistakes`` the catalogue of plausible mistakes
whose messages those checks raise. A lesson's hidden test cell is two lines::

    from xaiexit.grading import gradient_saliency as grading
    grading.check_vanilla_gradient(vanilla_gradient)
"""
from xaiexit.grading._checks import GradingError, assert_untampered

__all__ = ["GradingError", "assert_untampered"]
