"""Real `kbctl apply` processes on a vector store, SIGKILLed at chosen points, then one more apply.

Each run is `python -m kbctl apply --json` on an `emulator://` folder, so the kill also takes
the embedded emulator down mid-run (its folder lock and journal must survive that). The kill
point is named by the run's own event stream (`tests.killing.apply_killed_after`): after the
first upload, mid-uploads, at the processing gate, after the gate, right after the swap (the
detach of superseded files), during the deletions. Then a new process applies again and must
exit 0 with the store equal to the manifest: one file per key with the manifest's attributes,
every one `completed`, the file attached by hand untouched, no File of kbctl's left unattached,
a plan with no changes (`--detailed-exitcode` 0), and the dead run's lease (which names its
process) taken over and removed — or, when the rerun had nothing to write and so took no
lease, removed by the next apply that writes.

The slow test does the same over a socket (`EmulatorServer`) at many requests of successive
changes, the kill landing before the answer (`tests.killing.KillSwitch`).
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kbctl.cli.main import cli
from kbctl.clock import SystemClock
from kbctl.emulator import EmulatorServer, open_emulator
from kbctl.emulator.http.app import EmulatorApp
from kbctl.provider.http import ApiClient, wsgi_transport
from kbctl.provider.openai.api import OpenAIApi
from tests.killing import (
    EventPredicate,
    KillSwitch,
    Predicate,
    apply_killed_after,
    event_named,
    kbctl_process,
    nth_request,
    nth_request_of,
)

KEY = "sk-crash-test-key"
STORE = "crash-handbook-local"
HAND = "hand-written-faq.md"
#: Requests take 20 ms and a run to be killed sends one at a time (`--concurrency 1`), so a kill
#: from the event stream lands a request or two after its event, with work still left to do.
#: Processing takes 0.3 s, so a run waits at the gate (runs killed after the gate start with
#: instant processing: the same kill point, reached a second sooner).
LATENCY = "latency_ms=20"
PROCESSING = 0.3
PAGES = 10
TOPICS = (
    ("hr", "leave"),
    ("hr", "payroll"),
    ("sales", "pricing"),
    ("sales", "accounts"),
    ("it", "security"),
    ("it", "devices"),
)
MANIFEST = """\
version: 1
project: crash-handbook
provider: openai
chunking: auto
policy:
  max_deletes: 20
documents:
  - glob: kb/hr/**/*.md
    metadata: {dept: hr, source: handbook}
  - glob: kb/sales/**/*.md
    metadata: {dept: sales, source: handbook}
  - glob: kb/it/**/*.md
    metadata: {dept: it, source: handbook}
environments:
  local:
    base_url: emulator://unused
    vector_store: {name: STORE}
checks:
  - query: Which page mentions the codeword FIRST?
    expect: KEY
checks_policy:
  min_coverage: 0.5
"""


def page_key(i: int) -> str:
    dept, topic = TOPICS[i % len(TOPICS)]
    return f"kb/{dept}/{topic}/doc{i:02d}.md"


@dataclass(frozen=True)
class Page:
    key: str
    text: str
    metadata: dict[str, object]


def pages(version: int) -> list[Page]:
    """Version `version` of the handbook: pages `version` … `version + 9`. From one version to
    the next, the oldest page goes (a delete), a page comes (a create), about a third change
    their text (replaces) and two move their `version` attribute (updates in place)."""
    out = []
    for i in range(version, version + PAGES):
        edition = version if (i + version) % 3 == 0 else 0
        dept, topic = TOPICS[i % len(TOPICS)]
        text = (
            f"# {dept} {topic}, page {i}\n\nEdition {edition}. The {topic} rules of {dept}: "
            f"approvals, who to ask and where the forms are. Codeword w{i}x.\n"
        )
        meta = {"dept": dept, "source": "handbook", "title": f"Page {i}"}
        out.append(
            Page(page_key(i), text, {**meta, "version": version + 1 if i == version + 4 else 1})
        )
    return out


@dataclass
class Book:
    """A handbook-like repository in `root`, kbctl against `url`, and the emulator's `app`
    (served in this process, or None: opened from the `emulator://` folder when needed)."""

    root: Path
    url: str
    served: EmulatorApp | None = None
    version: int = 0
    index_seconds: float = PROCESSING
    hand: bool = False  # a file attached by hand is in the store (`attach_by_hand`)

    @property
    def manifests(self) -> Path:
        return self.root / "manifests"

    def endpoint(self) -> str:
        """The URL kbctl runs against (an `emulator://` folder takes the processing time)."""
        if self.served is None:
            return f"{self.url}&index_seconds={self.index_seconds}"
        return self.url

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(OPENAI_BASE_URL=self.endpoint(), OPENAI_API_KEY=KEY)
        for name in ("KBCTL_DEBUG", "GITHUB_ACTIONS"):
            env.pop(name, None)
        return env

    def args(self, command: str = "apply") -> list[str]:
        manifest = str(self.manifests / "handbook.yaml")
        extra = ["--auto-approve"] if command == "apply" else ["--detailed-exitcode"]
        return [command, "-e", "local", "-f", manifest, *extra]

    def write(self, version: int) -> None:
        """The manifest, the pages of `version` and their `.metadata.yaml` sidecars."""
        for old in self.manifests.glob("kb/**/*.md*"):
            old.unlink()
        for page in pages(version):
            path = self.manifests / page.key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(page.text)
            extra = {k: v for k, v in page.metadata.items() if k in ("title", "version")}
            sidecar = "".join(f"{k}: {v}\n" for k, v in extra.items())
            path.with_name(path.name + ".metadata.yaml").write_text(sidecar)
        manifest = MANIFEST.replace("STORE", STORE).replace("KEY", page_key(version))
        self.manifests.mkdir(exist_ok=True)
        (self.manifests / "handbook.yaml").write_text(manifest.replace("FIRST", f"w{version}x"))
        self.version = version

    def run(self, command: str = "apply") -> subprocess.CompletedProcess[bytes]:
        """`kbctl COMMAND` as a new process, to its end."""
        proc = kbctl_process(
            self.args(command), cwd=self.root, env=self.env(), stdout=subprocess.PIPE
        )
        out, err = proc.communicate(timeout=120)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def in_process(self, command: str = "apply") -> int:
        """`kbctl COMMAND` in this process (quicker than starting one); its exit code."""
        result = CliRunner().invoke(cli, self.args(command), env=self.env())
        assert result.exit_code in (0, 2), result.output
        return result.exit_code

    def applied_killed(self, switch: KillSwitch, when: Predicate) -> bool:
        """`kbctl apply` as a process, SIGKILLed when the switch says; True if it was."""
        proc = kbctl_process(self.args(), cwd=self.root, env=self.env(), stdout=subprocess.DEVNULL)
        switch.arm(proc, when)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode in (0, -signal.SIGKILL), err.decode()
        return proc.returncode == -signal.SIGKILL

    # -------------------------------------------------------------------- the emulator

    def _with_api(self, use: Callable[[EmulatorApp, OpenAIApi], Any]) -> Any:
        app = self.served or open_emulator(self.endpoint(), SystemClock())
        client = ApiClient(
            "http://emulator.invalid/v1",
            KEY,
            SystemClock(),
            transport=wsgi_transport(app),
            bearer=True,
        )
        try:
            return use(app, OpenAIApi(client))
        finally:
            client.close()
            if self.served is None:
                app.close()  # lets the next process take the folder

    def attach_by_hand(self) -> None:
        """The store, created by hand with a file nobody told kbctl about."""

        def attach(_: EmulatorApp, api: OpenAIApi) -> None:
            store = api.create_store(STORE)
            file_id = api.upload(HAND, b"# FAQ\n\nWritten by hand, attached in the dashboard.\n")
            api.attach(store.id, file_id, {"owner": "support"}, None)

        self._with_api(attach)
        self.hand = True

    def store(self) -> dict[str, Any]:
        """What the emulator holds: the store's files, every File, the stores' names."""

        def read(app: EmulatorApp, _: OpenAIApi) -> dict[str, Any]:
            world = app.openai.world
            (store,) = [s for s in world.stores() if s["name"] == STORE]
            return {
                "attached": world.store_files(str(store["id"])),
                "files": world.files(),
                "stores": [s["name"] for s in world.stores()],
            }

        result: dict[str, Any] = self._with_api(read)
        return result

    def leases(self) -> list[str]:
        """Names of the lease stores (an apply's, while it runs; a killed one's, after)."""
        return [str(n) for n in self.store()["stores"] if str(n).startswith("kbctl-lease")]

    def assert_converged(self) -> None:
        """One file per key with the manifest's attributes, all `completed`; the hand file as it
        was; no File of kbctl's unattached; no other store; a plan with nothing to do."""
        problems = self.differences()
        assert not problems, problems
        assert self.in_process("plan") == 0

    def differences(self) -> list[str]:
        """How the emulator differs from the manifest (what `assert_converged` checks)."""
        try:
            self._compare()
        except AssertionError as err:
            return [str(err)]
        return []

    def _compare(self) -> None:
        seen = self.store()
        attached = seen["attached"]
        ours = [f for f in attached if (f["attributes"] or {}).get("kbctl_key")]
        managed = {f["attributes"]["kbctl_key"]: f for f in ours}
        keys = [str(f["attributes"]["kbctl_key"]) for f in ours]
        assert len(keys) == len(set(keys)), f"duplicate files: {sorted(keys)}"
        wanted = {p.key: p.metadata for p in pages(self.version)}
        assert sorted(managed) == sorted(wanted), f"keys: {sorted(managed)}"
        for key, f in managed.items():
            user = {k: v for k, v in f["attributes"].items() if not k.startswith("kbctl_")}
            assert user == wanted[key], (key, user)
        not_done = [(f["id"], f["status"]) for f in attached if f["status"] != "completed"]
        assert not not_done, not_done
        hand = [f for f in attached if f["id"] not in {m["id"] for m in managed.values()}]
        names = {f["id"]: f["filename"] for f in seen["files"]}
        if self.hand:
            assert [f["attributes"] for f in hand] == [{"owner": "support"}], f"hand: {hand}"
            assert names[hand[0]["id"]] == HAND, names[hand[0]["id"]]
        else:
            assert hand == [], f"unmanaged files: {hand}"
        stray = [names[i] for i in sorted(set(names) - {f["id"] for f in attached})]
        assert not stray, f"Files attached nowhere: {stray}"
        stores = [n for n in seen["stores"] if not n.startswith("kbctl-lease")]
        assert stores == [STORE], f"stores: {stores}"


@pytest.fixture
def book(tmp_path: Path) -> Book:
    made = Book(tmp_path, f"emulator://{tmp_path}/emu?{LATENCY}")
    made.write(0)
    made.attach_by_hand()
    return made


#: Kill points: (what the run reports, the how-manyth, processing time of the killed run).
Point = tuple[EventPredicate, int, float]
FIRST: dict[str, Point] = {
    "after the first upload": (event_named("document_created"), 1, PROCESSING),
    "mid-uploads": (event_named("document_created"), 6, PROCESSING),
    "at the processing gate": (event_named("phase_started", phase="index"), 1, PROCESSING),
    "after the gate": (event_named("gate_passed"), 1, 0.0),
}
CHANGE: dict[str, Point] = {
    "mid-uploads of the new versions": (event_named("document_created"), 2, PROCESSING),
    "at the processing gate": (event_named("phase_started", phase="index"), 1, PROCESSING),
    "right after the swap": (event_named("agent_updated"), 1, 0.0),
    "during the deletions": (event_named("document_deleted"), 1, 0.0),
}


def _kill_then_converge(book: Book, point: Point, *, leaves_work: bool = True) -> None:
    when, nth, processing = point
    book.index_seconds = processing
    args = [*book.args(), "--concurrency", "1"]
    run = apply_killed_after(args, when, nth, cwd=book.root, env=book.env())
    assert run.killed, (run.returncode, run.stderr, run.events[-1:])
    if leaves_work:
        assert book.differences(), "the kill came too late to leave anything undone"
    (lease,) = book.leases()  # the dead run's, naming its process
    assert lease.endswith(f":{run.pid}"), lease
    book.index_seconds = PROCESSING
    again = book.run()
    assert again.returncode == 0, again.stderr.decode()
    book.assert_converged()
    left = book.leases()
    # An apply that wrote took the dead run's lease over and removed both. One with nothing to
    # do takes no lease: the dead run's stays (empty, ignored at once by runs on this machine,
    # expired for others after two minutes) until an apply that changes something.
    assert left in ([], [lease]), left
    if not left:
        return
    book.write(book.version + 1)
    book.in_process()
    book.assert_converged()
    assert book.leases() == []


#: Kill points run by default (a few seconds each); the others are `slow`.
DEFAULT = {
    "first": ("mid-uploads",),
    "change": ("at the processing gate", "right after the swap", "during the deletions"),
}


def _points(points: dict[str, Point], kind: str) -> list[object]:
    return [
        pytest.param(name, marks=() if name in DEFAULT[kind] else pytest.mark.slow)
        for name in points
    ]


@pytest.mark.parametrize("point", _points(FIRST, "first"))
def test_a_first_apply_sigkilled_then_applied_again_converges(book: Book, point: str) -> None:
    _kill_then_converge(book, FIRST[point], leaves_work=point != "after the gate")


@pytest.mark.parametrize("point", _points(CHANGE, "change"))
def test_a_change_sigkilled_then_applied_again_converges(book: Book, point: str) -> None:
    book.index_seconds = 0.0
    book.in_process()
    book.write(1)
    _kill_then_converge(book, CHANGE[point])


# ------------------------------------------------------------------- over a socket, slow


@dataclass
class DetachWitness:
    """WSGI wrapper that looks at the store before each detach of a kbctl file: a key the
    manifest still wants must keep another `completed` file (a search never finds neither
    version), whichever run detaches, killed or not."""

    app: EmulatorApp
    book: Book | None = None
    unsafe: list[str] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        parts = str(environ["PATH_INFO"]).strip("/").split("/")
        if environ["REQUEST_METHOD"] == "DELETE" and parts[1::2] == ["vector_stores", "files"]:
            self._check(parts[2], parts[4])
        result: Iterable[bytes] = self.app(environ, start_response)
        return result

    def _check(self, store_id: str, file_id: str) -> None:
        assert self.book is not None
        listed: list[dict[str, Any]] = self.app.openai.world.store_files(store_id)
        attached = {f["id"]: f for f in listed}
        key = ((attached.get(file_id) or {}).get("attributes") or {}).get("kbctl_key")
        if key is None or key not in {p.key for p in pages(self.book.version)}:
            return
        others = [
            f
            for f in attached.values()
            if f["id"] != file_id
            and (f["attributes"] or {}).get("kbctl_key") == key
            and f["status"] == "completed"
        ]
        if not others:
            self.unsafe.append(f"{key}: {file_id} detached with no completed file left for it")

    def close(self) -> None:
        self.app.close()


def _serve(tmp_path: Path, *, hand: bool) -> Iterator[tuple[Book, KillSwitch]]:
    url = f"emulator://{tmp_path}/served?{LATENCY}&index_seconds={PROCESSING}"
    app = open_emulator(url, SystemClock())
    witness = DetachWitness(app)
    switch = KillSwitch(witness)
    server = EmulatorServer(switch, port=0)  # type: ignore[arg-type]
    server.start()
    book = Book(tmp_path, server.url + "/v1", served=app)
    witness.book = book
    book.write(0)
    if hand:
        book.attach_by_hand()
    yield book, switch
    server.stop()
    assert app.openai.internal_errors == []
    assert witness.unsafe == []


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Book, KillSwitch]]:
    """The store, with a file attached by hand, served over a socket behind a kill switch."""
    yield from _serve(tmp_path, hand=True)


@pytest.fixture
def served_empty(tmp_path: Path) -> Iterator[tuple[Book, KillSwitch]]:
    """No store yet: the first apply creates it by name."""
    yield from _serve(tmp_path, hand=False)


def _nth_store_file_request(method_wanted: str, n: int) -> Predicate:
    """The Nth attach (POST) or detach (DELETE) of a file on a store."""
    seen = [0]

    def when(method: str, path: str, count: int) -> bool:
        parts = path.split("/")
        if method == method_wanted and parts[2:3] == ["vector_stores"] and "files" in parts:
            seen[0] += 1
        return seen[0] >= n

    return when


@pytest.mark.slow
def test_sigkill_at_many_requests_of_successive_changes(served: tuple[Book, KillSwitch]) -> None:
    book, switch = served
    # Calibrate: the requests of an uninterrupted first apply and change.
    switch.arm(None, None)
    book.in_process()
    first = switch.count
    book.write(1)
    switch.arm(None, None)
    book.in_process()
    change = switch.count
    book.assert_converged()
    points: list[tuple[str, Predicate]] = [
        (f"request {n} of {change}", nth_request(n))
        for n in sorted({max(2, int(change * f)) for f in (0.1, 0.3, 0.5, 0.7, 0.9)})
    ]
    points += [
        ("the 3rd upload", nth_request_of("POST", "/v1/files", 3)),
        ("the 2nd attach", _nth_store_file_request("POST", 2)),
        ("the 1st detach", _nth_store_file_request("DELETE", 1)),
        ("the 2nd File delete", nth_request_of("DELETE", "/v1/files/", 2)),
    ]
    killed = []
    for version, (label, when) in enumerate(points, start=2):
        book.write(version)
        if book.applied_killed(switch, when):
            killed.append(label)
        switch.arm(None, None)
        again = book.run()
        assert again.returncode == 0, (label, again.stderr.decode())
        try:
            book.assert_converged()
        except AssertionError as err:
            raise AssertionError(f"after a kill at {label}: {err}") from err
    assert len(killed) >= len(points) - 1, (killed, first)


@pytest.mark.slow
@pytest.mark.parametrize("nth", [1, 2])
def test_a_kill_at_the_store_or_lease_creation_leaves_one_store(
    served_empty: tuple[Book, KillSwitch], nth: int
) -> None:
    """The first apply creates the store by name, then its lease store: killed right as either
    is created (answer lost), the rerun adopts the store by name and makes no second one."""
    book, switch = served_empty
    assert book.applied_killed(switch, nth_request_of("POST", "/v1/vector_stores", nth))
    switch.arm(None, None)
    again = book.run()
    assert again.returncode == 0, again.stderr.decode()
    book.assert_converged()
