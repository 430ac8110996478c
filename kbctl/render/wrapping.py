"""Text wrapped for a terminal of any width: at spaces, with a hanging indent, nothing lost.

`Wrapped(text)` is a rich renderable that breaks each line of `text` at the console's width:
only between words, each continuation indented two columns past where its line starts (so a
change's details stay under it), trailing spaces dropped. A single word longer than the room
left (a long path or id) is folded, the only case a word is cut. Styles are kept. Never prints.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.segment import Segment
from rich.text import Text

__all__ = ["Wrapped", "fitted", "wrap_line"]

_HANG = 2  # columns a continuation is indented past its line's own indent


class Wrapped:
    """`text`, line by line, wrapped at the width it is rendered at."""

    def __init__(self, text: Text) -> None:
        self.text = text

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in self.text.split("\n", allow_blank=True):
            for piece in wrap_line(line, options.max_width):
                yield from piece.render(console)
                yield Segment.line()


def fitted(text: Text, width: int | None) -> RenderableType:
    """`text` wrapped at `width`, or as it is (lines kept whole) when there is no width."""
    return text if width is None else Wrapped(text)


def wrap_line(line: Text, width: int) -> list[Text]:
    """One line (no newline in it) as lines of at most `width` cells."""
    plain = line.plain
    if cell_len(plain.rstrip(" ")) <= width or width < 2:
        whole = line.copy()
        whole.rstrip()
        return [whole]
    indent = len(plain) - len(plain.lstrip(" "))
    hang = min(indent + _HANG, width // 2)
    breaks = _breaks(plain, indent, width, hang)
    pieces = line.divide(offset for offset, _ in breaks)
    out = [pieces[0]]
    for piece, (_, at) in zip(pieces[1:], breaks, strict=True):
        out.append(Text(" " * at) + piece)
    for piece in out:
        piece.rstrip()
    return out


def _breaks(plain: str, start: int, width: int, hang: int) -> list[tuple[int, int]]:
    """Where each continuation starts in `plain`, and its indent.

    Greedy, at the first letter of a word, continuations indented by `hang`; a word that fits
    a line only with less indent gets less (so a long path stays whole); a word longer than the
    width starts where it stands and is cut wherever a line is full.
    """
    breaks: list[tuple[int, int]] = []
    line_start = col = cell_len(plain[:start])
    i, n = start, len(plain)
    while i < n:
        j = plain.find(" ", i)
        j = n if j < 0 else j
        word = cell_len(plain[i:j])
        if col + word > width and col > line_start and (word <= width or col >= width):
            at = hang if word <= width - hang or word > width else width - word
            breaks.append((i, at))  # the word goes to a new line
            line_start = col = at
        if col + word <= width:
            col += word
        else:  # longer than the room it has: fold it
            for k in range(i, j):
                size = cell_len(plain[k])
                if col + size > width and col > line_start:
                    breaks.append((k, hang))
                    line_start = col = hang
                col += size
        i = j
        while i < n and plain[i] == " ":
            col, i = col + 1, i + 1
    return breaks
