"""The daily sweep's question: whose contract ended long enough ago, and is not erased yet."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from tests.erasure.conftest import CLIENT, ErasureHome


def test_clients_are_due_after_contract_end_plus_delay_until_erased(
    make_home: Callable[..., ErasureHome],
) -> None:
    home = make_home(contract={"reference": "BC-2026-0042", "ends_on": "2026-01-01"})
    service = home.installation().erasure_service()
    assert service.due_for_erasure(datetime(2026, 1, 30, tzinfo=UTC)) == []
    assert service.due_for_erasure(datetime(2026, 1, 31, tzinfo=UTC)) == [CLIENT]
    assert home.erase().rc == 0
    assert service.due_for_erasure(datetime(2026, 3, 1, tzinfo=UTC)) == []
