"""Failure notices (`notify: {webhook_env: VARNAME}`): `kbctl check`, `kbctl apply` and `kbctl
rollback` post a Slack-compatible `{"text": …}` to the webhook whose URL that variable holds.

Owns which failures are sent (a `KbctlError` an apply, rollback or check ends with), the text
(summary, detail, hint, with every known secret redacted: the API key never leaves), and that a
notice never changes the command's outcome: a missing variable or an unreachable webhook is a
session note. Posting goes through `kbctl.provider.http.post_webhook`, the one door to the network.
Never prints.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from kbctl.commands.session import Session, load_targets
from kbctl.errors import KbctlError
from kbctl.model import Target
from kbctl.provider.http import post_webhook

#: Slack cuts messages near 40,000 characters; notices stay well under.
MAX_TEXT = 3000


def notice_text(command: str, environment: str, error: KbctlError) -> str:
    """`kbctl apply failed for staging: <summary>` + detail + hint, at most `MAX_TEXT` chars."""
    parts = [f"kbctl {command} failed for {environment}: {error.summary}"]
    parts += [p for p in (error.detail, f"Hint: {error.hint}" if error.hint else None) if p]
    text = "\n".join(parts)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def notify_failure(
    session: Session,
    environment: str,
    targets: Sequence[Target],
    command: str,
    error: KbctlError,
) -> int:
    """Post the failure to every webhook the targets name; how many notices were accepted."""
    sent = 0
    for variable in dict.fromkeys(t.notify_webhook_env for t in targets if t.notify_webhook_env):
        url = session.environ.get(variable)
        if not url:
            session.note(f"notify: {variable} is not set, so no failure notice was sent")
            continue
        session.secrets.add(url)  # a webhook URL is a credential too: never echo it
        text = session.secrets.redact(notice_text(command, environment, error))
        problem = post_webhook(url, {"text": text})
        if problem is None:
            sent += 1
        else:
            session.note(f"notify: the failure notice was not delivered: {problem}")
    return sent


@contextmanager
def notifying(
    session: Session, environment: str, files: Sequence[str | Path], command: str
) -> Iterator[None]:
    """Post a notice when the block ends with a `KbctlError` (then re-raise it)."""
    try:
        yield
    except KbctlError as err:
        try:
            targets = load_targets(session, files, environment)
        except KbctlError:
            raise err from None  # the manifests themselves fail: nobody to tell
        notify_failure(session, environment, targets, command, err)
        raise
