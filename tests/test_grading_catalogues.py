"""What every lesson's hidden tests promise, checked for all lessons at once: each exercise
has a check and a catalogue of plausible mistakes, and each catalogued mistake fails its
check with its own message. Lesson-specific grading tests are in ``test_grading_<lesson>.py``."""

import pytest

from xaiexit_grading import GradingError

from course_helpers import LESSONS

MISTAKES = [(lesson, m) for lesson in LESSONS for m in lesson.mistakes.CATALOGUE]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.name)
def test_every_exercise_has_a_check_and_a_catalogue_of_mistakes(lesson):
    exercises = list(lesson.points)
    assert list(lesson.grading.CHECKS) == exercises
    for exercise in exercises:
        assert len(lesson.mistakes.of(exercise)) >= 3, exercise
        messages = [m.message for m in lesson.mistakes.of(exercise)]
        assert len(messages) == len(set(messages)), f"{exercise}: two mistakes share a message"
    names = [(m.exercise, m.name) for m in lesson.mistakes.CATALOGUE]
    assert len(names) == len(set(names))
    assert {m.exercise for m in lesson.mistakes.CATALOGUE} <= set(exercises)


@pytest.mark.parametrize(
    "lesson, mistake",
    MISTAKES,
    ids=[f"{lesson.grading.__name__.rsplit('.', 1)[1]}-{m.exercise}-{m.name}" for lesson, m in MISTAKES],
)
def test_each_mistake_fails_with_its_message(lesson, mistake):
    with pytest.raises(GradingError) as info:
        lesson.grading.CHECKS[mistake.exercise](mistake.function)
    assert mistake.message in str(info.value)
    assert str(info.value).startswith(mistake.exercise)
