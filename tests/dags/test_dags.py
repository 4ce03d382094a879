"""The five DAGs, run by real Airflow 3.3 (``dag.test()``) against a real installation."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from retention_pipeline import bootstrap, tasks
from retention_pipeline.domain.object_keys import recovery_point_key
from retention_pipeline.local_airflow import AirflowEnv, DagRunRefusedError
from retention_pipeline.ports.catalog import NewRecoveryPoint
from tests.dags.conftest import (
    CANARY_DISPLAY,
    CANARY_EMAIL,
    CANARY_NAME,
    RetentionHome,
    build_home,
)
from tests.support.crm import create_crm_schema, fill_crm
from tests.support.moto import MotoEndpoint
from tests.support.services import scratch_postgres_database

TICK = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
PRODUCT_DAGS = {
    "backup_crm_databases",
    "backup_on_demand",
    "archive_backups",
    "enforce_retention",
    "certified_erasure",
    "verify_backups",
    "audit_compliance",
}


def points(home: RetentionHome) -> list[str]:
    catalog = bootstrap.load_installation(home.path).catalog
    return [p.id for p in catalog.list_recovery_points(statuses=["complete"])]


def test_every_dag_file_imports_without_errors_and_without_touching_the_catalog(
    airflow: AirflowEnv,
) -> None:
    report = airflow.check_dags()
    assert report.import_errors == {}
    assert set(report.dag_ids) >= PRODUCT_DAGS
    assert report.warnings == ()  # every pool our DAGs use exists


def test_scheduled_backup_maps_one_task_per_due_client_and_a_rerun_adds_nothing(
    airflow: AirflowEnv, home: RetentionHome
) -> None:
    run = airflow.run_dag("backup_crm_databases", logical_date=TICK, config=home.env)
    assert run.state == "success", run.log_text()[-3000:]
    mapped = run.mapped("back_up")
    assert sorted(t.rendered_map_index for t in mapped) == ["acme-sas", "globex-io"]
    assert all(t.pool == "crm_dumps" for t in mapped)
    assert run.xcom("list_due_clients") == [["acme-sas"], ["globex-io"]]
    first = sorted(points(home))
    assert len(first) == 2

    again = airflow.run_dag("backup_crm_databases", logical_date=TICK, config=home.env)
    assert again.state == "success"
    assert sorted(points(home)) == first  # same slot: nothing new


def test_on_demand_backup_records_the_requester_and_refuses_a_client_whose_option_is_off(
    airflow: AirflowEnv, home: RetentionHome
) -> None:
    conf = {"client": "acme-sas", "requested_by": "support-42", "reason": "TICKET-1234"}
    run = airflow.run_dag("backup_on_demand", conf=conf, config=home.env)
    assert run.state == "success", run.log_text()[-3000:]
    catalog = bootstrap.load_installation(home.path).catalog
    (rp,) = catalog.list_recovery_points("acme-sas")
    assert rp.requested_by == "support-42" and rp.status == "complete"

    off = {"client": "initech-off", "requested_by": "support-42", "reason": "TICKET-1235"}
    refused = airflow.run_dag("backup_on_demand", conf=off, config=home.env)
    assert refused.state == "failed"
    assert "no active backup option" in refused.log_text()
    actions = [(e.action, e.subjects.get("client")) for e in catalog.evidence_entries()]
    assert ("backup.refused", "initech-off") in actions
    assert catalog.list_recovery_points("initech-off") == []


def test_on_demand_params_are_validated_before_any_run_exists(
    airflow: AirflowEnv, home: RetentionHome
) -> None:
    bad = {"client": "Not A Client!", "requested_by": "support-42", "reason": "TICKET-1"}
    with pytest.raises(DagRunRefusedError):
        airflow.run_dag("backup_on_demand", conf=bad, config=home.env)


def test_archive_then_retention_in_airflow(airflow: AirflowEnv, home: RetentionHome) -> None:
    assert (
        airflow.run_dag("backup_crm_databases", logical_date=TICK, config=home.env).state
        == "success"
    )
    archived = airflow.run_dag("archive_backups", logical_date=TICK, config=home.env)
    assert archived.state == "success", archived.log_text()[-3000:]
    catalog = bootstrap.load_installation(home.path).catalog
    copies = catalog.list_archive_copies()
    assert {c.client_id for c in copies} == {"acme-sas", "globex-io"}
    assert all(c.store == "archives" for c in copies)

    later = datetime(2027, 2, 1, tzinfo=UTC)  # past the 35-day max_age of both points
    # what a backup killed after its upload leaves: a pending row and its object
    installation = bootstrap.load_installation(home.path)
    killed = installation.catalog.add_recovery_point(
        NewRecoveryPoint(
            id="rp-20270101T000000Z-0badc0de",
            client_id="acme-sas",
            store="backups",
            key=recovery_point_key("acme-sas", "rp-20270101T000000Z-0badc0de"),
            created_at=datetime(2027, 1, 1, tzinfo=UTC),
        )
    )
    orphan = killed.key
    installation.store("backups").put(orphan, [b"partial"])
    # and what a lost or older catalog looks like: an object no row records (kept)
    unknown = "globex-io/recovery-points/rp-20261231T000000Z-00c0ffee.tar.zst.age"
    installation.store("backups").put(unknown, [b"a backup the catalog forgot"])
    dry = airflow.run_dag(
        "enforce_retention", conf={"dry_run": True}, logical_date=later, config=home.env
    )
    assert dry.state == "success"
    assert len(points(home)) == 2
    assert dry.xcom("clean_up_leftovers") == {"dry_run": True}
    assert (home.path / "stores" / "backups" / orphan).exists()
    real = airflow.run_dag("enforce_retention", logical_date=later, config=home.env)
    assert real.state == "success"
    assert points(home) == []
    cleaned = real.xcom("clean_up_leftovers")
    assert cleaned["deleted_versions"] == 1 and cleaned["aborted_uploads"] == 0
    assert cleaned["abandoned"] == 1 and cleaned["unknown_kept"] == 1
    assert not (home.path / "stores" / "backups" / orphan).exists()
    assert (home.path / "stores" / "backups" / unknown).exists()
    reports = sorted(Path(p).name for p in (home.path / "reports").iterdir())
    assert any(name.endswith("-dry-run.json") for name in reports)
    assert any(name.endswith(".csv") and "dry-run" not in name for name in reports)


def test_no_personal_data_or_key_reaches_airflow(airflow: AirflowEnv, home: RetentionHome) -> None:
    airflow.run_dag("backup_crm_databases", logical_date=TICK, config=home.env)
    airflow.run_dag(
        "backup_on_demand",
        conf={"client": "globex-io", "requested_by": "support-42", "reason": "TICKET-9"},
        config=home.env,
    )
    airflow.run_dag("archive_backups", logical_date=TICK, config=home.env)
    installation = bootstrap.load_installation(home.path)
    identity = installation.keyring.identity_for("acme-sas").to_string()
    master = (home.path / "keys" / "master.key").read_bytes()
    needles = [CANARY_EMAIL, CANARY_NAME, CANARY_DISPLAY, identity, master.hex()]
    assert airflow.search_metadata_db(needles) == []
    # The search does see what Airflow stores: the opaque ids are there.
    assert airflow.search_metadata_db(["globex-io"]) != []


def test_scheduled_backup_with_the_production_kind_of_components(
    airflow: AirflowEnv,
    tmp_path: Path,
    postgres_url: str,
    mariadb_url: str,
    moto: MotoEndpoint,
) -> None:
    """PostgreSQL catalog, S3 store on moto's HTTP server, PostgreSQL and MariaDB sources."""
    bucket = f"dagtest-{uuid.uuid4().hex[:12]}"
    moto.client("s3").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": moto.region}
    )
    moto.client("s3").put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    with scratch_postgres_database() as catalog_url:
        store = f'{{url: "s3://{bucket}/backups", endpoint_url: "{moto.url}", location: eu-west-3}}'
        home = build_home(tmp_path, catalog=catalog_url, backups=store)
        for url in (postgres_url, mariadb_url):
            create_crm_schema(url)
            fill_crm(url, contacts=30, seed=7)
        home.env |= {
            "DAGTEST_CRM_A": postgres_url,
            "DAGTEST_CRM_B": mariadb_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
        run = airflow.run_dag("backup_crm_databases", logical_date=TICK, config=home.env)
        assert run.state == "success", run.log_text()[-3000:]
        installation = bootstrap.load_installation(home.path)
        done = installation.catalog.list_recovery_points(statuses=["complete"])
        assert sorted(p.client_id for p in done) == ["acme-sas", "globex-io"]
        listed = moto.client("s3").list_object_versions(Bucket=bucket)["Versions"]
        assert sorted(v["Key"] for v in listed) == sorted(f"backups/{p.key}" for p in done)
        for point in done:
            assert installation.restore_service().verify(point.id).ok


def test_more_clients_than_airflow_can_map_are_batched_not_failed() -> None:
    ids = [f"client-{n:05d}" for n in range(2500)]
    batches = tasks.batches(ids)
    assert len(batches) <= tasks.MAX_BATCHES
    assert [i for batch in batches for i in batch] == ids
    assert tasks.batches(ids[:1024]) == [[i] for i in ids[:1024]]
    assert tasks.batch_label(batches[0]) == "client-00000 +2"


def erase_conf(client: str, **extra: object) -> dict[str, object]:
    conf: dict[str, object] = {
        "client": client,
        "trigger": "client_request",
        "requested_by": "ops-alice",
        "approved_by": "dpo-bob",
        "request_ref": "REQ-77",
    }
    return conf | extra


def test_certified_erasure_in_airflow_erases_and_issues_a_verifiable_certificate(
    airflow: AirflowEnv, home: RetentionHome, capsys: pytest.CaptureFixture[str]
) -> None:
    assert airflow.run_dag("backup_crm_databases", logical_date=TICK, config=home.env).state == (
        "success"
    )
    same_person = erase_conf("acme-sas", approved_by="ops-alice")
    refused = airflow.run_dag("certified_erasure", conf=same_person, config=home.env)
    assert refused.state == "failed"
    assert points(home) and len(points(home)) == 2  # nothing deleted

    run = airflow.run_dag("certified_erasure", conf=erase_conf("acme-sas"), config=home.env)
    assert run.state == "success", run.log_text()[-3000:]
    (task,) = run.mapped("erase")
    assert task.rendered_map_index == "acme-sas"
    result = run.xcom("erase", 0)
    assert result["status"] == "completed" and result["certificate"]

    installation = bootstrap.load_installation(home.path)
    assert [
        p.client_id for p in installation.catalog.list_recovery_points(statuses=["complete"])
    ] == ["globex-io"]
    (cert,) = installation.catalog.list_certificates("acme-sas")
    bundle = home.path / "bundle.json"
    bundle.write_text(json.dumps(cert.bundle))
    assert home.cli("certificate", "pubkey") == 0
    pem = (
        capsys.readouterr().out.split("-----END PUBLIC KEY-----")[0] + "-----END PUBLIC KEY-----\n"
    )
    (home.path / "pub.pem").write_text(pem)
    assert (
        home.cli("certificate", "verify", str(bundle), "--pubkey", str(home.path / "pub.pem")) == 0
    )
    assert airflow.search_metadata_db([CANARY_DISPLAY, CANARY_EMAIL, CANARY_NAME]) == []


def test_the_daily_sweep_erases_clients_whose_contract_ended(
    airflow: AirflowEnv, home: RetentionHome
) -> None:
    policy = home.path / "policies" / "globex-io.yaml"
    policy.write_text(
        policy.read_text()
        + "contract: {reference: BC-1, ends_on: 2026-09-01}\n"
        + "erasure: {after_contract_end: 30d, approval: none}\n"
    )
    assert home.cli("policy", "apply") == 0
    airflow.run_dag("backup_crm_databases", logical_date=TICK, config=home.env)
    sweep = airflow.run_dag("certified_erasure", logical_date=TICK, config=home.env)
    assert sweep.state == "success", sweep.log_text()[-3000:]
    assert [t.rendered_map_index for t in sweep.mapped("erase")] == ["globex-io"]
    installation = bootstrap.load_installation(home.path)
    assert installation.catalog.list_recovery_points("globex-io", statuses=["complete"]) == []
    (cert,) = installation.catalog.list_certificates("globex-io")
    assert cert.status == "completed"
    again = airflow.run_dag("certified_erasure", logical_date=TICK, config=home.env)
    assert again.state == "success"
    assert [t.state for t in again.tasks if t.task_id == "erase"] in ([], ["skipped"])
