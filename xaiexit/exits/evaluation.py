"""Comparing exit rules honestly: thresholds on validation, every number on test.

For each rule and each trained model (seed), :func:`evaluate_exit_rules` reports:

- the operating point: thresholds chosen on validation at a target accuracy, then on
  test the accuracy, the mean MACs per image (every branch evaluated, the maps and the
  scores included: :func:`rule_costs`) and the share of the oracle's saving captured;
- the accuracy-MACs curve as the validation target moves, and the area under it
  (:func:`accuracy_cost_area`: the mean accuracy over compute budgets);
- the AUROC of the rule's score for "this exit is correct", at every side exit
  (:func:`auroc`): how well the score ranks right answers above wrong ones, whatever
  the threshold.

Test labels are used for measuring only; no threshold, temperature or choice ever sees
them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from xaiexit.exits.calibration import fit_temperature
from xaiexit.exits.exit_saliency import exit_map_sizes, saliency_at_exits, saliency_macs
from xaiexit.exits.macs import count_macs, exit_costs
from xaiexit.exits.oracle import oracle_exits
from xaiexit.exits.rules import ExitRule, scores_at_exits
from xaiexit.exits.thresholds import exits_from_scores, thresholds_from_scores
from xaiexit.models.early_exit import EarlyExitCNN
from xaiexit.saliency.sanity import average_ranks

#: validation targets swept for the accuracy-MACs curve
DEFAULT_SWEEP = tuple(round(0.80 + 0.005 * i, 3) for i in range(41))


def rule_costs(model: EarlyExitCNN, rule: ExitRule, input_shape: Sequence[int]) -> torch.Tensor:
    """MACs per image of leaving at each exit under ``rule``: ``(num_exits,)`` float64.

    Leaving at exit ``k`` costs :func:`~xaiexit.exits.exit_costs` ``[k]`` (the blocks and
    every head on the way) plus, for a saliency rule, the map and the score at every side
    exit passed (``saliency_macs`` + ``rule.measure_macs``). A rule that needs the final
    exit's map (an oracle) pays the whole network, every map and every score for every
    sample, wherever its prediction is taken from.

    Examples
    --------
    >>> from xaiexit.exits import MaxSoftmax, ConcentrationRule, saliency_macs
    >>> model = EarlyExitCNN(widths=(8, 16), exits_after=(1,), branch_width=4)
    >>> bool((rule_costs(model, MaxSoftmax(), (3, 16, 16)) == exit_costs(model, (3, 16, 16))).all())
    True
    >>> extra = rule_costs(model, ConcentrationRule(), (3, 16, 16)) - exit_costs(model, (3, 16, 16))
    >>> extra.tolist()     # the 4x4x4 CAM (64) and its entropy (2 per value: 32) at exit 1
    [96.0, 96.0]
    """
    base = exit_costs(model, input_shape)
    if rule.saliency is None:
        return base
    maps = saliency_macs(model, input_shape, rule.saliency)
    sizes = exit_map_sizes(model, input_shape, rule.saliency)
    per_exit = torch.tensor(
        [float(maps[k] + rule.measure_macs(h * w)) for k, (h, w) in enumerate(sizes)], dtype=torch.float64
    )
    if rule.needs_final_exit:
        return torch.full_like(base, float(base[-1] + per_exit.sum()))
    side = per_exit[:-1].cumsum(0)  # maps and scores at side exits 0..k
    return base + torch.cat([side, side[-1:]])


def auroc(scores: torch.Tensor, positive: torch.Tensor, higher_is_surer: bool = True) -> float:
    """Area under the ROC curve of ``scores`` for telling ``positive`` samples apart.

    The probability that a random positive sample scores surer than a random negative
    one, ties counting one half (the Mann-Whitney U statistic over ``n_pos * n_neg``).
    ``nan`` when one of the two groups is empty, or when no score is finite (a rule that
    cannot decide at this exit).

    Examples
    --------
    >>> auroc(torch.tensor([0.9, 0.8, 0.3, 0.1]), torch.tensor([True, False, True, False]))
    0.75
    >>> auroc(torch.tensor([0.1, 0.2]), torch.tensor([True, False]), higher_is_surer=False)
    1.0
    """
    scores, positive = scores.detach().double().cpu().flatten(), positive.cpu().bool().flatten()
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0 or not torch.isfinite(scores).any():
        return math.nan
    if not higher_is_surer:
        scores = -scores
    ranks = average_ranks(scores[None])[0]
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def accuracy_cost_area(costs: torch.Tensor, accuracies: torch.Tensor, low: float, high: float = 1.0) -> float:
    """Mean, over compute budgets ``c`` uniform in ``[low, high]``, of the best accuracy
    reached by a point of the curve costing at most ``c`` (0 where none does).

    With costs relative to the network without branches, ``low`` the cost of the first
    exit and ``high = 1``, it summarises a whole accuracy-MACs curve in one number in
    [0, 1]: points that cost more than the plain network add nothing.

    Examples
    --------
    >>> round(accuracy_cost_area(torch.tensor([0.5, 1.0]), torch.tensor([0.8, 0.9]), low=0.0), 6)  # 0 x 0.5 + 0.8 x 0.5
    0.4
    """
    costs, accuracies = costs.double().cpu(), accuracies.double().cpu()
    if not high > low:
        raise ValueError(f"the budget range is empty: low={low} >= high={high}")
    edges = sorted({float(c) for c in costs if low < c < high} | {low, high})
    area = 0.0
    for left, right in zip(edges[:-1], edges[1:]):
        reachable = accuracies[costs <= left + 1e-12]
        area += (right - left) * (float(reachable.max()) if len(reachable) else 0.0)
    return area / (high - low)


@dataclass
class RuleResult:
    """One rule's numbers on test, one entry per model (training seed) in each list."""

    name: str
    needs_final_exit: bool
    thresholds: list[list] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    relative_macs: list[float] = field(default_factory=list)  # mean MACs / the network without branches
    oracle_share: list[float] = field(default_factory=list)
    area: list[float] = field(default_factory=list)
    auroc: list[list] = field(default_factory=list)  # per seed, per side exit
    exit_shares: list[list] = field(default_factory=list)
    curves: list[tuple[torch.Tensor, torch.Tensor]] = field(default_factory=list)  # (relative cost, accuracy)
    rule_macs: list[float] = field(default_factory=list)  # maps + scores for a sample passing every side exit

    def mean_std(self, name: str) -> tuple[float, float]:
        """Mean and sample standard deviation over seeds of a per-seed number (for
        ``auroc``, the mean over side exits with a score first)."""
        values = getattr(self, name)
        if name == "auroc":
            values = [_nanmean(v) for v in values]
        t = torch.tensor(values, dtype=torch.float64)
        return float(t.mean()), float(t.std()) if len(t) > 1 else 0.0


def _nanmean(values) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan


@dataclass
class ExitRuleReport:
    """Everything :func:`evaluate_exit_rules` measured; ``table()`` formats it."""

    rules: list[RuleResult]
    targets: list[float]  # the validation target of the operating point, per seed
    final_accuracy: list[float]  # test accuracy of the final exit alone, per seed
    oracle_accuracy: list[float]
    oracle_relative_macs: list[float]
    first_exit_cost: list[float]  # relative MACs of the cheapest exit: the curve's budget range starts there
    temperatures: list[list]

    def table(self) -> str:
        """A markdown table: mean ± standard deviation over seeds."""

        def pm(values, digits=3):
            t = torch.tensor(values, dtype=torch.float64)
            sd = float(t.std()) if len(t) > 1 else 0.0
            return f"{float(t.mean()):.{digits}f} ± {sd:.{digits}f}"

        n_side = len(self.rules[0].auroc[0]) if self.rules else 0
        lines = [
            "| rule | test acc | MACs / backbone | oracle share | area | "
            + " | ".join(f"AUROC exit {k + 1}" for k in range(n_side))
            + " | map + score MACs |",
            "|---|---:|---:|---:|---:|" + "---:|" * n_side + "---:|",
        ]
        for r in self.rules:
            aurocs = [
                pm([seed[k] for seed in r.auroc]) if not any(math.isnan(seed[k]) for seed in r.auroc) else "-"
                for k in range(n_side)
            ]
            area = "n/a (costs more than the backbone)" if r.needs_final_exit else pm(r.area)
            lines.append(
                f"| {r.name} | {pm(r.accuracy)} | {pm(r.relative_macs)} | {pm(r.oracle_share, 2)} | {area} | "
                + " | ".join(aurocs)
                + f" | {r.rule_macs[0]:,.0f} |"
            )
        lines.append(
            f"| final exit only | {pm(self.final_accuracy)} | 1.000 ± 0.000 | 0.00 ± 0.00 | | " + " | " * n_side + " |"
        )
        lines.append(
            f"| oracle (knows the labels) | {pm(self.oracle_accuracy)} | {pm(self.oracle_relative_macs)} "
            f"| 1.00 ± 0.00 | | " + " | " * n_side + " |"
        )
        return "\n".join(lines)


def _split(data, name):
    if name not in data:
        raise KeyError(f"data needs a {name!r} entry: data = {{'val': (x, y), 'test': (x, y)}}")
    x, y = data[name]
    if len(x) != len(y):
        raise ValueError(f"data[{name!r}] has {len(x)} images but {len(y)} labels")
    return x, y.long().cpu()


def evaluate_exit_rules(
    models: EarlyExitCNN | Sequence[EarlyExitCNN],
    data: dict[str, tuple[torch.Tensor, torch.Tensor]],
    rules: Sequence[ExitRule],
    target_accuracy: float | None = None,
    sweep: Sequence[float] = DEFAULT_SWEEP,
    batch_size: int = 256,
) -> ExitRuleReport:
    """Every rule, on every model, with thresholds from validation and numbers from test.

    Parameters
    ----------
    models : EarlyExitCNN or list of them
        The same architecture trained with different seeds (mean and spread are over them).
    data : dict
        ``{"val": (x, y), "test": (x, y)}``: images ``(N, C, H, W)`` and labels ``(N,)``.
        Thresholds and temperatures come from ``"val"`` only.
    rules : list of ExitRule
        Softmax rules, saliency rules, ``Calibrated(...)`` rules, ``Both(...)``.
    target_accuracy : float, optional
        The validation accuracy required of the samples leaving each exit at the operating
        point; default: the final exit's validation accuracy (per model).
    sweep : sequence of float
        Validation targets giving the points of the accuracy-MACs curve.
    batch_size : int
        Images per forward pass.

    Returns
    -------
    ExitRuleReport
    """
    models = [models] if isinstance(models, nn.Module) else list(models)
    if not models:
        raise ValueError("give at least one model")
    x_val, y_val = _split(data, "val")
    x_test, y_test = _split(data, "test")
    methods = sorted({r.saliency for r in rules if r.saliency is not None}) or ["cam"]
    results = [RuleResult(r.name, r.needs_final_exit) for r in rules]
    report = ExitRuleReport(results, [], [], [], [], [], [])
    input_shape = tuple(x_val.shape[1:])
    for model in models:
        backbone = float(sum(count_macs(model.without_branches(), input_shape).values()))
        base = exit_costs(model, input_shape)  # MACs of leaving at each exit, the rule aside
        outputs = {
            m: (saliency_at_exits(model, x_val, m, batch_size), saliency_at_exits(model, x_test, m, batch_size))
            for m in methods
        }
        (val_logits, _), (test_logits, _) = outputs[methods[0]]
        val_right = [z.argmax(dim=1) == y_val for z in val_logits]
        temps = [fit_temperature(z, y_val) for z in val_logits]
        target = float(val_right[-1].double().mean()) if target_accuracy is None else float(target_accuracy)
        # --- test: only measured from here on
        test_right = [z.argmax(dim=1) == y_test for z in test_logits]
        oracle = oracle_exits(test_logits, y_test)
        oracle_macs = float(base[oracle.exit_index].mean()) / backbone
        report.targets.append(target)
        report.temperatures.append(temps)
        report.final_accuracy.append(float(test_right[-1].double().mean()))
        report.oracle_accuracy.append(float(oracle.correct.double().mean()))
        report.oracle_relative_macs.append(oracle_macs)
        report.first_exit_cost.append(float(base[0]) / backbone)
        right = torch.stack(test_right)  # (E, N)
        for rule, result in zip(rules, results):
            method = rule.saliency or methods[0]
            (_, val_maps), (_, test_maps) = outputs[method]
            t = temps if rule.calibrated else None
            val_scores = scores_at_exits(rule, val_logits, val_maps if rule.saliency else None, t)
            test_scores = scores_at_exits(rule, test_logits, test_maps if rule.saliency else None, t)
            macs = rule_costs(model, rule, input_shape)
            costs = macs / backbone

            def on_test(thresholds):
                exit_index = exits_from_scores(test_scores, thresholds, rule.higher_is_surer)
                accuracy = float(right[exit_index, torch.arange(len(y_test))].double().mean())
                return exit_index, accuracy, float(costs[exit_index].mean())

            thresholds = thresholds_from_scores(val_scores, val_right[:-1], target, rule.higher_is_surer)
            exit_index, accuracy, cost = on_test(thresholds)
            curve = [
                on_test(thresholds_from_scores(val_scores, val_right[:-1], s, rule.higher_is_surer))[1:] for s in sweep
            ]
            curve.append(on_test([rule.closed_threshold()] * len(val_scores))[1:])  # nobody leaves early
            curve_costs = torch.tensor([c for _, c in curve], dtype=torch.float64)
            curve_acc = torch.tensor([a for a, _ in curve], dtype=torch.float64)
            result.thresholds.append(thresholds)
            result.accuracy.append(accuracy)
            result.relative_macs.append(cost)
            result.oracle_share.append((1.0 - cost) / (1.0 - oracle_macs))
            result.area.append(accuracy_cost_area(curve_costs, curve_acc, low=report.first_exit_cost[-1]))
            result.auroc.append([auroc(s, right[k], rule.higher_is_surer) for k, s in enumerate(test_scores)])
            result.exit_shares.append(
                (torch.bincount(exit_index, minlength=model.num_exits).double() / len(exit_index)).tolist()
            )
            result.curves.append((curve_costs, curve_acc))
            result.rule_macs.append(float((macs - base)[-1]))
    return report
