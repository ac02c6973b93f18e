"""Lesson 1's hidden tests, called directly (no notebook): they pass the reference and
the notebook's own solution, name every catalogued mistake, and resist forged answers."""

import builtins

import nbformat
import pytest
import torch

from xaiexit import saliency
from xaiexit.saliency.metrics import relevance_mass
from xaiexit_grading import GradingError
from xaiexit_grading import gradient_saliency as grading
from xaiexit_grading import gradient_saliency_mistakes as mistakes

from course_helpers import SOURCE, mistake_source, solution_namespace

REFERENCES = {
    "vanilla_gradient": saliency.vanilla_gradient,
    "to_heatmap": saliency.to_heatmap,
    "gradient_x_input": saliency.gradient_x_input,
    "smoothgrad": saliency.smoothgrad,
    "relevance_mass": relevance_mass,
}


@pytest.mark.parametrize("exercise", list(REFERENCES))
def test_reference_passes(exercise):
    grading.CHECKS[exercise](REFERENCES[exercise])


@pytest.mark.parametrize("exercise", list(REFERENCES))
def test_notebook_solution_passes(exercise):
    grading.CHECKS[exercise](solution_namespace()[exercise])


def test_checks_are_deterministic():
    wrong = mistakes.of("smoothgrad")[0].function
    messages = []
    for _ in range(2):
        with pytest.raises(GradingError) as info:
            grading.check_smoothgrad(wrong)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_checks_do_not_disturb_the_notebooks_random_state():
    torch.manual_seed(3)
    expected = torch.rand(3)
    torch.manual_seed(3)
    grading.check_smoothgrad(saliency.smoothgrad)
    assert torch.equal(torch.rand(3), expected)


def test_not_implemented_and_crashes_are_explained():
    def stub(model, x, target):
        raise NotImplementedError()

    with pytest.raises(GradingError, match="not implemented yet"):
        grading.check_vanilla_gradient(stub)

    def crashes(model, x, target):
        grads = x.grad.abs()  # x.grad is None: AttributeError on this line
        return grads

    with pytest.raises(GradingError) as info:
        grading.check_vanilla_gradient(crashes)
    assert "AttributeError" in str(info.value) and "grads = x.grad.abs()" in str(info.value)


def test_a_crash_is_named_a_mistake_only_where_that_mistake_crashes():
    """A function that crashes on every input is not told it mishandles an int target, nor
    that its sigma has the wrong shape: it gets the crash itself."""

    def crashes(model, x, target, n=50, noise=0.15):
        raise RuntimeError("boom")

    for check in (grading.check_vanilla_gradient, grading.check_gradient_x_input, grading.check_smoothgrad):
        with pytest.raises(GradingError) as info:
            check(crashes)
        assert "raised RuntimeError: boom" in str(info.value)
        assert mistakes.message("vanilla_gradient", "int_target") not in str(info.value)
        assert mistakes.message("smoothgrad", "sigma_shape") not in str(info.value)


# --- forged answers ---------------------------------------------------------------------


class AlwaysEqual:
    shape = property(lambda self: torch.Size([4, 2, 5, 4]))

    def __eq__(self, other):
        return True

    __hash__ = object.__hash__


class FakeTensor(torch.Tensor):
    def __eq__(self, other):
        return torch.ones_like(other, dtype=torch.bool)

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.allclose, torch.equal):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})


def test_a_value_equal_to_everything_is_rejected():
    with pytest.raises(GradingError, match="must return a torch.Tensor, got AlwaysEqual"):
        grading.check_vanilla_gradient(lambda model, x, target: AlwaysEqual())


def test_a_tensor_subclass_that_fakes_comparisons_is_rejected():
    with pytest.raises(GradingError, match="subclass of torch.Tensor is not accepted"):
        grading.check_vanilla_gradient(lambda model, x, target: torch.zeros_like(x).as_subclass(FakeTensor))


@pytest.mark.parametrize(
    "owner, name",
    [(torch, "allclose"), (torch, "abs"), (builtins, "abs"), (builtins, "isinstance"), (torch.Tensor, "item")],
)
def test_replacing_builtins_or_torch_functions_is_detected(owner, name):
    # The stand-in behaves like the original (pytest itself needs isinstance meanwhile);
    # being Python code in the original's place is enough to be refused.
    original = getattr(owner, name)
    setattr(owner, name, lambda *args, **kwargs: original(*args, **kwargs))
    try:
        with pytest.raises(GradingError, match=f"replaced .*{name}"):
            grading.check_relevance_mass(relevance_mass)
    finally:
        setattr(owner, name, original)


def test_a_redefined_builtin_in_the_learners_namespace_does_not_matter():
    # A notebook-level `abs = ...` only changes the learner's own code, never the checks.
    namespace = {"torch": torch}
    wrong = next(m for m in mistakes.of("relevance_mass") if m.name == "no_abs")
    exec("abs = lambda t: t\nisinstance = lambda *a: True\nlen = lambda x: 0\n" + mistake_source(wrong), namespace)
    with pytest.raises(GradingError, match="uses the signed heatmap"):
        grading.check_relevance_mass(namespace["relevance_mass"])


def test_source_notebook_declares_the_exercises_the_checks_know():
    nb = nbformat.read(SOURCE, as_version=4)
    answers = [
        c.metadata["nbgrader"]["grade_id"]
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"
    ]
    assert answers == list(REFERENCES)
