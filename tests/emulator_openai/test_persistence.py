"""The OpenAI side persisted in the emulator's state folder (subfolder `openai/`): a clean
shutdown and a crash (journal only) both reload to the same answers; `vector_store` settings on
`emulator://` URLs and `kbctl emulator serve --vector-store`."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from kbctl.cli.main import cli
from kbctl.clock import FakeClock
from kbctl.emulator import open_emulator
from kbctl.errors import UsageError
from tests.emulator_openai.conftest import API_KEY, attach, make_client, new_store, ok, upload

BIG = ("A long handbook line about refunds and receipts. " * 2000).strip()  # ~100 KB


def populate(client: httpx.Client, clock: FakeClock) -> dict[str, str]:
    small, big, gone = upload(client), upload(client, BIG, "big.md"), upload(client, "x", "x.md")
    meta = {
        "metadata": {"owner": "kbctl"},
        "expires_after": {"anchor": "last_active_at", "days": 7},
    }
    store = new_store(client, name="kb", **meta)
    strategy = {
        "type": "static",
        "static": {"max_chunk_size_tokens": 300, "chunk_overlap_tokens": 0},
    }
    attach(client, store, small, attributes={"dept": "hr", "version": 2, "draft": False})
    attach(client, store, gone)
    batch = ok(
        client.post(
            f"/vector_stores/{store}/file_batches",
            json={"files": [{"file_id": big, "chunking_strategy": strategy}]},
        )
    )
    clock.advance(10)
    late = upload(client, "late", "late.md")
    cancelled = ok(client.post(f"/vector_stores/{store}/file_batches", json={"file_ids": [late]}))
    ok(client.post(f"/vector_stores/{store}/file_batches/{cancelled['id']}/cancel"))
    ok(client.post(f"/vector_stores/{store}/files/{small}", json={"attributes": {"dept": "it"}}))
    ok(client.delete(f"/files/{gone}"))
    return {"store": store, "small": small, "big": big, "batch": batch["id"], "late": late}


def observe(client: httpx.Client, ids: dict[str, str]) -> list[object]:
    """Every answer that depends on the saved state."""
    store = ids["store"]
    paths = [
        "/files?order=asc",
        f"/files/{ids['big']}",
        "/vector_stores",
        f"/vector_stores/{store}",
        f"/vector_stores/{store}/files?order=asc",
        f"/vector_stores/{store}/file_batches/{ids['batch']}",
        f"/vector_stores/{store}/file_batches/{ids['batch']}/files",
        f"/vector_stores/{store}/files/{ids['late']}",
    ]
    seen: list[object] = [ok(client.get(p)) for p in paths]
    seen.append(client.get(f"/files/{ids['big']}/content").content)
    hits = client.post(f"/vector_stores/{store}/search", json={"query": "receipts refunds"})
    seen.append(ok(hits)["data"])
    return seen


@pytest.mark.parametrize("clean", [True, False])
def test_reload_gives_the_same_answers(tmp_path: Path, clean: bool) -> None:
    clock = FakeClock()
    folder = tmp_path / "emu"
    app = open_emulator(f"emulator://{folder}?index_seconds=10", clock)
    with make_client(app) as client:
        ids = populate(client, clock)
        before = observe(client, ids)
    if clean:
        app.close()
        state = json.loads((folder / "openai" / "state.json").read_text())
        assert set(state["stores"]) == {ids["store"]}
        assert (folder / "openai" / "journal.jsonl").read_text() == ""
        assert len(list((folder / "openai" / "blobs").glob("*/*"))) == 1  # the big File
    else:
        assert (folder / "openai" / "journal.jsonl").read_text().count("\n") > 5
    again = open_emulator(f"emulator://{folder}?index_seconds=10", clock)
    with make_client(again) as client:
        assert observe(client, ids) == before
        fresh = upload(client, "after reload", "new.md")
        assert fresh not in ids.values()  # the id counter was restored
    assert app.openai.internal_errors == [] and again.openai.internal_errors == []


def test_url_settings_precreate_a_store_once(tmp_path: Path) -> None:
    clock = FakeClock()
    url = f"emulator://{tmp_path / 'emu'}?vector_store=vs_local&index_seconds=0"
    with make_client(open_emulator(url, clock)) as client:
        first = ok(client.get("/vector_stores/vs_local"))
        ok(client.post("/vector_stores/vs_local", json={"name": "renamed"}))
    clock.advance(100)
    with make_client(open_emulator(url, clock)) as client:
        again = ok(client.get("/vector_stores/vs_local"))
    assert again["created_at"] == first["created_at"] and again["name"] == "renamed"


def test_a_corrupt_state_is_a_usage_error(tmp_path: Path) -> None:
    folder = tmp_path / "emu"
    (folder / "openai").mkdir(parents=True)
    (folder / "openai" / "state.json").write_text("{not json")
    with pytest.raises(UsageError) as caught:
        open_emulator(f"emulator://{folder}", FakeClock())
    assert "openai" in caught.value.summary


def test_bad_vector_store_id_is_a_usage_error() -> None:
    result = CliRunner().invoke(
        cli, ["emulator", "serve", "--vector-store", "store1", "--port", "0"]
    )
    assert result.exit_code == 1
    assert "must start with vs_" in result.output


def test_serve_precreates_and_persists_vector_stores(tmp_path: Path) -> None:
    state = tmp_path / "state"
    cmd = [sys.executable, "-m", "kbctl", "emulator", "serve", "--port", "0", "--state", str(state)]
    cmd += ["--vector-store", "vs_cli", "--api-key", API_KEY, "--index-seconds", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), url
        headers = {"Authorization": f"Bearer {API_KEY}"}
        with httpx.Client(base_url=url + "/v1", headers=headers) as client:
            assert ok(client.get("/vector_stores/vs_cli"))["status"] == "completed"
            file_id = upload(client, "served", "s.md")
            assert attach(client, "vs_cli", file_id)["status"] == "completed"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 0 and "Traceback" not in err
    saved = json.loads((state / "openai" / "state.json").read_text())
    assert set(saved["stores"]) == {"vs_cli"}
    assert set(saved["attachments"]) == {f"vs_cli/{file_id}"}


def test_url_settings_choose_unconfirmed_behaviour(tmp_path: Path) -> None:
    url = f"emulator://{tmp_path / 'emu'}?openai_reattach=replace&openai_file_delete_detaches=no"
    app = open_emulator(url, FakeClock())
    assert app.openai.world.config.openai_reattach == "replace"
    assert app.openai.world.config.openai_file_delete_detaches is False
    with pytest.raises(UsageError) as caught:
        open_emulator(f"emulator://{tmp_path / 'x'}?openai_reattach=sometimes", FakeClock())
    assert "openai_reattach must be existing, replace or error" in str(caught.value.detail)
