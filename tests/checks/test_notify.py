"""`notify: {webhook_env: VAR}`: `kbctl check` and `kbctl apply` post their failures to a
Slack-compatible webhook (a real local HTTP receiver here), never with the API key."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kbctl.errors import ExitCode
from tests.checks.conftest import CHECKS, DOCS, MORTGAGE_GONE, Bench

NOTIFY = "notify:\n  webhook_env: KBCTL_TEST_WEBHOOK\n"
SECOND = "  - query: Есть ли паркинг?\n    expect: docs/zarechye.md\n"


class Receiver:
    """A webhook on 127.0.0.1 that keeps every JSON body it is sent."""

    def __init__(self) -> None:
        received: list[dict[str, object]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/B000/XXXX"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    hook = Receiver()
    monkeypatch.setenv("KBCTL_TEST_WEBHOOK", hook.url)
    yield hook
    hook.close()


def test_check_below_min_coverage_at_1_posts_to_the_webhook(
    bench: Bench, receiver: Receiver
) -> None:
    policy = "checks_policy:\n  min_coverage: 0.8\n  min_coverage_at_1: 0.9\n" + NOTIFY
    bench.manifest(checks=CHECKS + SECOND, policy=policy.replace("0.9", "0.8"))
    assert bench.run("apply", "-e", "staging", "--auto-approve").exit_code == 0
    assert bench.run("check", "-e", "staging", "--detailed-exitcode").exit_code == 0
    assert receiver.received == []  # success: nothing to say

    bench.manifest(checks=CHECKS + SECOND, policy=policy)
    assert bench.run("check", "-e", "staging").exit_code == 0  # plain check: not a failure
    assert receiver.received == []
    result = bench.run("check", "-e", "staging", "--detailed-exitcode")
    assert result.exit_code == ExitCode.INDEX_GATE
    (notice,) = receiver.received
    assert set(notice) == {"text"}
    text = str(notice["text"])
    assert text.startswith("kbctl check failed for staging: Retrieval checks below a threshold")
    assert "Coverage@1 80% < min_coverage_at_1 90%" in text
    assert "sk_test_checks" not in text  # the API key never goes out


def test_a_failed_apply_posts_to_the_webhook(bench: Bench, receiver: Receiver) -> None:
    bench.manifest(docs={**DOCS, "mortgage": MORTGAGE_GONE}, policy=NOTIFY)
    result = bench.run("apply", "-e", "staging", "--auto-approve")
    assert result.exit_code == ExitCode.INDEX_GATE
    (notice,) = receiver.received
    text = str(notice["text"])
    assert text.startswith("kbctl apply failed for staging: Apply stopped at the retrieval checks")
    assert "Какие банки дают семейную ипотеку?" in text
    assert "sk_test_checks" not in text


def test_an_unset_variable_or_a_dead_webhook_never_changes_the_outcome(
    bench: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench.manifest(docs={**DOCS, "mortgage": MORTGAGE_GONE}, policy=NOTIFY)
    monkeypatch.delenv("KBCTL_TEST_WEBHOOK", raising=False)
    result = bench.run("apply", "-e", "staging", "--auto-approve")
    assert result.exit_code == ExitCode.INDEX_GATE
    assert "notify: KBCTL_TEST_WEBHOOK is not set" in result.output
    dead = Receiver()
    url = dead.url
    dead.close()
    monkeypatch.setenv("KBCTL_TEST_WEBHOOK", url)
    again = bench.run("check", "-e", "staging")
    assert again.exit_code == ExitCode.INDEX_GATE
    assert "notify: the failure notice was not delivered" in again.output
    assert url not in again.output


def test_a_failed_rollback_posts_to_the_webhook(bench: Bench, receiver: Receiver) -> None:
    bench.manifest(policy=NOTIFY)
    assert bench.run("apply", "-e", "staging", "--auto-approve").exit_code == 0
    assert receiver.received == []
    result = bench.run("rollback", "-e", "staging", "--to", "previous", "--auto-approve")
    # Back to before the first apply: an empty agent, which policy guards.
    assert result.exit_code == ExitCode.POLICY, result.output
    (notice,) = receiver.received
    text = str(notice["text"])
    assert text.startswith("kbctl rollback failed for staging: ")
    assert "--allow-destroy" in text
    assert "sk_test_checks" not in text
