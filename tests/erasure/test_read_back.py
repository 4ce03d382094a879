"""The read-back check after an erasure: every deleted version must fail to read."""

from __future__ import annotations

from pathlib import Path

from retention_pipeline.adapters.folder_store import FolderStore
from retention_pipeline.domain.erasure import Entry
from retention_pipeline.services.erasure_scope import READ_CHECKS, StoreReach


def _reach(root: Path) -> tuple[StoreReach, FolderStore]:
    store = FolderStore("folder", root, "eu-west-3")
    return StoreReach(None, lambda _: store, ["folder"]), store  # type: ignore[arg-type]


def _entries(store: FolderStore, count: int) -> list[Entry]:
    out = []
    for n in range(count):
        key = f"client-a/recovery-points/rp-{n:03d}.age"
        stored = store.put(key, [b"sealed bytes"])
        out.append(Entry("folder", key, stored.version_id, stored.sha256, 12, False, True))
    return out


def test_versions_still_readable_are_named_in_order(tmp_path: Path) -> None:
    reach, store = _reach(tmp_path)
    entries = _entries(store, READ_CHECKS * 3)  # more than one round of parallel checks
    survivors = [entries[1], entries[20], entries[-1]]
    store.delete_versions([(e.key, e.version_id) for e in entries if e not in survivors])

    problems = reach.readable(entries)

    assert problems == [
        f"store 'folder': {e.key} (version {e.version_id}) is still readable" for e in survivors
    ]


def test_nothing_is_reported_once_every_version_is_gone(tmp_path: Path) -> None:
    reach, store = _reach(tmp_path)
    entries = _entries(store, 5)
    store.delete_versions([(e.key, e.version_id) for e in entries])
    marker = Entry("folder", "client-a/x", "m1", "0" * 64, 0, True, False)

    assert reach.readable([*entries, marker]) == []
