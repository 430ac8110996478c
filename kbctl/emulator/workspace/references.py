"""Who references which document: the direct references of every live branch head, kept up to
date one head at a time, so finding a document's dependents never scans every agent or
document, and the moment each document lost its last reference (for the dependency lag).

Owns that index. Must not know about folders, versions or the clock: the caller passes the ids
a head references, the time, and walks folders itself (a folder's holders are the transitive
dependents of everything inside it).
"""

from __future__ import annotations

#: (agent id, branch id): one branch head.
HeadKey = tuple[str, str]


class References:
    """Document id -> the branch heads that reference it directly. Not thread-safe (the
    workspace calls it under its lock)."""

    def __init__(self) -> None:
        self._holders: dict[str, dict[HeadKey, None]] = {}
        self._held: dict[HeadKey, frozenset[str]] = {}
        self._released_at: dict[str, float] = {}

    def set_head(self, key: HeadKey, ids: set[str] | frozenset[str], now: float) -> None:
        """Branch head `key` now references exactly `ids` (empty: it references nothing, or is
        archived or deleted). Ids that lose their last holder remember `now`."""
        new = frozenset(ids)
        old = self._held.get(key, frozenset())
        for gone in old - new:
            holders = self._holders.get(gone)
            if holders is None:
                continue
            holders.pop(key, None)
            if not holders:
                del self._holders[gone]
                self._released_at[gone] = now
        for added in new - old:
            self._holders.setdefault(added, {})[key] = None
        if new:
            self._held[key] = new
        else:
            self._held.pop(key, None)

    def holders(self, doc_id: str) -> list[HeadKey]:
        """The heads referencing `doc_id` directly, sorted."""
        return sorted(self._holders.get(doc_id, ()))

    def held_by(self, key: HeadKey) -> frozenset[str]:
        """The ids head `key` references."""
        return self._held.get(key, frozenset())

    def released_at(self, doc_id: str) -> float | None:
        """When `doc_id` lost its last direct reference (None: never, or it has one now)."""
        if doc_id in self._holders:
            return None
        return self._released_at.get(doc_id)

    def forget(self, doc_id: str) -> None:
        """Drop what is known of a deleted document."""
        self._released_at.pop(doc_id, None)

    def clear(self) -> None:
        """Forget everything (before a rebuild from loaded state)."""
        self._holders.clear()
        self._held.clear()
        self._released_at.clear()
