"""A report whose text holds control characters (the API accepts them; Schemathesis filed one)
still exports as XLSX: XML 1.0 cannot carry them, and openpyxl refused the whole export with a
500. The cell keeps the rest of the text, neutralised as before; CSV keeps them."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from sentinelle.core.tabular import xlsx_cell
from sentinelle.exchange.formats.csvxlsx import COLUMNS
from tests.conftest import api_client, report_payload

DESCRIPTION = "Volumetric\x1b attack from a \x0bbotnet."


def test_an_xlsx_export_drops_what_a_cell_cannot_hold(alice):
    client = api_client(alice)
    created = client.post("/api/v1/incidents/", report_payload(description=DESCRIPTION),
                          format="json")
    assert created.status_code == 201, created.content
    answer = client.get("/api/v1/exports/", {"format": "xlsx"})
    assert answer.status_code == 200, answer.content[:500]
    body = b"".join(answer.streaming_content) if answer.streaming else answer.content
    sheet = load_workbook(io.BytesIO(body), read_only=True)["reports"]
    rows = list(sheet.iter_rows(values_only=True))
    column = list(COLUMNS).index("description")
    assert [row[column] for row in rows[1:]] == ["Volumetric attack from a botnet."]
    # Tabs and newlines are text, and a formula is still neutralised.
    assert xlsx_cell("a\tb\nc") == "a\tb\nc"
    assert xlsx_cell("=1+1\x07") == "'=1+1"
