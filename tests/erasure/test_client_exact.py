"""One client's erasure or cleanup never touches another client's objects (issue 16, item 1).

Two lines of defence, each tested on its own: the configuration refuses stores whose
roots nest or coincide, and the erasure and cleanup scopes take a listed key as the
client's only when it has the exact shape of one of its objects, whatever the layout.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest
import yaml

from retention_pipeline.domain.object_keys import belongs_to
from retention_pipeline.domain.settings import overlapping_stores, store_root
from tests.erasure.conftest import CLIENT, ErasureHome
from tests.support.home import CliHome, init_home, write_settings
from tests.support.moto import MotoEndpoint

# What other clients' objects look like through the client's prefix, when another
# store's root lies at ``backups/<client>`` or deeper, plus neighbours of the prefix.
FOREIGN = [
    f"{CLIENT}/victim/recovery-points/rp-20260101T000000Z-0badc0de.tar.zst.age",
    f"{CLIENT}/victim/archive/rp-20260101T000000Z-0badc0de.tar.zst.age",
    f"{CLIENT}/recovery-points/victim/recovery-points/rp-1.tar.zst.age",
    f"{CLIENT}/archive/victim/archive/rp-1.tar.zst.age",
    f"{CLIENT}-2/recovery-points/rp-20260101T000000Z-00000002.tar.zst.age",
    f"{CLIENT}x/recovery-points/rp-20260101T000000Z-00000003.tar.zst.age",
]


def _keys(home: ErasureHome) -> set[str]:
    raw = home.raw_s3()
    listed = raw.list_object_versions(Bucket=home.buckets["s3"], Prefix="backups/")
    return {v["Key"].removeprefix("backups/") for v in listed.get("Versions", [])}


def _plant(home: ErasureHome) -> None:
    raw = home.raw_s3()
    for key in FOREIGN:
        raw.put_object(Bucket=home.buckets["s3"], Key=f"backups/{key}", Body=b"another client")
    raw.create_multipart_upload(Bucket=home.buckets["s3"], Key=f"backups/{FOREIGN[0]}.upload")


def _uploads(home: ErasureHome) -> set[str]:
    raw = home.raw_s3()
    listed = raw.list_multipart_uploads(Bucket=home.buckets["s3"], Prefix="backups/")
    return {u["Key"].removeprefix("backups/") for u in listed.get("Uploads", [])}


def test_erasure_deletes_the_clients_objects_and_leaves_every_other_one(
    home: ErasureHome,
) -> None:
    _plant(home)

    run = home.erase()

    assert run.rc == 0, run.out + run.err
    left = _keys(home)
    assert set(FOREIGN) <= left  # every other client's object is still there
    assert not {k for k in left if k.startswith(f"{CLIENT}/recovery-points/rp-")} - set(FOREIGN)
    assert f"{FOREIGN[0]}.upload" in _uploads(home)  # another's upload was not aborted
    assert f"{CLIENT}/recovery-points/partial.tar.zst.age" not in _uploads(home)
    assert "4 object(s) in store s3" in run.out and "left alone" in run.out


def test_the_dry_run_counts_what_it_would_leave_alone(home: ErasureHome) -> None:
    _plant(home)

    run = home.erase("--dry-run")

    assert run.rc == 0, run.out + run.err
    header = next(line for line in run.out.splitlines() if "LEFT ALONE" in line)
    row = next(line for line in run.out.splitlines() if line.startswith("s3 "))
    assert header.split()[-2:] == ["LEFT", "ALONE"]
    assert row.split()[-1] == "4"
    assert set(FOREIGN) <= _keys(home)


def test_cleanup_with_delete_unknown_keeps_objects_that_are_not_the_clients(
    home: ErasureHome,
) -> None:
    _plant(home)

    run = home.cli("cleanup", "--grace", "0h", "--delete-unknown")

    assert run.rc == 0, run.out + run.err
    assert set(FOREIGN) <= _keys(home)
    assert f"{CLIENT}/recovery-points/stray.tar.zst.age" not in _keys(home)  # its own: gone
    assert "were left alone" in run.err


# ---- the configuration refuses nested or shared roots -------------------------------


def _home_with(tmp_path: Path, moto: MotoEndpoint, stores: dict[str, object]) -> Path:
    home = init_home(tmp_path / "home")
    write_settings(home, moto, "local", alias_prefix="ov", stores=stores)
    return home


def _config_check(
    home: Path, moto: MotoEndpoint, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    run = CliHome(path=home, moto=moto, capsys=capsys).cli("config", "check")
    return run.rc, run.out + run.err


@pytest.mark.parametrize(
    ("outer", "inner"),
    [
        ("s3://shared/backups", "s3://shared/backups/zeta"),
        ("s3://shared/backups/", "s3://shared/backups//zeta/"),
        ("s3://shared", "s3://shared/archives"),
        ("s3://shared/backups", "s3://shared/backups"),
    ],
)
def test_nested_or_shared_s3_roots_are_refused_naming_both_stores(
    tmp_path: Path,
    moto: MotoEndpoint,
    capsys: pytest.CaptureFixture[str],
    outer: str,
    inner: str,
) -> None:
    s3 = {"endpoint_url": moto.url, "location": moto.region}
    home = _home_with(
        tmp_path, moto, {"outer": {"url": outer, **s3}, "inner": {"url": inner, **s3}}
    )

    rc, text = _config_check(home, moto, capsys)

    assert rc == 2
    assert "stores.inner.url lies inside stores.outer.url" in text or (
        outer.rstrip("/") == inner.rstrip("/") and "stores.outer.url lies inside" in text
    )
    assert "another client's data" in text


def test_sibling_prefixes_and_other_buckets_are_accepted(
    tmp_path: Path, moto: MotoEndpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    s3 = {"endpoint_url": moto.url, "location": moto.region}
    stores = {
        "alpha": {"url": "s3://shared/backups", **s3},
        "beta": {"url": "s3://shared/backups2", **s3},
        "gamma": {"url": "s3://other/backups/zeta", **s3},
    }
    home = _home_with(tmp_path, moto, stores)

    rc, text = _config_check(home, moto, capsys)

    assert "lies inside" not in text
    assert rc in (0, 1), text  # 1: the buckets do not exist; the layout itself is accepted


def test_nested_folders_are_refused_as_written_and_through_a_link(
    tmp_path: Path, moto: MotoEndpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "elsewhere"
    (outside / "inner").mkdir(parents=True)
    link = tmp_path / "link-to-inner"
    link.symlink_to(outside / "inner")
    written = {"archives": {"url": "file://stores/backups/archives", "location": "local"}}
    home = _home_with(tmp_path, moto, written)
    rc, text = _config_check(home, moto, capsys)
    assert rc == 2 and "stores.archives.url lies inside stores.folder.url" in text

    (tmp_path / "home" / "retention.yaml").write_text(
        yaml.safe_dump(
            {
                "catalog": "sqlite:///catalog.db",
                "stores": {
                    "outer": {"url": f"file://{outside}", "location": "local"},
                    "linked": {"url": f"file://{link}", "location": "local"},
                },
            }
        )
    )
    rc, text = _config_check(home, moto, capsys)
    assert rc == 2 and "stores.linked.url lies inside stores.outer.url" in text


# ---- the rules themselves ----------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "mine"),
    [
        (f"{CLIENT}/recovery-points/rp-1.tar.zst.age", True),
        (f"{CLIENT}/archive/rp-1.tar.zst.age", True),
        (f"{CLIENT}/documents/orphan.pdf", True),
        *((key, False) for key in FOREIGN),
        (f"{CLIENT}/recovery-points/", False),
        (f"{CLIENT}//rp-1", False),
        ("recovery-points/rp-1.tar.zst.age", False),
    ],
)
def test_a_key_is_the_clients_only_in_its_exact_shape(key: str, mine: bool) -> None:
    assert belongs_to(CLIENT, key) is mine


def test_overlap_compares_whole_segments_per_namespace() -> None:
    home = PurePosixPath("/srv/home")
    roots = {
        name: store_root(url, home)
        for name, url in {
            "backups": "s3://b/backups",
            "nested": "s3://b/backups/zeta",
            "sibling": "s3://b/backups2",
            "other-bucket": "s3://c/backups/zeta",
            "local": "file://stores/backups",
            "absolute": "file:///srv/home/stores/backups/archives",
        }.items()
    }

    assert sorted(overlapping_stores(roots)) == [("backups", "nested"), ("local", "absolute")]
