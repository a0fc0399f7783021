"""Reports as CSV or XLSX with the template's columns, so an export re-imports as is.

Header labels follow the active language (the parser accepts any of them). Every text cell
goes through core.tabular.neutralise: a value that a spreadsheet would run as a formula
gets a leading apostrophe, which the template parser removes again on import. Standalone
shared indicators have no place in a one-row-per-report table: the XLSX export lists them on
a second sheet; the CSV export leaves them out (docs/formats.md).
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

from django.utils.translation import get_language
from openpyxl import Workbook

from sentinelle.core.tabular import neutralise, xlsx_cell
from sentinelle.exchange.formats.csvxlsx import COLUMNS
from sentinelle.exchange.templates_csv import header


def current_indicators(incident) -> list[tuple[str, str]]:
    """The indicators of the incident's latest version, through its related versions."""
    return [(t, v) for t, v in incident.versions.filter(number=incident.version)
            .order_by("indicators__id").values_list("indicators__type", "indicators__value")
            if t]


def _when(value) -> str:
    return value.isoformat().replace("+00:00", "Z") if value else ""


def row(incident) -> list[Any]:
    values = {
        "title": incident.title,
        "category": incident.category.code,
        "rsit": incident.rsit,
        "tlp": incident.tlp,
        "severity": incident.severity,
        "started_at": _when(incident.started_at),
        "ended_at": _when(incident.ended_at),
        "detected_at": _when(incident.detected_at),
        "affected_services": "; ".join(incident.affected_services or []),
        "users_affected": incident.users_affected if incident.users_affected is not None
        else "",
        "alleged_origin_state": incident.alleged_origin_state.alpha2
        if incident.alleged_origin_state_id else "",
        "description": incident.description,
        "narrative_language": incident.narrative_language,
        "indicators": "; ".join(f"{t}:{v}" for t, v in current_indicators(incident)),
        "stix_id": incident.stix_id,
    }
    return [neutralise(values[field]) for field in COLUMNS]


def _rows(incidents: Iterable) -> Iterator[list[Any]]:
    for incident in incidents:
        yield row(incident)


def export_csv(incidents: Iterable, indicators: Iterable, stream: BinaryIO) -> None:
    """UTF-8 with a BOM (Excel), written row by row."""
    stream.write(codecs.BOM_UTF8)
    text = codecs.getwriter("utf-8")(stream)
    writer = csv.writer(text)
    writer.writerow(header(get_language() or "en"))
    for values in _rows(incidents):
        writer.writerow(values)


INDICATOR_COLUMNS = ("type", "value", "tlp", "name", "description", "valid_from",
                     "valid_until", "stix_id")


def export_xlsx(incidents: Iterable, indicators: Iterable, stream: BinaryIO) -> None:
    workbook = Workbook(write_only=True)
    reports = workbook.create_sheet("reports")
    reports.append(header(get_language() or "en"))
    for values in _rows(incidents):
        reports.append([xlsx_cell(v) for v in values])
    shared = workbook.create_sheet("indicators")
    shared.append(list(INDICATOR_COLUMNS))
    for item in indicators:
        shared.append([xlsx_cell(v) for v in (
            item.type, item.value, item.tlp, item.name, item.description,
            _when(item.valid_from), _when(item.valid_until), item.stix_id)])
    workbook.save(stream)
