"""What an operator sees from ``policy validate`` and ``policy apply``."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from retention_pipeline.cli.main import main
from tests.policy.test_documents import alias_bomb
from tests.support.limits import run_limited


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_apply_prints_the_plan_then_records_one_version_per_client(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "policy", "apply", "--home", str(home), "--actor", "op-1")
    assert code == 0
    assert "plan: 3 added, 0 changed, 0 removed, 0 unchanged" in out
    assert "recorded atelier-dupont policy v1 by op-1" in out

    code, out, _ = run(capsys, "policy", "apply", "--home", str(home), "--actor", "op-1")
    assert code == 0
    assert "plan: 0 added, 0 changed, 0 removed, 3 unchanged" in out
    assert "nothing to record" in out


def test_a_changed_field_is_planned_field_by_field_and_personal_values_are_hidden(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "policy", "apply", "--home", str(home))
    path = home / "policies" / "atelier-dupont.yaml"
    text = path.read_text().replace("max_age: 35d", "max_age: 40d")
    text = text.replace("Atelier Dupont SARL", "Atelier Dupont SAS")
    path.write_text(text.replace("sources/atelier-dupont/documents", "docs/Dupont Jeanne"))
    code, out, _ = run(capsys, "policy", "apply", "--home", str(home), "--actor", "op-2")
    assert code == 0
    assert "~ atelier-dupont: changed" in out
    assert "backup.retention.max_age: 35d -> 40d" in out
    assert "display_name: <redacted> -> <redacted>" in out
    assert "source.documents.path: <redacted> -> <redacted>" in out
    assert "Dupont SAS" not in out and "Jeanne" not in out

    code, out, _ = run(capsys, "policy", "history", "atelier-dupont", "--home", str(home), "--json")
    versions = json.loads(out)
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[1]["actor"] == "op-2"
    assert versions[1]["changed_fields"] == [
        "backup.retention.max_age",
        "display_name",
        "source.documents.path",
    ]


def test_a_removed_file_removes_the_client_when_the_whole_folder_is_applied(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "policy", "apply", "--home", str(home))
    (home / "policies" / "cabinet-martin.yaml").unlink()
    code, out, _ = run(capsys, "policy", "apply", "--home", str(home))
    assert code == 0
    assert "- cabinet-martin: removed" in out
    code, out, _ = run(capsys, "clients", "--home", str(home), "--json")
    state = {c["client"]: c for c in json.loads(out)}
    assert state["cabinet-martin"]["removed"] is True
    assert state["cabinet-martin"]["backup"] == "off"


def test_applying_one_file_never_removes_the_others(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "policy", "apply", "--home", str(home))
    one = home / "policies" / "atelier-dupont.yaml"
    code, out, _ = run(capsys, "policy", "apply", str(one), "--home", str(home))
    assert code == 0
    assert "removed" not in out.split("plan:")[0]
    assert "0 removed" in out


def test_dry_run_records_nothing(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "policy", "apply", "--dry-run", "--home", str(home))
    assert code == 0 and "3 added" in out and "nothing recorded" in out
    assert "no catalog yet" in out
    assert not (home / "catalog.db").exists()  # a dry run creates nothing, not even that
    code, _, err = run(capsys, "clients", "--home", str(home), "--json")
    assert code == 2 and "does not exist" in err
    assert run(capsys, "policy", "apply", "--home", str(home))[0] == 0
    code, out, _ = run(capsys, "policy", "apply", "--dry-run", "--home", str(home))
    assert code == 0 and "3 unchanged" in out and "no catalog yet" not in out


def test_invalid_policies_exit_2_with_one_located_line_each_and_no_traceback(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = home / "policies" / "atelier-dupont.yaml"
    bad.write_text(bad.read_text().replace("max_age: 35d", "max_age: 35 days"))
    code, _, err = run(capsys, "policy", "apply", "--home", str(home))
    assert code == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{bad}:12: backup.retention.max_age: ")
    assert "(got '35 days')" in lines[0]
    code, _, err = run(capsys, "clients", "--home", str(home), "--json")
    assert code == 2 and "does not exist" in err  # nothing applied, no catalog made


def test_show_prints_the_policy_in_force(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "policy", "apply", "--home", str(home))
    code, out, _ = run(capsys, "policy", "show", "cabinet-martin", "--home", str(home), "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["version"] == 1
    assert shown["policy"]["backup"]["mode"] == "semi_manual"
    code, _, err = run(capsys, "policy", "show", "nobody-here", "--home", str(home))
    assert code == 2 and "has no recorded policy" in err  # an unknown id: invalid input


def test_schema_is_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "policy", "schema")
    assert code == 0
    schema = json.loads(out)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert "backup" in schema["properties"]
    erasure = schema["$defs"]["Erasure"]["properties"]["after_contract_end"]
    assert erasure["default"] == "30d"  # as written in a policy file, not ISO 8601 "P30D"


def test_log_verify_detects_an_edited_entry_with_exit_code_1(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "policy", "apply", "--home", str(home))
    code, out, _ = run(capsys, "log", "verify", "--home", str(home))
    assert code == 0 and "intact: 5 entries" in out  # 3 policies, 2 client keys
    with sqlite3.connect(home / "catalog.db") as db:
        db.execute("UPDATE evidence_log SET actor = 'someone-else' WHERE seq = 2")
    code, out, _ = run(capsys, "log", "verify", "--home", str(home))
    assert code == 1
    assert "FAILED at entry 2" in out and "last trusted entry: 1" in out


def test_commands_without_a_home_say_how_to_get_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RETENTION_HOME", raising=False)
    code, _, err = run(capsys, "clients")
    assert code == 2
    assert "pass --home DIR or set RETENTION_HOME" in err


def test_init_refuses_to_overwrite_and_writes_a_valid_config(
    tmp_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "init", "--home", str(tmp_home))
    assert code == 0
    assert (tmp_home / "keys").stat().st_mode & 0o077 == 0
    code, out, _ = run(capsys, "config", "check", "--home", str(tmp_home))
    assert code == 0 and "ok" in out
    code, _, err = run(capsys, "init", "--home", str(tmp_home))
    assert code == 2 and "already exists" in err


def test_apply_gives_each_client_with_an_active_option_its_key_and_no_one_else(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "policy", "apply", "--home", str(home))
    assert code == 0
    assert "created the client key of atelier-dupont" in out
    code, out, _ = run(capsys, "keys", "list", "--json", "--home", str(home))
    keys = {k["client"]: k for k in json.loads(out)}
    assert set(keys) == {"atelier-dupont", "cabinet-martin"}  # boulangerie-petit: all off
    assert all(k["state"] == "active" for k in keys.values())
    code, out, _ = run(capsys, "policy", "apply", "--home", str(home))
    assert "created the client key" not in out  # once only


def test_a_mistyped_master_key_path_is_refused_instead_of_becoming_a_second_key(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Once client keys exist, a missing master key file is an error naming it."""
    assert run(capsys, "policy", "apply", "--home", str(home))[0] == 0
    config = home / "retention.yaml"
    config.write_text(config.read_text().replace("keys/master.key", "keys/mastr.key"))
    policies = home / "policies"
    extra = (policies / "atelier-dupont.yaml").read_text().replace("atelier-dupont", "zeta-sas")
    (policies / "zeta-sas.yaml").write_text(extra)

    code, _, err = run(capsys, "policy", "apply", "--home", str(home))

    assert code == 1
    assert "keys/mastr.key does not exist" in err and "Traceback" not in err
    assert not (home / "keys" / "mastr.key").exists()
    run(capsys, "keys", "list", "--json", "--home", str(home))
    assert not (home / "keys" / "mastr.key").exists()  # reading made no key either


def test_an_alias_bomb_in_the_policies_folder_is_a_located_error_not_an_outage(
    home: Path,
) -> None:
    """20 lines of nested aliases took 22 GB; the child is capped at 1 GiB of memory."""
    bomb = home / "policies" / "zz-bomb.yaml"
    bomb.write_text(alias_bomb())
    main_code = (
        "import sys\nfrom retention_pipeline.cli.main import main\nsys.exit(main(sys.argv[1:]))"
    )
    child = run_limited(main_code, "policy", "validate", "--home", str(home))
    assert child.returncode == 2, child.stderr[-2000:]
    assert "Traceback" not in child.stderr
    assert child.stderr.splitlines() == [
        f"{bomb}:7: -: this alias expands to more than 100000 values or 10000000 characters, "
        "more than any policy holds (nested aliases); write the values out instead of "
        "nesting aliases"
    ]
