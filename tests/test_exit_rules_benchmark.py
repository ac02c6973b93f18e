"""The exit-rules benchmark runs end to end in quick mode, and its tables are complete.

Only the structure and the numbers' consistency are checked; timings are measured by the
benchmark, never asserted.
"""

import importlib.util
import re
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "exit_rules.py"
PAIR = re.compile(r"^(-?\d+\.\d+) ± (\d+\.\d+)$")
#: "estimate [low, high] (± sd)": a pooled estimate, its bootstrap interval and the spread over the seeds
INTERVAL = re.compile(r"^(-?\d+\.\d+) \[(-?\d+\.\d+), (-?\d+\.\d+)\] \(± (\d+\.\d+)\)$")

pytest.importorskip("sklearn", reason="the benchmark's second dataset ships with scikit-learn")
pytest.importorskip("matplotlib", reason="the benchmark draws a plot")

#: under pytest-xdist (``make test``), this module's tests run on one worker, so that the
#: benchmark (its module fixture) runs once, not once per worker
pytestmark = pytest.mark.xdist_group("exit-rules-benchmark")


def _pair(cell: str) -> float:
    match = PAIR.match(cell.strip())
    assert match, f"not a 'mean ± sd' cell: {cell!r}"
    return float(match.group(1))


def _interval(cell: str) -> float:
    """The estimate of an "estimate [low, high] (± sd)" cell, checked to lie in its interval
    up to the rounding of the printed digits (a percentile interval may exclude its estimate
    only for statistics such as the area's best accuracy; the checks here allow that)."""
    match = INTERVAL.match(cell.strip())
    assert match, f"not an 'estimate [low, high] (± sd)' cell: {cell!r}"
    estimate, low, high, sd = (float(g) for g in match.groups())
    assert low <= high and sd >= 0, cell
    return estimate


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("exit_rules_benchmark", SCRIPT)
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    folder = tmp_path_factory.mktemp("exit_rules")
    output, plot = folder / "table.md", folder / "curves.png"
    threads = torch.get_num_threads()
    try:
        text = benchmark.main(["--quick", "--output", str(output), "--plot", str(plot)])
    finally:
        torch.set_num_threads(threads)
    return benchmark, text, output, plot


def _tables(text: str) -> dict:
    """Section title -> the rows of its exit-rule table, as lists of cells."""
    tables = {}
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        title = section.splitlines()[0].strip()
        rows = [line.split("|")[1:-1] for line in section.splitlines() if line.startswith("| ")]
        header = next((r for r in rows if r[0].strip() == "rule"), None)
        if header is not None:
            tables[title] = [[c.strip() for c in header]] + [
                [c.strip() for c in r]
                for r in rows
                if r[0].strip() not in ("rule", "seed") and not r[0].strip().replace(".", "").isdigit()
            ]
    return tables


@pytest.mark.slow
def test_quick_mode_writes_what_it_prints(run):
    _, text, output, plot = run
    assert output.read_text() == text
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_every_rule_has_a_row_on_both_datasets(run):
    benchmark, text, _, _ = run
    tables = _tables(text)
    assert set(tables) == {"Synthetic pets", "Digits"}
    names = [rule.name for rule in benchmark.make_rules()]
    assert len(names) == 12
    for title, rows in tables.items():
        header, body = rows[0], rows[1:]
        assert [r[0] for r in body] == names + ["final exit only", "oracle (knows the labels)"], title
        assert all(len(r) == len(header) for r in body), title
        for column in (
            "test acc",
            "MACs / backbone",
            "oracle share",
            "area",
            "map + score MACs",
            "map + score µs / image",
            "map + score time / backbone time",
        ):
            assert column in header, (title, column)
        assert any(c.startswith("inference time / backbone") for c in header)
        assert any(c.startswith("AUROC exit") for c in header)


@pytest.mark.slow
def test_numbers_parse_and_the_oracle_rule_saves_nothing(run):
    benchmark, text, _, _ = run
    rules = benchmark.make_rules()
    for rows in _tables(text).values():
        header, body = rows[0], rows[1 : 1 + len(rules)]
        col = {name: i for i, name in enumerate(header)}
        inference = next(i for i, c in enumerate(header) if c.startswith("inference time"))
        for rule, cells in zip(rules, body):
            accuracy = _pair(cells[col["test acc"]])
            assert 0.0 <= accuracy <= 1.0
            macs = _pair(cells[col["MACs / backbone"]])
            assert macs > 0
            _interval(cells[col["oracle share"]])
            if rule.needs_final_exit:
                assert cells[col["area"]].startswith("n/a")
            else:
                assert 0.0 <= _interval(cells[col["area"]]) <= 1.0
            for i, name in enumerate(header):
                if name.startswith("AUROC exit"):
                    assert cells[i] == "-" or 0.0 <= _interval(cells[i]) <= 1.0
            rule_macs = float(cells[col["map + score MACs"]].replace(",", ""))
            assert (rule_macs == 0) == (rule.saliency is None)
            assert float(cells[col["map + score MACs / backbone"]]) >= 0
            _pair(cells[col["map + score µs / image"]])
            _pair(cells[col["map + score time / backbone time"]])
            if rule.needs_final_exit:
                assert "oracle" in cells[0]
                assert macs >= 1.0  # the whole network, every map and score: nothing saved
                assert cells[inference].startswith("n/a")
            else:
                assert "oracle" not in cells[0]
                assert _pair(cells[inference]) > 0
        final = rows[1 + len(rules)]
        assert _pair(final[col["MACs / backbone"]]) == 1.0


@pytest.mark.slow
def test_header_states_the_definitions_and_the_conclusions(run):
    _, text, _, _ = run
    head = text.split("## Synthetic pets")[0]
    for term in (
        "Operating point",
        "validation",
        "test split",
        "MACs / backbone",
        "Oracle share",
        "Area",
        "counts as accuracy 0",
        "Intervals",
        "hierarchical",
        "AUROC",
        "map + score",
        "Inference time / backbone",
        "Command: `python benchmarks/exit_rules.py",
        "- Date:",
        "- CPU:",
        "torch",
    ):
        assert term in head, term
    assert text.count("**Measured conclusion.**") == 2
    assert "## Both datasets" in text
