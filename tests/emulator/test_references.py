"""Dependents are kept per branch head as heads change (not rebuilt over every agent and
document): after any sequence of attaches, branches, archives and deletes, dependent-agents
answers what a full scan of the live heads would."""

from __future__ import annotations

import random

import httpx

from kbctl.emulator import World
from kbctl.emulator.workspace.references import References
from tests.emulator.conftest import AGENTS, KB, create_text


def test_references_track_heads_and_release_times() -> None:
    refs = References()
    refs.set_head(("a", "main"), {"d1", "d2"}, now=1.0)
    refs.set_head(("b", "main"), {"d2"}, now=2.0)
    assert refs.holders("d2") == [("a", "main"), ("b", "main")]
    refs.set_head(("a", "main"), {"d1"}, now=3.0)
    assert refs.holders("d2") == [("b", "main")] and refs.released_at("d2") is None
    refs.set_head(("b", "main"), set(), now=4.0)
    assert refs.holders("d2") == [] and refs.released_at("d2") == 4.0
    refs.set_head(("c", "x"), {"d2"}, now=5.0)
    assert refs.released_at("d2") is None  # in use again
    assert refs.held_by(("c", "x")) == frozenset({"d2"})


def brute_force(world: World, client: httpx.Client, doc_ids: list[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {d: set() for d in doc_ids}
    for agent in world.agents():
        branches = client.get(f"{AGENTS}/{agent.agent_id}/branches").json()["results"]
        for branch in branches:
            for ref in world.branch_references(agent.agent_id, branch["id"]):
                if ref in out:
                    out[ref].add(f"{agent.agent_id}/{branch['id']}")
    return out


def test_dependents_match_a_full_scan(client: httpx.Client, world: World) -> None:
    rng = random.Random(7)
    docs = [create_text(client, name=f"d{i}") for i in range(8)]
    for agent_id in ("agent_a", "agent_b", "agent_c"):
        world.create_agent(agent_id)
    for _ in range(60):
        agent_id = rng.choice(["agent_a", "agent_b", "agent_c"])
        branches = client.get(f"{AGENTS}/{agent_id}/branches").json()["results"]
        move = rng.random()
        if move < 0.6:
            branch = rng.choice(branches)["id"]
            chosen = rng.sample(docs, rng.randint(0, 3))
            kb = [{"type": "text", "name": d, "id": d} for d in chosen]
            r = client.patch(
                f"{AGENTS}/{agent_id}",
                params={"branch_id": branch},
                json={"conversation_config": {"agent": {"prompt": {"knowledge_base": kb}}}},
            )
            assert r.status_code == 200, r.text
        elif move < 0.8:
            head = client.get(f"{AGENTS}/{agent_id}").json()["version_id"]
            client.post(
                f"{AGENTS}/{agent_id}/branches",
                json={"parent_version_id": head, "name": f"b{rng.random()}", "description": ""},
            )
        elif len(branches) > 1:
            client.patch(
                f"{AGENTS}/{agent_id}/branches/{branches[-1]['id']}", json={"is_archived": True}
            )
        expected = brute_force(world, client, docs)
        for doc in docs:
            answer = client.get(f"{KB}/{doc}/dependent-agents", params={"page_size": 100}).json()
            got = {f"{b['agent_id']}/{b['branch_id']}" for b in answer["branches"]}
            assert got == expected[doc]
            assert {a["id"] for a in answer["agents"]} == {k.split("/")[0] for k in got}
