"""kbctl: keep ElevenLabs agent knowledge bases in the state a manifest in git declares."""

__version__ = "0.1.0"
