"""``call_with_retry``: what is retried, how long it waits, and what it gives up with."""

from __future__ import annotations

import pytest

from retention_pipeline.adapters.retry import RetryPolicy, call_with_retry
from retention_pipeline.ports.store import (
    ObjectNotFoundError,
    StorePermissionError,
    TransientStoreError,
)


def never_sleep(seconds: float) -> None:
    pytest.fail(f"slept {seconds}s although nothing was to be retried")


class Flaky:
    """Fails with ``errors`` in turn, then returns "ok"; counts its calls."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def test_transient_errors_are_retried_with_bounded_jittered_waits() -> None:
    waits: list[float] = []
    flaky = Flaky(*(TransientStoreError("503") for _ in range(4)))
    policy = RetryPolicy(attempts=5, base_delay=0.2, max_delay=0.5)

    assert call_with_retry(flaky, policy, what="HeadObject k", sleep=waits.append) == "ok"

    assert flaky.calls == 5
    ceilings = [0.2, 0.4, 0.5, 0.5]  # base * 2**n, capped by max_delay
    assert all(0 <= w <= c for w, c in zip(waits, ceilings, strict=True))


@pytest.mark.parametrize(
    "error", [StorePermissionError("403"), ObjectNotFoundError("404"), ValueError("bug")]
)
def test_permanent_errors_are_raised_after_one_call(error: Exception) -> None:
    flaky = Flaky(error)
    with pytest.raises(type(error)):
        call_with_retry(flaky, RetryPolicy(), what="GetObject k", sleep=never_sleep)
    assert flaky.calls == 1


def test_exhausted_attempts_raise_transient_error_naming_the_request() -> None:
    flaky = Flaky(*(TransientStoreError("503") for _ in range(10)))
    with pytest.raises(TransientStoreError, match=r"GetObject client-a/rp.*after 3 attempts"):
        call_with_retry(
            flaky, RetryPolicy(attempts=3), what="GetObject client-a/rp", sleep=lambda _: None
        )
    assert flaky.calls == 3


def test_one_attempt_means_no_retry() -> None:
    flaky = Flaky(TransientStoreError("503"))
    with pytest.raises(TransientStoreError):
        call_with_retry(flaky, RetryPolicy(attempts=1), what="x", sleep=never_sleep)
    assert flaky.calls == 1


def test_nonsense_policies_are_refused() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(base_delay=-1)
