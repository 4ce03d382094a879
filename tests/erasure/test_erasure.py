"""Erasing a client end to end: every copy in every store, the key, the catalog's data.

What an operator, the client and an auditor rely on: after ``erase`` nothing of the
client is listed or readable in any store, nothing is restorable, the key is gone, the
catalog no longer holds the client's name, and the certificate the client receives
verifies offline (our CLI, and plain openssl) and names no personal data.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from retention_pipeline.envelope.bundle import load_bundle
from retention_pipeline.envelope.canonical import parse_json_strict
from retention_pipeline.envelope.dsse import b64decode
from retention_pipeline.ports.keys import KeyCustodyError
from tests.certificates.test_openssl_recipe import recipe
from tests.erasure.conftest import CLIENT, DISPLAY_NAME, PURPOSE, REFERENCE, ErasureHome

STORES = ("folder", "s3", "vault")


def delivered_bundle(home: ErasureHome) -> tuple[Path, dict[str, object]]:
    """The one bundle delivered to the client's certificate folder, parsed."""
    folder = home.path / "certificates" / CLIENT
    bundles = sorted(folder.glob("*.bundle.json"))
    assert len(bundles) >= 1
    return bundles[-1], load_bundle(bundles[-1].read_bytes())


def statement(bundle: dict[str, object]) -> dict[str, object]:
    envelope = bundle["envelope"]
    assert isinstance(envelope, dict)
    value = parse_json_strict(b64decode(envelope["payload"], "payload"))
    assert isinstance(value, dict)
    return value


def test_full_erasure_leaves_nothing_and_certifies_it(home: ErasureHome, tmp_path: Path) -> None:
    before = {store: home.listed(store) for store in STORES}
    assert all(before.values()) and home.uploads("s3") == 1

    run = home.erase()
    assert run.rc == 0, run.err
    assert "completed" in run.out and "certificate cert-" in run.out

    for store in STORES:
        assert home.listed(store) == [], store
        assert home.uploads(store) == 0
    points = home.cli("points", CLIENT, "--json")
    assert {p["status"] for p in json.loads(points.out)} == {"deleted"}
    keys = json.loads(home.cli("keys", "list", "--json").out)
    assert [(k["client"], k["state"]) for k in keys] == [(CLIENT, "destroyed")]
    with pytest.raises(KeyCustodyError):
        home.installation().keyring.identity_for(CLIENT)
    restore = home.cli("verify", home.planted["recovery_points"][0])
    assert restore.rc != 0

    path, bundle = delivered_bundle(home)
    assert path.with_name(path.name.replace(".bundle.json", ".pdf")).is_file()
    pem = tmp_path / "pub.pem"
    pubkey = home.cli("certificate", "pubkey")
    pem.write_text(pubkey.out.split("fingerprint:")[0], encoding="ascii")
    verified = home.cli("certificate", "verify", str(path), "--pubkey", str(pem))
    assert verified.rc == 0, verified.err
    assert f"client {CLIENT}, status completed" in verified.out

    predicate = statement(bundle)["predicate"]
    assert isinstance(predicate, dict)
    assert predicate["contract_reference"] == REFERENCE
    assert [loc["store"] for loc in predicate["locations"]] == list(STORES)
    by_store = {loc["store"]: loc for loc in predicate["locations"]}
    assert by_store["s3"]["versions"] == 5  # 2 backups, 2 stray versions, 1 delete marker
    assert by_store["folder"]["versions"] == 1 and by_store["vault"]["versions"] == 1
    assert predicate["key_destruction"]["custody"] == "local"

    listed = json.loads(home.cli("certificate", "list", CLIENT, "--json").out)
    assert [c["status"] for c in listed] == ["completed"]
    assert listed[0]["delivered_to"] == [f"file://certificates/{CLIENT}"]


def test_certificate_holds_no_personal_data_and_the_catalog_forgets_it(
    home: ErasureHome,
) -> None:
    assert home.erase().rc == 0
    path, _ = delivered_bundle(home)
    text = path.read_text(encoding="utf-8")
    payload = json.dumps(statement(load_bundle(path.read_bytes())))
    for secret in (DISPLAY_NAME, PURPOSE, "Dupont", "@"):
        assert secret not in payload and secret not in text
    pdf = path.with_name(path.name.replace(".bundle.json", ".pdf")).read_bytes()
    assert b"authoritative" in pdf and DISPLAY_NAME.encode() not in pdf

    catalog = home.installation().catalog
    assert [c.display_name for c in catalog.list_clients()] == [None]
    for version in catalog.policy_history(CLIENT):
        assert version.document is not None
        assert version.document["display_name"] is None
        assert version.document["purpose"] is None
        assert version.document["contract"]["reference"] is None
        assert version.document["erasure"]["certificate_to"] == []
        if version.document["source"].get("documents"):
            assert version.document["source"]["documents"]["path"] == "erased"
        assert all(c["old"] is None and c["new"] is None for c in version.changes
                   if c["path"] in ("display_name", "purpose", "contract.reference",
                                    "erasure.certificate_to", "source.documents.path"))  # fmt: skip
    assert home.cli("log", "verify").rc == 0  # scrubbing left the evidence chain intact


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is absent")
def test_the_delivered_certificate_verifies_with_the_openssl_recipe(
    home: ErasureHome, tmp_path: Path
) -> None:
    assert home.erase().rc == 0
    path, _ = delivered_bundle(home)
    folder = tmp_path / "client"
    folder.mkdir()
    shutil.copy(path, folder / "bundle.json")
    pubkey = home.cli("certificate", "pubkey").out
    (folder / "pub.pem").write_text(pubkey.split("fingerprint:")[0], encoding="ascii")
    result = subprocess.run(
        ["bash", "-c", recipe("openssl-verify")], cwd=folder, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "Signature Verified Successfully" in result.stdout


def test_dry_run_prints_the_scope_and_deletes_nothing(home: ErasureHome) -> None:
    before = {store: home.listed(store) for store in STORES}
    run = home.erase("--dry-run")
    assert run.rc == 0, run.err
    assert "nothing was deleted" in run.out
    lines = {line.split()[0]: line.split() for line in run.out.splitlines() if line}
    # STORE LOCATION OBJECTS VERSIONS MARKERS UPLOADS BYTES UNKNOWN LOCKED
    assert lines["s3"][2:6] == ["3", "4", "1", "1"]
    assert lines["s3"][7] == "3"  # the stray key's two versions and its marker
    assert lines["folder"][2] == "1" and lines["folder"][7] == "1"
    assert "client key: local custody, active" in run.out
    assert {store: home.listed(store) for store in STORES} == before
    assert home.uploads("s3") == 1
    assert home.installation().catalog.list_erasure_requests(CLIENT) == []
    assert DISPLAY_NAME not in run.out


def test_a_client_under_legal_hold_is_refused_logged_and_untouched(
    home: ErasureHome,
) -> None:
    home.policy(legal_hold={"active": True, "reason": "Litige commercial en cours"})
    before = {store: home.listed(store) for store in STORES}
    run = home.erase()
    assert run.rc == 3
    assert "legal hold" in run.err and "nothing was deleted" in run.err
    assert {store: home.listed(store) for store in STORES} == before
    catalog = home.installation().catalog
    assert [r.status for r in catalog.list_erasure_requests(CLIENT)] == ["refused"]
    refused = [e for e in catalog.evidence_entries() if e.action == "erasure.refused"]
    assert [e.details["reason"] for e in refused] == ["legal_hold"]
    assert "Litige" not in json.dumps([e.details for e in refused])
    assert catalog.get_client_key(CLIENT).state == "active"  # type: ignore[union-attr]
    assert catalog.list_certificates(CLIENT) == []


def test_a_second_person_must_approve(home: ErasureHome) -> None:
    same = home.erase(approver="staff-0012")
    assert same.rc == 3 and "approver must differ" in same.err
    missing = home.cli(
        "erase", CLIENT, "--trigger", "client_request", "--requested-by", "staff-0012"
    )
    assert missing.rc == 3 and "--approved-by" in missing.err
    email = home.erase(approver="jeanne.dupont@example.com")
    assert email.rc == 2 and "not a staff id" in email.err and "jeanne" not in email.err
    assert home.listed("s3") and home.installation().catalog.list_certificates() == []


def test_erase_refuses_a_request_reference_that_is_a_name_or_an_address(
    home: ErasureHome,
) -> None:
    """The reference is kept in the catalog for good: a ticket number, not free text."""
    run = home.cli(
        "erase", CLIENT, "--trigger", "client_request", "--requested-by", "staff-0001",
        "--request-ref", "Jean Dupont <jean.dupont@example.test>",
    )  # fmt: skip
    assert run.rc == 2
    assert "not a reference" in run.err
    assert "Dupont" not in run.err and "example.test" not in run.err
    assert home.installation().catalog.list_erasure_requests() == []


def test_issuing_a_certificate_witnesses_the_evidence_log(home: ErasureHome) -> None:
    """The vault (object lock) is the witness: the certificate's entries are signed there."""
    from retention_pipeline.services.evidence_witness import PREFIX

    assert home.erase().rc == 0
    vault = home.installation().store("vault")
    (key,) = [v.key for v in vault.list_versions(PREFIX)]
    size = int(key.removeprefix(PREFIX).split(".")[0])
    entries = list(home.installation().catalog.evidence_entries())
    issued = [e.seq for e in entries if e.action == "certificate.delivered"]
    assert issued and issued[-1] <= size  # the checkpoint covers the delivered certificate
    stored = vault.head(key)
    assert stored.lock is not None and stored.lock.mode == "compliance"
    run = home.cli("log", "verify")
    assert run.rc == 0 and f"the first {size} as witnessed in store 'vault'" in run.out
