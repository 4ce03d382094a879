"""Interrupted archive copies are tracked (issue 16, item 5).

Before, a ``kill -9`` during ``archive`` left a full encrypted copy, under compliance
lock, that no catalog row knew and that cleanup could not find. The process here dies
the worst way: the copy is written and read back, and the process is killed before its
row is recorded (``os._exit`` in place of the catalog write: no handler runs).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable

from retention_pipeline.domain.erasure_record import ErasureRecord
from tests.erasure.conftest import CLIENT, ErasureHome

KILLED_MID_COPY = textwrap.dedent(
    """
    import os, sys
    from retention_pipeline import bootstrap
    from retention_pipeline.services.policies import current_policy

    installation = bootstrap.load_installation(sys.argv[1])
    catalog = installation.catalog
    policy = current_policy(catalog, sys.argv[2])
    catalog.add_archive_copy = lambda copy: os._exit(9)  # killed before the row
    installation.archive_service().copy(policy, sys.argv[3])
    """
)


def _archive_killed(home: ErasureHome) -> str:
    rp_id = home.planted["recovery_points"][1]
    done = subprocess.run(
        [sys.executable, "-c", KILLED_MID_COPY, str(home.path), CLIENT, rp_id],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 9, done.stderr
    return rp_id


def _vault_versions(home: ErasureHome, rp_id: str) -> list[str]:
    key = f"archives/{CLIENT}/archive/{rp_id}.tar.zst.age"
    listed = home.raw_s3().list_object_versions(Bucket=home.buckets["vault"], Prefix=key)
    return [v["VersionId"] for v in listed.get("Versions", []) if v["Key"] == key]


def test_a_killed_copy_leaves_a_pending_row_and_cleanup_removes_what_it_wrote(
    home: ErasureHome,
) -> None:
    rp_id = _archive_killed(home)
    catalog = home.installation().catalog
    [attempt] = [a for a in catalog.list_archive_attempts(CLIENT) if a.recovery_point_id == rp_id]
    assert attempt.status == "pending" and len(_vault_versions(home, rp_id)) == 1

    run = home.cli("cleanup", "--grace", "0h")

    assert run.rc == 0, run.out + run.err
    assert "1 leftover archive versions deleted, 1 interrupted archive copies marked" in run.out
    assert _vault_versions(home, rp_id) == []
    statuses = {a.id: a.status for a in home.installation().catalog.list_archive_attempts(CLIENT)}
    assert statuses[attempt.id] == "cleared"
    present = [c for c in catalog.list_archive_copies(CLIENT) if c.status == "present"]
    assert all(c.recovery_point_id != rp_id for c in present)
    assert len(present) == 1  # the copy made by the fixture is untouched


def test_a_young_attempt_is_left_alone(home: ErasureHome) -> None:
    rp_id = _archive_killed(home)

    run = home.cli("cleanup")  # the default grace: it may still be under way

    assert run.rc == 0
    assert len(_vault_versions(home, rp_id)) == 1
    statuses = [a.status for a in home.installation().catalog.list_archive_attempts(CLIENT)]
    assert "pending" in statuses


def test_a_locked_leftover_is_listed_with_its_lock_end_shown_in_the_audit_and_the_certificate(
    make_home: Callable[..., ErasureHome],
) -> None:
    home = make_home(lock_days=30)
    rp_id = _archive_killed(home)

    run = home.cli("cleanup", "--grace", "0h")

    assert run.rc == 0, run.out + run.err
    assert f"a leftover archive version of {CLIENT}/archive/{rp_id}.tar.zst.age" in run.out
    assert "is under lock until" in run.out
    assert len(_vault_versions(home, rp_id)) == 1  # a compliance lock: it cannot go yet
    audit = json.loads(home.cli("audit", "controls", "--client", CLIENT, "--json").out)
    c5 = next(r for r in audit["results"] if r["control"] == "C5" and r["client"] == CLIENT)
    [attempt] = [
        a
        for a in home.installation().catalog.list_archive_attempts(CLIENT)
        if a.recovery_point_id == rp_id
    ]
    assert c5["evidence"]["interrupted_copy_ids"] == [attempt.id]

    erased = home.erase()

    assert erased.rc == 0, erased.out + erased.err
    assert "residual copies under lock until" in erased.out
    catalog = home.installation().catalog
    [certificate] = catalog.list_certificates(CLIENT)
    assert certificate.status == "completed_with_exceptions"
    [request] = catalog.list_erasure_requests(CLIENT)
    residual = {entry.key for entry in ErasureRecord(request.details).residual()}
    # the fixture's locked copy and the killed copy's leftover, both stated as residual
    assert residual == {
        f"{CLIENT}/archive/{home.planted['recovery_points'][0]}.tar.zst.age",
        f"{CLIENT}/archive/{rp_id}.tar.zst.age",
    }
