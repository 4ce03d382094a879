"""``open_store``: a store's URL in ``retention.yaml`` picks its adapter, or fails clearly."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.stores.conftest import unique_bucket
from tests.support.moto import MotoEndpoint

from retention_pipeline.adapters.folder_store import FolderStore
from retention_pipeline.adapters.s3_store import S3Store
from retention_pipeline.adapters.stores import open_store
from retention_pipeline.errors import ConfigError


def test_absolute_file_url_is_a_folder_store(tmp_path: Path) -> None:
    store = open_store("backups-eu", f"file://{tmp_path}/backups", location="eu-west-3")
    assert isinstance(store, FolderStore)
    assert store.root == tmp_path / "backups"
    assert (store.name, store.location) == ("backups-eu", "eu-west-3")
    assert not store.capabilities.versioning


def test_relative_file_url_is_taken_from_the_home_folder(tmp_home: Path) -> None:
    store = open_store("local", "file://stores/backups", location=None, base_dir=tmp_home)
    assert isinstance(store, FolderStore)
    assert store.root == tmp_home / "stores" / "backups"
    stored = store.put("client-a/rp", [b"bytes"])
    assert (tmp_home / "stores" / "backups" / "client-a" / "rp").read_bytes() == b"bytes"
    assert stored.size == 5


def test_relative_file_url_without_home_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"stores\.local\.url.*relative.*--home"):
        open_store("local", "file://stores/backups", location=None)


def test_s3_url_is_an_s3_store_under_its_prefix(moto: MotoEndpoint) -> None:
    client, bucket = moto.client("s3"), unique_bucket("config")
    client.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": moto.region}
    )
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    store = open_store(
        "archives",
        f"s3://{bucket}/prod/archives/",
        location=moto.region,
        endpoint_url=moto.url,
        storage_class="STANDARD_IA",
        object_lock=True,
    )
    assert isinstance(store, S3Store)
    assert store.capabilities.object_lock and store.capabilities.storage_classes
    store.put("client-a/rp", [b"x"])
    listed = client.list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in listed] == ["prod/archives/client-a/rp"]
    assert listed[0]["StorageClass"] == "STANDARD_IA"


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("ftp://host/x", "scheme 'ftp'"),
        ("/var/lib/backups", "no scheme"),
        ("gs://bucket/x", "scheme 'gs'"),
    ],
)
def test_other_urls_name_the_store_the_scheme_and_what_is_allowed(url: str, named: str) -> None:
    with pytest.raises(ConfigError) as refused:
        open_store("backups-eu", url, location=None)
    message = str(refused.value)
    assert "stores.backups-eu.url" in message and named in message
    assert "file://" in message and "s3://" in message


def test_bad_bucket_and_locked_folder_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Bad_Bucket.*not a valid S3 bucket name"):
        open_store("s", "s3://Bad_Bucket/x", location=None)
    with pytest.raises(ConfigError, match="object_lock"):
        open_store("f", f"file://{tmp_path}", location=None, object_lock=True)
