"""YAML documents that remember where each field was written, and problems about them.

Rules this module enforces:

- a problem is one line, ``FILE:LINE: field.path: what is wrong (got VALUE); what to do``,
  so editors and CI annotate the exact line and a person knows the fix without a manual;
- a value that is personal data (``display_name``, ``purpose``, ``contract.reference``,
  ``legal_hold.reason``) or looks like a credential is shown as ``<redacted>``: problems
  end up in logs and CI output, which are not allowed to carry either;
- YAML 1.2 booleans: only ``true``/``false`` are booleans, so ``mode: off`` stays the text
  "off" instead of PyYAML's YAML 1.1 ``False``;
- a key written twice in one mapping is a problem (the first one is kept), never a silent
  overwrite: with a retention period that would hide which value applies;
- aliases are expanded within a budget (``MAX_VALUES`` values, ``MAX_TEXT`` characters of
  text): a 20-line file of nested aliases ("billion laughs") would otherwise expand to
  gigabytes. Past the budget the file gets one problem at the line of the alias whose
  expansion ran over, and an alias that contains itself is refused likewise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic_core import PydanticCustomError

FieldPath = tuple[str | int, ...]
"""Where a value sits in a document: mapping keys and list indexes, outermost first."""

REDACTED = "<redacted>"
# Field names whose values are personal (names, contacts, free text) or may be (a
# documents folder is often named after its client or a person): never echoed.
PERSONAL_FIELDS = frozenset(
    {"display_name", "purpose", "reference", "reason", "certificate_to", "documents"}
)
_PERSONAL_SECTIONS = frozenset({"contract", "legal_hold", "erasure", "source"})
_SECRET_KEYS = frozenset({"password", "passwd", "pwd", "secret", "token", "url", "dsn"})
_SECRET_VALUE = re.compile(
    r"(://[^/@\s]*:[^/@\s]*@)|(AGE-SECRET-KEY-)|(PRIVATE KEY)|(password=)|(secret=)", re.I
)
_YAML11_WORDS = frozenset({"yes", "no", "on", "off", "y", "n"})
_MAX_SHOWN = 60
# What a field, store or connection name looks like; any other key is not echoed.
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_. -]{0,63}")
# A quoted fragment of the text in a PyYAML message (an alias name, an escape, a token).
_TOKEN = re.compile(r"'<[a-z ]+>'")
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
# A policy holds some hundred values; a settings file a few hundred. These bounds are far
# above any real file and far below what would strain a worker's memory.
MAX_VALUES = 100_000
MAX_TEXT = 10_000_000


def render_path(path: FieldPath) -> str:
    """``("stores", "b", "url")`` -> ``stores.b.url``; list items as ``[0]``; ``-`` if empty.

    A key that is not a name (spaces, ``$``, ``:``, longer than 64 characters) is shown as
    ``<key>``: it is text of the file, not a field, and may be anything, a password hash
    among them; the problem's line still says where it is.
    """
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        shown = part if _NAME.fullmatch(part) else "<key>"
        text += f".{shown}" if text else shown
    return text or "-"


def looks_secret(value: object) -> bool:
    """Whether a value looks like a credential or key (a URL with ``user:pass@``, an age key)."""
    return isinstance(value, str) and _SECRET_VALUE.search(value) is not None


def show_value(path: FieldPath, value: object) -> str:
    """Render a value for a problem line, redacting personal data and credentials."""
    names = {p for p in path if isinstance(p, str)}
    secret_key = bool(path) and path[-1] in _SECRET_KEYS
    # A store URL is an address; a source or connection URL carries a database password.
    if secret_key and path[-1] == "url":
        secret_key = path[0] in ("source", "connections")
    # a scalar where a section holding personal fields belongs is likely one of them
    misplaced = bool(path) and path[-1] in _PERSONAL_SECTIONS and not isinstance(value, dict)
    emailish = isinstance(value, str) and "@" in value  # no policy value has one
    if names & PERSONAL_FIELDS or secret_key or looks_secret(value) or misplaced or emailish:
        return REDACTED
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        short = value if len(value) <= _MAX_SHOWN else value[: _MAX_SHOWN - 3] + "..."
        return repr(short)
    text = "null" if value is None else str(value).lower()
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


@dataclass(frozen=True)
class Problem:
    """One thing wrong in one file, at one line, with what to do about it.

    ``got`` is already rendered (and redacted) text; build problems with ``Problem.about``
    so that raw values never reach one.
    """

    file: str
    line: int
    path: str
    message: str
    got: str | None = None
    hint: str = ""

    @classmethod
    def about(
        cls, file: str, line: int, path: FieldPath, message: str, hint: str, *value: object
    ) -> Problem:
        """A problem at ``path``; pass the offending value (if any) as the last argument."""
        got = show_value(path, value[0]) if value else None
        return cls(file, line, render_path(path), message, got, hint)

    def __str__(self) -> str:
        got = f" (got {self.got})" if self.got is not None else ""
        hint = f"; {self.hint}" if self.hint else ""
        return f"{self.file}:{self.line}: {self.path}: {self.message}{got}{hint}"


@dataclass(frozen=True)
class ParsedDocument:
    """Plain Python data from a YAML file plus the line of every node.

    ``data`` is ``None`` when the text did not parse; ``problems`` then says why.
    """

    filename: str
    data: Any
    lines: dict[FieldPath, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def line_of(self, path: FieldPath) -> int:
        """1-based line of the deepest node that exists along ``path``.

        For a mapping entry this is the line of its key, so a problem about a whole block
        points at the line that names it.
        """
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return 1


class _AliasNode(yaml.Node):
    """One use of an alias (``*name``): the node it refers to, and where it was written.

    PyYAML's composer hands back the anchored node itself for every alias, so the graph
    shares nodes and the alias's own position is lost; this keeps it for the problem line.
    """

    def __init__(self, target: yaml.Node, start_mark: Any, end_mark: Any) -> None:
        super().__init__(target.tag, target.value, start_mark, end_mark)
        self.target = target


class _Loader(yaml.SafeLoader):
    """The safe loader, whose composer marks every alias use (see ``_AliasNode``)."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event: yaml.AliasEvent = self.peek_event()  # type: ignore[no-untyped-call]
            target = super().compose_node(parent, index)  # an unknown anchor raises here
            if target is None:  # only the end of a document composes to nothing
                return None
            return _AliasNode(target, event.start_mark, event.end_mark)
        return super().compose_node(parent, index)


class _TooLargeError(Exception):
    """An alias expands past the budget, or contains itself; at the alias's line."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


class _Builder:
    """Walks composed YAML nodes into plain values, recording lines and duplicates.

    Every value built counts against the budget, so shared (aliased) nodes are paid for
    each time they are used, exactly as the expanded document would cost.
    """

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.lines: dict[FieldPath, int] = {}
        self.problems: list[Problem] = []
        self._loader = yaml.SafeLoader("")
        self._values = 0
        self._text = 0
        self._aliases: list[_AliasNode] = []  # the aliases being expanded, outermost first

    def build(self, node: yaml.Node, path: FieldPath) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, _AliasNode):
            return self._expand(node, path)
        self._values += 1
        if isinstance(node, yaml.ScalarNode):
            self._text += len(node.value)
        if self._aliases and (self._values > MAX_VALUES or self._text > MAX_TEXT):
            raise _TooLargeError(
                self._aliases[0].start_mark.line + 1,
                f"this alias expands to more than {MAX_VALUES} values or {MAX_TEXT} "
                "characters, more than any policy holds (nested aliases)",
            )
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        return None

    def _expand(self, alias: _AliasNode, path: FieldPath) -> Any:
        if any(outer.target is alias.target for outer in self._aliases):
            raise _TooLargeError(
                alias.start_mark.line + 1, "this alias refers to a value that contains it"
            )
        self._aliases.append(alias)
        try:
            return self.build(alias.target, path)
        finally:
            self._aliases.pop()

    def _mapping(self, node: yaml.MappingNode, path: FieldPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, _AliasNode):
                key_node = key_node.target
            key = str(self._scalar(key_node)) if isinstance(key_node, yaml.ScalarNode) else "?"
            line = key_node.start_mark.line + 1
            if key in result:
                first = self.lines[(*path, key)]
                self.problems.append(
                    Problem.about(
                        self.filename, line, (*path, key),
                        f"written twice (first at line {first})", "keep only one of them",
                    )
                )  # fmt: skip
                continue
            self.lines[(*path, key)] = line
            result[key] = self.build(value_node, (*path, key))
        return result

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        is_word = node.tag == "tag:yaml.org,2002:bool" and node.style is None
        if is_word and str(node.value).lower() in _YAML11_WORDS:
            return node.value
        try:
            return self._loader.construct_object(node, deep=True)
        except ValueError:
            return node.value  # e.g. the impossible date 2026-13-01: let the field say so
        except yaml.YAMLError:
            line = node.start_mark.line + 1
            hint = "remove the tag; only plain YAML values are accepted"
            self.problems.append(
                Problem(self.filename, line, "-", f"unsupported tag {node.tag}", None, hint)
            )
            return None


def parse_yaml(text: str, filename: str) -> ParsedDocument:
    """Parse one YAML document, keeping the line of every key and item.

    Syntax errors become a single problem at the line where the parser stopped, and so
    does an alias expanding past the budget (see the module docstring).
    """
    try:
        return _parse_yaml(text, filename)
    except RecursionError:  # thousands of nested [ or {: no policy looks like that
        return _unparsable(filename, 1, "is nested too deeply to be a policy")
    except _TooLargeError as error:
        hint = "write the values out instead of nesting aliases"
        return _unparsable(filename, error.line, error.reason, hint)


def _parse_yaml(text: str, filename: str) -> ParsedDocument:
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        reason = error.problem or error.context or "not valid YAML"
        return _unparsable(filename, line, _without_text(reason))
    except yaml.reader.ReaderError as error:  # a control character: often a binary file
        line = text.count("\n", 0, error.position) + 1
        reason = f"holds the control character #x{error.character:04x}, which YAML does not allow"
        return _unparsable(filename, line, reason, "save the file as plain UTF-8 text")
    except yaml.YAMLError:
        return _unparsable(filename, 1, "not valid YAML")
    if root is None:
        return ParsedDocument(filename, None, {(): 1})
    builder = _Builder(filename)
    data = builder.build(root, ())
    return ParsedDocument(filename, data, builder.lines, builder.problems)


def _without_text(reason: str) -> str:
    """A PyYAML message without the file's text it quotes (an alias name, a word).

    The file may not be a policy at all, and what it holds must not reach a problem line.
    One quoted character is kept ("found character '\\t'" is what tells of a tab), and
    so is a token's name ("but found '<scalar>'"): neither is the file's text.
    """
    return _QUOTED.sub(
        lambda m: m[0] if len(m[0]) <= 4 or _TOKEN.fullmatch(m[0]) else "<text>", reason
    )


def _unparsable(
    filename: str,
    line: int,
    reason: str,
    hint: str = "fix the YAML syntax (indentation, quotes, a missing ':')",
) -> ParsedDocument:
    problem = Problem(filename, line, "-", reason, None, hint)
    return ParsedDocument(filename, None, problems=[problem])


def invalid(kind: str, message: str, hint: str, field: str = "") -> PydanticCustomError:
    """A validation error that already speaks the problem-line language.

    Validators raise this instead of ``ValueError`` so that the checker can print
    ``message`` and ``hint`` as they are; ``field`` (dotted) names a sub-field of the
    location pydantic reports, for checks that look at a whole mapping.
    """
    return PydanticCustomError(kind, message, {"hint": hint, "field": field})
