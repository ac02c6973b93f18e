"""Exit rules compared: softmax confidence against saliency maps, on two datasets.

Usage::

    python benchmarks/exit_rules.py               # full run: 3 seeds per dataset, 5,000 pet test images
    python benchmarks/exit_rules.py --quick       # 1 seed, 64 test images, digits trained 1 epoch

It prints Markdown and writes it to ``benchmarks/results/exit_rules.md`` with the plot
``benchmarks/results/exit_rules.png`` (``--quick``: ``exit_rules_quick.md`` and no plot,
unless ``--output`` / ``--plot`` say otherwise).

What it measures
----------------
Two datasets, three trained networks each (training seeds 0, 1, 2):

- **synthetic pets**: the shipped ``pets_early_exit``, ``pets_early_exit_seed1`` and
  ``pets_early_exit_seed2`` (``xaiexit.zoo``) on ``SyntheticPets("val", n=2000)`` and
  ``("test", n=5000)`` (64 x 64, cat or dog): enough wrong answers at every exit for an
  AUROC to mean something;
- **digits**: the small ``EarlyExitCNN`` of :mod:`xaiexit.exits.digits_setting`
  (``DIGITS_MODEL``, 32 x 32 grey images) trained here on ``Digits("train")`` with
  ``early_exit_loss`` (all exits jointly, ``DIGITS_TRAINING``, 1 torch thread, about 10 s
  per seed), one network per training seed, on ``Digits("val")`` and ``("test")`` (10
  classes). Its first exit is right about half of the time: max softmax leaves most of the
  oracle's saving unused, so a better rule would have room to show.

Every rule of :func:`make_rules` goes through ``evaluate_exit_rules``: thresholds chosen on
the **validation** split only, every number measured on the **test** split. Its table (test
accuracy at the operating point, mean MACs / backbone, share of the oracle's saving,
area under the accuracy-MACs curve, AUROC of the score at each side exit, MACs of the
maps and scores) is printed with ``report.intervals()``: the share, the area and every
AUROC as the estimate pooled over the seeds with its 95 % hierarchical bootstrap interval
(seeds, then test images; 2000 resamples), then ± the standard deviation over the seeds;
accuracy and MACs as mean ± sample standard deviation. Measured wall-clock columns are
added on the right:

- **map + score time**: per test image, the time of the rule's maps and scores at every
  side exit (the oracle rule: and the final exit's map), minus the time of the side
  heads' logits alone (which every rule needs). The blocks' outputs are computed once
  beforehand; each timed pass goes over the test images in batches of 64; the
  difference is taken repeat by repeat and its median kept. Shown next to the same
  cost in MACs, both divided by the network without branches (its forward pass timed
  in the same loop).
- **inference time / backbone**: ``predict_with_exits`` at batch 64 (the samples that
  leave are dropped from the batch, maps computed only for those still in it) over the
  timed test images, at the rule's operating point, divided by the time of the network
  without branches on the same images: the measured counterpart of "MACs / backbone". Not
  for the oracle rule, which cannot stop early.

Timings run over the first ``--timing-images`` test images (1024 by default), the accuracy
and MACs over all of them.

Every timing runs on 1 torch thread, in one process, the timed runs alternating pass by
pass, on copies of the networks with batch norm folded into the convolutions and
channels-last memory (``for_cpu_inference``); medians over ``--repeats`` passes (three
times as many on digits, whose passes are short). ``--threads`` sets the threads of the
evaluation only. Times are only measured and reported, never asserted. Before timing,
the exits taken by the timed ``predict_with_exits`` are compared with those the
evaluation simulated.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import machine_description  # noqa: E402
from xaiexit import zoo  # noqa: E402
from xaiexit.data import Digits, SyntheticPets  # noqa: E402
from xaiexit.exits import (  # noqa: E402
    DIGITS_MODEL,
    DIGITS_TRAINING,
    Both,
    Calibrated,
    CoherenceRule,
    ConcentrationRule,
    Entropy,
    ExitRule,
    ExitRuleReport,
    MaxSoftmax,
    OracleCoherenceRule,
    count_macs,
    evaluate_exit_rules,
    exit_maps,
    predict_with_exits,
    saliency_at_exits,
    simulate_exits,
    train_digits_networks,
)
from xaiexit.exits.evaluation import DEFAULT_SWEEP  # noqa: E402
from xaiexit.exits.exit_saliency import INPUT_METHODS  # noqa: E402
from xaiexit.models import EarlyExitCNN, for_cpu_inference  # noqa: E402
from xaiexit.train import predict  # noqa: E402

SEEDS = (0, 1, 2)
BATCH = 64
#: the max-softmax gate of the combined rule: a common value set by hand, not tuned on these data
BOTH_FIRST_THRESHOLD = 0.9
#: generated pets: thresholds on N_VAL validation images, every number on N_TEST test images
N_VAL, N_TEST = 2000, 5000
PETS_MODELS = ("pets_early_exit", "pets_early_exit_seed1", "pets_early_exit_seed2")
#: a pass over the digits' test images is about 6 times shorter than over the pets': more repeats
DIGITS_REPEAT_FACTOR = 3


def make_rules() -> list[ExitRule]:
    """The rules compared, in table order."""
    return [
        MaxSoftmax(),
        Entropy(),
        Calibrated(MaxSoftmax()),
        ConcentrationRule("entropy"),
        ConcentrationRule("inertia"),
        ConcentrationRule("entropy", "grad_cam"),
        CoherenceRule("cosine"),
        CoherenceRule("ssim"),
        CoherenceRule("cosine", "grad_cam"),
        ConcentrationRule("entropy", "gradient"),
        OracleCoherenceRule("cosine"),
        Both(MaxSoftmax(), ConcentrationRule("entropy"), first_threshold=BOTH_FIRST_THRESHOLD),
    ]


def kind(rule: ExitRule) -> str:
    """``"softmax"`` (logits only), ``"saliency"`` (reads maps, usable at inference) or ``"oracle"``."""
    if rule.needs_final_exit:
        return "oracle"
    return "softmax" if rule.saliency is None else "saliency"


# --------------------------------------------------------------------------- models
def train_digits(seeds: Sequence[int], epochs: int, train: Digits) -> tuple:
    """One network per training seed (:func:`xaiexit.exits.train_digits_networks`, 1 torch
    thread), and the seconds each took to train."""
    models, seconds = [], []
    for seed in seeds:
        started = time.perf_counter()
        models += train_digits_networks(train, seeds=(seed,), epochs=epochs)
        seconds.append(time.perf_counter() - started)
    return models, seconds


def exit_accuracies(model: EarlyExitCNN, images: torch.Tensor, labels: torch.Tensor) -> list[float]:
    return [float((z.argmax(dim=1) == labels).double().mean()) for z in predict(model, images)]


# --------------------------------------------------------------------------- timing
def block_outputs(model: EarlyExitCNN, images: torch.Tensor) -> list[torch.Tensor]:
    """The output of every block an exit follows, for all images: one tensor per exit."""
    outputs, h = [], images
    with torch.no_grad():
        for i, block in enumerate(model.features, start=1):
            h = block(h)
            if i in model.exit_blocks:
                outputs.append(h)
    return outputs


def heads_only(model: EarlyExitCNN) -> Callable:
    """The side heads' logits (what every rule needs): the baseline of the map + score time."""
    heads = list(model.exits.values())[:-1]

    def run(features):
        for head, f in zip(heads, features):
            head(f)

    return run


def rule_step(
    model: EarlyExitCNN, rule: ExitRule, thresholds: Sequence[float], temperatures: Sequence[float] | None
) -> Callable:
    """The side heads' logits plus the rule's maps and scores (and decisions) at every side
    exit, for a batch of block outputs (no sample leaves: every side exit is scored)."""
    heads = list(model.exits.values())
    temps = list(temperatures) if temperatures is not None else [1.0] * len(heads)

    def run(features):
        previous = final = None
        if rule.reference == "final":
            _, final = exit_maps(heads[-1], features[-1], rule.saliency)
        for k in range(len(heads) - 1):
            if rule.saliency is None:
                rule.exits(heads[k](features[k]) / temps[k], thresholds[k])
                continue
            logits, maps = exit_maps(heads[k], features[k], rule.saliency)
            rule.exits(logits / temps[k], thresholds[k], maps, final if rule.reference == "final" else previous)
            previous = maps

    return run


def forward_with_heads(model: EarlyExitCNN) -> Callable:
    """Every block and every head on a batch of images: the baseline of a gradient rule's map +
    score time (its maps need the images, not only the blocks' outputs)."""

    def run(images):
        with torch.no_grad():
            model(images)

    return run


def gradient_rule_step(
    model: EarlyExitCNN, rule: ExitRule, thresholds: Sequence[float], temperatures: Sequence[float] | None
) -> Callable:
    """Every block and head on a batch of images, with the gradient map of every side exit
    (a backward pass from its logit to the image) and the rule's score and decision there."""
    heads = list(model.exits.values())
    temps = list(temperatures) if temperatures is not None else [1.0] * len(heads)
    last_side = model.exit_blocks[-2]

    def run(images):
        with torch.enable_grad():
            x = images.detach().requires_grad_(True)
            h, k = x, 0
            for i, block in enumerate(model.features, start=1):
                with torch.set_grad_enabled(i <= last_side):
                    h = block(h)
                if i not in model.exit_blocks:
                    continue
                logits = heads[k](h)
                if k < len(heads) - 1:
                    chosen = logits.gather(1, logits.argmax(dim=1, keepdim=True)).sum()
                    (grad,) = torch.autograd.grad(chosen, x, retain_graph=k < len(heads) - 2)
                    rule.exits(logits.detach() / temps[k], thresholds[k], grad.abs().amax(dim=1))
                k += 1

    return run


def timed_passes(runs: dict[str, Callable], items: dict[str, Callable], n: int, repeats: int) -> dict[str, list]:
    """Seconds of each named run over ``n`` images in batches of :data:`BATCH`, ``repeats``
    times, the runs alternating pass by pass; ``items[name](start, stop)`` gives the batch."""

    def one_pass(name, stop_at=n):
        started = time.perf_counter()
        with torch.no_grad():
            for start in range(0, stop_at, BATCH):
                runs[name](items[name](start, min(start + BATCH, stop_at)))
        return time.perf_counter() - started

    for name in runs:  # warm-up
        one_pass(name, min(n, 2 * BATCH))
    seconds = {name: [] for name in runs}
    for _ in range(repeats):
        for name in runs:
            seconds[name].append(one_pass(name))
    return seconds


def measure_times(
    model: EarlyExitCNN,
    report: ExitRuleReport,
    seed_index: int,
    rules: Sequence[ExitRule],
    images: torch.Tensor,
    repeats: int,
) -> dict:
    """Per-image seconds of the backbone, of each rule's maps + scores (beyond the heads),
    and of ``predict_with_exits`` for each rule usable at inference."""
    fast = for_cpu_inference(model)
    backbone = for_cpu_inference(model.without_branches())
    x = images.contiguous(memory_format=torch.channels_last)
    features = block_outputs(fast, x)
    n = len(x)
    by_features = lambda start, stop: [f[start:stop] for f in features]
    by_images = lambda start, stop: x[start:stop]
    runs, items = {"backbone": backbone, "heads": heads_only(fast)}, {"backbone": by_images, "heads": by_features}
    if any(rule.saliency in INPUT_METHODS for rule in rules):
        runs["forward"], items["forward"] = forward_with_heads(fast), by_images
    for i, (rule, result) in enumerate(zip(rules, report.rules)):
        thresholds = result.thresholds[seed_index]
        temps = report.temperatures[seed_index] if rule.calibrated else None
        if rule.saliency in INPUT_METHODS:
            runs[f"step{i}"], items[f"step{i}"] = gradient_rule_step(fast, rule, thresholds, temps), by_images
        else:
            runs[f"step{i}"], items[f"step{i}"] = rule_step(fast, rule, thresholds, temps), by_features
        if not rule.needs_final_exit:
            runs[f"infer{i}"] = lambda batch, r=rule, t=thresholds, T=temps: predict_with_exits(fast, batch, r, t, T)
            items[f"infer{i}"] = by_images
    seconds = timed_passes(runs, items, n, repeats)
    backbone_s = statistics.median(seconds["backbone"]) / n
    out = {"backbone": backbone_s, "step": {}, "infer": {}}
    for i, rule in enumerate(rules):
        baseline = seconds["forward" if rule.saliency in INPUT_METHODS else "heads"]
        extra = [a - b for a, b in zip(seconds[f"step{i}"], baseline)]
        out["step"][i] = statistics.median(extra) / n
        if f"infer{i}" in seconds:
            out["infer"][i] = statistics.median(seconds[f"infer{i}"]) / n / backbone_s
    return out


def agreement(
    model: EarlyExitCNN, report: ExitRuleReport, seed_index: int, rules: Sequence[ExitRule], images: torch.Tensor
) -> dict[int, float]:
    """Share of test images for which the timed ``predict_with_exits`` (batch norm folded,
    batch 64) leaves at the exit the evaluation simulated, per rule usable at inference."""
    fast = for_cpu_inference(model)
    x = images.contiguous(memory_format=torch.channels_last)
    methods = sorted({r.saliency for r in rules if r.saliency is not None} | {"cam"})
    simulated = {m: saliency_at_exits(model, images, m) for m in methods}
    shares = {}
    for i, (rule, result) in enumerate(zip(rules, report.rules)):
        if rule.needs_final_exit:
            continue
        thresholds = result.thresholds[seed_index]
        temps = report.temperatures[seed_index] if rule.calibrated else None
        logits, maps = simulated[rule.saliency or "cam"]
        _, expected = simulate_exits(logits, rule, thresholds, temps, maps if rule.saliency else None)
        got = torch.cat(
            [predict_with_exits(fast, x[s : s + BATCH], rule, thresholds, temps)[1] for s in range(0, len(x), BATCH)]
        )
        shares[i] = float((got == expected).double().mean())
    return shares


# --------------------------------------------------------------------------- formatting
def mean_sd(values: Sequence[float]) -> tuple:
    t = torch.tensor([v for v in values], dtype=torch.float64)
    return float(t.mean()), float(t.std()) if len(t) > 1 else 0.0


def pm(values: Sequence[float], digits: int = 3, scale: float = 1.0) -> str:
    mean, sd = mean_sd([scale * v for v in values])
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


def extended_table(
    report: ExitRuleReport, rules: Sequence[ExitRule], backbone_macs: float, times: list[dict], intervals=None
) -> str:
    """``report.table(intervals)`` with the wall-clock columns added on the right of every row."""
    lines = report.table(intervals).splitlines()
    extra = [
        "map + score MACs / backbone",
        "map + score µs / image",
        "map + score time / backbone time",
        "inference time / backbone (batch 64)",
    ]
    out = [lines[0] + " " + " | ".join(extra) + " |", lines[1] + "---:|" * len(extra)]
    for i, (line, result) in enumerate(zip(lines[2:], report.rules)):
        cells = [
            f"{result.rule_macs[0] / backbone_macs:.4f}",
            pm([t["step"][i] for t in times], 1, 1e6),
            pm([t["step"][i] / t["backbone"] for t in times], 3),
            pm([t["infer"][i] for t in times], 3) if i in times[0]["infer"] else "n/a (cannot stop early)",
        ]
        out.append(line + " " + " | ".join(cells) + " |")
    for line in lines[2 + len(rules) :]:
        out.append(line + " " + " | ".join([""] * len(extra)) + " |")
    return "\n".join(out)


def _names(results, values, best):
    return [r.name for r, v in zip(results, values) if not math.isnan(v) and abs(v - best) < 1e-12]


def conclusion(
    label: str,
    report: ExitRuleReport,
    rules: Sequence[ExitRule],
    times: list[dict],
    backbone_macs: float,
    intervals=None,
) -> str:
    """A paragraph of what the numbers say, computed from them."""
    results = report.rules
    usable = [i for i, r in enumerate(rules) if kind(r) != "oracle"]
    saliency = [i for i in usable if kind(rules[i]) == "saliency"]
    oracle_rules = [i for i, r in enumerate(rules) if kind(r) == "oracle"]
    ms = next(i for i, r in enumerate(rules) if isinstance(r, MaxSoftmax))
    area = {i: mean_sd(results[i].area)[0] for i in usable}
    best_area = max(area.values())
    tied = _names([results[i] for i in usable], [area[i] for i in usable], best_area)
    n_side = len(results[0].auroc[0])
    sentences = []
    sentences.append(
        f"On {label}, the highest area under the accuracy-MACs curve among the rules usable at inference is "
        f"{best_area:.3f}, reached by {_join(tied)}; max softmax has {area[ms]:.3f}."
    )
    if intervals is not None:
        share = {i: intervals[i].oracle_share for i in usable}
        best_sal = max(saliency, key=lambda i: share[i].estimate)
        sentences.append(
            f"Pooled over the seeds with 95 % intervals, max softmax captures {_interval(share[ms], 2)} of the "
            f"oracle's saving; the best saliency rule there, {results[best_sal].name}, {_interval(share[best_sal], 2)}."
        )
    for k in range(n_side):
        values = {i: mean_sd([s[k] for s in results[i].auroc])[0] for i in usable}
        finite = {i: v for i, v in values.items() if not math.isnan(v)}
        if not finite:
            sentences.append(f"At side exit {k + 1} no rule has an AUROC (all test images right, or all wrong).")
            continue
        best = max(finite.values())
        sal = {i: v for i, v in finite.items() if i in saliency}
        best_sal = max(sal, key=sal.get) if sal else None
        leaders = [i for i in finite if abs(finite[i] - best) < 1e-12]
        text = (
            f'At side exit {k + 1} the best AUROC for "this exit is right" is {best:.3f} '
            f"({_join([results[i].name for i in leaders])})"
        )
        if best_sal is not None and best_sal not in leaders:
            text += f"; the best saliency rule there, {results[best_sal].name}, has {sal[best_sal]:.3f}"
        text += f"; max softmax has {values[ms]:.3f}."
        sentences.append(text)
    beating = []
    for i in saliency:
        d_area = [a - b for a, b in zip(results[i].area, results[ms].area)]
        if mean_sd(d_area)[0] > 1e-12:
            wins = sum(d > 0 for d in d_area)
            beating.append(
                f"{results[i].name} (area +{mean_sd(d_area)[0]:.3f}, higher on {wins} of {len(d_area)} seeds)"
            )
    if beating:
        sentences.append(f"Saliency rules with a higher mean area than max softmax: {'; '.join(beating)}.")
    else:
        best_sal = max(saliency, key=lambda i: area[i])
        d = [a - b for a, b in zip(results[best_sal].area, results[ms].area)]
        sentences.append(
            f"No saliency rule beats max softmax on area: the best one, {results[best_sal].name}, has "
            f"{area[best_sal]:.3f} ({mean_sd(d)[0]:+.3f} ± {mean_sd(d)[1]:.3f} over seeds)."
        )
    ms_acc, ms_cost = mean_sd(results[ms].accuracy)[0], mean_sd(results[ms].relative_macs)[0]
    cheaper = [
        i
        for i in saliency
        if mean_sd(results[i].relative_macs)[0] < ms_cost and mean_sd(results[i].accuracy)[0] >= ms_acc
    ]
    sentences.append(
        f"At the operating point max softmax keeps {ms_acc:.3f} test accuracy at {ms_cost:.3f} of the backbone's MACs "
        f"(final exit alone: {mean_sd(report.final_accuracy)[0]:.3f} accuracy; oracle: "
        f"{mean_sd(report.oracle_relative_macs)[0]:.3f} of the MACs); "
        + (
            f"{_join([results[i].name for i in cheaper])} "
            f"{'is' if len(cheaper) == 1 else 'are'} both cheaper and at least as accurate."
            if cheaper
            else "no saliency rule is both cheaper and at least as accurate there."
        )
    )
    for i in oracle_rules:
        aurocs = [mean_sd([s[k] for s in results[i].auroc])[0] for k in range(n_side)]
        ms_aurocs = [mean_sd([s[k] for s in results[ms].auroc])[0] for k in range(n_side)]
        sentences.append(
            f"The oracle coherence rule, which reads the final exit's map and so saves nothing "
            f"(MACs / backbone {mean_sd(results[i].relative_macs)[0]:.3f}), has AUROC "
            f"{' / '.join(f'{a:.3f}' for a in aurocs)} at the side exits against max softmax's "
            f"{' / '.join(f'{a:.3f}' for a in ms_aurocs)}."
        )
    infer = {i: mean_sd([t["infer"][i] for t in times])[0] for i in usable}
    fastest = min(infer, key=infer.get)
    sentences.append(
        f"Measured inference (batch 64, 1 thread): max softmax runs in {infer[ms]:.3f} of the backbone's time where "
        f"its MACs say {ms_cost:.3f}; "
        + (
            "no rule runs faster than it"
            if fastest == ms
            else f"the fastest rule is {results[fastest].name} at {infer[fastest]:.3f}"
        )
        + ("" if infer[fastest] < 1 else ", and none is faster than the network without branches")
        + "."
    )
    grad = [i for i in saliency if rules[i].saliency == "grad_cam"]
    if grad:
        i = grad[0]
        cam = [j for j in saliency if rules[j].saliency == "cam"]
        sentences.append(
            f"Measured cost: Grad-CAM maps and scores ({results[i].name}) take "
            f"{mean_sd([t['step'][i] / t['backbone'] for t in times])[0]:.3f} of a backbone forward pass in time "
            f"against {results[i].rule_macs[0] / backbone_macs:.3f} in MACs; the forward CAM rules take "
            f"{_range([mean_sd([t['step'][j] / t['backbone'] for t in times])[0] for j in cam])} "
            f"in time against "
            f"{_range([results[j].rule_macs[0] / backbone_macs for j in cam])} in MACs."
        )
    return " ".join(sentences)


def _interval(interval, digits: int = 3) -> str:
    e, lo, hi = interval
    return f"{e:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def _join(names: Sequence[str]) -> str:
    names = [f"{n}" for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _range(values: Sequence[float]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo:.3f}" if abs(hi - lo) < 5e-4 else f"{lo:.3f} to {hi:.3f}"


# --------------------------------------------------------------------------- plot
def plot(path: Path, panels: list[dict], rules: Sequence[ExitRule]) -> None:
    """Accuracy against MACs / backbone for every rule (seed 0's curve), one panel per dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # one colour per rule (grey kept for the oracle rule); the softmax rules often coincide
    # (with two classes max softmax and entropy rank samples alike), so their widths differ
    palette = [
        "#1f77b4",
        "#ff7f0e",
        "#2ca02c",
        "#d62728",
        "#9467bd",
        "#8c564b",
        "#e377c2",
        "#bcbd22",
        "#17becf",
        "#7f7f7f",
        "#000080",
    ]
    styles = {"softmax": "-", "saliency": "--", "oracle": ":"}
    fig, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 5.6), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        report = panel["report"]
        softmax_seen = 0
        for i, (rule, result) in enumerate(zip(rules, report.rules)):
            costs, acc = result.curves[0]
            order = torch.argsort(costs, stable=True)
            width = 1.3
            if kind(rule) == "softmax":
                width, softmax_seen = 3.0 - 0.9 * softmax_seen, softmax_seen + 1
            color = "0.45" if kind(rule) == "oracle" else palette[i % len(palette)]
            ax.plot(
                costs[order].numpy(),
                acc[order].numpy(),
                styles[kind(rule)],
                marker=".",
                markersize=4,
                color=color,
                label=result.name,
                lw=width,
            )
        ax.plot(
            [report.oracle_relative_macs[0]],
            [report.oracle_accuracy[0]],
            "k*",
            markersize=13,
            label="oracle: earliest correct exit (knows the labels)",
        )
        ax.plot([1.0], [report.final_accuracy[0]], "ks", markersize=8, label="full network (backbone, no branches)")
        ax.axvline(1.0, color="0.8", lw=0.8, zorder=0)
        ax.set_title(panel["title"])
        ax.set_xlabel("mean MACs per test image / backbone MACs")
        ax.set_ylabel("test accuracy")
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle(
        "Accuracy vs compute as the validation target moves (seed 0; thresholds on validation, points on test)"
    )
    fig.tight_layout(rect=(0, 0.17, 1, 0.96))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------- main
def run_dataset(label, models, val, test, rules, threads, repeats, timing_images) -> dict:
    torch.set_num_threads(threads)
    report = evaluate_exit_rules(models, {"val": val, "test": test}, rules)
    intervals = report.intervals(metrics=("oracle_share", "area", "auroc"))
    backbone_macs = float(sum(count_macs(models[0].without_branches(), tuple(test[0].shape[1:])).values()))
    torch.set_num_threads(1)
    timed = test[0][:timing_images]
    agree = [agreement(m, report, s, rules, timed) for s, m in enumerate(models)]
    times = [measure_times(m, report, s, rules, timed, repeats) for s, m in enumerate(models)]
    torch.set_num_threads(threads)
    return dict(
        label=label,
        report=report,
        intervals=intervals,
        timing_images=len(timed),
        backbone_macs=backbone_macs,
        times=times,
        agree=agree,
        accuracies=[exit_accuracies(m, *test) for m in models],
        val_accuracies=[exit_accuracies(m, *val) for m in models],
    )


def dataset_section(d: dict, rules, title: str, model_lines: list[str], seeds, train_seconds=None) -> list[str]:
    report, times = d["report"], d["times"]
    n_exits = len(d["accuracies"][0])
    lines = (
        [f"## {title}", ""]
        + model_lines
        + [
            f"- Backbone (no branches): {d['backbone_macs'] / 1e6:.3f} M MACs per image, "
            f"{pm([t['backbone'] for t in times], 1, 1e6)} µs per image measured (batch 64, 1 thread)",
            f"- Operating point: validation target = the final exit's validation accuracy, "
            f"{', '.join(f'{t:.3f}' for t in report.targets)} (seeds {', '.join(map(str, seeds))})",
            "",
            "Accuracy of every exit alone (all images leave there):",
            "",
            "| seed | "
            + " | ".join(f"val exit {k + 1}" for k in range(n_exits))
            + " | "
            + " | ".join(f"test exit {k + 1}" for k in range(n_exits))
            + (" | training s |" if train_seconds else " |"),
            "|---:|" + "---:|" * (2 * n_exits) + ("---:|" if train_seconds else ""),
        ]
    )
    for s, seed in enumerate(seeds):
        lines.append(
            f"| {seed} | "
            + " | ".join(f"{a:.3f}" for a in d["val_accuracies"][s])
            + " | "
            + " | ".join(f"{a:.3f}" for a in d["accuracies"][s])
            + (f" | {train_seconds[s]:.1f} |" if train_seconds else " |")
        )
    minimum = min(v for a in d["agree"] for v in a.values())
    lines += [
        "",
        "Exit rules (oracle share, area and AUROC: the estimate pooled over the seeds [95 % hierarchical bootstrap "
        "interval] (± sd over the seeds); the other columns mean ± sd over the seeds; the last four columns are "
        f"measured wall-clock, over the first {d['timing_images']} test images):",
        "",
        extended_table(report, rules, d["backbone_macs"], times, d["intervals"]),
        "",
        f"The timed `predict_with_exits` (batch norm folded, batch 64) left at the simulated exit for "
        f"{100 * minimum:.1f} % of the test images or more (the lowest over rules and seeds).",
        "",
        "**Measured conclusion.** " + conclusion(d["label"], report, rules, times, d["backbone_macs"], d["intervals"]),
        "",
    ]
    return lines


DEFINITIONS = """## Definitions

- **Splits.** Thresholds and temperatures are chosen on the validation split only; every number in the tables is
  measured on the test split. Test labels are used for measuring, never for choosing.
- **Operating point.** For each trained network, the validation target is the final exit's validation accuracy. At each
  side exit in turn, among the validation samples still there, the loosest threshold whose leaving samples reach the
  target is kept (when none does, a threshold that lets nobody leave there). *test acc* and *MACs / backbone* are
  measured on test with these thresholds.
- **MACs / backbone.** Mean multiply-accumulates per test image - every block run, every exit head evaluated (those a
  sample passes included), and for a saliency rule the map and its score at every side exit passed - divided by the
  MACs of the network without branches (the blocks and the final head). The oracle coherence rule pays the whole
  network, every map and every score for every image, so it is above 1.
- **Oracle share.** The share of the oracle's saving captured: (1 - MACs / backbone) / (1 - oracle's MACs / backbone),
  where the oracle sends every image to its earliest correct exit and an image no exit gets right to the first exit (it
  knows the labels): no assignment of images to exits is more accurate, and none as accurate costs less. Negative:
  costlier than the network without branches; above 1: cheaper than the oracle, which only a less accurate rule can be.
- **Area.** The accuracy-MACs curve is traced on test with thresholds chosen on validation for the targets
  {sweep}, plus the point where nobody leaves early. *Area* is the mean, over compute budgets c uniform in
  [cost of the first exit, 1] (relative to the backbone), of the best test accuracy of a curve point costing at
  most c: a whole curve in one number in [0, 1]. **A budget that no point of the curve fits in counts as accuracy 0**
  (a rule whose maps make its cheapest point cost more than the first exit loses area there). Points costing more
  than the backbone add
  nothing, so the oracle coherence rule has no area (n/a).
- **AUROC exit k.** At side exit k, over all test images, the probability that an image the exit classifies rightly
  gets a surer score than one it classifies wrongly (ties count one half): how well the score ranks right answers
  above wrong ones, whatever the threshold. 0.5 is chance; below 0.5 the score points the wrong way. The combined
  rule scores "never" where its gate is closed, so its AUROC mixes the gate and the map. `-`: for at least one seed
  the rule gives no finite score there (a coherence rule at the first side exit has no previous map; the combined
  rule when its gate lets no test image through) or every test image is right (or wrong) there.
- **Intervals.** *oracle share*, *area* and every *AUROC* read "estimate [low, high] (± sd)": the number measured on
  all (seed, test image) pairs pooled - the share from the pooled mean costs, the area from the curve whose points
  are the pooled means, the AUROC from the pooled scores - with its 95 % percentile interval from a hierarchical
  bootstrap (2000 resamples: the seeds drawn with replacement, then the test images of each drawn seed;
  `xaiexit.stats.hierarchical_bootstrap_ci`, computed for all statistics at once by `xaiexit.exits.intervals`), so it
  holds both the spread between training runs and the test-sampling error; then ± the sample standard deviation of
  the per-seed values. With one seed (quick mode) only the images are resampled.
- **map + score MACs.** MACs of the maps and scores at every side exit for an image passing them all (the oracle rule:
  and the final exit's map); for max softmax, entropy and temperature scaling it is declared 0.
- **map + score µs / image.** Wall-clock, per test image, of the rule's maps and scores at every side exit (the
  oracle rule: and the final exit's map) computed from the blocks' outputs (computed once beforehand), minus the
  wall-clock of the side heads' logits alone, which every rule needs: passes over the test images in batches of 64,
  the two timed one after the other in every repeat, the median over the repeats of their difference kept. A value
  near 0 can come out slightly negative: it is the difference of two noisy times.
- **map + score time / backbone time.** That time divided by the per-image wall-clock of the network without
  branches, timed in the same loop (median over the repeats); to be read next to *map + score MACs / backbone*, the
  same ratio in MACs.
- **Inference time / backbone.** Wall-clock of `predict_with_exits` at the operating point, batch 64, over the test
  images (median over the repeats), divided by that of the network without branches in the same loop: below 1 is a
  real saving. The measured counterpart of *MACs / backbone*.
- **Timing set-up.** One process, 1 torch thread, every timed run alternating with the others pass by pass; the
  networks are copies with batch norm folded into the convolutions, in-place ReLUs and channels-last memory
  (`for_cpu_inference`), so that the clock and the MAC count describe the same arithmetic. Times are measured on a
  machine shared with other work (see the load averages): read them as ratios measured side by side.
- **Rows.** *final exit only*: the network's last exit for every image; *oracle (knows the labels)*: the earliest
  correct exit (the first exit for an image no exit gets right). Rules: max softmax (leave when the top probability is
  at least the threshold), entropy (the softmax entropy at most the threshold), the same max softmax after temperature
  scaling fitted on validation per exit (calibrated), the spatial entropy or moment of inertia of the exit's CAM or
  Grad-CAM or of the input gradient (max over channels of |d logit / d pixel|, a backward pass to the image at every
  side exit) (at most the threshold), cosine or SSIM between the exit's map and the previous exit's map (at least the
  threshold), the same against the final exit's map (oracle), and max softmax >= {both} AND entropy of the CAM (the
  gate {both} set by hand, not tuned on these data). In the conclusions, *saliency rules* are those that read a map
  and can run at inference (the combined rule included, the oracle rule apart).
- **Seeds.** Three networks per dataset, the same architecture and data, training seeds 0, 1 and 2; mean ± sample
  standard deviation over them. The split of the data is the same for all.
"""


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="1 seed, 64 test images, digits trained 1 epoch, 1 repeat (smoke test)"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads for training and evaluation (timings always use 1)"
    )
    parser.add_argument("--repeats", type=int, default=7, help="timed passes per run")
    parser.add_argument("--timing-images", type=int, default=1024, help="test images the timings run over")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument(
        "--plot",
        type=Path,
        default=None,
        help="where to save the plot (default: benchmarks/results/exit_rules.png; none in --quick)",
    )
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    command = "python benchmarks/exit_rules.py" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    started = time.perf_counter()
    machine = machine_description(args.threads)  # date and load at the start
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    results = ROOT / "benchmarks" / "results"
    output = args.output or results / ("exit_rules_quick.md" if args.quick else "exit_rules.md")
    plot_path = args.plot or (None if args.quick else results / "exit_rules.png")
    seeds = SEEDS[:1] if args.quick else SEEDS
    repeats = 1 if args.quick else args.repeats
    n_test = 64 if args.quick else None
    epochs = 1 if args.quick else DIGITS_TRAINING["epochs"]
    rules = make_rules()

    try:
        # synthetic pets: the shipped networks
        pets_val = SyntheticPets("val", n=500 if args.quick else N_VAL, size=64, seed=0)
        pets_test = SyntheticPets("test", n=64 if args.quick else N_TEST, size=64, seed=0)
        pets_models = [zoo.load(name).eval() for name in PETS_MODELS[: len(seeds)]]
        pets = run_dataset(
            "synthetic pets",
            pets_models,
            (pets_val.images, pets_val.labels),
            (pets_test.images[:n_test], pets_test.labels[:n_test]),
            rules,
            args.threads,
            repeats,
            args.timing_images,
        )

        # digits: trained here
        train, val, test = (Digits(split, size=32, seed=0) for split in ("train", "val", "test"))
        digit_models, train_seconds = train_digits(seeds, epochs, train)
        digits = run_dataset(
            "digits",
            digit_models,
            (val.images, val.labels),
            (test.images[:n_test], test.labels[:n_test]),
            rules,
            args.threads,
            DIGITS_REPEAT_FACTOR * repeats,
            args.timing_images,
        )
    finally:
        torch.set_num_threads(previous_threads)

    if plot_path is not None:
        plot(
            plot_path,
            [
                dict(report=pets["report"], title="synthetic pets (pets_early_exit, seed 0)"),
                dict(report=digits["report"], title="digits (EarlyExitCNN 16-32-64, seed 0)"),
            ],
            rules,
        )

    elapsed = time.perf_counter() - started
    load_at_end = (
        "- Load average at the end (1/5/15 min): " + " / ".join(f"{v:.2f}" for v in os.getloadavg())
        if hasattr(os, "getloadavg")
        else "- Load average at the end: unknown"
    )
    lines = ["# Exit rules compared: softmax confidence vs saliency maps, on synthetic pets and digits", ""]
    lines += machine
    lines += [
        "- Every timing and the digits' training on 1 torch thread; the evaluation on the threads above",
        f"- Command: `{command}`; total wall clock {elapsed:.0f} s"
        + (" (quick mode: a smoke test, not a result)" if args.quick else ""),
        f"- Seeds per dataset: {len(seeds)}; timing: median of {repeats} (pets) and {DIGITS_REPEAT_FACTOR * repeats} "
        f"(digits) passes over the test images, batch {BATCH}",
        load_at_end,
        f"- Plot: `{plot_path.name}` (accuracy vs MACs / backbone, seed 0)" if plot_path else "- Plot: not drawn",
        "",
        DEFINITIONS.format(
            sweep=f"{DEFAULT_SWEEP[0]:.3f}, {DEFAULT_SWEEP[1]:.3f}, ..., {DEFAULT_SWEEP[-1]:.3f}",
            both=f"{BOTH_FIRST_THRESHOLD:g}",
        ).rstrip(),
        "",
    ]
    arch = pets_models[0]
    lines += dataset_section(
        pets,
        rules,
        "Synthetic pets",
        [
            f"- Networks: {', '.join(f'`{n}`' for n in PETS_MODELS[: len(seeds)])} (shipped; EarlyExitCNN "
            f"{'-'.join(map(str, arch.widths))}, side exits after blocks {list(arch.exit_blocks[:-1])}); "
            f"SyntheticPets 64x64, {len(pets_val)} validation and {len(pets_test.images[:n_test])} test images",
        ],
        seeds,
    )
    lines += dataset_section(
        digits,
        rules,
        "Digits",
        [
            f"- Networks: `EarlyExitCNN({', '.join(f'{k}={v}' for k, v in DIGITS_MODEL.items())})`, trained here on "
            f"Digits('train') ({len(train)} images, 32x32) with `early_exit_loss` (all exits, equal weights), "
            f"Adam lr {DIGITS_TRAINING['lr']}, weight decay {DIGITS_TRAINING['weight_decay']}, batch "
            f"{DIGITS_TRAINING['batch_size']}, {epochs} epoch(s), cosine schedule, 1 torch thread; "
            f"{len(val)} validation and {len(test.images[:n_test])} test images",
        ],
        seeds,
        train_seconds,
    )
    lines += ["## Both datasets", "", summary(pets, digits, rules), ""]
    text = "\n".join(lines)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    print(text)
    return text


def summary(pets: dict, digits: dict, rules: Sequence[ExitRule]) -> str:
    """One paragraph over both datasets: does any saliency rule beat max softmax on both?"""
    ms = next(i for i, r in enumerate(rules) if isinstance(r, MaxSoftmax))
    saliency = [i for i, r in enumerate(rules) if kind(r) == "saliency"]

    def gap(d, i, name):
        if name == "area":
            return mean_sd(d["report"].rules[i].area)[0] - mean_sd(d["report"].rules[ms].area)[0]
        mine, theirs = d["report"].rules[i].auroc, d["report"].rules[ms].auroc
        gaps = [mean_sd([s[k] for s in mine])[0] - mean_sd([s[k] for s in theirs])[0] for k in range(len(mine[0]))]
        gaps = [g for g in gaps if not math.isnan(g)]
        return min(gaps) if gaps else math.nan

    both_area = [rules[i].name for i in saliency if gap(pets, i, "area") > 1e-12 and gap(digits, i, "area") > 1e-12]
    both_auroc = [rules[i].name for i in saliency if gap(pets, i, "auroc") > 1e-12 and gap(digits, i, "auroc") > 1e-12]
    best = {d["label"]: max(saliency, key=lambda i: mean_sd(d["report"].rules[i].area)[0]) for d in (pets, digits)}
    text = (
        ("Saliency rules with a higher mean area than max softmax on both datasets: " + _join(both_area) + ". ")
        if both_area
        else "No saliency rule has a higher mean area than max softmax on both datasets. "
    )
    text += (
        (
            "Saliency rules whose AUROC beats max softmax's at every side exit where they score, on both datasets: "
            + _join(both_auroc)
            + ". "
        )
        if both_auroc
        else "No saliency rule has a higher AUROC than max softmax at every side exit where it scores, "
        "on both datasets. "
    )
    text += (
        "Area gap of the best saliency rule to max softmax: "
        + "; ".join(
            f"{label} {gap(d, best[label], 'area'):+.3f} ({rules[best[label]].name})"
            for label, d in (("synthetic pets", pets), ("digits", digits))
        )
        + "."
    )
    return text


if __name__ == "__main__":
    main()
