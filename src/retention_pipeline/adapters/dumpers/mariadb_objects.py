"""The MariaDB/MySQL objects besides tables: routines, views, triggers and events.

What ``mariadb-dump --routines --triggers --events`` carries besides the tables, read the
same way it reads them: the server's own ``SHOW CREATE`` text of each object, with the
``sql_mode`` and character sets it was created under (they change what a body means), in
the dump's snapshot transaction. A restore replays them after the rows, as mariadb-dump's
output does: routines first (views and triggers may call them), then views (a view may
read another: they are retried until every one exists), then triggers in their firing
order, then events.

``DEFINER`` clauses name accounts, which differ between servers: a restore keeps those
whose account exists on the target and drops the others (the object is then defined by
the restoring account), listing each; ``--no-owner`` drops them all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

NATIVE_KEY = "mariadb-objects"

_ROUTINES = """SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES
WHERE ROUTINE_SCHEMA = DATABASE() ORDER BY ROUTINE_TYPE, ROUTINE_NAME"""
_VIEWS = """SELECT TABLE_NAME FROM information_schema.VIEWS
WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME"""
_TRIGGERS = """SELECT TRIGGER_NAME FROM information_schema.TRIGGERS
WHERE TRIGGER_SCHEMA = DATABASE()
ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER"""
_EVENTS = """SELECT EVENT_NAME FROM information_schema.EVENTS
WHERE EVENT_SCHEMA = DATABASE() ORDER BY EVENT_NAME"""
_DEFINER = re.compile(r" ?DEFINER=`((?:[^`]|``)*)`@`((?:[^`]|``)*)`")
_NO_SUCH_TABLE = 1146  # ER_NO_SUCH_TABLE: a view that reads a view not created yet


@dataclass(frozen=True)
class LaterObject:
    """One object as ``SHOW CREATE`` printed it, and the session it was created under."""

    kind: str  # function, procedure, view, trigger, event
    name: str
    create: str
    sql_mode: str | None = None
    charset: str | None = None
    collation: str | None = None
    time_zone: str | None = None


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def read_objects(cur: Any) -> list[LaterObject]:
    """Every routine, view, trigger and event of the connection's database, in replay order."""
    found: list[LaterObject] = []
    cur.execute(_ROUTINES)
    for kind, name in cur.fetchall():
        cur.execute(f"SHOW CREATE {kind} {_quote(name)}")
        _, mode, create, charset, collation, _ = cur.fetchone()[:6]
        found.append(LaterObject(kind.lower(), name, create, mode, charset, collation))
    cur.execute(_VIEWS)
    for (name,) in cur.fetchall():
        cur.execute(f"SHOW CREATE VIEW {_quote(name)}")
        _, create, charset, collation = cur.fetchone()[:4]
        found.append(LaterObject("view", name, create, None, charset, collation))
    cur.execute(_TRIGGERS)
    for (name,) in cur.fetchall():
        cur.execute(f"SHOW CREATE TRIGGER {_quote(name)}")
        _, mode, create, charset, collation = cur.fetchone()[:5]
        found.append(LaterObject("trigger", name, create, mode, charset, collation))
    cur.execute(_EVENTS)
    for (name,) in cur.fetchall():
        cur.execute(f"SHOW CREATE EVENT {_quote(name)}")
        _, mode, zone, create, charset, collation = cur.fetchone()[:6]
        found.append(LaterObject("event", name, create, mode, charset, collation, zone))
    return found


def to_native(objects: list[LaterObject]) -> dict[str, str]:
    """The snapshot's ``native`` entry holding ``objects`` (JSON, in replay order)."""
    return {NATIVE_KEY: json.dumps([o.__dict__ for o in objects], ensure_ascii=False)}


def from_native(native: dict[str, str]) -> list[LaterObject]:
    """Inverse of ``to_native``; none for a snapshot written before they were carried."""
    return [LaterObject(**o) for o in json.loads(native.get(NATIVE_KEY, "[]"))]


def without_missing_definers(
    obj: LaterObject, exists: Callable[[str, str], bool], *, owners: bool
) -> tuple[str, str | None]:
    """The object's CREATE text, and a line saying so when its DEFINER was dropped."""
    match = _DEFINER.search(obj.create)
    if match is None:
        return obj.create, None
    user, host = (g.replace("``", "`") for g in match.groups())
    if owners and exists(user, host):
        return obj.create, None
    why = "--no-owner" if not owners else "account not on the target"
    text = obj.create[: match.start()] + obj.create[match.end() :]
    return text, f"definer of {obj.kind} {obj.name} ({why}): the restoring account defines it"


def replay(cur: Any, objects: list[LaterObject], create: Callable[[LaterObject], str]) -> None:
    """Create every object in order; views are retried while another view they read is due.

    ``create`` gives each object's statement (its definer handled). The session settings
    of each object are set before it and the loader's own restored by the caller.
    """
    pending = list(objects)
    while pending:
        retry: list[LaterObject] = []
        error: Exception | None = None
        for obj in pending:
            _session(cur, obj)
            try:
                cur.execute(create(obj))
            except Exception as failed:  # pymysql's error, re-raised below if no progress
                code = failed.args[0] if failed.args else None
                if obj.kind != "view" or code != _NO_SUCH_TABLE:
                    raise
                retry.append(obj)
                error = failed
        if len(retry) == len(pending):
            assert error is not None
            raise error
        pending = retry


def _session(cur: Any, obj: LaterObject) -> None:
    settings = []
    if obj.sql_mode is not None:
        settings.append(("sql_mode", obj.sql_mode))
    if obj.charset is not None:
        settings.append(("character_set_client", obj.charset))
    if obj.collation is not None:
        settings.append(("collation_connection", obj.collation))
    if obj.time_zone is not None:
        settings.append(("time_zone", obj.time_zone))
    for name, value in settings:
        cur.execute(f"SET SESSION {name} = %s", (value,))
