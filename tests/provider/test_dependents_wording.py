"""How apply words "kept: used by …" when the dependent-agents answer names an agent more than
once (its agent entry and each of its branches, or the document attached twice): each agent
once, with its branches said after it. Real provider over HTTP against the emulator."""

from __future__ import annotations

from kbctl.apply.deletions import delete_superseded
from kbctl.emulator import World

from .conftest import AGENT, Rig


def _attach(world: World, agent_id: str, doc: str, times: int = 1) -> None:
    world.set_knowledge_base(agent_id, [{"type": "text", "name": "D", "id": doc}] * times)


def _branch(world: World, agent_id: str, name: str) -> str:
    info = world.agent(agent_id)
    assert info is not None
    made = world.create_branch(agent_id, {"parent_version_id": info.version_id, "name": name})
    return str(made["created_branch_id"])


def test_an_agent_and_its_branches_are_named_once(rig: Rig) -> None:
    w = rig.world
    doc = w.add_document("text", "D", "d" * 600)
    w.create_agent("agent_other")
    _attach(w, "agent_other", doc, times=2)
    first = _branch(w, "agent_other", "canary")
    second = _branch(w, "agent_other", "trial")

    deps = rig.provider.dependents(doc)
    assert len(deps.branches) == 3  # main, canary, trial: the answer names agent_other thrice

    note = delete_superseded(rig.provider, AGENT, doc)
    branches = ", ".join(sorted([first, second]))
    assert note == f"used by agent_other and its branches {branches} — kept; detach it there first"
    assert note.count("agent_other") == 1
    assert w.document(doc) is not None


def test_one_agent_attached_twice_is_named_once(rig: Rig) -> None:
    w = rig.world
    doc = w.add_document("text", "D", "d" * 600)
    w.create_agent("agent_other")
    _attach(w, "agent_other", doc, times=2)
    _attach(w, AGENT, doc, times=2)

    note = delete_superseded(rig.provider, AGENT, doc)
    assert note == "used by agent_other — kept; detach it there first"


def test_a_side_branch_of_the_own_agent_is_named_as_a_branch(rig: Rig) -> None:
    w = rig.world
    doc = w.add_document("text", "D", "d" * 600)
    _attach(w, AGENT, doc)
    branch = _branch(w, AGENT, "canary")

    note = delete_superseded(rig.provider, AGENT, doc)
    assert note == f"used by {AGENT} (branch {branch}) — kept; detach it there first"
