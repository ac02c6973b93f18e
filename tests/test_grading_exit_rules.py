"""The hidden tests of Lessons 4 and 5 (exit rules from saliency), called directly: they pass the reference and
answers written as a learner would, name every catalogued mistake (also when it is pasted
into a notebook as an answer cell, where it costs its own exercise only), accept the
variants the catalogue declares harmless, and resist forged answers and changed inputs."""

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage.metrics import structural_similarity
from test_grading_gradient_saliency import AlwaysEqual, FakeTensor
from torch import nn

from xaiexit import exits
from xaiexit.exits import normalize_maps, resize_to_common
from xaiexit_grading import GradingError, exit_rules, exit_rules_mistakes, map_concentration, map_concentration_mistakes

from course_helpers import LESSON4, LESSON5

# Lesson 4 (the AUROC, concentration) and Lesson 5 (agreement, thresholds), side by side
CHECKS = {**map_concentration.CHECKS, **exit_rules.CHECKS}
MISTAKES = map_concentration_mistakes.CATALOGUE + exit_rules_mistakes.CATALOGUE
LESSON_OF = {**{name: LESSON4 for name in map_concentration.CHECKS}, **{name: LESSON5 for name in exit_rules.CHECKS}}

pytestmark = pytest.mark.usefixtures("one_thread")

REFERENCES = {
    "auroc": exits.auroc,
    "spatial_entropy": exits.spatial_entropy,
    "moment_of_inertia": exits.moment_of_inertia,
    "cosine_similarity_maps": exits.cosine_similarity_maps,
    "ssim_maps": exits.ssim_maps,
    "coherence_scores": exits.coherence_scores,
    "choose_threshold": exits.choose_threshold,
}

# Right answers as a learner writes them in the notebook's answer cells: float32 where the
# inputs are, Python floats from auroc and choose_threshold, and coherence_scores calling the answer
# cosine_similarity_maps (Lesson 5, Exercises 3 and 1).
ANSWERS = """
def auroc(scores, positive, higher_is_surer=True):
    s = scores if higher_is_surer else -scores
    right, wrong = s[positive], s[~positive]
    if len(right) == 0 or len(wrong) == 0 or not torch.isfinite(s).any():
        return float("nan")
    surer = (right[:, None] > wrong[None, :]).float()
    tied = (right[:, None] == wrong[None, :]).float()
    return (surer + 0.5 * tied).mean().item()


def spatial_entropy(heatmap):
    B, H, W = heatmap.shape
    total = heatmap.sum(dim=(1, 2), keepdim=True)
    p = torch.where(total > 0, heatmap / total.clamp(min=1e-30), torch.full_like(heatmap, 1.0 / (H * W)))
    return -torch.special.xlogy(p, p).sum(dim=(1, 2)) / math.log(H * W)


def moment_of_inertia(heatmap):
    B, H, W = heatmap.shape
    total = heatmap.sum(dim=(1, 2), keepdim=True)
    p = torch.where(total > 0, heatmap / total.clamp(min=1e-30), torch.full_like(heatmap, 1.0 / (H * W)))
    y = ((torch.arange(H) + 0.5) / H).view(1, H, 1)
    x = ((torch.arange(W) + 0.5) / W).view(1, 1, W)
    cy = (p * y).sum(dim=(1, 2), keepdim=True)
    cx = (p * x).sum(dim=(1, 2), keepdim=True)
    return (p * ((y - cy) ** 2 + (x - cx) ** 2)).sum(dim=(1, 2))


def cosine_similarity_maps(a, b):
    a, b = resize_to_common(a, b)
    a, b = a.float().flatten(1), b.float().flatten(1)
    norms = a.norm(dim=1) * b.norm(dim=1)
    return torch.where(norms > 0, (a * b).sum(dim=1) / norms.clamp(min=1e-30), torch.zeros_like(norms))


def ssim_maps(a, b, data_range=1.0, window=7):
    a, b = resize_to_common(a, b)
    if a.shape[1] < window or a.shape[2] < window:
        raise ValueError(f"maps of {tuple(a.shape[1:])} are smaller than the window {window}")
    a, b = a.float()[:, None], b.float()[:, None]

    def mean(t):
        return F.avg_pool2d(t, window, stride=1)

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    n = window * window
    mu_a, mu_b = mean(a), mean(b)
    var_a = (mean(a * a) - mu_a ** 2) * n / (n - 1)
    var_b = (mean(b * b) - mu_b ** 2) * n / (n - 1)
    cov = (mean(a * b) - mu_a * mu_b) * n / (n - 1)
    ssim = (2 * mu_a * mu_b + c1) * (2 * cov + c2) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return ssim.mean(dim=(1, 2, 3))


def coherence_scores(maps_per_exit, reference="previous"):
    E = len(maps_per_exit)
    if reference == "previous":
        rows = [cosine_similarity_maps(maps_per_exit[j + 1], maps_per_exit[j]) for j in range(E - 1)]
    elif reference == "final":
        rows = [cosine_similarity_maps(maps_per_exit[j], maps_per_exit[-1]) for j in range(E - 1)]
    else:
        raise ValueError(f"reference must be 'previous' or 'final', got {reference!r}")
    return torch.stack(rows)


def choose_threshold(scores, correct, target_accuracy, higher_is_surer=True):
    s = scores.double() if higher_is_surer else -scores.double()
    best = math.inf
    for t in torch.unique(s[torch.isfinite(s)]).tolist():
        leave = s >= t
        if correct[leave].double().mean().item() >= target_accuracy - 1e-9:
            best = min(best, t)
    return best if higher_is_surer else -best
"""


def notebook_namespace() -> dict:
    """What an answer cell of Lessons 4 and 5 sees: the setup cell's imports."""
    return {"copy": copy, "math": math, "torch": torch, "nn": nn, "F": F, "resize_to_common": resize_to_common}


def answered_namespace() -> dict:
    """A notebook with every exercise answered right."""
    namespace = notebook_namespace()
    exec(ANSWERS, namespace)
    return namespace


@pytest.mark.parametrize("exercise", list(REFERENCES))
def test_reference_passes(exercise):
    CHECKS[exercise](REFERENCES[exercise])


@pytest.mark.parametrize("exercise", list(REFERENCES))
def test_answers_written_as_a_learner_would_pass(exercise):
    CHECKS[exercise](answered_namespace()[exercise])


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: f"{m.exercise}-{m.name}")
def test_each_mistake_pasted_as_an_answer_cell_costs_its_exercise_only(mistake):
    namespace = answered_namespace()
    exec(LESSON_OF[mistake.exercise].mistake_source(mistake), namespace)
    for exercise, check in CHECKS.items():
        if exercise != mistake.exercise:
            check(namespace[exercise])  # e.g. a wrong cosine does not fail coherence_scores
            continue
        with pytest.raises(GradingError) as info:
            check(namespace[exercise])
        assert mistake.message in str(info.value)
        assert str(info.value).startswith(mistake.exercise)


@pytest.mark.parametrize("exercise, helper", [("coherence_scores", "cosine_similarity_maps")])
def test_a_wrong_earlier_answer_is_not_counted_again(exercise, helper):
    for wrong in exit_rules_mistakes.of(helper):
        namespace = answered_namespace()
        exec(LESSON5.mistake_source(wrong), namespace)
        learners = namespace[helper]
        with pytest.raises(GradingError):
            CHECKS[helper](learners)
        CHECKS[exercise](namespace[exercise])
        assert namespace[helper] is learners  # the learner's own answer is back


# --- variants the catalogue declares harmless ----------------------------------------------


def auroc_with_sklearn(scores, positive, higher_is_surer=True):
    from sklearn.metrics import roc_auc_score

    s = scores.double() if higher_is_surer else -scores.double()
    if positive.all() or not positive.any() or not torch.isfinite(s).any():
        return math.nan
    return roc_auc_score(positive.numpy(), np.nan_to_num(s.numpy(), neginf=-1e300))


def auroc_from_average_ranks(scores, positive, higher_is_surer=True):
    from scipy.stats import rankdata

    s = scores.double() if higher_is_surer else -scores.double()
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0 or not torch.isfinite(s).any():
        return math.nan
    ranks = torch.as_tensor(rankdata(s.numpy()))  # ties share their average rank; -inf ranks lowest
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auroc_as_tensor(scores, positive, higher_is_surer=True):
    return torch.tensor(exits.auroc(scores, positive, higher_is_surer), dtype=torch.float32)


def entropy_in_bits_normalised(heatmap):
    p = exits.as_distribution(heatmap)
    H, W = heatmap.shape[1:]
    return -(torch.special.xlogy(p, p) / math.log(2)).sum(dim=(1, 2)) / math.log2(H * W)


def entropy_with_eps(heatmap):
    H, W = heatmap.shape[1:]
    total = heatmap.sum(dim=(1, 2), keepdim=True)
    p = torch.where(total > 0, heatmap / total.clamp(min=1e-12), torch.full_like(heatmap, 1 / (H * W)))
    return -(p * torch.log(p + 1e-12)).sum(dim=(1, 2)) / math.log(H * W)


def moment_with_pixel_corners(heatmap):
    p = exits.as_distribution(heatmap)
    H, W = heatmap.shape[1:]
    y = (torch.arange(H, dtype=torch.float64) / H)[:, None]
    x = (torch.arange(W, dtype=torch.float64) / W)[None, :]
    cy, cx = (p * y).sum(dim=(1, 2), keepdim=True), (p * x).sum(dim=(1, 2), keepdim=True)
    return (p * ((y - cy) ** 2 + (x - cx) ** 2)).sum(dim=(1, 2))


def moment_from_variances(heatmap):
    p = exits.as_distribution(heatmap).float()
    H, W = heatmap.shape[1:]
    y = ((torch.arange(H) + 0.5) / H)[:, None]
    x = ((torch.arange(W) + 0.5) / W)[None, :]
    ey, ex = (p * y).sum(dim=(1, 2)), (p * x).sum(dim=(1, 2))
    return (p * y**2).sum(dim=(1, 2)) - ey**2 + (p * x**2).sum(dim=(1, 2)) - ex**2


def cosine_with_torch(a, b):
    a, b = resize_to_common(a, b)
    return F.cosine_similarity(a.flatten(1), b.flatten(1), dim=1)


def cosine_of_normalised_maps(a, b):
    a, b = resize_to_common(a, b)
    return exits.cosine_similarity_maps(normalize_maps(a), normalize_maps(b))


def ssim_with_skimage(a, b, data_range=1.0, window=7):
    a, b = resize_to_common(a, b)
    values = [structural_similarity(u.numpy(), v.numpy(), data_range=data_range, win_size=window) for u, v in zip(a, b)]
    return torch.tensor(np.array(values))


def coherence_next_first(maps_per_exit, reference="previous"):
    if reference not in ("previous", "final"):
        raise ValueError(reference)
    last = len(maps_per_exit) - 1
    rows = []
    for j in range(last):
        other = maps_per_exit[j + 1] if reference == "previous" else maps_per_exit[last]
        rows.append(exits.cosine_similarity_maps(maps_per_exit[j], other))  # symmetric
    return torch.stack(rows).float()


def threshold_as_tensor(scores, correct, target_accuracy, higher_is_surer=True):
    return torch.tensor(exits.choose_threshold(scores, correct, target_accuracy, higher_is_surer))


def threshold_as_numpy(scores, correct, target_accuracy, higher_is_surer=True):
    return np.float32(exits.choose_threshold(scores, correct, target_accuracy, higher_is_surer))


@pytest.mark.parametrize(
    "exercise, answer",
    [
        ("auroc", auroc_with_sklearn),
        ("auroc", auroc_from_average_ranks),
        ("auroc", auroc_as_tensor),
        ("spatial_entropy", entropy_in_bits_normalised),
        ("spatial_entropy", entropy_with_eps),
        ("moment_of_inertia", moment_with_pixel_corners),
        ("moment_of_inertia", moment_from_variances),
        ("cosine_similarity_maps", cosine_with_torch),
        ("cosine_similarity_maps", cosine_of_normalised_maps),
        ("ssim_maps", ssim_with_skimage),
        ("coherence_scores", coherence_next_first),
        ("choose_threshold", threshold_as_tensor),
        ("choose_threshold", threshold_as_numpy),
    ],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_harmless_variants_pass(exercise, answer):
    CHECKS[exercise](answer)


def test_float32_answers_pass():
    """The reference's answers rounded to float32 pass: the tolerance is float32's."""
    for exercise in ("spatial_entropy", "moment_of_inertia", "cosine_similarity_maps", "ssim_maps"):
        reference = REFERENCES[exercise]
        CHECKS[exercise](lambda *args, reference=reference: reference(*args).float())
    exit_rules.check_coherence_scores(
        lambda maps, reference="previous": exits.coherence_scores(maps, reference).float()
    )


# --- what else a check catches ----------------------------------------------------------


def test_a_wrong_answer_outside_the_catalogue_gets_the_size_of_its_error():
    def off(heatmap):
        return 1.01 * exits.spatial_entropy(heatmap)

    with pytest.raises(GradingError, match="spatial_entropy gives a wrong result on 4 x 4 maps worked by hand"):
        map_concentration.check_spatial_entropy(off)

    def nudged(scores, correct, target_accuracy, higher_is_surer=True):
        return exits.choose_threshold(scores, correct, target_accuracy, higher_is_surer) + 0.01

    with pytest.raises(GradingError, match="choose_threshold returns 0.26 .*the correct threshold is 0.25"):
        exit_rules.check_choose_threshold(nudged)


def test_a_wrong_shape_is_explained():
    with pytest.raises(GradingError, match=r"moment_of_inertia returned shape \(4, 1\); expected \(4,\)"):
        map_concentration.check_moment_of_inertia(lambda heatmap: exits.moment_of_inertia(heatmap)[:, None])
    with pytest.raises(GradingError, match="auroc must return a float, got list"):
        map_concentration.check_auroc(lambda scores, positive, higher_is_surer=True: [exits.auroc(scores, positive)])


def test_coherence_scores_is_called_with_the_learners_signature_only():
    calls = []

    def coherence_scores(maps_per_exit, reference="previous"):
        calls.append((len(maps_per_exit), reference))
        return exits.coherence_scores(maps_per_exit, reference)

    def recording(*args, **kwargs):
        assert len(args) == 1 and set(kwargs) <= {"reference"}
        return coherence_scores(*args, **kwargs)

    exit_rules.check_coherence_scores(recording)
    assert {reference for _, reference in calls} == {"previous", "final", "middle"}


def test_another_error_than_value_error_for_an_unknown_reference_is_explained():
    def key_error(maps_per_exit, reference="previous"):
        return exits.coherence_scores(maps_per_exit, {"previous": "previous", "final": "final"}[reference])

    with pytest.raises(GradingError, match="raised KeyError for reference='middle': raise a ValueError"):
        exit_rules.check_coherence_scores(key_error)


def test_the_auroc_check_agrees_with_scikit_learn():
    """The reference the hidden check compares with is scikit-learn's roc_auc_score, ties counting
    one half, on the random inputs the check draws."""
    from sklearn.metrics import roc_auc_score

    from xaiexit_grading._checks import seeded

    with seeded(map_concentration.SEED):
        for n, levels in ((60, 6), (80, 5), (400, None)):
            scores, positive = map_concentration._ranked_scores(n, 0.5, levels)
            want = roc_auc_score(positive.numpy(), scores.numpy())
            assert exits.auroc(scores, positive) == pytest.approx(want, abs=1e-9)
            assert exits.auroc(1 - scores, positive, higher_is_surer=False) == pytest.approx(want, abs=1e-9)


def test_ssim_maps_smaller_than_the_window_must_raise_a_value_error():
    def padded_for_small_maps(a, b, data_range=1.0, window=7):
        a, b = resize_to_common(a, b)
        return exits.ssim_maps(a, b, data_range, min(window, a.shape[1] - (1 - a.shape[1] % 2), a.shape[2]))

    with pytest.raises(GradingError, match="does not check that a window fits"):
        exit_rules.check_ssim_maps(padded_for_small_maps)


# --- hygiene -------------------------------------------------------------------------------


def entropy_in_place(heatmap):
    heatmap /= heatmap.sum(dim=(1, 2), keepdim=True).clamp(min=1e-30)
    return exits.spatial_entropy(heatmap)


def moment_in_place(heatmap):
    heatmap.clamp_(min=0.0).mul_(2.0)
    return exits.moment_of_inertia(heatmap)


def cosine_in_place(a, b):
    a.mul_(3.0)  # the cosine ignores the scale, so the result is right
    return exits.cosine_similarity_maps(a, b)


def ssim_in_place(a, b, data_range=1.0, window=7):
    result = exits.ssim_maps(a, b, data_range, window)
    b.zero_()
    return result


def coherence_in_place(maps_per_exit, reference="previous"):
    result = exits.coherence_scores(maps_per_exit, reference)
    maps_per_exit[0].mul_(2.0)
    return result


def auroc_in_place(scores, positive, higher_is_surer=True):
    result = exits.auroc(scores, positive, higher_is_surer)
    positive.fill_(True)
    return result


@pytest.mark.parametrize(
    "exercise, answer",
    [
        ("spatial_entropy", entropy_in_place),
        ("moment_of_inertia", moment_in_place),
        ("cosine_similarity_maps", cosine_in_place),
        ("ssim_maps", ssim_in_place),
        ("coherence_scores", coherence_in_place),
        ("auroc", auroc_in_place),
    ],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_changing_an_input_in_place_fails(exercise, answer):
    with pytest.raises(GradingError, match=f"{exercise} changes its input in place: compute on a copy"):
        CHECKS[exercise](answer)


def test_changing_the_scores_in_place_is_named():
    def sorts_in_place(scores, correct, target_accuracy, higher_is_surer=True):
        result = exits.choose_threshold(scores, correct, target_accuracy, higher_is_surer)
        scores.copy_(scores.sort().values)
        return result

    with pytest.raises(GradingError) as info:
        exit_rules.check_choose_threshold(sorts_in_place)
    assert exit_rules_mistakes.message("choose_threshold", "changes_scores") in str(info.value)


def test_checks_are_deterministic():
    for check, wrong in (
        (exit_rules.check_ssim_maps, lambda a, b, data_range=1.0, window=7: torch.zeros(len(a))),
        (exit_rules.check_choose_threshold, lambda scores, correct, t, h=True: 0.5),
    ):
        messages = []
        for _ in range(2):
            with pytest.raises(GradingError) as info:
                check(wrong)
            messages.append(str(info.value))
        assert messages[0] == messages[1]


def test_checks_do_not_disturb_the_notebooks_random_state():
    torch.manual_seed(3)
    expected = torch.rand(3)
    torch.manual_seed(3)
    for exercise, check in CHECKS.items():
        check(REFERENCES[exercise])
    assert torch.equal(torch.rand(3), expected)


def test_not_implemented_and_crashes_are_explained():
    def stub(heatmap):
        raise NotImplementedError()

    with pytest.raises(GradingError, match="not implemented yet"):
        map_concentration.check_spatial_entropy(stub)

    def crashes(maps_per_exit, reference="previous"):
        return maps_per_exit[len(maps_per_exit)]  # IndexError on this line

    with pytest.raises(GradingError) as info:
        exit_rules.check_coherence_scores(crashes)
    assert "IndexError" in str(info.value) and "return maps_per_exit[len(maps_per_exit)]" in str(info.value)


def test_a_value_equal_to_everything_is_rejected():
    with pytest.raises(GradingError, match="must return a torch.Tensor, got AlwaysEqual"):
        exit_rules.check_cosine_similarity_maps(lambda a, b: AlwaysEqual())
    with pytest.raises(GradingError, match="must return a float, got AlwaysEqual"):
        exit_rules.check_choose_threshold(lambda scores, correct, t, h=True: AlwaysEqual())
    with pytest.raises(GradingError, match="auroc must return a float, got AlwaysEqual"):
        map_concentration.check_auroc(lambda scores, positive, higher_is_surer=True: AlwaysEqual())

    class AnyFloat(float):
        def __sub__(self, other):
            return 0.0

        __rsub__ = __sub__

        def __eq__(self, other):
            return True

        __hash__ = float.__hash__

    with pytest.raises(GradingError, match="must return a float, got AnyFloat"):
        exit_rules.check_choose_threshold(lambda scores, correct, t, h=True: AnyFloat(0.5))
    with pytest.raises(GradingError, match="must return a float, got AnyFloat"):
        map_concentration.check_auroc(lambda scores, positive, higher_is_surer=True: AnyFloat(0.5))


def test_a_tensor_subclass_that_fakes_comparisons_is_rejected():
    def forged(heatmap):
        return torch.zeros(len(heatmap)).as_subclass(FakeTensor)

    with pytest.raises(GradingError, match="subclass of torch.Tensor is not accepted"):
        map_concentration.check_spatial_entropy(forged)

    def forged_threshold(scores, correct, target_accuracy, higher_is_surer=True):
        return torch.tensor(0.5).as_subclass(FakeTensor)

    with pytest.raises(GradingError, match="must return a float, got FakeTensor"):
        exit_rules.check_choose_threshold(forged_threshold)
