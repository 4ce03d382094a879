"""Copies under a compliance lock: crypto-erased now, deleted when the lock ends.

moto enforces object locks on its own clock, so the test shortens the lock on the server
(as the passage of time would) and then sweeps with a ``now`` past the recorded lock end:
our code must refuse to delete before the date it certified, whatever the store allows.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from retention_pipeline.envelope.bundle import load_bundle
from retention_pipeline.envelope.canonical import parse_json_strict
from retention_pipeline.envelope.dsse import b64decode
from tests.erasure.conftest import CLIENT, ErasureHome, now


def predicate_of(path: Path) -> dict[str, Any]:
    envelope = load_bundle(path.read_bytes())["envelope"]
    statement = parse_json_strict(b64decode(envelope["payload"], "payload"))
    assert isinstance(statement, dict)
    predicate: dict[str, Any] = statement["predicate"]
    return predicate


def test_locked_copies_are_crypto_erased_then_swept_under_a_superseding_certificate(
    make_home: Callable[..., ErasureHome], tmp_path: Path
) -> None:
    home = make_home(lock_days=1)
    locked = home.listed("vault")
    assert len(locked) == 1

    run = home.erase()
    assert run.rc == 0, run.err
    assert "completed_with_exceptions" in run.out and "under lock until" in run.out
    assert home.listed("vault") == locked  # still there, but its key is gone
    assert home.listed("s3") == [] and home.listed("folder") == []
    catalog = home.installation().catalog
    [first] = catalog.list_certificates(CLIENT)
    assert first.status == "completed_with_exceptions"
    folder = home.path / "certificates" / CLIENT
    first_predicate = predicate_of(folder / f"{first.id}.bundle.json")
    [residual] = first_predicate["residual_copies"]
    assert residual["store"] == "vault"
    assert residual["locked_until"] > first_predicate["issued_at"]
    methods = {loc["store"]: loc["method"] for loc in first_predicate["locations"]}
    assert methods == {"folder": "delete", "s3": "delete", "vault": "crypto-erase"}

    service = home.installation().erasure_service()
    assert service.sweep_residuals(now()) == []  # the lock has not ended: nothing happens
    assert service.sweep_residuals(now() + timedelta(days=2)) == []  # the store still refuses
    assert home.listed("vault") == locked

    key, version = locked[0]
    home.raw_s3().put_object_retention(
        Bucket=home.buckets["vault"],
        Key=f"archives/{key}",
        VersionId=version,
        Retention={"Mode": "COMPLIANCE", "RetainUntilDate": now() + timedelta(seconds=2)},
    )
    time.sleep(3)  # let the server-side lock run out (moto checks its own clock)
    outcomes = service.sweep_residuals(now() + timedelta(days=2))
    assert [(o.status, o.supersedes) for o in outcomes] == [("completed", first.id)]
    assert home.listed("vault") == []

    certificates = catalog.list_certificates(CLIENT)
    assert [c.status for c in certificates] == ["completed_with_exceptions", "completed"]
    second = certificates[-1]
    assert second.supersedes == first.id
    assert (first.leaf_index, second.leaf_index) == (0, 1)
    copies = catalog.list_archive_copies(CLIENT)
    assert {c.status for c in copies} == {"deleted"}
    [request] = catalog.list_erasure_requests(CLIENT)
    assert request.status == "completed"

    pem = tmp_path / "pub.pem"
    pem.write_text(home.cli("certificate", "pubkey").out.split("fingerprint:")[0], "ascii")
    bundle = folder / f"{second.id}.bundle.json"
    verified = home.cli("certificate", "verify", str(bundle), "--pubkey", str(pem))
    assert verified.rc == 0, verified.err
    second_predicate = predicate_of(bundle)
    assert second_predicate["supersedes"] == first.id
    assert second_predicate["residual_copies"] == []
    assert [loc["digest"] for loc in second_predicate["locations"]] == [
        loc["digest"] for loc in first_predicate["locations"]
    ]
    listed = json.loads(home.cli("certificate", "list", "--json").out)
    assert [c["supersedes"] for c in listed] == [None, first.id]
