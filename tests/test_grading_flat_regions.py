"""Lesson 2's hidden tests, called directly (no notebook): they pass the reference and
the notebook's own solution, name every catalogued mistake (also when it is pasted into
a notebook as an answer cell), and resist forged answers."""

import copy
import math

import nbformat
import pytest
import torch
import torch.nn.functional as F
from test_grading_gradient_saliency import AlwaysEqual, FakeTensor
from torch import nn

from xaiexit import saliency
from xaiexit.saliency import sanity
from xaiexit.saliency.metrics import interior_border_split
from xaiexit_grading import GradingError
from xaiexit_grading import flat_regions as grading
from xaiexit_grading import flat_regions_mistakes as mistakes

from course_helpers import LESSON2


def integrated_gradients(model, x, target, baseline=0.0, steps=32):
    return saliency.integrated_gradients(model, x, target, baseline, steps, rule="riemann_trapezoid")


def occlusion(model, x, target, window=8, stride=4, baseline=0.0):
    return saliency.occlusion(model, x, target, window, stride, baseline)


def cascading_randomization(model, x, target, method):
    return sanity.cascading_randomization(model, x, target, method)


pytestmark = pytest.mark.usefixtures("one_thread")

REFERENCES = {
    "integrated_gradients": integrated_gradients,
    "completeness_gap": saliency.completeness_gap,
    "occlusion": occlusion,
    "interior_border_split": interior_border_split,
    "spearman_rank_correlation": sanity.spearman_rank_correlation,
    "cascading_randomization": cascading_randomization,
}


def notebook_namespace() -> dict:
    """What an answer cell of Lesson 2 sees: the setup cell's imports and Exercise 5's answer."""
    return {
        "copy": copy,
        "math": math,
        "torch": torch,
        "nn": nn,
        "F": F,
        "layers_top_down": sanity.layers_top_down,
        "reinitialize": sanity.reinitialize,
        "spearman_rank_correlation": sanity.spearman_rank_correlation,
    }


@pytest.mark.parametrize("exercise", list(REFERENCES))
def test_reference_passes(exercise):
    grading.CHECKS[exercise](REFERENCES[exercise])


@pytest.mark.parametrize("exercise", list(REFERENCES))
def test_notebook_solution_passes(exercise):
    namespace = LESSON2.solution_namespace()  # the answer cells, without the setup cell
    for name, value in notebook_namespace().items():
        namespace.setdefault(name, value)  # the answers see the setup cell's imports
    grading.CHECKS[exercise](namespace[exercise])


@pytest.mark.parametrize("mistake", mistakes.CATALOGUE, ids=lambda m: f"{m.exercise}-{m.name}")
def test_each_mistake_pasted_as_an_answer_cell_fails_with_its_message(mistake):
    namespace = notebook_namespace()
    exec(LESSON2.mistake_source(mistake), namespace)
    with pytest.raises(GradingError) as info:
        grading.CHECKS[mistake.exercise](namespace[mistake.exercise])
    assert mistake.message in str(info.value)
    assert str(info.value).startswith(mistake.exercise)


CASCADING_ANSWER = """
def cascading_randomization(model, x, target, method):
    original = method(model, x, target).detach()
    randomized = copy.deepcopy(model)
    rows = [spearman_rank_correlation(original.abs(), original.abs())]
    for k, (_, layer) in enumerate(layers_top_down(randomized), start=1):
        reinitialize(layer, seed=k)
        rows.append(spearman_rank_correlation(original.abs(), method(randomized, x, target).abs()))
    return torch.stack(rows)
"""


@pytest.mark.parametrize("wrong", mistakes.of("spearman_rank_correlation"), ids=lambda m: m.name)
def test_a_wrong_spearman_is_not_counted_again_in_cascading_randomization(wrong):
    namespace = notebook_namespace()
    exec("import copy\n" + CASCADING_ANSWER + LESSON2.mistake_source(wrong), namespace)
    with pytest.raises(GradingError):
        grading.check_spearman_rank_correlation(namespace["spearman_rank_correlation"])
    grading.check_cascading_randomization(namespace["cascading_randomization"])
    assert namespace["spearman_rank_correlation"] is not sanity.spearman_rank_correlation  # the learner's is back


def test_checks_are_deterministic():
    wrong = mistakes.of("cascading_randomization")[0].function
    messages = []
    for _ in range(2):
        with pytest.raises(GradingError) as info:
            grading.check_cascading_randomization(wrong)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_checks_do_not_disturb_the_notebooks_random_state():
    torch.manual_seed(3)
    expected = torch.rand(3)
    torch.manual_seed(3)
    grading.check_integrated_gradients(integrated_gradients)
    grading.check_cascading_randomization(cascading_randomization)
    assert torch.equal(torch.rand(3), expected)


def test_not_implemented_and_crashes_are_explained():
    def stub(a, b):
        raise NotImplementedError()

    with pytest.raises(GradingError, match="not implemented yet"):
        grading.check_spearman_rank_correlation(stub)

    def crashes(model, x, target, baseline=0.0, steps=32):
        alphas = torch.linspace(0, 1, steps)
        return alphas[steps]  # IndexError on this line

    with pytest.raises(GradingError) as info:
        grading.check_integrated_gradients(crashes)
    assert "IndexError" in str(info.value) and "return alphas[steps]" in str(info.value)


def test_a_value_equal_to_everything_is_rejected():
    with pytest.raises(GradingError, match="must return a torch.Tensor, got AlwaysEqual"):
        grading.check_occlusion(lambda model, x, target, window=8, stride=4, baseline=0.0: AlwaysEqual())


def test_a_tensor_subclass_that_fakes_comparisons_is_rejected():
    def forged(model, x, target, window=8, stride=4, baseline=0.0):
        return torch.zeros_like(x).as_subclass(FakeTensor)

    with pytest.raises(GradingError, match="subclass of torch.Tensor is not accepted"):
        grading.check_occlusion(forged)


def test_source_notebook_declares_the_exercises_the_checks_know():
    nb = nbformat.read(LESSON2.source, as_version=4)
    answers = [
        c.metadata["nbgrader"]["grade_id"]
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"
    ]
    assert answers == list(REFERENCES)
