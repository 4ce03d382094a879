"""Turn pydantic validation errors into problem lines a person can act on.

Rules this module enforces:

- every error is mapped to the line where the field (or its nearest written parent)
  sits in the file, and to a dotted field path without pydantic's internal parts
  (discriminator tags, ``[key]`` markers);
- no pydantic wording reaches the user ("Input should be ..."): each error type has a
  message and a hint written for someone editing YAML;
- an unknown field gets a "did you mean" from the fields accepted at that place;
- values are shown through ``Problem.about``, which redacts personal data and secrets.
"""

from __future__ import annotations

import difflib
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from retention_pipeline.domain.documents import FieldPath, ParsedDocument, Problem

_SCHEMA_HINT = "see the field's description in the schema (retention-pipeline policy schema)"
_NAME_HINT = "use 2 to 63 characters of a-z, 0-9, '-' and '_', starting with a letter or digit"

# error type -> (message, hint, show the value?)
_TABLE: dict[str, tuple[str, str, bool]] = {
    "missing": ("is required", "add it", False),
    "int_type": ("must be a whole number", "write digits only, like 7", True),
    "int_parsing": ("must be a whole number", "write digits only, like 7", True),
    "int_from_float": ("must be a whole number", "write digits only, like 7", True),
    "bool_type": ("must be true or false", "write true or false", True),
    "bool_parsing": ("must be true or false", "write true or false", True),
    "string_type": ("must be text", "write it as text, in quotes if needed", True),
    "string_too_short": ("must not be empty", "write a value or remove the field", False),
    "string_too_long": ("is too long", "shorten it (the field's maximum is in the schema)", True),
    "model_type": ("must be a mapping of fields", "write 'field: value' lines under it", True),
    "model_attributes_type": ("must be a mapping of fields", "write 'field: value' lines", True),
    "dict_type": ("must be a mapping of names", "write 'name: {...}' lines under it", True),
    "list_type": ("must be a list", "write [a, b] or one '- item' line per item", True),
    "date_type": ("is not a date", "write it as YYYY-MM-DD, like 2027-12-31", True),
    "date_parsing": ("is not a date", "write it as YYYY-MM-DD, like 2027-12-31", True),
    "date_from_datetime_parsing": ("is not a date", "write it as YYYY-MM-DD", True),
    "date_from_datetime_inexact": ("is not a date", "write it as YYYY-MM-DD", True),
    "string_pattern_mismatch": ("has characters that are not allowed", _SCHEMA_HINT, True),
}


def _options(tp: Any) -> list[Any]:
    """The concrete alternatives of an annotation (Annotated, Optional, unions unwrapped)."""
    origin = get_origin(tp)
    if origin is Annotated:
        return _options(get_args(tp)[0])
    if origin in (Union, types.UnionType):
        return [option for arg in get_args(tp) for option in _options(arg)]
    return [] if tp is type(None) else [tp]


def _models(tp: Any) -> list[type[BaseModel]]:
    return [o for o in _options(tp) if isinstance(o, type) and issubclass(o, BaseModel)]


def _tag(model: type[BaseModel]) -> object:
    kind = model.model_fields.get("kind")
    values = get_args(kind.annotation) if kind is not None else ()
    return values[0] if kind is not None and get_origin(kind.annotation) is Literal else None


def _child(tp: Any, part: str | int) -> Any:
    for model in _models(tp):
        if isinstance(part, str) and part in model.model_fields:
            return model.model_fields[part].annotation
    for option in _options(tp):
        if get_origin(option) is dict and isinstance(part, str):
            return get_args(option)[1]
        if get_origin(option) is list and isinstance(part, int):
            return get_args(option)[0]
    return None


def resolve(root: type[BaseModel], loc: tuple[str | int, ...]) -> tuple[FieldPath, Any]:
    """A pydantic ``loc`` as a document path, and the annotation found at its end."""
    tp: Any = root
    path: list[str | int] = []
    for part in loc:
        if part == "[key]":
            continue
        variants = {_tag(m): m for m in _models(tp)} if len(_models(tp)) > 1 else {}
        if part in variants:
            tp = variants[part]
            continue
        path.append(part)
        tp = _child(tp, part)
    return tuple(path), tp


def _unknown_field(root: type[BaseModel], path: FieldPath) -> tuple[str, str]:
    _, parent = resolve(root, path[:-1])
    known = sorted({name for model in _models(parent) for name in model.model_fields})
    close = difflib.get_close_matches(str(path[-1]), known, n=1, cutoff=0.6)
    if close:
        return "is not a known field", f"did you mean {close[0]!r}?"
    return "is not a known field", f"remove it; fields accepted here: {', '.join(known)}"


def _describe(root: type[BaseModel], error: ErrorDetails, path: FieldPath) -> tuple[str, str, bool]:
    kind, ctx = error["type"], error.get("ctx") or {}
    if "hint" in ctx:
        return error["msg"], str(ctx["hint"]), True
    if kind == "extra_forbidden":
        return (*_unknown_field(root, path), False)
    if kind == "literal_error":
        return "is not an accepted value", f"use one of {ctx.get('expected')}", True
    if kind == "greater_than_equal":
        return f"must be {ctx.get('ge')} or more", f"use a number of at least {ctx.get('ge')}", True
    if kind == "greater_than":
        return f"must be more than {ctx.get('gt')}", f"use a number above {ctx.get('gt')}", True
    if kind == "string_pattern_mismatch" and error["loc"][-1:] == ("[key]",):
        return "is not a valid name", _NAME_HINT, False
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tags = sorted(str(_tag(m)) for m in _models(resolve(root, error["loc"])[1]))
        found = "is not a known kind" if kind == "union_tag_invalid" else "is required"
        return found, f"use kind: {' or kind: '.join(tags)}", kind == "union_tag_invalid"
    return _TABLE.get(kind, ("is not valid", _SCHEMA_HINT, True))


def problems_from(
    error: ValidationError, parsed: ParsedDocument, root: type[BaseModel]
) -> list[Problem]:
    """One problem line per validation error, at the line of the field it is about."""
    problems = []
    for detail in error.errors():
        path, _ = resolve(root, detail["loc"])
        ctx = detail.get("ctx") or {}
        value: tuple[object, ...] = (detail.get("input"),)
        if ctx.get("field"):
            path = (*path, *str(ctx["field"]).split("."))
            value = (_lookup(parsed.data, path),)
        if detail["type"] in ("union_tag_invalid", "union_tag_not_found"):
            path, value = (*path, "kind"), (ctx.get("tag"),)
        message, hint, show = _describe(root, detail, path)
        shown = value if show and not isinstance(value[0], dict) else ()
        line = parsed.line_of(path)
        problems.append(Problem.about(parsed.filename, line, path, message, hint, *shown))
    return problems


def _lookup(data: Any, path: FieldPath) -> object:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data
