"""nbgrader configuration of the xaiexit course.

The course repository is nbgrader's course directory: ``solutions/`` holds the source
notebooks (with solutions and hidden tests) and ``lessons/`` the released student
versions, both committed. Everything produced while grading a class - submitted/,
autograded/, feedback/, the gradebook and the grades CSV - lives in a *workspace*
outside the repository, so student work is never committed by accident:

- ``XAIEXIT_WORKSPACE`` (or ``xaiexit grade --workspace DIR``) chooses it; the default is
  ``~/.local/share/xaiexit/workspace``;
- ``XAIEXIT_DB_URL`` points the gradebook at a database server (e.g.
  ``postgresql://user@host/xaiexit``) when several graders share it; the default is
  ``gradebook.db`` (sqlite) in the workspace.

``xaiexit`` (the command-line tool) loads this file; it is plain nbgrader configuration.
"""

import os
from pathlib import Path

from xaiexit.course.workspace import check_workspace_path, default_workspace

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file

COURSE = Path(__file__).resolve().parent.parent
WORKSPACE = check_workspace_path(os.environ.get("XAIEXIT_WORKSPACE") or default_workspace())

c.CourseDirectory.course_id = "xaiexit"
c.CourseDirectory.root = str(COURSE)
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "lessons"
c.CourseDirectory.submitted_directory = str(WORKSPACE / "submitted")
c.CourseDirectory.autograded_directory = str(WORKSPACE / "autograded")
c.CourseDirectory.feedback_directory = str(WORKSPACE / "feedback")
c.CourseDirectory.db_url = os.environ.get("XAIEXIT_DB_URL") or f"sqlite:///{WORKSPACE / 'gradebook.db'}"
# Student notebooks run nothing heavy while graded (NBGRADER_EXECUTION is set), so a
# cell that takes longer than this is stuck: it is interrupted and fails on its own.
c.Execute.timeout = 60
# A cell that prints a flood of output (50 MB, say) may still be sending it when its reply
# arrives; nbgrader would then fail the whole notebook. Its output is cut short instead
# (scores come from the hidden tests, which run in the grader: xaiexit_grading.remote).
c.Execute.raise_on_iopub_timeout = False
c.Execute.kernel_name = "python3"
# Feedback explains failures without showing the hidden tests (nbgrader's default
# feedback prints them, in the cell and in tracebacks).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "xaiexit_grading.feedback.ScrubHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
