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
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port (0: any free one).",
)
@click.option(
    "--state",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder to keep the workspace in (default: memory only).",
)
@click.option("--api-key", default=None, help="Accept only this xi-api-key (default: any).")
@click.option(
    "--agent", "agents", multiple=True, help="Create an agent with this id if missing. Repeatable."
)
@click.option(
    "--index-seconds", default=2.0, show_default=True, type=float, help="How long indexing takes."
)
@click.option(
    "--min-index-bytes",
    default=500,
    show_default=True,
    type=int,
    help="Smaller documents end in document_too_small.",
)
@click.option(
    "--rag-quota-bytes",
    default=20 * 1024 * 1024,
    show_default=True,
    type=int,
    help="Workspace RAG quota; going over it ends in rag_limit_exceeded.",
)
@click.option(
    "--latency-ms",
    default=0.0,
    show_default=True,
    type=float,
    help="Delay added to every authenticated request.",
)
@click.option(
    "--max-concurrency",
    default=None,
    type=int,
    help="Answer 429 too_many_concurrent_requests beyond N requests in flight.",
)
@click.option(
    "--fail-rate",
    default=0.0,
    show_default=True,
    type=float,
    help="Share of requests answered with an injected 500/503 (0 to 1).",
)
@click.option(
    "--fail-index-containing",
    multiple=True,
    help="Indexing of documents whose content contains TEXT ends failed. Repeatable.",
)
@click.option(
    "--index-pending-status",
    default=None,
    metavar="NAME",
    help="Report this extra, unknown index status before processing (e.g. queued).",
)
@click.option(
    "--url-content-bytes",
    default=None,
    type=int,
    metavar="N",
    help="Size of the page fetched for URL documents (decides document_too_small).",
)
@click.option(
    "--dependency-lag-seconds",
    default=0.0,
    show_default=True,
    type=float,
    metavar="S",
    help="Refuse deletes (document_has_dependent_agents) for S seconds after the last use.",
)
@click.option(
    "--rename-propagates",
    is_flag=True,
    help="Renaming a document also renames it in agents' knowledge_base arrays.",
)
@click.option(
    "--keep-indexes-on-edit",
    is_flag=True,
    help="An in-place content edit keeps the document's RAG indexes (default: drops them).",
)
@click.option(
    "--protect-main",
    is_flag=True,
    help="Main branches need admin rights: writes to them answer 403 admin_perms_required.",
)
@click.option(
    "--no-rag-query",
    is_flag=True,
    help="Answer 404 on the agent rag-query endpoint, as older API deployments do.",
)
@click.option(
    "--vector-store",
    "vector_stores",
    multiple=True,
    metavar="ID",
    help="Pre-create this OpenAI vector store (vs_…). Repeatable.",
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
    index_pending_status: str | None,
    url_content_bytes: int | None,
    dependency_lag_seconds: float,
    rename_propagates: bool,
    keep_indexes_on_edit: bool,
    protect_main: bool,
    no_rag_query: bool,
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
        index_pending_status=index_pending_status,
        url_content_bytes=url_content_bytes,
        dependency_lag_seconds=dependency_lag_seconds,
        rename_propagates=rename_propagates,
        edit_drops_indexes=not keep_indexes_on_edit,
        protect_main=protect_main,
        no_rag_query=no_rag_query,
        vector_store=vector_stores,
        seed=seed,
    )
    run_server(
        config, SystemClock(), host=host, port=port, state=state, agents=agents, verbose=verbose
    )
