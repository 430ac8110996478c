"""The ElevenLabs provider, split by noun: `documents`, `agents`, `indexes` (endpoints and
bodies), `shapes` (wire JSON → model), `paging` (cursors), and `provider` (the facade
implementing `kbctl.provider.base.Provider`). Wire dicts never leave this package."""

from kbctl.provider.elevenlabs.documents import IN_USE_STATUSES
from kbctl.provider.elevenlabs.indexes import BATCH_MAX
from kbctl.provider.elevenlabs.provider import ElevenLabsProvider
from kbctl.provider.elevenlabs.shapes import AGENTS, KB, MAX_PAGE_SIZE

__all__ = ["AGENTS", "BATCH_MAX", "IN_USE_STATUSES", "KB", "MAX_PAGE_SIZE", "ElevenLabsProvider"]
