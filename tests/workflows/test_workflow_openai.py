"""The GitHub workflows with an OpenAI vector store: the handbook example (`provider: openai`,
manifests/handbook.yaml) given staging and production stores as docs/github-actions.md#openai-
vector-stores shows, in a repository that also holds the ElevenLabs example. A pull request plans
both with the read keys, a merge applies both with the write keys, the daily job then finds no
drift and passing checks; no key ever appears in a log, summary, file or comment. Run by the
fake runner against the embedded emulator (which serves the OpenAI API too)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.workflows.conftest import DOCS, ROOT, adoption_snippet
from tests.workflows.fake_runner import git, load_yaml
from tests.workflows.test_workflow_runs import (
    PLAN_MARKER,
    READ_KEY,
    WRITE_PRODUCTION,
    WRITE_STAGING,
    Repo,
    assert_secret_hidden,
    make_repo,
)

OPENAI_READ = "sk-proj-test-read-5d4c3b2a-do-not-print"
OPENAI_WRITE_STAGING = "sk-proj-test-write-staging-1f2e-do-not-print"
OPENAI_WRITE_PRODUCTION = "sk-proj-test-write-production-9a8b-do-not-print"
KEYS = (
    READ_KEY,
    WRITE_STAGING,
    WRITE_PRODUCTION,
    OPENAI_READ,
    OPENAI_WRITE_STAGING,
    OPENAI_WRITE_PRODUCTION,
)
#: The lines docs/github-actions.md#openai-vector-stores adds under the snippet's secrets.
SECRET_LINES = (
    "      OPENAI_READ_API_KEY: ${{ secrets.OPENAI_READ_API_KEY }}\n"
    "      OPENAI_WRITE_API_KEY: ${{ secrets.OPENAI_WRITE_API_KEY }}\n"
)
ENVIRONMENTS = """\
environments:
  local:
    base_url: emulator://.kbctl/emulator
    vector_store: {name: company-handbook-local}
  staging:
    vector_store: {name: company-handbook-staging}
  production:
    vector_store: {name: company-handbook-production}
    protect: true
"""
HANDBOOK = "manifests/handbook.yaml"
LEAVE = "manifests/kb/hr/leave/annual-leave.md"


@pytest.fixture
def repo(tmp_path: Path, fake_bin: Path, kbctl_bin: Path) -> Repo:
    docs = DOCS.read_text(encoding="utf-8")
    assert all(line.strip() in docs for line in SECRET_LINES.splitlines())
    repo = make_repo(tmp_path, fake_bin, kbctl_bin, adoption_snippet() + SECRET_LINES)
    store_accepts(repo, OPENAI_READ)
    repo.secrets["OPENAI_READ_API_KEY"] = OPENAI_READ
    repo.environment_secrets["staging"] = {"OPENAI_WRITE_API_KEY": OPENAI_WRITE_STAGING}
    repo.environment_secrets["production"] = {"OPENAI_WRITE_API_KEY": OPENAI_WRITE_PRODUCTION}
    text = git(["show", f"main:{HANDBOOK}"], repo.origin)
    start = text.index("environments:\n")
    end = text.index("checks:\n")
    repo.commit(HANDBOOK, text[:start] + ENVIRONMENTS + text[end:], "Handbook: staging, production")
    return repo


def store_accepts(repo: Repo, key: str) -> None:
    """The emulated OpenAI API answers this key only (401 to any other, or none)."""
    repo.vars["OPENAI_BASE_URL"] = f"emulator://{repo.emulator}?index_seconds=0&api_key={key}"


def handbook_agents(plan_file: Path) -> list[dict[str, object]]:
    plan = json.loads(plan_file.read_text(encoding="utf-8"))
    return [a for a in plan["agents"] if a["project"] == "company-handbook"]


def test_an_openai_manifest_plans_on_pull_requests_and_applies_on_merge(repo: Repo) -> None:
    base = repo.head()
    text = git(["show", f"main:{LEAVE}"], repo.origin)
    head = repo.commit(LEAVE, text + "\nUnused days expire on 31 March.\n", "Leave: expiry")

    pull = repo.pull_request(base, head)
    job = pull.job("plan")
    assert job.result == "success", job.log()
    for env in ("staging", "production"):
        step = job.step(env)
        assert step.with_["openai-api-key"] == OPENAI_READ  # a read key, never a write key
        assert step.with_["api-key"] == READ_KEY
        assert step.outputs["status"] == "changes"
        (handbook,) = handbook_agents(Path(step.outputs["plan-json"]))
        assert handbook["has_changes"] is True  # a new store: every handbook file to create
    (comment,) = [p["body"] for m, p in pull.api_calls if m == "createComment"]  # type: ignore[attr-defined]
    assert comment.startswith(PLAN_MARKER) and "company-handbook" in comment
    for key in KEYS:
        assert key not in comment
    assert_secret_hidden(job, *KEYS)

    # A missing OpenAI key fails the handbook's plan: the key is what the store answers to.
    repo.secrets["OPENAI_READ_API_KEY"] = ""
    keyless = repo.pull_request(base, head).job("plan")
    assert keyless.result == "failure"
    assert keyless.step("staging").outputs["status"] == "error"
    repo.secrets["OPENAI_READ_API_KEY"] = OPENAI_READ

    # On merge the same store answers the plans' read key and the applies' write key (one
    # emulated store checks one key: the two are the same here, their secrets still differ).
    write_key = "sk-proj-test-write-merge-77aa-do-not-print"
    store_accepts(repo, write_key)
    repo.secrets["OPENAI_READ_API_KEY"] = write_key
    repo.environment_secrets["staging"] = {"OPENAI_WRITE_API_KEY": write_key}
    repo.environment_secrets["production"] = {"OPENAI_WRITE_API_KEY": write_key}
    merged = repo.merge(base, head)
    for env in ("staging", "production"):
        apply = merged.job(f"apply-{env}")
        assert apply.result == "success", apply.log()
        step = apply.step("apply")
        assert step.with_["openai-api-key"] == write_key
        assert "secrets.OPENAI_WRITE_API_KEY" in str(apply_steps()[env]["with"])
        assert "company-handbook" in apply.log() and "index gate passed" in apply.log()
        assert f"### ✅ kbctl apply: {env}" in apply.summary
        assert_secret_hidden(apply, *KEYS, write_key)
        assert_secret_hidden(merged.job(f"plan-{env}"), *KEYS, write_key)

    # The live stores now match, and the handbook's checks pass on the store's search.
    drift, calls = repo.schedule({"issues": []})
    job = drift.job("drift")
    assert job.result == "success", job.log()
    for env in ("staging", "production"):
        assert job.step(env).outputs["drift"] == "false", job.log()
        assert job.step(f"checks-{env}").outputs["status"] == "passed", job.log()
    assert calls == []
    assert_secret_hidden(job, *KEYS, write_key)


def apply_steps() -> dict[str, dict[str, object]]:
    """The apply step of each apply job of the reusable workflow."""
    jobs = load_yaml(ROOT / ".github" / "workflows" / "kbctl.yml")["jobs"]
    return {
        env: next(s for s in jobs[f"apply-{env}"]["steps"] if s.get("id") == "apply")
        for env in ("staging", "production")
    }
