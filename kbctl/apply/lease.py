"""The apply lease: one kbctl run at a time per agent, kept in the live workspace, no state file.

The ElevenLabs API offers no conditional write on an agent (no ETag, no If-Match, no expected
version on PATCH: reference §10.2), so two overlapping applies could both check the agent, both
write it and both report success. A run therefore holds a lease on its agent from before its
first change to its end. The lease is an empty knowledge-base folder in the workspace whose name
says who holds it and until when:

    kbctl-lease · agent <agent_id> · run <run_id> · until <UTC time> · <project>/<env>
      · commit <commit12> · plan <fingerprint12> · <host>:<pid>

(one line). A folder has no content, cannot be indexed or used by an agent, and creating one
never overwrites another, which makes the protocol race-free without a compare-and-swap:

1. create my lease folder;
2. list every lease of the agent (full listing, never the name search, which can miss
   documents); expired ones and ones left by a dead process on this host are ignored (and
   removed);
3. if mine is the only live one, I hold the lease. Otherwise I withdraw (delete mine); when the
   other lease was taken moments ago (a dead heat is possible), I wait a per-run delay, so the
   two do not collide again, and try once more; otherwise, or on a second collision, I lose.

Two runs can never both hold it: whichever listed second saw the other's folder, created before
its own listing. Both may lose in a dead heat; neither changed anything then.

A holder renews its lease (a rename moving `until`) as it works; a run that was killed stops
renewing, so its lease expires after `TTL` seconds; on the same host, a lease whose process is
gone (or, in this process, whose run is over) is taken over at once. Before the PATCH the
holder confirms it still holds the lease alone. The lease carries no ownership marker and is
never attached, so plans, fingerprints and status never see it.

Owns the lease protocol and the "another run holds it" error. Must not decide anything about
the plan; every request goes through the `Provider`, every time through the `Clock`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kbctl.apply.events import ApplyEvent, EventSink
from kbctl.clock import Clock, utc_iso
from kbctl.errors import ApiError, ConcurrentChangeError, NotFoundError
from kbctl.model import DocType, LiveDocument
from kbctl.plan.types import AgentPlan
from kbctl.provider.base import Provider
from kbctl.wording import AGENT, Wording

#: Seconds a lease stays valid without renewal: what a killed run blocks others for.
TTL = 120.0
#: A holder renews its lease once this much of the TTL has passed.
RENEW_AFTER = TTL / 3
#: Seconds within which another lease counts as taken at the same moment (worth one retry).
FRESH = 10.0
PREFIX = "kbctl-lease · agent "
_NAME = re.compile(
    r"^kbctl-lease · agent (?P<agent>.+?) · run (?P<run>\S+) · until (?P<until>\S+)"
    r" · (?P<project>[^/ ]*)/(?P<env>\S*) · commit (?P<commit>\S+) · plan (?P<plan>\S+)"
    r" · (?P<host>.*):(?P<pid>\d+)$"
)
_TIME = "%Y-%m-%dT%H:%M:%SZ"

#: Run ids of this process that hold (or are taking) a lease: a lease naming this host and
#: process but no run in here was left by a run that is over (its release failed, or it died
#: with an exception), and is taken over at once.
_RUNNING: set[str] = set()
_RUNNING_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class LeaseOwner:
    """Who a run is, as its lease tells others."""

    run_id: str
    agent_id: str
    project: str
    environment: str
    fingerprint: str
    commit: str | None = None
    host: str = ""
    pid: int = 0
    words: Wording = field(default=AGENT, compare=False)  # for messages only


def new_run_id() -> str:
    """A fresh run id (8 hex digits)."""
    return secrets.token_hex(4)


def lease_owner(plan: AgentPlan, run_id: str | None, commit: str | None) -> LeaseOwner:
    """This run, as its lease on the plan's agent names it."""
    host, pid = this_process()
    return LeaseOwner(
        run_id=run_id or new_run_id(),
        agent_id=plan.agent_id,
        project=plan.project,
        environment=plan.environment,
        fingerprint=plan.fingerprint,
        commit=commit,
        host=host,
        pid=pid,
        words=plan.words,
    )


def ttl_for(plan: AgentPlan) -> float:
    """The TTL a run's lease needs: its longest quiet stretch (waiting out the API's dependency
    lag while deleting, `policy.delete_wait`) must fit in it with room to renew."""
    return max(TTL, plan.policy.delete_wait + TTL / 2)


def this_process() -> tuple[str, int]:
    """(host name, process id) of this run."""
    return socket.gethostname(), os.getpid()


def process_alive(pid: int) -> bool:
    """True unless no process `pid` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists (another user's) or cannot be told: assume alive
    return True


@dataclass(frozen=True, slots=True)
class _Seen:
    """One lease found in the listing."""

    id: str
    name: str
    until: float
    owner: LeaseOwner


class Lease:
    """The lease of one run on one agent: acquire, keep, confirm, release."""

    def __init__(
        self,
        provider: Provider,
        clock: Clock,
        owner: LeaseOwner,
        *,
        ttl: float = TTL,
        alive: Callable[[int], bool] = process_alive,
    ) -> None:
        self._provider = provider
        self._clock = clock
        self._owner = owner
        self._ttl = ttl
        self._alive = alive
        self._mine: str | None = None
        self._renewed = 0.0
        self._lost: ConcurrentChangeError | None = None

    @property
    def run_id(self) -> str:
        return self._owner.run_id

    # ------------------------------------------------------------------------------ protocol

    def acquire(self) -> None:
        """Take the agent's lease, or raise: another run holds it.

        Raises:
            ConcurrentChangeError: another live run holds the lease (exit 4, naming it).
            ApiError: the workspace could not be read or written.
        """
        with _RUNNING_LOCK:
            _RUNNING.add(self._owner.run_id)
        try:
            for attempt in range(2):
                mine = self._create()
                try:
                    others = self._others(exclude=mine)
                except ApiError:
                    self._delete(mine)
                    raise
                if not others:
                    self._mine = mine
                    self._renewed = self._clock.now()
                    return
                self._delete(mine)
                if attempt > 0 or not self._fresh(others):
                    break  # an established holder: no point in trying again
                self._clock.sleep(_backoff(self._owner.run_id))
            raise self._held_by(others[0])
        finally:
            if self._mine is None:
                self._forget()

    def keep(self) -> None:
        """Renew the lease when due (cheap otherwise); never raises.

        A renewal that finds the lease gone (someone took it as expired) marks it lost;
        `confirm` then stops the run before it writes the agent.
        """
        if self._mine is None or self._lost is not None:
            return
        now = self._clock.now()
        if now - self._renewed < self._ttl * RENEW_AFTER / TTL:
            return
        try:
            self._provider.rename_document(self._mine, self._name(now))
            self._renewed = now
        except NotFoundError:
            self._lost = self._taken()
        except ApiError:
            pass  # try again at the next event; `confirm` checks before the PATCH

    def confirm(self) -> None:
        """Right before the PATCH: the lease is still this run's alone.

        Raises:
            ConcurrentChangeError: the lease was lost (another run holds the agent).
            ApiError: the workspace could not be read.
        """
        if self._mine is None:
            return
        self.keep()
        if self._lost is not None:
            raise self._lost
        seen = self._list()
        if all(s.id != self._mine for s in seen):
            self._lost = self._taken()
            raise self._lost
        others = self._others(exclude=self._mine, seen=seen)
        if others:
            raise self._held_by(others[0])

    def release(self) -> None:
        """Give the lease back (best effort: an expired lease harms no one)."""
        if self._mine is not None:
            self._delete(self._mine)
            self._mine = None
        self._forget()

    def _forget(self) -> None:
        with _RUNNING_LOCK:
            _RUNNING.discard(self._owner.run_id)

    # ------------------------------------------------------------------------------ helpers

    def _name(self, now: float) -> str:
        o = self._owner
        return (
            f"{PREFIX}{o.agent_id} · run {o.run_id} · until {utc_iso(now + self._ttl)}"
            f" · {o.project}/{o.environment} · commit {(o.commit or '-')[:12]}"
            f" · plan {o.fingerprint[:12] or '-'} · {o.host or '-'}:{o.pid}"
        )

    def project_runs(self) -> list[LeaseOwner]:
        """The other runs of this project applying now (live leases on its other agents): while
        one runs, an unattached document of the project may be what it is about to attach."""
        now, me = self._clock.now(), self._owner
        runs: list[LeaseOwner] = []
        for doc in self._provider.documents_named(PREFIX, doc_type=DocType.FOLDER):
            seen = _parse(doc)
            if (
                seen is None
                or seen.owner.project != me.project
                or seen.owner.agent_id == me.agent_id
            ):
                continue
            if seen.until > now and not self._dead(seen):
                runs.append(seen.owner)
        return runs

    def _create(self) -> str:
        return self._provider.create_folder(self._name(self._clock.now()))

    def _list(self) -> list[_Seen]:
        out: list[_Seen] = []
        for doc in self._provider.documents_named(
            f"{PREFIX}{self._owner.agent_id} · ", doc_type=DocType.FOLDER
        ):
            seen = _parse(doc)
            if seen is not None:
                out.append(seen)
        return out

    def _others(self, *, exclude: str, seen: list[_Seen] | None = None) -> list[_Seen]:
        """The live leases of other runs (expired or dead ones are removed on the way)."""
        now = self._clock.now()
        live: list[_Seen] = []
        for lease in self._list() if seen is None else seen:
            if lease.id == exclude:
                continue
            if lease.until <= now or self._dead(lease):
                self._delete(lease.id)
                continue
            live.append(lease)
        return sorted(live, key=lambda s: s.until, reverse=True)

    def _fresh(self, others: list[_Seen]) -> bool:
        """True when another lease was taken (or renewed) moments ago: maybe a dead heat."""
        since = self._clock.now() - FRESH
        return any(lease.until - self._ttl >= since for lease in others)

    def _dead(self, lease: _Seen) -> bool:
        """True for a lease left by a process of this host that no longer runs."""
        owner, me = lease.owner, self._owner
        if not owner.host or owner.host != me.host or owner.pid == 0:
            return False
        if owner.pid == me.pid:
            with _RUNNING_LOCK:
                return owner.run_id not in _RUNNING
        return not self._alive(owner.pid)

    def _delete(self, doc_id: str) -> None:
        with contextlib.suppress(ApiError):  # it expires anyway
            self._provider.delete_document(doc_id)

    def _held_by(self, lease: _Seen) -> ConcurrentChangeError:
        owner, words = lease.owner, self._owner.words
        agent = words.label(self._owner.agent_id)
        until = utc_iso(lease.until)
        commit = f"commit {owner.commit}" if owner.commit else "commit unknown"
        return ConcurrentChangeError(
            f"Another kbctl run is applying to {agent}: run {owner.run_id} holds its lease",
            detail=(
                f"Run {owner.run_id} of {owner.project}/{owner.environment} ({commit}, plan "
                f"fingerprint {owner.fingerprint}, on {owner.host}, process {owner.pid}) holds "
                f"the apply lease of {agent} until {until} (renewed while it works). This "
                "run changed nothing."
            ),
            hint=(
                "Let that run finish, then run kbctl plan and kbctl apply again "
                f"({words.the} may already be what you want). If that run died, its lease "
                f"expires at {until}; to go on sooner, delete the {words.lease} named "
                f"'{lease.name}' in the workspace."
            ),
        )

    def _taken(self) -> ConcurrentChangeError:
        return ConcurrentChangeError(
            f"This run lost the apply lease of {self._owner.words.label(self._owner.agent_id)}",
            detail=(
                "Its lease document was removed (it looked expired to another run), so another "
                f"run may be applying. kbctl did not write {self._owner.words.the}."
            ),
            hint="Run kbctl plan to see the live state, then kbctl apply again.",
        )


def _parse(doc: LiveDocument) -> _Seen | None:
    match = _NAME.match(doc.name)
    if match is None or doc.doc_type is not DocType.FOLDER:
        return None
    try:
        until = datetime.strptime(match["until"], _TIME).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None
    owner = LeaseOwner(
        run_id=match["run"],
        agent_id=match["agent"],
        project=match["project"],
        environment=match["env"],
        fingerprint=match["plan"],
        commit=None if match["commit"] == "-" else match["commit"],
        host="" if match["host"] == "-" else match["host"],
        pid=int(match["pid"]),
    )
    return _Seen(doc.id, doc.name, until, owner)


def _backoff(run_id: str) -> float:
    """0.5-3 s, different for each run: two runs that collided do not retry in step."""
    spread = int(hashlib.sha256(run_id.encode()).hexdigest()[:4], 16) % 1000
    return 0.5 + spread / 400


def renewing(events: EventSink, keep: Callable[[], None]) -> EventSink:
    """`events`, with `keep` called before each one (the lease renews itself as apply works).

    Events come often and from the thread that runs the apply (uploads, index polls, checks,
    deletions), which is exactly when a long run must keep its lease.
    """

    def sink(event: ApplyEvent) -> None:
        keep()
        events(event)

    return sink
