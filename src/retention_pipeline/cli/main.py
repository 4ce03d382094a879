"""The ``retention-pipeline`` command line: parse, dispatch, and turn errors into lines.

Every command takes ``--home DIR`` (or ``RETENTION_HOME``). Errors the user can hit are
``RetentionError``s: they are printed as one line each on stderr with the error's exit
code (2 for bad input, 3 for a refusal), never as a traceback.
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import json
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import NoReturn

from retention_pipeline import __version__
from retention_pipeline.cli.heap import release_heap
from retention_pipeline.errors import RetentionError

Handler = Callable[[argparse.Namespace], int]

# Which module registers each top-level command. Only the chosen command's module is
# imported (each pulls in its services: start-up is part of every command's wall time,
# benchmarks/README.md); an unknown command or ``--help`` loads them all.
# tests/cli/test_command_modules.py checks this table against the modules.
COMMAND_MODULES = {
    "init": "home_cmd",
    "config": "home_cmd",
    "clients": "home_cmd",
    "policy": "policy_cmd",
    "backup": "backup_cmd",
    "points": "backup_cmd",
    "verify": "backup_cmd",
    "restore": "backup_cmd",
    "cleanup": "backup_cmd",
    "keys": "backup_cmd",
    "retention": "retention_cmd",
    "archive": "retention_cmd",
    "log": "log_cmd",
    "erase": "erasure_cmd",
    "certificate": "erasure_cmd",
    "audit": "audit_cmd",
}
MODULE_ORDER = (
    "home_cmd",
    "policy_cmd",
    "backup_cmd",
    "retention_cmd",
    "log_cmd",
    "erasure_cmd",
    "audit_cmd",
)


def chosen_command(argv: Sequence[str]) -> str | None:
    """The top-level command named in ``argv`` (first positional word), if any."""
    words = iter(argv)
    for word in words:
        if word == "--home":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; each command module registers its own subcommands.

    With a known ``command``, only the module that provides it is imported and
    registered (the parse and its errors are the same for that command); otherwise all.
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--home",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="installation folder (default: $RETENTION_HOME)",
    )
    parser = argparse.ArgumentParser(
        prog="retention-pipeline",
        description="Encrypted backups, archives, retention and certified erasure "
        "of hosted CRM data, per each client's order form.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = COMMAND_MODULES.get(command or "")
    for name in (chosen,) if chosen else MODULE_ORDER:
        module = importlib.import_module(f"retention_pipeline.cli.{name}")
        module.register(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    words = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(chosen_command(words))
    try:
        args = parser.parse_args(words)
    except SystemExit as exited:  # argparse printed why on stderr
        if exited.code == 2 and "--json" in words:
            _json_error("invalid arguments; the reason is on stderr", 2)
        raise
    if not hasattr(args, "home"):
        args.home = None
    handler: Handler = args.handler
    as_json = bool(getattr(args, "json", False))  # a script reading stdout gets JSON anyway
    try:
        return handler(args)
    except RetentionError as error:
        return _failed(str(error), error.exit_code, as_json, blank=type(error).__name__)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as error:  # a file or socket nothing above translated
        # its text and traceback name the file, and client folders are often people's names
        message = (
            f"a file or network operation failed ({error.strerror or type(error).__name__}); "
            "the file is not named here, as its path may name a person: check the folders "
            "this command reads and writes"
        )
        return _failed(message, 1, as_json)
    except Exception as error:
        if not type(error).__module__.startswith("sqlalchemy."):
            raise
        return _failed(_catalog_failure(error), 1, as_json)
    finally:
        release_heap()


def _failed(message: str, code: int, as_json: bool, *, blank: str = "") -> int:
    """Print ``message`` on stderr (``blank`` if it is empty), and as JSON on stdout with
    ``--json``; return ``code``."""
    for line in message.splitlines() or [blank]:
        print(f"error: {line}" if not _is_located(line) else line, file=sys.stderr)
    if as_json:
        _json_error(message, code)
    return code


def _json_error(message: str, code: int) -> None:
    print(json.dumps({"ok": False, "error": message, "exit_code": code}))


def _catalog_failure(error: Exception) -> str:
    """A catalog error raised mid-command (locked, damaged): the driver's first line only.

    Its later lines and SQLAlchemy's own text carry the statement and its parameters.
    """
    orig = getattr(error, "orig", None) or error
    lines = str(orig).strip().splitlines()
    first = lines[0] if lines else type(orig).__name__
    return (
        f"the catalog could not be read or written ({first}); retry when no other command "
        "holds it, and if this repeats check it (retention-pipeline log verify) or restore "
        "it from its backup"
    )


def run() -> NoReturn:
    """The console script: ``main``, then leave without tearing the interpreter down.

    Why: once ``main`` returns, Python's own shutdown frees every module and object one
    by one, which took about 0.2 s after a backup or a restore here - about 5% of a
    1,000,000-row backup, on top of the work itself (benchmarks/README.md). Nothing of
    ours needs it: exit handlers still run (logging flushes its handlers, temporary
    folders are removed), stdout and stderr are flushed, and the operating system closes
    files and sockets. While another thread is still alive the normal shutdown runs
    instead, so nothing a thread is doing is cut off.
    """
    code = main()
    if threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # e.g. a closed pipe; Python's own exit reports 120 then
        code = code or 120
    os._exit(code)


def _is_located(line: str) -> bool:
    """Whether a message line already starts with ``FILE:LINE:`` (then print it as is)."""
    head = line.split(": ", 1)[0]
    return head.count(":") >= 1 and head.rsplit(":", 1)[-1].isdigit()


if __name__ == "__main__":
    run()
