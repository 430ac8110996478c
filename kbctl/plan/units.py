"""Human units for byte counts, shared by the planner's messages and the renderers.

Pure string formatting; decimal (SI) units, the way the ElevenLabs dashboard counts.
"""

from __future__ import annotations

_UNITS = ("kB", "MB", "GB", "TB")


def format_size(size: int) -> str:
    """`512 B`, `2.1 kB`, `20.0 MB`: one decimal above a thousand bytes."""
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in _UNITS[:-1]:
        value /= 1000
        if value < 999.95:
            return f"{value:.1f} {unit}"
    return f"{value / 1000:.1f} {_UNITS[-1]}"
