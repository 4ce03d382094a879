"""Canonical JSON: one spelling per value, and the value space is enforced."""

from __future__ import annotations

import pytest

from retention_pipeline.envelope.canonical import canonical_json, is_canonical, parse_json_strict


def test_sorted_keys_no_whitespace_utf8() -> None:
    value = {"b": [1, True, None], "a": {"z": 'é\n"\\', "y": -3}}
    assert canonical_json(value) == '{"a":{"y":-3,"z":"é\\n\\"\\\\"},"b":[1,true,null]}'.encode()


def test_rfc8785_string_escapes() -> None:
    # RFC 8785 3.2.2.2: control characters use the short forms or lowercase \u00xx.
    assert canonical_json("\b\f\t\r\x01\x1f\x7f€") == '"\\b\\f\\t\\r\\u0001\\u001f\x7f€"'.encode()


@pytest.mark.parametrize(
    "value", [1.5, 1e3, 2**53, -(2**53), {"é": 1}, {1: 2}, "\ud800", b"bytes", {"a": {1, 2}}]
)
def test_values_outside_the_space_are_refused(value: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        canonical_json(value)


def test_strict_parser_refuses_duplicates_floats_and_constants() -> None:
    for text in (b'{"a":1,"a":1}', b'{"a":1.0}', b"[NaN]", b"[Infinity]", b"\xff"):
        with pytest.raises(ValueError):
            parse_json_strict(text)
    assert parse_json_strict(b'{"a":[1,2]}') == {"a": [1, 2]}


def test_is_canonical() -> None:
    assert is_canonical(b'{"a":1,"b":2}')
    assert not is_canonical(b'{"b":2,"a":1}')
    assert not is_canonical(b'{"a": 1}')
    assert not is_canonical(b'"\\u00e9"')
