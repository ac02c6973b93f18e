"""Comparing exit rules honestly: thresholds on validation, every number on test.

For each rule and each trained model (seed), :func:`evaluate_exit_rules` reports:

- the operating point: thresholds chosen on validation at a target accuracy, then on
  test the accuracy, the mean MACs per image (every branch evaluated, the maps and the
  scores included: :func:`rule_costs`) and the share of the oracle's saving captured;
- the accuracy-MACs curve as the validation target moves, and the area under it
  (:func:`accuracy_cost_area`: the mean accuracy over compute budgets);
- the AUROC of the rule's score for "this exit is correct", at every side exit
  (:func:`auroc`): how well the score ranks right answers above wrong ones, whatever
  the threshold;
- with :meth:`ExitRuleReport.intervals`, a bootstrap interval for every one of these
  numbers, pooled over the models (networks resampled, then test images:
  :mod:`xaiexit.exits.intervals`).

Test labels are used for measuring only; no threshold, temperature or choice ever sees
them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
from torch import nn

from xaiexit.exits import intervals as _intervals
from xaiexit.exits.calibration import fit_temperature
from xaiexit.exits.exit_saliency import INPUT_METHODS, ExitOutputs, exit_map_sizes, exit_outputs, saliency_macs
from xaiexit.exits.macs import count_macs, exit_costs
from xaiexit.exits.oracle import oracle_exits
from xaiexit.exits.rules import ExitRule, scores_at_exits
from xaiexit.exits.thresholds import exits_from_scores, thresholds_from_scores
from xaiexit.models.early_exit import EarlyExitCNN
from xaiexit.saliency.sanity import average_ranks
from xaiexit.stats import Interval

#: validation targets swept for the accuracy-MACs curve
DEFAULT_SWEEP = tuple(round(0.80 + 0.005 * i, 3) for i in range(41))


def rule_costs(
    model: EarlyExitCNN, rule: ExitRule, input_shape: Sequence[int], _cache: dict | None = None
) -> torch.Tensor:
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
    cache = {} if _cache is None else _cache  # counts that depend on the model only, kept between rules

    def counted(key, count):
        if key not in cache:
            cache[key] = count()
        return cache[key]

    base = counted("base", lambda: exit_costs(model, input_shape))
    if rule.saliency is None:
        return base
    maps = counted(("maps", rule.saliency), lambda: saliency_macs(model, input_shape, rule.saliency))
    sizes = counted(("sizes", rule.saliency), lambda: exit_map_sizes(model, input_shape, rule.saliency))
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
    reached by a point of the curve costing at most ``c``. A budget that no point fits in
    (every point costs more) counts as accuracy **0**.

    With costs relative to the network without branches, ``low`` the cost of the first
    exit and ``high = 1``, it summarises a whole accuracy-MACs curve in one number in
    [0, 1]: points that cost more than the plain network add nothing.

    Examples
    --------
    >>> round(accuracy_cost_area(torch.tensor([0.5, 1.0]), torch.tensor([0.8, 0.9]), low=0.0), 6)  # 0 x 0.5 + 0.8 x 0.5
    0.4
    """
    costs, accuracies = costs.double().cpu().flatten(), accuracies.double().cpu().flatten()
    if not high > low:
        raise ValueError(f"the budget range is empty: low={low} >= high={high}")
    if len(costs) == 0:
        return 0.0
    return float(_intervals.batched_area(costs[None], accuracies[None], low, high)[0])


@dataclass
class RuleResult:
    """One rule's numbers on test, one entry per model (training seed) in each list.

    Besides the summaries, the per-image records that the intervals resample:
    ``test_exit`` (the exit of every test image at the operating point), ``curve_exits``
    (``(P, N)``: its exit at every point of the curve, the last point "nobody leaves
    early"), ``test_scores`` (the rule's score at every side exit) and ``costs`` (the
    relative cost of leaving at each exit under this rule).
    """

    name: str
    needs_final_exit: bool
    higher_is_surer: bool = True
    thresholds: list[list] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    relative_macs: list[float] = field(default_factory=list)  # mean MACs / the network without branches
    oracle_share: list[float] = field(default_factory=list)
    area: list[float] = field(default_factory=list)
    auroc: list[list] = field(default_factory=list)  # per seed, per side exit
    exit_shares: list[list] = field(default_factory=list)
    curves: list[tuple[torch.Tensor, torch.Tensor]] = field(default_factory=list)  # (relative cost, accuracy)
    rule_macs: list[float] = field(default_factory=list)  # maps + scores for a sample passing every side exit
    test_exit: list[torch.Tensor] = field(default_factory=list)
    curve_exits: list[torch.Tensor] = field(default_factory=list)
    test_scores: list[list] = field(default_factory=list)
    costs: list[torch.Tensor] = field(default_factory=list)

    def mean_std(self, name: str) -> tuple[float, float]:
        """Mean and sample standard deviation over seeds of a per-seed number (for
        ``auroc``, the mean over side exits with a score first)."""
        values = getattr(self, name)
        if name == "auroc":
            values = [_nanmean(v) for v in values]
        t = torch.tensor(values, dtype=torch.float64)
        return float(t.mean()), float(t.std()) if len(t) > 1 else 0.0


class RuleIntervals(NamedTuple):
    """Bootstrap intervals of one rule's numbers, pooled over the models: every (model,
    test image) pair counts once (see :meth:`ExitRuleReport.intervals`)."""

    name: str
    accuracy: Interval | None
    relative_macs: Interval | None
    oracle_share: Interval | None
    area: Interval | None
    auroc: list | None  # one Interval per side exit


def _nanmean(values) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan


@dataclass
class ExitRuleReport:
    """Everything :func:`evaluate_exit_rules` measured; ``table()`` formats it and
    ``intervals()`` adds bootstrap intervals."""

    rules: list[RuleResult]
    targets: list[float]  # the validation target of the operating point, per seed
    final_accuracy: list[float]  # test accuracy of the final exit alone, per seed
    oracle_accuracy: list[float]
    oracle_relative_macs: list[float]
    first_exit_cost: list[float]  # relative MACs of the cheapest exit: the curve's budget range starts there
    temperatures: list[list | None]  # per seed, fitted on validation when a rule is calibrated (else None)
    test_right: list[torch.Tensor] = field(default_factory=list)  # per seed, (E, N) bool
    oracle_exit: list[torch.Tensor] = field(default_factory=list)  # per seed, (N,) the oracle's exit
    base_costs: list[torch.Tensor] = field(default_factory=list)  # per seed, (E,) relative cost of each exit

    def resampler(self, n_resamples: int = 2000, seed: int = 0) -> _intervals.Resampler:
        """The resamples of :meth:`intervals`: models, then test images (one model: images only)."""
        sizes = [int(r.shape[1]) for r in self.test_right]
        return _intervals.Resampler(sizes, n_resamples, seed, hierarchical=len(sizes) > 1)

    def statistics(self, rule: int | str) -> dict:
        """The statistics of one rule's numbers as functions of resampled counts over the
        pooled (model, test image) pairs (:mod:`xaiexit.exits.intervals`): ``"accuracy"``,
        ``"relative_macs"``, ``"oracle_share"``, ``"area"`` and ``"auroc"`` (one per side exit)."""
        r = self.rules[rule] if isinstance(rule, int) else next(x for x in self.rules if x.name == rule)
        n = len(self.test_right)
        rows = [torch.arange(right.shape[1]) for right in self.test_right]
        right_at = [self.test_right[s][r.test_exit[s], rows[s]].double() for s in range(n)]
        cost_at = [r.costs[s][r.test_exit[s]] for s in range(n)]
        oracle_cost = [self.base_costs[s][self.oracle_exit[s]] for s in range(n)]
        point_costs = torch.cat([r.costs[s][r.curve_exits[s].long()] for s in range(n)], dim=1)
        point_right = torch.cat(
            [self.test_right[s][r.curve_exits[s].long(), rows[s]].double() for s in range(n)], dim=1
        )
        n_side = len(r.test_scores[0])
        out = {
            "accuracy": _intervals.mean_statistic(torch.cat(right_at)),
            "relative_macs": _intervals.mean_statistic(torch.cat(cost_at)),
            "oracle_share": _intervals.oracle_share_statistic(torch.cat(cost_at), torch.cat(oracle_cost)),
            "area": _intervals.area_statistic(point_costs, point_right, low=self.first_exit_cost[0]),
            "auroc": [
                _intervals.auroc_statistic(
                    torch.cat([r.test_scores[s][k] for s in range(n)]),
                    torch.cat([self.test_right[s][k] for s in range(n)]),
                    r.higher_is_surer,
                )
                for k in range(n_side)
            ],
        }
        return out

    def intervals(
        self,
        n_resamples: int = 2000,
        level: float = 0.95,
        seed: int = 0,
        metrics: Sequence[str] = ("accuracy", "relative_macs", "oracle_share", "area", "auroc"),
        resampler: _intervals.Resampler | None = None,
    ) -> list[RuleIntervals]:
        """A bootstrap interval for every rule's accuracy, MACs, oracle share, area and
        AUROC at each side exit (those of ``metrics``; the others are ``None``).

        Pooled over the models: each number is measured on all (model, test image) pairs
        at once (the oracle share from the pooled mean costs; the area from the curve whose
        points are the pooled means; the AUROC from the pooled scores). The resamples draw
        the models with replacement and then the test images of each drawn model
        (:func:`xaiexit.stats.hierarchical_bootstrap_ci`'s scheme), so the interval holds
        both the spread between training runs and the test-sampling error. With one model
        only the images are resampled (:func:`xaiexit.stats.bootstrap_ci`). An oracle rule's
        area is ``Interval(0, 0, 0)``: it costs more than the network without branches.
        ``resampler`` (of :meth:`resampler`'s sizes) reuses resamples drawn before;
        ``n_resamples`` and ``seed`` are then its own.
        """
        known = ("accuracy", "relative_macs", "oracle_share", "area", "auroc")
        if set(metrics) - set(known):
            raise ValueError(f"unknown metrics {sorted(set(metrics) - set(known))}; choose from {known}")
        sizes = [int(r.shape[1]) for r in self.test_right]
        if resampler is None:
            resampler = self.resampler(n_resamples, seed)
        elif resampler.sizes != sizes:
            raise ValueError(f"the resampler draws from groups of {resampler.sizes} items; this report has {sizes}")
        out = []
        for r in self.rules:
            stats = self.statistics(r.name)
            values = {}
            for name in known:
                if name not in metrics:
                    values[name] = None
                elif name == "auroc":
                    values[name] = [resampler.interval(a, level) for a in stats["auroc"]]
                elif name == "area" and r.needs_final_exit:
                    values[name] = Interval(0.0, 0.0, 0.0)
                else:
                    values[name] = resampler.interval(stats[name], level)
            out.append(RuleIntervals(r.name, **values))
        return out

    def table(self, intervals: list[RuleIntervals] | None = None) -> str:
        """A markdown table: mean ± standard deviation over seeds; with ``intervals``, each
        cell first gives the pooled estimate and its interval, ``0.94 [0.90, 0.97] (± 0.07)``."""

        def pm(values, digits=3):
            t = torch.tensor(values, dtype=torch.float64)
            sd = float(t.std()) if len(t) > 1 else 0.0
            return f"{float(t.mean()):.{digits}f} ± {sd:.{digits}f}"

        def cell(values, interval, digits=3):
            if interval is None:
                return pm(values, digits)
            t = torch.tensor(values, dtype=torch.float64)
            sd = float(t.std()) if len(t) > 1 else 0.0
            e, lo, hi = interval
            return f"{e:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}] (± {sd:.{digits}f})"

        n_side = len(self.rules[0].auroc[0]) if self.rules else 0
        lines = [
            "| rule | test acc | MACs / backbone | oracle share | area | "
            + " | ".join(f"AUROC exit {k + 1}" for k in range(n_side))
            + " | map + score MACs |",
            "|---|---:|---:|---:|---:|" + "---:|" * n_side + "---:|",
        ]
        for j, r in enumerate(self.rules):
            iv = intervals[j] if intervals is not None else None
            aurocs = [
                cell([seed[k] for seed in r.auroc], iv.auroc[k] if iv and iv.auroc else None)
                if not any(math.isnan(seed[k]) for seed in r.auroc)
                else "-"
                for k in range(n_side)
            ]
            area = "n/a (costs more than the backbone)" if r.needs_final_exit else cell(r.area, iv.area if iv else None)
            lines.append(
                f"| {r.name} | {cell(r.accuracy, iv.accuracy if iv else None)} | "
                f"{cell(r.relative_macs, iv.relative_macs if iv else None)} | "
                f"{cell(r.oracle_share, iv.oracle_share if iv else None, 2)} | {area} | "
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


def needed_outputs(rules: Sequence[ExitRule], num_exits: int) -> tuple[tuple[str, ...], tuple[int, ...] | None]:
    """The maps ``rules`` read and the exits whose input-gradient maps they need, for
    :func:`~xaiexit.exits.exit_outputs` (``methods``, ``input_exits``): the side exits,
    or every exit (``None``) when a rule compares with the final exit's gradient map.

    Examples
    --------
    >>> from xaiexit.exits import ConcentrationRule, MaxSoftmax
    >>> needed_outputs([MaxSoftmax(), ConcentrationRule("entropy", "gradient")], 3)
    (('gradient',), (0, 1))
    """
    methods = tuple(sorted({r.saliency for r in rules if r.saliency is not None})) or ("cam",)
    final = any(r.reference == "final" and r.saliency in INPUT_METHODS for r in rules)
    return methods, (None if final else tuple(range(num_exits - 1)))


def evaluate_exit_rules(
    models: EarlyExitCNN | Sequence[EarlyExitCNN],
    data: dict[str, tuple[torch.Tensor, torch.Tensor]],
    rules: Sequence[ExitRule],
    target_accuracy: float | None = None,
    sweep: Sequence[float] = DEFAULT_SWEEP,
    batch_size: int = 256,
    outputs: Sequence[dict[str, ExitOutputs]] | None = None,
    fast: bool = False,
) -> ExitRuleReport:
    """Every rule, on every model, with thresholds from validation and numbers from test.

    Parameters
    ----------
    models : EarlyExitCNN or list of them
        The same architecture trained with different seeds (mean and spread are over them).
    data : dict
        ``{"val": (x, y), "test": (x, y)}``: images ``(N, C, H, W)`` and labels ``(N,)``.
        Thresholds and temperatures come from ``"val"`` only. With ``outputs`` given, the
        images are not read (only their number and shape).
    rules : list of ExitRule
        Softmax rules, saliency rules, ``Calibrated(...)`` rules, ``Both(...)``.
    target_accuracy : float, optional
        The validation accuracy required of the samples leaving each exit at the operating
        point; default: the final exit's validation accuracy (per model).
    sweep : sequence of float
        Validation targets giving the points of the accuracy-MACs curve.
    batch_size : int
        Images per forward pass.
    outputs : list of dicts, optional
        Per model, ``{"val": ExitOutputs, "test": ExitOutputs}`` already computed by
        :func:`~xaiexit.exits.exit_outputs` with every map the rules read
        (:func:`needed_outputs`); default: computed here, one pass per split.
    fast : bool
        Passed to :func:`~xaiexit.exits.exit_outputs` when computing the outputs here.

    Returns
    -------
    ExitRuleReport
        Its per-image records let :meth:`ExitRuleReport.intervals` put a bootstrap
        interval on every number.
    """
    models = [models] if isinstance(models, nn.Module) else list(models)
    if not models:
        raise ValueError("give at least one model")
    x_val, y_val = _split(data, "val")
    x_test, y_test = _split(data, "test")
    if outputs is not None and len(outputs) != len(models):
        raise ValueError(f"{len(outputs)} sets of outputs for {len(models)} models; give one per model")
    results = [RuleResult(r.name, r.needs_final_exit, r.higher_is_surer) for r in rules]
    report = ExitRuleReport(results, [], [], [], [], [], [])
    input_shape = tuple(x_val.shape[1:])
    for n_model, model in enumerate(models):
        backbone = float(sum(count_macs(model.without_branches(), input_shape).values()))
        cache = {"base": exit_costs(model, input_shape)}  # MACs counted once per model, shared by the rules
        base = cache["base"]  # MACs of leaving at each exit, the rule aside
        if outputs is None:
            methods, input_exits = needed_outputs(rules, model.num_exits)
            split_outputs = {
                name: exit_outputs(model, x, methods, batch_size, input_exits=input_exits, fast=fast)
                for name, x in (("val", x_val), ("test", x_test))
            }
        else:
            split_outputs = outputs[n_model]
        val_logits, test_logits = split_outputs["val"].logits, split_outputs["test"].logits
        val_right = [z.argmax(dim=1) == y_val for z in val_logits]
        calibrated = any(rule.calibrated for rule in rules)
        temps = [fit_temperature(z, y_val) for z in val_logits] if calibrated else None
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
        report.test_right.append(right)
        report.oracle_exit.append(oracle.exit_index)
        report.base_costs.append(base / backbone)
        for rule, result in zip(rules, results):
            t = temps if rule.calibrated else None
            val_maps = split_outputs["val"].maps[rule.saliency] if rule.saliency else None
            test_maps = split_outputs["test"].maps[rule.saliency] if rule.saliency else None
            val_scores = scores_at_exits(rule, val_logits, val_maps, t)
            test_scores = scores_at_exits(rule, test_logits, test_maps, t)
            macs = rule_costs(model, rule, input_shape, cache)
            costs = macs / backbone

            def on_test(thresholds):
                exit_index = exits_from_scores(test_scores, thresholds, rule.higher_is_surer)
                accuracy = float(right[exit_index, torch.arange(len(y_test))].double().mean())
                return exit_index, accuracy, float(costs[exit_index].mean())

            thresholds = thresholds_from_scores(val_scores, val_right[:-1], target, rule.higher_is_surer)
            exit_index, accuracy, cost = on_test(thresholds)
            curve = [
                on_test(thresholds_from_scores(val_scores, val_right[:-1], s, rule.higher_is_surer)) for s in sweep
            ]
            curve.append(on_test([rule.closed_threshold()] * len(val_scores)))  # nobody leaves early
            curve_costs = torch.tensor([c for _, _, c in curve], dtype=torch.float64)
            curve_acc = torch.tensor([a for _, a, _ in curve], dtype=torch.float64)
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
            result.test_exit.append(exit_index)
            result.curve_exits.append(torch.stack([e for e, _, _ in curve]).to(torch.uint8))
            result.test_scores.append([sc.double() for sc in test_scores])
            result.costs.append(costs)
    return report
