"""The benchmarks' ListObjectVersions for moto lists exactly what moto's own one lists.

``benchmarks/moto_listing.py`` replaces moto's ``S3Backend.list_object_versions`` in the
benchmark's moto server (moto's own one costs O(bucket) per page). Its numbers are only
worth something if both return the same: same versions and delete markers in the same
order, same ``is_latest``, same common prefixes and next markers, for every prefix,
delimiter, page size and marker, moto's quirks included. Both are called here on one
in-process moto bucket, page after page with the markers moto's original returns.
"""

from __future__ import annotations

import gc
import importlib.util
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.s3.models import FakeDeleteMarker, FakeKey, S3Backend, s3_backends

BUCKET = "listing"
BODY = b"body"


def _load_listing() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "moto_listing.py"
    spec = importlib.util.spec_from_file_location("moto_listing_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


listing = _load_listing()


@pytest.fixture(scope="module")
def backend() -> Iterator[S3Backend]:
    """A versioned bucket: several versions, markers (on markers too), nested prefixes."""
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="plain", Body=BODY)  # version "null"
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})

        # Per key, in order: "v" puts a version, "m" deletes the key (a marker on top).
        history = [
            ("a", "vv"), ("a/b", "vm"), ("a/b/c", "vvv"),
            ("a/b/d", "vmv"),  # a version on top of a marker
            ("a-c", "v"),
            ("ab", "vmm"),  # a marker on a marker
            ("b/x/1", "vv"), ("b/x/2", "v"), ("b/y", "vm"), ("c", "v"), ("plain", "vm"),
            ("d/e/f/g", "v"),
        ]  # fmt: skip
        for key, steps in history:
            for step in steps:
                if step == "v":
                    s3.put_object(Bucket=BUCKET, Key=key, Body=BODY)
                else:
                    s3.delete_object(Bucket=BUCKET, Key=key)
        versions = s3.list_object_versions(Bucket=BUCKET, Prefix="b/y")["Versions"]
        [only] = [v["VersionId"] for v in versions if v["Key"] == "b/y"]
        s3.delete_object(Bucket=BUCKET, Key="b/y", VersionId=only)  # only its marker is left
        backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        # Two versions in the same instant: moto's stable sort keeps the stored order.
        same = datetime(2030, 1, 1)  # moto stores naive UTC
        for version in backend.get_bucket(BUCKET).keys.getlist("a"):
            version.last_modified = same
        yield backend


def _row(item: Any) -> tuple[Any, ...]:
    """Everything the ListObjectVersions response reads from a listed version or marker."""
    common = (item.name, item.version_id, item.is_latest)
    if isinstance(item, FakeKey):
        return (*common, item.last_modified, item.etag, item.size, item.storage_class)
    assert isinstance(item, FakeDeleteMarker)
    return (*common, item.last_modified)


def _view(result: tuple[Any, ...]) -> tuple[Any, ...]:
    versions, prefixes, markers, next_key, next_version = result
    assert all(isinstance(v, FakeKey) for v in versions)
    assert all(isinstance(m, FakeDeleteMarker) for m in markers)
    return [_row(v) for v in versions], prefixes, [_row(m) for m in markers], next_key, next_version


def _both(backend: S3Backend, **kwargs: Any) -> tuple[Any, ...]:
    """The original's answer, after checking the replacement gives the same."""
    expected = listing.ORIGINAL(backend, BUCKET, **kwargs)
    assert _view(listing.list_object_versions(backend, BUCKET, **kwargs)) == _view(expected), kwargs
    return tuple(expected)


def _total(backend: S3Backend) -> int:
    return sum(len(versions) for _, versions in backend.get_bucket(BUCKET).keys.lists())


PREFIXES = ["", "a", "a/", "a/b/", "b/", "plain", "nope"]
DELIMITERS = [None, "/", "b/", "-"]


@pytest.mark.parametrize("delimiter", DELIMITERS)
def test_every_page_of_every_listing_matches(backend: S3Backend, delimiter: str | None) -> None:
    total = _total(backend)
    for prefix in PREFIXES:
        # Every page boundary falls everywhere with 1..7; the last three end at the bucket's end.
        for max_keys in [None, *range(1, 8), total - 1, total, total + 1]:
            key_marker = version_marker = None
            for _ in range(2 * total + 2):  # moto's paging always moves on; bound it anyway
                result = _both(
                    backend,
                    prefix=prefix,
                    delimiter=delimiter,
                    max_keys=max_keys,
                    key_marker=key_marker,
                    version_id_marker=version_marker,
                )
                if result[3] is None:
                    break
                key_marker, version_marker = result[3], result[4]


def test_every_marker_matches(backend: S3Backend) -> None:
    keys = backend.get_bucket(BUCKET).keys
    names = sorted(keys)
    markers: list[tuple[str | None, str | None]] = [(None, None), (None, "null"), ("", None)]
    for name in [*names, "a/", "b/", "b/x/", "a/b/c0", "0", "zz"]:
        ids = [v.version_id for v in keys.getlist(name) or []]
        markers += [(name, vid) for vid in [None, "no-such-version", *ids]]
    markers += [("a", ""), ("a/", ""), ("plain", "null"), ("c", "null")]
    for key_marker, version_marker in markers:
        for prefix in ["", "b/"]:
            for delimiter in [None, "/"]:
                for max_keys in [None, 0, 2] if key_marker is None else [None, 2]:
                    _both(
                        backend,
                        prefix=prefix,
                        delimiter=delimiter,
                        max_keys=max_keys,
                        key_marker=key_marker,
                        version_id_marker=version_marker,
                    )


def test_moto_quirks_are_kept(backend: S3Backend) -> None:
    """The cases where moto differs from S3 are the ones a rewrite would "fix"; it must not."""
    first = listing.list_object_versions(backend, BUCKET, max_keys=2)
    assert [v.name for v in first[0]] == ["a", "a"]
    assert [v.is_latest for v in first[0]] == [True, False]
    # A key marker alone also skips the first version at or after it.
    after = listing.list_object_versions(backend, BUCKET, key_marker="b/x/1")
    assert [(v.name, v.is_latest) for v in after[0]][:2] == [("b/x/1", False), ("b/x/2", True)]
    # A version id marker that does not match returns nothing at all.
    assert listing.list_object_versions(
        backend, BUCKET, key_marker="a", version_id_marker="no-such-version"
    ) == ([], [], [], None, None)


def test_delete_markers_and_latest_flags_are_listed(backend: S3Backend) -> None:
    versions, _, markers, next_key, _ = listing.list_object_versions(backend, BUCKET)
    assert next_key is None
    assert len(versions) + len(markers) == _total(backend)
    assert sorted((m.name, m.is_latest) for m in markers) == [
        ("a/b", True), ("a/b/d", False), ("ab", False), ("ab", True), ("b/y", True),
        ("plain", True),
    ]  # fmt: skip
    assert [v.name for v in versions if v.is_latest] == [
        "a", "a-c", "a/b/c", "a/b/d", "b/x/1", "b/x/2", "c", "d/e/f/g",
    ]  # fmt: skip


def _tracked() -> tuple[int, int]:
    """How many keys and markers moto keeps in its model registry (never released)."""
    keys: list[Any] = FakeKey.instances_tracked  # type: ignore[attr-defined]
    markers: list[Any] = FakeDeleteMarker.instances_tracked  # type: ignore[attr-defined]
    return len(keys), len(markers)


def test_listing_leaves_the_stored_objects_alone(backend: S3Backend) -> None:
    """No copy is tracked by moto for good, none closes a stored body when collected."""
    tracked = _tracked()
    for _ in range(3):
        result = listing.list_object_versions(backend, BUCKET)
        assert result[0] and result[2]
        del result
    gc.collect()
    assert _tracked() == tracked
    stored = [v for _, versions in backend.get_bucket(BUCKET).keys.lists() for v in versions]
    assert not any(hasattr(v, "is_latest") for v in stored)
    assert all(v.value == BODY for v in stored if isinstance(v, FakeKey))


def test_a_changed_key_set_is_sorted_again(backend: S3Backend) -> None:
    keys: dict[str, Any] = {"b": 1, "a": 2}
    assert listing.sorted_names(keys) == ["a", "b"]
    del keys["a"]
    keys["c"] = 3
    assert listing.sorted_names(keys) == ["b", "c"]


def test_install_replaces_the_backend_method(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(S3Backend, "list_object_versions", listing.ORIGINAL)
    listing.install()
    assert S3Backend.list_object_versions is listing.list_object_versions
