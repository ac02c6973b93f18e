"""Time and peak memory of xaiexit.saliency against Captum, on the same model and batch.

Usage::

    python benchmarks/saliency_vs_captum.py            # full run, ~20 min on 1 CPU thread
    python benchmarks/saliency_vs_captum.py --quick    # small sizes, smoke test (< 1 min)
    python benchmarks/saliency_vs_captum.py --threads 1

It prints a Markdown table and writes it to ``benchmarks/results/saliency_vs_captum.md``
(``--quick`` writes to ``benchmarks/results/saliency_vs_captum_quick.md`` unless
``--output`` says otherwise).

How it measures
---------------
- Time: median of ``--repeats`` runs after a warm-up run and a memory run; the two
  libraries alternate run by run, so a change in machine load hits both alike.
- Peak memory: one run after the warm-up. Before it, freed heap memory is handed back to the
  OS (``malloc_trim``) and the kernel's peak-RSS counter is reset (``echo 5 >
  /proc/self/clear_refs``); the figure is the peak resident memory during the run
  minus the resident memory before it (``VmHWM - VmRSS`` in ``/proc/self/status``).
  No sampling thread, so no overhead. Where ``clear_refs`` is not available (not
  Linux), the column shows "n/a".
- Same result: ``max |xaiexit - Captum| / max |Captum|`` over the whole output.
  SmoothGrad reseeds torch's generator before each call so both libraries use the
  same noise (every test image has value range 1, so the relative noise 0.15 is the
  absolute standard deviation 0.15 Captum takes).

Captum is run with its defaults and, for the methods that expand the batch
(SmoothGrad, Integrated Gradients), also with its own chunking options
(``nt_samples_batch_size``, ``internal_batch_size``) set to about the chunk xaiexit
uses, so the same memory bound applies to both. On ResNet-18, Captum's default holds
the activations of all 400 expanded images at once (about 30 MB each): the full run
needs about 16 GB of free memory.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import machine_description as describe_machine  # noqa: E402
from xaiexit.models import SmallCNN  # noqa: E402
from xaiexit.saliency import (  # noqa: E402
    grad_cam,
    gradient_x_input,
    integrated_gradients,
    occlusion,
    smoothgrad,
    vanilla_gradient,
)
from xaiexit.saliency._common import default_batch_size  # noqa: E402
from xaiexit.saliency.grad_cam import find_layer  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


# --------------------------------------------------------------------------- memory
def _status_mib(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(field)


def measure_peak_mib(fn: Callable[[], torch.Tensor]):
    """Run ``fn`` once; return (output, peak RSS growth in MiB or None)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # reset the peak-RSS counter VmHWM to the current RSS
        before = _status_mib("VmRSS")
    except OSError:
        return fn(), None
    out = fn()
    return out, _status_mib("VmHWM") - before


# --------------------------------------------------------------------------- machine
def machine_description(threads: int) -> list[str]:
    import captum

    return describe_machine(threads, {"captum": captum.__version__})


# --------------------------------------------------------------------------- settings
def make_images(batch: int, size: int) -> torch.Tensor:
    """Images in [0, 1] with value range exactly 1 in every sample."""
    x = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(0))
    x[:, 0, 0, 0], x[:, 0, 0, 1] = 0.0, 1.0
    return x


def settings(quick: bool):
    import torchvision

    torch.manual_seed(0)
    small = SmallCNN(num_classes=10).eval()
    resnet = torchvision.models.resnet18(weights=None).eval()
    if quick:
        return [
            dict(name="SmallCNN", model=small, layer="block3", x=make_images(4, 32), window=16, stride=8, default=True),
            dict(
                name="ResNet-18", model=resnet, layer="layer4", x=make_images(2, 32), window=16, stride=8, default=False
            ),
        ]
    return [
        dict(name="SmallCNN", model=small, layer="block3", x=make_images(64, 64), window=8, stride=4, default=True),
        dict(name="ResNet-18", model=resnet, layer="layer4", x=make_images(8, 224), window=56, stride=28, default=True),
    ]


def seeded(fn: Callable[[], torch.Tensor]) -> Callable[[], torch.Tensor]:
    """Reseed torch's global generator before every call, so the noise repeats."""

    def call():
        torch.manual_seed(1234)
        return fn()

    return call


def rows_for(setting, n: int, steps: int):
    """(method, Captum variant, xaiexit call, Captum call) for one model and batch."""
    from captum.attr import (
        InputXGradient,
        IntegratedGradients,
        LayerAttribution,
        LayerGradCam,
        NoiseTunnel,
        Occlusion,
        Saliency,
    )

    model, x, layer = setting["model"], setting["x"], setting["layer"]
    B, C, H, W = x.shape
    t = torch.arange(B) % 10
    chunk = default_batch_size(x)  # images per pass in xaiexit
    nt_chunk = max(1, chunk // B)  # Captum counts noisy copies *per input*
    ig_chunk = max(B, chunk // B * B)  # Captum counts images; at least one step per pass
    module = find_layer(model, layer)
    window, stride = setting["window"], setting["stride"]

    def captum_cam():
        cam = LayerGradCam(model, module).attribute(x, target=t, relu_attributions=True)
        return LayerAttribution.interpolate(cam, (H, W), "bilinear")[:, 0]

    ours_sg = seeded(lambda: smoothgrad(model, x, t, n=n, noise=0.15))
    ours_ig = lambda: integrated_gradients(model, x, t, steps=steps)
    rows = [
        ("gradient", "default", lambda: vanilla_gradient(model, x, t), lambda: Saliency(model).attribute(x, target=t)),
        (
            "gradient x input",
            "default",
            lambda: gradient_x_input(model, x, t),
            lambda: InputXGradient(model).attribute(x, target=t),
        ),
    ]
    if setting["default"]:
        rows.append(
            (
                f"SmoothGrad n={n}",
                "default (all copies at once)",
                ours_sg,
                seeded(
                    lambda: NoiseTunnel(Saliency(model)).attribute(
                        x, nt_type="smoothgrad", nt_samples=n, stdevs=0.15, target=t
                    )
                ),
            )
        )

    def captum_sg_chunked(images, targets):
        return NoiseTunnel(Saliency(model)).attribute(
            images, nt_type="smoothgrad", nt_samples=n, stdevs=0.15, target=targets, nt_samples_batch_size=nt_chunk
        )

    # Chunked, Captum draws the noise round by round (all inputs, then again), we draw
    # it image by image, so the noise differs. With one image the order is the same:
    # the "same result" check of this row uses the first image alone (marked *), with
    # the same number of images per pass on both sides (a different batch size can
    # round a max-pool near-tie the other way and move a gradient to another pixel).
    rows.append(
        (
            f"SmoothGrad n={n}",
            f"nt_samples_batch_size={nt_chunk}",
            ours_sg,
            seeded(lambda: captum_sg_chunked(x, t)),
            (
                seeded(lambda: smoothgrad(model, x[:1], t[:1], n=n, noise=0.15, batch_size=nt_chunk)),
                seeded(lambda: captum_sg_chunked(x[:1], t[:1])),
            ),
        )
    )
    if setting["default"]:
        rows.append(
            (
                f"IG {steps} steps",
                "default (all steps at once)",
                ours_ig,
                lambda: IntegratedGradients(model).attribute(x, target=t, n_steps=steps),
            )
        )
    rows.append(
        (
            f"IG {steps} steps",
            f"internal_batch_size={ig_chunk}",
            ours_ig,
            lambda: IntegratedGradients(model).attribute(x, target=t, n_steps=steps, internal_batch_size=ig_chunk),
        )
    )
    rows += [
        ("Grad-CAM", "default", lambda: grad_cam(model, x, t, layer=layer), captum_cam),
        (
            f"occlusion {window}x{window}/{stride}",
            "default",
            lambda: occlusion(model, x, t, window=window, stride=stride),
            lambda: Occlusion(model).attribute(
                x, sliding_window_shapes=(C, window, window), strides=(C, stride, stride), target=t, baselines=0.0
            ),
        ),
    ]
    return rows


# --------------------------------------------------------------------------- running
def relative_difference(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    return ((ours - theirs).abs().max() / theirs.abs().max().clamp_min(1e-30)).item()


def compare(ours: Callable, theirs: Callable, repeats: int):
    ours(), theirs()  # warm-up: one-time set-up costs stay out of both measurements
    ours_out, ours_mem = measure_peak_mib(ours)
    theirs_out, theirs_mem = measure_peak_mib(theirs)
    diff = relative_difference(ours_out, theirs_out)
    del ours_out, theirs_out
    ours_times, theirs_times = [], []
    for _ in range(repeats):
        for fn, times in ((ours, ours_times), (theirs, theirs_times)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return statistics.median(ours_times), statistics.median(theirs_times), ours_mem, theirs_mem, diff


def _mib(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def main(argv: list[str] | None = None) -> str:
    # Captum sets requires_grad on the input itself and warns about it on every call
    warnings.filterwarnings("ignore", message="Input Tensor 0 did not already require gradients")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and n = steps = 4, for smoke tests")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per method (default 3, quick 1)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's default)")
    parser.add_argument("--output", type=Path, default=None, help="where to write the Markdown table")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    repeats = args.repeats or (1 if args.quick else 3)
    n = steps = 4 if args.quick else 50
    output = args.output or RESULTS / ("saliency_vs_captum_quick.md" if args.quick else "saliency_vs_captum.md")

    lines = ["# xaiexit.saliency vs Captum", ""] + machine_description(torch.get_num_threads())
    lines += [
        f"- Timing: median of {repeats} run(s) after a warm-up; memory: peak RSS growth during one run "
        "(see the script's docstring); ratio = xaiexit / Captum (below 1: xaiexit is faster).",
        "- Diff: max |xaiexit - Captum| / max |Captum| on the same batch.",
        "",
    ]
    print("\n".join(lines), flush=True)
    # Everything that exists now (modules, the caller's objects) is not the benchmark's garbage:
    # frozen, it is skipped by the gc.collect() before each memory measurement (half of --quick).
    gc.freeze()
    try:
        for setting in settings(args.quick):
            B, C, H, W = setting["x"].shape
            table = [
                f"## {setting['name']}, input {C}x{H}x{W}, batch {B}, "
                f"xaiexit chunk {default_batch_size(setting['x'])} images",
                "",
                "| method | Captum variant | xaiexit s | Captum s | time ratio | xaiexit MiB | Captum MiB | diff |",
                "|---|---|---:|---:|---:|---:|---:|---:|",
            ]
            print("\n" + "\n".join(table), flush=True)
            for method, variant, ours, theirs, *check in rows_for(setting, n, steps):
                t_ours, t_theirs, m_ours, m_theirs, diff = compare(ours, theirs, repeats)
                diff_text = f"{diff:.1e}"
                if check:  # the timed outputs use different noise; check on the first image
                    diff_text = f"{relative_difference(check[0][0](), check[0][1]()):.1e} *"
                row = (
                    f"| {method} | {variant} | {t_ours:.3f} | {t_theirs:.3f} | {t_ours / t_theirs:.2f} | "
                    f"{_mib(m_ours)} | {_mib(m_theirs)} | {diff_text} |"
                )
                print(row, flush=True)
                table.append(row)
            lines += table + [""]
    finally:
        gc.unfreeze()
    lines += [
        "\\* Captum draws chunked SmoothGrad noise in another order, so for that row the "
        "results are compared on the first image alone, where the noise is the same "
        "(and with the same images per pass on both sides).",
        "",
    ]
    text = "\n".join(lines)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text + "\n")
    print(f"\nwritten to {output}")
    return text


if __name__ == "__main__":
    main()
