"""U-Net, measured: overlap-tile against whole-image inference, and what the border weights buy.

Usage::

    python benchmarks/unet.py              # full run: 2048 x 2048 image, several minutes
    python benchmarks/unet.py --quick      # 256 x 256 image, the small model only (smoke test)

It writes Markdown tables to ``benchmarks/results/unet.md`` (``--quick``:
``unet_quick.md`` unless ``--output`` says otherwise).

What it measures
----------------
**Overlap-tile against whole image.** A grey image of ``--size`` x ``--size`` pixels (a
mosaic of TouchingCells test images, flipped for variety) is segmented twice by the same
valid U-Net: in one forward pass over the whole mirror-padded image
(``whole_image_predict``), and tile by tile (``overlap_tile_predict``). Per model and
stride: the largest absolute difference between the two score maps, the wall-clock time
(median of ``--repeats`` runs for ``cells_unet``; one run of the paper model, which takes
minutes) and the peak memory. Memory is the growth of the resident
set of a fresh child process that only loads the model and the image and runs that one
prediction (its peak resident size, ``VmHWM``, minus the resident size just before the
prediction), so each number is measured alone. Models: the shipped ``cells_unet`` (depth 3, 8 base channels; 220-pixel
tiles, 132-pixel outputs) and, in the full run, the paper's configuration (depth 4, 64
base channels, 31 M parameters, He-initialised, untrained: only shapes and arithmetic
matter here; 572-pixel tiles, 388-pixel outputs). Each is tiled with the default stride (a
multiple of ``2 ** depth``) and with the full output tile as stride (the seam case: 132
and 388 are not multiples of 8 and 16).

**Border weights.** The shipped ``cells_unet`` models (U-Net's weight map, ``w0 = 10``,
``sigma = 5``) against ``cells_unet_no_border`` (class balance only, ``w0 = 0``), three
training seeds each, the same recipe otherwise (``xaiexit/zoo/recipes.py``; rebuild any
with ``python -m xaiexit.zoo train NAME``). On the TouchingCells test split: foreground
IoU, pixel error, adapted Rand error of the predicted mask's connected components
against the true cells, and the share of touching cell pairs the prediction keeps apart.
The same for the two 20-image models, without and with augmentation.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import machine_description  # noqa: E402
from xaiexit import zoo  # noqa: E402
from xaiexit.data import TouchingCells  # noqa: E402
from xaiexit.models import UNet  # noqa: E402
from xaiexit.segmentation import overlap_tile_predict, whole_image_predict  # noqa: E402
from xaiexit.segmentation.training import cell_metrics, predict_masks  # noqa: E402

#: model name -> (builder, tile)
MODELS = {
    "cells_unet": (lambda: zoo.load("cells_unet"), 220),
    "paper U-Net": (lambda: _paper_unet(), 572),
}


def _paper_unet() -> UNet:
    torch.manual_seed(0)
    return UNet(in_channels=1, num_classes=2, depth=4, base_width=64).eval()


def mosaic(size: int) -> torch.Tensor:
    """A ``(1, size, size)`` image tiled from TouchingCells test images (128 x 128), flipped."""
    cells = TouchingCells("test", size=128).images[:, 0]
    rows = []
    k = 0
    for _ in range(-(-size // 128)):
        row = []
        for _ in range(-(-size // 128)):
            image = cells[k % len(cells)]
            if (k // len(cells)) % 2:  # every other pass over the test images: mirrored
                image = image.flip(1)
            row.append(image)
            k += 1
        rows.append(torch.cat(row, dim=1))
    return torch.cat(rows, dim=0)[None, :size, :size].contiguous()


def _status_mb(field: str) -> float:
    """``VmRSS`` (resident now) or ``VmHWM`` (the resident peak of this process since it
    started its program: unlike ``ru_maxrss``, not inherited from the parent that forked it)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":")) / 1024


def measure_child(model_name: str, mode: str, size: int, stride, threads: int) -> dict:
    """Run one prediction in this (child) process; report its time and memory growth."""
    torch.set_num_threads(threads)
    build, tile = MODELS[model_name]
    model, image = build(), mosaic(size)
    before = _status_mb("VmRSS")
    started = time.perf_counter()
    if mode == "whole":
        whole_image_predict(model, image)
    else:
        overlap_tile_predict(model, image, tile, stride)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_mb": _status_mb("VmHWM") - before}


def run_child(model_name: str, mode: str, size: int, stride, threads: int) -> dict:
    command = [sys.executable, __file__, "--child", json.dumps([model_name, mode, size, stride, threads])]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def tiling_table(size: int, models: list[str], repeats: int, threads: int) -> list[str]:
    image = mosaic(size)
    lines = [
        f"## Overlap-tile against whole image ({size} x {size})",
        "",
        "| model | tile -> output | stride | max abs difference | time (s) | peak memory (MB) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name in models:
        build, tile = MODELS[name]
        model = build()
        out = model.output_size(tile)
        default = out // 2**model.depth * 2**model.depth
        whole = whole_image_predict(model, image)
        repeats = repeats if name == "cells_unet" else 1  # the paper model takes minutes per pass
        runs = {"whole": [run_child(name, "whole", size, None, threads) for _ in range(repeats)]}
        lines.append(
            f"| {name} | whole image | - | 0 | {statistics.median(r['seconds'] for r in runs['whole']):.2f} | "
            f"{statistics.median(r['peak_mb'] for r in runs['whole']):.0f} |"
        )
        for stride in (default, out):
            tiled = overlap_tile_predict(model, image, tile, stride)
            difference = float((tiled - whole).abs().max())
            child = [run_child(name, "tiles", size, stride, threads) for _ in range(repeats)]
            lines.append(
                f"| {name} | {tile} -> {out} | {stride} | {difference:.2e} | "
                f"{statistics.median(r['seconds'] for r in child):.2f} | "
                f"{statistics.median(r['peak_mb'] for r in child):.0f} |"
            )
        del model, whole
    lines += [
        "",
        "The default stride is the largest multiple of 2 ** depth not above the output tile: its "
        "tiles start where the whole image's pooling windows start, so the two predictions agree to "
        "float32 rounding. A stride equal to the output tile breaks that alignment and leaves seams.",
        "",
    ]
    return lines


def ablation_rows(pairs, n_test: int) -> list[str]:
    test = TouchingCells("test")
    images, instances = test.images[:n_test], test.instances[:n_test]
    lines = [
        "| model | seeds | IoU | pixel error | adapted Rand error | touching pairs separated |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, names in pairs:
        rows = [cell_metrics(predict_masks(zoo.load(n), images), instances) for n in names]

        def pm(key):
            values = torch.tensor([r[key] for r in rows], dtype=torch.float64)
            sd = float(values.std()) if len(values) > 1 else 0.0
            return f"{float(values.mean()):.3f} ± {sd:.3f}"

        lines.append(
            f"| {label} | {len(names)} | {pm('iou')} | {pm('pixel_error')} | {pm('rand_error')} | {pm('separated')} |"
        )
    return lines


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="256 x 256, small model, one seed")
    parser.add_argument("--size", type=int, default=None, help="image side (default 2048, quick 256)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure_child(*json.loads(args.child))))
        return ""
    torch.set_num_threads(args.threads)
    size = args.size or (256 if args.quick else 2048)
    repeats = 1 if args.quick else args.repeats
    models = ["cells_unet"] if args.quick else ["cells_unet", "paper U-Net"]
    output = args.output or ROOT / "benchmarks" / "results" / ("unet_quick.md" if args.quick else "unet.md")
    seeds = ("",) if args.quick else ("", "_seed1", "_seed2")

    lines = ["# U-Net: overlap-tile inference and the border-weighted loss", ""]
    lines += machine_description(args.threads)
    lines += [f"- Command: `python benchmarks/unet.py{' --quick' if args.quick else ''}`", ""]
    lines += tiling_table(size, models, repeats, args.threads)
    lines += ["## Border weights (TouchingCells test split)", ""]
    lines += ablation_rows(
        [
            ("weight map, w0 = 10", [f"cells_unet{s}" for s in seeds]),
            ("class balance only, w0 = 0", [f"cells_unet_no_border{s}" for s in seeds]),
        ],
        n_test=5 if args.quick else 20,
    )
    lines += ["", "### Twenty training images, without and with augmentation", ""]
    lines += ablation_rows(
        [("20 images", ["cells_unet_20"]), ("20 images, augmented", ["cells_unet_20_augmented"])],
        n_test=5 if args.quick else 20,
    )
    text = "\n".join(lines) + "\n"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    print(text)
    return text


if __name__ == "__main__":
    main()
