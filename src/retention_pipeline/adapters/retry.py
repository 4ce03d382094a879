"""Retrying store requests: exponential backoff with full jitter, transient errors only.

Rules this module enforces:

* Only ``TransientStoreError`` is retried (throttling, 5xx, timeouts, dropped
  connections). Every other error, ``StorePermissionError`` and ``ObjectNotFoundError``
  first, is raised at once: asking again cannot change the answer.
* The wait before attempt ``n + 1`` is drawn uniformly from ``[0, min(max_delay,
  base_delay * 2**n)]`` ("full jitter"), so that many workers hitting the same throttled
  bucket spread out instead of retrying in lockstep.
* ``sleep`` is a parameter so tests can count waits instead of spending them.

botocore's own retries are switched off in our clients (see ``s3_store.s3_client``):
one retry layer, ours, decides what is safe to resend, e.g. one in-memory part of a
multipart upload, never a half-consumed input stream.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from retention_pipeline.ports.store import TransientStoreError

T = TypeVar("T")

log = logging.getLogger(__name__)

# Jitter is not a secret, but SystemRandom keeps the security linter quiet without a noqa
# and costs nothing next to a network round trip.
_jitter = random.SystemRandom()


@dataclass(frozen=True)
class RetryPolicy:
    """How many times, and how patiently, to try one request.

    ``attempts`` counts the first try: ``attempts=1`` means no retry at all.
    """

    attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 5.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"RetryPolicy.attempts must be at least 1, got {self.attempts}")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("RetryPolicy delays must not be negative")

    def delay(self, retry_number: int, draw: Callable[[float, float], float]) -> float:
        """Seconds to wait before retry ``retry_number`` (0 for the first retry)."""
        ceiling = min(self.max_delay, self.base_delay * (2**retry_number))
        return draw(0.0, ceiling)


def call_with_retry(
    fn: Callable[[], T],
    policy: RetryPolicy,
    *,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``fn`` until it returns, retrying only ``TransientStoreError``.

    ``what`` names the request by opaque ids (store, operation, object key) for logs and
    for the final error; it must never carry client data. When every attempt failed,
    the last ``TransientStoreError`` is raised again with the attempt count added.
    """
    for attempt in range(policy.attempts):
        try:
            return fn()
        except TransientStoreError as error:
            if attempt + 1 >= policy.attempts:
                raise TransientStoreError(
                    f"{what}: still failing after {policy.attempts} attempts ({error}); "
                    "the store is unavailable or throttling, try again later"
                ) from error
            wait = policy.delay(attempt, _jitter.uniform)
            log.warning(
                "%s: transient failure (attempt %d of %d), retrying in %.2fs: %s",
                what,
                attempt + 1,
                policy.attempts,
                wait,
                error,
            )
            sleep(wait)
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover
