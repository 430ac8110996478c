"""The result of running retrieval checks: per check, where each expected key was found; overall,
Coverage@1 and Coverage@k against the manifest's `checks_policy`.

Definitions (docs/checks.md):

- A check **passes** when every key of its `expect` is among the first `top_k` documents
  retrieved from the agent's document set and, with `expect_text`, a text retrieved with one of
  its expected documents (a rag-query chunk, or a search snippet) contains that text (case and
  runs of whitespace ignored).
- **Coverage@1** is the share of checks whose first retrieved document is one of their expected
  keys (any one of them, for a check expecting several); compared with `min_coverage_at_1`
  when the policy sets it.
- **Coverage@k** is the share of checks that pass, each within its own `top_k`. This is what
  `min_coverage` is compared with. With no checks both are 1.0.

Pure data plus its canonical JSON form (`kbctl check --format json`, the "after" snapshot) and
the plain sentences people read. Never calls anything.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from kbctl.jsonread import JsonObj, JsonReader
from kbctl.model import ChecksPolicy


@dataclass(frozen=True, slots=True)
class Found:
    """One retrieved document: its id, its key (None when unmanaged) and how to show it."""

    id: str
    key: str | None
    label: str


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check, evaluated.

    Attributes:
        found: the first `top_k` documents retrieved from the agent's set, best first.
        ranks: each expected key with its 1-based rank in `found` (None: not within top_k).
        missing: expected keys the agent does not have (or is not about to have) at all.
    """

    query: str
    expect: tuple[str, ...]
    top_k: int
    found: tuple[Found, ...]
    ranks: tuple[tuple[str, int | None], ...]
    missing: tuple[str, ...] = ()
    expect_text: str | None = None
    #: With `expect_text`: the expected key whose retrieved text contains it (None: none did).
    text_in: str | None = None

    @property
    def text_found(self) -> bool:
        """`expect_text` is absent, or a retrieved text of an expected document holds it."""
        return self.expect_text is None or self.text_in is not None

    @property
    def passed(self) -> bool:
        """Every expected key was retrieved within `top_k` (and `expect_text` was found)."""
        return all(rank is not None for _, rank in self.ranks) and self.text_found

    @property
    def top1(self) -> bool:
        """The first document retrieved is an expected one (counts toward Coverage@1)."""
        return bool(self.found) and self.found[0].key in self.expect

    def describe(self) -> str:
        """One line for people: the query, what was expected and what came back instead."""
        wanted = []
        for key, rank in self.ranks:
            if key in self.missing:
                wanted.append(f"{key} (not attached to the agent)")
            elif rank is None:
                wanted.append(f"{key} (not in the top {self.top_k})")
            else:
                wanted.append(f"{key} (rank {rank})")
        got = ", ".join(f.label for f in self.found) or "nothing"
        text = ""
        if not self.text_found:
            text = f"; no retrieved text of an expected document contains {self.expect_text!r}"
        return f"{self.query!r}: expected {'; '.join(wanted)}{text}; retrieved {got}"


_SPACES = re.compile(r"\s+")


def normalized(text: str) -> str:
    """Text as `expect_text` compares it: case folded, every run of whitespace one space."""
    return _SPACES.sub(" ", text.casefold()).strip()


def contains_text(texts: tuple[str, ...], wanted: str) -> bool:
    """Whether one of `texts` holds `wanted` (case and whitespace runs ignored)."""
    needle = normalized(wanted)
    return any(needle in normalized(t) for t in texts)


@dataclass(frozen=True, slots=True)
class ChecksReport:
    """Every check of one target, evaluated, and the policy it is judged by."""

    results: tuple[CheckResult, ...]
    policy: ChecksPolicy = field(default_factory=ChecksPolicy)
    retriever: str = "search"  # which retrieval produced the numbers: rag-query | search
    retriever_note: str | None = None  # e.g. why rag-query fell back to the search

    @property
    def total(self) -> int:
        """How many checks ran."""
        return len(self.results)

    @property
    def passed(self) -> int:
        """How many checks passed."""
        return sum(1 for r in self.results if r.passed)

    @property
    def top1(self) -> int:
        """How many checks had an expected document first."""
        return sum(1 for r in self.results if r.top1)

    @property
    def coverage_at_1(self) -> float:
        """Share of checks whose first retrieved document is expected (1.0 with no checks)."""
        return self.top1 / self.total if self.total else 1.0

    @property
    def coverage_at_k(self) -> float:
        """Share of checks that pass within their own `top_k` (1.0 with no checks)."""
        return self.passed / self.total if self.total else 1.0

    @property
    def needed(self) -> int:
        """How many checks must pass to meet `min_coverage`."""
        # The epsilon keeps 0.8 x 5 at 4, not 5 (0.8 * 5 is 4.000000000000001 in floats).
        return math.ceil(self.policy.min_coverage * self.total - 1e-9)

    @property
    def needed_at_1(self) -> int:
        """How many checks must have an expected document first (0 when not gated)."""
        at_1 = self.policy.min_coverage_at_1
        return math.ceil(at_1 * self.total - 1e-9) if at_1 is not None else 0

    @property
    def meets_coverage(self) -> bool:
        """Coverage@k reaches `min_coverage` (what plain `kbctl check` exits 3 for)."""
        return self.passed >= self.needed

    @property
    def meets_at_1(self) -> bool:
        """Coverage@1 reaches `min_coverage_at_1` (always true when it is not set)."""
        return self.top1 >= self.needed_at_1

    @property
    def meets(self) -> bool:
        """Every threshold of the policy is reached (what apply's gate requires)."""
        return self.meets_coverage and self.meets_at_1

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        """The checks that did not pass, in manifest order."""
        return tuple(r for r in self.results if not r.passed)

    @property
    def k_label(self) -> str:
        """`@3` when every check uses the same top_k, else `@k`."""
        ks = {r.top_k for r in self.results}
        return f"@{ks.pop()}" if len(ks) == 1 else "@k"

    def coverage_line(self) -> str:
        """`Coverage@1 5/6 (83%), Coverage@3 6/6 (100%), min_coverage 80%: met` (plus
        `min_coverage_at_1 …` when set), `… (rag-query)`."""
        verdict = "met" if self.meets else "NOT met"
        at_1 = self.policy.min_coverage_at_1
        thresholds = f"min_coverage {self.policy.min_coverage:.0%}"
        if at_1 is not None:
            thresholds += f", min_coverage_at_1 {at_1:.0%}"
        return (
            f"Coverage@1 {self.top1}/{self.total} ({self.coverage_at_1:.0%}), "
            f"Coverage{self.k_label} {self.passed}/{self.total} ({self.coverage_at_k:.0%}), "
            f"{thresholds}: {verdict} (retriever: {self.retriever})"
        )

    def summary(self) -> str:
        """`retrieval checks 6/6 passed (Coverage@1 83%)`, for the apply summary line."""
        return (
            f"retrieval checks {self.passed}/{self.total} passed "
            f"(Coverage@1 {self.coverage_at_1:.0%})"
        )


# --------------------------------------------------------------------------------------------
# JSON


def report_to_dict(report: ChecksReport) -> dict[str, object]:
    """The report as plain JSON data (coverages rounded to 4 places; counts are exact)."""
    return {
        "total": report.total,
        "passed": report.passed,
        "top1": report.top1,
        "coverage_at_1": round(report.coverage_at_1, 4),
        "coverage_at_k": round(report.coverage_at_k, 4),
        "min_coverage": report.policy.min_coverage,
        "min_coverage_at_1": report.policy.min_coverage_at_1,
        "on_failure": report.policy.on_failure,
        "meets": report.meets,
        "meets_min_coverage": report.meets_coverage,
        "meets_min_coverage_at_1": report.meets_at_1,
        "retriever": report.retriever,
        "retriever_note": report.retriever_note,
        "checks": [
            {
                "query": r.query,
                "expect": list(r.expect),
                "top_k": r.top_k,
                "passed": r.passed,
                "top1": r.top1,
                "ranks": {key: rank for key, rank in r.ranks},
                "missing": list(r.missing),
                "expect_text": r.expect_text,
                "text_found_in": r.text_in,
                "found": [{"id": f.id, "key": f.key, "label": f.label} for f in r.found],
            }
            for r in report.results
        ],
    }


def report_from_dict(data: object) -> ChecksReport:
    """Read `report_to_dict`'s output back.

    Raises:
        ValueError: a shape problem, naming the field (`checks.checks[0].top_k: …`).
    """
    return read_report(JsonReader(ValueError).root(data, "checks"))


def read_report(root: JsonObj) -> ChecksReport:
    """A report inside a larger JSON file: a problem is that file's error, at its path."""
    policy = ChecksPolicy(
        root.number("min_coverage"),
        root.text("on_failure"),
        root.opt_number("min_coverage_at_1"),
    )
    return ChecksReport(
        root.each("checks", _result),
        policy,
        # Records written before rag-query existed have no retriever.
        retriever=root.opt_text("retriever") or "search",
        retriever_note=root.opt_text("retriever_note"),
    )


def _result(item: JsonObj) -> CheckResult:
    expect = item.texts("expect")
    ranks = item.obj("ranks")
    return CheckResult(
        query=item.text("query"),
        expect=expect,
        top_k=item.integer("top_k"),
        found=item.each("found", lambda f: Found(f.text("id"), f.opt_text("key"), f.text("label"))),
        ranks=tuple((key, ranks.opt_integer(key)) for key in expect),
        missing=item.texts("missing"),
        expect_text=item.opt_text("expect_text"),
        text_in=item.opt_text("text_found_in"),
    )
