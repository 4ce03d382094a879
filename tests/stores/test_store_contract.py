"""The object store contract (``ports/store.py``), checked against every adapter.

Tests branch on ``store.capabilities``, never on the adapter class: a new adapter that
passes this file is a store the services can use.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from tests.stores.conftest import TEST_PART_SIZE, StoreHandle, run_script

from retention_pipeline.ports.store import (
    MAX_DELETE_BATCH,
    InvalidKeyError,
    ObjectLock,
    ObjectLockedError,
    ObjectNotFoundError,
    ObjectStore,
    StoreError,
)

MiB = 1024 * 1024


def body(size: int) -> bytes:
    return os.urandom(size)


def read_all(store: ObjectStore, key: str, version_id: str | None = None) -> bytes:
    return b"".join(store.get(key, version_id))


def test_every_handle_is_an_object_store(handle: StoreHandle) -> None:
    assert isinstance(handle.store, ObjectStore)


@pytest.mark.parametrize(
    "size", [0, 1000, 4 * TEST_PART_SIZE + 123], ids=["empty", "small", "multipart"]
)
def test_put_get_head_round_trip_with_sha256(handle: StoreHandle, size: int) -> None:
    store, data = handle.store, body(size)
    expected = hashlib.sha256(data).hexdigest()

    stored = store.put("client-a/rp-1.age", iter([data[i : i + MiB] for i in range(0, size, MiB)]))

    assert (stored.sha256, stored.size) == (expected, size)
    head = store.head("client-a/rp-1.age")
    assert (head.sha256, head.size, head.version_id) == (expected, size, stored.version_id)
    assert read_all(store, "client-a/rp-1.age") == data
    assert read_all(store, "client-a/rp-1.age", stored.version_id) == data


def test_put_accepts_a_file_object(handle: StoreHandle) -> None:
    data = body(3 * MiB + 7)
    stored = handle.store.put("client-a/file.age", io.BytesIO(data), size_hint=len(data))
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert handle.store.head("client-a/file.age").sha256 == stored.sha256


def test_missing_objects_raise_not_found(handle: StoreHandle) -> None:
    with pytest.raises(ObjectNotFoundError):
        handle.store.head("client-a/missing")
    with pytest.raises(ObjectNotFoundError):
        handle.store.get("client-a/missing")


def test_list_versions_sees_overwrites_and_delete_markers(handle: StoreHandle) -> None:
    store = handle.store
    first = store.put("client-a/rp.age", [b"one"])
    second = store.put("client-a/rp.age", [b"two"])
    store.put("client-b/rp.age", [b"other client"])

    listed = list(store.list_versions("client-a/"))
    if store.capabilities.versioning:
        assert [v.version_id for v in listed] == [second.version_id, first.version_id]
        assert read_all(store, "client-a/rp.age", first.version_id) == b"one"
    else:
        assert [v.version_id for v in listed] == [second.version_id]
    assert listed[0].is_latest and not listed[0].is_delete_marker
    assert {v.key for v in listed} == {"client-a/rp.age"}

    handle.plain_delete("client-a/rp.age")
    after = list(store.list_versions("client-a/"))
    if store.capabilities.versioning:
        markers = [v for v in after if v.is_delete_marker]
        assert len(after) == 3 and len(markers) == 1 and markers[0].is_latest
    else:
        assert after == []
    with pytest.raises(ObjectNotFoundError):
        store.head("client-a/rp.age")


def test_list_versions_is_in_key_order_and_honours_prefix(handle: StoreHandle) -> None:
    for key in ["c/2", "a/1", "c/10", "b/x/1", "c/1"]:
        handle.store.put(key, [key.encode()])
    assert [v.key for v in handle.store.list_versions("c/")] == ["c/1", "c/10", "c/2"]
    assert [v.key for v in handle.store.list_versions()] == ["a/1", "b/x/1", "c/1", "c/10", "c/2"]
    assert list(handle.store.list_versions("nothing/")) == []


def test_delete_versions_batches_and_leaves_nothing(handle: StoreHandle) -> None:
    store, count = handle.store, MAX_DELETE_BATCH + 1
    for i in range(count - 1):
        store.put(f"client-a/{i:05d}", [b"x"])
    store.put("client-a/00000", [b"overwritten"])
    handle.plain_delete("client-a/00001")
    requests: list[str] = []
    if handle.client is not None:
        handle.client.meta.events.register(
            "before-call.s3.DeleteObjects", lambda **_: requests.append("DeleteObjects")
        )

    listed = [(v.key, v.version_id) for v in store.list_versions("client-a/")]
    deleted = store.delete_versions(iter(listed))

    assert deleted == listed  # in order, whichever batch finished first
    assert list(store.list_versions()) == []
    if handle.client is not None:
        assert len(requests) == math.ceil(len(listed) / MAX_DELETE_BATCH)


def test_deleting_what_is_gone_succeeds(handle: StoreHandle) -> None:
    store = handle.store
    stored = store.put("client-a/rp.age", [b"data"])
    store.delete_version("client-a/rp.age", stored.version_id)
    store.delete_version("client-a/rp.age", stored.version_id)
    pair = ("client-a/rp.age", stored.version_id)
    assert store.delete_versions([pair, pair]) == [pair, pair]
    assert store.delete_versions([]) == []
    assert list(store.list_versions()) == []
    with pytest.raises(ObjectNotFoundError):
        store.head("client-a/rp.age")


def failing_stream(good_bytes: int) -> Iterator[bytes]:
    """Yields ``good_bytes`` bytes, then fails as a dump process dying would."""
    for _ in range(good_bytes // MiB):
        yield b"\x5a" * MiB
    raise RuntimeError("source stream broke")


def test_a_failed_put_leaves_no_visible_object(handle: StoreHandle) -> None:
    store = handle.store
    with pytest.raises(RuntimeError, match="source stream broke"):
        store.put("client-a/broken.age", failing_stream(2 * TEST_PART_SIZE + MiB))
    assert list(store.list_versions()) == []
    with pytest.raises(ObjectNotFoundError):
        store.head("client-a/broken.age")
    store.abort_unfinished_uploads()
    assert list(store.list_unfinished_uploads()) == []


CRASHING_PUT = """
import json, os, sys
from retention_pipeline.adapters.stores import open_store
args = json.load(sys.stdin)
store = open_store(**args)
def stream():
    for _ in range(9):
        yield b"\\x5a" * (1024 * 1024)
    print(json.dumps({"crashing": True}), flush=True)
    os._exit(3)
store.put("client-a/crashed.age", stream())
print(json.dumps({"crashing": False}))
"""


def test_a_killed_put_is_found_and_aborted(handle: StoreHandle) -> None:
    store = handle.store
    outcome = run_script(CRASHING_PUT, handle.spec)
    assert outcome == {"crashing": True, "returncode": 3}

    unfinished = list(store.list_unfinished_uploads("client-a/"))
    assert [u.key for u in unfinished] == ["client-a/crashed.age"]
    assert list(store.list_unfinished_uploads("client-b/")) == []
    assert list(store.list_versions()) == []
    assert store.abort_unfinished_uploads("client-a/") == 1
    assert list(store.list_unfinished_uploads()) == []
    assert store.abort_unfinished_uploads() == 0


@pytest.mark.parametrize(
    "key", ["../x", "/etc/passwd", "a\x00b", "a//b", "a\\b", "./a", "a/..", ""]
)
def test_unsafe_keys_are_refused_before_any_io(handle: StoreHandle, key: str) -> None:
    store = handle.store
    with pytest.raises(InvalidKeyError):
        store.put(key, [b"x"])
    with pytest.raises(InvalidKeyError):
        store.head(key)
    with pytest.raises(InvalidKeyError):
        store.get(key)
    with pytest.raises(InvalidKeyError):
        store.delete_version(key, "null")
    with pytest.raises(InvalidKeyError):
        store.delete_versions([("fine", "null"), (key, "null")])
    assert list(store.list_versions()) == []


def test_storage_class_is_kept(handle: StoreHandle) -> None:
    if not handle.store.capabilities.storage_classes:
        pytest.skip("this store has no storage classes")
    small = handle.store.put("client-a/cold", [b"x"], storage_class="STANDARD_IA")
    big = handle.store.put(
        "client-a/cold-big", [body(TEST_PART_SIZE + 1)], storage_class="STANDARD_IA"
    )
    assert handle.store.head("client-a/cold").storage_class == "STANDARD_IA"
    assert handle.store.head("client-a/cold-big").storage_class == "STANDARD_IA"
    assert small.storage_class == big.storage_class == "STANDARD_IA"


def in_one_day() -> datetime:
    return (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)


def test_stores_without_object_lock_refuse_locks_by_name(handle: StoreHandle) -> None:
    store = handle.store
    if store.capabilities.object_lock:
        pytest.skip("this store has object lock")
    lock = ObjectLock("compliance", in_one_day())
    stored = store.put("client-a/rp", [b"x"])
    for attempt in (
        lambda: store.set_lock("client-a/rp", stored.version_id, lock),
        lambda: store.set_legal_hold("client-a/rp", stored.version_id, True),
        lambda: store.put("client-a/rp2", [b"x"], lock=lock),
    ):
        with pytest.raises(StoreError, match=f"store '{store.name}'.*object.lock"):
            attempt()
    assert [v.key for v in store.list_versions()] == ["client-a/rp"]


def test_a_compliance_locked_version_cannot_be_deleted(handle: StoreHandle) -> None:
    # moto 5.2 itself refuses DeleteObject(s) on a locked version (AccessDenied), as S3
    # does; the adapter reads the retention to report it as ObjectLockedError.
    store = handle.store
    if not store.capabilities.object_lock:
        pytest.skip("this store has no object lock")
    until = in_one_day()
    locked = store.put("client-a/locked", [b"kept"], lock=ObjectLock("compliance", until))
    free = store.put("client-a/free", [b"gone"])

    head = store.head("client-a/locked", locked.version_id)
    assert head.lock == ObjectLock("compliance", until)
    with pytest.raises(ObjectLockedError, match="client-a/locked"):
        store.delete_version("client-a/locked", locked.version_id)
    with pytest.raises(ObjectLockedError) as refused:
        store.delete_versions(
            [("client-a/locked", locked.version_id), ("client-a/free", free.version_id)]
        )
    assert getattr(refused.value, "deleted", None) == [("client-a/free", free.version_id)]
    assert [v.key for v in store.list_versions()] == ["client-a/locked"]
    with pytest.raises(ObjectLockedError, match="cannot be shortened"):
        store.set_lock(
            "client-a/locked",
            locked.version_id,
            ObjectLock("compliance", until - timedelta(hours=1)),
        )
    store.set_lock(
        "client-a/locked", locked.version_id, ObjectLock("compliance", until + timedelta(days=1))
    )
    assert store.head("client-a/locked").lock == ObjectLock("compliance", until + timedelta(days=1))


def test_legal_hold_blocks_deletion_until_lifted(handle: StoreHandle) -> None:
    store = handle.store
    if not store.capabilities.object_lock:
        pytest.skip("this store has no object lock")
    stored = store.put("client-a/held", [body(TEST_PART_SIZE + 5)])
    store.set_legal_hold("client-a/held", stored.version_id, True)
    assert store.head("client-a/held").legal_hold
    with pytest.raises(ObjectLockedError):
        store.delete_version("client-a/held", stored.version_id)

    store.set_legal_hold("client-a/held", stored.version_id, False)
    assert not store.head("client-a/held").legal_hold
    store.delete_version("client-a/held", stored.version_id)
    assert list(store.list_versions()) == []
