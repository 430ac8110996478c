"""Promote, don't re-upload: the environments of one project in one workspace share documents.

Every test goes through the CLI and kbctl's real HTTP client against the emulator: staging and
production agents in one workspace, one manifest declaring both environments.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from tests.snapshots.kit import PRODUCTION_AGENT, STAGING_AGENT, Bench, text_of

UPLOADS = ("POST /v1/convai/knowledge-base/text", "POST /v1/convai/knowledge-base/url")
INDEX_REQUEST = "POST /v1/convai/knowledge-base/{documentation_id}/rag-index"
BATCH_INDEX = "POST /v1/convai/knowledge-base/rag-index"

MANIFEST = """\
version: 1
project: demo
rag:
  enabled: true
  embedding_model: multilingual_e5_large_instruct
policy:
  index_timeout: 60
documents:
  - glob: docs/*.md
  - key: rules
    usage_mode: prompt
    text: "Always greet the caller by name."
environments:
  staging:
    agent_id: {staging}
    base_url: https://emulator.kbctl.test
{staging_docs}  production:
    agent_id: {production}
    base_url: https://emulator.kbctl.test
{production_docs}"""


def write(
    bench: Bench,
    staging_extra: tuple[str, ...] = (),
    production_extra: tuple[str, ...] = (),
    production_model: str | None = None,
) -> None:
    """docs/a.md, docs/b.md, docs/c.md for both; `extra/<x>.md` per environment; production's
    own embedding model."""
    for name in ("a", "b", "c"):
        bench.write(f"manifests/docs/{name}.md", text_of(f"{name} v1"))

    def section(extra: tuple[str, ...]) -> str:
        if not extra:
            return ""
        lines = ["    documents:"]
        for name in extra:
            bench.write(f"manifests/extra/{name}.md", text_of(f"extra {name}"))
            lines.append(f"      - file: extra/{name}.md")
        return "\n".join(lines) + "\n"

    bench.write(
        "manifests/kb.yaml",
        MANIFEST.format(
            staging=STAGING_AGENT,
            production=PRODUCTION_AGENT,
            staging_docs=section(staging_extra),
            production_docs=section(production_extra)
            + (
                f"    rag:\n      embedding_model: {production_model}\n" if production_model else ""
            ),
        ),
    )


def apply(bench: Bench, environment: str) -> str:
    out = bench.run("apply", "-e", environment, "--auto-approve")
    assert out.exit_code == 0, out.output
    return out.output


def plan_json(bench: Bench, environment: str) -> dict[str, object]:
    out = bench.run("plan", "-e", environment, "--format", "json", "--no-diff")
    assert out.exit_code in (0, 2), out.output
    data: dict[str, object] = json.loads(out.stdout)
    return data


def changes(plan: dict[str, object]) -> list[dict[str, Any]]:
    found = plan["changes"]
    assert isinstance(found, list)
    return found


def deletions(plan: dict[str, object]) -> list[object]:
    agents = plan["agents"]
    assert isinstance(agents, list)
    return [d for a in agents for d in a["deletions"]]


def quota_used(bench: Bench) -> int:
    used = bench.world.overview()["total_used_bytes"]
    assert isinstance(used, int)
    return used


def uploads(bench: Bench) -> int:
    return sum(bench.world.calls[r] for r in UPLOADS)


def index_requests(bench: Bench) -> int:
    """Index requests the emulator served, and the indexes that exist (a batch request may
    create them too)."""
    return bench.world.calls[INDEX_REQUEST] + len(list(bench.world.indexes()))


def ids(bench: Bench, agent_id: str) -> list[str]:
    return sorted(e.id for e in bench.entries(agent_id))


def test_production_reuses_what_staging_created_and_indexed(bench: Bench) -> None:
    write(bench)
    apply(bench, "staging")
    after_staging = quota_used(bench)
    uploads_before, indexes_before = uploads(bench), index_requests(bench)
    documents_before = len(list(bench.world.documents()))

    planned = plan_json(bench, "production")
    creates = [c for c in changes(planned) if c["action"] == "create"]
    assert len(creates) == 4
    assert all(c["reuse_id"] and not c["needs_index"] for c in creates)
    assert all(any(n.startswith("shared: reuses") for n in c["notes"]) for c in creates)

    apply(bench, "production")

    assert uploads(bench) == uploads_before  # nothing uploaded
    assert index_requests(bench) == indexes_before  # nothing indexed
    assert len(list(bench.world.documents())) == documents_before
    assert ids(bench, PRODUCTION_AGENT) == ids(bench, STAGING_AGENT)
    assert quota_used(bench) == after_staging  # one copy
    for environment in ("staging", "production"):
        assert bench.run("plan", "-e", environment, "--detailed-exitcode").exit_code == 0


def test_removing_a_document_from_staging_keeps_what_production_uses(bench: Bench) -> None:
    write(bench, staging_extra=("x",), production_extra=("x",))
    apply(bench, "staging")
    apply(bench, "production")
    shared_x = {e.key: e.id for e in bench.entries(PRODUCTION_AGENT)}["extra/x.md"]
    assert shared_x in ids(bench, STAGING_AGENT)

    write(bench, production_extra=("x",))  # staging drops x; production keeps it
    planned = plan_json(bench, "staging")
    (dropped,) = [c for c in changes(planned) if c["action"] == "delete"]
    assert dropped["live_id"] == shared_x
    assert any("detached from this agent only" in n for n in dropped["notes"])
    assert deletions(planned) == []
    production_before = ids(bench, PRODUCTION_AGENT)

    output = apply(bench, "staging")

    assert shared_x not in ids(bench, STAGING_AGENT)
    assert ids(bench, PRODUCTION_AGENT) == production_before
    assert bench.world.document(shared_x) is not None
    assert "warning" not in output.lower()
    for environment in ("staging", "production"):  # nothing left to clean up, on either side
        assert bench.run("plan", "-e", environment, "--detailed-exitcode").exit_code == 0
        assert deletions(plan_json(bench, environment)) == []

    write(bench)  # production drops it too: now nobody uses it, and it goes
    apply(bench, "production")
    assert bench.world.document(shared_x) is None


def test_documents_with_environment_markers_are_adopted_without_an_upload(bench: Bench) -> None:
    """A workspace kbctl managed before sharing: each environment has its own copies, named
    `<key> · kbctl:demo/<env> · <hash>`. The first apply after upgrading uploads nothing and
    renames nothing, and the environments keep working."""
    write(bench, staging_extra=("x",))
    for environment in ("staging", "production"):
        target = bench.target(environment)
        agent_entries = []
        for spec in target.documents:
            name = f"{spec.key} · kbctl:demo/{environment} · {spec.content_hash[:12]}"
            doc_id = bench.world.add_document("text", name, spec.content.decode())
            agent_entries.append(
                {"type": "text", "id": doc_id, "name": name, "usage_mode": spec.usage_mode.value}
            )
            if spec.usage_mode.value == "auto":
                bench.world.compute_index(doc_id, "multilingual_e5_large_instruct")
        rag = {"enabled": True, "embedding_model": "multilingual_e5_large_instruct"}
        prompt = {"knowledge_base": agent_entries, "rag": rag}
        bench.world.update_agent(
            target.agent_id, {"conversation_config": {"agent": {"prompt": prompt}}}
        )
    bench.clock.advance(60)
    calls_before = Counter(bench.world.calls)

    for environment in ("staging", "production"):
        planned = bench.run("plan", "-e", environment, "--detailed-exitcode")
        assert planned.exit_code == 0, planned.output
        apply(bench, environment)

    assert uploads(bench) == sum(calls_before[r] for r in UPLOADS)
    assert (
        bench.world.calls["PATCH /v1/convai/knowledge-base/{documentation_id}"] == 0
    )  # no renames
    assert bench.world.calls[INDEX_REQUEST] == calls_before[INDEX_REQUEST]

    # Staging moves ahead with an older-marker document production then wants: reused as is.
    write(bench, staging_extra=("x",), production_extra=("x",))
    uploads_before = uploads(bench)
    apply(bench, "production")
    assert uploads(bench) == uploads_before
    x_ids = {e.key: e.id for e in bench.entries(STAGING_AGENT)}["extra/x.md"]
    assert x_ids in ids(bench, PRODUCTION_AGENT)


def test_another_environments_uploads_do_not_make_a_saved_plan_stale(bench: Bench) -> None:
    """Production's plan waits for approval while staging applies something new: the saved
    plan still applies (its fingerprint covers what it attaches, reuses and deletes)."""
    write(bench)
    apply(bench, "staging")
    assert bench.run("plan", "-e", "production", "--out", "prod.json").exit_code == 0
    write(bench, staging_extra=("x",))
    apply(bench, "staging")

    out = bench.run("apply", "-e", "production", "prod.json", "--auto-approve")

    assert out.exit_code == 0, out.output
    assert {e.key for e in bench.entries(PRODUCTION_AGENT)} == {
        "docs/a.md",
        "docs/b.md",
        "docs/c.md",
        "rules",
    }


def test_production_with_another_embedding_model_reuses_and_only_indexes(bench: Bench) -> None:
    write(bench, production_model="e5_mistral_7b_instruct")
    apply(bench, "staging")
    uploads_before = uploads(bench)
    indexes_before = len(list(bench.world.indexes()))

    apply(bench, "production")

    assert uploads(bench) == uploads_before  # the documents are shared
    assert len(list(bench.world.indexes())) == indexes_before + 3  # a, b, c: the new model
    assert ids(bench, PRODUCTION_AGENT) == ids(bench, STAGING_AGENT)
    assert bench.run("plan", "-e", "production", "--detailed-exitcode").exit_code == 0
