"""Keep request and response bodies of AWS calls out of the logs, whatever the log level.

Why: botocore logs every request's parameters (``botocore.endpoint``) and every response
body (``botocore.parsers``) at DEBUG. A KMS ``Decrypt`` answer's body is the client's
unwrapped age identity, and an ``Encrypt`` request's body is the same secret: an operator
who turns logging to DEBUG to chase a problem would write client keys into the logs. A
filter on those two loggers drops their DEBUG records; a level would not do, since a later
``setLevel(DEBUG)`` (or a test's) would undo it. Their INFO and above still pass.
"""

from __future__ import annotations

import logging

BODY_LOGGERS = ("botocore.endpoint", "botocore.parsers")


def _no_debug(record: logging.LogRecord) -> bool:
    return record.levelno > logging.DEBUG


def keep_bodies_out_of_logs() -> None:
    """Install the filter once on each logger that writes bodies (idempotent)."""
    for name in BODY_LOGGERS:
        logger = logging.getLogger(name)
        if _no_debug not in logger.filters:
            logger.addFilter(_no_debug)
