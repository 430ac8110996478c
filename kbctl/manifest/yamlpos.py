"""YAML text → plain JSON-like data plus the line of every node. The only importer of `yaml`.

Owns: YAML syntax errors (with their line), duplicate mapping keys, merge keys (`<<`), and the
`Lines` table that lets every later check point at a line. It does not know the manifest format;
the schema and the builder do.

Scalars follow YAML 1.2's core schema where YAML 1.1 surprises people: only `true`/`false` are
booleans (`no`, `on`, `yes` stay strings) and timestamps stay strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from kbctl.errors import Diagnostic

#: The data YAML gives once parsed: what JSON Schema validates.
Json = None | bool | int | float | str | list["Json"] | dict[str, "Json"]

#: A path inside the document: mapping keys and sequence indexes, from the root.
PathParts = tuple[str | int, ...]

#: More nodes than this (after expanding aliases) is an alias bomb, not a manifest.
MAX_NODES = 1_000_000
_BOOL_WORDS = frozenset({"true", "false", "True", "False", "TRUE", "FALSE"})


def format_path(parts: PathParts) -> str:
    """`("documents", 2, "glob")` → `documents[2].glob` (the root is the empty string)."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


@dataclass(frozen=True, slots=True)
class Lines:
    """1-based line of each node: mapping entries by their key, sequence items by their start."""

    table: Mapping[PathParts, int]

    def of(self, parts: PathParts) -> int | None:
        """Line of `parts`, or of its nearest ancestor that has one."""
        probe = tuple(parts)
        while True:
            line = self.table.get(probe)
            if line is not None or not probe:
                return line
            probe = probe[:-1]


@dataclass(frozen=True, slots=True)
class Parsed:
    """A parsed YAML file: its data (None if it could not be parsed) and the problems found."""

    data: Json
    lines: Lines
    diagnostics: tuple[Diagnostic, ...]


def parse_yaml(text: str, file: str) -> Parsed:
    """Parse one YAML document, keeping lines; report syntax errors and duplicate keys."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else None
        message = err.problem or err.context or "invalid YAML"
        if err.context and err.problem:
            message = f"{err.context}, {err.problem}"
        diag = Diagnostic(file, line, "", f"YAML syntax error: {message}")
        return Parsed(None, Lines({}), (diag,))
    except yaml.YAMLError as err:  # not marked: e.g. a reader error on odd characters
        diag = Diagnostic(file, None, "", f"YAML error: {err}")
        return Parsed(None, Lines({}), (diag,))
    except RecursionError:
        diag = Diagnostic(file, None, "", "YAML nested too deeply")
        return Parsed(None, Lines({}), (diag,))
    finally:
        loader.dispose()
    if node is None:
        return Parsed(None, Lines({}), ())
    walker = _Walker(loader, file)
    try:
        walker.check_duplicates(node, ())  # before merge keys rewrite the mappings
        data = walker.walk(node, ())
    except _TooLarge as err:
        return Parsed(None, Lines({}), (Diagnostic(file, err.line, "", str(err)),))
    except RecursionError:
        return Parsed(None, Lines({}), (Diagnostic(file, None, "", "YAML nested too deeply"),))
    return Parsed(data, Lines(walker.lines), tuple(walker.diagnostics))


class _TooLarge(Exception):
    """Internal: the walk met a recursive alias or exceeded MAX_NODES."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class _Walker:
    """Turns composed nodes into data, recording lines and duplicate keys as it goes."""

    def __init__(self, loader: yaml.SafeLoader, file: str) -> None:
        self.loader = loader
        self.file = file
        self.lines: dict[PathParts, int] = {(): 1}
        self.diagnostics: list[Diagnostic] = []
        self.nodes = 0
        self.open: set[int] = set()  # ids of the collections being walked (recursion guard)
        self.checked: set[int] = set()  # nodes already checked for duplicate keys
        self.broken: set[int] = set()  # mappings whose merge keys could not be resolved

    def walk(self, node: Node, parts: PathParts) -> Json:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _TooLarge(f"more than {MAX_NODES} YAML nodes once aliases are expanded")
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if id(node) in self.open:
            raise _TooLarge("recursive YAML alias", node.start_mark.line + 1)
        self.open.add(id(node))
        try:
            return self._collection(node, parts)
        finally:
            self.open.discard(id(node))

    def _collection(self, node: Node, parts: PathParts) -> Json:
        if isinstance(node, MappingNode):
            return self._mapping(node, parts)
        if isinstance(node, SequenceNode):
            items: list[Json] = []
            for index, child in enumerate(node.value):
                child_parts = (*parts, index)
                self.lines[child_parts] = child.start_mark.line + 1
                items.append(self.walk(child, child_parts))
            return items
        raise TypeError(f"unexpected YAML node {node!r}")

    def check_duplicates(self, node: Node, parts: PathParts) -> None:
        """Report duplicate mapping keys, visiting every node once (aliases share nodes)."""
        if isinstance(node, ScalarNode) or id(node) in self.checked:
            return
        self.checked.add(id(node))
        if isinstance(node, SequenceNode):
            for index, child in enumerate(node.value):
                self.check_duplicates(child, (*parts, index))
            return
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.check_duplicates(value_node, parts)
                continue
            key = self._key(key_node, parts)
            if key is None:
                continue
            line = key_node.start_mark.line + 1
            if key in first_line:
                self.diagnostics.append(
                    Diagnostic(
                        self.file,
                        line,
                        format_path((*parts, key)),
                        f"duplicate key '{key}' (first defined at line {first_line[key]})",
                    )
                )
            else:
                first_line[key] = line
            self.check_duplicates(value_node, (*parts, key))

    def _mapping(self, node: MappingNode, parts: PathParts) -> dict[str, Json]:
        if id(node) in self.broken:
            return {}
        # Merge keys (`<<: *defaults`) are resolved the way PyYAML does: explicit keys win.
        try:
            self.loader.flatten_mapping(node)
        except yaml.MarkedYAMLError as err:
            self.broken.add(id(node))
            mark = err.problem_mark
            line = mark.line + 1 if mark is not None else None
            problem = err.problem or "invalid merge key"
            self.diagnostics.append(Diagnostic(self.file, line, format_path(parts), problem))
            return {}
        out: dict[str, Json] = {}
        for key_node, value_node in node.value:  # merged entries first, explicit ones last
            key = self._key(key_node, parts, report=False)
            if key is None:
                continue
            child_parts = (*parts, key)
            self.lines[child_parts] = key_node.start_mark.line + 1
            out[key] = self.walk(value_node, child_parts)
        return out

    def _key(self, node: Node, parts: PathParts, *, report: bool = True) -> str | None:
        if isinstance(node, ScalarNode):
            return str(node.value)
        if report:
            self.diagnostics.append(
                Diagnostic(
                    self.file,
                    node.start_mark.line + 1,
                    format_path(parts),
                    "mapping keys must be plain strings",
                )
            )
        return None

    def _scalar(self, node: ScalarNode) -> Json:
        tag = node.tag
        value = str(node.value)
        if tag == "tag:yaml.org,2002:str":
            return value
        if tag == "tag:yaml.org,2002:bool":
            return value.lower() == "true" if value in _BOOL_WORDS else value
        if tag in ("tag:yaml.org,2002:null", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"):
            constructed = self.loader.construct_object(node, deep=True)
            if constructed is None or isinstance(constructed, bool | int | float):
                return constructed
        return value
