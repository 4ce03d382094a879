"""Translating boto3/botocore failures into the store port's errors.

Callers of a store never see a boto3 exception. The table below is the whole policy:

=============================================  ==========================  ==========
what boto3 raised                              port error                  retried
=============================================  ==========================  ==========
ClientError 404, NoSuchKey, NoSuchVersion,     ObjectNotFoundError         no
NoSuchUpload, NoSuchBucket
ClientError 403, AccessDenied, and other       StorePermissionError        no
credential problems (NoCredentialsError)
ClientError 5xx, SlowDown, Throttling*,        TransientStoreError         yes
RequestTimeout, InternalError
botocore connect/read timeouts, refused or     TransientStoreError         yes
dropped connections, broken/short bodies
any other ClientError (bad request, ...)       StoreError                  no
=============================================  ==========================  ==========

Messages name the store, the operation and the object key (opaque ids), plus the S3
error code and HTTP status; they never copy S3's free-text message, which may echo
request content.
"""

from __future__ import annotations

from botocore.exceptions import (
    ClientError,
    ConnectionError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    PartialCredentialsError,
)

from retention_pipeline.ports.store import (
    ObjectNotFoundError,
    StoreError,
    StorePermissionError,
    TransientStoreError,
)

NOT_FOUND_CODES = frozenset(
    {"404", "NoSuchKey", "NoSuchVersion", "NoSuchUpload", "NoSuchBucket", "NotFound"}
)
DENIED_CODES = frozenset(
    {"403", "AccessDenied", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch"}
)
TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "ServiceUnavailable",
        "503",
        "500",
    }
)


def error_code(error: ClientError) -> tuple[str, int]:
    """The error code and HTTP status of a ``ClientError`` (S3's, and KMS's for ``kms_keys``).

    botocore shapes every AWS service's error answer alike; either part may be missing
    (``""``, ``0``) when a server answers with a bare status.
    """
    response = getattr(error, "response", {}) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return code, status


def is_denied(error: ClientError) -> bool:
    """Whether S3 refused the request (which may be an object lock: callers check)."""
    code, status = error_code(error)
    return status == 403 or code in DENIED_CODES


def translate(error: Exception, *, store: str, what: str) -> StoreError:
    """The port error for ``error``, raised by ``what`` on ``store`` (see the table)."""
    where = f"store {store!r}: {what}"
    if isinstance(error, StoreError):
        return error
    if isinstance(error, ClientError):
        code, status = error_code(error)
        detail = f"{code or 'no code'} (HTTP {status})"
        if status == 404 or code in NOT_FOUND_CODES:
            return ObjectNotFoundError(f"{where}: not found, {detail}")
        if status == 403 or code in DENIED_CODES:
            return StorePermissionError(
                f"{where}: access denied, {detail}; check the credentials and the bucket "
                "policy of this store"
            )
        if status >= 500 or status == 429 or code in TRANSIENT_CODES:
            return TransientStoreError(f"{where}: store unavailable, {detail}")
        return StoreError(f"{where}: refused, {detail}")
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return StorePermissionError(
            f"{where}: no usable credentials; set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
            "or an AWS profile for this store"
        )
    if isinstance(error, ConnectionError | HTTPClientError | IncompleteReadError):
        return TransientStoreError(f"{where}: connection problem, {type(error).__name__}")
    return StoreError(f"{where}: client error, {type(error).__name__}")
