"""A cut, deleted or rewritten evidence log fails ``log verify`` and C9 against its witness.

Each test runs on a real home (SQLite catalog, the real CLI) with each kind of witness:
a folder store named by ``evidence_witness``, and an S3 bucket under Object Lock on
moto's HTTP server, chosen as the witness because it is the object-locked store. The
tampering is done the way an intruder with the catalog's database would: plain SQL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from retention_pipeline.domain.controls import INSTALLATION
from retention_pipeline.domain.evidence import GENESIS_HASH, entry_hash
from retention_pipeline.envelope.checkpoint import sign_checkpoint
from retention_pipeline.envelope.merkle import EMPTY_ROOT
from retention_pipeline.services.audit import audit
from retention_pipeline.services.evidence_witness import checkpoint_key
from tests.support.home import CliHome, Run, init_home, versioned_bucket, write_settings
from tests.support.moto import MotoEndpoint

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


@dataclass
class WitnessedHome(CliHome):
    kind: str
    bucket: str | None = None

    def append(self, count: int, actor: str = "scheduler") -> None:
        catalog = self.installation().catalog
        start = len(list(catalog.evidence_entries()))
        for n in range(start, start + count):
            catalog.append_evidence(
                actor, "test.step", {"client": "acme-sas"}, {"n": n}, T0 + timedelta(n)
            )

    def sql(self, *statements: str, params: dict[str, Any] | None = None) -> None:
        with sqlite3.connect(self.path / "catalog.db") as db:
            for statement in statements:
                db.execute(statement, params or {})

    def hash_of(self, seq: int) -> str:
        with sqlite3.connect(self.path / "catalog.db") as db:
            (digest,) = db.execute("SELECT hash FROM evidence_log WHERE seq = ?", (seq,)).fetchone()
        return str(digest)

    def head_to(self, seq: int) -> None:
        """Move the head row back to entry ``seq`` (0: genesis), hiding a cut."""
        digest = self.hash_of(seq) if seq else GENESIS_HASH
        self.sql(f"UPDATE evidence_head SET seq = {seq}, hash = '{digest}'")

    def checkpoint(self) -> Run:
        run = self.cli("log", "checkpoint-evidence")
        assert run.rc == 0, run.out + run.err
        return run

    def c9(self) -> tuple[str, dict[str, Any]]:
        (result,) = [
            r
            for r in audit(self.installation(), T0 + timedelta(days=400))
            if r.client_id == INSTALLATION and r.control_id == "C9"
        ]
        return result.verdict, result.evidence

    def put_raw(self, key: str, data: bytes) -> None:
        """Write into the witness beside our code, as someone with access to it would."""
        if self.bucket is not None:
            self.moto.client("s3").put_object(Bucket=self.bucket, Key=f"witness/{key}", Body=data)
        else:
            path = self.path / "stores" / "witness" / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

    def read_raw(self, key: str) -> bytes:
        return b"".join(self.installation().store("witness").get(key))


@pytest.fixture(params=["folder", "s3-lock"])
def home(
    request: pytest.FixtureRequest,
    tmp_home: Path,
    moto: MotoEndpoint,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[WitnessedHome]:
    init_home(tmp_home)
    bucket = None
    if request.param == "folder":
        stores = {"witness": {"url": "file://stores/witness", "location": "other-site"}}
        sections: dict[str, Any] = {"evidence_witness": "witness"}
    else:
        bucket = versioned_bucket(moto, "witness", lock=True)
        stores = {
            "witness": {
                "url": f"s3://{bucket}/witness",
                "endpoint_url": moto.url,
                "location": moto.region,
                "object_lock": True,
            }
        }
        sections = {}  # the object-locked store is the witness by default
    write_settings(tmp_home, moto, "local", alias_prefix="ew", stores=stores, **sections)
    home = WitnessedHome(tmp_home, moto, capsys, request.param, bucket)
    assert home.cli("policy", "apply").rc == 0  # creates the catalog (no policies yet)
    home.append(6)
    home.checkpoint()
    yield home


def failed(run: Run, trusted: str) -> str:
    assert run.rc == 1, run.out + run.err
    assert "evidence log FAILED" in run.out, run.out
    assert run.out.rstrip().endswith(f"last trusted entry: {trusted}"), run.out
    assert "Traceback" not in run.out + run.err
    return run.out


def non_compliant(home: WitnessedHome) -> dict[str, Any]:
    verdict, evidence = home.c9()
    assert verdict == "non_compliant", evidence
    return evidence


def test_an_untouched_log_passes_and_keeps_passing_as_it_grows(home: WitnessedHome) -> None:
    run = home.cli("log", "verify")
    assert run.rc == 0 and "6 entries verified, the first 6 as witnessed" in run.out
    assert home.c9()[0] == "compliant"

    home.append(3)  # entries after the newest checkpoint: sound, witnessed tomorrow
    assert home.cli("log", "verify").rc == 0
    assert "already" not in home.checkpoint().out
    assert "already in store" in home.checkpoint().out  # a size is witnessed once
    assert "the first 9 as witnessed" in home.cli("log", "verify").out
    assert home.c9()[0] == "compliant"


def test_the_checkpoint_is_signed_and_locked_where_the_store_can_lock(
    home: WitnessedHome,
) -> None:
    text = home.read_raw(checkpoint_key(6)).decode()
    origin, size = text.split("\n")[:2]
    assert origin.endswith("/evidence") and size == "6"
    stored = home.installation().store("witness").head(checkpoint_key(6))
    if home.kind == "s3-lock":
        assert stored.lock is not None and stored.lock.mode == "compliance"
        assert stored.lock.until > T0 + timedelta(days=3000)


def test_deleting_the_newest_rows_fails_naming_the_last_trusted_entry(
    home: WitnessedHome,
) -> None:
    home.sql("DELETE FROM evidence_log WHERE seq > 4")
    out = failed(home.cli("log", "verify"), "4")
    assert "entries 5..6 deleted" in out
    evidence = non_compliant(home)
    assert evidence["evidence_first_bad_seq"] == 5
    assert evidence["evidence_last_trusted_seq"] == 4


def test_a_cut_hidden_by_moving_the_head_back_is_caught_by_the_checkpoint(
    home: WitnessedHome,
) -> None:
    home.sql("DELETE FROM evidence_log WHERE seq > 4")
    home.head_to(4)
    out = failed(home.cli("log", "verify"), "4")
    assert "the log holds 4 entries but a witnessed checkpoint signs 6" in out
    assert non_compliant(home)["evidence_last_trusted_seq"] == 4


def test_deleting_every_row_fails(home: WitnessedHome) -> None:
    home.sql("DELETE FROM evidence_log")
    home.head_to(0)
    out = failed(home.cli("log", "verify"), "none")
    assert "the log holds no entry but a witnessed checkpoint signs 6 (log deleted)" in out
    assert non_compliant(home)["evidence_last_trusted_seq"] == 0


def test_deleting_every_row_but_the_head_fails(home: WitnessedHome) -> None:
    home.sql("DELETE FROM evidence_log")
    assert "entries 1..6 deleted" in failed(home.cli("log", "verify"), "none")
    non_compliant(home)


def test_an_edited_head_row_fails(home: WitnessedHome) -> None:
    home.sql(f"UPDATE evidence_head SET hash = '{'e' * 64}'")
    assert "evidence_head edited" in failed(home.cli("log", "verify"), "6")
    non_compliant(home)

    home.head_to(4)  # a head behind the rows it has (the next append would collide)
    assert "evidence_head edited" in failed(home.cli("log", "verify"), "6")
    non_compliant(home)


def test_a_rewritten_history_fails_back_to_the_last_matching_checkpoint(
    home: WitnessedHome,
) -> None:
    """Entry 8 edited and 8..9 re-chained with correct hashes: only the witness sees it."""
    home.append(3)
    home.checkpoint()  # a second checkpoint, of 9 entries
    with sqlite3.connect(home.path / "catalog.db") as db:
        prev = home.hash_of(7)
        rows = db.execute(
            "SELECT seq, at, actor, action, subjects, details FROM evidence_log WHERE seq >= 8"
        ).fetchall()
        for seq, _, actor, action, _subjects, _details in rows:
            at = T0 + timedelta(seq - 1)
            details = {"n": -1}
            digest = entry_hash(prev, seq, at, actor, action, {"client": "acme-sas"}, details)
            db.execute(
                "UPDATE evidence_log SET details = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                ('{"n": -1}', prev, digest, seq),
            )
            prev = digest
        db.execute("UPDATE evidence_head SET hash = ? WHERE id = 1", (prev,))
    out = failed(home.cli("log", "verify"), "6")
    assert "entries 1..9 do not hash to the witnessed checkpoint of 9 entries" in out
    assert non_compliant(home)["evidence_last_trusted_seq"] == 6


def test_a_row_with_invalid_json_is_a_named_break(home: WitnessedHome) -> None:
    home.sql("UPDATE evidence_log SET details = '{not json' WHERE seq = 3")
    out = failed(home.cli("log", "verify"), "2")
    assert "FAILED at entry 3: entry 3: its details column is not valid JSON" in out
    assert non_compliant(home)["evidence_first_bad_seq"] == 3

    run = home.cli("log", "verify", "--json")
    assert run.rc == 1 and '"last_trusted_seq": 2' in run.out


def test_a_forged_checkpoint_is_reported(home: WitnessedHome) -> None:
    forger = Ed25519PrivateKey.generate()
    genuine = home.read_raw(checkpoint_key(6)).decode()
    origin = genuine.split("\n")[0]
    home.put_raw(checkpoint_key(9), sign_checkpoint(origin, 9, EMPTY_ROOT, forger).encode())
    out = failed(home.cli("log", "verify"), "6")
    assert f"witness object '{checkpoint_key(9)}'" in out
    assert "not an evidence checkpoint signed by the certificate key" in out
    non_compliant(home)


def test_an_altered_checkpoint_is_reported(home: WitnessedHome) -> None:
    genuine = home.read_raw(checkpoint_key(6)).decode()
    altered = genuine.replace("\n6\n", "\n8\n", 1)
    home.put_raw(checkpoint_key(8), altered.encode())
    assert "does not verify" in failed(home.cli("log", "verify"), "6")
    non_compliant(home)


def test_a_damaged_log_is_never_signed(home: WitnessedHome) -> None:
    home.sql("DELETE FROM evidence_log WHERE seq > 4")
    home.head_to(4)
    home.append(5, actor="intruder")  # regrown past the witnessed size on top of the cut
    run = home.cli("log", "checkpoint-evidence")
    assert run.rc == 1 and "no checkpoint signed" in run.err + run.out
    listed = [v.key for v in home.installation().store("witness").list_versions("_evidence-log/")]
    assert listed == [checkpoint_key(6)]
    # entries 5 and 6 are not the signed ones, and no older checkpoint vouches for 1..4
    assert "(history rewritten)" in failed(home.cli("log", "verify"), "none")


def test_an_unknown_witness_store_is_a_config_problem(tmp_home: Path, moto: MotoEndpoint) -> None:
    from retention_pipeline.services.policy_check import check_settings_text

    _, problems = check_settings_text(
        "stores:\n  vault: {url: 'file://v'}\nevidence_witness: vaultt\n", "retention.yaml"
    )
    assert [p.path for p in problems] == ["evidence_witness"]
    assert "use one of: vault" in str(problems[0])
