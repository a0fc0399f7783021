"""CSV and XLSX exports of report lists. Cells that a spreadsheet would run as a formula are
neutralised (OWASP CSV injection)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

from django.http import HttpResponse, StreamingHttpResponse
from django.utils.translation import gettext as _
from openpyxl import Workbook

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def neutralise(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def incident_columns() -> list[tuple[str, str]]:
    return [
        ("reference", _("Reference")), ("state", _("Member State")), ("status", _("Status")),
        ("title", _("Title")), ("category", _("Category")), ("rsit", _("RSIT class and type")),
        ("tlp", _("TLP")), ("severity", _("Severity")), ("started_at", _("Started")),
        ("ended_at", _("Ended")), ("users_affected", _("Users affected")),
        ("duration_hours", _("Duration (hours)")), ("user_hours", _("User-hours")),
        ("alleged_origin_state", _("Alleged origin State")), ("version", _("Version")),
    ]


def incident_rows(incidents: Iterable) -> Iterator[list]:
    for i in incidents:
        yield [i.reference, i.state.alpha2, i.status, i.title, i.category.code, i.rsit, i.tlp,
               i.severity, i.started_at.isoformat(), i.ended_at.isoformat() if i.ended_at else "",
               i.users_affected, i.duration_hours, i.user_hours,
               i.alleged_origin_state.alpha2 if i.alleged_origin_state else "", i.version]


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_response(filename: str, header: list[str], rows: Iterable[list]) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def stream() -> Iterator[str]:
        yield "\ufeff" + writer.writerow(header)
        for row in rows:
            yield writer.writerow([neutralise(v) for v in row])

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def xlsx_response(filename: str, header: list[str], rows: Iterable[list]) -> HttpResponse:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(filename[:31])
    sheet.append(header)
    for row in rows:
        sheet.append([neutralise(v) for v in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = HttpResponse(
        buffer.getvalue(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
    return response
