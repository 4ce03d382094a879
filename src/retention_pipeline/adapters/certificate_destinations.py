"""Where certificate bundles go: ``erasure.certificate_to`` destinations as object stores.

A destination is a folder (``file:///abs`` or ``file://relative``, relative to the
home) or an S3 prefix (``s3://bucket/prefix``). An S3 destination is reached like the
configured stores: through the endpoint and region of a configured S3 store of the same
bucket, else of the first configured S3 store (the same S3 service), else AWS itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from retention_pipeline.adapters.stores import open_store
from retention_pipeline.domain.settings import StoreSettings
from retention_pipeline.ports.store import ObjectStore

DESTINATION_STORE = "certificates"


def open_destination(url: str, stores: Mapping[str, StoreSettings], base_dir: Path) -> ObjectStore:
    """The store that writes into the destination ``url``."""
    parts = urlsplit(url)
    if parts.scheme != "s3":
        return open_store(DESTINATION_STORE, url, location=None, base_dir=base_dir)
    s3_stores = [spec for _, spec in sorted(stores.items()) if spec.url.startswith("s3://")]
    same_bucket = [spec for spec in s3_stores if urlsplit(spec.url).netloc == parts.netloc]
    model = next(iter(same_bucket or s3_stores), None)
    return open_store(
        DESTINATION_STORE,
        url,
        location=model.location if model else None,
        endpoint_url=model.endpoint_url if model else None,
        base_dir=base_dir,
    )
