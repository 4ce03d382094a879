"""What every key custody adapter checks before it unwraps a client identity.

Rules this module enforces, for the local and the AWS KMS custody alike:

* The client id is valid (``check_client_id``) before any I/O.
* A wrapped identity is unwrapped only by the custody kind that wrapped it: another kind
  cannot open it, and a clear ``KeyCustodyError`` beats a cryptographic failure.
* A wrapped identity is unwrapped only for the client it was wrapped for
  (``WrappedIdentityError``): a client key is never moved to another client, whatever the
  custody would let through.

Messages name the client ids and custody kinds (opaque), never the blob.
"""

from __future__ import annotations

from retention_pipeline.ports.keys import (
    CustodyKind,
    KeyCustodyError,
    WrappedIdentity,
    WrappedIdentityError,
    check_client_id,
)


def check_unwrap(wrapped: WrappedIdentity, client_id: str, kind: CustodyKind) -> None:
    """Refuse to unwrap ``wrapped`` for ``client_id`` in a custody of ``kind``; see above.

    Both refusals are permanent: retrying cannot change the custody or the client.
    """
    check_client_id(client_id)
    if wrapped.custody != kind:
        raise KeyCustodyError(
            f"wrapped identity of client {client_id!r} is in {wrapped.custody!r} "
            "custody; configure key_custody of that kind to unwrap it"
        )
    if wrapped.context != client_id:
        raise WrappedIdentityError(
            f"wrapped identity was made for client {wrapped.context!r}, not "
            f"{client_id!r}; a client key cannot be moved to another client"
        )
