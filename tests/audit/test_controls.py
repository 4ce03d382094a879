"""Each control fails when its order-form promise is broken and passes when it is kept.

Snapshots are built by hand (``snapshots``): the controls are pure, so no catalog,
store or clock is needed, and each test changes exactly one fact of a healthy client.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from retention_pipeline.domain.audit_snapshot import CertificateFacts, KeyFacts
from retention_pipeline.domain.controls import CONTROLS, Grace, evaluate, summary
from retention_pipeline.ports.catalog import ErasureRequest
from tests.audit.snapshots import (
    CLIENT,
    KEY_FP,
    NOW,
    STRANGER_FP,
    T0,
    check,
    copy,
    day,
    healthy,
    period,
    point,
    policy,
    result,
    snapshot,
)


def test_the_table_lists_the_ten_controls_of_the_issue_in_order() -> None:
    assert [c.id for c in CONTROLS] == [f"C{n}" for n in range(1, 11)]
    assert all(c.check.__doc__ for c in CONTROLS)  # each says which promise it checks


def test_a_healthy_client_has_no_non_compliant_control() -> None:
    results = evaluate(snapshot(), NOW)
    assert summary(results) == {"compliant": 8, "non_compliant": 0, "not_applicable": 2}
    assert {r.client_id for r in results} == {CLIENT, "*"}


# -- C1: an active option has a policy version and a client key ---------------------------


def test_c1_passes_with_a_policy_version_and_an_active_key() -> None:
    found = result("C1", healthy())
    assert found.verdict == "compliant"
    assert found.evidence["key_fingerprint"] == KEY_FP


def test_c1_fails_without_a_client_key() -> None:
    assert result("C1", healthy(key=None)).verdict == "non_compliant"


def test_c1_fails_when_the_key_was_destroyed_but_the_option_is_on() -> None:
    destroyed = KeyFacts(KEY_FP, "destroyed", T0)
    assert result("C1", healthy(key=destroyed)).verdict == "non_compliant"


def test_c1_does_not_apply_when_every_option_is_off() -> None:
    off = policy(backup={"mode": "off"}, archive={"enabled": False})
    assert result("C1", healthy(policy=off, key=None)).verdict == "not_applicable"


def test_c1_does_not_apply_once_the_client_was_erased() -> None:
    destroyed = KeyFacts(KEY_FP, "destroyed", T0)
    erased = healthy(key=destroyed, erasure_requests=(request(),))
    found = result("C1", erased)
    assert found.verdict == "not_applicable"
    assert found.evidence["erasure_requests"] == ["er-1"]
    running = healthy(key=destroyed, erasure_requests=(request(status="running"),))
    assert result("C1", running).verdict == "non_compliant"


# -- C2: last complete backup within schedule plus grace ---------------------------------


def test_c2_passes_while_the_missed_slot_is_within_its_grace() -> None:
    # the 02:00 slot of the next day fired 1h30 ago: still within the 2h grace
    now = NOW.replace(hour=3, minute=30) + timedelta(days=1)
    assert result("C2", healthy(), now=now).verdict == "compliant"


def test_c2_fails_when_a_slot_is_missed_past_its_grace() -> None:
    now = NOW.replace(hour=4, minute=1) + timedelta(days=1)
    found = result("C2", healthy(), now=now)
    assert found.verdict == "non_compliant"
    assert found.evidence["due_slot"] == "2026-06-16T02:00:00+00:00"
    assert found.evidence["last_recovery_point"] == "rp-00"


def test_c2_grace_is_configurable() -> None:
    now = NOW.replace(hour=4, minute=1) + timedelta(days=1)
    assert result("C2", healthy(), now=now, grace=Grace(schedule=timedelta(hours=3))).verdict == (
        "compliant"
    )


def test_c2_does_not_apply_to_semi_manual_backups() -> None:
    manual = policy(backup={"mode": "semi_manual", "schedule": None})
    assert result("C2", healthy(policy=manual)).verdict == "not_applicable"


def test_c2_passes_for_a_client_switched_on_after_the_last_due_slot() -> None:
    fresh = healthy(recovery_points=(), history=(period(at=NOW - timedelta(hours=1)),))
    assert result("C2", fresh).verdict == "compliant"


# -- C3: nothing past max_age, nothing deleted before min_age ----------------------------


def test_c3_passes_when_every_point_is_within_its_bounds() -> None:
    assert result("C3", healthy()).verdict == "compliant"


def test_c3_fails_when_a_point_outlived_max_age_and_grace() -> None:
    old = point("rp-old", day(37))  # 35d + 1d grace ran out
    client = healthy()
    found = result("C3", replace(client, recovery_points=(old, *client.recovery_points)))
    assert found.verdict == "non_compliant"
    assert found.evidence["kept_too_long_ids"] == ["rp-old"]


def test_c3_fails_when_retention_deleted_a_point_before_min_age() -> None:
    early = point("rp-early", day(5), status="deleted", deleted_at=day(3), reason="retention: x")
    client = healthy()
    found = result("C3", replace(client, recovery_points=(*client.recovery_points, early)))
    assert found.verdict == "non_compliant"
    assert found.evidence["deleted_too_early_ids"] == ["rp-early"]


def test_c3_a_legal_hold_keeps_old_points_compliantly() -> None:
    old = point("rp-old", day(60))
    held = policy(legal_hold={"active": True})
    client = healthy(policy=held)
    client = replace(client, recovery_points=(old, *client.recovery_points))
    assert result("C3", client).verdict == "compliant"


# -- C4: encrypted to exactly the recipients of the policy -------------------------------


def test_c4_passes_when_each_point_has_the_recipients_of_its_policy_version() -> None:
    assert result("C4", healthy()).verdict == "compliant"


def test_c4_fails_for_a_point_encrypted_to_a_stranger_too() -> None:
    client = healthy()
    bad = point("rp-bad", day(2) + timedelta(hours=1), recipients=(KEY_FP, STRANGER_FP))
    found = result("C4", replace(client, recovery_points=(*client.recovery_points, bad)))
    assert found.verdict == "non_compliant"
    assert found.evidence["mismatched_ids"] == ["rp-bad"]


def test_c4_follows_the_policy_version_in_force_when_each_point_was_made() -> None:
    # v2 (day 10) says the hoster must no longer decrypt: the client's key only
    history = (period(1), period(2, day(10), recipients=frozenset({STRANGER_FP})))
    points = (point("rp-a", day(12)), point("rp-b", day(8), recipients=(STRANGER_FP,)))
    assert result("C4", healthy(history=history, recovery_points=points)).verdict == "compliant"
    wrong = (point("rp-c", day(8)),)  # still to the hoster key after v2
    assert result("C4", healthy(history=history, recovery_points=wrong)).verdict == (
        "non_compliant"
    )


# -- C5: archive copies per period, on another store, declared location and lock ---------


def test_c5_passes_with_one_locked_copy_per_month() -> None:
    assert result("C5", healthy()).verdict == "compliant"


def test_c5_fails_when_a_month_has_no_copy() -> None:
    client = healthy()
    found = result("C5", replace(client, archive_copies=client.archive_copies[1:]))
    assert found.verdict == "non_compliant"
    assert found.evidence["missing_period_starts"] == ["2026-05-01T00:00:00+00:00"]


def test_c5_fails_for_a_copy_on_the_backup_store() -> None:
    client = healthy()
    first, second = client.archive_copies
    moved = replace(second, store="backups")
    found = result("C5", replace(client, archive_copies=(first, moved)))
    assert found.verdict == "non_compliant"
    assert found.evidence["wrong_store_ids"] == [second.id]


def test_c5_fails_for_a_copy_without_the_declared_lock() -> None:
    client = healthy()
    first, second = client.archive_copies
    weak = replace(second, lock_mode="governance")
    short = replace(first, lock_until=first.created_at + timedelta(days=30))
    found = result("C5", replace(client, archive_copies=(short, weak)))
    assert found.verdict == "non_compliant"
    assert found.evidence["wrong_lock_ids"] == sorted([first.id, second.id])


# -- C6: stores in the declared locations ------------------------------------------------


def test_c6_passes_when_everything_sits_in_the_declared_location() -> None:
    found = result("C6", healthy())
    assert found.verdict == "compliant"
    assert found.evidence["declared"]["backup"] == {"store": "backups", "location": "eu-west-3"}


def test_c6_fails_for_a_backup_stored_in_another_region() -> None:
    client = healthy()
    abroad = point("rp-us", day(1) + timedelta(hours=1), store="backups-us")
    found = result("C6", replace(client, recovery_points=(*client.recovery_points, abroad)))
    assert found.verdict == "non_compliant"
    assert found.evidence["misplaced_ids"] == ["rp-us"]


def test_c6_fails_when_the_declared_store_states_no_location() -> None:
    unstated = policy(archive={"storage": "archives-nowhere"})
    found = result("C6", healthy(policy=unstated, archive_copies=()))
    assert found.verdict == "non_compliant"
    assert found.evidence["stores_without_location"] == ["archives-nowhere"]


# -- C7: rolling verification and restore drills -----------------------------------------


def test_c7_passes_when_every_point_was_verified_and_a_drill_passed() -> None:
    assert result("C7", healthy()).verdict == "compliant"


def test_c7_fails_when_a_point_was_not_verified_within_the_window() -> None:
    client = healthy()
    checks = tuple(c for c in client.integrity_checks if c.recovery_point_id != "rp-20")
    found = result("C7", replace(client, integrity_checks=checks), verify_window_days=10)
    assert found.verdict == "non_compliant"
    assert found.evidence["unverified_ids"] == ["rp-20"]


def test_c7_a_young_point_is_not_yet_due_for_verification() -> None:
    client = healthy()
    checks = tuple(c for c in client.integrity_checks if c.recovery_point_id != "rp-02")
    assert result("C7", replace(client, integrity_checks=checks)).verdict == "compliant"


def test_c7_fails_when_the_latest_restore_drill_failed() -> None:
    client = healthy()
    failed = check(client.recovery_points[-1], NOW - timedelta(hours=3), "restore_drill", "failed")
    found = result("C7", replace(client, integrity_checks=(*client.integrity_checks, failed)))
    assert found.verdict == "non_compliant"
    assert found.evidence["last_drill_result"] == "failed"


def test_c7_fails_without_a_drill_within_the_drill_window() -> None:
    assert result("C7", healthy(), drill_window_days=7).verdict == "non_compliant"


# -- C8: erasures on time, with a certificate that verifies ------------------------------


def request(
    status: str = "completed", finished_after: timedelta | None = timedelta(days=2)
) -> ErasureRequest:
    created = NOW - timedelta(days=20)
    return ErasureRequest(
        id="er-1", client_id=CLIENT, trigger="client_request", requested_by="staff-0001",
        approved_by="staff-0002", request_ref=None, status=status, created_at=created,
        finished_at=created + finished_after if finished_after else None, details={},
    )  # fmt: skip


def certificate(verified: bool = True) -> CertificateFacts:
    return CertificateFacts("cert-1", "er-1", "completed", NOW - timedelta(days=18), verified)


def test_c8_passes_for_an_erasure_finished_in_time_with_a_verified_certificate() -> None:
    client = healthy(erasure_requests=(request(),), certificates=(certificate(),))
    assert result("C8", client).verdict == "compliant"


def test_c8_fails_when_the_certificate_does_not_verify() -> None:
    client = healthy(erasure_requests=(request(),), certificates=(certificate(False),))
    found = result("C8", client)
    assert found.verdict == "non_compliant"
    assert found.evidence["unverified_certificate_ids"] == ["cert-1"]


def test_c8_fails_when_the_erasure_finished_after_its_deadline() -> None:
    late = request(finished_after=timedelta(days=31))
    client = healthy(erasure_requests=(late,), certificates=(certificate(),))
    assert result("C8", client, now=NOW + timedelta(days=20)).verdict == "non_compliant"


def test_c8_fails_when_an_ended_contract_was_not_erased() -> None:
    ended = policy(contract={"ends_on": "2026-04-01"}, erasure={"after_contract_end": "30d"})
    found = result("C8", healthy(policy=ended))
    assert found.verdict == "non_compliant"
    assert found.evidence["erasure_not_started"] is True
    assert found.evidence["contract_erasure_due"] == "2026-05-02T00:00:00+00:00"


def test_c8_a_running_request_within_its_deadline_is_compliant() -> None:
    running = request(status="running", finished_after=None)
    assert result("C8", healthy(erasure_requests=(running,))).verdict == "compliant"


# -- C9: evidence chain and certificate log ----------------------------------------------


def test_c9_passes_when_both_logs_are_consistent() -> None:
    assert result("C9", healthy()).verdict == "compliant"


def test_c9_fails_when_the_evidence_chain_is_broken() -> None:
    found = result("C9", healthy(), chain_ok=False)
    assert found.verdict == "non_compliant"
    assert found.evidence["evidence_first_bad_seq"] == 7


def test_c9_fails_when_the_certificate_log_is_inconsistent() -> None:
    assert result("C9", healthy(), log_ok=False).verdict == "non_compliant"


# -- C10: nothing processed while an option was off --------------------------------------


SWITCHED_ON = day(20)
HISTORY = (period(1, T0, backup=False, archive=False), period(2, SWITCHED_ON))


def test_c10_passes_when_processing_started_after_the_option_was_on() -> None:
    rp = point("rp-a", day(19))
    client = healthy(history=HISTORY, recovery_points=(rp,), archive_copies=(copy("ac-a", rp),))
    assert result("C10", client).verdict == "compliant"


def test_c10_fails_for_a_backup_made_while_the_option_was_off() -> None:
    client = healthy(
        history=HISTORY, recovery_points=(point("rp-early", day(25)),), archive_copies=()
    )
    found = result("C10", client)
    assert found.verdict == "non_compliant"
    assert found.evidence["recovery_point_ids"] == ["rp-early"]


def test_c10_fails_for_an_archive_copy_made_while_archives_were_off() -> None:
    history = (period(1, T0, archive=False),)
    rp = point("rp-a", day(3))
    client = healthy(history=history, recovery_points=(rp,), archive_copies=(copy("ac-x", rp),))
    found = result("C10", client)
    assert found.verdict == "non_compliant"
    assert found.evidence["archive_copy_ids"] == ["ac-x"]


# -- the evaluation as a whole -----------------------------------------------------------


@pytest.mark.parametrize("now", [NOW.replace(tzinfo=None)])
def test_a_naive_now_is_refused(now: object) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(snapshot(), now)  # type: ignore[arg-type]


def test_evidence_holds_no_personal_field_of_the_order_form() -> None:
    personal = policy(display_name="ACME SAS", purpose="Restore for Jane Doe")
    text = repr(evaluate(snapshot(healthy(policy=personal)), NOW))
    assert "ACME" not in text and "Jane" not in text
