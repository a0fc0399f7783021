"""The CSV and XLSX report templates (exchange/formats/csvxlsx.py), read as uploads with
``format=csv`` / ``format=xlsx``; every indicator is then normalised as the importer does.

One input is one of three things, told by its first bytes: a zip (``PK``) is read as an XLSX
file as it is; XML (``<``) is a worksheet, put in place of the sheet of the seed workbook
(``fuzz/corpus/csvxlsx/reports.xlsx``) so that mutations reach the sheet parser rather than
the zip's CRC check; anything else is CSV.
"""

from __future__ import annotations

import functools
import io
import zipfile

from fuzz.harness import CORPUS, Target
from fuzz.targets._exchange import REFUSALS
from fuzz.targets._indicators import run_format_normalised

SHEET = "xl/worksheets/sheet1.xml"


@functools.cache
def _workbook_members() -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(CORPUS / "csvxlsx" / "reports.xlsx") as archive:
        return [(info, archive.read(info)) for info in archive.infolist()]


def _with_sheet(sheet: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, content in _workbook_members():
            archive.writestr(info, sheet if info.filename == SHEET else content)
    return buffer.getvalue()


def run(data: bytes) -> None:
    if data.startswith(b"PK"):
        run_format_normalised("xlsx", data, "upload.xlsx")
    elif data.lstrip().startswith(b"<"):
        run_format_normalised("xlsx", _with_sheet(data), "upload.xlsx")
    else:
        run_format_normalised("csv", data, "upload.csv")


TARGET = Target(
    name="csvxlsx",
    seeds=(),
    run=run,
    refusals=REFUSALS,
    kind="text",
)
