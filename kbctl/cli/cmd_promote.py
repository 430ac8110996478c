"""`kbctl promote -e ENV`: finish a canary rollout (merge its branch, give main all traffic).

Thin: flags → `kbctl.commands.promote` → one line per agent.
"""

from __future__ import annotations

import click

from kbctl import commands
from kbctl.cli import wiring
from kbctl.cli.options import environment_option, manifest_option


@click.command("promote")
@environment_option
@manifest_option
def promote_cmd(environment: str, files: tuple[str, ...]) -> None:
    """Finish a canary: merge its checked branch into main and give main all the traffic.

    \b
    The canary is the branch a `rollout: {strategy: branch, canary_percent: N}` apply deployed.
    Superseded documents are deleted by the next kbctl apply.
    Holds the agent's apply lease, and writes a "before" and an "after" snapshot, as apply
    does: `kbctl rollback --to previous` afterwards restores main as it was before the merge.
    Exit 1 when no canary is live (or the API fails); 4 when another run holds the lease.
    """
    for done in commands.promote(wiring.session(), environment, files):
        version = f" (main at version {done.version_id})" if done.version_id else ""
        click.echo(
            f"{done.project}/{done.environment}: promoted {done.branch} "
            f"(was {done.percent:g}% of the traffic) into main{version}; main answers 100%."
        )
        if done.snapshot is not None:
            click.echo(f"Snapshot {done.snapshot} records the state after the promote.")
