"""The early-exit benchmark runs end to end in quick mode, and its table is consistent."""

import importlib.util
from pathlib import Path

import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "early_exit.py"


def test_benchmark_quick_mode(tmp_path):
    spec = importlib.util.spec_from_file_location("early_exit_benchmark", SCRIPT)
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    output = tmp_path / "table.md"
    threads = torch.get_num_threads()
    try:
        text = benchmark.main(["--quick", "--output", str(output)])
    finally:
        torch.set_num_threads(threads)
    assert output.read_text() == text
    rows = [
        line.split("|")[1:-1]
        for line in text.splitlines()
        if line.startswith("| ") and "---" not in line and "rule" not in line
    ]
    assert len(rows) == 2 * 12  # 2 batch sizes x 3 rules x (raw, calibrated) x 2 targets
    for cells in rows:
        shares = [float(s) for s in cells[5].split("/")]
        assert abs(sum(shares) - 1) < 0.011  # every test image leaves at exactly one exit
        predicted, measured = float(cells[7].strip().rstrip("x")), float(cells[8].strip().rstrip("x"))
        assert float(cells[6]) > 0 and predicted > 0 and measured > 0
        assert abs(float(cells[9]) - measured / predicted) < 0.02  # the ratio column is the ratio
