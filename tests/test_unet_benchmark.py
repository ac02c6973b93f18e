"""The U-Net benchmark runs end to end in quick mode, and its tables are consistent."""

import importlib.util
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "unet.py"


@pytest.mark.slow
def test_benchmark_quick_mode(tmp_path):
    spec = importlib.util.spec_from_file_location("unet_benchmark", SCRIPT)
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    output = tmp_path / "table.md"
    threads = torch.get_num_threads()
    try:
        text = benchmark.main(["--quick", "--threads", "1", "--output", str(output)])
    finally:
        torch.set_num_threads(threads)
    assert output.read_text() == text
    rows = [line.split("|")[1:-1] for line in text.splitlines() if line.startswith("| cells_unet |")]
    assert len(rows) == 3  # whole image, default stride, stride = output tile
    whole, aligned, seam = rows
    assert float(aligned[3]) < 1e-4 < float(seam[3])  # the 132-pixel stride leaves seams
    assert all(float(r[4]) > 0 for r in rows)
    ablation = [line for line in text.splitlines() if line.startswith("| weight map") or line.startswith("| class")]
    assert len(ablation) == 2 and "touching pairs separated" in text
