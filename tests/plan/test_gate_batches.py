"""The index gate polls in batches: ⌈N/100⌉ requests per round, no read per document."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.snapshots.kit import Bench, make_bench, text_of

BATCH = "POST /v1/convai/knowledge-base/rag-index"
ONE = "GET /v1/convai/knowledge-base/{documentation_id}/rag-index"


@pytest.fixture
def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bench]:
    yield from make_bench(tmp_path, monkeypatch)


def test_a_round_reads_every_pending_index_in_batches_of_100(bench: Bench) -> None:
    bench.manifest({f"d{i:03d}": text_of(f"d{i:03d}", 600) for i in range(150)}, url=None)
    result, _ = bench.apply()
    assert len(result.indexed) == 150
    assert result.gate_rounds >= 1
    assert result.gate_busiest_round == 2  # ⌈150/100⌉
    assert result.gate_requests <= 2 * result.gate_rounds
    assert bench.world.calls[BATCH] == result.gate_requests
    assert bench.world.calls[ONE] == 0  # no per-document polls
