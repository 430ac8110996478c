"""`emulator://PATH` URLs, persistence round trips, journal compaction and crash safety."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from kbctl.clock import FakeClock
from kbctl.emulator import EmulatorConfig, Store, World, open_emulator, parse_emulator_url
from kbctl.errors import UsageError
from tests.emulator.conftest import AGENTS, KB, LONG_TEXT, attach, create_text, make_client


def test_parse_relative_absolute_and_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path, settings = parse_emulator_url("emulator://.kbctl/emulator?index_seconds=0&seed=3")
    assert path == tmp_path / ".kbctl" / "emulator"
    assert settings == {"index_seconds": "0", "seed": "3"}
    assert parse_emulator_url("emulator:///abs/dir")[0] == Path("/abs/dir")
    assert parse_emulator_url("plain/dir")[0] == tmp_path / "plain" / "dir"
    with pytest.raises(UsageError):
        parse_emulator_url("emulator://")


def test_url_settings_override_config(tmp_path: Path) -> None:
    app = open_emulator(
        f"emulator://{tmp_path}/s?index_seconds=0&fail_index_containing=BAD&auto_index_on_attach=true",
        FakeClock(),
        EmulatorConfig(seed=5),
    )
    config = app.world.config
    assert config.index_seconds == 0 and config.seed == 5
    assert config.fail_index_containing == ("BAD",) and config.auto_index_on_attach is True
    with pytest.raises(UsageError, match="Unknown emulator setting"):
        open_emulator(f"emulator://{tmp_path}/s?colour=red", FakeClock())
    with pytest.raises(UsageError, match="Invalid emulator setting"):
        open_emulator(f"emulator://{tmp_path}/s?index_seconds=soon", FakeClock())
    with pytest.raises(UsageError):
        EmulatorConfig(fail_rate=2)


def test_round_trip_between_processes(tmp_path: Path) -> None:
    clock = FakeClock()
    url = f"emulator://{tmp_path}/ws"
    first = open_emulator(url, clock)
    first.world.create_agent("agent_a")
    first.world.flush()
    with make_client(first) as c:
        doc = create_text(c, LONG_TEXT, "kept")
        file_doc = c.post(f"{KB}/file", files={"file": ("a.bin", b"\x00\x01raw")}).json()["id"]
        c.post(f"{KB}/{doc}/rag-index", json={"model": "e5_mistral_7b_instruct"})
        attach(c, "agent_a", doc)
        gone = create_text(c, "to delete", "gone")
        c.delete(f"{KB}/{gone}")
        version = c.get(f"{AGENTS}/agent_a").json()["version_id"]

    clock.advance(60)
    second = open_emulator(url, clock)  # a new "kbctl command"
    with make_client(second) as c:
        assert c.get(f"{KB}/{doc}/content").text == LONG_TEXT
        assert second.world.document(file_doc).data == b"\x00\x01raw"  # type: ignore[union-attr]
        assert c.get(f"{KB}/{gone}").status_code == 404
        (ix,) = c.get(f"{KB}/{doc}/rag-index").json()["indexes"]
        assert ix["status"] == "succeeded"  # indexing went on while nobody was looking
        agent = c.get(f"{AGENTS}/agent_a").json()
        assert agent["version_id"] == version
        assert agent["conversation_config"]["agent"]["prompt"]["knowledge_base"][0]["id"] == doc
        assert c.delete(f"{KB}/{doc}").status_code == 409
        new_doc = create_text(c, "after reload", "new")
    assert new_doc not in {doc, file_doc, gone}  # the id sequence continues


def test_in_memory_world_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    world = World(EmulatorConfig(), FakeClock())
    world.add_document("text", "x", "y")
    world.flush()
    world.close()
    assert list(tmp_path.iterdir()) == []


def load_world(path: Path) -> World:
    world = World(EmulatorConfig(), FakeClock())
    world.attach_store(Store(path))
    return world


def test_state_valid_after_many_writes_and_compaction(tmp_path: Path) -> None:
    path = tmp_path / "ws"
    app = open_emulator(str(path), FakeClock())
    assert app.world._store is not None
    app.world._store.compact_every = 50
    with make_client(app) as c:
        ids = [create_text(c, f"text {i}", f"d{i}") for i in range(130)]
        for doc in ids[:40]:
            c.delete(f"{KB}/{doc}")
    state = json.loads((path / "state.json").read_text())
    assert state["format"] == "kbctl-emulator-state" and state["version"] == 1
    journal_lines = (path / "journal.jsonl").read_text().splitlines()
    assert len(journal_lines) < 50
    reloaded = load_world(path)
    assert {d.id for d in reloaded.documents()} == set(ids[40:])
    app.close()
    assert (path / "journal.jsonl").read_text() == ""
    assert {d.id for d in load_world(path).documents()} == set(ids[40:])


def test_torn_last_journal_line_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "ws"
    app = open_emulator(str(path), FakeClock())
    with make_client(app) as c:
        doc = create_text(c, "x", "kept")
    with (path / "journal.jsonl").open("ab") as handle:
        handle.write(b'{"seq": 99, "documents": {"abc"')
    assert [d.id for d in load_world(path).documents()] == [doc]


def test_corrupt_state_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "ws"
    path.mkdir()
    (path / "state.json").write_text("{half")
    with pytest.raises(UsageError, match="corrupt"):
        open_emulator(str(path), FakeClock())
    (path / "state.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(UsageError, match="corrupt"):
        open_emulator(str(path), FakeClock())
    (path / "state.json").unlink()
    (path / "journal.jsonl").write_text('garbage\n{"seq": 1}\n')
    with pytest.raises(UsageError, match="journal"):
        open_emulator(str(path), FakeClock())


def test_state_path_must_be_a_folder(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(UsageError, match="not a folder"):
        open_emulator(str(target), FakeClock())


def test_snapshot_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ws"
    app = open_emulator(str(path), FakeClock())
    with make_client(app) as c:
        create_text(c)
    app.close()
    before = (path / "state.json").read_bytes()

    def fail(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with make_client(app) as c:
        create_text(c)
        with pytest.raises(OSError):
            app.close()
    assert (path / "state.json").read_bytes() == before
    assert not [p for p in path.iterdir() if p.name.endswith(".tmp")]


def test_persistence_failure_is_a_json_500(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = open_emulator(str(tmp_path / "ws"), FakeClock())
    store = app.world._store
    assert store is not None

    def broken(entry: object) -> None:
        raise OSError("read-only file system")

    monkeypatch.setattr(store, "append", broken)
    with make_client(app) as c:
        r = c.post(f"{KB}/text", json={"text": "x"})
    assert r.status_code == 500
    assert r.json()["detail"]["status"] == "internal_server_error"
    app.internal_errors.clear()


def test_many_documents_persist_and_reload(tmp_path: Path) -> None:
    # Speed is measured in benchmarks/, never asserted here.
    app = open_emulator(str(tmp_path / "ws"), FakeClock())
    with make_client(app) as c:
        for i in range(1500):
            r = c.post(f"{KB}/text", json={"text": f"{LONG_TEXT} {i}", "name": f"d{i}"})
            assert r.status_code == 200
    assert len(load_world(tmp_path / "ws").documents()) == 1500


def test_httpx_transport_is_all_a_provider_needs(tmp_path: Path) -> None:
    app = open_emulator(f"emulator://{tmp_path}/t", FakeClock())
    with httpx.Client(
        transport=httpx.WSGITransport(app=app),
        base_url="https://api.elevenlabs.io",
        headers={"xi-api-key": "k"},
    ) as c:
        assert c.get(KB).json() == {"documents": [], "next_cursor": None, "has_more": False}


def test_large_contents_are_blob_files_and_collected(tmp_path: Path) -> None:
    path = tmp_path / "ws"
    app = open_emulator(str(path), FakeClock())
    big = bytes(range(256)) * 400  # 100 KiB, not UTF-8
    with make_client(app) as c:
        doc = c.post(f"{KB}/file", files={"file": ("big.bin", big)}).json()["id"]
        small = c.post(f"{KB}/file", files={"file": ("small.bin", b"\xff\x00")}).json()["id"]
    blobs = list((path / "blobs").glob("*/*"))
    assert len(blobs) == 1 and blobs[0].read_bytes() == big
    reloaded = load_world(path)
    assert reloaded.document(doc).data == big  # type: ignore[union-attr]
    assert reloaded.document(small).data == b"\xff\x00"  # type: ignore[union-attr]
    with make_client(app) as c:
        c.delete(f"{KB}/{doc}")
    app.close()
    assert list((path / "blobs").glob("*/*")) == []
