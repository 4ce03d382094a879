"""Load one table through several ``COPY ... FROM STDIN`` sessions at once.

Why: PostgreSQL parses COPY text in the backend, one core per session; a single session
loads about 60 MB/s here, so on a two-core worker restoring one large table leaves a core
idle (``benchmarks/README.md``). Rows are independent, so the stream is cut at row ends
and dealt to ``LANES`` sessions in turn. Row order in the heap then differs from the
dump's, which changes nothing: a dump is ordered by primary key (or by every column), so
the verification re-dump gives the same bytes.

Rules this module enforces:

* a piece handed to a lane always ends with a row end (a raw ``\\n`` ends a row in COPY
  text, see ``copy_text``), so no row is ever split between two sessions;
* all or nothing: each lane copies inside its own transaction and commits only once every
  lane copied without error and the source ended without raising; otherwise every lane
  rolls back and the first error is raised (a commit that fails after another lane's
  succeeded leaves a partial table: the restore fails, and a failed restore is retried into
  a fresh empty database, as the source port's contract says);
* memory stays bounded: each lane queues at most ``QUEUE_DEPTH`` pieces of about
  ``PIECE_SIZE`` bytes;
* a lane's connection is used only by that lane's thread while the load runs.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg import sql

LANES = 2
PIECE_SIZE = 1024 * 1024
QUEUE_DEPTH = 4
SOLO_LIMIT = 16 * 1024 * 1024  # below this, a second session costs more than it saves
_POLL_SECONDS = 0.1


def row_pieces(chunks: Iterable[bytes], size: int = PIECE_SIZE) -> Iterator[bytes]:
    """Re-cut a COPY text stream into pieces of about ``size`` bytes that end with a row."""
    pending = bytearray()
    for chunk in chunks:
        pending += chunk
        if len(pending) < size:
            continue
        end = pending.rfind(b"\n") + 1
        if end:
            yield bytes(pending[:end])
            del pending[:end]
    if pending:
        yield bytes(pending)


class _Lane(threading.Thread):
    """One session copying the pieces it is given; commits only when told to."""

    def __init__(self, conn: psycopg.Connection[Any], query: sql.Composed) -> None:
        super().__init__(name="copy-lane", daemon=True)
        self.conn = conn
        self.query = query
        self.pieces: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUE_DEPTH)
        self.copied = threading.Event()
        self.decided = threading.Event()
        self.commit = False
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self.conn.transaction():
                with self.conn.cursor() as cur, cur.copy(self.query) as copy:
                    while (piece := self.pieces.get()) is not None:
                        copy.write(piece)
                self.copied.set()
                self.decided.wait()
                if not self.commit:
                    raise psycopg.Rollback  # leaves the block, rolled back, no error
        except BaseException as error:  # reported to the feeding thread, which raises it
            self.error = error
        finally:
            self.copied.set()

    def give(self, piece: bytes | None) -> None:
        """Queue ``piece`` (``None``: the end); raises the lane's error if it has failed."""
        while True:
            if self.error is not None:
                raise self.error
            try:
                self.pieces.put(piece, timeout=_POLL_SECONDS)
                return
            except queue.Full:
                if not self.is_alive():
                    return


def copy_in_lanes(
    connections: Sequence[psycopg.Connection[Any]], query: sql.Composed, pieces: Iterable[bytes]
) -> None:
    """COPY ``pieces`` (each ending with a row) through every connection, all or nothing."""
    lanes = [_Lane(conn, query) for conn in connections]
    for lane in lanes:
        lane.start()
    failure: BaseException | None = None
    try:
        for number, piece in enumerate(pieces):
            lanes[number % len(lanes)].give(piece)
    except BaseException as error:
        failure = error
    for lane in lanes:
        try:
            lane.give(None)
        except BaseException as error:
            failure = failure or error
    for lane in lanes:
        lane.copied.wait()
        failure = failure or lane.error
    for lane in lanes:
        lane.commit = failure is None
        lane.decided.set()
    for lane in lanes:
        lane.join()
        failure = failure or lane.error
    if failure is not None:
        raise failure
