"""Bad input on the command line: one clear line, the exit code the README gives, and
no value that could be personal repeated back (a typed name or e-mail stays unrecorded)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from retention_pipeline.cli import backup_cmd
from retention_pipeline.cli.main import main
from retention_pipeline.services.restore import RestoreService
from tests.cli.test_policy_commands import run


def test_listing_an_unknown_client_is_invalid_input_not_an_empty_list(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "policy", "apply", "--home", str(home))[0] == 0
    for command in (
        ["points", "atelier-dupon"],
        ["cleanup", "atelier-dupon"],
        ["retention", "plan", "atelier-dupon"],
        ["archive", "atelier-dupon"],
        ["certificate", "list", "atelier-dupon"],
    ):
        code, out, err = run(capsys, *command, "--home", str(home))
        assert code == 2, err
        assert "client 'atelier-dupon' is not in the catalog" in err and out == ""
    code, out, _ = run(capsys, "points", "atelier-dupont", "--json", "--home", str(home))
    assert code == 0 and out.strip() == "[]"  # known, and simply nothing backed up yet


@pytest.mark.parametrize(
    "argv",
    [
        ["backup", "Jeanne Dupont"],
        ["points", "jeanne@example.test"],
        ["backup", "atelier-dupont", "--requested-by", "jeanne.dupont@example.test"],
        ["policy", "apply", "--actor", "Jeanne Dupont"],
    ],
)
def test_a_name_or_an_e_mail_where_an_id_belongs_is_refused_without_repeating_it(
    argv: list[str], home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--home", str(home)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "not a client id" in err or "not a staff id" in err
    assert "Jeanne" not in err and "jeanne" not in err and "example.test" not in err
    assert not (home / "catalog.db").exists()  # refused before anything ran


def test_an_unreadable_configuration_or_policy_file_is_named(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = home / "policies" / "atelier-dupont.yaml"
    policy.write_bytes(b"client: atelier-dupont\ndisplay_name: \xe9t\xe9\n")
    code, _, err = run(capsys, "policy", "validate", str(policy), "--home", str(home))
    assert code == 2 and f"{policy}:1: -: cannot be read" in err and "Traceback" not in err
    config = home / "retention.yaml"
    config.write_bytes(config.read_bytes() + b"# \xff\n")
    code, _, err = run(capsys, "points", "--home", str(home))
    assert code == 2 and f"{config}: cannot be read (not UTF-8 text)" in err


def test_init_on_a_file_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    occupied = tmp_path / "a-file"
    occupied.write_text("")
    code, _, err = run(capsys, "init", "--home", str(occupied))
    assert code == 2 and f"--home {occupied}: cannot create the home folder" in err


def test_config_check_opens_the_catalog_and_asks_the_custody(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "config", "check", "--home", str(home))
    assert code == 0 and "catalog: none yet" in out
    assert not (home / "catalog.db").exists()
    assert run(capsys, "policy", "apply", "--home", str(home))[0] == 0
    code, out, _ = run(capsys, "config", "check", "--home", str(home))
    assert code == 0 and "catalog: ok" in out and "key custody: ok (local)" in out
    (home / "keys" / "master.key").rename(home / "keys" / "master.key.moved")
    code, _, err = run(capsys, "config", "check", "--home", str(home))
    assert code == 1 and "key custody: FAILED: master key file" in err


def test_a_catalog_error_mid_command_is_one_line_without_the_statement(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def locked(args: argparse.Namespace) -> int:
        raise sa.exc.OperationalError(
            "SELECT * FROM clients WHERE name = ?",
            ("Jeanne Dupont",),
            Exception("database is locked"),
        )

    monkeypatch.setattr(backup_cmd, "run_points", locked)
    code, _, err = run(capsys, "points", "--home", str(home))
    assert code == 1
    assert err.startswith("error: the catalog could not be read or written (database is locked)")
    assert "SELECT" not in err and "Jeanne" not in err


def test_an_interrupted_restore_says_the_target_may_hold_part_of_it(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(self: RestoreService, *args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(RestoreService, "restore", interrupted)
    assert run(capsys, "policy", "apply", "--home", str(home))[0] == 0
    code, _, err = run(capsys, "restore", "rp-x", "--to", "sqlite:///t.db", "--home", str(home))
    assert code == 130
    assert "interrupted: the target may hold part of this restore" in err and "--force" in err


def test_with_json_an_error_is_json_on_stdout_too(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "policy", "apply", "--home", str(home))[0] == 0
    code, out, err = run(capsys, "verify", "rp-nosuch", "--json", "--home", str(home))
    assert code == 2 and err.startswith("error: recovery point 'rp-nosuch'")
    answer = json.loads(out)
    assert answer["ok"] is False and answer["exit_code"] == 2
    assert "rp-nosuch" in answer["error"]


def test_a_login_name_that_is_an_e_mail_is_not_recorded_as_the_actor(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "jeanne.dupont@corp.example")
    code, _, err = run(capsys, "policy", "apply", "--home", str(home))
    assert code == 2 and "pass --actor ID" in err and "jeanne" not in err
    assert not (home / "catalog.db").exists()
    assert run(capsys, "policy", "apply", "--actor", "op-7", "--home", str(home))[0] == 0


def test_with_json_a_refused_argument_is_json_on_stdout_too(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["points", "Client_A", "--json", "--home", str(home)])
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {
        "ok": False,
        "error": "invalid arguments; the reason is on stderr",
        "exit_code": 2,
    }
    assert "not a client id" in captured.err


def test_a_file_error_nothing_translated_is_one_line_without_the_path(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreadable(args: argparse.Namespace) -> int:
        raise PermissionError(13, "Permission denied", "/srv/crm/Jeanne Martin/contrat.pdf")

    monkeypatch.setattr(backup_cmd, "run_points", unreadable)
    code, out, err = run(capsys, "points", "--home", str(home), "--json")
    assert code == 1
    assert err.startswith("error: a file or network operation failed (Permission denied)")
    assert "Jeanne" not in err + out and "Traceback" not in err
    assert json.loads(out)["ok"] is False
