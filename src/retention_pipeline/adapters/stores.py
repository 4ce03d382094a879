"""Building a store from its configuration entry (``stores:`` in ``retention.yaml``).

Allowed URLs:

* ``file:///absolute/path`` or ``file://relative/path`` (relative to ``base_dir``, the
  installation's home folder) -> ``FolderStore``;
* ``s3://bucket`` or ``s3://bucket/prefix`` -> ``S3Store`` (``endpoint_url`` for any
  S3-compatible service, ``location`` as the region).

Anything else is a ``ConfigError`` that names the store, the scheme found and the schemes
allowed: a typo in the configuration must stop the run, not create a folder somewhere.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from retention_pipeline.adapters.folder_store import FolderStore
from retention_pipeline.adapters.s3_store import S3Store
from retention_pipeline.errors import ConfigError
from retention_pipeline.ports.store import ObjectStore

ALLOWED_SCHEMES = ("file", "s3")
# S3 bucket naming rules (the common subset every S3-compatible service accepts).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def open_store(
    name: str,
    url: str,
    *,
    location: str | None,
    endpoint_url: str | None = None,
    storage_class: str | None = None,
    object_lock: bool = False,
    base_dir: Path | None = None,
) -> ObjectStore:
    """The store named ``name`` configured by ``url`` (see the module docstring)."""
    parts = urlsplit(url)
    where = f"stores.{name}.url"
    if parts.scheme == "file":
        if object_lock:
            raise ConfigError(
                f"{where}: a file:// store cannot enforce object_lock; "
                "set object_lock: false or use an s3:// store"
            )
        return FolderStore(name, _folder(name, parts.netloc + parts.path, base_dir), location)
    if parts.scheme == "s3":
        bucket = parts.netloc
        if not _BUCKET.match(bucket):
            raise ConfigError(
                f"{where}: {bucket!r} is not a valid S3 bucket name "
                "(3-63 characters: lowercase letters, digits, '.' and '-'); fix the URL"
            )
        if parts.query or parts.fragment:
            raise ConfigError(f"{where}: an s3:// URL takes no '?' or '#' part; remove it")
        return S3Store(
            name,
            bucket,
            unquote(parts.path).strip("/"),
            location,
            endpoint_url=endpoint_url,
            storage_class=storage_class,
            object_lock=object_lock,
        )
    scheme = f"scheme {parts.scheme!r}" if parts.scheme else "no scheme"
    raise ConfigError(
        f"{where}: {scheme} is not supported; use one of "
        + ", ".join(f"{s}://" for s in ALLOWED_SCHEMES)
        + " (file:///abs/path, file://relative/path, s3://bucket/prefix)"
    )


def _folder(name: str, path: str, base_dir: Path | None) -> Path:
    """The folder of a file:// URL; a relative one is taken from ``base_dir``."""
    folder = Path(unquote(path))
    if not str(folder) or str(folder) == ".":
        raise ConfigError(f"stores.{name}.url: the file:// URL names no folder; add a path")
    if folder.is_absolute():
        return folder
    if base_dir is None:
        raise ConfigError(
            f"stores.{name}.url: {path!r} is relative but no home folder is known; "
            "use file:///absolute/path or pass --home"
        )
    return base_dir / folder
