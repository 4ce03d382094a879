"""One broken order form per case: every problem is one exact line at the right place.

A person fixing a policy reads these lines in CI or in their editor; the file, the line,
the field path and the hint are what they rely on, so each is asserted verbatim.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from retention_pipeline.errors import ConfigError
from retention_pipeline.services.policy_check import check_policy_text, load_policies
from tests.policy.examples import GOOD_POLICY, POLICY_FILE, SETTINGS

F = POLICY_FILE
DURATION_HINT = "use a number and one unit of h, d, w, y, like 35d (y is 365 days)"
CLIENT_HINT = "use 3 to 63 characters of a-z, 0-9 and '-' (no capitals, '.', '/' or spaces)"
CRON_HINT = 'use 5 fields "minute hour day-of-month month day-of-week" in UTC, like "0 2 * * *"'
NAMED = "use a named connection from retention.yaml (source.database.connection)"
ARCHIVE_REQUIRED = "is required when the archive is enabled"

# (case id, text to replace in GOOD_POLICY, replacement, every expected problem line)
CASES = [
    ("misspelled-top-field", "purpose:", "purpos:",
     [f"{F}:18: purpos: is not a known field; did you mean 'purpose'?"]),
    ("misspelled-nested-field", "daily: 7", "daly: 7",
     [f"{F}:11: backup.retention.keep.daly: is not a known field; did you mean 'daily'?"]),
    ("misspelled-section-field", "  retention: {max_age: 35d", "  retension: {max_age: 35d",
     [f"{F}:7: backup.retention.max_age: is required when backup.mode is automated; "
      "say how long each backup is kept, like max_age: 35d",
      f"{F}:11: backup.retension: is not a known field; did you mean 'retention'?"]),
    ("unknown-field-no-match", "  every: monthly", "  every: monthly\n  zzz: 1",
     [f"{F}:15: archive.zzz: is not a known field; remove it; fields accepted here: "
      "enabled, every, lock, retention, storage"]),
    ("yaml-syntax", "  storage: backups-eu", "  storage: [backups-eu",
     [f"{F}:11: -: expected ',' or ']', but got ':'; "
      "fix the YAML syntax (indentation, quotes, a missing ':')"]),
    ("duplicate-key", "legal_basis: contract", "legal_basis: contract\nlegal_basis: consent",
     [f"{F}:20: legal_basis: written twice (first at line 19); keep only one of them"]),
    ("duration-with-words", "max_age: 35d", "max_age: 35 days",
     [f"{F}:11: backup.retention.max_age: is not a duration (got '35 days'); {DURATION_HINT}"]),
    ("duration-fraction", "after_contract_end: 30d", "after_contract_end: 3.5d",
     [f"{F}:22: erasure.after_contract_end: is not a duration (got '3.5d'); {DURATION_HINT}"]),
    ("duration-bare-number", "{max_age: 10y}", "{max_age: 3650}",
     [f"{F}:16: archive.retention.max_age: is not a duration (got 3650); {DURATION_HINT}"]),
    ("cron-out-of-range", '"0 2 * * *"', '"0 25 * * *"',
     [f"{F}:9: backup.schedule: not a valid schedule (is not acceptable, out of range) "
      f"(got '0 25 * * *'); {CRON_HINT}"]),
    ("cron-six-fields", '"0 2 * * *"', '"0 0 2 * * *"',
     [f"{F}:9: backup.schedule: a schedule needs 5 fields, this one has 6 "
      f"(got '0 0 2 * * *'); {CRON_HINT}"]),
    ("archive-on-backup-store", "storage: archives-eu-cold", "storage: backups-eu",
     [f"{F}:15: archive.storage: is the backup store (got 'backups-eu'); "
      "archives must survive the loss of the backup store: name another store"]),
    ("unknown-store", "storage: backups-eu", "storage: backups-us",
     [f"{F}:10: backup.storage: is not one of the stores of retention.yaml (got 'backups-us'); "
      "use one of: archives-eu-cold, backups-eu"]),
    ("unknown-connection", "connection: acme_crm", "connection: other_crm",
     [f"{F}:5: source.database.connection: is not one of the connections of retention.yaml "
      "(got 'other_crm'); use one of: acme_crm"]),
    ("backup-min-over-max", "min_age: 7d", "min_age: 60d",
     [f"{F}:11: backup.retention.min_age: is longer than max_age 35d (got '60d'); "
      "make min_age at most max_age, or raise max_age"]),
    ("archive-min-over-max", "{max_age: 10y}", "{max_age: 10y, min_age: 11y}",
     [f"{F}:16: archive.retention.min_age: is longer than max_age 10y (got '11y'); "
      "make min_age at most max_age, or raise max_age"]),
    ("compliance-lock-outlasts-max-age", "days: 3650", "days: 4000",
     [f"{F}:17: archive.lock.days: a compliance lock outlasts archive.retention.max_age 10y "
      "(got 4000); lower days to at most 3650 (nobody can shorten a compliance lock)"]),
    ("negative-keep", "last: 3", "last: -1",
     [f"{F}:11: backup.retention.keep.last: must be 0 or more (got -1); "
      "use a number of at least 0"]),
    ("client-dotdot", "client: acme-sas", "client: ../acme",
     [f"{F}:1: client: is not a valid client id (got '../acme'); {CLIENT_HINT}"]),
    ("client-slash", "client: acme-sas", "client: acme/sas",
     [f"{F}:1: client: is not a valid client id (got 'acme/sas'); {CLIENT_HINT}"]),
    ("client-uppercase", "client: acme-sas", "client: Acme-SAS",
     [f"{F}:1: client: is not a valid client id (got 'Acme-SAS'); {CLIENT_HINT}"]),
    ("client-too-short", "client: acme-sas", "client: ab",
     [f"{F}:1: client: is not a valid client id (got 'ab'); {CLIENT_HINT}"]),
    ("client-too-long", "client: acme-sas", "client: " + "a" * 64,
     [f"{F}:1: client: is not a valid client id (got '{'a' * 57}...'); {CLIENT_HINT}"]),
    ("inline-password", "{connection: acme_crm}", "{connection: acme_crm, password: hunter2}",
     [f"{F}:5: source.database.password: inline credentials are refused (got <redacted>); "
      f"{NAMED}"]),
    ("inline-url", "{connection: acme_crm}", '{url: "postgresql://crm@db/acme"}',
     [f"{F}:5: source.database.url: inline credentials are refused (got <redacted>); {NAMED}"]),
    ("user-pass-in-path", "/srv/crm/acme/documents", '"s3://AKIA:hunter2@bucket/docs"',
     [f"{F}:6: source.documents.path: inline credentials are refused (got <redacted>); "
      f"{NAMED}"]),
    ("unknown-mode", "mode: automated", "mode: daily",
     [f"{F}:8: backup.mode: is not an accepted value (got 'daily'); "
      "use one of 'automated', 'semi_manual' or 'off'"]),
    ("automated-without-schedule", '  schedule: "0 2 * * *"', "  # schedule: none",
     [f"{F}:7: backup.schedule: is required when backup.mode is automated; "
      'add a UTC cron, like schedule: "0 2 * * *", or use mode: semi_manual']),
    ("archive-without-storage-every-max-age",
     "  every: monthly\n  storage: archives-eu-cold\n  retention: {max_age: 10y}\n"
     "  lock: {mode: compliance, days: 3650}",
     "  # every\n  # storage\n  # retention\n  # lock",
     [f"{F}:12: archive.every: {ARCHIVE_REQUIRED}; use daily, weekly, monthly or yearly",
      f"{F}:12: archive.retention.max_age: {ARCHIVE_REQUIRED}; "
      "say how long archives are kept, like 10y",
      f"{F}:12: archive.storage: {ARCHIVE_REQUIRED}; "
      "name the archive store (a store of retention.yaml)"]),
    ("personal-field-redacted", "display_name: ACME SAS ", "display_name: [ACME, SAS]",
     [f"{F}:2: display_name: must be text (got <redacted>); "
      "write it as text, in quotes if needed"]),
    ("secret-key-as-recipient", "client_recipients: [age1", "client_recipients: [AGE-SECRET-KEY-1",
     [f"{F}:20: protection.client_recipients[0]: is a secret key, not a recipient "
      "(got <redacted>); put only the public recipient (age1...) here, "
      "and treat this key as disclosed"]),
    ("bad-recipient-checksum", "sf9767]", "sf9768]",
     [f"{F}:20: protection.client_recipients[0]: is not an age X25519 recipient "
      "(got 'age1us8apsvyhjqqcmmxwxjn684h7684y0sv8jtjhls8rsu7vd67q5yss...'); "
      "paste the client's public key as printed by age-keygen -y (age1 + 58 characters)"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("old", "new", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_broken_policy_reports_each_problem_at_its_line(
    old: str, new: str, expected: list[str]
) -> None:
    assert old in GOOD_POLICY
    policy, problems = check_policy_text(GOOD_POLICY.replace(old, new, 1), F, SETTINGS)
    assert policy is None
    assert [str(p) for p in problems] == expected


def test_no_secret_or_personal_value_reaches_a_problem_line() -> None:
    text = (
        GOOD_POLICY.replace("{connection: acme_crm}", '{url: "postgresql://u:hunter2@db/x"}')
        .replace("display_name: ACME SAS", "display_name: [ACME SAS]")
        .replace('purpose: "Restore', 'purpose: 42\npurpos: "Restore')
    )
    _, problems = check_policy_text(text, F, SETTINGS)
    joined = "\n".join(str(p) for p in problems)
    assert len(problems) >= 3
    for secret in ("hunter2", "ACME SAS", "42", "Restore after"):
        assert secret not in joined


def test_every_problem_is_reported_in_one_run() -> None:
    text = (
        GOOD_POLICY.replace("max_age: 35d", "max_age: 35D")
        .replace("mode: automated", "mode: weekly")
        .replace("days: 3650", "days: 0")
        .replace("legal_basis: contract", "legal_basis: contracts")
    )
    _, problems = check_policy_text(text, F, SETTINGS)
    assert [(p.line, p.path) for p in problems] == [
        (8, "backup.mode"),
        (11, "backup.retention.max_age"),
        (17, "archive.lock.days"),
        (19, "legal_basis"),
    ]


def test_good_example_from_the_design_validates_clean() -> None:
    policy, problems = check_policy_text(GOOD_POLICY, F, SETTINGS)
    assert problems == []
    assert policy is not None
    assert policy.client == "acme-sas"
    assert policy.backup_active and policy.archive_active and policy.processes_anything


def test_file_name_must_be_the_client_id() -> None:
    _, problems = check_policy_text(GOOD_POLICY, "policies/acme.yaml", SETTINGS)
    assert [str(p) for p in problems] == [
        "policies/acme.yaml:1: client: does not match the file name acme.yaml (got 'acme-sas'); "
        "name the file policies/acme-sas.yaml (one file per client)"
    ]


def test_without_settings_references_are_not_checked() -> None:
    text = GOOD_POLICY.replace("storage: backups-eu", "storage: elsewhere")
    policy, problems = check_policy_text(text, F, None)
    assert problems == [] and policy is not None


def test_empty_and_non_mapping_documents_are_problems() -> None:
    assert [str(p) for p in check_policy_text("", F, None)[1]] == [
        f"{F}:1: -: is empty; start with 'client: <id>'"
    ]
    assert [str(p) for p in check_policy_text("- a\n- b\n", F, None)[1]] == [
        f"{F}:1: -: must be a mapping of fields (got a list); start with 'client: <id>'"
    ]


def test_load_policies_reads_every_file_and_refuses_a_client_twice(tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "acme-sas.yaml").write_text(GOOD_POLICY, encoding="utf-8")
    (folder / "acme-sas.yml").write_text(GOOD_POLICY, encoding="utf-8")
    (folder / "dormant.yaml").write_text("client: dormant\n", encoding="utf-8")
    (folder / "broken.yaml").write_text("client: broken\nbackup: {mode: sometimes}\n", "utf-8")
    (folder / "notes.txt").write_text("not a policy", encoding="utf-8")

    policies, problems = load_policies(folder, SETTINGS)

    assert sorted(policies) == ["acme-sas", "dormant"]
    assert not policies["dormant"].processes_anything
    assert [str(p) for p in problems] == [
        f"{folder / 'acme-sas.yml'}:1: client: is also the client of acme-sas.yaml "
        "(got 'acme-sas'); "
        "keep exactly one policy file per client",
        f"{folder / 'broken.yaml'}:2: backup.mode: is not an accepted value (got 'sometimes'); "
        "use one of 'automated', 'semi_manual' or 'off'",
    ]


def test_load_policies_names_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such policies folder"):
        load_policies(tmp_path / "nowhere", SETTINGS)


def test_a_display_name_longer_than_the_catalog_keeps_is_refused_at_its_line() -> None:
    """Found before the plan: the catalog's column holds 200 characters."""
    long_name = "Jeanne " * 40
    text = GOOD_POLICY.replace("display_name: ACME SAS", f"display_name: {long_name.strip()}")
    _, problems = check_policy_text(text, F, SETTINGS)
    assert [p.path for p in problems] == ["display_name"]
    assert "Jeanne" not in str(problems[0])
