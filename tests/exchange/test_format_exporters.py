"""MISP and CSV/XLSX exports re-import as the same content, neutralise formula cells, and
carry only what they are given (the caller scopes; here: Cuba's own report)."""

from __future__ import annotations

import io
import json

import pytest
from openpyxl import load_workbook

from sentinelle.exchange.exporters import csvxlsx as csv_exporter
from sentinelle.exchange.exporters import misp as misp_exporter
from sentinelle.exchange.records import ReportRecord
from sentinelle.incidents.models import Incident
from tests.conftest import file_report
from tests.format_helpers import parse

FIELDS = ("title", "category", "rsit", "tlp", "severity", "started_at", "ended_at",
          "affected_services", "users_affected", "description", "narrative_language")


def content(record: ReportRecord) -> dict:
    data = {f: getattr(record, f) for f in FIELDS}
    data["indicators"] = sorted(record.indicators)
    return data


@pytest.fixture
def incident(alice, bob, charlie):
    report = file_report(alice, title="=HYPERLINK(\"http://evil\") outage",
                         description="- first point\n<b>literal</b>", tlp="green")
    return Incident.objects.select_related("category", "rsit_type__rsit_class", "state").get(
        pk=report.pk)


def expected(incident) -> dict:
    return {"title": incident.title, "category": "trust-security", "rsit": "availability:ddos",
            "tlp": "green", "severity": "medium", "started_at": incident.started_at,
            "ended_at": incident.ended_at, "affected_services": incident.affected_services,
            "users_affected": 15000, "description": incident.description,
            "narrative_language": "en",
            "indicators": sorted([("ipv4", "203.0.113.7"), ("domain", "botnet.example")])}


def test_misp_round_trip(incident):
    stream = io.BytesIO()
    misp_exporter.export([incident], [], stream)
    document = json.loads(stream.getvalue())
    event = document["response"][0]["Event"]
    assert event["uuid"] == incident.stix_id.split("--")[1]
    assert {"name": "tlp:green"} in event["Tag"]
    assert {"name": 'rsit:availability="ddos"'} in event["Tag"]
    [record] = parse("misp", stream.getvalue())
    assert record.external_id == incident.stix_id
    assert content(record) == expected(incident)


def test_csv_round_trip_and_neutralised(incident):
    stream = io.BytesIO()
    csv_exporter.export_csv([incident], [], stream)
    assert b"'=HYPERLINK" in stream.getvalue()
    [record] = parse("csv", stream.getvalue(), name="export.csv")
    assert record.external_id == incident.stix_id
    assert content(record) == expected(incident)


def test_xlsx_round_trip_and_neutralised(incident):
    stream = io.BytesIO()
    csv_exporter.export_xlsx([incident], [], stream)
    sheet = load_workbook(io.BytesIO(stream.getvalue()), read_only=True).worksheets[0]
    title = [row for row in sheet.iter_rows(values_only=True)][1][0]
    assert title.startswith("'=")
    [record] = parse("xlsx", stream.getvalue(), name="export.xlsx")
    assert content(record) == expected(incident)
