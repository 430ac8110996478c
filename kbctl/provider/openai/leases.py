"""The apply lease of an OpenAI store: an empty vector store named like the ElevenLabs lease
folder (`kbctl-lease · agent <store> · …`), created, found by name prefix, renamed, deleted.

Owns `LeaseStores`, the part of `OpenAIProvider` that speaks of lease stores (the executor's
`create_folder` / `documents_named`). Must not decide who holds a lease (`kbctl.apply.lease`).
"""

from __future__ import annotations

from kbctl.model import DocType, LiveDocument
from kbctl.provider.openai.api import OpenAIApi

#: Name prefix of the lease stores (the same as the ElevenLabs lease folders).
LEASE_PREFIX = "kbctl-lease · "


def is_store_id(ref: str) -> bool:
    """True for a vector store id (`vs_…`), False for a store name (or a File id)."""
    return ref.startswith("vs_")


class LeaseStores:
    """Lease stores over `self.api`."""

    api: OpenAIApi

    def create_folder(self, name: str) -> str:
        """The lease: an empty vector store named `name`."""
        return self.api.create_store(name).id

    def documents_named(
        self, prefix: str, *, doc_type: DocType | None = None
    ) -> tuple[LiveDocument, ...]:
        """Stores whose name starts with `prefix` (the leases), as folders (the only type)."""
        if doc_type not in (None, DocType.FOLDER):
            return ()
        return tuple(
            LiveDocument(s.id, s.name, DocType.FOLDER, 0, None)
            for s in self.api.stores()
            if s.name.startswith(prefix)
        )
