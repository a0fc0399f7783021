"""CSV/XLSX template: localised headers, cell errors naming line and column, formulas refused,
templates in every language parse back."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from sentinelle.exchange import formats
from sentinelle.exchange.records import FormatError
from sentinelle.exchange.templates_csv import template_csv, template_xlsx
from tests.format_helpers import parse, rejections, reports

HEADER = ("title,category,rsit,tlp,severity,started_at,ended_at,users_affected,"
          "alleged_origin_state,description,indicators,affected_services\n")


@pytest.mark.parametrize("language", ["en", "fr", "es"])
def test_templates_parse_back(language):
    csv_template = template_csv(language)
    assert formats.detect(csv_template[:65536], f"template-{language}.csv") == "csv"
    [record] = parse("csv", csv_template)
    assert record.rsit == "availability:ddos" and record.tlp == "amber"
    assert record.indicators == [("ipv4", "203.0.113.7"), ("domain", "botnet.example")]
    assert record.narrative_language == language and record.users_affected == 15000
    xlsx_template = template_xlsx(language)
    assert formats.detect(xlsx_template[:65536], "t.xlsx") == "xlsx"
    [again] = parse("xlsx", xlsx_template)
    assert again == record.__class__(**{**record.__dict__, "source_format": "csv"})


def test_french_semicolon_header_and_fields():
    data = ("Titre;Catégorie;Classe et type RSIT;TLP;Début;Utilisateurs touchés;Indicateurs;"
            "Services touchés\nPanne;other;availability:outage;TLP:WHITE;2026-03-01 08:00:00;"
            "1 500;\"url:http://x.example/a; ipv6:2001:db8::1\";\"internet fixe; mobile\"\n")
    [record] = parse("csv", data.encode("cp1252"))   # Excel's French "CSV"
    assert record.title == "Panne" and record.tlp == "clear" and record.users_affected == 1500
    assert record.started_at.isoformat() == "2026-03-01T08:00:00+00:00"
    assert record.indicators == [("url", "http://x.example/a"), ("ipv6", "2001:db8::1")]
    assert record.affected_services == ["internet fixe", "mobile"]


def test_errors_name_line_and_column():
    data = HEADER + ("ok,other,other:other,amber,low,2026-01-01,,5,CU,-,,\n"
                     "bad,other,other:other,purple,low,someday,,many,Cuba,x,nocolon,\n")
    records = parse("csv", data.encode())
    assert len(reports(records)) == 1
    [rejection] = rejections(records)
    assert rejection.where == "line 3"
    for part in ("column tlp (D)", "column started_at (F)", "column users_affected (H)",
                 "column alleged_origin_state (I)", "column indicators (K)"):
        assert part in rejection.reason


@pytest.mark.parametrize("payload", ["=HYPERLINK(\"http://evil\")", "+1+cmd|' /C calc'!A0",
                                     "@SUM(A1)", "-2+3+cmd", "\tx"])
def test_formula_cells_are_refused(payload):
    data = HEADER + f'"{payload}",other,other:other,,,2026-01-01,,,,text,,\n'
    [rejection] = parse("csv", data.encode())
    assert "column title (A)" in rejection.reason and "formula" in rejection.reason


def test_apostrophe_convention_and_html_kept_literal():
    data = HEADER + ("\"'=not a formula\",other,other:other,,,2026-01-01,,,,"
                     "\"- bullet <script>alert(1)</script>\",,\n")
    [record] = parse("csv", data.encode())
    assert record.title == "=not a formula"
    assert record.description == "- bullet <script>alert(1)</script>"


def test_xlsx_formula_cell_refused():
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["title", "started_at", "users_affected"])
    sheet.append(["Real", "2026-01-01T00:00:00Z", "=1+1"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    [rejection] = parse("xlsx", buffer.getvalue())
    assert rejection.where == "line 2" and "column users_affected (C)" in rejection.reason


def test_unknown_column_and_missing_title():
    with pytest.raises(FormatError, match="line 1, column B: unknown column"):
        parse("csv", b"title,titel\nx,y\n")
    with pytest.raises(FormatError, match="no title column"):
        parse("csv", b"category,rsit\nx,y\n", name="x.csv")
    with pytest.raises(FormatError, match="not a readable workbook"):
        parse("xlsx", b"PK\x03\x04 truncated zip")


def test_large_csv_streams():
    class Rows(io.RawIOBase):
        def __init__(self, count):
            self.left, self.buf = count, HEADER.encode()

        def readable(self):
            return True

        def readinto(self, target):
            while len(self.buf) < len(target) and self.left:
                self.buf += b"t,other,other:other,,,2026-01-01,,,,d,,\n"
                self.left -= 1
            n = min(len(target), len(self.buf))
            target[:n], self.buf = self.buf[:n], self.buf[n:]
            return n

    from sentinelle.exchange.formats import csvxlsx
    records = csvxlsx.parse(io.BufferedReader(Rows(30_000)))
    assert next(records).where == "line 2"
    assert sum(1 for _ in records) == 29_999
