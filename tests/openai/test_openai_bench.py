"""`benchmarks/openai_bench.py` runs end to end at a tiny size (its figures are never checked:
tests do not assert on wall time)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "openai_bench.py"


def test_the_benchmark_runs_and_prints_a_row_per_size() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--sizes",
            "3",
            "--latency-ms",
            "0",
            "--index-seconds",
            "0",
            "--naive-max",
            "2",
            "--naive-poll",
            "0.05",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = next(line for line in lines if line.split()[:3] == ["docs", "kbctl", "bound"])
    row = lines[lines.index(header) + 2].split()
    assert row[0] == "3"
    requests, uploads = (int(cell) for cell in row[-6:-4])  # requests, up, att, reads, …
    assert uploads == 3 and requests > uploads
