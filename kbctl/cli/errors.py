"""The one boundary where errors become output and exit codes.

`KbctlError` → "Error: summary", then detail and hint, on stderr, with the error's exit code.
Anything else is a bug: a short "internal error" line and exit 1. With `--debug` both re-raise
so the traceback shows. Known secrets are redacted from everything printed here.
"""

from __future__ import annotations

import json
import sys
from typing import TextIO

import click

from kbctl.cli.context import AppContext
from kbctl.cli.env import in_github_actions
from kbctl.errors import Diagnostic, ExitCode, KbctlError, ManifestError, UsageError


def annotation(
    kind: str, message: str, diagnostic: Diagnostic | None = None, *, title: str = "kbctl"
) -> str:
    """A GitHub Actions workflow command (`::error file=…,line=…,title=…::message`)."""
    parts: list[str] = []
    if diagnostic is not None:
        parts.append(f"file={_escape_property(diagnostic.file)}")
        if diagnostic.line is not None:
            parts.append(f"line={diagnostic.line}")
    parts.append(f"title={_escape_property(title)}")
    props = " " + ",".join(parts)
    escaped = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return f"::{kind}{props}::{escaped}"


def _escape_property(value: str) -> str:
    """Escape a workflow-command property value (GitHub's rules: % CR LF : ,)."""
    for char, code in (("%", "%25"), ("\r", "%0D"), ("\n", "%0A"), (":", "%3A"), (",", "%2C")):
        value = value.replace(char, code)
    return value


def report_error(err: KbctlError, app: AppContext, stream: TextIO | None = None) -> ExitCode:
    """Print `err` for a person (and for GitHub Actions when running there)."""
    out = stream if stream is not None else sys.stderr
    lines = [f"Error: {err.summary}"]
    if err.detail:
        lines.extend(f"  {line}" if line.strip() else "" for line in err.detail.splitlines())
    if err.hint:
        lines.append(f"Hint: {err.hint}")
    out.write(app.redact("\n".join(lines)) + "\n")
    if app.json_events:
        event = {
            "event": "error",
            "exit_code": int(err.exit_code),
            "summary": err.summary,
            "detail": err.detail,
            "hint": err.hint,
        }
        sys.stdout.write(app.redact(json.dumps(event, ensure_ascii=False)) + "\n")
        sys.stdout.flush()
    if in_github_actions():
        annotations: list[str] = []
        if isinstance(err, ManifestError) and err.diagnostics:
            for diag in err.diagnostics:
                kind = "warning" if diag.severity == "warning" else "error"
                annotations.append(annotation(kind, f"{diag.path}: {diag.message}", diag))
        else:
            annotations.append(annotation("error", err.summary))
        out.write(app.redact("\n".join(annotations)) + "\n")
    out.flush()
    return err.exit_code


def report_internal(exc: BaseException, app: AppContext, stream: TextIO | None = None) -> ExitCode:
    """Print an unexpected exception without a traceback (and, with --json, as the stream's
    last `error` event). A file the system refused (a folder that does not exist or cannot be
    written, a full disk) is the user's to fix, not a bug, and says so."""
    if isinstance(exc, OSError) and exc.filename is not None:
        error = KbctlError(
            f"Cannot use {exc.filename}: {exc.strerror or exc}",
            detail=f"{type(exc).__name__} (errno {exc.errno}) while reading or writing a file.",
            hint="Check the path (the folder exists, kbctl may write there, the disk is not "
            "full), then re-run; --debug shows where it happened.",
        )
    else:
        error = KbctlError(
            f"internal error: {type(exc).__name__}: {exc}",
            hint="re-run with --debug for the traceback, and report it.",
        )
    report_error(error, app, stream)
    return ExitCode.ERROR


def report_usage(
    err: click.exceptions.UsageError, app: AppContext, stream: TextIO | None = None
) -> ExitCode:
    """A command-line usage error (unknown flag, missing option, bad choice): exit 1, not 2."""
    ctx = err.ctx
    command = ctx.command_path if ctx is not None else "kbctl"
    no_args = getattr(click.exceptions, "NoArgsIsHelpError", None)  # click >= 8.2
    if no_args is not None and isinstance(err, no_args) and ctx is not None:
        # `kbctl` or `kbctl snapshots` alone: the help is the detail, not the summary.
        missing = UsageError(
            "Missing command",
            detail=ctx.get_help(),
            hint=f"Run `{command} COMMAND --help` for a command's options.",
        )
        return report_error(missing, app, stream)
    usage = ctx.get_usage() if ctx is not None else ""
    error = UsageError(
        f"{err.format_message()}",
        detail=usage or None,
        hint=f"Run `{command} --help` for the options.",
    )
    return report_error(error, app, stream)
