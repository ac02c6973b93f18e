"""Lesson 3's solutions are the library's references (the checks every lesson shares
are in test_lessons.py)."""

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
