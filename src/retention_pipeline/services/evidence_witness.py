"""Evidence checkpoints: the evidence log's size and root, signed and kept out of the catalog.

Why: the hash chain shows an edited or removed entry, but not a cut of the newest ones
when whoever made it also moved the ``evidence_head`` row back, nor a log deleted
whole. A checkpoint written where the catalog's owner cannot rewrite it (the *witness*
store: an S3 bucket under Object Lock, or a folder on other hands) commits the log to a
size and a root, so a log shorter than, or different from, what was signed is found.

Rules:

* an evidence checkpoint is the certificate log's signed note (``envelope.checkpoint``),
  signed by the certificate key, for the origin ``<certificate log origin>/evidence``
  (so neither log's checkpoint passes for the other's); leaf ``i`` is the 32-byte chain
  hash of entry ``i + 1`` (``domain.evidence``), hence the RFC 9162 root commits to
  every field of the first ``size`` entries;
* each is stored as ``_evidence-log/<size, 20 digits>.checkpoint`` (no client id starts
  with ``_``, so no client's erasure lists it); a size already witnessed is not written
  again; an object-locked store locks each one in compliance mode for
  ``CHECKPOINT_LOCK_DAYS``;
* a checkpoint is signed only over a log that passes ``verify`` against the newest one
  already witnessed, so witnessed sizes grow along one history: a log cut and re-grown
  past the old size is refused, never re-anchored;
* ``verify``: the chain, then the head row against the rows, then the witnessed
  checkpoints newest first until one matches the log's prefix of its size. Any
  unreadable or unsigned object met on the way, a checkpoint of more entries than the
  log holds sound, or one whose prefix hashes to another root fails the log. The last
  trusted entry is the newest that is sound and not contradicted by a checkpoint: the
  last sound entry, or, when a checkpoint does not match (history rewritten) or a
  witness object is forged, the size of the newest checkpoint that still matches.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from retention_pipeline.domain.evidence import (
    ChainVerdict,
    EvidenceEntry,
    check_head,
    verify_chain,
)
from retention_pipeline.envelope import merkle
from retention_pipeline.envelope.checkpoint import Checkpoint, sign_checkpoint, verify_checkpoint
from retention_pipeline.envelope.dsse import CertificateError
from retention_pipeline.errors import ConfigError, RetentionError
from retention_pipeline.ports.catalog import Catalog
from retention_pipeline.ports.store import ObjectLock, ObjectStore, StoreError

PREFIX = "_evidence-log/"
CHECKPOINT_LOCK_DAYS = 3653  # ten years: the longest accounting retention our clients have
MAX_CHECKPOINT_BYTES = 4096  # a checkpoint is ~200 bytes; more is not one of ours
_KEY = re.compile(r"_evidence-log/([0-9]{20})\.checkpoint")


class EvidenceLogFailedError(RetentionError):
    """The evidence log does not verify, so no checkpoint is signed over it."""

    exit_code = 1


def checkpoint_key(size: int) -> str:
    """Where the checkpoint of ``size`` entries lives in the witness store."""
    return f"{PREFIX}{size:020d}.checkpoint"


def evidence_origin(certificate_log_origin: str) -> str:
    """The evidence log's checkpoint origin, beside the certificate log's."""
    return f"{certificate_log_origin}/evidence"


@dataclass(frozen=True)
class EvidenceVerdict:
    """The evidence log checked against its chain, head row and witnessed checkpoints.

    ``last_trusted_seq`` (0: none) is the newest entry the checks vouch for;
    ``first_bad_seq`` the first they do not (``None`` when the log verifies);
    ``checkpoint_size`` the size of the newest verified witness checkpoint, if any.
    """

    ok: bool
    entries: int
    last_trusted_seq: int
    first_bad_seq: int | None
    reason: str
    witness: str | None
    checkpoint_size: int | None


@dataclass(frozen=True)
class WrittenCheckpoint:
    """What ``write`` left in the witness store (``written`` False: that size was there)."""

    witness: str
    size: int
    key: str
    written: bool


@dataclass
class _Examined:
    verdict: EvidenceVerdict
    sound: list[bytes]  # leaf data of the sound entries, in order


@dataclass
class EvidenceWitness:
    """Sign, store and check evidence checkpoints in one witness store (``None``: none)."""

    catalog: Catalog
    store: ObjectStore | None
    public_key: Callable[[], Ed25519PublicKey]
    signing_key: Callable[[], Ed25519PrivateKey]
    origin: Callable[[Ed25519PublicKey], str]  # the certificate log's origin for a key

    def verify(self) -> EvidenceVerdict:
        """Check the log against everything the witness holds (module docstring)."""
        return self._examine().verdict

    def write(self, now: datetime) -> WrittenCheckpoint:
        """Sign the whole log's checkpoint into the witness, after verifying the log."""
        if self.store is None:
            raise ConfigError(
                "no evidence witness: set evidence_witness: STORE in retention.yaml (a store "
                "the catalog's owner cannot rewrite), or configure an s3 store with "
                "object_lock: true"
            )
        examined = self._examine()
        verdict = examined.verdict
        if not verdict.ok:
            raise EvidenceLogFailedError(
                f"evidence log FAILED: {verdict.reason}; last trusted entry "
                f"{verdict.last_trusted_seq}; no checkpoint signed (find out what changed "
                "the catalog, restore it from a backup, then verify again)"
            )
        size = verdict.entries
        key = checkpoint_key(size)
        if verdict.checkpoint_size == size:
            return WrittenCheckpoint(self.store.name, size, key, written=False)
        private = self.signing_key()
        text = sign_checkpoint(
            evidence_origin(self.origin(private.public_key())),
            size,
            merkle.root(examined.sound),
            private,
        )
        data = text.encode("utf-8")
        lock = None
        if self.store.capabilities.object_lock:
            lock = ObjectLock("compliance", now + timedelta(days=CHECKPOINT_LOCK_DAYS))
        self.store.put(key, [data], size_hint=len(data), lock=lock)
        return WrittenCheckpoint(self.store.name, size, key, written=True)

    def _examine(self) -> _Examined:
        hashes: list[str] = []

        def entries() -> Iterator[EvidenceEntry]:
            for entry in self.catalog.evidence_entries():
                hashes.append(entry.hash)
                yield entry

        before = self.catalog.evidence_head_mark()
        chain = verify_chain(entries())
        chain = check_head(chain, hashes, before, self.catalog.evidence_head_mark())
        sound = [bytes.fromhex(h) for h in hashes[: chain.checked]]
        if self.store is None:
            note = "" if not chain.ok else "; no evidence witness configured (a cut is unseen)"
            return _Examined(_verdict(chain, None, None, chain.reason + note), sound)
        name = self.store.name
        try:
            return _Examined(self._against_witness(chain, sound, self.store), sound)
        except StoreError as error:
            reason = f"the witness store {name!r} cannot be read ({error})"
        except ConfigError as error:
            reason = f"the witness store {name!r} holds checkpoints but {error}"
        if not chain.ok:
            reason = f"{chain.reason}; {reason}"
        return _Examined(_verdict(chain, name, None, reason, trusted=chain.checked), sound)

    def _against_witness(
        self, chain: ChainVerdict, sound: list[bytes], store: ObjectStore
    ) -> EvidenceVerdict:
        problems = [] if chain.ok else [chain.reason]
        newest: int | None = None
        anchor = 0
        contradicted = False
        public_key: Ed25519PublicKey | None = None
        for key, version in _candidates(store):
            if public_key is None:
                public_key = self.public_key()
            checkpoint = _read_checkpoint(store, key, version, public_key, self.origin)
            if isinstance(checkpoint, str):
                problems.append(checkpoint)
                contradicted = True
                continue
            newest = checkpoint.size if newest is None else newest
            if checkpoint.size > len(sound):
                if checkpoint.size == newest and chain.ok:
                    problems.append(_cut(len(sound), checkpoint.size))
                continue
            if merkle.root(sound[: checkpoint.size]) == checkpoint.root:
                anchor = checkpoint.size
                break
            problems.append(
                f"entries 1..{checkpoint.size} do not hash to the witnessed checkpoint of "
                f"{checkpoint.size} entries (history rewritten)"
            )
            contradicted = True
        if not problems:
            reason = f"{len(sound)} entries verified" + (
                f", the first {newest} as witnessed in store {store.name!r}"
                if newest is not None
                else f"; store {store.name!r} holds no evidence checkpoint yet"
            )
            return _verdict(chain, store.name, newest, reason)
        trusted = anchor if contradicted else len(sound)
        return _verdict(chain, store.name, newest, "; ".join(problems), trusted=trusted)


def _verdict(
    chain: ChainVerdict,
    witness: str | None,
    newest: int | None,
    reason: str,
    *,
    trusted: int | None = None,
) -> EvidenceVerdict:
    """Passed when the chain is and nothing else failed (``trusted`` None), else failed.

    A failed verdict vouches for ``trusted`` entries (default: the sound ones).
    """
    if trusted is None and chain.ok:
        return EvidenceVerdict(True, chain.checked, chain.checked, None, reason, witness, newest)
    last = chain.checked if trusted is None else trusted
    return EvidenceVerdict(False, chain.checked, last, last + 1, reason, witness, newest)


def _cut(held: int, signed: int) -> str:
    if held == 0:
        return f"the log holds no entry but a witnessed checkpoint signs {signed} (log deleted)"
    return (
        f"the log holds {held} entries but a witnessed checkpoint signs {signed} "
        f"(entries {held + 1}..{signed} deleted)"
    )


def _candidates(store: ObjectStore) -> list[tuple[str, str]]:
    """Every stored version under the prefix, newest checkpoint (largest size) first."""
    found = [(v.key, v.version_id) for v in store.list_versions(PREFIX) if not v.is_delete_marker]
    return sorted(found, key=lambda item: (_size_of(item[0]), item[0]), reverse=True)


def _size_of(key: str) -> int:
    """The size a key names; an unknown key sorts first, so it is read (and reported)."""
    match = _KEY.fullmatch(key)
    return int(match.group(1)) if match else 2**64


def _read_checkpoint(
    store: ObjectStore,
    key: str,
    version: str,
    public_key: Ed25519PublicKey,
    origin: Callable[[Ed25519PublicKey], str],
) -> Checkpoint | str:
    """The verified checkpoint, or the problem that says why this object is not one."""
    where = f"witness object {key!r} (version {version})"
    data = b""
    for chunk in store.get(key, version):
        data += chunk
        if len(data) > MAX_CHECKPOINT_BYTES:
            return f"{where} is not an evidence checkpoint (too large; forged)"
    try:
        checkpoint = verify_checkpoint(
            data.decode("utf-8"), public_key, origin=evidence_origin(origin(public_key))
        )
    except (CertificateError, UnicodeDecodeError) as error:
        return f"{where} is not an evidence checkpoint signed by the certificate key ({error})"
    if _size_of(key) != checkpoint.size:
        return f"{where} signs {checkpoint.size} entries, not the size its name says (moved)"
    return checkpoint
