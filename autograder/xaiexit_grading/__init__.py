"""The instructor's side of the course: hidden tests, mistake catalogues, grading a class.

Not installed with ``xaiexit``: it lives in the course's ``autograder/`` folder and is on the
path only for grading kernels, the ``xaiexit grade|feedback|export`` commands and the tests.

Hidden tests: one module per lesson (``gradient_saliency`` for Lesson 1) holds a
``check_<exercise>`` function per exercise, and ``<lesson>_mistakes`` the catalogue of
plausible mistakes whose messages those checks raise. A lesson's hidden test cell is two lines::

    from xaiexit_grading import gradient_saliency as grading
    grading.check_vanilla_gradient(vanilla_gradient)

While a class is graded, those lines do not run in the learner's kernel: the grader runs the
check in its own process and hands it a proxy for the learner's function
(:mod:`~xaiexit_grading.trusted_execute`, :mod:`~xaiexit_grading.remote`,
:mod:`~xaiexit_grading.worker`); in the sandbox the kernel sees the ``xaiexit`` package with
the lesson's exercises redacted (:mod:`~xaiexit_grading.references`,
:mod:`~xaiexit_grading.stand_in`). In JupyterLab (``make lab AUTOGRADER=1``) and in the
tests a check can also be called directly on a function.

Grading a class: :mod:`~xaiexit_grading.submissions` (reading them),
:mod:`~xaiexit_grading.grade` (autograding each), :mod:`~xaiexit_grading.gradebook`
(scores, feedback, the grades CSV), :mod:`~xaiexit_grading.feedback` (hidden tests scrubbed
from feedback), :mod:`~xaiexit_grading.audit` (flags) and :mod:`~xaiexit_grading.sandbox`.
"""

from xaiexit_grading._checks import GradingError, assert_untampered

__all__ = ["GradingError", "assert_untampered"]
