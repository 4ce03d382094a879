"""moto's HTTP server with a ListObjectVersions that costs what a page costs, not the bucket.

Run: ``.venv/bin/python benchmarks/moto_listing.py -H 127.0.0.1 -p PORT`` (the command line
of ``python -m moto.server``); ``measurement.moto_process(..., patched_listing=True)``
starts it that way.

Why: moto's ``S3Backend.list_object_versions`` (moto 5.x) deep-copies *every* version in
the bucket and sorts them all on *every* page request, then walks to the page it was
asked for. A listing of N versions in 1000-version pages therefore costs O(N^2) on moto,
and more: each deep copy goes through ``BaseModel.__new__``, which appends it to the
class's ``instances_tracked`` list for good, so every page also leaks a copy of the whole
bucket (10,000 objects: 19 s of listing; 100,000 objects: 20 minutes, 14.7 GB, dropped
connection). That is moto's cost model, not S3's: S3 answers a page in about constant
time. In the erasure benchmark this cost dominated both contenders and hid what is
measured there (how many delete requests, and how long they take).

The replacement below returns the same tuple as moto's original (versions, common
prefixes, delete markers, next key marker, next version id marker), with the same
``is_latest`` flags, order and pagination, including moto's quirks (a ``key_marker``
without ``version_id_marker`` also skips the first version at or after it; a common prefix
is added before the ``max_keys`` check; a ``version_id_marker`` that does not match returns
nothing), which ``tests/test_moto_listing.py`` checks against the original. It differs in
cost only:

* the key *names* are sorted once and the sorted list is reused until the bucket's key
  set changes (checked each request against the dict's key order: one pointer comparison
  per key, about 2 ms at 100,000 keys);
* ``bisect`` jumps to the key marker and to the prefix, the walk stops at the end of the
  prefix or of the page, and only the versions of the names it walks are sorted;
* only the versions returned are copied, shallowly: the copy shares the stored object's
  attributes (nothing here writes to them) and carries its own ``is_latest``. The copy
  is made without ``copy.copy``, which for a ``FakeKey`` would also go through
  ``__getstate__``/``__setstate__`` (rewriting the body into a new temporary file) and
  ``BaseModel.__new__`` (the leak above); and a copied ``FakeKey`` is of a subclass
  whose ``__del__`` does nothing, since ``FakeKey.__del__`` closes the body buffer the
  copy shares with the stored object.

Both contenders of a benchmark run against the same patched server, so the patch favours
neither; it only removes a cost real S3 does not have.
"""

from __future__ import annotations

import sys
from bisect import bisect_left
from typing import Any

from moto.core.utils import unix_time_millis
from moto.s3.models import FakeKey, S3Backend

ORIGINAL = S3Backend.list_object_versions

ListingResult = tuple[list[Any], list[str], list[Any], str | None, str | None]


def _keep_buffer(self: Any) -> None:
    """A listed copy shares the stored key's buffer: it must not close it when collected."""


# Named "FakeKey" so that moto's model registry (first class of a name wins) is unchanged.
_TRACKED_MODEL: Any = type(FakeKey)  # moto's InstanceTrackerMeta
_ListedKey: type = _TRACKED_MODEL(
    "FakeKey",
    (FakeKey,),
    {"__module__": FakeKey.__module__, "__qualname__": "ListedFakeKey", "__del__": _keep_buffer},
)

# id(bucket.keys) -> (its key names in dict order when sorted, the same names sorted)
_SORTED_NAMES: dict[int, tuple[list[str], list[str]]] = {}


def sorted_names(keys: dict[str, Any]) -> list[str]:
    """The bucket's key names, sorted; re-sorted only when its key set changed."""
    order = list(keys)
    cached = _SORTED_NAMES.get(id(keys))
    if cached is not None and cached[0] == order:
        return cached[1]
    names = sorted(order)
    _SORTED_NAMES[id(keys)] = (order, names)
    return names


def _versions(keys: Any, name: str) -> list[Any]:
    """One name's versions, newest first (ties in stored order), as moto's global sort."""
    return sorted(keys.getlist(name) or [], key=lambda v: -unix_time_millis(v.last_modified))


def _listed(version: Any, is_latest: bool) -> Any:
    """A shallow copy of a stored version, with its own ``is_latest``."""
    cls = _ListedKey if isinstance(version, FakeKey) else type(version)
    item: Any = object.__new__(cls)
    item.__dict__.update(version.__dict__)
    item.is_latest = is_latest
    return item


def _start(
    keys: Any, names: list[str], key_marker: str | None, version_id_marker: str | None
) -> tuple[int, int] | None:
    """(name index, version index) where moto's walk starts returning; None: nothing."""
    if key_marker is None:
        return 0, 0
    index = bisect_left(names, key_marker)
    if not version_id_marker:
        return index, 1  # moto skips the first version at or after the marker too
    if index == len(names) or names[index] != key_marker:
        return None
    for position, version in enumerate(_versions(keys, key_marker)):
        if version.version_id == version_id_marker:
            return index, position + 1
    return None


def list_object_versions(
    self: S3Backend,
    bucket_name: str,
    delimiter: str | None = None,
    key_marker: str | None = None,
    max_keys: int | None = 1000,
    prefix: str = "",
    version_id_marker: str | None = None,
) -> ListingResult:
    """moto's ``S3Backend.list_object_versions``, walking only as far as the page needs."""
    bucket = self.get_bucket(bucket_name)
    common_prefixes: set[str] = set()
    requested_versions: list[Any] = []
    delete_markers: list[Any] = []
    next_key_marker: str | None = None
    next_version_id_marker: str | None = None
    last_item_added: Any = None

    names = sorted_names(bucket.keys)
    start = _start(bucket.keys, names, key_marker, version_id_marker)
    if start is None:
        return [], [], [], None, None
    index, skip = start
    first_with_prefix = bisect_left(names, prefix)
    if index < first_with_prefix:
        index, skip = first_with_prefix, 0

    while index < len(names) and names[index].startswith(prefix):
        versions = _versions(bucket.keys, names[index])
        for position in range(skip, len(versions)):
            version = versions[position]
            name = version.name
            # From here on, the body of moto's loop, unchanged but for the copy.
            is_common_prefix = False
            if delimiter and delimiter in name[len(prefix) :]:
                end_of_delimiter = (
                    len(prefix) + name[len(prefix) :].index(delimiter) + len(delimiter)
                )
                prefix_including_delimiter = name[0:end_of_delimiter]
                if prefix_including_delimiter == key_marker:
                    continue
                common_prefixes.add(prefix_including_delimiter)
                name = prefix_including_delimiter
                is_common_prefix = True
            elif last_item_added:
                name = last_item_added.name

            if (
                max_keys is not None
                and len(requested_versions) + len(delete_markers) + len(common_prefixes) >= max_keys
            ):
                next_key_marker = name
                if is_common_prefix:
                    next_version_id_marker = None
                elif last_item_added is not None:
                    next_version_id_marker = last_item_added.version_id
                else:
                    next_version_id_marker = None
                return (
                    requested_versions,
                    sorted(common_prefixes),
                    delete_markers,
                    next_key_marker,
                    next_version_id_marker,
                )

            if not is_common_prefix:
                last_item_added = _listed(version, position == 0)
                if not isinstance(version, FakeKey):
                    delete_markers.append(last_item_added)
                else:
                    requested_versions.append(last_item_added)
        index, skip = index + 1, 0

    return (
        requested_versions,
        sorted(common_prefixes),
        delete_markers,
        next_key_marker,
        next_version_id_marker,
    )


def install() -> None:
    """Replace moto's ``list_object_versions`` in this process (idempotent)."""
    S3Backend.list_object_versions = list_object_versions  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> None:
    """Patch, then run moto's server with the same arguments as ``python -m moto.server``."""
    install()
    from moto.server import main as moto_server_main

    moto_server_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
