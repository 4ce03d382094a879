"""``build_snapshot`` proves what controls only read: certificates and the certificate log.

A real SQLite catalog with certificates appended through the real certificate log;
tampering the way an intruder would (editing a row) must show in the snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from retention_pipeline.adapters.catalog import SqlCatalog, open_catalog
from retention_pipeline.domain.settings import Settings
from retention_pipeline.envelope.bundle import sign_certificate
from retention_pipeline.services.audit import build_snapshot
from retention_pipeline.services.transparency import CertificateLog
from tests.certificates.support import ISSUED, KEY, ORIGIN, OTHER_KEY, predicate

CLIENT = "acme-sas"
NOW = ISSUED + timedelta(days=1)


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[SqlCatalog]:
    """A catalog whose client has three certificates in the log."""
    with open_catalog(f"sqlite:///{tmp_path}/catalog.db") as opened:
        opened.record_policy_version(CLIENT, {"client": CLIENT}, [], "test", ISSUED)
        log = CertificateLog(opened, lambda: KEY, ORIGIN)
        for n in range(3):
            envelope = sign_certificate(predicate(certificate_id=f"cert-{n}"), KEY)
            log.append(
                envelope,
                certificate_id=f"cert-{n}",
                client_id=CLIENT,
                status="completed",
                issued_at=ISSUED,
            )
        yield opened


def test_an_intact_log_verifies_every_certificate_and_the_last_checkpoints(
    catalog: SqlCatalog,
) -> None:
    snapshot = build_snapshot(catalog, Settings(), KEY.public_key(), NOW)
    (client,) = snapshot.clients
    assert [c.verified for c in client.certificates] == [True, True, True]
    log = snapshot.certificate_log
    assert (log.ok, log.old_size, log.new_size) == (True, 2, 3)
    assert snapshot.evidence.ok


def test_another_key_verifies_nothing(catalog: SqlCatalog) -> None:
    snapshot = build_snapshot(catalog, Settings(), OTHER_KEY.public_key(), NOW)
    assert not any(c.verified for c in snapshot.clients[0].certificates)
    assert not snapshot.certificate_log.ok


def test_a_rewritten_leaf_breaks_the_log_and_the_evidence_chain(catalog: SqlCatalog) -> None:
    with catalog.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE certificates SET envelope_sha256 = :h WHERE leaf_index = 0"),
            {"h": "e" * 64},
        )
        conn.execute(sa.text("UPDATE evidence_log SET actor = 'intruder' WHERE seq = 1"))
    snapshot = build_snapshot(catalog, Settings(), KEY.public_key(), NOW)
    assert not snapshot.certificate_log.ok
    assert not snapshot.clients[0].certificates[0].verified  # its bundle names another leaf
    assert (snapshot.evidence.ok, snapshot.evidence.first_bad_seq) == (False, 1)


def test_records_after_now_are_left_out(catalog: SqlCatalog) -> None:
    snapshot = build_snapshot(catalog, Settings(), KEY.public_key(), ISSUED - timedelta(days=1))
    (client,) = snapshot.clients
    assert client.policy is None and client.certificates == ()
