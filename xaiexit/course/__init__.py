"""The learner's side of the course loop: check a saved notebook, release the lessons.

- :mod:`xaiexit.course.check`: ``xaiexit check 1`` runs a saved notebook's visible tests;
- :mod:`xaiexit.course.release`: ``xaiexit release`` regenerates ``lessons/`` from ``solutions/``;
- :mod:`xaiexit.course.nbgrader_app`: nbgrader's configuration and converters, used by both;
- :mod:`xaiexit.course.cli`: the ``xaiexit`` command.

Grading a class (hidden checks, feedback, export, the sandbox) is the instructor's package
``xaiexit_grading`` in the course's ``autograder/`` folder, which is not installed.
"""
