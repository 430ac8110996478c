"""The CLI shell: version, help, and the error boundary."""

from __future__ import annotations

import io
import subprocess
import sys

from click.testing import CliRunner

from kbctl import __version__
from kbctl.cli.context import AppContext
from kbctl.cli.errors import report_error
from kbctl.cli.main import cli
from kbctl.errors import ApiError, ExitCode, StalePlanError


def test_version_and_help() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("validate", "plan", "apply", "rollback", "snapshots", "status", "emulator"):
        assert command in result.output


def test_errors_print_summary_detail_hint_and_redact_secrets() -> None:
    app = AppContext()
    app.add_secret("sk_live_secret_value")
    out = io.StringIO()
    err = ApiError("API key rejected", detail="key sk_live_secret_value was refused", hint="set it")
    code = report_error(err, app, out)
    text = out.getvalue()
    assert code == ExitCode.ERROR
    assert text.splitlines()[0] == "Error: API key rejected"
    assert "sk_live_secret_value" not in text
    assert "Hint: set it" in text


def test_exit_codes_follow_the_contract() -> None:
    assert StalePlanError("x").exit_code == 4


def test_version_and_help_load_no_command_client_or_emulator() -> None:
    code = (
        "import sys\n"
        "from kbctl.cli.main import cli\n"
        "cli.main(['--version'], standalone_mode=False)\n"
        "heavy = [m for m in ('httpx', 'rich', 'jsonschema', 'yaml', 'kbctl.commands',"
        " 'kbctl.emulator', 'kbctl.provider') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in done.stdout, done.stdout
