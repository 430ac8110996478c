"""Three-way merge of agent configurations (the branch merge): what the source branch changed
since the common ancestor wins over the target; a field both changed differently is a conflict
(the source's value is kept, and the conflict reported).

Owns that pure function over JSON values. Must not hold state, read the clock or know about
branches beyond the three trees it is given.
"""

from __future__ import annotations

from dataclasses import dataclass

from kbctl.emulator.workspace.records import Json, json_copy

_MISSING = object()
#: The parts of an agent a merge combines, with their section name in conflict reports.
SECTIONS = ("conversation_config", "platform_settings", "workflow")


@dataclass(frozen=True, slots=True)
class Conflict:
    """A field changed on both sides since the ancestor (`path` is a dot path in `section`)."""

    section: str
    path: str
    base: object
    source: object
    target: object


def _merge(base: object, source: object, target: object, path: str, out: list[str]) -> object:
    if source == base:
        return target
    if target in (base, source):
        return source
    if isinstance(source, dict) and isinstance(target, dict):
        base_dict = base if isinstance(base, dict) else {}
        merged: Json = {}
        for key in [*target, *(k for k in source if k not in target)]:
            value = _merge(
                base_dict.get(key, _MISSING),
                source.get(key, _MISSING),
                target.get(key, _MISSING),
                f"{path}.{key}" if path else str(key),
                out,
            )
            if value is not _MISSING:
                merged[key] = value
        return merged
    out.append(path)
    return source


def _at(tree: object, path: str) -> object:
    for part in path.split(".") if path else []:
        if not isinstance(tree, dict):
            return None
        tree = tree.get(part)
    return None if tree is _MISSING else tree


def merge_configs(base: Json, source: Json, target: Json) -> tuple[Json, list[Conflict]]:
    """Merge the `SECTIONS` of three agent snapshots (`{"conversation_config": …, …}`)."""
    result: Json = {}
    conflicts: list[Conflict] = []
    for section in SECTIONS:
        paths: list[str] = []
        b, s, t = (x.get(section) for x in (base, source, target))
        merged = _merge(b, s, t, "", paths)
        result[section] = json_copy(None if merged is _MISSING else merged)
        for path in paths:
            conflicts.append(Conflict(section, path, _at(b, path), _at(s, path), _at(t, path)))
    return result, conflicts
