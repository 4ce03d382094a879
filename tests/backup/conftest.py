"""A configured home for the backup data-path tests, with real stores and real sources.

The home has two stores, ``folder`` (a local folder) and ``s3`` (a versioned bucket on
moto's HTTP server), two source connections read from the environment (``crm_a`` from
``BT_CRM_A_URL``, ``crm_b`` from ``BT_CRM_B_URL``), and local key custody unless a test
asks ``make_home("aws-kms")``, which talks to moto's KMS. Policies are written per test
and applied with the real ``policy apply`` command. Commands run through the CLI's
``main`` so tests see exactly what an operator sees: exit code, stdout and stderr.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from retention_pipeline.ports.catalog import RecoveryPoint
from tests.support.crm import create_crm_schema, fill_crm
from tests.support.home import CliHome, init_home, versioned_bucket, write_settings
from tests.support.moto import MotoEndpoint
from tests.support.services import scratch_mariadb_database, scratch_postgres_database

ENGINES = ("postgresql", "mariadb", "sqlite")
URL_ENV = {"crm_a": "BT_CRM_A_URL", "crm_b": "BT_CRM_B_URL"}


@dataclass
class BackupHome(CliHome):
    """A home folder plus the handles a test needs to look at it from outside."""

    bucket: str

    def policy(
        self,
        client: str,
        *,
        connection: str | None = "crm_a",
        documents: Path | None = None,
        mode: str = "semi_manual",
        storage: str = "folder",
        recipients: tuple[str, ...] = (),
        hoster_can_decrypt: bool = True,
        display_name: str = "Client Test SAS",
    ) -> None:
        """Write ``policies/CLIENT.yaml`` and apply the policy folder."""
        source: dict[str, Any] = {}
        if connection is not None:
            source["database"] = {"connection": connection}
        if documents is not None:
            source["documents"] = {"path": str(documents)}
        backup: dict[str, Any] = {"mode": mode}
        if mode != "off":
            backup |= {"storage": storage, "retention": {"max_age": "35d"}}
        document = {
            "client": client,
            "display_name": display_name,
            "source": source,
            "backup": backup,
            "purpose": "Restore after an incident",
            "legal_basis": "contract",
            "protection": {
                "client_recipients": list(recipients),
                "hoster_can_decrypt": hoster_can_decrypt,
            },
        }
        path = self.path / "policies" / f"{client}.yaml"
        path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        run = self.cli("policy", "apply", "--actor", "tester")
        assert run.rc == 0, run.out + run.err

    def back_up(self, client: str) -> RecoveryPoint:
        """Back ``client`` up through the CLI; return its one complete recovery point."""
        run = self.cli("backup", client)
        assert run.rc == 0, run.err
        [rp] = self.complete(client)
        return rp

    def points(self, client: str) -> list[RecoveryPoint]:
        """The client's recovery points, read from the catalog."""
        return self.installation().catalog.list_recovery_points(client)

    def complete(self, client: str) -> list[RecoveryPoint]:
        """The client's complete recovery points."""
        return [p for p in self.points(client) if p.status == "complete"]

    def folder_path(self, key: str) -> Path:
        """Where the folder store keeps ``key`` on disk."""
        return self.path / "stores" / "backups" / key

    def stored_bytes(self, rp: RecoveryPoint) -> bytes:
        """The raw stored object of ``rp`` (ciphertext), read beside our adapters."""
        if rp.store == "folder":
            return self.folder_path(rp.key).read_bytes()
        body = self.moto.client("s3").get_object(
            Bucket=self.bucket, Key=f"backups/{rp.key}", VersionId=rp.version_id
        )["Body"]
        return bytes(body.read())

    def catalog_sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Raw SQL on the SQLite catalog (to look at, or to tamper with, what it stores)."""
        with closing(sqlite3.connect(self.path / "catalog.db")) as conn:
            rows = conn.execute(statement, params).fetchall()
            conn.commit()
        return rows


def backup_settings(home: Path, moto: MotoEndpoint, bucket: str, custody: str) -> None:
    """``retention.yaml`` with both stores, both connections and the chosen custody."""
    s3 = {"url": f"s3://{bucket}/backups", "endpoint_url": moto.url, "location": moto.region}
    write_settings(
        home,
        moto,
        custody,
        alias_prefix="rp-test",
        stores={"s3": s3},
        connections={name: {"url_env": env} for name, env in URL_ENV.items()},
        reports="reports",
    )


@pytest.fixture
def make_home(
    tmp_home: Path, moto: MotoEndpoint, capsys: pytest.CaptureFixture[str]
) -> Callable[[str], BackupHome]:
    """Build a home with ``local`` or ``aws-kms`` custody (see the module docstring)."""

    def build(custody: str = "local") -> BackupHome:
        path = init_home(tmp_home / f"home-{custody}")
        bucket = versioned_bucket(moto, "rp-backup")
        backup_settings(path, moto, bucket, custody)
        return BackupHome(path=path, moto=moto, capsys=capsys, bucket=bucket)

    return build


def backed_up(
    home: BackupHome,
    databases: Callable[..., AbstractContextManager[str]],
    monkeypatch: pytest.MonkeyPatch,
    client: str = "acme-sas",
    **policy: Any,
) -> RecoveryPoint:
    """The usual first step: one complete recovery point of a filled SQLite CRM.

    The source database is gone afterwards; what the point holds is in its store.
    """
    with databases("sqlite") as source:
        monkeypatch.setenv(URL_ENV["crm_a"], source)
        home.policy(client, **policy)
        return home.back_up(client)


@pytest.fixture
def home(make_home: Callable[[str], BackupHome]) -> BackupHome:
    """A home with local key custody."""
    return make_home("local")


@contextmanager
def empty_database(engine: str, folder: Path) -> Iterator[str]:
    """A fresh empty database of ``engine`` (the real server, or a SQLite file)."""
    if engine == "postgresql":
        with scratch_postgres_database() as url:
            yield url
    elif engine == "mariadb":
        with scratch_mariadb_database() as url:
            yield url
    else:
        folder.mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{folder / f'crm-{uuid.uuid4().hex[:8]}.sqlite'}"


@contextmanager
def crm_database(engine: str, folder: Path, *, contacts: int = 40, seed: int = 7) -> Iterator[str]:
    """A database of ``engine`` holding the synthetic CRM, filled deterministically."""
    with empty_database(engine, folder) as url:
        create_crm_schema(url)
        fill_crm(url, contacts=contacts, seed=seed)
        yield url


@pytest.fixture
def databases(
    tmp_path: Path,
) -> Iterator[Callable[..., AbstractContextManager[str]]]:
    """``databases(engine, filled=True)``: a CRM (or an empty) database for this test."""

    def make(engine: str, *, filled: bool = True, **kwargs: Any) -> AbstractContextManager[str]:
        folder = tmp_path / "databases"
        return crm_database(engine, folder, **kwargs) if filled else empty_database(engine, folder)

    yield make


def make_documents(folder: Path) -> Path:
    """A client documents folder: nested, empty, binary and non-ASCII file names."""
    (folder / "contrats" / "2026").mkdir(parents=True)
    (folder / "contrats" / "2026" / "devis-0042.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)))
    (folder / "empty.txt").write_bytes(b"")
    (folder / "notes été.txt").write_text("ligne 1\r\nligne 2\n", encoding="utf-8")
    (folder / "scan.bin").write_bytes(uuid.uuid4().bytes * 4096)
    # a name that is not UTF-8 (copied from an old Windows share, say): kept byte for byte
    (folder / os.fsdecode(b"fax-\xe9t\xe9.tif")).write_bytes(b"II*\x00latin-1 name")
    return folder


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative path, with its bytes."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def age_keygen(folder: Path) -> tuple[Path, str]:
    """A client's own key pair from Debian's ``age-keygen``: (identity file, recipient)."""
    folder.mkdir(parents=True, exist_ok=True)
    identity = folder / f"client-{uuid.uuid4().hex[:8]}.key"
    subprocess.run(["age-keygen", "-o", str(identity)], check=True, capture_output=True)
    public = subprocess.run(
        ["age-keygen", "-y", str(identity)], check=True, capture_output=True, text=True
    ).stdout.strip()
    return identity, public
