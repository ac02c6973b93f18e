"""Early exit, measured: accuracy, MACs and real wall-clock speedup on the synthetic pets.

Usage::

    python benchmarks/early_exit.py              # full run, a few minutes on 1 CPU thread
    python benchmarks/early_exit.py --quick      # 100 test images, 1 repeat (smoke test)

It prints Markdown tables and writes them to ``benchmarks/results/early_exit.md``
(``--quick``: ``early_exit_quick.md`` unless ``--output`` says otherwise).

What it measures
----------------
The shipped ``pets_early_exit`` model (``xaiexit.zoo``). For each exit rule and each
accuracy target, the thresholds are chosen on the **validation** split
(``choose_thresholds``); every number in the table is then measured on the **test** split:

- accuracy, and its change against the model's own final exit (the full network);
- the share of test images leaving at each exit;
- mean MACs per image, counting every block run **and every exit head evaluated**, the
  heads that let a sample go on included (``exit_costs``); the rule itself (a softmax
  over K = 2 logits) is declared free;
- the MAC-predicted speedup (backbone MACs / mean MACs), the measured wall-clock
  speedup at batch 1 and batch 64 (the backbone without any branch, against
  ``predict_with_exits``, which really drops the samples that leave), and their ratio;
- the share of the oracle's saving captured: (backbone - mean) / (backbone - oracle),
  where the oracle sends each image to its earliest correct exit, and an image that no
  exit gets right to the first exit (``oracle_exits``): no exit assignment is more
  accurate, and none as accurate costs less. A rule less accurate than the oracle can
  capture more than 1.

Both timed networks are prepared the same way by ``for_cpu_inference``: batch norm folded
into the convolutions (the MAC count assumes it), ReLUs in place, channels-last memory
format (the fast layout for CPU convolutions and pooling). Times are medians over ``--repeats`` passes over the
test split, the two networks alternating pass by pass. ``predict_with_exits`` is
checked to give exactly the decisions of ``simulate_exits`` before anything is timed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import machine_description  # noqa: E402
from xaiexit import zoo  # noqa: E402
from xaiexit.data import SyntheticPets  # noqa: E402
from xaiexit.exits import (  # noqa: E402
    Entropy,
    Margin,
    MaxSoftmax,
    choose_thresholds,
    exit_costs,
    fit_temperature,
    macs_by_part,
    oracle_exits,
    predict_with_exits,
    simulate_exits,
)
from xaiexit.models import for_cpu_inference  # noqa: E402
from xaiexit.train import predict  # noqa: E402

RULES = (MaxSoftmax(), Entropy(), Margin())
BATCHES = (1, 64)


def timed_pass(run: Callable[[torch.Tensor], object], images: torch.Tensor, batch: int) -> float:
    """Seconds for one pass over ``images`` in batches of ``batch``."""
    started = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(images), batch):
            run(images[i : i + batch])
    return time.perf_counter() - started


def median_times(runs: dict, images: torch.Tensor, batch: int, repeats: int) -> dict:
    """Median seconds per pass for each named run; the runs alternate pass by pass."""
    for run in runs.values():  # warm-up
        timed_pass(run, images[: 2 * batch], batch)
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            times[name].append(timed_pass(run, images, batch))
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 test images, 1 repeat")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes per network and batch size")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    repeats = 1 if args.quick else args.repeats
    output = args.output or ROOT / "benchmarks" / "results" / ("early_exit_quick.md" if args.quick else "early_exit.md")

    model = zoo.load("pets_early_exit")
    val, test = SyntheticPets("val", size=64, seed=0), SyntheticPets("test", size=64, seed=0)
    images, labels = test.images, test.labels
    if args.quick:
        images, labels = images[:100], labels[:100]
    val_logits, test_logits = predict(model, val.images), predict(model, images)
    shape = tuple(images.shape[1:])
    costs = exit_costs(model, shape)
    parts = macs_by_part(model, shape)  # the backbone alone: every block and the final head
    backbone_macs = float(sum(v for k, v in parts.items() if k.startswith("block")) + parts[f"exit{model.num_exits}"])
    oracle = oracle_exits(test_logits, labels)
    oracle_macs = float(costs[oracle.exit_index].mean())
    full_accuracy = float((test_logits[-1].argmax(1) == labels).double().mean())
    val_final = float((val_logits[-1].argmax(1) == val.labels).double().mean())
    temperatures = [fit_temperature(z, val.labels) for z in val_logits]

    fast = for_cpu_inference(model)
    backbone = for_cpu_inference(model.without_branches())
    fast_images = images.contiguous(memory_format=torch.channels_last)

    lines = ["# Early exit on SyntheticPets: accuracy, MACs and measured speedup", ""]
    lines += machine_description(args.threads)
    lines += [
        f"- Model: `pets_early_exit` (side exits after blocks {list(model.exit_blocks[:-1])}, the final exit after "
        f"block {model.exit_blocks[-1]}); test images: {len(images)}; "
        f"timing: median of {repeats} pass(es) over them, networks alternating",
        f"- Backbone alone (no branch): {backbone_macs / 1e6:.2f} M MACs per image, test accuracy {full_accuracy:.3f}; "
        f"leaving at each exit costs {', '.join(f'{c / 1e6:.2f}' for c in costs)} M MACs "
        "(every head on the way included)",
        "- Oracle (earliest correct exit; the first exit when none is correct): "
        f"accuracy {float(oracle.correct.double().mean()):.3f}, "
        f"{oracle_macs / 1e6:.2f} M MACs per image; overthinking (an earlier exit right, the final wrong): "
        f"{oracle.overthinking:.3f}",
        f"- Temperatures fitted on validation (for the `+ T` rows): {', '.join(f'{t:.2f}' for t in temperatures)}",
        "",
    ]
    targets = {"val acc of final exit": val_final, "0.99": 0.99}
    rows = []
    for rule in RULES:
        for calibrated in (False, True):
            temps = temperatures if calibrated else None
            for target_name, target in targets.items():
                thresholds = choose_thresholds(val_logits, val.labels, rule, target, temperatures=temps)
                predicted, exit_index = simulate_exits(test_logits, rule, thresholds, temperatures=temps)
                real, real_exit = predict_with_exits(model, images, rule, thresholds, temperatures=temps)
                if not (torch.equal(real, predicted) and torch.equal(real_exit, exit_index)):
                    raise RuntimeError(f"{rule.name}: batched exit disagrees with the simulation")
                accuracy = float((predicted == labels).double().mean())
                mean_macs = float(costs[exit_index].mean())
                shares = torch.bincount(exit_index, minlength=model.num_exits).double() / len(exit_index)
                rows.append(
                    dict(
                        rule=rule.name + (" + T" if calibrated else ""),
                        target=target_name,
                        thresholds=thresholds,
                        accuracy=accuracy,
                        shares=shares,
                        macs=mean_macs,
                        rule_obj=rule,
                        temps=temps,
                    )
                )

    for batch in BATCHES:
        lines += [
            f"## Batch {batch}",
            "",
            "| rule | target (val) | thresholds | test acc | vs full | exit shares | M MACs | "
            "MAC speedup | measured speedup | measured / MAC | oracle share |",
            "|---|---|---|---:|---:|---|---:|---:|---:|---:|---:|",
        ]
        for row in rows:
            rule, temps, thresholds = row["rule_obj"], row["temps"], row["thresholds"]
            runs = {
                "backbone": backbone,
                "early exit": lambda x, r=rule, t=thresholds, T=temps: predict_with_exits(
                    fast, x, r, t, temperatures=T
                ),
            }
            seconds = median_times(runs, fast_images, batch, repeats)
            measured = seconds["backbone"] / seconds["early exit"]
            predicted = backbone_macs / row["macs"]
            captured = (backbone_macs - row["macs"]) / (backbone_macs - oracle_macs)
            shown = ", ".join("none" if abs(t) == float("inf") else f"{t:.3f}" for t in thresholds)
            lines.append(
                f"| {row['rule']} | {row['target']} | {shown} | {row['accuracy']:.3f} | "
                f"{100 * (row['accuracy'] - full_accuracy):+.1f} pt | "
                f"{' / '.join(f'{s:.2f}' for s in row['shares'])} | {row['macs'] / 1e6:.2f} | {predicted:.2f}x | "
                f"{measured:.2f}x | {measured / predicted:.2f} | {captured:.2f} |"
            )
        lines.append("")
    lines += [
        "Thresholds: `none` means no sample can leave at that exit on validation at the target. "
        "Rules: max softmax and margin leave when the score is at least the threshold, entropy when it is "
        "at most the threshold; `+ T` divides each exit's logits by its temperature first.",
    ]
    text = "\n".join(lines) + "\n"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    print(text)
    return text


if __name__ == "__main__":
    main()
