"""The course loop over nbgrader: release lessons, check a notebook, grade a class.

See :mod:`xaiexit.course.loop` for the operations and :mod:`xaiexit.course.cli` for the
``xaiexit`` command that runs them.
"""
