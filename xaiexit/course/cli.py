"""``xaiexit``: the course's command-line tool.

    xaiexit check 1                          check your Lesson 1 (the saved notebook)
    xaiexit release                          regenerate lessons/ from solutions/
    xaiexit grade 1 SUBMISSIONS/             autograde a class, write feedback and grades.csv
    xaiexit feedback 1                       feedback HTML again (e.g. after manual grading)
    xaiexit export                           the grades CSV again

``check`` and ``release`` live in :mod:`xaiexit.course`. ``grade``, ``feedback`` and
``export`` belong to the instructor's package ``xaiexit_grading`` in the course's
``autograder/`` folder, which is not installed: these commands put it on the path for the
time they run (:func:`xaiexit.course.nbgrader_app.instructor_tools`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from xaiexit.course.workspace import CourseError, find_course, resolve_lesson, workspace_path

# nbformat validates notebooks with jsonschema, which imports its optional IRI format checker,
# rfc3987_syntax, if it is installed (jupyter_events installs it). That package compiles 39
# grammars at import: 1.4 s in every command. A notebook's schema has no IRI field, so the
# commands go without it (None in sys.modules makes the optional import fail quietly).
sys.modules.setdefault("rfc3987_syntax", None)

WORKSPACE_HELP = (
    "folder for submissions, grades and feedback, outside the repository "
    "(default: $XAIEXIT_WORKSPACE or ~/.local/share/xaiexit/workspace)"
)


def _cmd_release(args) -> int:
    from xaiexit.course.release import release

    course = find_course(args.course)
    changed = release(course, args.lessons or None, check=args.check)
    if args.check:
        if changed:
            print(f"lessons/ is stale for: {', '.join(changed)}; run `make release` and commit lessons/")
            return 1
        print("lessons/ is up to date with solutions/")
        return 0
    print(f"regenerated lessons/: {', '.join(changed)}" if changed else "lessons/ was already up to date")
    return 0


def _cmd_check(args) -> int:
    from xaiexit.course.check import check, notebook_to_check

    course = find_course(args.course)
    notebook = notebook_to_check(course, args.notebook)
    shown = os.path.relpath(notebook)
    shown = notebook if shown.startswith("..") else shown  # outside the current folder: the full path
    print(f"checking the saved {shown} (save it first; give a path to check another copy) ...", flush=True)
    report = check(course, str(notebook), timeout=args.timeout)
    width = max(len(r.name) for r in report.results) if report.results else 10
    for r in report.results:
        line = f"  {'FAILED' if r.status == 'failed' else r.status:<13} {r.name:<{width}}  ({r.points:g} pt)"
        if r.message:
            line += f"  {r.message}"
        print(line)
    for note in report.notes:
        print(f"  note: {note}")
    code = [r for r in report.results if r.kind == "code"]
    passed = sum(r.status == "passed" for r in code)
    print(
        f"{report.lesson}: {passed} of {len(code)} exercises pass their visible tests. "
        "Hidden tests run when your work is graded; written answers are graded by your instructor."
    )
    return 0 if report.ok else 1


def _instructor(run):
    """A command of the instructor's package: runs with autograder/ on the path."""

    def command(args) -> int:
        from xaiexit.course.nbgrader_app import instructor_tools

        course = find_course(args.course)
        with instructor_tools(course):
            return run(course, args)

    return command


@_instructor
def _cmd_grade(course, args) -> int:
    from xaiexit_grading.grade import grade

    lesson = resolve_lesson(course, args.lesson)
    workspace = workspace_path(args.workspace)
    print(f"grading {lesson} from {args.submissions} into {workspace}", flush=True)
    grade(
        course,
        lesson,
        Path(args.submissions),
        workspace,
        progress=lambda line: print(line, flush=True),
        write_feedback=not args.no_feedback,
        csv_path=args.output,
        timeout=args.timeout,
        sandbox=args.sandbox,
    )
    print(f"grades: {args.output or workspace / 'grades.csv'}")
    if not args.no_feedback:
        print(f"feedback: {workspace / 'feedback'}/<student>/{lesson}/{lesson}.html")
    return 0


@_instructor
def _cmd_feedback(course, args) -> int:
    from xaiexit_grading.gradebook import feedback

    written = feedback(course, args.lesson, args.workspace, students=args.student or None)
    for path in written:
        print(path)
    return 0


@_instructor
def _cmd_export(course, args) -> int:
    from xaiexit_grading.gradebook import export

    print(export(course, args.lessons or None, args.workspace, args.output))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xaiexit", description="The xaiexit course: check your work, or release and grade lessons (over nbgrader)."
    )
    course_help = "the course folder (default: found from the current folder)"
    parser.add_argument("--course", metavar="DIR", help=course_help)
    # --course also after the command (`xaiexit check NOTEBOOK --course DIR`)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--course", metavar="DIR", default=argparse.SUPPRESS, help=course_help)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "check",
        parents=[common],
        help="run your saved notebook's visible tests, one line per exercise",
        description="Run a lesson notebook as the autograder would (visible tests only) and "
        "report each exercise: passed, failed (with the message) or not attempted.",
    )
    p.add_argument("notebook", help="a notebook path, or a lesson number/name (its copy in lessons/)")
    p.add_argument("--timeout", type=int, default=120, help="seconds allowed per cell (default 120)")
    p.set_defaults(run=_cmd_check)

    p = sub.add_parser(
        "release",
        parents=[common],
        help="regenerate lessons/ from solutions/",
        description="Generate the student version of each lesson (solutions and hidden "
        "tests removed, no outputs) into lessons/, the same bytes on every run.",
    )
    p.add_argument("lessons", nargs="*", help="lessons to release (default: all)")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if lessons/ is stale")
    p.set_defaults(run=_cmd_release)

    p = sub.add_parser(
        "grade",
        parents=[common],
        help="autograde a folder of submissions, write feedback and a grades CSV",
        description="Autograde one lesson for a class. SUBMISSIONS holds one folder or "
        ".zip per student, named by student id, containing the lesson notebook.",
    )
    p.add_argument("lesson", help="lesson number or name, e.g. 1 or 01_gradient_saliency")
    p.add_argument("submissions", help="folder with one folder or .zip per student")
    p.add_argument("--workspace", metavar="DIR", help=WORKSPACE_HELP)
    p.add_argument("--output", metavar="CSV", type=Path, help="grades CSV (default: WORKSPACE/grades.csv)")
    p.add_argument("--no-feedback", action="store_true", help="skip the feedback HTML")
    p.add_argument(
        "--sandbox",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run each notebook in a bubblewrap sandbox (the default; Linux, needs bwrap): no network, "
        "read-only files, solutions and other students' work hidden, memory and CPU time capped. "
        "--no-sandbox grades in ordinary processes: only for work you trust, or inside a throwaway container",
    )
    p.add_argument(
        "--timeout",
        type=int,
        metavar="SECONDS",
        help="seconds a cell may run before it is interrupted and fails (default 60)",
    )
    p.set_defaults(run=_cmd_grade)

    p = sub.add_parser(
        "feedback",
        parents=[common],
        help="write feedback HTML for graded submissions (hidden tests removed)",
        description="Write one feedback HTML per graded student, without hidden-test code.",
    )
    p.add_argument("lesson", help="lesson number or name")
    p.add_argument("--student", action="append", help="only this student (repeatable)")
    p.add_argument("--workspace", metavar="DIR", help=WORKSPACE_HELP)
    p.set_defaults(run=_cmd_feedback)

    p = sub.add_parser(
        "export",
        parents=[common],
        help="write the grades CSV",
        description="Write one row per student and lesson: total, points per exercise, "
        "manual grading pending, problems and flags.",
    )
    p.add_argument("lessons", nargs="*", help="lessons to export (default: all)")
    p.add_argument("--workspace", metavar="DIR", help=WORKSPACE_HELP)
    p.add_argument("--output", metavar="CSV", type=Path, help="output file (default: WORKSPACE/grades.csv)")
    p.set_defaults(run=_cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except CourseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
