"""Lesson 3's hidden tests, called directly (no notebook): they pass the reference and
the notebook's own solution, name every catalogued mistake (also when it is pasted into
a notebook as an answer cell), accept the variants the catalogue declares harmless, and
resist forged answers."""

import copy
import math

import nbformat
import pytest
import torch
import torch.nn.functional as F
from test_grading_gradient_saliency import AlwaysEqual, FakeTensor
from torch import nn

from xaiexit import exits
from xaiexit.exits import Entropy, MaxSoftmax, macs_by_part, max_softmax_score
from xaiexit_grading import GradingError
from xaiexit_grading import early_exit as grading
from xaiexit_grading import early_exit_mistakes as mistakes

from course_helpers import LESSON3


def predict_with_exits(model, x, rule, thresholds):
    return exits.predict_with_exits(model, x, rule, thresholds)


def fit_temperature(logits, y):
    return exits.fit_temperature(logits, y)


pytestmark = pytest.mark.usefixtures("one_thread")

REFERENCES = {
    "early_exit_loss": exits.early_exit_loss,
    "entropy_score": exits.entropy_score,
    "predict_with_exits": predict_with_exits,
    "conv2d_macs": exits.conv2d_macs,
    "exit_costs": exits.exit_costs,
    "expected_calibration_error": exits.expected_calibration_error,
    "fit_temperature": fit_temperature,
}


def notebook_namespace() -> dict:
    """What an answer cell of Lesson 3 sees: the setup cell's imports."""
    return {
        "copy": copy,
        "math": math,
        "torch": torch,
        "nn": nn,
        "F": F,
        "MaxSoftmax": MaxSoftmax,
        "Entropy": Entropy,
        "max_softmax_score": max_softmax_score,
        "macs_by_part": macs_by_part,
    }


@pytest.mark.parametrize("exercise", list(REFERENCES))
def test_reference_passes(exercise):
    grading.CHECKS[exercise](REFERENCES[exercise])


@pytest.mark.parametrize("exercise", list(REFERENCES))
def test_notebook_solution_passes(exercise):
    namespace = LESSON3.solution_namespace()  # the answer cells, without the setup cell
    for name, value in notebook_namespace().items():
        namespace.setdefault(name, value)  # the answers see the setup cell's imports
    grading.CHECKS[exercise](namespace[exercise])


@pytest.mark.parametrize("mistake", mistakes.CATALOGUE, ids=lambda m: f"{m.exercise}-{m.name}")
def test_each_mistake_pasted_as_an_answer_cell_fails_with_its_message(mistake):
    namespace = notebook_namespace()
    exec(LESSON3.mistake_source(mistake), namespace)
    with pytest.raises(GradingError) as info:
        grading.CHECKS[mistake.exercise](namespace[mistake.exercise])
    assert mistake.message in str(info.value)
    assert str(info.value).startswith(mistake.exercise)


# --- variants the catalogue declares harmless ----------------------------------------------


def entropy_with_eps(logits):
    p = torch.softmax(logits, dim=1)
    return -(p * torch.log(p + 1e-12)).sum(dim=1)


def entropy_categorical(logits):
    return torch.distributions.Categorical(logits=logits).entropy()


def entropy_xlogy(logits):
    p = torch.softmax(logits.double(), dim=1)
    return -torch.special.xlogy(p, p).sum(dim=1)


def ece_left_closed_bins(probs, y, n_bins=15):
    confidence, predicted = probs.max(dim=1)
    correct = (predicted == y).float()
    index = (confidence * n_bins).floor().long().clamp(max=n_bins - 1)  # [lo, hi) bins
    ece = torch.zeros(())
    for b in range(n_bins):
        in_bin = index == b
        if in_bin.any():
            ece += in_bin.float().mean() * (correct[in_bin].mean() - confidence[in_bin].mean()).abs()
    return ece  # a 0-dim tensor is accepted as a float


def temperature_fine_grid(logits, y):
    grid = torch.arange(0.05, 6.0, 0.005).tolist()
    return min(grid, key=lambda t: F.cross_entropy(logits / t, y).item())


def temperature_adam(logits, y):
    t = torch.ones((), requires_grad=True)
    optimizer = torch.optim.Adam([t], lr=0.05)
    for _ in range(400):
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / t, y)
        loss.backward()
        optimizer.step()
    return t.item()


@torch.no_grad()
def predict_one_at_a_time(model, x, rule, thresholds):
    """Each sample on its own: slow, but no block ever sees a sample that has left."""
    was_training = model.training
    model.eval()
    predictions, exit_index = [], []
    heads = list(model.exits.values())
    for i in range(len(x)):
        h, k = x[i : i + 1], 0
        for b, block in enumerate(model.features, start=1):
            h = block(h)
            if b in model.exit_blocks:
                logits = heads[k](h)
                if k == model.num_exits - 1 or bool(rule.exits(logits, thresholds[k])[0]):
                    predictions.append(int(logits.argmax(dim=1)))
                    exit_index.append(k)
                    break
                k += 1
    model.train(was_training)
    return torch.tensor(predictions), torch.tensor(exit_index)


def predict_running_on_empty(model, x, rule, thresholds):
    """Keeps going through every block even once the batch is empty (it costs nothing)."""
    was_training = model.training
    model.eval()
    predictions = torch.zeros(len(x), dtype=torch.long)
    exit_index = torch.zeros(len(x), dtype=torch.long)
    remaining = torch.arange(len(x))
    heads = iter(model.exits.values())
    h, k = x, 0
    with torch.no_grad():
        for b, block in enumerate(model.features, start=1):
            h = block(h)
            if b not in model.exit_blocks:
                continue
            logits = next(heads)(h)
            final = k == model.num_exits - 1
            leave = torch.ones(len(h), dtype=torch.bool) if final else rule.exits(logits, thresholds[k])
            predictions[remaining[leave]] = logits[leave].argmax(dim=1)
            exit_index[remaining[leave]] = k
            remaining, h = remaining[~leave], h[~leave]
            k += 1
    model.train(was_training)
    return predictions, exit_index


@pytest.mark.parametrize(
    "exercise, answer",
    [
        ("entropy_score", entropy_with_eps),
        ("entropy_score", entropy_categorical),
        ("entropy_score", entropy_xlogy),
        ("expected_calibration_error", ece_left_closed_bins),
        ("fit_temperature", temperature_fine_grid),
        ("fit_temperature", temperature_adam),
        ("predict_with_exits", predict_one_at_a_time),
        ("predict_with_exits", predict_running_on_empty),
    ],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_harmless_variants_pass(exercise, answer):
    grading.CHECKS[exercise](answer)


def test_a_float_count_of_macs_is_explained():
    def float_macs(layer, input_shape):
        return float(exits.conv2d_macs(layer, input_shape))

    with pytest.raises(GradingError, match="must return an int, got the float"):
        grading.check_conv2d_macs(float_macs)


def test_a_loss_returned_as_a_float_is_named_as_detached():
    def item(logits_per_exit, y, weights=None):
        return exits.early_exit_loss(logits_per_exit, y, weights).item()

    with pytest.raises(GradingError) as info:
        grading.check_early_exit_loss(item)
    assert mistakes.message("early_exit_loss", "detached") in str(info.value)


def test_checks_are_deterministic():
    wrong = mistakes.of("predict_with_exits")[0].function
    messages = []
    for _ in range(2):
        with pytest.raises(GradingError) as info:
            grading.check_predict_with_exits(wrong)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_checks_do_not_disturb_the_notebooks_random_state():
    torch.manual_seed(3)
    expected = torch.rand(3)
    torch.manual_seed(3)
    grading.check_predict_with_exits(predict_with_exits)
    grading.check_fit_temperature(fit_temperature)
    grading.check_expected_calibration_error(exits.expected_calibration_error)
    assert torch.equal(torch.rand(3), expected)


def test_not_implemented_and_crashes_are_explained():
    def stub(logits):
        raise NotImplementedError()

    with pytest.raises(GradingError, match="not implemented yet"):
        grading.check_entropy_score(stub)

    def crashes(model, x, rule, thresholds):
        return thresholds[len(thresholds)]  # IndexError on this line

    with pytest.raises(GradingError) as info:
        grading.check_predict_with_exits(crashes)
    assert "IndexError" in str(info.value) and "return thresholds[len(thresholds)]" in str(info.value)


def test_a_value_equal_to_everything_is_rejected():
    with pytest.raises(GradingError, match="must return a torch.Tensor, got AlwaysEqual"):
        grading.check_entropy_score(lambda logits: AlwaysEqual())
    with pytest.raises(GradingError, match="must return predictions as a torch.Tensor, got AlwaysEqual"):
        grading.check_predict_with_exits(lambda model, x, rule, thresholds: (AlwaysEqual(), AlwaysEqual()))

    class AnyInt(int):
        def __eq__(self, other):
            return True

        __hash__ = int.__hash__

    with pytest.raises(GradingError, match="must return an int, got AnyInt"):
        grading.check_conv2d_macs(lambda layer, input_shape: AnyInt(0))

    class AnyFloat(float):
        def __sub__(self, other):
            return 0.0

        __rsub__ = __sub__

    with pytest.raises(GradingError, match="must return a float, got AnyFloat"):
        grading.check_expected_calibration_error(lambda probs, y, n_bins=15: AnyFloat(0.0))
    with pytest.raises(GradingError, match="must return a float, got AnyFloat"):
        grading.check_fit_temperature(lambda logits, y: AnyFloat(1.0))


def test_a_tensor_subclass_that_fakes_comparisons_is_rejected():
    def forged_entropy(logits):
        return torch.zeros(len(logits)).as_subclass(FakeTensor)

    with pytest.raises(GradingError, match="subclass of torch.Tensor is not accepted"):
        grading.check_entropy_score(forged_entropy)

    def forged_predictions(model, x, rule, thresholds):
        zeros = torch.zeros(len(x), dtype=torch.long).as_subclass(FakeTensor)
        return zeros, zeros.clone()

    with pytest.raises(GradingError, match="subclass of torch.Tensor is not accepted"):
        grading.check_predict_with_exits(forged_predictions)


def test_source_notebook_declares_the_exercises_the_checks_know():
    nb = nbformat.read(LESSON3.source, as_version=4)
    answers = [
        c.metadata["nbgrader"]["grade_id"]
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"
    ]
    assert answers == list(REFERENCES)
