"""Value types of the order form: durations, schedules, client ids, recipients.

Each type validates one field on its own and says, in the problem-line language, what
is wrong and what to write instead. Cross-field rules live in ``policy_rules``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, PlainSerializer, PlainValidator, WithJsonSchema

from retention_pipeline.domain.documents import invalid, looks_secret
from retention_pipeline.domain.durations import DURATION_FORM, format_duration, parse_duration
from retention_pipeline.domain.ids import CLIENT_ID, CLIENT_ID_HINT, CLIENT_ID_PATTERN
from retention_pipeline.domain.schedule import validate_cron
from retention_pipeline.domain.settings import CONNECTION_NAME_PATTERN, STORE_NAME_PATTERN

_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_RECIPIENT = re.compile(f"age1[{_BECH32}]{{58}}")
_DESTINATION = re.compile(r"(file://[^\s]+|s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?)")


def _duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        try:
            format_duration(value)
        except ValueError:
            message = "is not a whole, positive number of hours"
            raise invalid("duration", message, DURATION_FORM) from None
        return value
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except ValueError:
            raise invalid("duration", "is not a duration", DURATION_FORM) from None
    raise invalid("duration", "is not a duration", DURATION_FORM)


Duration = Annotated[
    timedelta,
    PlainValidator(_duration, json_schema_input_type=str),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^[0-9]{1,9}[hdwy]$", "examples": ["35d"]}),
]
"""A timedelta written and read back as ``35d`` (h, d, w, y = 365 days)."""


def _cron(value: str) -> str:
    try:
        validate_cron(value)
    except ValueError as error:
        message, _, hint = str(error).partition("; ")
        raise invalid("cron", message, hint) from None
    return value


Cron = Annotated[str, AfterValidator(_cron)]
"""A 5-field cron expression read in UTC."""


def _client_id(value: str) -> str:
    if not CLIENT_ID.fullmatch(value) or ".." in value or "/" in value:
        raise invalid("client_id", "is not a valid client id", CLIENT_ID_HINT)
    return value


ClientId = Annotated[
    str,
    AfterValidator(_client_id),
    WithJsonSchema({"type": "string", "pattern": CLIENT_ID_PATTERN}),
]


def _store_name(value: str) -> str:
    if not re.fullmatch(STORE_NAME_PATTERN, value):
        hint = "use the name of a store under 'stores:' in retention.yaml, like backups-eu"
        raise invalid("store_name", "is not a store name", hint)
    return value


StoreRef = Annotated[
    str,
    AfterValidator(_store_name),
    WithJsonSchema({"type": "string", "pattern": STORE_NAME_PATTERN}),
]
"""The name of a store defined in retention.yaml."""

_NAMED_CONNECTION = "use a named connection from retention.yaml"


def _connection_name(value: str) -> str:
    if looks_secret(value):
        raise invalid("inline_credential", "inline credentials are refused", _NAMED_CONNECTION)
    if not re.fullmatch(CONNECTION_NAME_PATTERN, value):
        hint = "use the name of a connection under 'connections:' in retention.yaml, like acme_crm"
        raise invalid("connection_name", "is not a connection name", hint)
    return value


ConnectionRef = Annotated[
    str,
    AfterValidator(_connection_name),
    WithJsonSchema({"type": "string", "pattern": CONNECTION_NAME_PATTERN}),
]
"""The name of a connection defined in retention.yaml (never a URL)."""


def _bech32_checksum_ok(text: str) -> bool:
    hrp, _, data = text.partition("1")
    check = 1
    values = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    for value in values + [_BECH32.index(c) for c in data]:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ value
        for i, generator in enumerate(_BECH32_GEN):
            check ^= generator if (top >> i) & 1 else 0
    return check == 1


def _recipient(value: str) -> str:
    if value.upper().startswith("AGE-SECRET-KEY-"):
        hint = "put only the public recipient (age1...) here, and treat this key as disclosed"
        raise invalid("secret_key", "is a secret key, not a recipient", hint)
    if not _RECIPIENT.fullmatch(value) or not _bech32_checksum_ok(value):
        hint = "paste the client's public key as printed by age-keygen -y (age1 + 58 characters)"
        raise invalid("recipient", "is not an age X25519 recipient", hint)
    return value


Recipient = Annotated[
    str,
    AfterValidator(_recipient),
    WithJsonSchema({"type": "string", "pattern": "^age1[a-z0-9]{58}$"}),
]
"""An age X25519 recipient (bech32, ``age1...``), checksum verified."""


def _destination(value: str) -> str:
    if looks_secret(value) or not _DESTINATION.fullmatch(value):
        hint = "use file:///folder, file://folder-in-home or s3://bucket/prefix"
        raise invalid("destination", "is not a certificate destination", hint)
    return value


Destination = Annotated[
    str,
    AfterValidator(_destination),
    WithJsonSchema({"type": "string", "pattern": "^(file|s3)://"}),
]
"""Where destruction certificates are delivered: a folder or an S3 prefix."""
