"""Local key custody: client identities wrapped by one master key kept in a file.

This is the embedded default (one machine, no cloud). Rules this module enforces:

* The master key is 32 random bytes in ``master_key_file``. It is created on first use
  by ``create`` or ``wrap`` only, and only while ``may_create`` says no client key depends
  on one yet: a missing file is otherwise an error naming it, never a new key (a new key
  beside client keys wrapped under a lost or mistyped one would split the installation
  in two, half its clients unreadable whichever file is kept). It is created with mode
  0600 in a folder created 0700, and written atomically: a temporary file opened with
  ``O_EXCL`` and mode 0600 (never readable by others, even for an instant), then
  hard-linked into place. ``link`` is used rather than ``rename`` because it refuses to
  replace an existing file: two processes racing on first use both end up with the
  winner's key instead of one silently overwriting it (which would make every identity
  wrapped under the loser's key unreadable).
* A master key file that group or others may access is refused, naming the file and
  ``chmod 600``; a file that is not exactly 32 bytes is refused too.
* ``kek_id`` is the master key fingerprint: the first 16 hex digits of
  ``sha256(b"kek" + master)``. It identifies the key without revealing it.

Blob layout (version 1)::

    +---------+--------------+-----------------------------------------+
    | 0x01    | nonce (12 B) | ChaCha20-Poly1305(identity) + tag (16 B) |
    +---------+--------------+-----------------------------------------+

    associated data = b"retention-pipeline/client-key/v1\\0" + client_id (ASCII)

Destruction: every client shares the master key, so destroying it would erase everyone.
Local ``destroy`` therefore only records the method; the lead's service deletes the
wrapped blob from the catalog, and **the catalog is the source of truth** for whether a
local client key still exists. ``state`` can only say whether this master key is the
KEK asked about, so it answers ``active`` for a matching kek_id.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from retention_pipeline.adapters.key_custody import check_unwrap
from retention_pipeline.ports.keys import (
    CustodyKind,
    KeyCustodyError,
    KeyDestruction,
    KeyState,
    KeyUnavailableError,
    WrappedIdentity,
    WrappedIdentityError,
    check_client_id,
    check_identity,
)

MASTER_KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
BLOB_VERSION = 1
AAD_PREFIX = b"retention-pipeline/client-key/v1\0"
LOCAL_DESTROY_METHOD = "local: wrapped identity deleted"


def kek_fingerprint(master: bytes) -> str:
    """The kek_id of a master key: names it in the catalog without revealing it."""
    return hashlib.sha256(b"kek" + master).hexdigest()[:16]


def seal(master: bytes, client_id: str, identity: bytes, nonce: bytes) -> bytes:
    """Blob v1 of ``identity`` for ``client_id``; pure, so tests can pin the layout."""
    aad = AAD_PREFIX + client_id.encode("ascii")
    return bytes([BLOB_VERSION]) + nonce + ChaCha20Poly1305(master).encrypt(nonce, identity, aad)


def open_sealed(master: bytes, client_id: str, blob: bytes) -> bytes:
    """The identity inside ``blob``, or ``WrappedIdentityError`` for any decode failure."""
    if len(blob) < 1 + NONCE_SIZE + TAG_SIZE + 1 or blob[0] != BLOB_VERSION:
        raise WrappedIdentityError(
            f"wrapped identity of client {client_id!r} is truncated or of an unknown "
            "version; restore it from the catalog backup"
        )
    nonce, ciphertext = blob[1 : 1 + NONCE_SIZE], blob[1 + NONCE_SIZE :]
    aad = AAD_PREFIX + client_id.encode("ascii")
    try:
        return ChaCha20Poly1305(master).decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        raise WrappedIdentityError(
            f"wrapped identity does not authenticate for client {client_id!r}: it was "
            "altered or wrapped for another client; restore it from the catalog backup"
        ) from None


class LocalKeyCustody:
    """Client identities wrapped under the master key in ``master_key_file``."""

    kind: CustodyKind = "local"

    def __init__(
        self, master_key_file: Path, *, may_create: Callable[[], bool] = lambda: True
    ) -> None:
        self.master_key_file = Path(master_key_file)
        self._may_create = may_create  # the installation: no client key is wrapped yet
        self._master: bytes | None = None

    # -- the port ---------------------------------------------------------------------

    def create(self, client_id: str) -> str:
        """The master key fingerprint (creating the master key on first use). Idempotent."""
        check_client_id(client_id)
        return kek_fingerprint(self._master_key(create=True))

    def wrap(self, client_id: str, identity: bytes) -> WrappedIdentity:
        """Seal ``identity`` for ``client_id`` under the master key, with a fresh nonce."""
        check_client_id(client_id)
        master = self._master_key(create=True)
        blob = seal(master, client_id, check_identity(identity), os.urandom(NONCE_SIZE))
        return WrappedIdentity("local", kek_fingerprint(master), blob, client_id)

    def unwrap(self, wrapped: WrappedIdentity, client_id: str) -> bytes:
        """The identity, if ``wrapped`` is for ``client_id`` under this master key.

        ``KeyUnavailableError`` when it was wrapped under another master key (a lost or
        replaced master key file); ``WrappedIdentityError`` when it does not
        authenticate. Both are permanent.
        """
        check_unwrap(wrapped, client_id, self.kind)
        master = self._master_key()
        own = kek_fingerprint(master)
        if wrapped.kek_id != own:
            raise KeyUnavailableError(
                f"wrapped identity of client {client_id!r} needs master key {wrapped.kek_id}, "
                f"but {self.master_key_file} holds master key {own} (kek mismatch); restore "
                "the master key file with that fingerprint, or the key is destroyed"
            )
        return open_sealed(master, client_id, wrapped.blob)

    def state(self, client_id: str, kek_id: str) -> KeyState:
        """``active`` when ``kek_id`` is this master key; the catalog knows the rest.

        A kek_id of another master key raises ``KeyUnavailableError``: this custody
        cannot speak for a key it does not hold.
        """
        check_client_id(client_id)
        own = kek_fingerprint(self._master_key())
        if kek_id != own:
            raise KeyUnavailableError(
                f"client {client_id!r}: kek {kek_id} is not the master key in "
                f"{self.master_key_file} ({own}); check key_custody.master_key_file"
            )
        return KeyState(client_id, "local", kek_id, "active", None)

    def destroy(self, client_id: str, kek_id: str, at: datetime) -> KeyDestruction:
        """Record the destruction; the caller deletes the wrapped blob. Idempotent.

        The master key stays: it wraps every other client's identity too.
        """
        check_client_id(client_id)
        details = {
            "master_key_fingerprint": kek_id,
            "source_of_truth": "catalog: the wrapped identity row is deleted",
        }
        return KeyDestruction(client_id, "local", kek_id, LOCAL_DESTROY_METHOD, at, None, details)

    # -- the master key file ----------------------------------------------------------

    def _master_key(self, *, create: bool = False) -> bytes:
        if self._master is None:
            if not self.master_key_file.exists():
                if not (create and self._may_create()):
                    raise KeyUnavailableError(
                        f"master key file {self.master_key_file} does not exist, and client "
                        "keys are wrapped under a master key: restore the file from its "
                        "backup, or correct key_custody.master_key_file in retention.yaml; "
                        "no new master key was made (it could not unwrap them)"
                    )
                try:
                    _create_master_key(self.master_key_file)
                except OSError as error:
                    raise KeyCustodyError(
                        f"cannot create master key file {self.master_key_file} "
                        f"({error.strerror}); check that its folder is writable by this user"
                    ) from None
            self._master = _read_master_key(self.master_key_file)
        return self._master


def _read_master_key(path: Path) -> bytes:
    """The 32 bytes in ``path``, refusing a file that group or others may access."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as error:
        raise KeyCustodyError(
            f"cannot open master key file {path} ({error.strerror}); check that it exists "
            "and that this user owns it"
        ) from None
    with os.fdopen(fd, "rb") as handle:
        mode = stat.S_IMODE(os.fstat(handle.fileno()).st_mode)
        if mode & 0o077:
            raise KeyCustodyError(
                f"master key file {path} is accessible to group or others (mode "
                f"{mode:04o}); run `chmod 600 {path}` and check who could have copied it"
            )
        try:
            master = handle.read(MASTER_KEY_SIZE + 1)
        except OSError as error:  # a folder where the file should be, an I/O error
            raise KeyCustodyError(
                f"cannot read master key file {path} ({error.strerror}); "
                "check key_custody.master_key_file in retention.yaml"
            ) from None
    if len(master) != MASTER_KEY_SIZE:
        raise KeyCustodyError(
            f"master key file {path} does not hold a {MASTER_KEY_SIZE}-byte key; restore "
            "it from its backup (a new key cannot unwrap existing client keys)"
        )
    return master


def _create_master_key(path: Path) -> None:
    """Write a new master key at ``path`` atomically, unless one appears meanwhile."""
    folder = path.parent
    if not folder.exists():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)  # mkdir's mode is filtered by the umask
    temp = folder / f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(secrets.token_bytes(MASTER_KEY_SIZE))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            return  # another process created it first: use theirs, never replace it
        _fsync_folder(folder)
    finally:
        temp.unlink(missing_ok=True)


def _fsync_folder(folder: Path) -> None:
    """Make the new directory entry durable, so a crash cannot lose the master key."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
