"""Listing pages for ``S3Store``, the next page requested while this one is parsed.

Why: a listing of a large client is a chain of pages (130 ListObjectVersions pages for
100,000 objects with versions), each one a wait for the server and then, on our side,
botocore parsing about 400 KB of XML (about 0.07 s a page here). Done one after the
other, the parsing adds to every page's wait. The markers of the next page are in the
answer's raw bytes before botocore parses them: a handler of botocore's ``before-parse``
event reads them there and sends the next request from a second thread, so the server
works on page k+1 while we parse page k.

Rules this module enforces:

* Listings are paginated by hand, so every page is one request with its own retries
  (a paginator would hide the requests from our retry policy).
* A page read ahead is used only if the request that fetched it carried exactly the
  arguments the parsed page calls for (markers as botocore read them, not as we guessed
  them from the raw bytes): a guess saves time when right and costs one request when
  wrong, never a wrong or missing page.
* At most ``AHEAD`` pages are requested beyond the one the caller reads, so memory stays
  bounded whatever the caller does; a caller that stops early waits only for requests
  already in flight.
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from retention_pipeline.ports.store import check_key

if TYPE_CHECKING:
    from retention_pipeline.adapters.s3_store import S3Store

# pages requested beyond the one the caller is reading
AHEAD = 2
# botocore events whose raw answer may carry the next page's markers
READ_AHEAD_EVENTS = (
    "before-parse.s3.ListObjectVersions",
    "before-parse.s3.ListMultipartUploads",
)

_RAW_FIELD = re.compile(rb"<(IsTruncated|Next[A-Za-z]*Marker)>([^<]*)</\1>")
# the listing (and the arguments of its request) the current thread is fetching, if any
_fetching = threading.local()

Args = dict[str, Any]


def list_pages(
    store: S3Store, operation: str, prefix: str, markers: tuple[str, str]
) -> Iterator[dict[str, Any]]:
    """Pages of ``operation`` (a ListObjectVersions-like call) under the store's prefix."""
    if prefix:
        check_key(prefix[:-1] if prefix.endswith("/") else prefix)
    args: Args = {"Bucket": store.bucket, "Prefix": store.s3_key_prefix(prefix)}
    if store.list_page_size:
        args["MaxKeys"] = store.list_page_size
    with _Pages(store, operation, f"{operation} {prefix or '(all)'}", markers) as pages:
        while True:
            page = pages.get(args)
            yield page
            if not page.get("IsTruncated"):
                return
            args = next_args(args, markers, page.get)


def next_args(args: Args, markers: tuple[str, ...], value: Callable[[str], Any]) -> Args:
    """The next page's request: ``args`` with each marker set to ``Next<marker>``, or removed."""
    out = dict(args)
    for marker in markers:
        next_value = value(f"Next{marker}")
        if next_value:
            out[marker] = next_value
        else:
            out.pop(marker, None)
    return out


def raw_fields(body: bytes) -> dict[str, str]:
    """``IsTruncated`` and the ``Next...Marker`` values of a raw listing answer, unescaped."""
    return {
        match[1].decode(): html.unescape(match[2].decode("utf-8", "replace"))
        for match in _RAW_FIELD.finditer(body)
    }


def on_raw_answer(response_dict: dict[str, Any], **_: Any) -> None:
    """botocore ``before-parse`` handler: guess the next page of the listing being fetched."""
    current = getattr(_fetching, "request", None)
    if current is None or response_dict.get("status_code") != 200:
        return
    _fetching.request = None  # one guess per request (a retried error answers no page)
    pages, args = current
    pages.guess(args, response_dict.get("body") or b"")


def _key(args: Args) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(args.items()))


class _Pages:
    """One listing's requests: the caller's, and those guessed ahead in a small pool."""

    def __init__(self, store: S3Store, operation: str, what: str, markers: tuple[str, ...]) -> None:
        self.store = store
        self.call = getattr(store.client, operation)
        self.what = what
        self.markers = markers
        self.lock = threading.Lock()
        self.ahead: dict[tuple[tuple[str, Any], ...], Future[dict[str, Any]]] = {}
        self.closed = False
        # two threads: one parses page k+1 while the other already waits for page k+2
        self.pool = ThreadPoolExecutor(2, thread_name_prefix="s3-list")

    def __enter__(self) -> _Pages:
        return self

    def __exit__(self, *_: object) -> None:
        with self.lock:
            self.closed = True
            pending, self.ahead = list(self.ahead.values()), {}
        for future in pending:
            future.cancel()
        self.pool.shutdown(wait=True)

    def get(self, args: Args) -> dict[str, Any]:
        """The page ``args`` asks for: read ahead if it was, else requested now."""
        with self.lock:
            future = self.ahead.pop(_key(args), None)
            if future is None:  # whatever else was read ahead followed a wrong guess
                stale, self.ahead = list(self.ahead.values()), {}
            else:
                stale = []
        for old in stale:
            old.cancel()
        if future is not None:
            return future.result()
        return self._request(args)

    def guess(self, args: Args, body: bytes) -> None:
        """Request the page after the one ``args`` fetched, as its raw answer names it."""
        fields = raw_fields(body)
        if fields.get("IsTruncated") != "true":
            return
        wanted = next_args(args, self.markers, fields.get)
        key = _key(wanted)
        with self.lock:
            if self.closed or len(self.ahead) >= AHEAD or key in self.ahead:
                return
            self.ahead[key] = self.pool.submit(self._request, wanted)

    def _request(self, args: Args) -> dict[str, Any]:
        _fetching.request = (self, args)
        try:
            page: dict[str, Any] = self.store.call(self.what, self.call, **args)
            return page
        finally:
            _fetching.request = None
