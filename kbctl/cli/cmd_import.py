"""`kbctl import -e ENV --agent-id ID --out DIR`: adopt a hand-built agent's knowledge base.

Thin: `kbctl.commands.import_agent` reads, writes and adopts; this module prints what was done.
"""

from __future__ import annotations

import click

from kbctl import commands
from kbctl.cli import wiring
from kbctl.cli.options import environment_option
from kbctl.importer import DEFAULT_API_KEY_ENV, slugify


@click.command("import")
@environment_option
@click.option("--agent-id", "agent_id", required=True, help="The agent to import.")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory for the manifest and its docs/ folder (must be empty unless --force).",
)
@click.option("--project", help="Project name of the manifest (default: from the agent's name).")
@click.option(
    "--base-url",
    "base_url",
    help="API base URL (default: $ELEVENLABS_BASE_URL or https://api.elevenlabs.io); "
    "written into the manifest when given.",
)
@click.option(
    "--api-key-env",
    "api_key_env",
    default=DEFAULT_API_KEY_ENV,
    show_default=True,
    help="Variable holding the API key.",
)
@click.option("--force", is_flag=True, help="Write into a non-empty directory.")
def import_cmd(
    environment: str,
    agent_id: str,
    out_dir: str,
    project: str | None,
    base_url: str | None,
    api_key_env: str,
    force: bool,
) -> None:
    """Write a manifest and the documents of an existing agent, and adopt the documents.

    \b
    Text documents are read through the content endpoint, URL documents become `url:` entries,
    uploaded files are written as their extracted text. Each document is then renamed in place
    to kbctl's ownership marker, so `kbctl plan` on the result shows no changes and the first
    apply uploads nothing.
    """
    result = commands.import_agent(
        wiring.session(),
        environment,
        agent_id,
        out_dir,
        project=project,
        base_url=base_url,
        api_key_env=api_key_env,
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
    for note in result.notes:
        click.echo(f"Note: {note}")
    click.echo(
        f"Next: kbctl plan -e {result.environment} -f {result.manifest_path} "
        "(it should show no changes)."
    )
