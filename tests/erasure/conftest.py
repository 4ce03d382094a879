"""A home for the erasure tests: three real stores, real backups, planted leftovers.

Stores: ``folder`` (a local folder), ``s3`` (a versioned bucket on moto's HTTP server,
where the backups go) and ``vault`` (an object-lock bucket, where archive copies go, under
a compliance lock when a test asks for one). The client ``dupont-conseil`` has a SQLite
CRM (names and e-mail addresses), two recovery points taken through the real backup
service, an archive copy made by the real archive service, and planted extras the
catalog never heard of: a second version of a key, a delete marker, an unfinished
multipart upload, and an object in the folder store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from retention_pipeline import bootstrap
from retention_pipeline.services.archive import ArchiveService
from retention_pipeline.services.policies import current_policy
from tests.support.crm import create_crm_schema, fill_crm
from tests.support.home import CliHome, Run, init_home, versioned_bucket, write_settings
from tests.support.moto import MotoEndpoint

CLIENT = "dupont-conseil"
DISPLAY_NAME = "Dupont Conseil SARL"
PURPOSE = "Restauration apres incident pour Jeanne Dupont"
REFERENCE = "BC-2026-0042"
URL_ENV = "ER_CRM_URL"


@dataclass
class ErasureHome(CliHome):
    """A home folder and the handles a test needs to look at it from outside."""

    buckets: dict[str, str]
    planted: dict[str, Any] = field(default_factory=dict)

    def policy(self, **changes: Any) -> None:
        """Write the client's order form (``changes`` replace top-level sections); apply it."""
        document: dict[str, Any] = {
            "client": CLIENT,
            "display_name": DISPLAY_NAME,
            "contract": {"reference": REFERENCE, "ends_on": None},
            "source": {"database": {"connection": "crm"}},
            "backup": {"mode": "semi_manual", "storage": "s3", "retention": {"max_age": "35d"}},
            "archive": {
                "enabled": True,
                "every": "monthly",
                "storage": "vault",
                "retention": {"max_age": "10y"},
            },
            "purpose": PURPOSE,
            "legal_basis": "contract",
            "erasure": {
                "after_contract_end": "30d",
                "certificate_to": [f"file://certificates/{CLIENT}"],
                "approval": "required",
            },
            **changes,
        }
        path = self.path / "policies" / f"{CLIENT}.yaml"
        path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        run = self.cli("policy", "apply", "--actor", "tester")
        assert run.rc == 0, run.out + run.err

    def raw_s3(self) -> Any:
        """A boto3 client beside our adapters, to plant and inspect objects."""
        return self.moto.client("s3")

    def listed(self, store: str) -> list[tuple[str, str]]:
        """(key, version) of everything the client has in ``store``, via our adapter."""
        versions = self.installation().store(store).list_versions(f"{CLIENT}/")
        return [(v.key, v.version_id) for v in versions]

    def uploads(self, store: str) -> int:
        """Unfinished uploads under the client's prefix in ``store``."""
        return sum(
            1 for _ in self.installation().store(store).list_unfinished_uploads(f"{CLIENT}/")
        )

    def erase(self, *extra: str, approver: str = "staff-0003") -> Run:
        """``erase CLIENT`` with a second person, as an operator runs it."""
        return self.cli(
            "erase", CLIENT, "--trigger", "client_request", "--requested-by", "staff-0012",
            "--approved-by", approver, *extra,
        )  # fmt: skip


def _settings(home: Path, moto: MotoEndpoint, buckets: dict[str, str], custody: str) -> None:
    s3 = {"endpoint_url": moto.url, "location": moto.region}
    stores = {
        "s3": {"url": f"s3://{buckets['s3']}/backups", **s3},
        "vault": {"url": f"s3://{buckets['vault']}/archives", "object_lock": True, **s3},
    }
    write_settings(
        home,
        moto,
        custody,
        alias_prefix="er",
        stores=stores,
        connections={"crm": {"url_env": URL_ENV}},
    )


def populate(home: ErasureHome) -> None:
    """Two real backups and one archive copy, then the planted leftovers."""
    installation = home.installation()
    backup = installation.backup_service()
    rps = [backup.backup(CLIENT, requested_by="staff-0012") for _ in range(2)]
    catalog = installation.catalog
    policy = current_policy(catalog, CLIENT)
    assert policy is not None
    archive = ArchiveService(
        catalog, installation.store, bootstrap.utc_now, lambda: bootstrap.new_id("ac")
    )
    archive.copy(policy, rps[0].recovery_point_id)
    s3 = installation.store("s3")
    stray = f"{CLIENT}/recovery-points/stray.tar.zst.age"
    s3.put(stray, [b"first version"])
    s3.put(stray, [b"second version"])
    raw = home.raw_s3()
    raw.delete_object(Bucket=home.buckets["s3"], Key=f"backups/{stray}")  # a delete marker
    raw.create_multipart_upload(
        Bucket=home.buckets["s3"], Key=f"backups/{CLIENT}/recovery-points/partial.tar.zst.age"
    )
    installation.store("folder").put(f"{CLIENT}/documents/orphan.pdf", [b"%PDF-1.7 orphan"])
    home.planted = {"recovery_points": [r.recovery_point_id for r in rps], "stray": stray}


@pytest.fixture
def make_home(
    tmp_home: Path,
    tmp_path: Path,
    moto: MotoEndpoint,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., ErasureHome]:
    """``make_home(custody="local", lock_days=None, **policy)``: a populated home."""
    database = tmp_path / "crm.sqlite"
    create_crm_schema(f"sqlite:///{database}")
    fill_crm(f"sqlite:///{database}", contacts=20, seed=11)
    monkeypatch.setenv(URL_ENV, f"sqlite:///{database}")

    def build(custody: str = "local", lock_days: int | None = None, **policy: Any) -> ErasureHome:
        path = init_home(tmp_home / f"home-{custody}")
        buckets = {
            "s3": versioned_bucket(moto, "er-data"),
            "vault": versioned_bucket(moto, "er-vault", lock=True),
        }
        _settings(path, moto, buckets, custody)
        home = ErasureHome(path=path, moto=moto, capsys=capsys, buckets=buckets)
        if lock_days is not None:
            archive = {
                "enabled": True,
                "every": "monthly",
                "storage": "vault",
                "retention": {"max_age": "10y"},
                "lock": {"mode": "compliance", "days": lock_days},
            }
            policy = {"archive": archive, **policy}
        home.policy(**policy)
        populate(home)
        return home

    return build


@pytest.fixture
def home(make_home: Callable[..., ErasureHome]) -> ErasureHome:
    """A populated home with local key custody and no lock on archive copies."""
    return make_home()


def now() -> datetime:
    """The wall clock, for calls that take ``now`` (moto enforces locks on real time)."""
    return datetime.now(UTC)
