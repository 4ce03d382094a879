"""The inventory of a MariaDB/MySQL database: every object, named, with its definition's digest.

What a restore's verification compares (``ports.source.SchemaObject``): it lists what the
server holds in the connection's database, whatever the dumper carries, so a lost view,
trigger, routine or event shows up as missing. Definitions are assembled from
``information_schema`` (the server's own text of each part), not ``SHOW CREATE``, whose
text carries the table's current ``AUTO_INCREMENT`` counter.

Rules: names are the database's own, unqualified (``contacts``; ``audit_insert ON
contacts`` for a trigger); definers, owners and privileges are not part of a definition (a
restore may run as another account on purpose); counters' values are not either (they are
checked against the snapshot's reading, ``Sequence.value``). The ``sql_mode`` and the
character sets a trigger, routine or event was created under are part of it: they change
what its body means.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from retention_pipeline.ports.source import SchemaObject, schema_object

_TABLES = """SELECT TABLE_NAME, TABLE_TYPE, ENGINE, TABLE_COLLATION, CREATE_OPTIONS, TABLE_COMMENT
FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE <> 'VIEW'"""

_COLUMNS = """SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA,
       COLLATION_NAME, COLUMN_COMMENT, GENERATION_EXPRESSION
FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()
  AND TABLE_NAME IN (SELECT TABLE_NAME FROM information_schema.TABLES
                     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE <> 'VIEW')
ORDER BY TABLE_NAME, ORDINAL_POSITION"""

_PARTITIONS = """SELECT TABLE_NAME, PARTITION_NAME, SUBPARTITION_NAME, PARTITION_METHOD,
       SUBPARTITION_METHOD, PARTITION_EXPRESSION, SUBPARTITION_EXPRESSION, PARTITION_DESCRIPTION
FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = DATABASE() AND PARTITION_NAME IS NOT NULL
ORDER BY TABLE_NAME, PARTITION_ORDINAL_POSITION, SUBPARTITION_ORDINAL_POSITION"""

_INDEXES = """SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, INDEX_TYPE, COLUMN_NAME, SUB_PART,
       COLLATION, INDEX_COMMENT
FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()
ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"""

_CONSTRAINTS = """SELECT tc.TABLE_NAME, tc.CONSTRAINT_NAME, tc.CONSTRAINT_TYPE,
       k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME,
       rc.UPDATE_RULE, rc.DELETE_RULE
FROM information_schema.TABLE_CONSTRAINTS tc
LEFT JOIN information_schema.KEY_COLUMN_USAGE k ON k.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA
     AND k.TABLE_NAME = tc.TABLE_NAME AND k.CONSTRAINT_NAME = tc.CONSTRAINT_NAME
LEFT JOIN information_schema.REFERENTIAL_CONSTRAINTS rc
     ON rc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND rc.TABLE_NAME = tc.TABLE_NAME
     AND rc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME
WHERE tc.CONSTRAINT_SCHEMA = DATABASE() AND tc.CONSTRAINT_TYPE <> 'CHECK'
ORDER BY tc.TABLE_NAME, tc.CONSTRAINT_NAME, k.ORDINAL_POSITION"""

_CHECKS = """SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE
FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()"""

_VIEWS = """SELECT TABLE_NAME, VIEW_DEFINITION, CHECK_OPTION, IS_UPDATABLE, SECURITY_TYPE,
       ALGORITHM, CHARACTER_SET_CLIENT, COLLATION_CONNECTION
FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()"""

_ROUTINES = """SELECT ROUTINE_TYPE, ROUTINE_NAME, DTD_IDENTIFIER, ROUTINE_BODY,
       ROUTINE_DEFINITION, IS_DETERMINISTIC, SQL_DATA_ACCESS, SECURITY_TYPE, SQL_MODE,
       ROUTINE_COMMENT, CHARACTER_SET_CLIENT, COLLATION_CONNECTION, DATABASE_COLLATION
FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()"""

_PARAMETERS = """SELECT SPECIFIC_NAME, ROUTINE_TYPE, PARAMETER_MODE, PARAMETER_NAME, DTD_IDENTIFIER
FROM information_schema.PARAMETERS WHERE SPECIFIC_SCHEMA = DATABASE() AND ORDINAL_POSITION > 0
ORDER BY SPECIFIC_NAME, ROUTINE_TYPE, ORDINAL_POSITION"""

_TRIGGERS = """SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION,
       ACTION_ORDER, ACTION_STATEMENT, SQL_MODE, CHARACTER_SET_CLIENT, COLLATION_CONNECTION,
       DATABASE_COLLATION
FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()"""

_EVENTS = """SELECT EVENT_NAME, EVENT_DEFINITION, EVENT_TYPE, EXECUTE_AT, INTERVAL_VALUE,
       INTERVAL_FIELD, STARTS, ENDS, STATUS, ON_COMPLETION, SQL_MODE, EVENT_COMMENT,
       TIME_ZONE, CHARACTER_SET_CLIENT, COLLATION_CONNECTION, DATABASE_COLLATION
FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()"""


def _text(values: Any) -> str:
    """One line of a definition: each part as the server printed it, NULL as ``NULL``."""
    return " | ".join("NULL" if v is None else str(v) for v in values)


def _grouped(cur: Any, query: str, width: int) -> dict[tuple[Any, ...], list[str]]:
    """Rows of ``query`` grouped by their first ``width`` columns, the rest as lines."""
    groups: dict[tuple[Any, ...], list[str]] = defaultdict(list)
    cur.execute(query)
    for row in cur.fetchall():
        groups[tuple(row[:width])].append(_text(row[width:]))
    return groups


def read_inventory(cur: Any) -> tuple[SchemaObject, ...]:
    """Every object of the connection's database (see the module docstring), sorted."""
    objects: list[SchemaObject] = []
    columns = _grouped(cur, _COLUMNS, 1)
    partitions = _grouped(cur, _PARTITIONS, 1)
    cur.execute(_TABLES)
    for name, kind, *options in cur.fetchall():
        parts = [_text(options), *columns.get((name,), []), *partitions.get((name,), [])]
        word = "sequence" if kind == "SEQUENCE" else "table"
        objects.append(schema_object(word, name, "\n".join(parts)))
    for (table, index), lines in _grouped(cur, _INDEXES, 2).items():
        objects.append(schema_object("index", f"{index} ON {table}", "\n".join(lines)))
    for (table, constraint), lines in _grouped(cur, _CONSTRAINTS, 2).items():
        objects.append(schema_object("constraint", f"{constraint} ON {table}", "\n".join(lines)))
    for (table, check), lines in _grouped(cur, _CHECKS, 2).items():
        objects.append(schema_object("check", f"{check} ON {table}", "\n".join(lines)))
    # information_schema qualifies a view's columns with the database's name, which a
    # restore into another database changes: the definition is compared without it
    cur.execute("SELECT DATABASE()")
    (database,) = cur.fetchone()
    own = "`" + str(database).replace("`", "``") + "`."
    for (view,), lines in _grouped(cur, _VIEWS, 1).items():
        objects.append(schema_object("view", view, "\n".join(lines).replace(own, "")))
    parameters = _grouped(cur, _PARAMETERS, 2)
    for (kind, routine), lines in _grouped(cur, _ROUTINES, 2).items():
        signature = parameters.get((routine, kind), [])
        objects.append(schema_object(kind.lower(), routine, "\n".join([*signature, *lines])))
    for (trigger, table), lines in _grouped(cur, _TRIGGERS, 2).items():
        objects.append(schema_object("trigger", f"{trigger} ON {table}", "\n".join(lines)))
    for (event,), lines in _grouped(cur, _EVENTS, 1).items():
        objects.append(schema_object("event", event, "\n".join(lines)))
    return tuple(sorted(objects))
