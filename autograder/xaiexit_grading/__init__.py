"""The instructor's side of the course: hidden tests, mistake catalogues, grading a class.

Not installed with ``xaiexit``: it lives in the course's ``autograder/`` folder and is on the
path only for grading kernels, the ``xaiexit grade|feedback|export`` commands and the tests.

Hidden tests: one module per lesson (``gradient_saliency`` for Lesson 1) holds a
``check_<exercise>`` function per exercise, and ``<lesson>_mistakes`` the catalogue of
plausible mistakes whose messages those checks raise. A lesson's hidden test cell is two lines::

    from xaiexit_grading import gradient_saliency as grading
    grading.check_vanilla_gradient(vanilla_gradient)

Grading a class: :mod:`~xaiexit_grading.submissions` (reading them),
:mod:`~xaiexit_grading.grade` (autograding each), :mod:`~xaiexit_grading.gradebook`
(scores, feedback, the grades CSV), :mod:`~xaiexit_grading.feedback` (hidden tests scrubbed
from feedback), :mod:`~xaiexit_grading.audit` (flags) and :mod:`~xaiexit_grading.sandbox`.
"""

from xaiexit_grading._checks import GradingError, assert_untampered

__all__ = ["GradingError", "assert_untampered"]
