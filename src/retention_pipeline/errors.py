"""Errors a user can hit, each able to say what went wrong and what to do.

Rule: messages name the file, field or object (by opaque id) and never carry a key,
a row of client data, a personal name or an e-mail address.
"""

from __future__ import annotations


class RetentionError(Exception):
    """Base of every error this package raises on purpose.

    The CLI prints ``str(error)`` on one line and exits with ``exit_code`` instead of
    showing a traceback.
    """

    exit_code = 1


class ConfigError(RetentionError):
    """The installation's configuration (``retention.yaml``) is missing or wrong."""

    exit_code = 2


class PolicyError(RetentionError):
    """One or more client policy files are invalid; ``problems`` holds one line each."""

    exit_code = 2

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class NotFoundError(RetentionError):
    """A named object (client, recovery point, store key) does not exist.

    Exit code 2, invalid input: an id the operator typed that names nothing. A stored
    object that has gone missing is a failure instead (``ObjectNotFoundError``, 1).
    """

    exit_code = 2


class InvalidInputError(RetentionError):
    """An argument the operator gave cannot be used as given (exit code 2, like a typo)."""

    exit_code = 2


class RefusedError(RetentionError):
    """The operation is not allowed for this client now (option off, hold, approval)."""

    exit_code = 3
