"""The `kbctl` click group: global flags, the error boundary, signals, and the list of commands.

Exit codes are honest (DESIGN §8, §10): click's usage errors exit 1 (never 2, which means "the
plan has changes"), with the usual summary, detail and hint; a first SIGINT or SIGTERM stops a
run gracefully (apply and rollback at their next safe point) and exits 130 or 143; a second one
quits at once. `--debug` is accepted before or after the command name.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any

import click

from kbctl import __version__
from kbctl.cli.context import AppContext, app_context
from kbctl.cli.errors import report_error, report_internal, report_usage
from kbctl.errors import ExitCode, KbctlError

#: Each command's module and object, imported only when that command runs (or `--help` lists
#: them): `kbctl --version` loads no command, no HTTP client and no emulator.
COMMANDS = {
    "validate": "kbctl.cli.cmd_validate:validate_cmd",
    "plan": "kbctl.cli.cmd_plan:plan_cmd",
    "apply": "kbctl.cli.cmd_apply:apply_cmd",
    "status": "kbctl.cli.cmd_status:status_cmd",
    "rollback": "kbctl.cli.cmd_rollback:rollback_cmd",
    "promote": "kbctl.cli.cmd_promote:promote_cmd",
    "snapshots": "kbctl.cli.cmd_snapshots:snapshots_group",
    "import": "kbctl.cli.cmd_import:import_cmd",
    "check": "kbctl.cli.cmd_check:check_cmd",
    "schema": "kbctl.cli.cmd_schema:schema_cmd",
    "emulator": "kbctl.cli.cmd_emulator:emulator_group",
}


class KbctlGroup(click.Group):
    """A group whose commands' errors end at one boundary (see `kbctl.cli.errors`), and whose
    commands load lazily."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*COMMANDS, *super().list_commands(ctx)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        app = extra.pop("obj", None)
        if not isinstance(app, AppContext):
            app = AppContext()
        if "--debug" in argv:
            app.debug = True
            argv = [a for a in argv if a != "--debug"]
        app.debug = app.debug or os.environ.get("KBCTL_DEBUG") == "1"
        try:
            with _signals(app):
                code = super().main(
                    argv, prog_name, complete_var, standalone_mode=False, obj=app, **extra
                )
        except click.exceptions.UsageError as err:
            code = int(report_usage(err, app))
        except click.exceptions.Abort:
            sys.stderr.write("Error: aborted\n")
            code = int(ExitCode.INTERRUPTED)
        except click.ClickException as err:
            err.show()
            code = int(ExitCode.ERROR)
        code = int(code or 0)
        if not standalone_mode:
            return code
        sys.exit(code)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.exceptions.UsageError as err:
            # click's parser raises some errors (`-e` without its value) without a context:
            # give them the command's, so the usage and hint name `kbctl plan`, not `kbctl`.
            name = ctx.invoked_subcommand
            command = self.get_command(ctx, name) if err.ctx is None and name else None
            if command is not None:
                err.ctx = click.Context(command, info_name=name, parent=ctx)
            raise
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


@contextmanager
def _signals(app: AppContext) -> Iterator[None]:
    """SIGINT/SIGTERM handlers for the run: stop gracefully once, quit at once the second time."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        terminate = signum == signal.SIGTERM
        stop = app.stop
        if stop.requested:
            sys.stderr.write("Second signal: quitting at once.\n")
            sys.stderr.flush()
            os._exit(int(ExitCode.TERMINATED if terminate else ExitCode.INTERRUPTED))
        stop.request(terminate=terminate)
        name = "SIGTERM" if terminate else "SIGINT"
        if stop.armed:
            sys.stderr.write(
                f"{name}: stopping after the requests in flight (send it again to quit at once)\n"
            )
            sys.stderr.flush()
            return
        raise stop.error(
            f"Stopped by {name}",
            detail="The command was stopped before it changed anything.",
            hint="Run it again when ready.",
        )

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, handle)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@click.group(cls=KbctlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kbctl")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors (also: KBCTL_DEBUG=1).")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """kbctl keeps ElevenLabs agent knowledge bases and OpenAI vector stores as manifests declare.

    \b
    Typical flow:
      kbctl validate              check manifests offline
      kbctl plan -e staging       show what would change
      kbctl apply -e staging      create, index, swap, then delete
      kbctl rollback -e staging --to previous
    """
    app = ctx.ensure_object(AppContext)
    app.debug = app.debug or debug


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="kbctl")
