"""The ``retention-pipeline`` command line: parse, dispatch, and turn errors into lines.

Every command takes ``--home DIR`` (or ``RETENTION_HOME``). Errors the user can hit are
``RetentionError``s: they are printed as one line each on stderr with the error's exit
code (2 for bad input, 3 for a refusal), never as a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from retention_pipeline import __version__
from retention_pipeline.cli import (
    backup_cmd,
    erasure_cmd,
    home_cmd,
    log_cmd,
    policy_cmd,
    retention_cmd,
)
from retention_pipeline.errors import RetentionError

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """The full parser; each command module registers its own subcommands."""
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
    for module in (home_cmd, policy_cmd, backup_cmd, retention_cmd, log_cmd, erasure_cmd):
        module.register(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "home"):
        args.home = None
    handler: Handler = args.handler
    try:
        return handler(args)
    except RetentionError as error:
        for line in str(error).splitlines() or [type(error).__name__]:
            print(f"error: {line}" if not _is_located(line) else line, file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _is_located(line: str) -> bool:
    """Whether a message line already starts with ``FILE:LINE:`` (then print it as is)."""
    head = line.split(": ", 1)[0]
    return head.count(":") >= 1 and head.rsplit(":", 1)[-1].isdigit()


if __name__ == "__main__":
    sys.exit(main())
