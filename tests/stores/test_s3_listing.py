"""Listings read their next page ahead, and that never changes what they return.

On moto's HTTP server with pages of four entries: the versions and delete markers an
``S3Store`` lists (keys with XML-escaped characters included) are those a plain
paginated ListObjectVersions returns; a right guess costs no extra request and comes
from the read-ahead thread; a wrong guess costs requests, never entries; a slow caller
is never more than ``AHEAD`` pages behind the requests; a caller that stops early leaves
no thread behind.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from tests.stores.conftest import FAST_RETRY, make_bucket
from tests.support.moto import MotoEndpoint

from retention_pipeline.adapters import s3_listing
from retention_pipeline.adapters.s3_listing import AHEAD, list_pages, raw_fields
from retention_pipeline.adapters.s3_store import S3Store, s3_client

PAGE = 4
MARKERS = ("KeyMarker", "VersionIdMarker")
# escaped in the XML answers: the raw guess must unescape them as botocore does
KEYS = [f"k-{index:02d}" for index in range(14)] + [
    "a&b",
    "less<than",
    "quote\"'s",
    "caf\u00e9 cr\u00e8me",
    "x>y&amp;z",
]


@pytest.fixture
def listed(moto: MotoEndpoint) -> tuple[S3Store, list[tuple[str, str, bool]], int]:
    """A store on a versioned bucket holding KEYS (some overwritten, some deleted).

    Returns the store, what a plain paginated listing of the bucket returns (key,
    version id, is a delete marker), and how many pages that listing took.
    """
    bucket = make_bucket(moto, locked=False)
    client = s3_client(moto.url, moto.region)
    for index, key in enumerate(KEYS):
        for _ in range(2 if index % 3 == 0 else 1):
            client.put_object(Bucket=bucket, Key=f"p/{key}", Body=b"x")
        if index % 4 == 0:
            client.delete_object(Bucket=bucket, Key=f"p/{key}")
    reference, pages = [], 0
    plain = moto.client("s3")
    for page in plain.get_paginator("list_object_versions").paginate(
        Bucket=bucket, Prefix="p/", PaginationConfig={"PageSize": PAGE}
    ):
        pages += 1
        entries = [(v, False) for v in page.get("Versions", [])]
        entries += [(m, True) for m in page.get("DeleteMarkers", [])]
        entries.sort(key=lambda e: (e[0]["Key"], -e[0]["LastModified"].timestamp()))
        reference += [(e["Key"][2:], e["VersionId"], marker) for e, marker in entries]
    store = S3Store(
        "s3-versioned", bucket, "p", moto.region, client=client, retry=FAST_RETRY,
        list_page_size=PAGE,
    )  # fmt: skip
    return store, reference, pages


def _sent(store: S3Store) -> list[str]:
    """Names of the threads that sent each ListObjectVersions request, as they go."""
    threads: list[str] = []

    def on_send(**_: Any) -> None:
        threads.append(threading.current_thread().name)

    store.client.meta.events.register("before-send.s3.ListObjectVersions", on_send)
    return threads


def _versions(store: S3Store) -> list[tuple[str, str, bool]]:
    return [(v.key, v.version_id, v.is_delete_marker) for v in store.list_versions()]


def test_a_listing_read_ahead_returns_every_entry_with_one_request_a_page(
    listed: tuple[S3Store, list[tuple[str, str, bool]], int],
) -> None:
    store, reference, pages = listed
    assert pages > 4  # enough pages for the read-ahead to matter
    threads = _sent(store)
    assert _versions(store) == reference
    assert len(threads) == pages  # every guess was right: no request was wasted
    assert sum(name.startswith("s3-list") for name in threads) >= pages - 2


def test_a_wrong_guess_costs_requests_never_entries(
    listed: tuple[S3Store, list[tuple[str, str, bool]], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, reference, pages = listed

    def misread(body: bytes) -> dict[str, str]:
        fields = raw_fields(body)
        if "NextKeyMarker" in fields:
            fields["NextKeyMarker"] += "-misread"
        return fields

    monkeypatch.setattr(s3_listing, "raw_fields", misread)
    threads = _sent(store)
    assert _versions(store) == reference
    assert len(threads) > pages


def test_a_slow_caller_is_never_more_than_ahead_pages_behind(
    listed: tuple[S3Store, list[tuple[str, str, bool]], int],
) -> None:
    store, _, pages = listed
    threads = _sent(store)
    read = 0
    for read, _page in enumerate(list_pages(store, "list_object_versions", "", MARKERS), 1):
        time.sleep(0.2)  # the read-ahead has long answered by now
        assert len(threads) <= read + AHEAD
    assert read == pages


def test_a_caller_that_stops_early_leaves_no_thread_behind(
    listed: tuple[S3Store, list[tuple[str, str, bool]], int],
) -> None:
    store, _, _ = listed
    listing = store.list_versions()
    next(listing)
    time.sleep(0.2)  # a page was requested ahead meanwhile
    listing.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("s3-list")]


def test_raw_fields_reads_escaped_markers_as_botocore_does() -> None:
    body = (
        b"<ListVersionsResult><IsTruncated>true</IsTruncated><KeyMarker>k</KeyMarker>"
        b"<NextKeyMarker>a&amp;b&lt;c&#13;&quot;</NextKeyMarker>"
        b"<NextVersionIdMarker>v1</NextVersionIdMarker><Version><Key>z</Key></Version>"
        b"</ListVersionsResult>"
    )
    assert raw_fields(body) == {
        "IsTruncated": "true",
        "NextKeyMarker": 'a&b<c\r"',
        "NextVersionIdMarker": "v1",
    }
