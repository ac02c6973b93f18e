"""The visible tests teach: every catalogued mistake, run against its exercise's *visible*
test cell (the cell of the solution notebook with its hidden-test block removed, the other
exercises answered by the solution), gets a hint that names it, or at least no hint that names
a different mistake.

The rule. In a lesson listed in ``LESSONS``, every catalogued mistake declares exactly one of
two things in its ``@mistake(...)`` entry:

* ``visible="<phrase>"``: the visible test cell must fail with an ``AssertionError`` whose
  message contains that phrase — the mistake's own hint, which the learner sees while working;
* ``hidden_only="<why>"``: the visible tests cannot tell this mistake apart, for the reason
  written there, and only the hidden tests name it. The visible cell may then pass, or fail.

Either way, a visible cell that fails must fail with an ``AssertionError`` (a hint, never a raw
traceback of another exception), and its message must not contain the phrase of another
mistake of the same exercise: no hint may point the learner at the wrong mistake. The
solution passes every visible cell.

To hold another lesson to the rule: mark its catalogue (``visible=`` / ``hidden_only=``) and
add the lesson to ``LESSONS``.
"""

from __future__ import annotations

import re

import nbformat
import pytest
import torch

from course_helpers import LESSONS, cells_by_id

MISTAKES = [(lesson, m) for lesson in LESSONS for m in lesson.mistakes.CATALOGUE]
HIDDEN_BLOCK = re.compile(r"^### BEGIN HIDDEN TESTS\n.*?^### END HIDDEN TESTS\n?", re.M | re.S)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(autouse=True)
def while_working(monkeypatch):
    """The visible tests as the learner runs them, not as nbgrader's autograde does."""
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)


def visible_test(lesson, exercise: str) -> str:
    """The source of an exercise's test cell without its hidden tests."""
    nb = nbformat.read(lesson.source, as_version=4)
    source = cells_by_id(nb)[f"{exercise}_test"].source
    assert "### BEGIN HIDDEN TESTS" in source
    return HIDDEN_BLOCK.sub("", source)


def run_visible_test(lesson, exercise: str, function) -> str | None:
    """Run the visible test of ``exercise`` with ``function`` as the learner's answer.

    Returns the message of the AssertionError it raises, or None when it passes; any other
    exception fails the calling test.
    """
    namespace = lesson.solution_namespace()
    namespace[exercise] = function
    code = compile(visible_test(lesson, exercise), f"<visible test of {exercise}>", "exec")
    with torch.random.fork_rng(devices=[]):  # the cell seeds torch: keep the other tests' state
        try:
            exec(code, namespace)
        except AssertionError as error:
            return str(error)
        except Exception as error:  # noqa: BLE001 - any other exception is a raw traceback
            pytest.fail(f"the visible test of {exercise} raised {type(error).__name__}: {error}, not a hint")
    return None


def _id(lesson, mistake) -> str:
    return f"{lesson.name}-{mistake.exercise}-{mistake.name}"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.name)
def test_every_mistake_says_which_tests_name_it(lesson):
    for m in lesson.mistakes.CATALOGUE:
        assert (m.visible is None) != (m.hidden_only is None), (
            f"{m.exercise}/{m.name}: give it exactly one of visible='<phrase of its hint>' or hidden_only='<why>'"
        )
    for exercise in lesson.points:
        phrases = [m.visible for m in lesson.mistakes.of(exercise) if m.visible]
        assert len(phrases) == len(set(phrases)), f"{exercise}: two mistakes share a hint phrase"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.name)
def test_the_solution_passes_every_visible_test(lesson, capsys):
    solution = lesson.solution_namespace()
    for exercise in lesson.points:
        assert run_visible_test(lesson, exercise, solution[exercise]) is None, exercise
        assert "visible tests passed" in capsys.readouterr().out, exercise


@pytest.mark.parametrize("lesson, mistake", MISTAKES, ids=[_id(lesson, m) for lesson, m in MISTAKES])
def test_a_mistake_gets_its_own_hint_and_no_other(lesson, mistake):
    message = run_visible_test(lesson, mistake.exercise, mistake.function)
    if mistake.visible is not None:
        assert message is not None, f"passes the visible tests, whose hint should contain {mistake.visible!r}"
        assert mistake.visible in message, f"its hint should contain {mistake.visible!r}: {message!r}"
    others = [m.visible for m in lesson.mistakes.of(mistake.exercise) if m is not mistake and m.visible is not None]
    misleading = [phrase for phrase in others if message is not None and phrase in message]
    assert not misleading, f"the hint names another mistake ({misleading}): {message!r}"
