"""The certificate log from the CLI: checkpoints, consistency proofs, tampered bundles.

An auditor keeps a checkpoint, later asks for a newer one and a consistency proof, and
checks offline that the log only grew. A client's bundle that was edited in any part is
rejected by ``certificate verify`` with a one-line reason.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import yaml

from retention_pipeline.envelope.bundle import bundle_bytes, load_bundle
from tests.erasure.conftest import CLIENT, ErasureHome

SECOND = "petit-commerce"


def add_second_client(home: ErasureHome) -> None:
    """A client that subscribed to nothing: its erasure finds no object and no key.

    The erased client's file goes first: a tombstone's file is refused (test_tombstone).
    """
    (home.path / "policies" / f"{CLIENT}.yaml").unlink(missing_ok=True)
    document = {"client": SECOND, "backup": {"mode": "off"}, "legal_basis": "contract"}
    path = home.path / "policies" / f"{SECOND}.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    assert home.cli("policy", "apply", "--actor", "tester").rc == 0


def test_checkpoints_grow_consistently_and_verify_offline(
    home: ErasureHome, tmp_path: Path
) -> None:
    assert home.cli("log", "checkpoint").rc != 0  # no certificate key yet: a clear error
    assert home.erase().rc == 0
    old = home.cli("log", "checkpoint")
    assert old.rc == 0 and old.out.splitlines()[1] == "1"
    add_second_client(home)
    run = home.cli(
        "erase", SECOND, "--trigger", "end_of_contract", "--requested-by", "staff-0012",
        "--approved-by", "staff-0003",
    )  # fmt: skip
    assert run.rc == 0, run.err
    new = home.cli("log", "checkpoint")
    assert new.out.splitlines()[1] == "2"
    assert home.cli("log", "checkpoint", "--size", "1").out == old.out

    proof = home.cli("log", "consistency", "1", "2")
    assert proof.rc == 0
    files = {"old": old.out, "new": new.out, "proof": proof.out}
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    pem = tmp_path / "pub.pem"
    pem.write_text(home.cli("certificate", "pubkey").out.split("fingerprint:")[0], "ascii")
    args = [str(tmp_path / n) for n in ("old", "new", "proof")]
    ok = home.cli("log", "verify-consistency", *args, "--pubkey", str(pem))
    assert ok.rc == 0 and "size 2 extends size 1" in ok.out, ok.err

    forged = json.loads(proof.out)
    forged["proof"][0] = base64.b64encode(b"\x00" * 32).decode()
    (tmp_path / "proof").write_text(json.dumps(forged), encoding="utf-8")
    bad = home.cli("log", "verify-consistency", *args, "--pubkey", str(pem))
    assert bad.rc == 1 and "FAILED" in bad.err
    assert len(bad.err.strip().splitlines()) == 1


def test_an_edited_bundle_is_rejected(home: ErasureHome, tmp_path: Path) -> None:
    assert home.erase().rc == 0
    [path] = (home.path / "certificates" / CLIENT).glob("*.bundle.json")
    pem = tmp_path / "pub.pem"
    pem.write_text(home.cli("certificate", "pubkey").out.split("fingerprint:")[0], "ascii")
    bundle = load_bundle(path.read_bytes())

    def rejected(edited: dict[str, object], name: str) -> str:
        target = tmp_path / f"{name}.json"
        target.write_bytes(bundle_bytes(edited))
        run = home.cli("certificate", "verify", str(target), "--pubkey", str(pem))
        assert run.rc == 1, name
        assert len(run.err.strip().splitlines()) == 1
        return run.err

    payload = base64.b64decode(bundle["envelope"]["payload"])
    statement = json.loads(payload)
    statement["predicate"]["status"] = "completed_with_exceptions"
    edited = json.loads(json.dumps(bundle))
    edited["envelope"]["payload"] = base64.b64encode(
        json.dumps(statement, separators=(",", ":"), sort_keys=True).encode()
    ).decode()
    assert "signature" in rejected(edited, "field")
    swapped = json.loads(json.dumps(bundle))
    swapped["envelope"]["payloadType"] = "application/json"
    rejected(swapped, "type")
    proof = json.loads(json.dumps(bundle))
    proof["inclusion"]["leaf_index"] = 1
    rejected(proof, "proof")
    flipped = bytearray(path.read_bytes())
    flipped[40] ^= 0x01
    (tmp_path / "flipped.json").write_bytes(bytes(flipped))
    run = home.cli("certificate", "verify", str(tmp_path / "flipped.json"), "--pubkey", str(pem))
    assert run.rc == 1
