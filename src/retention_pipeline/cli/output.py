"""How commands print: aligned tables for people, ``--json`` for tools.

Listing commands take ``--json`` so auditors' scripts never parse tables; both forms
carry opaque ids only.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, TextIO


def _default(value: object) -> object:
    """JSON for values the standard encoder refuses: times as ISO 8601."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if hasattr(value, "__dataclass_fields__"):
        return {k: getattr(value, k) for k in value.__dataclass_fields__}
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def print_json(data: Any, out: TextIO | None = None) -> None:
    """Print ``data`` as indented JSON with stable key order."""
    stream = out or sys.stdout
    json.dump(data, stream, indent=2, sort_keys=True, default=_default, ensure_ascii=False)
    stream.write("\n")


def cell(value: object) -> str:
    """One table cell: times in ISO 8601 without microseconds, ``-`` for nothing."""
    if value is None or value == "":
        return "-"
    if isinstance(value, datetime):
        return value.replace(microsecond=0).isoformat()
    return str(value)


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], out: TextIO | None = None
) -> None:
    """Print rows under headers, columns aligned; says so when there is no row."""
    stream = out or sys.stdout
    if not rows:
        stream.write("(none)\n")
        return
    text = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in text)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    stream.write(line.rstrip() + "\n")
    for r in text:
        stream.write("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() + "\n")
