"""`kbctl emulator serve`: the ElevenLabs KB + agent API emulator (and the OpenAI vector-store
API under `/v1/files` and `/v1/vector_stores`) over a socket."""

from __future__ import annotations

from pathlib import Path

import click

from kbctl.clock import SystemClock
from kbctl.emulator import EmulatorConfig, run_server


@click.group("emulator")
def emulator_group() -> None:
    """Run the built-in ElevenLabs (and OpenAI vector-store) API emulator."""


@emulator_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=int, help="Port (0: any free one).")
@click.option(
    "--state",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder to keep the workspace in (default: memory only).",
)
@click.option("--api-key", default=None, help="Accept only this xi-api-key (default: any).")
@click.option("--agent", "agents", multiple=True, help="Create this agent id if missing.")
@click.option("--index-seconds", default=2.0, show_default=True, type=float)
@click.option("--min-index-bytes", default=500, show_default=True, type=int)
@click.option("--rag-quota-bytes", default=20 * 1024 * 1024, show_default=True, type=int)
@click.option("--latency-ms", default=0.0, show_default=True, type=float)
@click.option("--max-concurrency", default=None, type=int, help="429 beyond N requests.")
@click.option("--fail-rate", default=0.0, show_default=True, type=float, help="500/503 share.")
@click.option("--fail-index-containing", multiple=True, help="Indexing of content with TEXT fails.")
@click.option(
    "--vector-store", "vector_stores", multiple=True, help="Create this OpenAI vector store id."
)
@click.option("--seed", default=0, show_default=True, type=int, help="Ids and faults seed.")
@click.option("--verbose", is_flag=True, help="Log every request on stderr.")
def serve_cmd(
    host: str,
    port: int,
    state: Path | None,
    api_key: str | None,
    agents: tuple[str, ...],
    index_seconds: float,
    min_index_bytes: int,
    rag_quota_bytes: int,
    latency_ms: float,
    max_concurrency: int | None,
    fail_rate: float,
    fail_index_containing: tuple[str, ...],
    vector_stores: tuple[str, ...],
    seed: int,
    verbose: bool,
) -> None:
    """Serve the emulator until SIGTERM/SIGINT; prints the URL it listens on."""
    config = EmulatorConfig(
        api_key=api_key,
        index_seconds=index_seconds,
        min_index_bytes=min_index_bytes,
        rag_quota_bytes=rag_quota_bytes,
        latency_ms=latency_ms,
        max_concurrency=max_concurrency,
        fail_rate=fail_rate,
        fail_index_containing=fail_index_containing,
        vector_stores=vector_stores,
        seed=seed,
    )
    run_server(
        config, SystemClock(), host=host, port=port, state=state, agents=agents, verbose=verbose
    )
