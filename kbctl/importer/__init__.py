"""`kbctl import`: adopt a hand-built agent's knowledge base (`adopt`) or an OpenAI vector
store's files (`store`) into a manifest."""

from kbctl.importer.adopt import (
    DEFAULT_API_KEY_ENV,
    DEFAULT_BASE_URL,
    ImportedDocument,
    ImportProvider,
    ImportResult,
    check_output_dir,
    import_agent,
    slugify,
)
from kbctl.importer.manifest_text import manifest_text
from kbctl.importer.store import import_store

__all__ = [
    "DEFAULT_API_KEY_ENV",
    "DEFAULT_BASE_URL",
    "ImportProvider",
    "ImportResult",
    "ImportedDocument",
    "check_output_dir",
    "import_agent",
    "import_store",
    "manifest_text",
    "slugify",
]
