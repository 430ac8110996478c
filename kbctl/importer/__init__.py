"""`kbctl import`: adopt a hand-built agent's knowledge base into a manifest (see `adopt`)."""

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

__all__ = [
    "DEFAULT_API_KEY_ENV",
    "DEFAULT_BASE_URL",
    "ImportProvider",
    "ImportResult",
    "ImportedDocument",
    "check_output_dir",
    "import_agent",
    "manifest_text",
    "slugify",
]
