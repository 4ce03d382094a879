"""The inventory of a PostgreSQL schema: every object, named, with its definition's digest.

This is what a restore's verification compares (``ports.source.SchemaObject``), so it
lists what the server holds, whatever the dumper carries: an object a restore lost shows
up as missing, one it recreated differently as changed. Definitions are the server's own
text (``pg_get_viewdef``, ``pg_get_functiondef``, ``pg_get_triggerdef``,
``pg_get_constraintdef``, ``pg_get_indexdef``, ``format_type``...), which a server of the
same major version prints the same way for the same object.

Rules the query keeps:

* one schema (the dumper's), named explicitly: every name is written ``schema.name`` (or
  ``name ON schema.table`` for what lives on a table), whatever ``search_path`` is;
* an extension's member objects are not listed one by one: the extension is, with its
  version, since ``CREATE EXTENSION`` recreates its members; an extension appears when
  it lives in the schema or when an object of the schema depends on one of its members;
* owners and privileges are not part of a definition: a restore may skip them on
  purpose (``--no-owner``), and roles differ between servers;
* counters' current values are not either: they move outside transactions, so they are
  checked against the snapshot's own reading instead (``Sequence.value``);
* invalid indexes (a failed ``CREATE INDEX CONCURRENTLY``) are left out, as ``pg_dump``
  leaves them out, and so are functions the server made itself (a range type's
  constructors), which come back with their type.
"""

from __future__ import annotations

from typing import Any

import psycopg

from retention_pipeline.ports.source import SchemaObject, schema_object

# Objects of pg_class, pg_proc, pg_type... that belong to an extension.
_MEMBER = (
    "EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '{catalog}'::regclass "
    "AND e.objid = {oid} AND e.deptype = 'e')"
)


def _not_member(catalog: str, oid: str) -> str:
    return "NOT " + _MEMBER.format(catalog=catalog, oid=oid)


_REL = f"""
SELECT c.*, n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND {_not_member("pg_class", "c.oid")}"""

_QUALIFIED = "format('%%I.%%I', r.nspname, r.relname)"

_COLUMNS = """(SELECT string_agg(format('%%I %%s%%s%%s%%s%%s', a.attname,
        format_type(a.atttypid, a.atttypmod),
        CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END,
        CASE WHEN a.attidentity <> '' THEN ' IDENTITY ' || a.attidentity::text ELSE '' END,
        CASE WHEN a.attgenerated <> '' THEN ' GENERATED ' || pg_get_expr(d.adbin, d.adrelid)
             WHEN d.adbin IS NOT NULL THEN ' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid)
             ELSE '' END,
        CASE WHEN a.attcollation <> t.typcollation
             THEN ' COLLATE ' || a.attcollation::regcollation::text ELSE '' END),
        ', ' ORDER BY a.attnum)
    FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped)"""

_TABLES = f"""
SELECT CASE r.relkind WHEN 'p' THEN 'partitioned table' WHEN 'f' THEN 'foreign table'
            ELSE 'table' END,
       {_QUALIFIED},
       concat_ws(' | ', {_COLUMNS}, 'persistence ' || r.relpersistence::text,
           'partition by ' || pg_get_partkeydef(r.oid),
           CASE WHEN r.relispartition THEN 'partition of ' ||
               (SELECT format('%%I.%%I', pn.nspname, p.relname) FROM pg_inherits i
                JOIN pg_class p ON p.oid = i.inhparent
                JOIN pg_namespace pn ON pn.oid = p.relnamespace WHERE i.inhrelid = r.oid)
               || ' ' || pg_get_expr(r.relpartbound, r.oid) END,
           CASE WHEN NOT r.relispartition THEN 'inherits ' ||
               (SELECT string_agg(format('%%I.%%I', pn.nspname, p.relname), ', '
                                  ORDER BY i.inhseqno)
                FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
                JOIN pg_namespace pn ON pn.oid = p.relnamespace WHERE i.inhrelid = r.oid) END,
           'options ' || array_to_string(r.reloptions, ','),
           CASE WHEN r.relrowsecurity THEN 'row security' END,
           CASE WHEN r.relforcerowsecurity THEN 'forced row security' END,
           'replica identity ' || r.relreplident::text)
FROM ({_REL}) r WHERE r.relkind IN ('r', 'p', 'f')"""

_VIEWS = f"""
SELECT CASE r.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END, {_QUALIFIED},
       concat_ws(' | ', pg_get_viewdef(r.oid), 'options ' || array_to_string(r.reloptions, ','),
                 CASE WHEN r.relkind = 'm' AND NOT r.relispopulated THEN 'not populated' END)
FROM ({_REL}) r WHERE r.relkind IN ('v', 'm')"""

_SEQUENCES = f"""
SELECT 'sequence', {_QUALIFIED},
       concat_ws(' ', format_type(s.seqtypid, NULL), 'start', s.seqstart, 'increment',
                 s.seqincrement, 'min', s.seqmin, 'max', s.seqmax, 'cache', s.seqcache,
                 CASE WHEN s.seqcycle THEN 'cycle' END,
                 (SELECT format('owned by %%I.%%I.%%I %%s', tn.nspname, t.relname, a.attname,
                                d.deptype::text)
                  FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid
                  JOIN pg_namespace tn ON tn.oid = t.relnamespace
                  JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = r.oid
                    AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
                  LIMIT 1))
FROM ({_REL}) r JOIN pg_sequence s ON s.seqrelid = r.oid WHERE r.relkind = 'S'"""

_INDEXES = f"""
SELECT 'index', format('%%I.%%I', r.nspname, ic.relname),
       pg_get_indexdef(i.indexrelid) || CASE WHEN i.indisclustered THEN ' CLUSTER' ELSE '' END
FROM ({_REL}) r JOIN pg_index i ON i.indrelid = r.oid JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE i.indisvalid"""

_ON_TABLE = "format('%%I ON %%I.%%I', {name}, r.nspname, r.relname)"

_CONSTRAINTS = f"""
SELECT 'constraint', {_ON_TABLE.format(name="con.conname")},
       con.contype::text || ' ' || pg_get_constraintdef(con.oid)
FROM ({_REL}) r JOIN pg_constraint con ON con.conrelid = r.oid
UNION ALL
SELECT 'constraint', format('%%I ON DOMAIN %%I.%%I', con.conname, n.nspname, t.typname),
       con.contype::text || ' ' || pg_get_constraintdef(con.oid)
FROM pg_constraint con JOIN pg_type t ON t.oid = con.contypid
JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = %(schema)s AND {_not_member("pg_type", "t.oid")}"""

_TRIGGERS = f"""
SELECT 'trigger', {_ON_TABLE.format(name="tg.tgname")},
       pg_get_triggerdef(tg.oid) || ' enabled ' || tg.tgenabled::text
FROM ({_REL}) r JOIN pg_trigger tg ON tg.tgrelid = r.oid WHERE NOT tg.tgisinternal"""

_RULES = f"""
SELECT 'rule', {_ON_TABLE.format(name="ru.rulename")},
       pg_get_ruledef(ru.oid) || ' enabled ' || ru.ev_enabled::text
FROM ({_REL}) r JOIN pg_rewrite ru ON ru.ev_class = r.oid WHERE ru.rulename <> '_RETURN'"""

_POLICIES = f"""
SELECT 'policy', {_ON_TABLE.format(name="po.polname")},
       concat_ws(' | ', po.polcmd::text, CASE WHEN po.polpermissive THEN 'permissive'
                                        ELSE 'restrictive' END,
           (SELECT string_agg(CASE WHEN ro = 0 THEN 'public' ELSE ro::regrole::text END, ','
                              ORDER BY 1) FROM unnest(po.polroles) ro),
           'using ' || pg_get_expr(po.polqual, po.polrelid),
           'check ' || pg_get_expr(po.polwithcheck, po.polrelid))
FROM ({_REL}) r JOIN pg_policy po ON po.polrelid = r.oid"""

_ROUTINES = f"""
SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate'
                      WHEN 'w' THEN 'window function' ELSE 'function' END,
       format('%%I.%%I(%%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
       CASE WHEN p.prokind = 'a' THEN
           (SELECT format('aggregate %%s transition %%s state %%s final %%s initial %%s '
                          'combine %%s sort %%s kind %%s', pg_get_function_arguments(p.oid),
                          a.aggtransfn::regproc, format_type(a.aggtranstype, NULL),
                          a.aggfinalfn::regproc, a.agginitval, a.aggcombinefn::regproc,
                          a.aggsortop::regoperator, a.aggkind::text)
            FROM pg_aggregate a WHERE a.aggfnoid = p.oid)
       ELSE pg_get_functiondef(p.oid) END
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = %(schema)s AND {_not_member("pg_proc", "p.oid")}
  AND NOT EXISTS (SELECT 1 FROM pg_depend i WHERE i.classid = 'pg_proc'::regclass
                  AND i.objid = p.oid AND i.deptype = 'i')"""

_TYPES = f"""
SELECT CASE t.typtype WHEN 'd' THEN 'domain' ELSE 'type' END,
       format('%%I.%%I', n.nspname, t.typname),
       CASE t.typtype
         WHEN 'e' THEN 'enum ' || (SELECT string_agg(quote_literal(e.enumlabel), ', '
                                                     ORDER BY e.enumsortorder)
                                   FROM pg_enum e WHERE e.enumtypid = t.oid)
         WHEN 'd' THEN concat_ws(' ', 'domain', format_type(t.typbasetype, t.typtypmod),
                                 CASE WHEN t.typnotnull THEN 'NOT NULL' END,
                                 'DEFAULT ' || t.typdefault,
                                 'COLLATE ' || nullif(t.typcollation, 0)::regcollation::text)
         WHEN 'r' THEN (
             SELECT concat_ws(' ', 'range', format_type(rg.rngsubtype, NULL),
                    'opclass', oc.opcname,
                    'collation ' || nullif(rg.rngcollation, 0)::regcollation::text,
                    'canonical ' || nullif(rg.rngcanonical::oid, 0)::regproc::text,
                    'diff ' || nullif(rg.rngsubdiff::oid, 0)::regproc::text)
             FROM pg_range rg JOIN pg_opclass oc ON oc.oid = rg.rngsubopc
             WHERE rg.rngtypid = t.oid)
         ELSE 'composite ' || (SELECT string_agg(format('%%I %%s', a.attname,
                                                        format_type(a.atttypid, a.atttypmod)),
                                                 ', ' ORDER BY a.attnum)
                               FROM pg_attribute a WHERE a.attrelid = t.typrelid
                                 AND a.attnum > 0 AND NOT a.attisdropped)
       END
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = %(schema)s AND {_not_member("pg_type", "t.oid")}
  AND (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND
       (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))"""

# Extensions living in the schema, and those whose members an object of the schema uses
# (a column of its type, an index with its operator class, a function it calls).
_EXTENSIONS = """
WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = %(schema)s),
rel AS (SELECT oid FROM pg_class WHERE relnamespace = (SELECT oid FROM ns)),
used AS (
  SELECT d.refclassid, d.refobjid FROM pg_depend d
  WHERE (d.classid = 'pg_class'::regclass AND d.objid IN (SELECT oid FROM rel))
     OR (d.classid = 'pg_attrdef'::regclass
         AND d.objid IN (SELECT oid FROM pg_attrdef WHERE adrelid IN (SELECT oid FROM rel)))
     OR (d.classid = 'pg_constraint'::regclass
         AND d.objid IN (SELECT oid FROM pg_constraint WHERE conrelid IN (SELECT oid FROM rel)))
     OR (d.classid = 'pg_trigger'::regclass
         AND d.objid IN (SELECT oid FROM pg_trigger WHERE tgrelid IN (SELECT oid FROM rel)))
     OR (d.classid = 'pg_rewrite'::regclass
         AND d.objid IN (SELECT oid FROM pg_rewrite WHERE ev_class IN (SELECT oid FROM rel)))
     OR (d.classid = 'pg_proc'::regclass
         AND d.objid IN (SELECT p.oid FROM pg_proc p WHERE p.pronamespace = (SELECT oid FROM ns)))
     OR (d.classid = 'pg_type'::regclass
         AND d.objid IN (SELECT t.oid FROM pg_type t WHERE t.typnamespace = (SELECT oid FROM ns)))
)
SELECT 'extension', quote_ident(x.extname), x.extversion || ' in ' || quote_ident(xn.nspname)
FROM pg_extension x JOIN pg_namespace xn ON xn.oid = x.extnamespace
WHERE x.extnamespace = (SELECT oid FROM ns) OR x.oid IN (
    SELECT m.refobjid FROM used u JOIN pg_depend m ON m.classid = u.refclassid
    AND m.objid = u.refobjid AND m.deptype = 'e' AND m.refclassid = 'pg_extension'::regclass)"""

_COMMENTS = """
SELECT 'comment', 'on ' || io.type || ' ' || io.identity, d.description
FROM pg_description d CROSS JOIN LATERAL pg_identify_object(d.classoid, d.objoid, d.objsubid) io
WHERE io.schema = %(schema)s OR (d.classoid = 'pg_namespace'::regclass
      AND d.objoid = (SELECT oid FROM pg_namespace WHERE nspname = %(schema)s))"""

_OTHERS = f"""
SELECT 'statistics', format('%%I.%%I', n.nspname, s.stxname), pg_get_statisticsobjdef(s.oid)
FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace
WHERE n.nspname = %(schema)s
UNION ALL
SELECT 'collation', format('%%I.%%I', n.nspname, c.collname),
       concat_ws(' ', c.collprovider::text, c.collisdeterministic, c.collcollate, c.collctype)
FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace
WHERE n.nspname = %(schema)s AND {_not_member("pg_collation", "c.oid")}
UNION ALL
SELECT 'operator', o.oid::regoperator::text,
       format('%%s returns %%s', o.oprcode::regproc, format_type(o.oprresult, NULL))
FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
WHERE n.nspname = %(schema)s AND {_not_member("pg_operator", "o.oid")}
UNION ALL
SELECT io.type, io.identity, io.identity
FROM (SELECT 'pg_opclass'::regclass AS cls, oid, opcnamespace AS ns FROM pg_opclass
      UNION ALL SELECT 'pg_opfamily'::regclass, oid, opfnamespace FROM pg_opfamily
      UNION ALL SELECT 'pg_ts_config'::regclass, oid, cfgnamespace FROM pg_ts_config
      UNION ALL SELECT 'pg_ts_dict'::regclass, oid, dictnamespace FROM pg_ts_dict
      UNION ALL SELECT 'pg_conversion'::regclass, oid, connamespace FROM pg_conversion) o
CROSS JOIN LATERAL pg_identify_object(o.cls, o.oid, 0) io
WHERE o.ns = (SELECT oid FROM pg_namespace WHERE nspname = %(schema)s)
  AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = o.cls AND e.objid = o.oid
                  AND e.deptype = 'e')"""

_SCHEMA = """
SELECT 'schema', quote_ident(nspname), quote_ident(nspname)
FROM pg_namespace WHERE nspname = %(schema)s"""

INVENTORY = "\nUNION ALL\n".join(
    f"({part})"
    for part in (
        _SCHEMA,
        _TABLES,
        _VIEWS,
        _SEQUENCES,
        _INDEXES,
        _CONSTRAINTS,
        _TRIGGERS,
        _RULES,
        _POLICIES,
        _ROUTINES,
        _TYPES,
        _EXTENSIONS,
        _COMMENTS,
        _OTHERS,
    )
)


def read_inventory(conn: psycopg.Connection[Any], schema: str) -> tuple[SchemaObject, ...]:
    """Every object of ``schema`` (see the module docstring), sorted, in one query."""
    rows = conn.execute(INVENTORY, {"schema": schema}).fetchall()
    return tuple(sorted(schema_object(kind, name, text or "") for kind, name, text in rows))
