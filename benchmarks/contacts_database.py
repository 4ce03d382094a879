"""A scratch CRM database of N contacts on the local PostgreSQL server, for benchmarks.

The rows are generated server-side (``INSERT ... SELECT generate_series``), which takes
seconds where client-side inserts would take minutes. Each contact row is about 224 bytes
of COPY text (1,000,000 contacts: about 220 MB), a mix of compressible text (addresses,
lorem notes, dates) and incompressible identifiers (hex tokens), like a real CRM.
Every person is invented (``@example.test``).

After the load the tables are frozen and analysed, so that no contender pays for setting
hint bits on the first read (that would penalise whichever runs first).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

ADMIN_URL = os.environ.get(
    "RETENTION_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
    "incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud "
    "exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. "
)

_SCHEMA = [
    "CREATE TABLE companies (id bigint PRIMARY KEY, name text NOT NULL, country char(2), "
    "created_at timestamptz NOT NULL)",
    "CREATE TABLE contacts (id bigint PRIMARY KEY, company_id bigint REFERENCES companies(id), "
    "email varchar(320) NOT NULL UNIQUE, name text NOT NULL, phone varchar(40), notes text, "
    "created_at timestamptz NOT NULL, last_seen timestamptz, opted_in boolean, score bigint, "
    "token text)",
    "CREATE INDEX contacts_company_idx ON contacts (company_id)",
]

_FILL_COMPANIES = """
INSERT INTO companies
SELECT g, 'Company ' || g || ' SAS', (ARRAY['FR','DE','BE',NULL])[1 + g % 4],
       timestamptz '2001-01-01 00:00:00+00' + (g * 7919 % 700000000) * interval '1 second'
FROM generate_series(1, %(companies)s) AS g
"""

_FILL_CONTACTS = """
INSERT INTO contacts
SELECT g,
       CASE WHEN g %% 10 = 0 THEN NULL ELSE 1 + (g * 7919) %% %(companies)s END,
       'user' || g || '@example.test',
       'Person ' || g || ' '
         || (ARRAY['Martin','Bernard','Dubois','Moreau','Ångström'])[1 + g %% 5],
       CASE WHEN g %% 7 = 0 THEN NULL
            ELSE '+33 1 ' || lpad((g * 31 %% 100000000)::text, 8, '0') END,
       substr(%(lorem)s::text, (1 + (g * 13) %% 150)::int, (48 + (g * 17) %% 60)::int),
       timestamptz '2001-01-01 00:00:00+00' + (g * 104729 %% 700000000) * interval '1 second',
       CASE WHEN g %% 3 = 0 THEN NULL
            ELSE timestamptz '2020-01-01 00:00:00+00'
                 + (g * 15485863 %% 150000000) * interval '1 ms'
       END,
       CASE WHEN g %% 5 = 0 THEN NULL ELSE g %% 2 = 0 END,
       (g::bigint * 2654435761) %% 1000000007 - 500000000,
       substr(md5(g::text), 1, 12)
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g
"""


def _url(database: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{database}"


@contextmanager
def scratch_database(prefix: str = "bench") -> Iterator[str]:
    """An empty database, dropped afterwards; yields its libpq URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _url(name)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def checkpoint() -> None:
    """Write every dirty page out now, so no contender pays for the previous one's writes.

    A restore writes some 500 MB of table, index and WAL; the server flushes that over the
    next minutes (a checkpoint every ``max_wal_size``), whichever contender runs then.
    The files a contender wrote itself (the baseline's 48 MB dump, restic's repository)
    sit in the page cache just the same, until the kernel writes them back during the
    next run: ``os.sync`` writes them out first.
    """
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute("CHECKPOINT")
    os.sync()


def fill_contacts(url: str, contacts: int) -> None:
    """Create the schema and ``contacts`` rows (one company per 20 contacts)."""
    companies = max(3, contacts // 20)
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in _SCHEMA:
            conn.execute(statement)
        conn.execute(_FILL_COMPANIES.replace("%(companies)s", str(companies)))
        step = 1_000_000
        for first in range(1, contacts + 1, step):
            last = min(contacts, first + step - 1)
            params = {"companies": companies, "lorem": LOREM * 2, "first": first, "last": last}
            conn.execute(_FILL_CONTACTS, params)
        conn.execute("VACUUM (FREEZE, ANALYZE)")


def copy_text_size(url: str) -> int:
    """Bytes of COPY text of every table: the 'as CSV' size the issue speaks of."""
    total = 0
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        for table in ("companies", "contacts"):
            with cur.copy(f"COPY {table} TO STDOUT") as copy:
                while data := copy.read():
                    total += len(data)
    return total


def sqlalchemy_url(url: str) -> str:
    """The same database as a SQLAlchemy URL with the psycopg 3 driver."""
    return url.replace("postgresql://", "postgresql+psycopg://", 1)
