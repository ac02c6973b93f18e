"""The benchmark script runs end to end in quick mode (small sizes, n = steps = 4)."""

import importlib.util
from pathlib import Path

import captum  # noqa: F401  (the benchmark needs both; a missing one must fail, not skip)
import torch
import torchvision  # noqa: F401

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "saliency_vs_captum.py"


def test_benchmark_quick_mode(tmp_path):
    spec = importlib.util.spec_from_file_location("saliency_vs_captum", SCRIPT)
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    output = tmp_path / "table.md"
    threads = torch.get_num_threads()
    try:
        text = benchmark.main(["--quick", "--repeats", "1", "--threads", "1", "--output", str(output)])
    finally:
        torch.set_num_threads(threads)
    assert output.read_text().strip() == text.strip()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line and "method" not in line]
    assert len(rows) == 14  # 8 SmallCNN rows, 6 ResNet-18 rows
    for row in rows:
        diff = float(row.split("|")[8].strip().rstrip("*"))
        assert diff < 1e-4, row
