"""Reading a dump ahead in a thread keeps its order, its errors and its cleanup."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from retention_pipeline.envelope.readahead import read_ahead


def test_chunks_arrive_in_order_and_complete() -> None:
    chunks = [bytes([i]) * (i + 1) for i in range(200)]

    assert list(read_ahead(iter(chunks), depth=3)) == chunks


def test_an_error_arrives_after_the_chunks_produced_before_it() -> None:
    def source() -> Iterator[bytes]:
        yield b"one"
        yield b"two"
        raise OSError("connection to the source lost")

    seen: list[bytes] = []
    with pytest.raises(OSError, match="connection to the source lost"):
        for chunk in read_ahead(source(), depth=1):
            seen.append(chunk)

    assert seen == [b"one", b"two"]


def test_stopping_early_closes_the_source_and_ends_the_thread() -> None:
    closed = threading.Event()

    def endless() -> Iterator[bytes]:
        try:
            while True:
                yield b"x" * 1024
        finally:
            closed.set()

    before = threading.active_count()
    reader = read_ahead(endless(), depth=2)
    assert next(reader) == b"x" * 1024
    reader.close()

    assert closed.is_set()
    assert threading.active_count() == before
