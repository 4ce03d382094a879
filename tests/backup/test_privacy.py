"""No key, row value, name or e-mail reaches a log line, the terminal or an exception.

Canary values are planted where a careless line would pick them up (a contact's e-mail
and name in the source database, a document's name and content, the client's
display_name, the client's unwrapped identity, the master key, a database password),
then every backup command runs, including failing ones, with every logger at DEBUG.
"""

from __future__ import annotations

import base64
import logging
import traceback
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, closing
from pathlib import Path

import pytest

import retention_pipeline.services.backup as backup_module
from retention_pipeline.envelope.recovery_point import documents_in
from retention_pipeline.errors import RetentionError
from tests.backup.conftest import BackupHome, backed_up
from tests.support.crm import connect

Databases = Callable[..., AbstractContextManager[str]]


def plant_contact(url: str, marker: str) -> None:
    """One more contact whose e-mail and name carry the marker."""
    with connect(url) as conn, closing(conn.cursor()) as cur:
        cur.execute(
            "INSERT INTO contacts (id, email, name, created_at) VALUES (?, ?, ?, ?)",
            (10_000, f"canary.{marker}@example.test", f"Canary Person {marker}", "2026-01-01"),
        )


def secrets_of(home: BackupHome, client: str) -> list[str]:
    """The client's unwrapped identity and the master key, in the spellings a log could use."""
    identity = home.installation().keyring.identity_for(client).to_string()
    master = (home.path / "keys" / "master.key").read_bytes()
    return [
        identity,
        identity.lower(),
        identity.split("1", 1)[1][:24],  # the bech32 data part alone
        master.hex(),
        base64.b64encode(master).decode(),
        repr(master)[2:-1],
    ]


def log_everything_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    """Every logger at DEBUG, as an operator chasing a problem would set them.

    Except sqlalchemy: sqlalchemy.engine at INFO/DEBUG *is* echo=True, which prints every
    parameter and row by design, so an installation must never turn it on.
    """
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        if not name.startswith("sqlalchemy"):
            caplog.set_level(logging.DEBUG, logger=name)


def test_no_canary_reaches_logs_output_exceptions_or_the_catalog(
    home: BackupHome,
    databases: Databases,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    log_everything_at_debug(caplog)
    marker = uuid.uuid4().hex
    password = f"pw-{marker}"
    documents = tmp_path / "documents"
    documents.mkdir()
    (documents / f"lettre-{marker}.txt").write_text(f"Dear Canary Person {marker}\n")
    seen: list[str] = []

    with databases("sqlite") as source, databases("sqlite", filled=False) as target:
        plant_contact(source, marker)
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy(
            "acme-sas", documents=documents, storage="s3", display_name=f"Canary SAS {marker}"
        )
        backup = home.cli("backup", "acme-sas")
        assert backup.rc == 0, backup.err
        [rp] = home.complete("acme-sas")
        restored = tmp_path / "restored"
        runs = [
            backup,
            home.cli("backup", "acme-sas", "--json"),
            home.cli("points"),
            home.cli("points", "acme-sas", "--json"),
            home.cli("keys", "list"),
            home.cli("keys", "list", "--json"),
            home.cli("verify", rp.id),
            home.cli("verify", rp.id, "--json"),
            home.cli("restore", rp.id, "--to", target, "--documents", str(restored)),
            home.cli("restore", rp.id, "--to", target),  # refused: not empty
            home.cli(
                "restore", rp.id, "--to", f"postgresql+psycopg://postgres:{password}@127.0.0.1/nodb"
            ),
            home.cli("cleanup", "--grace", "0h"),
        ]
        assert [r.rc for r in runs[:9]] == [0] * 9
        assert runs[9].rc == 3 and runs[10].rc != 0
        seen += [r.out + r.err for r in runs]

        service = home.installation().restore_service()
        failing_targets = [
            target,  # not empty
            f"mysql+pymysql://root:{password}@127.0.0.1/nodb",
            f"sqlite:///{tmp_path / 'missing' / 'x.sqlite'}",
        ]
        for failing in failing_targets:
            with pytest.raises(RetentionError) as caught:
                service.restore(rp.id, failing)
            seen.append("".join(traceback.format_exception(caught.value)))

    canaries = [marker, password, *secrets_of(home, "acme-sas")]
    seen.append(caplog.text)
    seen += [str(r.args) for r in caplog.records]
    rows = home.catalog_sql("SELECT * FROM recovery_points") + home.catalog_sql(
        "SELECT * FROM evidence_log"
    )
    seen.append(repr(rows))
    assert len(caplog.records) > 0  # the adapters did log: the check has something to search
    for canary in canaries:
        for text in seen:
            assert canary not in text


@pytest.mark.parametrize("change", ["shrink", "grow", "delete"])
def test_a_document_changed_during_the_backup_fails_it_without_naming_the_file(
    change: str,
    home: BackupHome,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    docs = tmp_path / "documents"
    docs.mkdir()
    (docs / "a-first.txt").write_bytes(b"stays as it is")
    victim = docs / "notes Canary Person.txt"
    victim.write_bytes(b"x" * 5000)

    def listed_then_changed(folder: Path) -> list[object]:
        listing = documents_in(folder)  # sizes are taken here ...
        if change == "delete":  # ... and the file changes before it is packed
            victim.unlink()
        else:
            victim.write_bytes(b"x" * (10 if change == "shrink" else 9000))
        return listing  # type: ignore[return-value]

    monkeypatch.setattr(backup_module, "documents_in", listed_then_changed)
    home.policy("acme-sas", connection=None, documents=docs)
    run = home.cli("backup", "acme-sas")

    assert run.rc == 1
    assert "document documents/000001 (file 2 of the documents folder" in run.err
    assert "retry the backup" in run.err
    assert "Canary" not in run.err and "Traceback" not in run.err
    [attempt] = home.points("acme-sas")
    assert attempt.status == "failed"
    assert "documents/000001" in (attempt.reason or "")
    assert "Canary" not in (attempt.reason or "")
    assert not home.folder_path(attempt.key).exists()


def test_kms_custody_at_debug_never_logs_the_client_identity(
    make_home: Callable[[str], BackupHome],
    databases: Databases,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """KMS Encrypt's request body and Decrypt's answer body are the identity itself."""
    log_everything_at_debug(caplog)
    home = make_home("aws-kms")
    rp = backed_up(home, databases, monkeypatch)
    assert home.cli("verify", rp.id).rc == 0  # unwraps the identity through KMS
    identity = home.installation().keyring.identity_for("acme-sas").to_string()
    spelled = base64.b64encode(identity.encode()).decode()
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert any(r.name.startswith("botocore") for r in caplog.records)  # DEBUG was on
    for canary in (identity, identity.split("1", 1)[1][:24], spelled[:40]):
        assert canary not in logged
