"""Root causes the fuzzer found in IODEF, ARF, X-ARF, CSV/XLSX and MRT (issue 11, finding 14).

Each input is small and hand-made; each test asserts the project's own refusal (FormatError,
a Rejection, a counted warning) with a message naming the place, where today's code ended in
an unexpected exception, a hang or unbounded memory.
"""

from __future__ import annotations

import bz2
import gzip
import io
import re
import time
import zipfile

import pytest

from sentinelle.exchange.formats._common import guess_indicator
from sentinelle.exchange.records import FormatError
from sentinelle.incidents.indicators import IndicatorError, normalise
from sentinelle.observatory.routing import mrt_framing
from sentinelle.observatory.routing.mrt import ReadStats, read_elements
from tests.format_helpers import FIXTURES, parse, rejections, reports

IODEF_NS = "urn:ietf:params:xml:ns:iodef-2.0"


def iodef(incident_body: str, declaration: str = '<?xml version="1.0" encoding="UTF-8"?>') -> bytes:
    return (f'{declaration}\n<IODEF-Document version="2.00" xmlns="{IODEF_NS}">'
            f'<Incident purpose="reporting"><IncidentID name="csirt.example">1</IncidentID>'
            f"<ReportTime>2026-02-10T08:53:54Z</ReportTime>{incident_body}</Incident>"
            f"</IODEF-Document>").encode()


# -- IODEF -----------------------------------------------------------------------------------

@pytest.mark.parametrize("label", ["UF-8", "UTF\x008"])
def test_iodef_unknown_encoding_is_refused_naming_the_declaration(label):
    data = iodef("", f'<?xml version="1.0" encoding="{label}"?>')
    expected = f"unknown encoding {label!r} in the XML declaration (line 1)"
    with pytest.raises(FormatError, match=re.escape(expected)):
        parse("iodef", data)


def test_iodef_deep_nesting_is_refused_naming_the_incident():
    data = iodef("<Description>" + "<a>" * 10_000 + "</a>" * 10_000 + "</Description>")
    with pytest.raises(FormatError,
                       match=r"nest deeper than 64 levels in /IODEF-Document/Incident\[1\]"):
        parse("iodef", data)


def test_iodef_many_addresses_are_read_in_linear_time():
    addresses = "".join(f'<Address category="ipv4-addr">10.{i >> 16 & 255}.{i >> 8 & 255}.'
                        f"{i & 255}</Address>" for i in range(40_000))
    data = iodef(f"<EventData><Flow><System><Node>{addresses}</Node></System></Flow></EventData>")
    started = time.monotonic()
    [record] = parse("iodef", data)
    assert len(record.indicators) == 40_000
    assert time.monotonic() - started < 10   # quadratic de-duplication took minutes


# -- ARF -------------------------------------------------------------------------------------

ARF_HEAD = (b"From: <abusedesk@example.com>\nDate: Thu, 8 Mar 2005 17:40:36 EDT\n"
            b"Subject: FW: Earn money\nMIME-Version: 1.0\nMessage-ID: <m1@example.com>\n"
            b'Content-Type: multipart/report; report-type=feedback-report; boundary="B"\n\n')


def arf(feedback: bytes = b"", text_charset: bytes = b"us-ascii", original: bytes = b"",
        head: bytes = ARF_HEAD) -> bytes:
    return (head + b"--B\nContent-Type: text/plain; charset=\"" + text_charset + b"\"\n\n"
            b"An abuse report.\n\n--B\nContent-Type: message/feedback-report\n\n"
            b"Feedback-Type: abuse\nUser-Agent: Gen/1.0\nSource-IP: 192.0.2.1\n" + feedback
            + b"\n--B\nContent-Type: message/rfc822\n\n"
            + (original or b"From: <spammer@example.net>\nSubject: x\n\nSpam\n") + b"\n--B--\n")


@pytest.mark.parametrize("field", [b"Version", b"Incidents", b"Source-Port"])
def test_arf_5000_digit_number_is_ignored_not_a_crash(field):
    [record] = parse("arf", arf(field + b": " + b"9" * 5000 + b"\n"))
    assert record.title.startswith("Spam (e-mail) from 192.0.2.1")


@pytest.mark.parametrize("charset", [b"UF-8", b"x\x00y", b"rot13", b"idna"])
def test_arf_unknown_charset_is_read_as_utf8(charset):
    [record] = parse("arf", arf(text_charset=charset))
    assert record.description.startswith("An abuse report.")


@pytest.mark.parametrize("nesting", [b"(" * 5000, b":" * 5000])   # comments, groups
def test_arf_nested_comments_in_an_address_are_not_a_crash(nesting):
    [record] = parse("arf", arf(b"Original-Mail-From: " + nesting + b"x@example.net\n"))
    assert ("email", "x@example.net") not in record.indicators


def test_arf_deep_mime_nesting_is_refused_with_a_count():
    original = b"Content-Type: message/rfc822\n\n" * 2000 + b"Subject: x\n\nbody\n"
    with pytest.raises(FormatError, match=r"ARF: .*nested.*MIME"):
        parse("arf", arf(original=original))


def test_arf_original_message_that_cannot_be_regenerated_is_kept_as_read():
    # A control character that str.splitlines() takes for a line break (\x1d) makes the
    # generator see an embedded header (HeaderParseError): the attachment is still made.
    original = b"From: <a@example.net>\nSubject: x\nX-Folded: a;\n    h\x1dFrom:To;\n\nbody\n"
    [record] = parse("arf", arf(original=original))
    [attachment] = record.attachments
    assert b"body" in attachment.content


@pytest.mark.parametrize("url", ["http://[1.2.3.4]/", "http://[::1"])
def test_bracketed_hosts_are_indicator_errors(url):
    with pytest.raises(IndicatorError):
        normalise("url", url)
    assert guess_indicator(url) is None


def test_importer_rejects_a_bracketed_url_naming_the_indicator(alice):
    from sentinelle.exchange.importer import import_records

    records = parse("arf", arf(b"Reported-Uri: http://[1.2.3.4]/\n"))
    summary = import_records(iter(records), user=alice, dry_run=True)
    [rejection] = summary.rejected
    assert rejection.where == "message" and "http://[1.2.3.4]/" in rejection.reason


# -- X-ARF -----------------------------------------------------------------------------------

def test_xarf_invalid_utf8_is_refused_naming_the_byte_offset():
    data = (FIXTURES / "xarf" / "connection-ddos.json").read_bytes().replace(
        b"DDoS Protection", b"DDoS \xed\xa0\x80Protection", 1)
    offset = data.index(b"\xed")
    with pytest.raises(FormatError, match=rf"X-ARF: .*byte {offset}\b"):
        parse("xarf", data)


def test_xarf_deep_json_line_is_rejected_naming_the_line():
    line = (FIXTURES / "xarf" / "connection-ddos.json").read_bytes().replace(b"\n", b"")
    deep = b'{"xarf_version": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    records = parse("xarf", line + b"\n" + deep + b"\n")
    assert len(reports(records)) == 1
    [rejection] = rejections(records)
    assert rejection.where == "line 2" and "deeper" in rejection.reason


def test_xarf_deep_first_line_is_not_a_crash():
    deep = b'{"xarf_version": ' + b"[" * 10_000 + b"]" * 10_000 + b"}\n{}\n"
    records = parse("xarf", deep)
    assert rejections(records)[0].where == "line 1"


# -- CSV and XLSX ----------------------------------------------------------------------------

CSV_HEADER = b"title,started_at,users_affected\n"


@pytest.mark.parametrize(("cells", "column"), [
    (b"99999999999999999999,", "started_at (B)"),        # a Unix time past year 9999
    (b"2026-01-01," + b"9" * 5000, "users_affected (C)"),
    (b"2026-01-01,\xc2\xb2", "users_affected (C)"),       # "²" passes str.isdigit()
])
def test_csv_out_of_range_numbers_are_cell_errors(cells, column):
    [rejection] = parse("csv", CSV_HEADER + b"Title," + cells + b"\n")
    assert rejection.where == "line 2" and f"column {column}" in rejection.reason


def test_xlsx_unsupported_zip_version_is_a_format_error():
    data = bytearray(xlsx(sheet(HEADER_ROW)))
    directory = data.rindex(b"PK\x01\x02")   # the last central directory entry
    data[directory + 6] = 255                  # "version needed to extract": 25.5
    with pytest.raises(FormatError, match=r"XLSX: not a readable workbook \(zip file version"):
        parse("xlsx", bytes(data))


# -- XLSX ------------------------------------------------------------------------------------

SHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def xlsx(sheet: bytes) -> bytes:
    from openpyxl import Workbook

    buffer = io.BytesIO()
    workbook = Workbook()
    workbook.active.append(["Title", "Started"])
    workbook.save(buffer)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                content = sheet
            target.writestr(info.filename, content, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def sheet(rows: str, extra: bytes = b"", dimension: str = "A1:B2") -> bytes:
    return (f'<worksheet xmlns="{SHEET_NS}"><dimension ref="{dimension}"/><sheetData>{rows}'
            .encode() + extra + b"</sheetData></worksheet>")


HEADER_ROW = '<row r="1"><c r="A1" t="inlineStr"><is><t>Title</t></is></c></row>'


def test_xlsx_zip_bomb_is_refused_before_it_is_inflated():
    bomb = xlsx(sheet(HEADER_ROW, b" " * (48 * 1024 * 1024)))
    assert len(bomb) < 1024 * 1024
    with pytest.raises(FormatError, match=r"XLSX: .*xl/worksheets/sheet1.xml.*bytes"):
        parse("xlsx", bomb)


@pytest.mark.parametrize(("cell", "message"), [
    ("XFD1048576", r"XLSX: more than 100000 lines"),
    ("XFD2", r"XLSX: line 2 has a cell in column XFD; more than 1024 columns are refused"),
])
def test_xlsx_far_cell_is_refused_not_padded_for_minutes(cell, message):
    row = cell.lstrip("XFD")
    far = f'<row r="{row}"><c r="{cell}" t="inlineStr"><is><t>x</t></is></c></row>'
    data = xlsx(sheet(HEADER_ROW + far, dimension=f"A1:{cell}"))
    started = time.monotonic()
    with pytest.raises(FormatError, match=message):
        parse("xlsx", data)
    assert time.monotonic() - started < 10


def test_xlsx_malformed_sheet_xml_is_a_format_error():
    data = xlsx(sheet(HEADER_ROW + '<row r="2"><c r="A2" t="inlineStr"><is><t>x</is></c></row>'))
    with pytest.raises(FormatError, match=r"XLSX: the sheet cannot be read after line 1"):
        parse("xlsx", data)


# -- MRT -------------------------------------------------------------------------------------

@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress])
def test_mrt_compression_bomb_stops_with_a_warning(compress):
    bomb = compress(bytes(64 * 1024 * 1024))
    assert len(bomb) < 1024 * 1024
    stats = ReadStats()
    started = time.monotonic()
    assert list(read_elements(io.BytesIO(bomb), stats=stats)) == []
    assert time.monotonic() - started < 20
    assert stats.truncated
    assert any("compression ratio" in warning for warning in stats.warnings)


def test_mrt_decompressed_chunks_are_bounded():
    stats = ReadStats()
    chunks = mrt_framing.decompressed(io.BytesIO(gzip.compress(bytes(64 * 1024 * 1024))),
                                      stats, "zeros.gz")
    assert max(len(chunk) for chunk in chunks) <= 4 * mrt_framing.CHUNK
