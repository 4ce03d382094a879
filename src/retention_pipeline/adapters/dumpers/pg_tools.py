"""PostgreSQL's own ``pg_dump`` and ``pg_restore`` as the definition of a schema.

A CRM schema holds far more than tables: types, domains, functions, views, triggers,
rules, policies, partitions, comments. ``pg_dump`` is what the PostgreSQL project keeps
complete for every object kind of every server version, so the backup takes its DDL from
it, in the dump's own snapshot (``pg_export_snapshot`` + ``pg_dump --snapshot``): one
schema-only archive in the custom format, carried in the schema snapshot's ``native``
field. The rows still travel by the project's own COPY path.

A restore asks ``pg_restore`` for the SQL of one slice of that archive at a time (its
table of contents, chosen by entry kind: ``PHASES``), so each slice runs in the loader's
own transaction at the right moment of the restore order (``ports.source``). Owners and
grants naming roles the target lacks are left out line by line and reported
(``drop_missing_roles``), as ``pg_restore --no-owner --no-privileges`` leave all of them.

The client tools must be at least as new as the server (``pg_dump`` refuses a newer
server, and ``pg_restore`` a newer archive): ``check_version`` says so before anything
is dumped, naming both versions.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from retention_pipeline.ports.source import SourceError

# Entry kinds of the archive's post-data section, by the restore phase that runs them.
# ``keys`` runs before the verification re-dump, ``indexes`` while it reads (nothing here
# blocks a reader), ``constraints`` once it is done; ``objects`` runs last, after the
# counters, so no trigger or rule acts on the loaded rows. Comments on post-data objects
# (triggers, constraints, indexes) come last too: their objects exist by then.
_OBJECT_KINDS = frozenset(
    {
        "TRIGGER",
        "RULE",
        "POLICY",
        "ROW SECURITY",
        "EVENT TRIGGER",
        "PUBLICATION",
        "PUBLICATION TABLE",
        "PUBLICATION TABLES IN SCHEMA",
        "COMMENT",
        "SECURITY LABEL",
        "ACL",
    }
)
PHASES: Mapping[str, frozenset[str] | None] = {
    "keys": frozenset({"CONSTRAINT"}),
    "indexes": frozenset({"INDEX", "INDEX ATTACH", "FK CONSTRAINT"}),
    "objects": _OBJECT_KINDS,
}
_TOC_LINE = re.compile(r"^(?P<id>\d+); (?P<cat>\d+) (?P<oid>\d+) (?P<rest>.*)$")
_VERSION = re.compile(r"\(PostgreSQL\) (\d+)(?:\.(\d+))?")
_ROLE = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_OWNER = re.compile(rf"^ALTER .* OWNER TO (?P<role>{_ROLE});$")
_GRANT = re.compile(
    rf"^(?:GRANT .* TO|REVOKE .* FROM) (?P<roles>{_ROLE}(?:, ?{_ROLE})*)"
    r"(?: WITH GRANT OPTION| GRANTED BY .*)?;$"
)
_DEFAULTS = re.compile(rf"^ALTER DEFAULT PRIVILEGES FOR ROLE (?P<role>{_ROLE}) ")
_SESSION_AS = re.compile(rf"^SET SESSION AUTHORIZATION (?P<role>{_ROLE});$")


@dataclass(frozen=True)
class Connection:
    """How the client tools reach the server; the password only ever goes in the env."""

    conninfo: str  # without password
    password: str | None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        return env


def tool(name: str) -> str:
    """The path of ``pg_dump`` or ``pg_restore``; a clear error when not installed."""
    found = shutil.which(name)
    if found is None:
        raise SourceError(
            f"{name} is not installed: a PostgreSQL backup takes its schema from PostgreSQL's "
            "own tools; install the postgresql-client package of the server's major version"
        )
    return found


def tool_major(name: str) -> tuple[int, int]:
    """The (major, minor) version ``name --version`` prints."""
    return _version_of(tool(name))


@functools.cache
def _version_of(path: str) -> tuple[int, int]:
    """Asked once per process and path: every backup checks it, and it does not change."""
    out = _run([path, "--version"], "checking the version of " + Path(path).name).decode()
    match = _VERSION.search(out)
    if match is None:
        name = Path(path).name
        raise SourceError(f"{name} --version printed no PostgreSQL version; reinstall it")
    return int(match.group(1)), int(match.group(2) or 0)


def check_version(server_version_num: int) -> None:
    """Refuse before dumping when ``pg_dump`` is older than the server (it would fail)."""
    major, minor = tool_major("pg_dump")
    server = server_version_num // 10000
    if major < server:
        raise SourceError(
            f"pg_dump {major}.{minor} is older than the PostgreSQL {server} server, so it "
            f"cannot read its schema; install postgresql-client-{server} (or newer) on the "
            "machine that runs the backups"
        )


class SchemaDump:
    """A running ``pg_dump --schema-only`` of one schema in an exported snapshot.

    Started before the dumper reads its own catalog queries, so both run at once;
    ``result`` waits for it and returns the custom-format archive. The snapshot stays
    valid while the exporting transaction is open, which it is until the dump ends.
    """

    def __init__(self, connection: Connection, schema: str, snapshot: str) -> None:
        self.schema = schema
        self._scratch = tempfile.TemporaryDirectory(prefix="retention-pgdump-")
        self._path = Path(self._scratch.name) / "schema.dump"
        command = [
            tool("pg_dump"),
            "--schema-only",
            "--format=custom",
            f"--schema={_pattern(schema)}",
            f"--snapshot={snapshot}",
            "--no-sync",
            f"--file={self._path}",
            f"--dbname={connection.conninfo}",
        ]
        try:
            self._process = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=connection.env()
            )
        except OSError as error:
            self._scratch.cleanup()
            raise SourceError(f"{self._step}: pg_dump could not run ({error})") from None

    @property
    def _step(self) -> str:
        return f"reading the DDL of schema {self.schema} (pg_dump)"

    def result(self) -> bytes:
        """The archive, once pg_dump exited; its first error line if it failed."""
        try:
            _, stderr = self._process.communicate()
            if self._process.returncode != 0:
                reason = _first_error(stderr.decode("utf-8", "replace"))
                raise SourceError(f"{self._step} failed: {reason}")
            return self._path.read_bytes()
        finally:
            self._scratch.cleanup()

    def cancel(self) -> None:
        """Stop a dump whose result is no longer wanted (the backup failed meanwhile)."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._scratch.cleanup()


def _pattern(schema: str) -> str:
    """A pg_dump ``--schema`` pattern matching exactly ``schema`` (quoted, case kept)."""
    return '"' + schema.replace('"', '""') + '"'


@dataclass(frozen=True)
class Entry:
    """One line of an archive's table of contents: its kind and the line itself."""

    kind: str
    line: str


def contents(archive: Path, section: str) -> list[Entry]:
    """The table of contents of one section (``pre-data`` or ``post-data``), in order."""
    out = _run(
        [tool("pg_restore"), "--list", f"--section={section}", str(archive)],
        f"listing the schema archive ({section})",
    ).decode("utf-8", "surrogateescape")
    entries = []
    for line in out.splitlines():
        match = _TOC_LINE.match(line)
        if match is None:
            continue
        entries.append(Entry(_kind(match.group("rest")), line))
    return entries


def tag(entry: Entry) -> str:
    """What follows an entry's kind in its line: ``schema name... owner``."""
    rest = _TOC_LINE.match(entry.line)
    assert rest is not None  # ``contents`` keeps only lines that match
    return rest.group("rest")[len(entry.kind) + 1 :]


_KINDS = sorted(
    [
        "MATERIALIZED VIEW DATA",
        "MATERIALIZED VIEW",
        "FK CONSTRAINT",
        "CHECK CONSTRAINT",
        "INDEX ATTACH",
        "TABLE ATTACH",
        "ROW SECURITY",
        "EVENT TRIGGER",
        "SEQUENCE OWNED BY",
        "SEQUENCE SET",
        "PUBLICATION TABLES IN SCHEMA",
        "PUBLICATION TABLE",
        "FOREIGN TABLE",
        "DEFAULT ACL",
        "SECURITY LABEL",
        "TEXT SEARCH CONFIGURATION",
        "TEXT SEARCH DICTIONARY",
        "TEXT SEARCH PARSER",
        "TEXT SEARCH TEMPLATE",
        "OPERATOR CLASS",
        "OPERATOR FAMILY",
        "SHELL TYPE",
        "FOREIGN DATA WRAPPER",
        "FOREIGN SERVER",
        "USER MAPPING",
        "LARGE OBJECT",
        "BLOB METADATA",
        "TABLE DATA",
        "PROCEDURAL LANGUAGE",
    ],
    key=len,
    reverse=True,
)


def _kind(rest: str) -> str:
    """The entry kind at the start of ``rest`` (kinds may hold spaces: longest first)."""
    for kind in _KINDS:
        if rest.startswith(kind + " "):
            return kind
    return rest.split(" ", 1)[0]


def script(
    archive: Path,
    entries: Iterable[Entry],
    *,
    owners: bool,
    privileges: bool,
) -> str:
    """The SQL ``pg_restore`` writes for ``entries`` (and nothing else) of ``archive``."""
    lines = [e.line for e in entries]
    if not lines:
        return ""
    with tempfile.NamedTemporaryFile("w", suffix=".list", encoding="utf-8") as listing:
        listing.write("\n".join(lines) + "\n")
        listing.flush()
        command = [tool("pg_restore"), f"--use-list={listing.name}", "--file=-"]
        if not owners:
            command.append("--no-owner")
        if not privileges:
            command.append("--no-privileges")
        out = _run([*command, str(archive)], "writing the schema's SQL (pg_restore)")
    text = out.decode("utf-8")
    # psql meta-commands that pg_restore (since 17.6, 16.10, 15.14...) adds around a
    # plain script; the loader runs the SQL itself, not through psql
    return "\n".join(
        line for line in text.splitlines() if not line.startswith(("\\restrict ", "\\unrestrict "))
    )


def drop_missing_roles(sql_text: str, roles: set[str]) -> tuple[str, list[str]]:
    """``sql_text`` without the owner and grant lines that name a role not in ``roles``.

    pg_dump writes each ``ALTER ... OWNER TO``, ``GRANT`` and ``REVOKE`` on a line of its
    own, so they are dropped line by line; what was dropped is returned, one line each,
    naming the role and the statement's object (schema names only, never data).
    """
    kept: list[str] = []
    dropped: list[str] = []
    skipping_session = False
    for line in sql_text.splitlines():
        if skipping_session:
            if line == "RESET SESSION AUTHORIZATION;":
                skipping_session = False
            continue
        missing = _missing(line, roles)
        if missing:
            dropped.append(f"{_statement(line)} (role {', '.join(missing)} not on the target)")
            skipping_session = line.startswith("SET SESSION AUTHORIZATION")
            continue
        kept.append(line)
    return "\n".join(kept), dropped


def _missing(line: str, roles: set[str]) -> list[str]:
    for pattern in (_OWNER, _DEFAULTS, _SESSION_AS):
        if (match := pattern.match(line)) is not None:
            name = _unquote(match.group("role"))
            return [] if name in roles else [name]
    if (match := _GRANT.match(line)) is not None:
        named = re.findall(_ROLE, match.group("roles"))
        return [n for n in map(_unquote, named) if n != "PUBLIC" and n not in roles]
    return []


def _statement(line: str) -> str:
    """A short name for a dropped line: its first words up to the role."""
    words = line.rstrip(";").split(" ")
    return " ".join(words[:6]) + (" ..." if len(words) > 6 else "")


def _unquote(role: str) -> str:
    if role.startswith('"'):
        return role[1:-1].replace('""', '"')
    return role


def _run(command: list[str], step: str, env: dict[str, str] | None = None) -> bytes:
    """Run a client tool; its error text is reported without the connection string."""
    try:
        done = subprocess.run(command, capture_output=True, env=env, check=False)
    except OSError as error:
        raise SourceError(f"{step}: {Path(command[0]).name} could not run ({error})") from None
    if done.returncode != 0:
        reason = _first_error(done.stderr.decode("utf-8", "replace"))
        raise SourceError(f"{step} failed: {reason}")
    return done.stdout


def _first_error(stderr: str) -> str:
    """The tool's first error line, with any connection string cut out."""
    for line in stderr.splitlines():
        if "error" in line.lower() or "fatal" in line.lower():
            return re.sub(r"(dbname|password|user|host)=\S+", r"\1=...", line.strip())[:300]
    return (stderr.strip().splitlines() or ["no message"])[0][:300]
