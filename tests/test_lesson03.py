"""Lesson 3's solutions are the library's references, and the setup cell's helpers for the
experiments do what the lesson says (the checks every lesson shares are in test_lessons.py)."""

import pytest

from course_helpers import LESSON3


def test_solutions_equal_the_library():
    """The notebook's solutions are the library's references, numerically."""
    import torch

    from xaiexit import exits
    from xaiexit.models import EarlyExitCNN

    ns = LESSON3.solution_namespace()
    torch.manual_seed(0)
    logits, y = [torch.randn(32, 3) * 3, torch.randn(32, 3)], torch.randint(0, 3, (32,))
    assert torch.allclose(ns["early_exit_loss"](logits, y, [0.3, 1.0]), exits.early_exit_loss(logits, y, [0.3, 1.0]))
    z = torch.cat([logits[0], torch.tensor([[0.0, 1000.0, -float("inf")]])])
    assert torch.allclose(ns["entropy_score"](z), exits.entropy_score(z))
    model = EarlyExitCNN(widths=(4, 8, 8, 8), exits_after=(1, 3), branch_width=4).eval()
    x = torch.rand(16, 3, 16, 16)
    for got, want in zip(
        ns["predict_with_exits"](model, x, exits.MaxSoftmax(), [0.55, 0.6]),
        exits.predict_with_exits(model, x, exits.MaxSoftmax(), [0.55, 0.6]),
    ):
        assert torch.equal(got, want)
    conv = torch.nn.Conv2d(6, 4, (3, 5), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2)
    assert ns["conv2d_macs"](conv, (6, 17, 13)) == exits.conv2d_macs(conv, (6, 17, 13))
    assert torch.equal(ns["exit_costs"](model, (3, 16, 16)), exits.exit_costs(model, (3, 16, 16)))
    probs = torch.softmax(torch.randn(200, 4) * 2, dim=1)
    labels = torch.randint(0, 4, (200,))
    assert (
        abs(ns["expected_calibration_error"](probs, labels) - exits.expected_calibration_error(probs, labels)) < 1e-12
    )
    z = torch.randn(200, 4) * 3
    assert abs(ns["fit_temperature"](z, labels) - exits.fit_temperature(z, labels)) < 1e-4


def test_experiments_call_the_learners_function_or_the_reference_with_a_note(capsys):
    """The setup cell's ``yours_or_reference``: the learner's function when it is written; the
    library's reference, with a note printed once, while it raises NotImplementedError or is missing."""
    import nbformat
    import torch

    from xaiexit import exits

    from course_helpers import cells_by_id

    namespace = {}
    exec(cells_by_id(nbformat.read(LESSON3.source, as_version=4))["setup"].source, namespace)
    yours_or_reference = namespace["yours_or_reference"]
    z = torch.randn(5, 3)
    capsys.readouterr()

    assert torch.equal(yours_or_reference("entropy_score")(z), exits.entropy_score(z))  # missing
    assert "entropy_score is not written yet" in capsys.readouterr().out

    def unwritten(logits):
        raise NotImplementedError()

    namespace["entropy_score"] = unwritten
    assert torch.equal(yours_or_reference("entropy_score")(z), exits.entropy_score(z))
    assert capsys.readouterr().out == ""  # the note is printed once

    namespace["entropy_score"] = lambda logits: torch.zeros(len(logits))  # the learner's own, even if wrong
    assert torch.equal(yours_or_reference("entropy_score")(z), torch.zeros(5))


def test_the_bootstrap_interval_of_a_mean():
    """``mean_interval``: an interval around the mean about 2 x 1.96 standard errors wide, the
    same twice; a constant has no spread."""
    import nbformat
    import torch

    from course_helpers import cells_by_id

    namespace = {}
    exec(cells_by_id(nbformat.read(LESSON3.source, as_version=4))["setup"].source, namespace)
    mean_interval = namespace["mean_interval"]
    values = (torch.rand(400, generator=torch.Generator().manual_seed(1)) < 0.3).double()
    low, high = mean_interval(values)
    se = (values.std() / len(values) ** 0.5).item()
    assert low < values.mean().item() < high
    assert abs((high - low) - 2 * 1.96 * se) < 0.25 * (high - low)
    assert mean_interval(values) == (low, high)
    assert mean_interval(torch.full((50,), 0.7)) == pytest.approx((0.7, 0.7))
