"""The installation's configuration: ``$RETENTION_HOME/retention.yaml``.

Rules this module enforces:

- a store is a local folder (``file:///abs/path``, or ``file://rel/path`` taken from the
  home folder) or an S3 bucket with an optional prefix (``s3://bucket/prefix``); nothing
  else, and never a URL carrying ``user:password@``;
- a connection names where its URL comes from at run time (``url_env``: an environment
  variable, or ``airflow_conn_id``: an Airflow connection), never the URL or a password
  itself: this file is meant to live in git, where a password would outlive any rotation;
- names of stores are short lower-case ids, because they end up in catalog rows, object
  keys and certificates;
- every field has a default that runs on one machine with no services (SQLite catalog,
  local master key), so a fresh ``init`` works before anything is configured.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from retention_pipeline.domain.documents import invalid, looks_secret

STORE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{1,62}$"
CONNECTION_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
_S3_URL = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?")
_FILE_URL = re.compile(r"file://[^\s]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INLINE_KEYS = ("url", "password", "passwd", "dsn", "secret", "token")
_CONNECTION_HINT = (
    "use {url_env: VARIABLE} (the URL comes from the environment) "
    "or {airflow_conn_id: ID} (from an Airflow connection)"
)


class _Section(BaseModel):
    # hide_input_in_errors: a raw ValidationError must not print a value it refused.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


def _catalog_url(url: str) -> str:
    if looks_secret(url):
        raise invalid(
            "inline_credential",
            "a catalog URL must not carry a password",
            "remove 'user:password@' and set RETENTION_CATALOG_URL in the environment "
            "instead (it overrides this field)",
        )
    return url


def _store_url(url: str) -> str:
    if looks_secret(url):
        raise invalid(
            "inline_credential",
            "a store URL must not carry credentials",
            "remove 'user:password@'; S3 credentials come from the environment or IAM role",
        )
    if _FILE_URL.fullmatch(url) or _S3_URL.fullmatch(url):
        return url
    raise invalid(
        "store_url",
        "is not a store URL",
        "use file:///absolute/folder, file://folder/in/home or s3://bucket/prefix",
    )


StoreName = Annotated[str, StringConstraints(pattern=STORE_NAME_PATTERN)]
ConnectionName = Annotated[str, StringConstraints(pattern=CONNECTION_NAME_PATTERN)]


class StoreSettings(_Section):
    """A named place for bytes: a local folder or an S3 bucket and prefix."""

    url: Annotated[str, AfterValidator(_store_url)] = Field(
        description="file:///folder, file://folder-in-home or s3://bucket/prefix"
    )
    location: str | None = Field(None, description="Region or site, stated in order forms")
    endpoint_url: str | None = Field(None, description="S3-compatible endpoint; null for AWS")
    storage_class: str | None = Field(None, description="S3 storage class, e.g. DEEP_ARCHIVE")
    object_lock: bool = Field(False, description="Whether the bucket has S3 Object Lock on")


class ConnectionSettings(_Section):
    """Where a client database's URL comes from at run time (never the URL itself)."""

    url_env: str | None = Field(None, description="Environment variable holding the URL")
    airflow_conn_id: str | None = Field(None, description="Airflow connection id")

    @model_validator(mode="before")
    @classmethod
    def _refuse_inline(cls, data: Any) -> Any:
        """An inline URL or password is refused before anything else is looked at."""
        if isinstance(data, dict):
            for key in _INLINE_KEYS:
                if key in data:
                    raise invalid(
                        "inline_credential",
                        "an inline URL or password is refused",
                        _CONNECTION_HINT,
                        key,
                    )
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> ConnectionSettings:
        if (self.url_env is None) == (self.airflow_conn_id is None):
            raise invalid("connection_source", "needs exactly one source", _CONNECTION_HINT)
        if self.url_env is not None and not _ENV_NAME.fullmatch(self.url_env):
            hint = "use a variable name like ACME_CRM_URL"
            raise invalid("env_name", "is not an environment variable name", hint, "url_env")
        return self


class LocalCustody(_Section):
    """Client keys wrapped by a master key kept in a local file (embedded default)."""

    kind: Literal["local"]
    master_key_file: str = Field("keys/master.key", description="Relative to the home folder")


class KmsCustody(_Section):
    """Client keys wrapped by AWS KMS keys (production)."""

    kind: Literal["aws-kms"]
    region: str = Field(description="AWS region of the KMS keys, e.g. eu-west-3")
    endpoint_url: str | None = Field(None, description="KMS-compatible endpoint; null for AWS")
    key_alias_prefix: str = Field("alias/retention-pipeline/", description="Alias prefix")


KeyCustody = Annotated[LocalCustody | KmsCustody, Field(discriminator="kind")]


class Settings(_Section):
    """The whole of ``retention.yaml``."""

    catalog: Annotated[str, AfterValidator(_catalog_url)] = Field(
        "sqlite:///catalog.db", description="SQLAlchemy URL of the catalog"
    )
    key_custody: KeyCustody = Field(
        default_factory=lambda: LocalCustody(kind="local"),
        description="Who wraps client keys: a local master key or AWS KMS",
    )
    signing_key: str = Field(
        "keys/certificates.ed25519", description="Ed25519 key that signs certificates"
    )
    stores: dict[StoreName, StoreSettings] = Field(default_factory=dict)
    connections: dict[ConnectionName, ConnectionSettings] = Field(default_factory=dict)
    reports: str = Field("reports", description="Folder for reports, relative to the home")
    evidence_witness: StoreName | None = Field(
        None,
        description="Store that keeps the evidence log's signed checkpoints, out of the "
        "catalog owner's reach; default: the first store with object_lock: true",
    )

    @model_validator(mode="after")
    def _witness_is_a_store(self) -> Settings:
        if self.evidence_witness is not None and self.evidence_witness not in self.stores:
            known = ", ".join(sorted(self.stores))
            hint = f"use one of: {known}" if known else "add the store under 'stores:'"
            raise invalid(
                "unknown_store", "is not one of the stores of retention.yaml", hint,
                "evidence_witness",
            )  # fmt: skip
        return self

    def witness_store(self) -> str | None:
        """The store named by ``evidence_witness``, else the first object-locked one.

        ``None``: nothing keeps evidence checkpoints, so a cut of the log's newest entries
        together with its head row cannot be detected (``log verify`` says so).
        """
        if self.evidence_witness is not None:
            return self.evidence_witness
        locked = sorted(name for name, spec in self.stores.items() if spec.object_lock)
        return locked[0] if locked else None


_DEFAULT_CONFIG = """\
# retention-pipeline installation settings ($RETENTION_HOME/retention.yaml).
# Relative paths are taken from the home folder. Check with:
#   retention-pipeline config check --home DIR

# The catalog of recovery points, policies and evidence (a SQLAlchemy URL).
# Embedded default: a SQLite file in the home folder. Production: postgresql://host/db
# (give the password through PGPASSWORD or ~/.pgpass, not here).
catalog: sqlite:///catalog.db

# Who wraps the client keys. Embedded default: a master key file in the home folder.
# Production: {kind: aws-kms, region: eu-west-3}
key_custody:
  kind: local
  master_key_file: keys/master.key

# The Ed25519 key that signs destruction certificates.
signing_key: keys/certificates.ed25519

# Named places for bytes. Policies refer to them by name (backup.storage, archive.storage).
# url: file:///absolute/folder, file://folder/in/home, or s3://bucket/prefix
stores:
  backups-local:
    url: file://stores/backups
    location: local
  archives-local:
    url: file://stores/archives
    location: local
  # archives-eu-cold:
  #   url: s3://crm-archives/prod
  #   location: eu-west-3
  #   endpoint_url: null          # set for an S3-compatible service
  #   storage_class: DEEP_ARCHIVE
  #   object_lock: true

# Named client databases. Policies refer to them by name (source.database.connection).
# A URL and its password never go in this file: name an environment variable (url_env)
# or an Airflow connection (airflow_conn_id) that holds it.
connections: {}
  # acme_crm: {url_env: ACME_CRM_URL}
  # other_crm: {airflow_conn_id: other_crm}

# Where reports are written.
reports: reports

# The store that keeps the evidence log's signed checkpoints (retention-pipeline log
# checkpoint-evidence): one the catalog's owner cannot rewrite. Default: the first store
# with object_lock: true; without one, a cut of the log's newest entries goes unseen.
# evidence_witness: archives-eu-cold
"""


Root = tuple[str, tuple[str, ...]]


def store_root(url: str, home: PurePosixPath) -> Root:
    """Where a store's keys live: a namespace (``s3://bucket`` or ``file://``) and the
    normalised path segments of its root inside it (relative folders from ``home``)."""
    parts = urlsplit(url)
    if parts.scheme == "s3":
        return f"s3://{parts.netloc}", tuple(s for s in parts.path.split("/") if s)
    path = PurePosixPath(unquote(parts.netloc + parts.path))
    if not path.is_absolute():
        path = home / path
    return "file://", tuple(s for s in posixpath.normpath(str(path)).split("/") if s)


def overlapping_stores(roots: Mapping[str, Root]) -> list[tuple[str, str]]:
    """Pairs of stores whose roots are the same place or one lies inside the other.

    Such stores list each other's objects: a key under one is a key under the other's
    prefix, so one client's erasure or cleanup in the outer store could reach another
    client's objects in the inner one. Segments are compared whole (``backups`` and
    ``backups2`` do not overlap). S3 endpoints are not compared: two spellings of one
    endpoint cannot be told apart, so one bucket name is one namespace.
    """
    pairs = []
    names = sorted(roots)
    for i, outer in enumerate(names):
        for inner in names[i + 1 :]:
            (space_a, a), (space_b, b) = roots[outer], roots[inner]
            if space_a != space_b:
                continue
            if a == b[: len(a)]:
                pairs.append((outer, inner))
            elif b == a[: len(b)]:
                pairs.append((inner, outer))
    return pairs


def default_config_text() -> str:
    """A commented ``retention.yaml`` for ``retention-pipeline init``; it validates as is."""
    return _DEFAULT_CONFIG
