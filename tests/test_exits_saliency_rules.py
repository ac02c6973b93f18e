"""Saliency at an exit (CAM, Grad-CAM) and its MACs; the saliency exit rules at inference and
in the honest comparison (thresholds from validation only, AUROC against torchmetrics)."""

import math

import pytest
import torch
from torch import nn
from torchmetrics.classification import BinaryAUROC

from xaiexit.exits import (
    Both,
    Calibrated,
    CoherenceRule,
    ConcentrationRule,
    Entropy,
    MaxSoftmax,
    OracleCoherenceRule,
    accuracy_cost_area,
    auroc,
    count_macs,
    evaluate_exit_rules,
    exit_costs,
    exit_map_sizes,
    exit_maps,
    predict_with_exits,
    rule_costs,
    saliency_at_exits,
    saliency_macs,
    scores_at_exits,
    simulate_exits,
)
from xaiexit.models import EarlyExitCNN, SingleExit
from xaiexit.saliency import grad_cam

SHAPE = (1, 16, 16)


def _model(seed=0):
    torch.manual_seed(seed)
    model = EarlyExitCNN(in_channels=1, num_classes=3, widths=(4, 8, 8), exits_after=(1, 2), branch_width=6)
    for m in model.modules():  # non-trivial batch-norm statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    return model.eval()


def _x(n=24, seed=1):
    return torch.randn(n, *SHAPE, generator=torch.Generator().manual_seed(seed))


def _features(model, x):
    """The input of every exit head (the output of the block it follows)."""
    out, h = [], x
    for i, block in enumerate(model.features, start=1):
        h = block(h)
        if i in model.exit_blocks:
            out.append(h)
    return out


# --- maps at an exit ---------------------------------------------------------------------------


@torch.no_grad()
def test_cam_is_the_evidence_of_the_logit_position_by_position():
    model, x = _model(), _x()
    for head, f in zip(model.exits.values(), _features(model, x)):
        logits, cam = exit_maps(head, f, "cam")
        assert torch.equal(logits, head(f))
        A = head.conv(f)
        c = logits.argmax(dim=1)
        raw = torch.einsum("bc,bchw->bhw", head.classifier.weight[c], A)
        assert torch.allclose(cam, raw.clamp(min=0))
        # pooling and the classifier are linear: the logit is the map's mean plus the bias
        chosen = logits.gather(1, c[:, None])[:, 0]
        assert torch.allclose(raw.mean(dim=(1, 2)) + head.classifier.bias[c], chosen, atol=1e-5)


def test_grad_cam_at_an_exit_is_grad_cam_of_that_exit_on_its_block():
    model, x = _model(), _x(6)
    for k, (head, f) in enumerate(zip(model.exits.values(), _features(model, x))):
        _, ours = exit_maps(head, f, "grad_cam")
        block = f"features.block{model.exit_blocks[k]}"
        expected = grad_cam(SingleExit(model, k), x, layer=block, upsample=False)
        assert torch.allclose(ours, expected, atol=1e-6)


def test_at_the_final_exit_grad_cam_is_cam_divided_by_the_map_size():
    model, x = _model(), _x(6)
    head, f = model.exits["exit3"], _features(model, x)[-1]
    _, cam = exit_maps(head, f, "cam")
    _, gcam = exit_maps(head, f, "grad_cam")
    assert torch.allclose(gcam, cam / (f.shape[2] * f.shape[3]), atol=1e-7)


def test_saliency_at_exits_gives_every_exits_logits_and_maps_in_batches():
    model, x = _model(), _x(10)
    logits, maps = saliency_at_exits(model, x, "cam", batch_size=4)
    with torch.no_grad():
        expected = model(x)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(logits, expected))
    assert [tuple(m.shape[1:]) for m in maps] == exit_map_sizes(model, SHAPE, "cam") == [(4, 4), (2, 2), (2, 2)]
    _, gmaps = saliency_at_exits(model, x, "grad_cam")
    assert [tuple(m.shape[1:]) for m in gmaps] == exit_map_sizes(model, SHAPE, "grad_cam") == [(8, 8), (4, 4), (2, 2)]
    with pytest.raises(ValueError, match="method"):
        saliency_at_exits(model, x, "occlusion")


# --- MACs of a map ---------------------------------------------------------------------------


def test_cam_macs_are_those_of_a_one_class_1x1_convolution():
    model = _model()
    for k, (c, h, w) in enumerate([(6, 4, 4), (6, 2, 2), (8, 2, 2)]):
        one_class = sum(count_macs(nn.Conv2d(c, 1, kernel_size=1), (c, h, w)).values())
        assert saliency_macs(model, SHAPE, "cam")[k] == one_class


def test_the_backward_conv_of_grad_cam_costs_the_forward_conv_as_a_transposed_conv_does():
    conv = nn.Conv2d(4, 6, kernel_size=3, stride=2, padding=1, bias=False)
    x = torch.randn(2, 4, 8, 8, requires_grad=True)
    y = conv(x)
    g = torch.randn_like(y)
    (grad,) = torch.autograd.grad(y, x, g)
    transposed = nn.ConvTranspose2d(6, 4, kernel_size=3, stride=2, padding=1, output_padding=1, bias=False)
    transposed.weight.data.copy_(conv.weight.data)
    assert torch.allclose(transposed(g), grad, atol=1e-6)  # the gradient *is* the transposed conv
    forward = sum(count_macs(conv, (4, 8, 8)).values())
    backward = sum(count_macs(transposed, (6, 4, 4)).values())
    assert forward == backward == 6 * 4 * 4 * 4 * 3 * 3


def test_grad_cam_macs_add_up_the_backward_pass_by_hand():
    model = _model()
    costs = saliency_macs(model, SHAPE, "grad_cam")
    # exit 1: head conv 4 -> 6 channels, 8x8 -> 4x4; classifier row 6; pooling 6*4*4; weights + sum 2*4*8*8
    conv = 6 * 4 * 4 * 4 * 3 * 3
    assert costs[0] == 6 + 6 * 16 + conv + 2 * 4 * 64
    # final exit: no conv; 8 channels at 2x2
    assert costs[2] == 8 + 8 * 4 + 0 + 2 * 8 * 4


def test_a_rules_mac_accounting_includes_its_saliency_and_score():
    model = _model()
    base = exit_costs(model, SHAPE)
    assert torch.equal(rule_costs(model, MaxSoftmax(), SHAPE), base)
    for rule in (ConcentrationRule("entropy"), ConcentrationRule("inertia", "grad_cam"), CoherenceRule("ssim")):
        maps = saliency_macs(model, SHAPE, rule.saliency)
        sizes = exit_map_sizes(model, SHAPE, rule.saliency)
        extra = [float(maps[k]) + rule.measure_macs(h * w) for k, (h, w) in enumerate(sizes[:-1])]
        expected = base + torch.tensor([extra[0], extra[0] + extra[1], extra[0] + extra[1]], dtype=torch.float64)
        assert torch.equal(rule_costs(model, rule, SHAPE), expected), rule
        assert (rule_costs(model, rule, SHAPE) > base).all()
    oracle = rule_costs(model, OracleCoherenceRule(), SHAPE)
    every_map = saliency_macs(model, SHAPE, "cam").sum() + sum(
        OracleCoherenceRule().measure_macs(h * w) for h, w in exit_map_sizes(model, SHAPE, "cam")
    )
    assert torch.equal(oracle, torch.full((3,), float(base[-1] + every_map), dtype=torch.float64))


# --- the rules ---------------------------------------------------------------------------------


def test_concentration_rule_lets_concentrated_maps_leave():
    blob, flat = torch.zeros(1, 8, 8), torch.ones(1, 8, 8)
    blob[0, 2:4, 2:4] = 1.0
    maps = torch.cat([blob, flat])
    for measure in ("entropy", "inertia"):
        rule = ConcentrationRule(measure)
        assert not rule.higher_is_surer
        assert rule.exits(torch.zeros(2, 3), float(rule.score(torch.zeros(2, 3), maps)[0]), maps).tolist() == [
            True,
            False,
        ]
    with pytest.raises(ValueError, match="maps"):
        ConcentrationRule().score(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="measure"):
        ConcentrationRule("gini")


def test_coherence_rule_cannot_decide_at_the_first_side_exit():
    maps = [torch.rand(4, 4, 4), torch.rand(4, 2, 2), torch.rand(4, 2, 2)]
    logits = [torch.randn(4, 3) for _ in maps]
    scores = scores_at_exits(CoherenceRule(), logits, maps)
    assert torch.isinf(scores[0]).all() and (scores[0] < 0).all()
    assert torch.isfinite(scores[1]).all()
    oracle = scores_at_exits(OracleCoherenceRule(), logits, maps)
    assert torch.isfinite(oracle[0]).all()
    assert "oracle" in OracleCoherenceRule().name and OracleCoherenceRule().needs_final_exit


def test_a_closed_threshold_lets_nobody_leave_even_a_never_score():
    for rule in (CoherenceRule(), ConcentrationRule()):
        scores = torch.tensor([rule.never_score(), 0.5, -3.0, 7.0], dtype=torch.float64)
        passes = scores >= rule.closed_threshold() if rule.higher_is_surer else scores <= rule.closed_threshold()
        assert not passes.any()


def test_an_oracle_rule_is_refused_at_inference_with_the_reason():
    with pytest.raises(ValueError, match="final exit"):
        predict_with_exits(_model(), _x(4), OracleCoherenceRule(), [0.5, 0.5])


def test_both_leaves_only_when_the_two_rules_agree():
    rule = Both(MaxSoftmax(), ConcentrationRule("entropy"), first_threshold=0.6)
    logits = torch.tensor([[3.0, 0.0, 0.0], [3.0, 0.0, 0.0], [0.1, 0.0, 0.0]])
    blob, flat = torch.zeros(8, 8), torch.ones(8, 8)
    blob[0, 0] = 1.0
    maps = torch.stack([blob, flat, blob])
    assert rule.exits(logits, 0.5, maps).tolist() == [True, False, False]
    with pytest.raises(ValueError, match="oracle"):
        Both(MaxSoftmax(), OracleCoherenceRule(), 0.5)


def _gap(scores):
    s = scores[torch.isfinite(scores)].double().sort().values
    i = len(s) // 4 + int((s[len(s) // 4 + 1 : 3 * len(s) // 4 + 1] - s[len(s) // 4 : 3 * len(s) // 4]).argmax())
    return float((s[i] + s[i + 1]) / 2)


@pytest.mark.parametrize(
    "rule",
    [
        ConcentrationRule("entropy"),
        ConcentrationRule("inertia", "grad_cam"),
        CoherenceRule("cosine"),
        CoherenceRule("cosine", "grad_cam"),
    ],
    ids=repr,
)
def test_saliency_rules_really_stop_and_decide_as_the_simulation_and_one_by_one(rule):
    model, x = _model(), _x(40)
    logits, maps = saliency_at_exits(model, x, rule.saliency)
    scores = scores_at_exits(rule, logits, maps)
    thresholds = [_gap(s) if torch.isfinite(s).any() else rule.closed_threshold() for s in scores]
    simulated = simulate_exits(logits, rule, thresholds, maps_per_exit=maps)
    batched = predict_with_exits(model, x, rule, thresholds)
    assert torch.equal(batched[0], simulated[0]) and torch.equal(batched[1], simulated[1])
    singles = [predict_with_exits(model, x[i : i + 1], rule, thresholds) for i in range(len(x))]
    assert torch.equal(torch.cat([p for p, _ in singles]), batched[0])
    assert torch.equal(torch.cat([e for _, e in singles]), batched[1])
    assert len(set(batched[1].tolist())) >= 2  # the thresholds send samples to several exits


def test_with_two_classes_calibration_changes_no_decision_when_each_exit_has_its_own_threshold():
    """With two classes the max softmax is a monotone function of |z_1 - z_0|, and a
    temperature only rescales it: thresholds chosen per exit on validation let exactly the
    same samples go. (With more classes a temperature can reorder samples.)"""
    torch.manual_seed(0)
    model = EarlyExitCNN(in_channels=1, num_classes=2, widths=(4, 8, 8), exits_after=(1,), branch_width=6).eval()
    x = _x(80)
    with torch.no_grad():  # labels the model gets about 3 times in 4: moderate temperatures
        y = model(x)[0].argmax(dim=1)
    flip = torch.rand(80, generator=torch.Generator().manual_seed(2)) < 0.25
    y = torch.where(flip, 1 - y, y)
    data = {"val": (x[:40], y[:40]), "test": (x[40:], y[40:])}
    report = evaluate_exit_rules(model, data, [MaxSoftmax(), Calibrated(MaxSoftmax())], target_accuracy=0.9)
    raw, calibrated = report.rules
    assert 0.05 < report.temperatures[0][0] < 20 and abs(report.temperatures[0][0] - 1) > 0.05, report.temperatures
    assert raw.exit_shares == calibrated.exit_shares and raw.accuracy == calibrated.accuracy
    assert 0 < raw.exit_shares[0][0] < 1
    assert raw.auroc[0] == pytest.approx(calibrated.auroc[0])


# --- the honest comparison -----------------------------------------------------------------------


def test_auroc_equals_torchmetrics_ties_included():
    g = torch.Generator().manual_seed(3)
    scores = torch.randint(0, 5, (200,), generator=g).float()  # many ties
    positive = torch.rand(200, generator=g) < 0.6
    expected = BinaryAUROC()(scores, positive.long()).item()
    assert auroc(scores, positive) == pytest.approx(expected, abs=1e-6)
    assert auroc(-scores, positive, higher_is_surer=False) == pytest.approx(expected, abs=1e-6)
    assert math.isnan(auroc(scores, torch.ones(200, dtype=torch.bool)))
    assert math.isnan(auroc(torch.full((4,), -math.inf), torch.tensor([True, False, True, False])))


def test_accuracy_cost_area_is_the_mean_best_accuracy_over_budgets():
    costs = torch.tensor([0.2, 0.5, 0.9, 1.3])
    accuracy = torch.tensor([0.6, 0.9, 0.8, 1.0])
    # budgets 0.2..0.5: 0.6; 0.5..0.9: 0.9; 0.9..1.0: still 0.9 (0.8 is worse); 1.3 is beyond the range
    expected = (0.3 * 0.6 + 0.4 * 0.9 + 0.1 * 0.9) / 0.8
    assert accuracy_cost_area(costs, accuracy, low=0.2) == pytest.approx(expected)
    assert accuracy_cost_area(torch.tensor([1.5]), torch.tensor([1.0]), low=0.2) == 0.0
    with pytest.raises(ValueError, match="empty"):
        accuracy_cost_area(costs, accuracy, low=1.0)


def _data(n_val=60, n_test=60):
    x = _x(n_val + n_test, seed=4)
    y = torch.randint(0, 3, (n_val + n_test,), generator=torch.Generator().manual_seed(5))
    return {"val": (x[:n_val], y[:n_val]), "test": (x[n_val:], y[n_val:])}


RULES = [
    MaxSoftmax(),
    Entropy(),
    ConcentrationRule("entropy"),
    CoherenceRule("cosine"),
    OracleCoherenceRule("cosine"),
    ConcentrationRule("inertia", "grad_cam"),
]


def test_thresholds_never_read_the_test_labels():
    models = [_model(0), _model(1)]
    data = _data()
    x_test, y_test = data["test"]
    scrambled = dict(data, test=(x_test, (y_test + 1) % 3))  # every test label changed
    a = evaluate_exit_rules(models, data, RULES, target_accuracy=0.4)
    b = evaluate_exit_rules(models, scrambled, RULES, target_accuracy=0.4)
    for ra, rb in zip(a.rules, b.rules):
        assert (
            ra.thresholds == rb.thresholds and ra.exit_shares == rb.exit_shares and ra.relative_macs == rb.relative_macs
        )
    assert a.temperatures == b.temperatures
    x_val, y_val = data["val"]
    moved = evaluate_exit_rules(models, dict(data, val=(x_val, (y_val + 1) % 3)), RULES, target_accuracy=0.4)
    assert any(ra.thresholds != rm.thresholds for ra, rm in zip(a.rules, moved.rules))


def test_evaluation_numbers_follow_from_their_definitions():
    model, data = _model(), _data()
    report = evaluate_exit_rules([model], data, RULES, target_accuracy=0.4)
    x_test, y_test = data["test"]
    backbone = sum(count_macs(model.without_branches(), SHAPE).values())
    for rule, result in zip(RULES, report.rules):
        maps = saliency_at_exits(model, x_test, rule.saliency or "cam")
        predictions, exit_index = simulate_exits(maps[0], rule, result.thresholds[0], maps_per_exit=maps[1])
        assert result.accuracy[0] == pytest.approx((predictions == y_test).double().mean().item())
        cost = rule_costs(model, rule, SHAPE)[exit_index].mean().item() / backbone
        assert result.relative_macs[0] == pytest.approx(cost)
        oracle = report.oracle_relative_macs[0]
        assert result.oracle_share[0] == pytest.approx((1 - cost) / (1 - oracle))
        assert sum(result.exit_shares[0]) == pytest.approx(1.0)
        assert len(result.auroc[0]) == model.num_exits - 1
        costs, accuracies = result.curves[0]
        assert len(costs) == len(accuracies) > 10 and 0 <= result.area[0] <= 1
    by_name = {r.name: r for r in report.rules}
    assert by_name[OracleCoherenceRule().name].relative_macs[0] >= 1.0  # saves nothing
    assert math.isnan(by_name[CoherenceRule().name].auroc[0][0])  # cannot decide at the first exit
    table = report.table()
    assert all(r.name in table for r in RULES) and "oracle (knows the labels)" in table


def test_evaluation_refuses_data_without_a_validation_split():
    with pytest.raises(KeyError, match="val"):
        evaluate_exit_rules(_model(), {"test": _data()["test"]}, [MaxSoftmax()])


def test_a_never_score_is_never_chosen_as_a_threshold():
    """A coherence rule scores -inf at the first side exit ("cannot decide"): even when
    everyone there would be right, nobody may leave."""
    from xaiexit.exits import choose_threshold

    never = torch.full((5,), -math.inf)
    right = torch.ones(5, dtype=torch.bool)
    assert choose_threshold(never, right, 0.5) == math.inf
    assert choose_threshold(-never, right, 0.5, higher_is_surer=False) == -math.inf
    mixed = torch.tensor([0.9, 0.8, -math.inf, -math.inf])
    assert choose_threshold(mixed, torch.ones(4, dtype=torch.bool), 0.5) == pytest.approx(0.8)
    model, data = _model(), _data()
    report = evaluate_exit_rules(model, data, [CoherenceRule()], target_accuracy=0.0)
    costs, _ = report.rules[0].curves[0]
    assert report.rules[0].exit_shares[0][0] == 0.0
    first_exit_only = float(rule_costs(model, CoherenceRule(), SHAPE)[0]) / sum(
        count_macs(model.without_branches(), SHAPE).values()
    )
    assert (costs > first_exit_only).all()  # no point of the curve has everyone leaving at exit 1


# --- gradient maps at an exit, one pass for every map, sanity, intervals --------------------------


def test_exit_outputs_gives_every_map_in_one_pass_as_each_method_alone():
    from xaiexit.exits import exit_outputs
    from xaiexit.saliency import smoothgrad, vanilla_gradient

    model, x = _model(), _x(10)
    out = exit_outputs(model, x, ("cam", "grad_cam", "gradient"), batch_size=4)
    for method in ("cam", "grad_cam"):
        logits, maps = saliency_at_exits(model, x, method)
        assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(out.logits, logits))
        assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(out.maps[method], maps))
    for k in range(model.num_exits):  # the gradient of the exit's predicted logit, max over channels of |.|
        expected = vanilla_gradient(SingleExit(model, k), x, None).abs().amax(dim=1)
        assert torch.allclose(out.maps["gradient"][k], expected, atol=1e-6)
    fast = exit_outputs(model, x, ("cam", "gradient"), fast=True)  # batch norm folded: the same up to rounding
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(fast.maps["gradient"], out.maps["gradient"]))
    some = exit_outputs(model, x, ("grad_cam", "gradient"), input_exits=(0,), backward_images=6)
    assert some.maps["gradient"][1] is None and tuple(some.maps["gradient"][0].shape) == (6, 16, 16)
    assert tuple(some.maps["grad_cam"][2].shape[:1]) == (6,) and len(some.logits[0]) == 10
    assert torch.allclose(some.maps["gradient"][0], out.maps["gradient"][0][:6], atol=1e-6)
    g = torch.Generator().manual_seed(3)
    sg = exit_outputs(model, x[:3], ("smoothgrad",), input_exits=(1,), smoothgrad_samples=5, seed=3)
    expected = smoothgrad(SingleExit(model, 1), x[:3], out.logits[1][:3].argmax(dim=1), n=5, noise=0.15, generator=g)
    assert torch.allclose(sg.maps["smoothgrad"][1], expected.amax(dim=1), atol=1e-6)
    with pytest.raises(ValueError, match="input image"):
        exit_maps(model.exits["exit1"], _features(model, x)[0], "gradient")


def test_gradient_map_macs_are_the_backward_pass_to_the_image():
    """A conv's input gradient costs its forward MACs: a gradient map at exit k costs the head's
    backward (classifier row, pooling, conv) plus every block before the exit."""
    from xaiexit.exits import macs_by_part

    model = _model()
    parts = macs_by_part(model, SHAPE)
    received = [(4, 8, 8), (8, 4, 4), (8, 2, 2)]  # what each head receives
    own = [(6, 4, 4), (6, 2, 2), (8, 2, 2)]  # each head's feature map (C, h, w)
    head_conv = [
        sum(count_macs(model.exits["exit1"].conv, received[0]).values()),
        sum(count_macs(model.exits["exit2"].conv, received[1]).values()),
        0,
    ]
    blocks = [parts["block1"], parts["block1"] + parts["block2"], parts["block1"] + parts["block2"] + parts["block3"]]
    got = saliency_macs(model, SHAPE, "gradient")
    for k, (c, h, w) in enumerate(own):
        assert got[k] == c + c * h * w + head_conv[k] + blocks[k]
    forward = [blocks[k] + parts[f"exit{k + 1}"] for k in range(3)]
    smooth = saliency_macs(model, SHAPE, "smoothgrad", smoothgrad_samples=4)
    assert torch.equal(smooth, torch.tensor([4 * (f + float(g) + 16 * 16) for f, g in zip(forward, got)]).double())
    assert exit_map_sizes(model, SHAPE, "gradient") == [(16, 16)] * 3


def test_a_gradient_rule_really_stops_and_decides_as_the_simulation():
    model, x = _model(), _x(30)
    rule = ConcentrationRule("entropy", "gradient")
    logits, maps = saliency_at_exits(model, x, "gradient")
    scores = scores_at_exits(rule, logits, maps)
    thresholds = [_gap(s) for s in scores]
    simulated = simulate_exits(logits, rule, thresholds, maps_per_exit=maps)
    batched = predict_with_exits(model, x, rule, thresholds)
    assert torch.equal(batched[0], simulated[0]) and torch.equal(batched[1], simulated[1])
    assert len(set(batched[1].tolist())) >= 2


def test_exit_map_randomization_follows_the_exit_path_top_down():
    from xaiexit.exits import exit_map_randomization, exit_path_layers

    model, x = _model(), _x(6)
    names = [name for name, _ in exit_path_layers(model, 1)]
    assert names == ["exits.exit2.classifier", "exits.exit2.conv.0", "features.block2.0", "features.block1.0"]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    curve = exit_map_randomization(model, x, 1, "cam")
    assert curve.shape == (5, 6) and torch.allclose(curve[0], torch.ones(6, dtype=torch.float64))
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())  # the model is left alone
    assert (curve[1:].mean(dim=1) < 0.99).all()  # random weights change the map


def test_evaluation_from_precomputed_outputs_equals_computing_them_and_has_intervals():
    from xaiexit.exits import exit_outputs, needed_outputs

    models, data = [_model(0), _model(1)], _data()
    rules = [MaxSoftmax(), ConcentrationRule("entropy", "gradient"), CoherenceRule("cosine")]
    a = evaluate_exit_rules(models, data, rules, target_accuracy=0.4)
    methods, input_exits = needed_outputs(rules, models[0].num_exits)
    assert methods == ("cam", "gradient") and input_exits == (0, 1)
    outputs = [
        {s: exit_outputs(m, data[s][0], methods, input_exits=input_exits) for s in ("val", "test")} for m in models
    ]
    b = evaluate_exit_rules(models, data, rules, target_accuracy=0.4, outputs=outputs)
    for ra, rb in zip(a.rules, b.rules):
        assert ra.thresholds == rb.thresholds and ra.accuracy == rb.accuracy and ra.area == rb.area
    intervals = b.intervals(n_resamples=200, metrics=("oracle_share", "area", "auroc"))
    for result, interval in zip(b.rules, intervals):
        assert interval.accuracy is None and interval.oracle_share.low <= interval.oracle_share.high
        pooled = sum(result.oracle_share) / 2  # equal test sets: close to the mean of the two networks
        assert abs(interval.oracle_share.estimate - pooled) < 0.5
    first = intervals[0].auroc[0]
    scores = torch.cat([b.rules[0].test_scores[n][0] for n in range(2)])
    right = torch.cat([b.test_right[n][0] for n in range(2)])
    assert first.estimate == pytest.approx(auroc(scores, right))
    assert "[" in b.table(intervals) and "±" in b.table()


def test_choose_threshold_tolerance_and_no_samples():
    from xaiexit.exits import choose_threshold

    scores = torch.arange(10, 0, -1).double() / 10
    correct = torch.tensor([False] * 3 + [True] * 7)
    assert choose_threshold(scores, correct, 0.1 * 7) == pytest.approx(0.1)  # 7 / 10 reaches 0.7000000000000001
    assert choose_threshold(scores, correct, 0.71) == math.inf
    assert choose_threshold(torch.zeros(0), torch.zeros(0, dtype=torch.bool), 0.5) == math.inf
    assert choose_threshold(torch.zeros(0), torch.zeros(0, dtype=torch.bool), 0.5, higher_is_surer=False) == -math.inf
