"""Canonical JSON: the one byte spelling of a certificate, so its hash and signature are stable.

A signature covers bytes, not meaning; a verifier that re-serialises a statement must get
the very bytes that were signed, and a Merkle leaf must not change when a tool re-indents
a file. Rules this module enforces:

* objects: keys sorted, no duplicate keys, keys ASCII only;
* no insignificant whitespace: separators are ``,`` and ``:``;
* strings as UTF-8, not ``\\uXXXX``-escaped, except ``"``, ``\\`` and the control
  characters below U+0020 (``\\b \\t \\n \\f \\r``, others as lowercase ``\\u00xx``);
  lone surrogates are refused;
* numbers are integers within +/-(2**53 - 1); floats are refused;
* ``true``, ``false``, ``null``, lists (order kept) and nested objects as usual.

For this value space the output is byte for byte the JSON Canonicalization Scheme of
RFC 8785 (JCS): JCS sorts keys by UTF-16 code units, which equals code point order for
ASCII keys, writes integers of that range without exponent, and escapes strings exactly as
above. Floats are left out because their shortest round-trip spelling is where canonical
JSON implementations disagree, and no certificate field needs one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

MAX_SAFE_INTEGER = 2**53 - 1


def canonical_json(value: Any) -> bytes:
    """``value`` as canonical JSON bytes; ``ValueError``/``TypeError`` outside the value space."""
    _check(value, "$")
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError("canonical JSON refuses strings with lone surrogates") from error


def parse_json_strict(data: bytes) -> Any:
    """Parse UTF-8 JSON, refusing duplicate keys, floats, NaN and Infinity.

    Python's ``json`` keeps the last of two duplicate keys silently, so an attacker could
    show one value to a human reader and another to the verifier; here both are an error.
    """
    text = data.decode("utf-8")  # UnicodeDecodeError is a ValueError
    return json.loads(
        text,
        object_pairs_hook=_unique_keys,
        parse_float=_no_float,
        parse_constant=_no_constant,
    )


def is_canonical(data: bytes) -> bool:
    """Whether ``data`` is exactly the canonical spelling of the JSON value it holds."""
    try:
        return canonical_json(parse_json_strict(data)) == data
    except (ValueError, TypeError, RecursionError):
        return False


def _check(value: Any, path: str) -> None:
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise ValueError(f"canonical JSON: integer at {path} is outside +/-(2**53 - 1)")
        return
    if isinstance(value, float):
        raise TypeError(f"canonical JSON: float at {path}; use an integer or a string")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str) or not key.isascii():
                raise TypeError(f"canonical JSON: key {key!r} at {path} is not an ASCII string")
            _check(item, f"{path}.{key}")
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]")
        return
    raise TypeError(f"canonical JSON: {type(value).__name__} at {path} is not a JSON value")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate JSON key {key!r}")
        result[key] = value
    return result


def _no_float(text: str) -> Any:
    raise ValueError("JSON numbers with a fraction or exponent are not accepted")


def _no_constant(text: str) -> Any:
    raise ValueError(f"JSON constant {text} is not accepted")
