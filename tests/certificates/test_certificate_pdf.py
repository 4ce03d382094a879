"""The PDF is a well-formed document that shows the certificate and says the JSON rules.

``pdftotext`` is not installed on the build machine, so the structure is checked by hand:
header, every xref offset lands on its object, startxref lands on the xref table, and the
text is in the (uncompressed) content streams.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from retention_pipeline.envelope.certificate_pdf import AUTHORITY_NOTE, render_pdf
from tests.certificates.support import predicate


def check_structure(pdf: bytes) -> list[bytes]:
    """Assert the file structure; return the content streams."""
    assert pdf.startswith(b"%PDF-1.4\n")
    assert pdf.endswith(b"%%EOF\n")
    startxref = int(re.findall(rb"startxref\n(\d+)\n%%EOF", pdf)[-1])
    assert pdf[startxref:].startswith(b"xref\n0 ")
    header = re.match(rb"xref\n0 (\d+)\n", pdf[startxref:])
    assert header is not None
    count = int(header.group(1))
    table = pdf[startxref + header.end() :].split(b"\n")[:count]
    assert table[0] == b"0000000000 65535 f "
    for number, entry in enumerate(table[1:], start=1):
        offset = int(entry[:10])
        assert entry.endswith(b" 00000 n ")
        assert pdf[offset:].startswith(f"{number} 0 obj\n".encode())
    assert f"/Size {count} /Root 1 0 R".encode() in pdf
    streams = []
    for match in re.finditer(rb"<< /Length (\d+) >>\nstream\n", pdf):
        length = int(match.group(1))
        body = pdf[match.end() : match.end() + length]
        assert pdf[match.end() + length :].startswith(b"\nendstream")
        streams.append(body)
    return streams


def test_structure_and_text() -> None:
    pdf = render_pdf(predicate(), envelope_sha256="e" * 64, key_fingerprint="f" * 64)
    text = b"\n".join(check_structure(pdf))
    assert f"({AUTHORITY_NOTE}) Tj".encode() in text
    for shown in (
        "cert-01J0000000000000000000042",
        "acme-sas",
        "BC-2026-0042",
        "completed_with_exceptions",
        "backups-eu \\(eu-west-3\\): delete, 2 objects, 2 versions, 123456 bytes",
        predicate().locations[0].digest,
        predicate().residual_copies[0].key_digest,
        "until 2035-12-01T00:00:00Z",
        "e" * 64,
    ):
        assert shown.encode() in text, shown


def test_many_locations_spill_onto_more_pages_and_output_is_deterministic() -> None:
    location = predicate().locations[0]
    many = tuple(dataclasses.replace(location, store=f"store-{n:03d}") for n in range(40))
    pdf = render_pdf(predicate(locations=many, residual_copies=()))
    streams = check_structure(pdf)
    assert len(streams) > 1
    assert all(AUTHORITY_NOTE.encode() in stream for stream in streams)
    assert b"/Count " + str(len(streams)).encode() in pdf
    assert render_pdf(predicate(locations=many, residual_copies=())) == pdf


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext is not installed")
def test_pdftotext_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "certificate.pdf"
    path.write_bytes(render_pdf(predicate()))
    out = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "authoritative" in out and "acme-sas" in out
