"""While a lesson is graded, xaiexit's versions of its exercises are stand-ins.

The grading sandbox shows the kernel a copy of the ``xaiexit`` package in which every
function that is an exercise of the lesson being graded has lost its body (see
:mod:`xaiexit_grading.references`); this file is copied into that package as
``xaiexit/_stand_in.py``, and each such function calls :func:`stand_in`:

- during a hidden test's call (the grading worker fills :data:`SERVED`), the value comes
  from the reference in the trusted grader, for every exercise but the one under test;
- otherwise it is the learner's own function of that name, so the library still works in
  the lesson's cells with the learner's answers in it;
- the learner's own function calling xaiexit's version of itself, or no function of that
  name at all, raises :class:`ReferenceHidden`.

Self-contained: it imports only the standard library.
"""

import sys

#: qualified name ("module:function") -> callable, while a hidden test's call runs
SERVED = {}
_ACTIVE = set()


class ReferenceHidden(RuntimeError):
    """The reference of an exercise was called while the lesson is graded."""


def stand_in(key, args, kwargs):
    """Call what stands for xaiexit's ``key`` ("xaiexit.saliency.gradient:vanilla_gradient")."""
    if key in SERVED:
        return SERVED[key](*args, **kwargs)
    name = key.rpartition(":")[2]
    own = getattr(sys.modules.get("__main__"), name, None)
    if own is None or not callable(own) or str(getattr(own, "__module__", "")).startswith("xaiexit") or key in _ACTIVE:
        raise ReferenceHidden(
            f"xaiexit's {name} is an exercise of this lesson, so it is not available while the lesson is "
            f"graded (it stands for your own {name}, and cannot stand in for it): write {name} yourself"
        )
    _ACTIVE.add(key)
    try:
        return own(*args, **kwargs)
    finally:
        _ACTIVE.discard(key)
