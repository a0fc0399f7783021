"""Attack on issue 18's move of formula neutralising to core/tabular.py: every spreadsheet
download whose cells a user writes (the report list, the CSIRT export, the gateway's open data)
must still start no cell with =, +, -, @, a tab or a CR; and the exports' move to
core.storage.spooled_response must keep another State's restricted report out of the file."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from tests.conftest import api_client, file_report
from tests.gateway_helpers import make_entry, publish

pytestmark = pytest.mark.django_db

FORMULAS = ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]
DANGER = ("=", "+", "-", "@", "\t", "\r")


def csv_cells(body: bytes) -> list[str]:
    return [c for row in csv.reader(io.StringIO(body.decode("utf-8-sig"))) for c in row]


def xlsx_cells(body: bytes) -> list[str]:
    book = load_workbook(io.BytesIO(body), read_only=True)
    return [c for sheet in book for row in sheet.iter_rows(values_only=True)
            for c in row if isinstance(c, str)]


def content(response) -> bytes:
    assert response.status_code == 200, response.status_code
    return b"".join(response.streaming_content) if response.streaming else response.content


def assert_neutralised(cells: list[str]) -> None:
    titles = [c for c in cells if c.lstrip("'") in FORMULAS]
    assert len(titles) >= len(FORMULAS), cells  # each formula title is in the file
    assert [c for c in cells if c.startswith(DANGER)] == []


@pytest.fixture
def formula_reports(alice, bob):
    for title in FORMULAS:
        file_report(alice, title=title, tlp="green")
    file_report(bob, title="=SWISS RED", tlp="red")


def test_the_report_list_downloads_are_neutralised(client, alice, formula_reports):
    client.force_login(alice)
    cells = csv_cells(content(client.get("/incidents/?export=csv")))
    assert_neutralised(cells)
    assert_neutralised(xlsx_cells(content(client.get("/incidents/?export=xlsx"))))
    assert not any("SWISS RED" in c for c in cells)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_csirt_export_is_neutralised_and_keeps_to_what_the_user_sees(alice,
                                                                       formula_reports, fmt):
    body = content(api_client(alice).get(f"/api/v1/exports/?format={fmt}"))
    cells = csv_cells(body) if fmt == "csv" else xlsx_cells(body)
    assert_neutralised(cells)
    assert not any("SWISS RED" in c for c in cells)


def test_the_gateway_open_data_csv_is_neutralised(client, alice, charlie):
    for text in FORMULAS:
        publish(make_entry(alice, measure=text), alice, charlie)
    cells = csv_cells(content(client.get("/gateway/export.csv")))
    assert_neutralised(cells)
