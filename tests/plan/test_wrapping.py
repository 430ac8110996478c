"""Plan text at any width: lines break between words, nothing is lost, only a word longer than
a line is folded, and the counts line is there once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from kbctl.plan.planner import make_plan
from kbctl.render.plan_text import render_plan_text
from kbctl.render.wrapping import Wrapped, wrap_line
from tests.plan.builders import load_case
from tests.plan.conftest import case_paths

WIDTHS = (40, 60, 80, 120)


def rendered(text: Text, width: int) -> str:
    console = Console(width=width, highlight=False, color_system=None)
    with console.capture() as captured:
        console.print(Wrapped(text))
    return captured.get()


def check_wrapped(original: str, wrapped: str, width: int) -> None:
    """Every line fits; the words are the same, in order, cut only where one is too long."""
    for line in wrapped.splitlines():
        assert cell_len(line) <= width, line
        assert line == line.rstrip(), line
    words, pieces = original.split(), wrapped.split()
    assert "".join(words) == "".join(pieces)  # nothing lost, nothing added, same order
    fits = [w for w in words if cell_len(w) <= width // 2]
    assert not Counter(fits) - Counter(pieces)  # no word that fits a line was cut


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("path", case_paths(), ids=lambda p: p.stem)
def test_every_plan_wraps_between_words(path: Path, width: int) -> None:
    case = load_case(path)
    text = render_plan_text(make_plan(case.target.environment, [(case.target, case.live)]))
    out = rendered(text, width)
    check_wrapped(text.plain, out, width)
    # The counts are said once, on the last line, as `Plan: …` (or not at all: No changes).
    assert text.plain.count(" to create, ") == text.plain.count("Plan: ") <= 1
    assert out.count("Plan: ") == text.plain.count("Plan: ")


def test_a_continuation_hangs_under_its_line() -> None:
    line = Text("  ± quarters/mortgage.md  replace  content: c0cd40756b7d → 4714420075c1; 1.0 kB")
    assert [t.plain for t in wrap_line(line, 40)] == [
        "  ± quarters/mortgage.md  replace",
        "    content: c0cd40756b7d →",
        "    4714420075c1; 1.0 kB",
    ]


def test_only_a_word_longer_than_the_line_is_folded() -> None:
    key = "quarters/" + "very-long-folder-name/" * 3 + "rates.md"
    out = [t.plain for t in wrap_line(Text(f"  + {key}  create  text"), 40)]
    assert all(cell_len(line) <= 40 for line in out)
    assert "".join(line.strip() for line in out).replace(" ", "") == f"+{key}createtext"
    assert out == [
        "  + quarters/very-long-folder-name/very-",
        "    long-folder-name/very-long-folder-na",
        "    me/rates.md  create  text",
    ]


def test_styles_survive_the_wrap() -> None:
    line = Text("  ")
    line.append("+ created-document.md", style="green")
    line.append("  create  text, auto, 1.0 kB; needs index")
    pieces = wrap_line(line, 30)
    assert len(pieces) > 1
    assert any(str(span.style) == "green" for span in pieces[0].spans)


def test_wide_characters_are_measured_in_cells() -> None:
    line = Text("  · 見出し 見出し 見出し 見出し 見出し 見出し 見出し 見出し")
    for piece in wrap_line(line, 20):
        assert cell_len(piece.plain) <= 20


_WORD = st.text(alphabet="abcdefghij/-.é→", min_size=1, max_size=50)


@given(
    indent=st.integers(0, 8),
    words=st.lists(_WORD, min_size=1, max_size=30),
    gaps=st.lists(st.integers(1, 4), min_size=30, max_size=30),
    width=st.sampled_from(WIDTHS),
)
def test_any_line_wraps_without_loss(
    indent: int, words: list[str], gaps: list[int], width: int
) -> None:
    plain = " " * indent + "".join(w + " " * g for w, g in zip(words, gaps, strict=False))
    out = "\n".join(t.plain for t in wrap_line(Text(plain), width))
    check_wrapped(plain, out, width)


def test_a_path_that_fits_a_line_only_with_less_indent_stays_whole() -> None:
    path = "quarters/prague-and-the-surrounding-districts/holešovice-partners.md"
    out = [t.plain for t in wrap_line(Text(f"  ± {path}  replace  content: 1 → 2"), 70)]
    assert out == ["  ±", f"  {path}", "    replace  content: 1 → 2"]
