"""Erasure is final: an erased client id is a tombstone (issue 16, item 3).

Before, an unchanged ``policy apply`` after an erasure recorded a new version with the
scrubbed personal fields back in it and showed the client as active.
"""

from __future__ import annotations

import json

from tests.erasure.conftest import CLIENT, DISPLAY_NAME, PURPOSE, ErasureHome


def _erased(home: ErasureHome) -> str:
    run = home.erase()
    assert run.rc == 0, run.out + run.err
    certificate = next(c.id for c in home.installation().catalog.list_certificates(CLIENT))
    return certificate


def test_applying_the_erased_clients_file_again_is_refused_and_records_nothing(
    home: ErasureHome,
) -> None:
    certificate = _erased(home)
    versions = len(home.installation().catalog.policy_history(CLIENT))

    run = home.cli("policy", "apply", "--actor", "tester")

    assert run.rc == 2, run.out + run.err
    assert f"{CLIENT} was erased on" in run.err and f"(certificate {certificate})" in run.err
    assert "remove its policy file" in run.err
    catalog = home.installation().catalog
    assert len(catalog.policy_history(CLIENT)) == versions
    latest = catalog.latest_policy(CLIENT)
    assert latest is not None and latest.document is not None
    assert DISPLAY_NAME not in json.dumps(latest.document)  # still scrubbed
    assert PURPOSE not in json.dumps(latest.document)


def test_removing_the_file_records_no_removal_either(home: ErasureHome) -> None:
    _erased(home)
    versions = len(home.installation().catalog.policy_history(CLIENT))
    (home.path / "policies" / f"{CLIENT}.yaml").unlink()

    run = home.cli("policy", "apply", "--actor", "tester")

    assert run.rc == 0, run.out + run.err
    assert "nothing to record" in run.out
    assert len(home.installation().catalog.policy_history(CLIENT)) == versions


def test_clients_policy_show_and_the_audit_say_erased(home: ErasureHome) -> None:
    certificate = _erased(home)

    listed = home.cli("clients")
    row = next(line for line in listed.out.splitlines() if line.startswith(CLIENT))
    assert "erased" in row and certificate in row and "active" not in row
    shown = json.loads(home.cli("clients", "--json").out)
    entry = next(c for c in shown if c["client"] == CLIENT)
    assert entry["erased"]["certificate"] == certificate and entry["backup"] == "off"

    policy = home.cli("policy", "show", CLIENT)
    assert policy.rc == 0 and "(erased: erased on " in policy.out and certificate in policy.out

    audit = home.cli("audit", "controls", "--client", CLIENT, "--json")
    results = json.loads(audit.out)["results"]
    for control in ("C1", "C2", "C5"):
        found = next(r for r in results if r["control"] == control and r["client"] == CLIENT)
        assert found["verdict"] == "not_applicable", found
        assert found["evidence"]["reason"] == "erased"


def test_no_backup_or_archive_runs_for_an_erased_client(home: ErasureHome) -> None:
    _erased(home)
    installation = home.installation()

    run = home.cli("backup", CLIENT)
    archived = installation.archive_service().archive_client(CLIENT)

    assert run.rc == 3 and "erasure of this client is under way or done" in run.err
    assert archived.copied == []
