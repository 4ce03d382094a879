"""Retries of the S3 store over real sockets: boto3 -> fault proxy -> moto.

What a user relies on: a flaky or throttling store costs time, not a failed backup;
a refusal (403) or a missing object (404) fails at once, without hammering the store;
a store that stays down fails with ``TransientStoreError`` after the configured attempts.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from tests.stores.conftest import TEST_PART_SIZE, make_bucket
from tests.stores.fault_proxy import FaultProxy
from tests.support.moto import MotoEndpoint

from retention_pipeline.adapters.retry import RetryPolicy
from retention_pipeline.adapters.s3_store import S3Store, s3_client
from retention_pipeline.ports.store import (
    ObjectNotFoundError,
    StorePermissionError,
    TransientStoreError,
)

ATTEMPTS = 3


@dataclass
class Proxied:
    store: S3Store
    proxy: FaultProxy
    bucket: str

    def path(self, key: str) -> str:
        """The request path pattern of ``key`` in this store (path-style addressing)."""
        return rf"^/{self.bucket}/crm/{re.escape(key)}(\?|$)"

    def exact(self, key: str) -> str:
        """The request path of ``key`` itself, without any sub-resource (?tagging...)."""
        return rf"^/{self.bucket}/crm/{re.escape(key)}$"


@pytest.fixture
def proxied(moto: MotoEndpoint) -> Iterator[Proxied]:
    """An S3Store whose every request goes through a fault proxy in front of moto."""
    bucket = make_bucket(moto, locked=False)
    with FaultProxy(moto.url) as proxy:
        client = s3_client(proxy.url, moto.region, connect_timeout=1.0, read_timeout=0.5)
        store = S3Store(
            "flaky",
            bucket,
            "crm",
            moto.region,
            client=client,
            retry=RetryPolicy(attempts=ATTEMPTS, base_delay=0.01, max_delay=0.02),
            part_size=TEST_PART_SIZE,
        )
        yield Proxied(store, proxy, bucket)


def test_503_answers_are_retried_until_the_put_succeeds(proxied: Proxied) -> None:
    proxied.proxy.spoil("PUT", proxied.path("rp.age"), times=ATTEMPTS - 1, status=503)
    stored = proxied.store.put("rp.age", [b"payload"])
    assert stored.sha256 == hashlib.sha256(b"payload").hexdigest()
    assert proxied.proxy.count("PUT", proxied.path("rp.age")) == ATTEMPTS


def test_each_upload_part_is_retried_on_its_own(proxied: Proxied) -> None:
    data = os.urandom(3 * TEST_PART_SIZE + 10)
    proxied.proxy.spoil("PUT", r"partNumber=2&", times=1, status=500)
    proxied.proxy.spoil("PUT", r"partNumber=3&", times=1, stall=True)

    stored = proxied.store.put("big.age", [data])

    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert b"".join(proxied.store.get("big.age")) == data
    assert proxied.proxy.count("PUT", r"partNumber=1&") == 1
    assert proxied.proxy.count("PUT", r"partNumber=2&") == 2
    assert proxied.proxy.count("PUT", r"partNumber=3&") == 2
    assert list(proxied.store.list_unfinished_uploads()) == []


def test_read_timeouts_are_retried(proxied: Proxied) -> None:
    proxied.store.put("rp.age", [b"payload"])
    proxied.proxy.spoil("GET", proxied.path("rp.age"), times=1, stall=True)
    proxied.proxy.spoil("HEAD", proxied.path("rp.age"), times=1, stall=True)

    assert b"".join(proxied.store.get("rp.age")) == b"payload"
    assert proxied.store.head("rp.age").size == len(b"payload")
    assert proxied.proxy.count("GET", proxied.exact("rp.age")) == 2
    assert proxied.proxy.count("HEAD", proxied.path("rp.age")) == 1 + 2  # put's read-back


def test_a_body_cut_midway_is_resumed_where_it_broke(proxied: Proxied) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    proxied.store.put("rp.age", [data])
    proxied.proxy.spoil("GET", proxied.path("rp.age"), times=1, truncate=True)

    assert b"".join(proxied.store.get("rp.age")) == data
    assert proxied.proxy.count("GET", proxied.path("rp.age")) == 2


def test_403_is_raised_after_exactly_one_request(proxied: Proxied) -> None:
    proxied.store.put("rp.age", [b"payload"])
    proxied.proxy.spoil("GET", proxied.path("rp.age"), times=5, status=403)

    with pytest.raises(StorePermissionError, match=r"'flaky'.*rp\.age.*AccessDenied"):
        proxied.store.get("rp.age")
    assert proxied.proxy.count("GET", proxied.path("rp.age")) == 1


def test_404_is_raised_after_exactly_one_request(proxied: Proxied) -> None:
    with pytest.raises(ObjectNotFoundError, match=r"missing\.age"):
        proxied.store.head("missing.age")
    assert proxied.proxy.count("HEAD", proxied.path("missing.age")) == 1


def test_a_store_that_stays_down_fails_after_the_configured_attempts(proxied: Proxied) -> None:
    proxied.proxy.spoil("HEAD", proxied.path("rp.age"), times=100, status=503)

    with pytest.raises(TransientStoreError, match=f"after {ATTEMPTS} attempts"):
        proxied.store.head("rp.age")
    assert proxied.proxy.count("HEAD", proxied.path("rp.age")) == ATTEMPTS


def test_a_multipart_put_that_cannot_finish_is_aborted(proxied: Proxied) -> None:
    proxied.proxy.spoil("PUT", r"partNumber=2&", times=100, status=503)

    with pytest.raises(TransientStoreError):
        proxied.store.put("big.age", [os.urandom(2 * TEST_PART_SIZE + 1)])
    assert proxied.proxy.count("PUT", r"partNumber=2&") == ATTEMPTS
    assert proxied.proxy.count("DELETE", r"uploadId=") == 1
    assert list(proxied.store.list_unfinished_uploads()) == []
    assert list(proxied.store.list_versions()) == []


def test_batch_deletes_are_retried(proxied: Proxied) -> None:
    stored = [proxied.store.put(f"rp-{i}.age", [b"x"]) for i in range(3)]
    proxied.proxy.spoil("POST", r"\?delete", times=1, status=503)

    pairs = [(s.key, s.version_id) for s in stored]
    assert sorted(proxied.store.delete_versions(pairs)) == sorted(pairs)
    assert proxied.proxy.count("POST", r"\?delete") == 2
    assert list(proxied.store.list_versions()) == []
