"""Properties (hypothesis): pagination visits every document once in order, even when documents
appear and disappear between pages; persistence reloads exactly what was there."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from hypothesis import given, settings
from hypothesis import strategies as st

from kbctl.clock import FakeClock
from kbctl.emulator import EmulatorConfig, Store, World

names = st.lists(st.text(min_size=1, max_size=8), min_size=0, max_size=40)


def walk(world: World, page_size: int, sort_by: str, direction: str) -> list[dict]:
    out: list[dict] = []
    cursor: str | None = None
    while True:
        page = world.list_documents(
            page_size=page_size, cursor=cursor, sort_by=sort_by, sort_direction=direction
        )
        out += cast(list[dict], page["documents"])
        if not page["has_more"]:
            return out
        cursor = cast(str | None, page["next_cursor"])


@settings(max_examples=60, deadline=None)
@given(
    names=names,
    page_size=st.integers(1, 7),
    sort_by=st.sampled_from(["name", "created_at", "updated_at", "size"]),
    direction=st.sampled_from(["asc", "desc"]),
)
def test_pages_cover_everything_once_in_order(
    names: list[str], page_size: int, sort_by: str, direction: str
) -> None:
    clock = FakeClock()
    world = World(EmulatorConfig(), clock)
    for i, name in enumerate(names):
        world.add_document("text", name, "x" * (i % 5))
        clock.advance(i % 2)
    docs = walk(world, page_size, sort_by, direction)
    assert sorted(d["id"] for d in docs) == sorted(d.id for d in world.documents())
    key: Callable[[dict], Any] = {
        "name": lambda d: d["name"].casefold(),
        "created_at": lambda d: d["metadata"]["created_at_unix_secs"],
        "updated_at": lambda d: d["metadata"]["last_updated_at_unix_secs"],
        "size": lambda d: d["metadata"]["size_bytes"],
    }[sort_by]
    values = [key(d) for d in docs]
    assert values == sorted(values, reverse=direction == "desc")


@settings(max_examples=40, deadline=None)
@given(
    initial=st.integers(0, 30),
    page_size=st.integers(1, 6),
    churn=st.lists(st.tuples(st.booleans(), st.integers(0, 1000)), max_size=20),
)
def test_documents_present_throughout_are_seen_exactly_once(
    initial: int, page_size: int, churn: list[tuple[bool, int]]
) -> None:
    clock = FakeClock()
    world = World(EmulatorConfig(), clock)
    for i in range(initial):
        world.add_document("text", f"d{i}", "x")
        clock.advance(1)
    stable = {d.id for d in world.documents()}
    seen: list[str] = []
    cursor: str | None = None
    moves = iter(churn)
    while True:
        page = world.list_documents(page_size=page_size, cursor=cursor)
        seen += [d["id"] for d in cast(list[dict], page["documents"])]
        if not page["has_more"]:
            break
        cursor = cast(str | None, page["next_cursor"])
        add, pick = next(moves, (True, 0))
        current = [d.id for d in world.documents()]
        if add or not current:
            world.add_document("text", f"new{pick}", "y")
        else:
            victim = current[pick % len(current)]
            world.delete_document(victim)
            stable.discard(victim)
    assert len(seen) == len(set(seen))
    assert stable <= set(seen)


@settings(max_examples=25, deadline=None)
@given(
    texts=st.lists(st.text(max_size=30), max_size=12),
    deletes=st.lists(st.integers(0, 11), max_size=5),
)
def test_reload_gives_the_same_workspace(texts: list[str], deletes: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ws"
        world = World(EmulatorConfig(), FakeClock())
        world.attach_store(Store(path, compact_every=4))
        world.create_agent("agent_a")
        ids = [world.add_document("text", f"n{i}", t) for i, t in enumerate(texts)]
        world.flush()
        for i in deletes:
            if i < len(ids) and world.document(ids[i]) is not None:
                world.delete_document(ids[i])
                world.flush()
        world.set_knowledge_base(
            "agent_a", [{"type": "text", "name": "x", "id": d.id} for d in world.documents()[:3]]
        )
        world.flush()
        again = World(EmulatorConfig(), FakeClock())
        again.attach_store(Store(path))
        assert again.documents() == world.documents()
        assert again.agents() == world.agents()
