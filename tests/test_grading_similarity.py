"""Answers that look copied (xaiexit_grading.similarity): a renamed, re-commented and
reformatted copy is found, in both directions of a pair and against a reference; an
independent answer, a half-copied one and a short line two students share are not."""

from xaiexit_grading.similarity import THRESHOLD, library_source, similar_answers, solution_source

from course_helpers import LESSONS

ANSWER = """def smoothgrad(model, x, target, n=50, noise=0.15):
    sigma = noise * (x.amax(dim=(1, 2, 3), keepdim=True) - x.amin(dim=(1, 2, 3), keepdim=True))
    total = torch.zeros_like(x)
    for _ in range(n):
        noisy = (x + sigma * torch.randn_like(x)).detach().requires_grad_(True)
        score = model(noisy).gather(1, target.view(-1, 1)).sum()
        (grad,) = torch.autograd.grad(score, noisy)
        total += grad.abs()
    return total / n
"""

# the same answer with other names, a comment, other layout
DISGUISED = """def smoothgrad(net, images, labels, n=50, noise=0.15):
    # average the gradient over noisy copies (my own version)
    s = noise * (images.amax(dim=(1, 2, 3), keepdim=True)
                 - images.amin(dim=(1, 2, 3), keepdim=True))
    acc = torch.zeros_like(images)
    for i in range(n):
        z = (images + s * torch.randn_like(images)).detach().requires_grad_(True)
        out = net(z).gather(1, labels.view(-1, 1)).sum()
        (g,) = torch.autograd.grad(out, z)
        acc += g.abs()
    return acc / n
"""

# the same idea, written independently
INDEPENDENT = """def smoothgrad(model, x, target, n=50, noise=0.15):
    lo = x.flatten(1).min(dim=1).values.view(-1, 1, 1, 1)
    hi = x.flatten(1).max(dim=1).values.view(-1, 1, 1, 1)
    batch = x.repeat(n, 1, 1, 1)
    batch = batch + noise * (hi - lo).repeat(n, 1, 1, 1) * torch.randn_like(batch)
    batch.requires_grad_(True)
    logits = model(batch)
    picked = logits[torch.arange(len(batch)), target.repeat(n)]
    picked.sum().backward()
    return batch.grad.abs().view(n, *x.shape).mean(dim=0)
"""

SHORT = "def to_heatmap(attr):\n    return attr.abs().amax(dim=1)\n"


def test_a_disguised_copy_is_found_both_ways_and_an_independent_answer_is_not():
    found = similar_answers(
        {"ann": {"smoothgrad": ANSWER}, "bob": {"smoothgrad": DISGUISED}, "cy": {"smoothgrad": INDEPENDENT}},
        {"smoothgrad": []},
    )
    assert [line.rsplit(" ", 1)[1] for line in found["ann"]] == ["bob"]
    assert [line.rsplit(" ", 1)[1] for line in found["bob"]] == ["ann"]
    assert found["cy"] == []
    share = float(found["ann"][0].split()[1])
    assert THRESHOLD <= share <= 1.0


def test_a_copy_of_the_reference_is_named_as_such():
    found = similar_answers(
        {"ann": {"smoothgrad": DISGUISED}, "cy": {"smoothgrad": INDEPENDENT}}, {"smoothgrad": [ANSWER]}
    )
    assert found["ann"][0].startswith("smoothgrad:") and found["ann"][0].endswith("like the reference")
    assert found["cy"] == []


def test_half_a_copy_is_below_the_threshold():
    half = DISGUISED + "\n\n" + INDEPENDENT.replace("def smoothgrad", "def other")
    found = similar_answers({"ann": {"smoothgrad": ANSWER}, "dan": {"smoothgrad": half}}, {})
    assert found["dan"] == []  # only half of dan's answer is found in ann's
    assert found["ann"] == ["smoothgrad: 1.00 like dan"] or found["ann"][0].endswith(
        "like dan"
    )  # all of ann's is in dan's


def test_a_short_line_that_two_students_share_is_not_reported():
    found = similar_answers({"ann": {"to_heatmap": SHORT}, "bob": {"to_heatmap": SHORT}}, {"to_heatmap": [SHORT]})
    assert found == {"ann": [], "bob": []}


def test_every_exercise_has_a_library_version_to_compare_with():
    """The course's rule (every exercise has a reference of the same name in xaiexit) is what
    the comparison with the library relies on."""
    missing = [(lesson.name, name) for lesson in LESSONS for name in lesson.points if library_source(name) is None]
    assert missing == []


def test_a_solution_cell_is_compared_without_nbgraders_markers():
    cell = "### BEGIN SOLUTION\n" + ANSWER + "### END SOLUTION\n"
    assert "BEGIN SOLUTION" not in solution_source(cell) and "return total / n" in solution_source(cell)
