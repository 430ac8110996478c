"""`kbctl import -e ENV --out DIR (--agent-id ID | --vector-store-id ID | --vector-store-name
NAME)`: adopt a hand-built ElevenLabs agent's knowledge base or an OpenAI vector store's files.

Thin: `kbctl.commands.import_agent` / `import_store` read, write and adopt; this module picks
the provider from the flags and prints what was done.
"""

from __future__ import annotations

import click

from kbctl import commands
from kbctl.cli import wiring
from kbctl.cli.options import environment_option
from kbctl.errors import UsageError
from kbctl.importer import DEFAULT_API_KEY_ENV, ImportResult, slugify
from kbctl.manifest import OPENAI_API_KEY_ENV
from kbctl.model import ProviderKind


@click.command("import")
@environment_option
@click.option("--agent-id", "agent_id", help="The ElevenLabs agent to import.")
@click.option("--vector-store-id", "vector_store_id", help="The OpenAI vector store to import.")
@click.option(
    "--vector-store-name",
    "vector_store_name",
    help="The OpenAI vector store to import, by name (the manifest then names it too).",
)
@click.option(
    "--provider",
    type=click.Choice([p.value for p in ProviderKind]),
    help="elevenlabs or openai (default: from --agent-id or --vector-store-*).",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory for the manifest and its documents (must be empty unless --force).",
)
@click.option(
    "--docs-dir",
    "docs_dir",
    help="OpenAI: folder under --out for the documents and their sidecars (default: docs).",
)
@click.option("--project", help="Project name of the manifest (default: from the agent's name).")
@click.option(
    "--base-url",
    "base_url",
    help="API base URL (default: $ELEVENLABS_BASE_URL or https://api.elevenlabs.io; for "
    "OpenAI $OPENAI_BASE_URL or https://api.openai.com/v1); written into the manifest when given.",
)
@click.option(
    "--api-key-env",
    "api_key_env",
    help=f"Variable holding the API key (default: {DEFAULT_API_KEY_ENV}, for OpenAI "
    f"{OPENAI_API_KEY_ENV}).",
)
@click.option("--force", is_flag=True, help="Write into a non-empty directory.")
def import_cmd(
    environment: str,
    agent_id: str | None,
    vector_store_id: str | None,
    vector_store_name: str | None,
    provider: str | None,
    out_dir: str,
    docs_dir: str | None,
    project: str | None,
    base_url: str | None,
    api_key_env: str | None,
    force: bool,
) -> None:
    """Write a manifest and the documents of an existing agent or vector store, and adopt them.

    \b
    ElevenLabs (--agent-id): text documents are read through the content endpoint, URL
    documents become `url:` entries, uploaded files are written as their extracted text; each
    document is renamed in place to kbctl's ownership marker.
    OpenAI (--vector-store-id or --vector-store-name): each completed file is written under
    --docs-dir with its attributes in a `<file>.metadata.yaml` sidecar (a static chunking on
    its entry); kbctl's `kbctl_*` attributes are then added in place. Files it cannot read are
    listed and left attached, unmanaged.
    Either way the first apply uploads nothing, and `kbctl plan` on the result shows no changes
    beyond what the live KB itself lacks (a document too small to index as auto, one never
    indexed for the agent's model: the notes and the plan's findings name them).
    """
    kind = _provider(provider, agent_id, vector_store_id, vector_store_name)
    if kind is ProviderKind.OPENAI:
        result = commands.import_store(
            wiring.session(),
            environment,
            out_dir,
            vector_store_id=vector_store_id,
            vector_store_name=vector_store_name,
            project=project,
            base_url=base_url,
            api_key_env=api_key_env or OPENAI_API_KEY_ENV,
            docs_dir=docs_dir or "docs",
            force=force,
        )
        _report_store(result)
        return
    if docs_dir is not None:
        raise UsageError(
            "--docs-dir is for OpenAI vector stores",
            hint="An agent's documents always go in docs/ under --out; leave --docs-dir out.",
        )
    assert agent_id is not None
    result = commands.import_agent(
        wiring.session(),
        environment,
        agent_id,
        out_dir,
        project=project,
        base_url=base_url,
        api_key_env=api_key_env or DEFAULT_API_KEY_ENV,
        force=force,
    )
    adopted = [d for d in result.documents if d.key is not None]
    click.echo(
        f"Imported agent {result.agent_id} ({result.agent_name or slugify(result.agent_id)}) "
        f"as project {result.project!r}, environment {result.environment!r}."
    )
    click.echo(f"Wrote {result.manifest_path} and {sum(1 for d in adopted if d.path)} file(s).")
    click.echo(
        f"Adopted {len(adopted)} of {len(result.documents)} document(s): "
        f"{result.renamed} renamed in place"
        + (", agent knowledge_base names updated" if result.agent_updated else "")
        + "; nothing was uploaded."
    )
    _next(result)


def _provider(
    chosen: str | None, agent_id: str | None, store_id: str | None, store_name: str | None
) -> ProviderKind:
    """The provider the flags name; exactly one of the agent or store flags."""
    given = [f for f, v in (("--agent-id", agent_id), ("--vector-store-id", store_id),
                            ("--vector-store-name", store_name)) if v]  # fmt: skip
    if len(given) != 1:
        raise UsageError(
            "Name what to import: --agent-id, --vector-store-id or --vector-store-name (one)",
            detail=f"Given: {', '.join(given)}" if given else None,
            hint="For example: kbctl import -e prod --vector-store-id vs_… --out kb/",
        )
    kind = ProviderKind.ELEVENLABS if agent_id else ProviderKind.OPENAI
    if chosen is not None and chosen != kind.value:
        raise UsageError(
            f"--provider {chosen} does not go with {given[0]}",
            hint="--agent-id imports an ElevenLabs agent, --vector-store-id/--vector-store-name "
            "an OpenAI vector store; --provider may be left out.",
        )
    return kind


def _report_store(result: ImportResult) -> None:
    adopted = [d for d in result.documents if d.key is not None]
    click.echo(
        f"Imported vector store {result.agent_id} ({result.agent_name or '-'}) as project "
        f"{result.project!r}, environment {result.environment!r}."
    )
    click.echo(
        f"Wrote {result.manifest_path}, {len(adopted)} document(s) and "
        f"{result.sidecars} metadata sidecar(s)."
    )
    click.echo(
        f"Adopted {len(adopted)} of {len(result.documents)} file(s): kbctl's attributes written "
        f"in place on {result.renamed}; nothing was uploaded."
    )
    _next(result)


def _next(result: ImportResult) -> None:
    for note in result.notes:
        click.echo(f"Note: {note}")
    click.echo(
        f"Next: kbctl plan -e {result.environment} -f {result.manifest_path} "
        "(it should show no changes beyond what the notes name)."
    )
