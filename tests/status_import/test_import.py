"""`kbctl import` end to end: a hand-built agent becomes a manifest whose plan is a no-op."""

from __future__ import annotations

from pathlib import Path

import yaml

from kbctl.identity import parse_marker
from tests.snapshots.kit import Bench, text_of

HAND_AGENT = "agent_hand_built"
CREATES = (
    "POST /v1/convai/knowledge-base/text",
    "POST /v1/convai/knowledge-base/url",
    "POST /v1/convai/knowledge-base/file",
)
MANIFEST = "imported/birby-front-desk.yaml"


def hand_built(bench: Bench, *, indexed: bool = True) -> dict[str, str]:
    """An agent built in the dashboard: text, URL and file documents, one in prompt mode; the
    auto ones indexed for the agent's model unless `indexed` is false."""
    bench.world.create_agent(
        HAND_AGENT,
        name="Birby Front Desk",
        rag={"enabled": True, "embedding_model": "multilingual_e5_large_instruct"},
    )
    ids = {
        "rules": bench.world.add_document("text", "Booking Rules", text_of("booking rules")),
        "greeting": bench.world.add_document("text", "Greeting", "Say hello and your name.\n"),
        "faq": bench.world.add_document("url", "FAQ page", url="https://birby.example/faq"),
        "prices": bench.world.add_document(
            "file", "price-list.pdf", text_of("prices").encode(), filename="price-list.pdf"
        ),
    }
    types = {"rules": "text", "greeting": "text", "faq": "url", "prices": "file"}
    names = {
        "rules": "Booking Rules",
        "greeting": "Greeting",
        "faq": "FAQ page",
        "prices": "price-list.pdf",
    }
    bench.world.set_knowledge_base(
        HAND_AGENT,
        [
            {
                "type": types[k],
                "name": names[k],
                "id": ids[k],
                "usage_mode": "prompt" if k == "greeting" else "auto",
            }
            for k in ("rules", "greeting", "faq", "prices")
        ],
    )
    if indexed:
        for k in ("rules", "faq", "prices"):
            bench.world.compute_index(ids[k], "multilingual_e5_large_instruct")
        bench.clock.advance(60)
    return ids


def creates(bench: Bench) -> int:
    return sum(bench.world.calls[route] for route in CREATES)


def test_import_then_plan_shows_no_changes(bench: Bench) -> None:
    ids = hand_built(bench)
    uploads = creates(bench)

    out = bench.run("import", "-e", "staging", "--agent-id", HAND_AGENT, "--out", "imported")

    assert out.exit_code == 0, out.output
    assert "Adopted 4 of 4 document(s)" in out.output
    manifest = yaml.safe_load(Path(MANIFEST).read_text())
    assert manifest["version"] == 1 and manifest["project"] == "birby-front-desk"
    assert manifest["environments"] == {"staging": {"agent_id": HAND_AGENT}}
    assert manifest["rag"]["embedding_model"] == "multilingual_e5_large_instruct"
    docs = {d.get("file") or d.get("url"): d["usage_mode"] for d in manifest["documents"]}
    assert docs == {
        "docs/booking-rules.md": "auto",
        "docs/greeting.md": "prompt",
        "https://birby.example/faq": "auto",
        "docs/price-list.md": "auto",
    }
    assert Path("imported/docs/booking-rules.md").read_text() == text_of("booking rules")
    assert Path("imported/docs/price-list.md").read_text() == text_of("prices")
    assert (
        "could not be downloaded" in out.output
        or "cannot be downloaded" in Path(MANIFEST).read_text()
    )
    # Adopted in place: same ids, kbctl's marker in the name, nothing uploaded.
    for doc_id in ids.values():
        doc = bench.world.document(doc_id)
        assert doc is not None
        marker = parse_marker(doc.name)
        assert marker is not None
        assert (marker.project, marker.environment) == ("birby-front-desk", "staging")
    assert creates(bench) == uploads

    plan = bench.run("plan", "-e", "staging", "-f", MANIFEST, "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output

    # The first apply uploads nothing either.
    applied = bench.run("apply", "-e", "staging", "-f", MANIFEST, "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert creates(bench) == uploads
    assert {e.id for e in bench.entries(HAND_AGENT)} == set(ids.values())


def test_import_then_status_shows_no_drift(bench: Bench) -> None:
    hand_built(bench)
    assert (
        bench.run(
            "import", "-e", "staging", "--agent-id", HAND_AGENT, "--out", "imported"
        ).exit_code
        == 0
    )
    out = bench.run("status", "-e", "staging", "-f", MANIFEST, "--detailed-exitcode")
    assert out.exit_code == 0, out.output
    assert "no drift" in out.output


def test_import_refuses_a_non_empty_directory_without_force(bench: Bench) -> None:
    hand_built(bench)
    Path("imported").mkdir()
    Path("imported/notes.txt").write_text("mine")
    calls = bench.world.total_calls

    out = bench.run("import", "-e", "staging", "--agent-id", HAND_AGENT, "--out", "imported")

    assert out.exit_code == 1
    assert "imported is not empty" in out.output
    assert "--force" in out.output
    assert bench.world.total_calls == calls  # refused before any request

    forced = bench.run(
        "import", "-e", "staging", "--agent-id", HAND_AGENT, "--out", "imported", "--force"
    )
    assert forced.exit_code == 0, forced.output
    assert Path("imported/notes.txt").read_text() == "mine"
    assert Path(MANIFEST).is_file()


def test_import_twice_is_harmless(bench: Bench) -> None:
    hand_built(bench)
    first = bench.run("import", "-e", "staging", "--agent-id", HAND_AGENT, "--out", "imported")
    assert first.exit_code == 0
    version = bench.world.agent(HAND_AGENT).version_id  # type: ignore[union-attr]
    again = bench.run(
        "import", "-e", "staging", "--agent-id", HAND_AGENT, "--out", "imported", "--force"
    )
    assert again.exit_code == 0, again.output
    assert "0 renamed in place" in again.output
    assert bench.world.agent(HAND_AGENT).version_id == version  # type: ignore[union-attr]
    assert bench.run("plan", "-e", "staging", "-f", MANIFEST, "--detailed-exitcode").exit_code == 0


def test_documents_of_another_kbctl_project_stay_unmanaged(bench: Bench) -> None:
    ids = hand_built(bench)
    foreign = bench.world.add_document(
        "text", "faq.md · kbctl:other-team/staging · 0123456789ab", text_of("other team")
    )
    info = bench.world.agent(HAND_AGENT)
    assert info is not None
    bench.world.set_knowledge_base(
        HAND_AGENT,
        [
            *[dict(loc) for loc in info.knowledge_base],
            {
                "type": "text",
                "name": "faq.md · kbctl:other-team/staging · 0123456789ab",
                "id": foreign,
            },
        ],
    )

    out = bench.run(
        "import",
        "-e",
        "staging",
        "--agent-id",
        HAND_AGENT,
        "--out",
        "imported",
        "--project",
        "desk",
    )

    assert out.exit_code == 0, out.output
    assert "Adopted 4 of 5 document(s)" in out.output
    assert "kbctl:other-team/staging" in out.output
    doc = bench.world.document(foreign)
    assert doc is not None and doc.name.startswith("faq.md · kbctl:other-team/staging")
    assert len(ids) == 4
    plan = bench.run("plan", "-e", "staging", "-f", "imported/desk.yaml", "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output


def test_rollback_after_import_keeps_the_file_it_could_not_capture(bench: Bench) -> None:
    ids = hand_built(bench)
    assert (
        bench.run(
            "import", "-e", "staging", "--agent-id", HAND_AGENT, "--out", "imported"
        ).exit_code
        == 0
    )
    Path("imported/docs/new.md").write_text(text_of("new"))
    manifest = Path(MANIFEST)
    manifest.write_text(
        manifest.read_text().replace("environments:", "  - file: docs/new.md\nenvironments:")
    )
    applied = bench.run("apply", "-e", "staging", "-f", MANIFEST, "--auto-approve")
    assert applied.exit_code == 0, applied.output
    types = {e.id: e.type for e in bench.entries(HAND_AGENT)}
    assert types[ids["prices"]] == "file"  # still an uploaded file, declared as its text
    before = bench.store.snapshots("staging")[1]
    prices = next(e for e in before.knowledge_base or () if e.id == ids["prices"])
    assert prices.blob is None and not prices.recreatable  # the API cannot give the file back
    assert any("content not captured" in note for note in before.notes)
    uploads = creates(bench)

    out = bench.run(
        "rollback", "-e", "staging", "-f", MANIFEST, "--to", "previous", "--auto-approve"
    )

    assert out.exit_code == 0, out.output
    assert {e.id for e in bench.entries(HAND_AGENT)} == set(ids.values())
    assert creates(bench) == uploads
    for snapshot in bench.store.snapshots("staging"):
        bench.store.verify(snapshot)  # no stand-in content ever became a blob


def test_rollback_refuses_when_an_uncaptured_file_is_gone(bench: Bench) -> None:
    ids = hand_built(bench)
    assert (
        bench.run(
            "import", "-e", "staging", "--agent-id", HAND_AGENT, "--out", "imported"
        ).exit_code
        == 0
    )
    Path("imported/docs/new.md").write_text(text_of("new"))
    manifest = Path(MANIFEST)
    manifest.write_text(
        manifest.read_text().replace("environments:", "  - file: docs/new.md\nenvironments:")
    )
    assert bench.run("apply", "-e", "staging", "-f", MANIFEST, "--auto-approve").exit_code == 0
    info = bench.world.agent(HAND_AGENT)
    assert info is not None
    bench.world.set_knowledge_base(
        HAND_AGENT, [dict(loc) for loc in info.knowledge_base if loc["id"] != ids["prices"]]
    )
    bench.provider.delete_document(ids["prices"])
    writes, world = bench.write_calls(), bench.world_digest()

    out = bench.run(
        "rollback", "-e", "staging", "-f", MANIFEST, "--to", "previous", "--auto-approve"
    )

    assert out.exit_code == 1
    assert "documents are gone and were not captured" in out.output
    assert "docs/price-list.md" in out.output
    assert bench.write_calls() == writes and bench.world_digest() == world


def test_an_imported_agent_whose_documents_were_never_indexed_is_reindexed(bench: Bench) -> None:
    """A hand-made agent whose auto documents were never indexed: after import, status shows
    drift and the plan re-indexes them (nothing uploaded); after apply, no drift."""
    ids = hand_built(bench, indexed=False)
    uploads = creates(bench)
    out = bench.run("import", "-e", "staging", "--agent-id", HAND_AGENT, "--out", "imported")
    assert out.exit_code == 0, out.output

    status = bench.run("status", "-e", "staging", "-f", MANIFEST, "--detailed-exitcode")
    assert status.exit_code == 2, status.output
    assert "3 to reindex" in status.output
    plan = bench.run("plan", "-e", "staging", "-f", MANIFEST, "--detailed-exitcode")
    assert plan.exit_code == 2, plan.output
    assert "3 to reindex" in plan.output

    applied = bench.run("apply", "-e", "staging", "-f", MANIFEST, "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert creates(bench) == uploads  # the same documents, only indexed
    assert {e.id for e in bench.entries(HAND_AGENT)} == set(ids.values())
    again = bench.run("plan", "-e", "staging", "-f", MANIFEST, "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    after = bench.run("status", "-e", "staging", "-f", MANIFEST, "--detailed-exitcode")
    assert after.exit_code == 0, after.output
