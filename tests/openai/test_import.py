"""`kbctl import` of an OpenAI vector store built by hand, end to end against the emulator:
the manifest, documents and sidecars it writes, the files it adopts in place (no upload), a
plan with no changes afterwards, an apply that writes nothing, and the files it cannot read
reported and left attached as they were."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import yaml
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st

from kbctl import commands
from kbctl.cli.main import cli
from kbctl.clock import SystemClock
from kbctl.emulator import open_emulator
from kbctl.errors import ExitCode, UsageError
from kbctl.importer.store_text import sidecar_text
from kbctl.manifest.yamlpos import parse_yaml
from kbctl.plan.changes import ReplaceDocument
from tests.openai.conftest import KEY, Handbook

STORE_NAME = "Support Desk"
LEAVE = "# Leave\n\nEmployees get 25 days of paid leave in Zürich.\n"
PRICES = "Prices\n\nThe basic plan costs 10 EUR a month.\n"
NOTES = '{"note": "the desk opens at 8"}\n'


def person(handbook: Handbook) -> httpx.Client:
    """Someone at the API building the store by hand: plain HTTP to the same emulator."""
    return httpx.Client(
        transport=httpx.WSGITransport(app=handbook.app),
        base_url="http://emulator/v1",
        headers={"Authorization": f"Bearer {KEY}"},
    )


def hand_built_store(handbook: Handbook) -> dict[str, str]:
    """A store with files attached by hand; their ids by a short name."""
    handbook.world.replace_config(fail_index_containing=("BROKEN",))
    crowded = {f"k{i:02d}": i for i in range(13)}
    stranger = {
        "kbctl_key": "faq.md",
        "kbctl_owner": "someone-else/prod",
        "kbctl_hash": "0123456789ab",
        "kbctl_type": "text",
    }
    files: list[tuple[str, str, bytes, dict[str, Any] | None, dict[str, Any] | None]] = [
        ("leave", "Leave Policy.md", LEAVE.encode(), _leave_attrs(), None),
        ("prices", "prices.txt", PRICES.encode(), None, _static(400, 100)),
        ("pdf", "handbook.pdf", b"%PDF-1.4 the handbook as a PDF", {"dept": "all"}, None),
        ("broken", "broken.md", b"This one is BROKEN.\n", {"dept": "it"}, None),
        ("crowded", "crowded.md", b"Too many attributes.\n", crowded, None),
        ("stranger", "faq.md", b"Another project's file.\n", stranger, None),
        ("notes", "notes.json", NOTES.encode(), {"dept": "it"}, None),
        ("leave2", "Leave Policy.md", b"# Leave (old copy)\n\nSee the new one.\n", None, None),
    ]
    ids: dict[str, str] = {}
    with person(handbook) as api:
        store = api.post("/vector_stores", json={"name": STORE_NAME}).json()["id"]
        ids["store"] = store
        for short, name, data, attributes, chunking in files:
            upload = api.post(
                "/files", files={"file": (name, data)}, data={"purpose": "assistants"}
            )
            ids[short] = upload.json()["id"]
            body: dict[str, Any] = {"file_id": ids[short], "attributes": attributes}
            if chunking is not None:
                body["chunking_strategy"] = chunking
            assert api.post(f"/vector_stores/{store}/files", json=body).status_code == 200
    handbook.clock.advance(10)
    return ids


def _leave_attrs() -> dict[str, Any]:
    return {
        "dept": "hr",
        "version": 3,
        "public": True,
        "score": 0.75,
        "title": "Leave ${policy} – Zürich",
        "updated_at": 1767225600,
    }


def _static(size: int, overlap: int) -> dict[str, Any]:
    return {
        "type": "static",
        "static": {"max_chunk_size_tokens": size, "chunk_overlap_tokens": overlap},
    }


def attributes(handbook: Handbook, store: str) -> dict[str, dict[str, Any]]:
    return {
        str(f["id"]): cast(dict[str, Any], f["attributes"] or {})
        for f in handbook.world.store_files(store)
    }


def writes(handbook: Handbook) -> list[tuple[str, str]]:
    return [(m, p) for m, p in handbook.recorder.requests if m != "GET"]


def test_import_adopts_the_files_it_can_read_and_the_next_plan_shows_no_changes(
    handbook: Handbook, tmp_path: Path
) -> None:
    ids = hand_built_store(handbook)
    store = ids["store"]
    before = attributes(handbook, store)
    out = tmp_path / "imported"
    handbook.recorder.requests.clear()

    result = commands.import_store(
        handbook.session, "prod", out, vector_store_id=store, project="support"
    )

    # Nothing uploaded: one attribute write per adopted file, nothing else.
    adopted = {d.id: d for d in result.documents if d.key is not None}
    assert set(adopted) == {ids["leave"], ids["prices"], ids["notes"], ids["leave2"]}
    assert sorted(writes(handbook)) == sorted(
        ("POST", f"/v1/vector_stores/{store}/files/{i}") for i in adopted
    )
    assert result.renamed == 4 and result.sidecars == 2
    keys = {i: d.key for i, d in adopted.items()}
    assert keys == {
        ids["leave"]: "docs/Leave-Policy.md",
        ids["leave2"]: "docs/Leave-Policy-2.md",
        ids["prices"]: "docs/prices.txt",
        ids["notes"]: "docs/notes.json.txt",
    }
    assert (out / "docs/Leave-Policy.md").read_text() == LEAVE
    assert (out / "docs/notes.json.txt").read_text() == NOTES
    sidecar = yaml.safe_load((out / "docs/Leave-Policy.md.metadata.yaml").read_text())
    assert sidecar == {**_leave_attrs(), "title": "Leave $${policy} – Zürich"}
    manifest = (out / "support.yaml").read_text()
    assert "provider: openai" in manifest and f"vector_store_id: {store}" in manifest
    static = "chunking: {strategy: static, max_chunk_size_tokens: 400, chunk_overlap_tokens: 100}"
    assert static in manifest
    assert "parsed text" in " ".join(result.notes)

    # Every file kbctl cannot read is reported, and stays attached exactly as it was.
    reported = {d.id: d.note for d in result.documents if d.key is None}
    assert set(reported) == {ids["pdf"], ids["broken"], ids["crowded"], ids["stranger"]}
    assert "does not give back the original" in reported[ids["pdf"]]
    assert "processing is failed" in reported[ids["broken"]]
    assert "more than 12 attributes" in reported[ids["crowded"]]
    assert "kbctl:someone-else/prod" in reported[ids["stranger"]]
    for file_id in reported:
        assert re.search(rf"# not managed \(kept as is\): .* \({file_id}\)", manifest)
    after = attributes(handbook, store)
    assert {i: after[i] for i in reported} == {i: before[i] for i in reported}
    leave = after[ids["leave"]]
    assert {k: v for k, v in leave.items() if not k.startswith("kbctl_")} == _leave_attrs()
    assert leave["kbctl_key"] == "docs/Leave-Policy.md"
    assert leave["kbctl_owner"] == "support/prod"

    # The next plan shows no changes; apply writes nothing.
    plan = commands.plan(handbook.session, "prod", [result.manifest_path]).plan
    assert not plan.has_changes and commands.plan_verdict(plan) is None
    assert plan.summary.noop == 4
    assert {e.id for e in plan.agents[0].unmanaged} == set(reported)
    handbook.recorder.requests.clear()
    run = commands.apply(handbook.session, "prod", [result.manifest_path], auto_approve=True)
    assert not run.results and writes(handbook) == []
    assert attributes(handbook, store) == after


def test_the_imported_manifest_drives_the_store_like_any_other(
    handbook: Handbook, tmp_path: Path
) -> None:
    ids = hand_built_store(handbook)
    store = ids["store"]
    out = tmp_path / "imported"
    result = commands.import_store(handbook.session, "prod", out, vector_store_id=store)
    assert result.project == "support-desk"  # from the store's name
    files = [result.manifest_path]

    # A metadata edit is an update in place.
    sidecar = out / "docs/Leave-Policy.md.metadata.yaml"
    sidecar.write_text(sidecar.read_text().replace("version: 3", "version: 4"))
    # A content edit replaces the file; the old File is detached but kept: kbctl did not
    # upload it.
    (out / "docs/prices.txt").write_text(PRICES + "The pro plan costs 20 EUR.\n")
    plan = commands.plan(handbook.session, "prod", files).plan
    assert (plan.summary.update, plan.summary.replace, plan.summary.create) == (1, 1, 0)
    # Its diff is against the live text, read from the store's parsed text (the API keeps
    # the File's bytes to itself).
    (replace,) = [c for c in plan.agents[0].changes if isinstance(c, ReplaceDocument)]
    assert replace.diff is not None and "+The pro plan costs 20 EUR." in replace.diff
    commands.apply(handbook.session, "prod", files, auto_approve=True)
    live = attributes(handbook, store)
    assert live[ids["leave"]]["version"] == 4
    assert ids["prices"] not in live and ids["prices"] in handbook.world.file_ids()
    new_prices = [i for i, a in live.items() if a.get("kbctl_key") == "docs/prices.txt"]
    assert len(new_prices) == 1
    (fresh,) = [f for f in handbook.world.store_files(store) if f["id"] == new_prices[0]]
    assert fresh["chunking_strategy"] == _static(400, 100)
    assert not commands.plan(handbook.session, "prod", files).plan.has_changes


def test_a_second_import_keeps_the_keys_and_writes_nothing(
    handbook: Handbook, tmp_path: Path
) -> None:
    ids = hand_built_store(handbook)
    out = tmp_path / "imported"
    first = commands.import_store(handbook.session, "prod", out, vector_store_name=STORE_NAME)
    assert 'vector_store: {name: "Support Desk"}' in first.manifest_path.read_text()
    with pytest.raises(UsageError, match="is not empty"):
        commands.import_store(handbook.session, "prod", out, vector_store_id=ids["store"])
    # A file of this project's that failed processing (a crashed or broken upload).
    ours = {"kbctl_key": "docs/x.md", "kbctl_owner": f"{first.project}/prod"}
    with person(handbook) as api:
        upload = api.post(
            "/files", files={"file": ("x.md", b"BROKEN")}, data={"purpose": "assistants"}
        )
        body = {"file_id": upload.json()["id"], "attributes": {**ours, "kbctl_hash": "0" * 12}}
        assert api.post(f"/vector_stores/{ids['store']}/files", json=body).status_code == 200
    handbook.clock.advance(10)
    handbook.recorder.requests.clear()

    again = commands.import_store(
        handbook.session, "prod", out, vector_store_name=STORE_NAME, force=True
    )
    assert again.renamed == 0 and writes(handbook) == []
    assert [d.key for d in again.documents][:-1] == [d.key for d in first.documents]
    assert "kbctl's own file, its processing failed: the next apply deletes it" in again.notes[-1]
    assert not commands.plan(handbook.session, "prod", [again.manifest_path]).plan.has_changes


def test_where_the_api_gives_files_back_a_pdf_is_imported_as_it_is(
    handbook: Handbook, tmp_path: Path
) -> None:
    ids = hand_built_store(handbook)
    handbook.world.replace_config(openai_download_any_purpose=True)
    out = tmp_path / "imported"
    result = commands.import_store(
        handbook.session, "prod", out, vector_store_id=ids["store"], docs_dir="kb/support"
    )
    (pdf,) = [d for d in result.documents if d.id == ids["pdf"]]
    assert pdf.key == "kb/support/handbook.pdf" and pdf.doc_type.value == "file"
    assert (out / "kb/support/handbook.pdf").read_bytes() == b"%PDF-1.4 the handbook as a PDF"
    assert not any("parsed text" in n for n in result.notes)
    assert not commands.plan(handbook.session, "prod", [result.manifest_path]).plan.has_changes


attribute_values = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()),
    st.booleans(),
)


attribute_keys = st.text(min_size=1, max_size=20).filter(lambda k: "${" not in k)


@given(
    st.dictionaries(
        attribute_keys | st.sampled_from(["on", "no", "null", "1e5", "a b"]),
        attribute_values | st.sampled_from(["${X}", "yes", "~", "-1", "x: y"]),
        max_size=6,
    )
)
def test_a_sidecar_reads_back_as_the_attributes_it_was_written_from(
    attrs: dict[str, str | int | float | bool],
) -> None:
    metadata = tuple(sorted(attrs.items()))
    parsed = parse_yaml(sidecar_text(metadata, "a.md", "file-1"), "a.md.metadata.yaml")
    assert not parsed.diagnostics
    read = parsed.data or {}
    # `${` is written `$${` (kbctl reads it back as a literal `${`).
    assert read == {
        k: v.replace("${", "$${") if isinstance(v, str) else v for k, v in attrs.items()
    }


def test_kbctl_import_of_a_vector_store_on_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"emulator://{tmp_path}/emu?index_seconds=0"
    app = open_emulator(url, SystemClock())
    with httpx.Client(
        transport=httpx.WSGITransport(app=app),
        base_url="http://emulator/v1",
        headers={"Authorization": "Bearer sk-person"},
    ) as api:
        store = api.post("/vector_stores", json={"name": "desk"}).json()["id"]
        upload = api.post(
            "/files", files={"file": ("faq.md", LEAVE.encode())}, data={"purpose": "assistants"}
        )
        body = {"file_id": upload.json()["id"], "attributes": {"dept": "hr"}}
        assert api.post(f"/vector_stores/{store}/files", json=body).status_code == 200
    app.close()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)

    def kbctl(*args: str) -> Result:
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
        assert KEY not in result.output
        return result

    both = kbctl(
        "import", "-e", "prod", "--out", "kb", "--agent-id", "a", "--vector-store-id", store
    )
    assert both.exit_code == ExitCode.ERROR and "one" in both.output
    wrong = kbctl("import", "-e", "prod", "--out", "kb", "--provider", "elevenlabs",
                  "--vector-store-id", store)  # fmt: skip
    assert wrong.exit_code == ExitCode.ERROR and "does not go with" in wrong.output
    outside = kbctl("import", "-e", "prod", "--out", "kb", "--vector-store-id", store,
                    "--docs-dir", "../elsewhere")  # fmt: skip
    assert outside.exit_code == ExitCode.ERROR and "inside the output directory" in outside.output
    agent = kbctl("import", "-e", "prod", "--out", "kb", "--agent-id", "a", "--docs-dir", "d")
    assert agent.exit_code == ExitCode.ERROR and "--docs-dir is for OpenAI" in agent.output
    assert not (tmp_path / "kb").exists()  # refused before anything was written
    done = kbctl("import", "-e", "prod", "--out", "kb", "--vector-store-id", store)
    assert done.exit_code == 0, done.output
    assert f"Imported vector store {store} (desk)" in done.output
    assert "Adopted 1 of 1 file(s): kbctl's attributes written in place on 1" in done.output
    assert (tmp_path / "kb/docs/faq.md.metadata.yaml").read_text().endswith("dept: hr\n")
    plan = kbctl("plan", "-e", "prod", "-f", "kb/desk.yaml", "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output


def test_hostile_file_names_and_keys_in_the_store_stay_inside_the_output_directory(
    handbook: Handbook, tmp_path: Path
) -> None:
    """A store is live data: file names climbing out (`../`, `..\\`, absolute), a marker whose
    key climbs out, and the API key inside a file's content write nothing outside `--out`
    and never write the key."""
    own = {
        "kbctl_key": "../escape-by-key.md",
        "kbctl_owner": "support/prod",
        "kbctl_hash": "0123456789ab",
        "kbctl_type": "text",
    }
    files: list[tuple[str, bytes, dict[str, Any] | None]] = [
        ("../../escape-by-name.md", b"# Climbing\n\nOut of the folder.\n", None),
        ("..\\..\\escape-windows.md", b"# Windows\n\nBackslashes.\n", None),
        ("/etc/escape-absolute.md", b"# Absolute\n\nRooted.\n", None),
        ("keyed.md", b"# Keyed\n\nOut by its marker key.\n", own),
        ("secret.md", f"# Secret\n\nThe key is {KEY}.\n".encode(), None),
    ]
    with person(handbook) as api:
        store = api.post("/vector_stores", json={"name": "hostile"}).json()["id"]
        for name, data, attrs in files:
            upload = api.post(
                "/files", files={"file": (name, data)}, data={"purpose": "assistants"}
            )
            body = {"file_id": upload.json()["id"], "attributes": attrs}
            assert api.post(f"/vector_stores/{store}/files", json=body).status_code == 200
    handbook.clock.advance(10)
    out = tmp_path / "work" / "imported"
    before = {p for p in tmp_path.rglob("*") if p.is_file()}

    result = commands.import_store(
        handbook.session, "prod", out, vector_store_id=store, project="support"
    )

    emulator = tmp_path / "emu"  # the emulator's own state folder
    new = {p for p in tmp_path.rglob("*") if p.is_file() and emulator not in p.parents}
    written = sorted(new - before)
    outside = [p for p in written if out not in p.parents]
    assert written and outside == [], outside
    for path in written:
        assert KEY not in path.read_text(encoding="utf-8", errors="replace"), path
    keys = [d.key for d in result.documents if d.key is not None]
    assert keys and all(not k.startswith(("/", "../")) and ".." not in k.split("/") for k in keys)
