"""Where a client's objects live in a store, and which keys are provably a client's.

Every object of a client lives under ``<client>/``, in a folder with a file name and
nothing deeper: ``<client>/recovery-points/<rp>.tar.zst.age`` (backups) and
``<client>/archive/<rp>.tar.zst.age`` (archive copies). Erasure and cleanup act on a
listed key only when it has exactly that shape (``belongs_to``): a listing under
``<client>/`` can hold more than the client's objects when another store's root lies
inside this one (``s3://b/backups`` and ``s3://b/backups/zeta`` list each other's
objects), and a client id is never a folder inside another client's prefix, so the
exact shape is what keeps one client's erasure away from everyone else's data.
Configuration refuses such nested roots too (``domain.settings.overlapping_stores``);
this is the second line, which holds whatever layout the stores were given.
"""

from __future__ import annotations

from retention_pipeline.domain.ids import CLIENT_ID

RECOVERY_POINTS = "recovery-points"
ARCHIVE = "archive"
SUFFIX = ".tar.zst.age"


def client_prefix(client_id: str) -> str:
    """Every object of a client lives under this prefix, in every store."""
    return f"{client_id}/"


def recovery_point_key(client_id: str, rp_id: str) -> str:
    """Where a recovery point is stored: under the client's prefix, named by opaque id."""
    return f"{client_id}/{RECOVERY_POINTS}/{rp_id}{SUFFIX}"


def archive_key(client_id: str, rp_id: str) -> str:
    """Where an archive copy lives in the archive store, under the client's prefix."""
    return f"{client_id}/{ARCHIVE}/{rp_id}{SUFFIX}"


def belongs_to(client_id: str, key: str, folder: str | None = None) -> bool:
    """Whether ``key`` has the exact shape of one of the client's objects:
    ``<client>/<folder>/<name>``, three segments, no more.

    ``folder`` narrows it to one folder (``recovery-points``, ``archive``). Anything
    deeper is someone else's and is left alone: a store whose root lies inside this one
    writes keys of three segments of its own, which show here below at least one of
    ours, so none of them can have this shape.
    """
    parts = key.split("/")
    if len(parts) != 3 or not CLIENT_ID.fullmatch(client_id):
        return False
    owner, kind, name = parts
    return owner == client_id and bool(kind) and bool(name) and folder in (None, kind)
