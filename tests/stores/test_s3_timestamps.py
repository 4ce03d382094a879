"""S3 timestamps are read without dateutil, to the same instants botocore reads."""

from __future__ import annotations

from datetime import UTC, datetime

import botocore.utils
import pytest

from retention_pipeline.adapters.s3_store import parse_timestamp


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-26T16:04:00.000Z",
        "2026-11-26T16:04:00Z",
        "1999-12-31T23:59:59.123456Z",
        "Thu, 26 Nov 2026 16:04:00 GMT",  # an HTTP date, as in Last-Modified headers
        "1764173040",  # epoch seconds
    ],
)
def test_every_form_reads_as_the_instant_botocore_reads(value: str) -> None:
    ours = parse_timestamp(value)
    theirs = botocore.utils.parse_timestamp(value)
    assert ours == theirs
    assert ours.utcoffset() is not None and ours.utcoffset() == theirs.utcoffset()


def test_the_fast_form_is_utc() -> None:
    assert parse_timestamp("2026-11-26T16:04:00.000Z") == datetime(2026, 11, 26, 16, 4, tzinfo=UTC)
