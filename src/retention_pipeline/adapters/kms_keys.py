"""AWS KMS key custody: one KMS key per client wraps that client's private identity.

Rules this module enforces:

* ``create`` looks up ``alias_prefix + client_id`` first and only then calls CreateKey
  (tagged ``client=<id>``) and CreateAlias, so it is idempotent. Two workers racing on
  a new client both end with the alias winner's key; the loser schedules its own
  orphan key for deletion.
* ``wrap`` and ``unwrap`` bind the client with the EncryptionContext
  ``{"client": id, "purpose": "age-identity"}``: KMS authenticates it, so a blob
  cannot be unwrapped as another client's key.
* ``wrap`` and ``unwrap`` call DescribeKey first and refuse unless the key is
  ``Enabled``. KMS itself refuses a key pending deletion, but KMS look-alikes (moto)
  still decrypt with it; erasure must not depend on the provider for that.
* ``destroy`` checks the key's ``client`` tag (never destroy another client's key on
  a wrong kek_id), then calls ScheduleKeyDeletion with the minimum 7-day window. A key
  already pending deletion keeps and returns its existing DeletionDate.
* botocore errors become the port's errors (table in ``_translate``). Messages carry
  the operation, client id, key ARN and the AWS error code, never AWS's free text nor
  any plaintext or ciphertext.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)

from retention_pipeline.adapters.key_custody import check_unwrap
from retention_pipeline.adapters.s3_errors import error_code
from retention_pipeline.adapters.wire_logs import keep_bodies_out_of_logs
from retention_pipeline.ports.keys import (
    CustodyKind,
    KeyCustodyError,
    KeyDestruction,
    KeyLifecycle,
    KeyState,
    KeyUnavailableError,
    TransientKeyCustodyError,
    WrappedIdentity,
    WrappedIdentityError,
    check_client_id,
    check_identity,
)

PENDING_WINDOW_DAYS = 7  # the minimum KMS allows: erase as soon as KMS permits
PURPOSE = "age-identity"
CLIENT_TAG = "client"

_STATES: dict[str, KeyLifecycle] = {"Enabled": "active", "PendingDeletion": "pending_deletion"}
_UNAVAILABLE = frozenset(
    {
        "NotFoundException",
        "DisabledException",
        "KMSInvalidStateException",
        "KeyUnavailableException",
    }
)
_UNAUTHENTIC = frozenset({"InvalidCiphertextException", "IncorrectKeyException"})
_DENIED = frozenset(
    {"AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException"}
)
_TRANSIENT = frozenset(
    {
        "ThrottlingException",
        "KMSInternalException",
        "DependencyTimeoutException",
        "ServiceUnavailableException",
        "InternalFailure",
        "RequestTimeout",
    }
)


def kms_client(endpoint_url: str | None, region: str) -> Any:
    """A boto3 KMS client with botocore's retries off: the caller retries transients."""
    keep_bodies_out_of_logs()  # a Decrypt answer's body is the client's identity
    config = Config(
        retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=10, read_timeout=30
    )
    return boto3.client("kms", endpoint_url=endpoint_url, region_name=region, config=config)


def _translate(error: Exception, where: str) -> KeyCustodyError:
    """The port error for a botocore failure of ``where`` (operation, client, key)."""
    if isinstance(error, ClientError):
        code, status = error_code(error)
        detail = f"{code or 'no code'} (HTTP {status})"
        if code in _UNAVAILABLE:
            return KeyUnavailableError(
                f"{where}: KMS key unavailable, {detail}; it is missing, disabled, pending "
                "deletion or deleted (see `state`)"
            )
        if code in _UNAUTHENTIC:
            return WrappedIdentityError(
                f"{where}: KMS refused the wrapped identity, {detail}; it was altered or "
                "wrapped for another client or key"
            )
        if status == 403 or code in _DENIED:
            return KeyCustodyError(
                f"{where}: access denied, {detail}; check the IAM permissions (kms:*Key*, "
                "kms:Encrypt, kms:Decrypt) and the credentials"
            )
        if status >= 500 or status == 429 or code in _TRANSIENT:
            return TransientKeyCustodyError(f"{where}: KMS unavailable, {detail}; retry later")
        return KeyCustodyError(f"{where}: KMS refused the request, {detail}")
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return KeyCustodyError(
            f"{where}: no usable AWS credentials; set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
            "or an AWS profile"
        )
    if isinstance(error, ConnectionError | HTTPClientError):
        return TransientKeyCustodyError(
            f"{where}: cannot reach KMS ({type(error).__name__}); check key_custody.region "
            "and endpoint_url, then retry"
        )
    return KeyCustodyError(f"{where}: KMS client error {type(error).__name__}")


class KmsKeyCustody:
    """One KMS key per client, found by the alias ``alias_prefix + client_id``."""

    kind: CustodyKind = "aws-kms"

    def __init__(
        self,
        region: str,
        endpoint_url: str | None = None,
        alias_prefix: str = "alias/retention-pipeline/",
        client: Any = None,
    ) -> None:
        if not alias_prefix.startswith("alias/") or not alias_prefix.endswith("/"):
            raise KeyCustodyError(
                f"key_custody.key_alias_prefix {alias_prefix!r} must start with 'alias/' "
                "and end with '/', e.g. 'alias/retention-pipeline/'"
            )
        self.region = region
        self.alias_prefix = alias_prefix
        self._kms = client if client is not None else kms_client(endpoint_url, region)

    # -- the port ---------------------------------------------------------------------

    def create(self, client_id: str) -> str:
        """The ARN of the client's KMS key, created with its alias if missing. Idempotent.

        ``KeyUnavailableError`` if the aliased key is pending deletion or disabled: a
        client whose key is being erased does not silently get a new one.
        """
        alias = self.alias(client_id)
        existing = self._find(alias, client_id)
        if existing is not None:
            self._require_enabled(existing, client_id, "create")
            return str(existing["Arn"])
        created = self._call(
            "CreateKey",
            client_id,
            self._kms.create_key,
            Description=f"retention-pipeline key-encryption key of client {client_id}",
            KeyUsage="ENCRYPT_DECRYPT",
            KeySpec="SYMMETRIC_DEFAULT",
            Tags=[{"TagKey": CLIENT_TAG, "TagValue": client_id}],
        )
        arn = str(created["KeyMetadata"]["Arn"])
        if self._claim_alias(alias, arn, client_id):
            return arn
        # Another worker won the race: retire our key, use theirs.
        self._call(
            "ScheduleKeyDeletion",
            client_id,
            self._kms.schedule_key_deletion,
            KeyId=str(created["KeyMetadata"]["KeyId"]),
            PendingWindowInDays=PENDING_WINDOW_DAYS,
        )
        winner = self._find(alias, client_id)
        if winner is None:
            raise KeyCustodyError(
                f"KMS alias {alias} for client {client_id!r} exists but names no key; "
                "delete the alias and run create again"
            )
        self._require_enabled(winner, client_id, "create")
        return str(winner["Arn"])

    def wrap(self, client_id: str, identity: bytes) -> WrappedIdentity:
        """Encrypt ``identity`` under the client's enabled KMS key, bound to the client."""
        alias = self.alias(client_id)
        plaintext = check_identity(identity)
        meta = self._find(alias, client_id)
        if meta is None:
            raise KeyUnavailableError(
                f"client {client_id!r} has no KMS key ({alias}); call create first"
            )
        self._require_enabled(meta, client_id, "wrap")
        arn = str(meta["Arn"])
        response = self._call(
            "Encrypt",
            client_id,
            self._kms.encrypt,
            KeyId=arn,
            Plaintext=plaintext,
            EncryptionContext=self._context(client_id),
        )
        return WrappedIdentity("aws-kms", arn, bytes(response["CiphertextBlob"]), client_id)

    def unwrap(self, wrapped: WrappedIdentity, client_id: str) -> bytes:
        """The identity, if ``wrapped`` is for ``client_id`` and its key is ``Enabled``.

        ``KeyUnavailableError`` (key pending deletion, disabled, deleted) and
        ``WrappedIdentityError`` (altered blob, other client) are permanent.
        """
        check_unwrap(wrapped, client_id, self.kind)
        meta = self._describe(wrapped.kek_id, client_id)
        self._require_enabled(meta, client_id, "unwrap")
        response = self._call(
            "Decrypt",
            client_id,
            self._kms.decrypt,
            CiphertextBlob=wrapped.blob,
            KeyId=wrapped.kek_id,
            EncryptionContext=self._context(client_id),
        )
        return bytes(response["Plaintext"])

    def state(self, client_id: str, kek_id: str) -> KeyState:
        """Maps KMS KeyState; a key KMS no longer knows (NotFound) is ``destroyed``."""
        check_client_id(client_id)
        meta = self._find(kek_id, client_id)
        if meta is None:
            return KeyState(client_id, "aws-kms", kek_id, "destroyed", None)
        lifecycle = _STATES.get(str(meta.get("KeyState")), "disabled")
        return KeyState(client_id, "aws-kms", kek_id, lifecycle, _utc(meta.get("DeletionDate")))

    def destroy(self, client_id: str, kek_id: str, at: datetime) -> KeyDestruction:
        """Schedule the key's deletion (7 days); idempotent, keeps an existing date.

        Refuses (``KeyCustodyError``, permanent) a key not tagged for ``client_id``.
        """
        check_client_id(client_id)
        meta = self._find(kek_id, client_id)
        if meta is None:
            gone = {"key_id": kek_id, "key_state": "deleted"}
            method = "aws-kms: key already deleted"
            return KeyDestruction(client_id, "aws-kms", kek_id, method, at, None, gone)
        key_id = str(meta["KeyId"])  # the bare id: some KMS look-alikes refuse an ARN here
        self._require_owner(key_id, client_id)
        deletion_date = _utc(meta.get("DeletionDate"))
        if meta.get("KeyState") != "PendingDeletion" or deletion_date is None:
            response = self._call(
                "ScheduleKeyDeletion",
                client_id,
                self._kms.schedule_key_deletion,
                KeyId=key_id,
                PendingWindowInDays=PENDING_WINDOW_DAYS,
            )
            deletion_date = _utc(response["DeletionDate"])
        details: dict[str, Any] = {
            "key_arn": str(meta["Arn"]),
            "key_state": "PendingDeletion",
            "pending_window_days": PENDING_WINDOW_DAYS,
        }
        method = f"aws-kms: ScheduleKeyDeletion, {PENDING_WINDOW_DAYS}-day pending window"
        return KeyDestruction(client_id, "aws-kms", kek_id, method, at, deletion_date, details)

    # -- helpers ----------------------------------------------------------------------

    def alias(self, client_id: str) -> str:
        """The alias naming the client's key."""
        return self.alias_prefix + check_client_id(client_id)

    def _claim_alias(self, alias: str, arn: str, client_id: str) -> bool:
        """CreateAlias; ``False`` when the alias already exists (a concurrent create)."""
        try:
            self._kms.create_alias(AliasName=alias, TargetKeyId=arn)
        except ClientError as error:
            if error_code(error)[0] == "AlreadyExistsException":
                return False
            raise _translate(error, f"KMS CreateAlias for client {client_id!r}") from None
        except BotoCoreError as error:
            raise _translate(error, f"KMS CreateAlias for client {client_id!r}") from None
        return True

    @staticmethod
    def _context(client_id: str) -> dict[str, str]:
        return {"client": client_id, "purpose": PURPOSE}

    def _call(self, operation: str, client_id: str, method: Any, **kwargs: Any) -> Any:
        try:
            return method(**kwargs)
        except (ClientError, BotoCoreError) as error:
            raise _translate(error, f"KMS {operation} for client {client_id!r}") from None

    def _describe(self, key_id: str, client_id: str) -> dict[str, Any]:
        response = self._call("DescribeKey", client_id, self._kms.describe_key, KeyId=key_id)
        return dict(response["KeyMetadata"])

    def _find(self, key_id: str, client_id: str) -> dict[str, Any] | None:
        """DescribeKey, or ``None`` when KMS does not know the key or alias."""
        try:
            return dict(self._kms.describe_key(KeyId=key_id)["KeyMetadata"])
        except ClientError as error:
            if error_code(error)[0] == "NotFoundException":
                return None
            raise _translate(error, f"KMS DescribeKey for client {client_id!r}") from None
        except BotoCoreError as error:
            raise _translate(error, f"KMS DescribeKey for client {client_id!r}") from None

    def _require_enabled(self, meta: dict[str, Any], client_id: str, action: str) -> None:
        state = str(meta.get("KeyState"))
        if state != "Enabled":
            when = _utc(meta.get("DeletionDate"))
            until = f" (deleted on {when.isoformat()})" if when else ""
            raise KeyUnavailableError(
                f"cannot {action} for client {client_id!r}: KMS key {meta.get('Arn')} is "
                f"{state}{until}; {_KEY_STATE_REMEDY.get(state, _GONE)}"
            )

    def _require_owner(self, key_id: str, client_id: str) -> None:
        response = self._call(
            "ListResourceTags", client_id, self._kms.list_resource_tags, KeyId=key_id
        )
        owners = [t["TagValue"] for t in response.get("Tags", []) if t["TagKey"] == CLIENT_TAG]
        if owners != [client_id]:
            raise KeyCustodyError(
                f"refusing to destroy KMS key {key_id} for client {client_id!r}: its "
                f"{CLIENT_TAG!r} tag names {owners or 'no client'}; check the kek_id in "
                "the catalog"
            )


_GONE = "the client key is destroyed or being destroyed"
# What an operator can do about a key that is not Enabled (KMS KeyState values).
_KEY_STATE_REMEDY = {
    "Disabled": "someone disabled it; if that was not part of an erasure, enable it again "
    "(aws kms enable-key) and retry",
    "PendingDeletion": "it is scheduled for deletion; if that was not part of an erasure, "
    "cancel it (aws kms cancel-key-deletion, then enable-key) before the date, and retry",
    "PendingImport": "its key material was never imported; import it, or restore the key",
    "Unavailable": "its external key store is disconnected; reconnect it and retry",
    "Creating": "it is still being created; retry in a minute",
    "Updating": "it is being updated; retry in a minute",
}


def _utc(value: Any) -> datetime | None:
    """An aware UTC datetime from what boto3 returned (aware, any zone), else None."""
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
