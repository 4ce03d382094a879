"""Wire adapters into services from one home folder.

Everything an installation needs lives under one home (``--home DIR`` or
``RETENTION_HOME``): ``retention.yaml``, ``policies/``, ``keys/``, the SQLite catalog of
the embedded default, and reports. This module is the only place that turns that folder
into live objects (catalog, stores, connections), so every entry point (CLI, DAGs,
plugins) builds the same system the same way.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO

from retention_pipeline.errors import ConfigError, InvalidInputError, RetentionError

if TYPE_CHECKING:
    # Imported where used instead: a CLI command pays only for the services it runs
    # (start-up time is part of every backup's wall time, benchmarks/README.md).
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

    from retention_pipeline.domain.settings import Settings
    from retention_pipeline.ports.catalog import Catalog
    from retention_pipeline.ports.keys import KeyCustody
    from retention_pipeline.ports.source import Dumper, Loader
    from retention_pipeline.ports.store import ObjectStore
    from retention_pipeline.services.archive import ArchiveService
    from retention_pipeline.services.backup import BackupService
    from retention_pipeline.services.client_keys import ClientKeyring
    from retention_pipeline.services.erasure import ErasureService
    from retention_pipeline.services.evidence_witness import EvidenceWitness
    from retention_pipeline.services.restore import RestoreService
    from retention_pipeline.services.retention import RetentionService
    from retention_pipeline.services.transparency import CertificateLog

HOME_ENV = "RETENTION_HOME"
CONFIG_FILE = "retention.yaml"
POLICIES_DIR = "policies"
# A production catalog URL carries a password: it may come from the environment instead
# of retention.yaml, and then overrides the file's ``catalog``.
CATALOG_URL_ENV = "RETENTION_CATALOG_URL"


def resolve_home(explicit: str | os.PathLike[str] | None) -> Path:
    """The home folder: ``--home`` first, then ``$RETENTION_HOME``; never a silent guess.

    Guessing a home (say, the current folder) could point a command at the wrong
    installation's catalog, so an absent home is an error that says how to give one.
    """
    raw = os.fspath(explicit) if explicit else os.environ.get(HOME_ENV)
    if not raw:
        raise ConfigError(
            "no home folder: pass --home DIR or set RETENTION_HOME "
            "(create one with: retention-pipeline init --home DIR)"
        )
    return Path(raw).expanduser().resolve()


def read_settings(home: Path) -> Settings:
    """Parse and validate ``home/retention.yaml``; every problem is reported at once."""
    from retention_pipeline.services.policy_check import check_settings_text

    path = home / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(
            f"{path}: no configuration file; create one with: retention-pipeline init --home {home}"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        why = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise ConfigError(f"{path}: cannot be read ({why}); make it readable UTF-8") from None
    settings, problems = check_settings_text(text, str(path))
    if problems or settings is None:
        raise ConfigError("\n".join(str(p) for p in problems))
    _refuse_overlapping_stores(settings, home, path)
    return settings


def _refuse_overlapping_stores(settings: Settings, home: Path, path: Path) -> None:
    """Refuse stores whose roots nest or coincide (``domain.settings.overlapping_stores``).

    Folders are compared as written and, where they exist, with links resolved: a link
    inside one store's folder to another's is the same nesting.
    """
    from retention_pipeline.domain.settings import overlapping_stores, store_root

    written = {n: store_root(s.url, PurePosixPath(home)) for n, s in settings.stores.items()}
    resolved = {
        name: (space, Path(os.path.realpath("/" + "/".join(segments))).parts[1:])
        for name, (space, segments) in written.items()
        if space == "file://"
    }
    pairs = sorted(set(overlapping_stores(written)) | set(overlapping_stores(resolved)))
    if pairs:
        raise ConfigError(
            "\n".join(
                f"{path}: stores.{inner}.url lies inside stores.{outer}.url (or names the "
                f"same place): listing {outer} shows {inner}'s objects, so an erasure or "
                "cleanup there could reach another client's data; give every store a root "
                "of its own (another bucket, or sibling prefixes like s3://b/backups and "
                "s3://b/archives)"
                for outer, inner in pairs
            )
        )


@dataclass
class Installation:
    """One configured installation: settings plus lazily opened adapters."""

    home: Path
    settings: Settings
    # Only ``policy apply`` (the first step of a new installation) may create the catalog;
    # every other command refuses a missing one (``CatalogMissingError``).
    create_catalog: bool = False
    _stores: dict[str, ObjectStore] = field(default_factory=dict, repr=False)

    @property
    def policies_dir(self) -> Path:
        """Where the per-client order-form files live."""
        return self.home / POLICIES_DIR

    @property
    def reports_dir(self) -> Path:
        """Where reports are written when ``reports`` is a folder."""
        return self.home / self.settings.reports

    def path(self, configured: str) -> Path:
        """A configured path, relative paths taken from the home folder."""
        p = Path(configured).expanduser()
        return p if p.is_absolute() else self.home / p

    @property
    def catalog_url(self) -> str:
        """The catalog's URL: ``RETENTION_CATALOG_URL`` if set, else ``catalog`` in the file."""
        return os.environ.get(CATALOG_URL_ENV) or self.settings.catalog

    @cached_property
    def catalog(self) -> Catalog:
        """The catalog, migrated to the current schema on first use."""
        from retention_pipeline.adapters.catalog import open_catalog

        return open_catalog(self.catalog_url, base_dir=self.home, create=self.create_catalog)

    @cached_property
    def custody(self) -> KeyCustody:
        """The key-encryption-key holder the configuration names (local file or KMS)."""
        spec = self.settings.key_custody
        if spec.kind == "local":
            from retention_pipeline.adapters.local_keys import LocalKeyCustody

            return LocalKeyCustody(
                self.path(spec.master_key_file), may_create=self._no_local_client_key
            )
        from retention_pipeline.adapters.kms_keys import KmsKeyCustody

        return KmsKeyCustody(
            spec.region, endpoint_url=spec.endpoint_url, alias_prefix=spec.key_alias_prefix
        )

    def traces_of_use(self) -> list[str]:
        """What shows this installation ran before: a master key file, stored objects.

        Names files and stores only. A store that cannot be listed is passed over (a new
        installation's bucket may not exist yet).
        """
        traces = []
        spec = self.settings.key_custody
        if spec.kind == "local" and self.path(spec.master_key_file).exists():
            traces.append(f"master key file {self.path(spec.master_key_file)} exists")
        for name in sorted(self.settings.stores):
            try:
                found = next(iter(self.store(name).list_versions("")), None)
            except RetentionError:
                continue
            if found is not None:
                traces.append(f"store {name!r} holds objects")
        return traces

    def _no_local_client_key(self) -> bool:
        """Whether no client key still depends on a local master key (it may be made)."""
        return not any(
            key.custody == "local" and key.wrapped is not None
            for key in self.catalog.list_client_keys()
        )

    @cached_property
    def keyring(self) -> ClientKeyring:
        """Client keys: recipients for backups, identities for restores."""
        from retention_pipeline.services.client_keys import ClientKeyring

        return ClientKeyring(self.catalog, self.custody)

    def open_dumper(self, url: str) -> Dumper:
        """A dumper for a source database URL (engine chosen by the URL's scheme)."""
        from retention_pipeline.adapters.dumpers import open_dumper

        return open_dumper(url)

    def open_loader(self, url: str) -> Loader:
        """A loader into an empty target database URL, for restores.

        Never the catalog's own database: ``restore --force`` there would drop every
        recovery point, client key and evidence entry of the installation.
        """
        from retention_pipeline.adapters.catalog.database import is_catalog_database
        from retention_pipeline.adapters.dumpers import open_loader

        if is_catalog_database(url, self.catalog_url, self.home):
            raise InvalidInputError(
                "--to names this installation's catalog database; restore into another "
                "database (the catalog holds every recovery point and client key)"
            )

        return open_loader(url)

    def backup_service(self) -> BackupService:
        """The backup use case wired to this installation's catalog, keys and stores."""
        from retention_pipeline.services.backup import BackupService

        return BackupService(
            catalog=self.catalog,
            keyring=self.keyring,
            store=self.store,
            open_dumper=self.open_dumper,
            connection_url=self.connection_url,
            resolve_path=self.path,
            clock=utc_now,
            new_id=new_recovery_point_id,
            scratch=scratch_file,
        )

    def restore_service(self) -> RestoreService:
        """The verify and restore use cases wired to this installation."""
        from retention_pipeline.services.restore import RestoreService

        return RestoreService(
            catalog=self.catalog,
            keyring=self.keyring,
            store=self.store,
            open_loader=self.open_loader,
            open_dumper=self.open_dumper,
            scratch=scratch_file,
            sources_at=self.sources_at,
        )

    def archive_service(self) -> ArchiveService:
        """The archive use case: copies onto separate storage, verified."""
        from retention_pipeline.services.archive import ArchiveService

        return ArchiveService(
            catalog=self.catalog, store=self.store, clock=utc_now, new_id=new_archive_copy_id
        )

    def retention_service(self) -> RetentionService:
        """The retention use case: plan, delete, report."""
        from retention_pipeline.services.retention import RetentionService

        return RetentionService(
            catalog=self.catalog, store=self.store, reports_dir=self.reports_dir
        )

    def signing_key(self, *, create: bool = False) -> Ed25519PrivateKey:
        """The certificate key (``signing_key``); created only where a certificate is issued."""
        from retention_pipeline.envelope.signing_key import load_signing_key

        return load_signing_key(self.path(self.settings.signing_key), create=create)

    def log_origin(self, key: Ed25519PrivateKey) -> str:
        """The certificate log's name: stable, host-free, bound to the certificate key."""
        return log_origin_of(key.public_key())

    def evidence_witness(self) -> EvidenceWitness:
        """Evidence checkpoints in the witness store the settings name (if any).

        The certificate key is loaded only when a checkpoint is read or signed; signing
        the first one creates it, as issuing the first certificate would.
        """
        from retention_pipeline.services.evidence_witness import EvidenceWitness

        name = self.settings.witness_store()
        return EvidenceWitness(
            catalog=self.catalog,
            store=self.store(name) if name is not None else None,
            public_key=lambda: self.signing_key().public_key(),
            signing_key=lambda: self.signing_key(create=True),
            origin=log_origin_of,
        )

    def certificate_log(self, *, create_key: bool = False) -> CertificateLog:
        """The certificate log over this catalog, signed by the certificate key."""
        from retention_pipeline.services.transparency import CertificateLog

        key = self.signing_key(create=create_key)
        return CertificateLog(self.catalog, lambda: key, self.log_origin(key))

    def erasure_service(self) -> ErasureService:
        """Certified erasure wired to this installation (one call per DAG task)."""
        from retention_pipeline.adapters.certificate_destinations import open_destination
        from retention_pipeline.services.certificates import CertificateIssuer
        from retention_pipeline.services.erasure import ErasureService
        from retention_pipeline.services.erasure_scope import StoreReach

        log = self.certificate_log(create_key=True)
        reach = StoreReach(self.catalog, self.store, sorted(self.settings.stores))
        issuer = CertificateIssuer(
            catalog=self.catalog,
            log=log,
            signing_key=log.signing_key,
            destination=lambda url: open_destination(url, self.settings.stores, self.home),
            issuer=log.origin,
            new_id=lambda: new_id("cert"),
            witness=self.evidence_witness(),
        )
        return ErasureService(
            catalog=self.catalog,
            keyring=self.keyring,
            reach=reach,
            issuer=issuer,
            clock=utc_now,
            new_id=lambda: new_id("er"),
        )

    def store(self, name: str) -> ObjectStore:
        """The named store of ``retention.yaml``, opened once and reused."""
        if name not in self._stores:
            from retention_pipeline.adapters.stores import open_store

            spec = self.settings.stores.get(name)
            if spec is None:
                known = ", ".join(sorted(self.settings.stores)) or "none"
                raise ConfigError(
                    f"{self.home / CONFIG_FILE}: stores.{name}: no such store "
                    f"(known: {known}); add it under 'stores:'"
                )
            self._stores[name] = open_store(
                name,
                spec.url,
                location=spec.location,
                endpoint_url=spec.endpoint_url,
                storage_class=spec.storage_class,
                object_lock=spec.object_lock,
                base_dir=self.home,
            )
        return self._stores[name]

    def sources_at(self, url: str, named: str | None = None) -> list[str]:
        """The configured source connections whose database ``url`` is, sorted by name.

        Each connection's URL is read as the backup reads it (``url_env``, Airflow) and
        compared by what it reaches, not by spelling (``same_database``). A connection
        whose URL cannot be read here (its variable unset in this shell) is passed over:
        a restore must not need every client's credentials. Only ``named``, the one an
        operator vouches for, must be readable, and its error is raised.
        """
        from retention_pipeline.adapters.dumpers import same_database

        found = []
        for name in sorted(self.settings.connections):
            try:
                source = self.connection_url(name)
            except ConfigError:
                if name == named:
                    raise
                continue
            if same_database(url, source):
                found.append(name)
        if named is not None and named not in self.settings.connections:
            self.connection_url(named)  # raises: no such connection
        return found

    def connection_url(self, name: str) -> str:
        """The URL of a named source connection, read from where the config says.

        URLs carry passwords, so they come from the environment or an Airflow
        connection at run time, never from a file; the value is never logged.
        """
        spec = self.settings.connections.get(name)
        if spec is None:
            raise ConfigError(
                f"{self.home / CONFIG_FILE}: connections.{name}: no such connection; "
                "add it under 'connections:'"
            )
        env_name = getattr(spec, "url_env", None)
        if env_name:
            value = os.environ.get(env_name)
            if not value:
                state = "is not set" if value is None else "is set but empty"
                raise ConfigError(
                    f"connection {name!r}: environment variable {env_name} {state}; "
                    "export it with the database URL"
                )
            return value
        conn_id = getattr(spec, "airflow_conn_id", None)
        return _airflow_connection_url(name, str(conn_id))


def log_origin_of(public_key: Ed25519PublicKey) -> str:
    """The certificate log's name for a certificate key: ``retention-pipeline/<fp16>``."""
    from retention_pipeline.envelope.signing_key import signing_key_fingerprint

    return f"retention-pipeline/{signing_key_fingerprint(public_key)[:16]}"


def utc_now() -> datetime:
    """The one clock of the system; everything below the entry points takes ``now``."""
    return datetime.now(UTC)


def new_recovery_point_id() -> str:
    """An opaque, time-sortable id: ``rp-<UTC time>-<random>``; says nothing about data."""
    return f"rp-{utc_now():%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def new_archive_copy_id() -> str:
    """An opaque, time-sortable archive copy id."""
    return f"ac-{utc_now():%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def new_id(kind: str) -> str:
    """An opaque, time-sortable id ``<kind>-<UTC time>-<random>`` (erasures, certificates)."""
    return f"{kind}-{utc_now():%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def scratch_file() -> BinaryIO:
    """An unlinked temporary file for the sealed spool (nothing left behind on a crash)."""
    return tempfile.TemporaryFile(prefix="retention-")


def _airflow_connection_url(name: str, conn_id: str) -> str:
    """Read a URL from an Airflow connection (only where Airflow is configured)."""
    try:
        from airflow.sdk import Connection

        conn = Connection.get(conn_id)
    except Exception as exc:  # Airflow raises many kinds here; none may leak secrets.
        raise ConfigError(
            f"connection {name!r}: Airflow connection {conn_id!r} could not be read "
            f"({type(exc).__name__}); define it in Airflow or use url_env"
        ) from None
    return str(conn.get_uri())


def load_installation(explicit_home: str | os.PathLike[str] | None = None) -> Installation:
    """Resolve the home, read its configuration, and return the installation."""
    home = resolve_home(explicit_home)
    return Installation(home=home, settings=read_settings(home))
