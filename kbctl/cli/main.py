"""The `kbctl` click group: global flags, the error boundary, and the list of commands."""

from __future__ import annotations

import os
from typing import Any

import click

from kbctl import __version__
from kbctl.cli.context import AppContext, app_context
from kbctl.cli.errors import report_error, report_internal
from kbctl.errors import KbctlError


class KbctlGroup(click.Group):
    """A group whose commands' errors end at one boundary (see `kbctl.cli.errors`)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KbctlError as err:
            app = app_context()
            if app.debug:
                raise
            ctx.exit(int(report_error(err, app)))
        except Exception as exc:
            app = app_context()
            if app.debug:
                raise
            ctx.exit(int(report_internal(exc, app)))


@click.group(cls=KbctlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kbctl")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """kbctl keeps ElevenLabs agent knowledge bases in the state a manifest declares.

    \b
    Typical flow:
      kbctl validate              check manifests offline
      kbctl plan -e staging       show what would change
      kbctl apply -e staging      create, index, swap, then delete
      kbctl rollback -e staging --to previous
    """
    ctx.obj = AppContext(debug=debug or os.environ.get("KBCTL_DEBUG") == "1")


def _register() -> None:
    from kbctl.cli.cmd_apply import apply_cmd
    from kbctl.cli.cmd_check import check_cmd
    from kbctl.cli.cmd_emulator import emulator_group
    from kbctl.cli.cmd_import import import_cmd
    from kbctl.cli.cmd_plan import plan_cmd
    from kbctl.cli.cmd_rollback import rollback_cmd
    from kbctl.cli.cmd_schema import schema_cmd
    from kbctl.cli.cmd_snapshots import snapshots_group
    from kbctl.cli.cmd_status import status_cmd
    from kbctl.cli.cmd_validate import validate_cmd

    for command in (
        validate_cmd,
        plan_cmd,
        apply_cmd,
        status_cmd,
        rollback_cmd,
        snapshots_group,
        import_cmd,
        check_cmd,
        schema_cmd,
        emulator_group,
    ):
        cli.add_command(command)


_register()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="kbctl")
