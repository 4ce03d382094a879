"""Argument types for ids typed on the command line: checked before anything runs.

Why: an id is recorded (evidence log, ``requested_by`` of a recovery point) and shown in
the UI, so a name or an e-mail typed where an id belongs would be kept for good. These
types refuse anything but the id's own alphabet, and their errors never repeat the value
(argparse prints ``argument X: MESSAGE`` with ``MESSAGE`` as written here).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from retention_pipeline.domain.ids import CLIENT_ID, CLIENT_ID_HINT, OPAQUE_ID_ALPHABET, STAFF_ID
from retention_pipeline.errors import NotFoundError

if TYPE_CHECKING:
    from retention_pipeline.ports.catalog import Catalog


def client_id(value: str) -> str:
    """A client id, as the policy file names give them."""
    if not CLIENT_ID.fullmatch(value):
        raise argparse.ArgumentTypeError(f"not a client id: {CLIENT_ID_HINT}")
    return value


def staff_id(value: str) -> str:
    """A staff id (an account name or number, never a person's name or e-mail)."""
    return _opaque_id(value, "staff id", "an account id")


def reference(value: str) -> str:
    """A ticket or request reference (a number or code, never a name or an e-mail)."""
    return _opaque_id(value, "reference", "a ticket number")


def _opaque_id(value: str, what: str, example: str) -> str:
    if not STAFF_ID.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"not a {what}: use 1 to 128 characters of {OPAQUE_ID_ALPHABET} "
            f"({example}, not a name or an e-mail address)"
        )
    return value


def known_client(catalog: Catalog, client: str | None) -> str | None:
    """``client`` unchanged if the catalog knows it (or none was given); else exit 2.

    A listing filtered by a mistyped id would print nothing and exit 0, which reads as
    "this client has nothing" rather than "no such client".
    """
    if client is not None and client not in {c.client_id for c in catalog.list_clients()}:
        raise NotFoundError(
            f"client {client!r} is not in the catalog; `retention-pipeline clients` lists them"
        )
    return client
