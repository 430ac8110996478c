"""The session: everything a command needs from the world outside, injected.

A `Session` carries the clock, the environment variables, the working directory, how to open a
provider for a target, where snapshots live, the progress sink, how to ask for confirmation, the
secrets to redact and the stop signal. The CLI builds one from the process (`kbctl.cli.wiring`);
tests and Python callers build one from a fake clock and an `emulator://` workspace. Commands read
nothing else: no `os.environ`, no `Path.cwd()`, no system clock.

Must not print, prompt or exit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from kbctl.clock import Clock
from kbctl.errors import ManifestError, UsageError
from kbctl.model import ProviderKind, Target
from kbctl.provider.base import Provider
from kbctl.provider.elevenlabs import ElevenLabsProvider
from kbctl.provider.elevenlabs.branches import AgentBranches
from kbctl.provider.http import ApiClient, wsgi_transport
from kbctl.provider.openai import OpenAIProvider
from kbctl.provider.retry import RetryListener, ignore_retries
from kbctl.secrets import Secrets
from kbctl.stop import StopSignal

if TYPE_CHECKING:
    from kbctl.apply.events import EventSink
    from kbctl.emulator import EmulatorApp
    from kbctl.plan.types import Plan

DEFAULT_BASE_URL = "https://api.elevenlabs.io"
EMULATOR_SCHEME = "emulator://"
#: The key the embedded emulator accepts when none is set (it checks none by default).
EMULATOR_LOCAL_KEY = "emulator-local-key"
#: Where requests to the in-process emulator are addressed (the WSGI transport ignores the host).
EMULATOR_HTTP_URL = "http://emulator.invalid"


class ProviderHandle:
    """A provider plus the client behind it (for closing and call counts)."""

    def __init__(self, provider: Provider, client: ApiClient, *, agent: bool = True) -> None:
        self.provider = provider
        self.client = client
        #: The agent's retrieval, branches and deployments, over the same client.
        self.branches = AgentBranches(client)
        #: False for a vector store: no agent rag-query or branches; its search retrieves.
        self.has_agent = agent

    def close(self) -> None:
        """Release the HTTP connections."""
        self.client.close()

    def __enter__(self) -> ProviderHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Progress(Protocol):
    """Where a command reports what it does: apply's events plus a few run-level lines."""

    def note(self, message: str) -> None:
        """A line outside any agent's apply (no changes, skipped agents, what to do next)."""
        ...

    def plan_ready(self, plan: Plan, *, saved: bool) -> None:
        """The plan apply is about to carry out (from a saved file when `saved`)."""
        ...

    def run_finished(self, title: str, summary: str, seconds: float) -> None:
        """The last line of a run: `Apply complete` or `Rollback complete`, counts, time."""
        ...

    def apply_events(self) -> EventSink:
        """The sink for one agent's apply events."""
        ...


class NullProgress:
    """Reports nothing (a Python caller that only wants the result)."""

    def note(self, message: str) -> None:
        pass

    def plan_ready(self, plan: Plan, *, saved: bool) -> None:
        pass

    def run_finished(self, title: str, summary: str, seconds: float) -> None:
        pass

    def apply_events(self) -> EventSink:
        from kbctl.apply.events import ignore

        return ignore


def progress_of(session: Session) -> Progress:
    """The session's progress sink, or one that reports nothing."""
    return session.progress if session.progress is not None else NullProgress()


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a provider connects: the API base URL, the variable holding its key, and the
    agent the workspace must have (the embedded emulator creates it, as `serve --agent` does)."""

    base_url: str
    api_key_env: str
    agent_id: str | None = None
    provider: ProviderKind = ProviderKind.ELEVENLABS
    where: str = ""  # the manifest and environment, for messages

    @classmethod
    def of(cls, target: Target) -> Endpoint:
        """The endpoint of a manifest target."""
        return cls(
            target.base_url,
            target.api_key_env,
            target.agent_id,
            target.provider,
            f"{target.manifest}: environment '{target.environment}'",
        )


#: How a command opens a provider: `(session, endpoint, concurrency) -> handle`; concurrency None
#: is "auto" (`kbctl.provider.limiter`).
ProviderFactory = Callable[["Session", Endpoint, int | None], ProviderHandle]
#: Asks whether to go ahead; returns False to cancel. None on a session means "cannot ask".
Confirm = Callable[[str], bool]


@dataclass
class Session:
    """The outside world of one command run.

    Args:
        clock: every wait and timestamp.
        environ: environment variables (`${VAR}`s, the API key, base URL overrides).
        cwd: where relative paths (manifests/, state-snapshots/, emulator:// folders) start.
        connect: opens a provider for a target; default: HTTP, or the embedded emulator.
        progress: apply's and rollback's live report; None reports nothing.
        confirm: asks a yes/no question; None means there is no one to ask.
        snapshots_dir: where apply and rollback write snapshots (relative to `cwd`); None: apply
            writes none (rollback and the snapshot commands need one).
        git_commit: the commit recorded in snapshots (None when unknown).
        on_note: hears each note (manifests skipped, …) as it is made.
        on_retry: hears each retry the HTTP client makes.
    """

    clock: Clock
    environ: Mapping[str, str] = field(default_factory=dict)
    cwd: Path = field(default_factory=lambda: Path("."))
    connect: ProviderFactory | None = None
    progress: Progress | None = None
    confirm: Confirm | None = None
    snapshots_dir: Path | None = Path("state-snapshots")
    git_commit: str | None = None
    secrets: Secrets = field(default_factory=Secrets)
    stop: StopSignal = field(default_factory=StopSignal)
    notes: list[str] = field(default_factory=list)
    on_note: Callable[[str], None] | None = None
    on_retry: RetryListener = ignore_retries
    emulators: dict[str, EmulatorApp] = field(default_factory=dict, repr=False)

    def open(self, where: Target | Endpoint, *, concurrency: int | None = 8) -> ProviderHandle:
        """A provider for a target's workspace (close it, or use it as a context manager)."""
        endpoint = where if isinstance(where, Endpoint) else Endpoint.of(where)
        factory = self.connect or connect_provider
        return factory(self, endpoint, concurrency)

    def close(self) -> None:
        """Save the embedded emulators this session opened and give up their folders (the
        one-writer lock), so another process can use them; the session may open them again."""
        while self.emulators:
            _, app = self.emulators.popitem()
            app.close()

    def path(self, value: str | Path) -> Path:
        """`value` relative to the session's working directory (absolute paths unchanged)."""
        path = Path(value)
        return path if path.is_absolute() else self.cwd / path

    def snapshot_folder(self) -> Path:
        """The snapshots folder, resolved against `cwd`."""
        if self.snapshots_dir is None:
            raise UsageError(
                "This session keeps no snapshots",
                hint="Give the Session a snapshots_dir to roll back or read snapshots.",
            )
        return self.path(self.snapshots_dir)

    def note(self, message: str) -> None:
        """Record a note for the caller (and tell `on_note`, when set)."""
        self.notes.append(message)
        if self.on_note is not None:
            self.on_note(message)


def manifest_paths(session: Session, files: Sequence[str | Path]) -> list[Path]:
    """The manifests named with -f, or every manifests/*.yaml under the session's directory."""
    from kbctl.manifest import default_manifest_paths

    if files:
        return [session.path(f) for f in files]
    cwd = session.cwd.resolve()
    paths = [
        p.relative_to(cwd) if p.is_relative_to(cwd) else p for p in default_manifest_paths(cwd)
    ]
    if not paths:
        raise ManifestError(
            "No manifests found",
            detail=f"Looked for manifests/*.yaml under {cwd.name or '.'}.",
            hint="Pass one with -f FILE, or run kbctl from the repository root.",
        )
    return [session.path(p) for p in paths]


def load_targets(
    session: Session, files: Sequence[str | Path], environment: str
) -> tuple[Target, ...]:
    """Load, validate and resolve every manifest that declares `environment`.

    Manifests without it are skipped with a note (an error only when none has it).
    """
    from kbctl.manifest import load_manifests, select_targets

    env = session.environ
    manifests = load_manifests(manifest_paths(session, files), env)
    selection = select_targets(manifests, environment, env)
    for note in selection.notes:
        session.note(note)
    anchored = (_anchor_emulator(session, t) for t in selection.targets)
    return tuple(_base_url_override(t, env) for t in anchored)


def _anchor_emulator(session: Session, target: Target) -> Target:
    """A relative `emulator://` folder in a manifest starts at the repository root (the git
    work tree holding the manifest, else its folder), so every directory of the repository
    reaches the same workspace. (A relative one in ELEVENLABS_BASE_URL starts at `cwd`.)"""
    from kbctl.manifest.containment import repository_root

    if not target.base_url.startswith(EMULATOR_SCHEME):
        return target
    path_text, sep, query = target.base_url[len(EMULATOR_SCHEME) :].partition("?")
    if not path_text or Path(path_text).expanduser().is_absolute():
        return target
    root = repository_root(session.path(target.manifest).parent)
    return replace(target, base_url=f"{EMULATOR_SCHEME}{root / path_text}{sep}{query}")


#: The variable that overrides the manifest's base_url, per provider.
BASE_URL_VARIABLES = {
    ProviderKind.ELEVENLABS: "ELEVENLABS_BASE_URL",
    ProviderKind.OPENAI: "OPENAI_BASE_URL",
}


def _base_url_override(target: Target, env: Mapping[str, str]) -> Target:
    """The target with its provider's base-URL variable applied, when that is set."""
    override = env.get(BASE_URL_VARIABLES[target.provider])
    return replace(target, base_url=override) if override else target


def connect_provider(session: Session, target: Endpoint, concurrency: int | None) -> ProviderHandle:
    """The target's provider (`target.provider`: an `ElevenLabsProvider` or an `OpenAIProvider`)
    over HTTP, or over the embedded emulator for emulator://."""
    openai = target.provider is ProviderKind.OPENAI
    env = session.environ
    api_key: str | None
    if target.base_url.startswith(EMULATOR_SCHEME):
        app = _embedded_emulator(session, target.base_url)
        # Like `kbctl emulator serve --agent ID`: the embedded workspace has the target's agent.
        # For OpenAI, like `--vector-store ID`: a store given by id exists (one given by name
        # is created by the first apply).
        if target.agent_id and not openai:
            app.world.ensure_agent(target.agent_id)
        elif target.agent_id and target.agent_id.startswith("vs_"):
            app.openai.world.ensure_store(target.agent_id)
        api_key = env.get(target.api_key_env) or EMULATOR_LOCAL_KEY
        client = ApiClient(
            EMULATOR_HTTP_URL + ("/v1" if openai else ""),
            api_key,
            session.clock,
            api_key_env=target.api_key_env,
            max_concurrency=concurrency,
            transport=wsgi_transport(app),
            on_retry=session.on_retry,
            bearer=openai,
        )
    else:
        if not target.base_url.startswith(("https://", "http://")):
            raise UsageError(
                f"Unsupported base_url {target.base_url!r}",
                hint="Use https://…, http://… (an emulator served over a socket) or emulator://PATH.",
            )
        api_key = env.get(target.api_key_env)
        client = ApiClient(
            target.base_url if openai else elevenlabs_root(target.base_url),
            api_key,
            session.clock,
            api_key_env=target.api_key_env,
            max_concurrency=concurrency,
            on_retry=session.on_retry,
            bearer=openai,
        )
    session.secrets.add(api_key)
    if openai:
        return ProviderHandle(OpenAIProvider(client, target.agent_id or ""), client, agent=False)
    return ProviderHandle(ElevenLabsProvider(client), client)


def elevenlabs_root(base_url: str) -> str:
    """The ElevenLabs API root: kbctl's paths start with `/v1`, so a base URL written with the
    version path (`https://api.elevenlabs.io/v1`, as OpenAI's base URLs are) would ask for
    `/v1/v1/…` and get 404s that name the wrong path. The version is dropped here."""
    root = base_url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


def _embedded_emulator(session: Session, url: str) -> EmulatorApp:
    """One in-process emulator per state folder and session (two would overwrite each other).

    A relative folder (`emulator://.kbctl/emulator`) starts at the session's directory.
    """
    from kbctl.emulator import open_emulator

    path_text, _, query = url[len(EMULATOR_SCHEME) :].partition("?")
    if path_text:
        folder = session.path(Path(path_text).expanduser()).resolve()
        url = f"{EMULATOR_SCHEME}{folder}" + (f"?{query}" if query else "")
    if url not in session.emulators:
        session.emulators[url] = open_emulator(url, session.clock)
    return session.emulators[url]
