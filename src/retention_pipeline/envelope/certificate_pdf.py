"""A PDF rendering of a destruction certificate, for people; the signed JSON is authoritative.

Written by hand (PDF 1.4, the standard Helvetica fonts, uncompressed text streams) so that
it needs no dependency and the same predicate always gives the same bytes. Only what the
signed predicate holds is printed, so the PDF carries no more personal data than the
certificate (none). Every page says that the JSON bundle, not this document, is the
certificate.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

from retention_pipeline.envelope.certificate import DestructionPredicate
from retention_pipeline.envelope.certificate_predicate import format_time

AUTHORITY_NOTE = (
    "This document is a rendering for people. The signed JSON certificate bundle is authoritative."
)
PAGE_WIDTH, PAGE_HEIGHT = 595, 842  # A4 in points
MARGIN, FONT_SIZE, LEADING = 50, 9, 12
LINES_PER_PAGE = (PAGE_HEIGHT - 2 * MARGIN) // LEADING - 4
WRAP = 100  # characters; a 64-digit hash plus its label fits at 9 pt


def render_pdf(
    predicate: DestructionPredicate,
    *,
    envelope_sha256: str | None = None,
    key_fingerprint: str | None = None,
) -> bytes:
    """The certificate as a PDF document (bytes)."""
    lines = [wrapped for line in _lines(predicate) for wrapped in _wrap(line)]
    if envelope_sha256:
        lines.append(f"Envelope SHA-256 (log leaf): {envelope_sha256}")
    if key_fingerprint:
        lines.append(f"Certificate key fingerprint: {key_fingerprint}")
    pages = [lines[i : i + LINES_PER_PAGE] for i in range(0, len(lines), LINES_PER_PAGE)]
    return _document([_page_stream(page, n + 1, len(pages)) for n, page in enumerate(pages)])


def _lines(p: DestructionPredicate) -> Iterator[str]:
    yield f"Certificate id: {p.certificate_id}"
    yield f"Issued at: {format_time(p.issued_at)}    Issuer: {p.issuer}"
    yield f"Status: {p.status}"
    yield f"Client id: {p.client_id}    Contract reference: {p.contract_reference or '-'}"
    yield f"Trigger: {p.trigger}    Legal basis: {p.legal_basis or '-'}"
    yield f"Requested by (staff id): {p.requester_id}    Approved by: {p.approver_id or '-'}"
    if p.supersedes:
        yield f"Supersedes certificate: {p.supersedes}"
    yield ""
    yield "Locations"
    for loc in p.locations:
        yield (
            f"  {loc.store} ({loc.location}): {loc.method}, {loc.objects} objects, "
            f"{loc.versions} versions, {loc.bytes} bytes"
        )
        yield f"    digest of (key, version, sha256) list: {loc.digest}"
        yield f"    verification: {loc.verification.method} -> {loc.verification.result}"
    yield ""
    yield "Client key destruction"
    key = p.key_destruction
    if key is None:
        yield "  not yet performed"
    else:
        yield f"  key fingerprint: {key.key_fingerprint}"
        yield f"  custody: {key.custody}, key-encryption key: {key.kek_id}"
        yield f"  method: {key.method}, destroyed at {format_time(key.destroyed_at)}"
        if key.deletion_date is not None:
            yield f"  material gone for good on: {format_time(key.deletion_date)}"
        yield f"  verification: {key.verification.method} -> {key.verification.result}"
    yield ""
    yield "Residual copies (deleted when their lock ends)"
    if not p.residual_copies:
        yield "  none"
    for copy in p.residual_copies:
        yield f"  {copy.store} ({copy.location}) until {format_time(copy.locked_until)}"
        yield f"    object digest: {copy.key_digest}"
    yield ""
    yield f"Tool version: {p.tool_version}    Airflow run: {p.airflow_run_id or '-'}"
    yield f"Evidence-log head: {p.evidence_head}"


def _wrap(line: str) -> list[str]:
    if len(line) <= WRAP:
        return [line]
    indent = " " * (len(line) - len(line.lstrip()) + 4)
    return textwrap.wrap(line, WRAP, subsequent_indent=indent, break_long_words=True) or [""]


def _text(value: str) -> bytes:
    """A PDF literal string in WinAnsi (Latin-1 here), with ``\\ ( )`` escaped."""
    raw = value.encode("latin-1", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _page_stream(lines: list[str], number: int, total: int) -> bytes:
    top = PAGE_HEIGHT - MARGIN
    out = [b"BT", b"/F2 14 Tf", f"{MARGIN} {top} Td".encode(), f"{LEADING} TL".encode()]
    out.append(_text("Certificate of destruction of client data") + b" Tj")
    out += [b"T* T*", f"/F1 {FONT_SIZE} Tf".encode(), _text(AUTHORITY_NOTE) + b" Tj", b"T*"]
    for line in lines:
        out.append(b"T* " + _text(line) + b" Tj")
    out += [b"ET", b"BT", f"/F1 8 Tf {MARGIN} {MARGIN // 2} Td".encode()]
    out.append(_text(f"Page {number} of {total}. {AUTHORITY_NOTE}") + b" Tj")
    out.append(b"ET")
    return b"\n".join(out)


def _document(streams: list[bytes]) -> bytes:
    """Objects 1 catalog, 2 pages, 3-4 fonts, then (page, contents) per page; xref; trailer."""
    count = len(streams)
    kids = " ".join(f"{5 + 2 * n} 0 R" for n in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
    ]
    for n, stream in enumerate(streams):
        objects.append(
            (
                f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] "
                f"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> "
                f"/Contents {6 + 2 * n} 0 R >>"
            ).encode()
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n".encode() + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
