"""The CLI imports only the chosen command's module; every command must still be found.

``COMMAND_MODULES`` maps each top-level command to the module that registers it; a
command missing there would still work (the full parser is built), but one mapped to the
wrong module would fail to parse. These tests keep the table equal to what the modules
register, and show a command parses the same way with the narrow parser.
"""

from __future__ import annotations

import argparse

import pytest

from retention_pipeline.cli.main import COMMAND_MODULES, build_parser, chosen_command


def _commands(parser: argparse.ArgumentParser) -> set[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


def test_the_table_names_every_registered_command() -> None:
    assert _commands(build_parser()) == set(COMMAND_MODULES)


@pytest.mark.parametrize("command", sorted(COMMAND_MODULES))
def test_each_command_is_registered_by_its_module(command: str) -> None:
    assert command in _commands(build_parser(command))


def test_the_narrow_parser_reads_a_command_like_the_full_one() -> None:
    argv = ["--home", "/srv/h", "restore", "rp-1", "--to", "postgresql://t/db", "--force"]
    narrow = vars(build_parser(chosen_command(argv)).parse_args(argv))
    full = vars(build_parser().parse_args(argv))
    assert narrow == full


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["backup", "acme"], "backup"),
        (["--home", "backup", "points"], "points"),
        (["--home=/h", "-h"], None),
        (["--version"], None),
        ([], None),
    ],
)
def test_the_command_word_is_found_after_global_options(
    argv: list[str], command: str | None
) -> None:
    assert chosen_command(argv) == command


def test_an_unknown_command_is_reported_with_every_choice(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        build_parser(chosen_command(["bakcup"])).parse_args(["bakcup"])
    assert "restore" in capsys.readouterr().err
