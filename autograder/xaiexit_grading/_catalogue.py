"""A lesson's catalogue of plausible mistakes, each with the message that names it.

Each lesson's ``<lesson>_mistakes`` module makes one :class:`Catalogue` and registers
wrong implementations with its ``mistake`` decorator::

    _catalogue = Catalogue()
    mistake, of, message, CATALOGUE = _catalogue.mistake, _catalogue.of, _catalogue.message, _catalogue.entries

    @mistake("relevance_mass", "no_abs", "uses the signed heatmap: ...")
    def relevance_mass_no_abs(heatmap, mask): ...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Mistake:
    """One catalogued mistake.

    exercise : the function it is a wrong version of.
    name : a short id.
    message : what the learner reads; the hidden tests raise exactly this text.
    function : the wrong implementation (same signature as the exercise).
    matches_output : True when the mistake is recognised from its output alone;
        False when a dedicated check (hygiene, an edge case, a noise estimate) catches it.
    visible : a phrase that the exercise's *visible* test prints for this mistake (its own
        hint, in the learner's notebook), or None.
    hidden_only : why the visible test cannot name this mistake, so that only the hidden
        tests do; None when ``visible`` is given. Lessons that mark their mistakes give each
        one exactly one of the two (``tests/test_visible_hints.py`` runs every mistake
        against the visible test cell and holds the lesson to what it declares).
    """

    exercise: str
    name: str
    message: str
    function: Callable
    matches_output: bool = True
    visible: str | None = None
    hidden_only: str | None = None


class Catalogue:
    """The mistakes of one lesson, in the order they were registered."""

    def __init__(self) -> None:
        self.entries: list[Mistake] = []

    def mistake(
        self,
        exercise: str,
        name: str,
        message: str,
        matches_output: bool = True,
        visible: str | None = None,
        hidden_only: str | None = None,
    ):
        """Decorator: register the decorated function as a wrong version of ``exercise``."""

        def register(function):
            self.entries.append(Mistake(exercise, name, message, function, matches_output, visible, hidden_only))
            return function

        return register

    def of(self, exercise: str) -> list[Mistake]:
        """The catalogued mistakes of one exercise."""
        return [m for m in self.entries if m.exercise == exercise]

    def message(self, exercise: str, name: str) -> str:
        """The message of one catalogued mistake."""
        for m in self.entries:
            if (m.exercise, m.name) == (exercise, name):
                return m.message
        raise KeyError(f"no catalogued mistake {exercise}/{name}")
