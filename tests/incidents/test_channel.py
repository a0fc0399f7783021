"""Issue 16, point 5: the channel through which each report arrived (web, api, import,
federation, observatory; unknown for older rows), shown to those who see the report, in the
API, and broken down in the Council report under the small-number rule."""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.test import Client

from sentinelle.exchange.formats import stix
from sentinelle.exchange.importer import import_records
from sentinelle.incidents.models import Channel, Incident
from sentinelle.observatory import services as observatory
from sentinelle.reports import content
from sentinelle.reports import services as service
from sentinelle.reports.options import ReportOptions
from tests.conftest import api_client, file_report, report_payload
from tests.observatory_helpers import access_bundle
from tests.paths import FIXTURES_DIR

YEAR = 2026
BIN = Path(sys.executable).parent
MEDALLION_DATA = FIXTURES_DIR / "taxii21" / "medallion-default_data.json"
HIGH_VALUE = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
MEDALLION_AUTH = {"user": "admin", "password": "Password0"}


def web_form(**overrides) -> dict:
    return {"title": "Fibre cut at the landing station", "category": "routing-disruption",
            "rsit": "availability:outage", "tlp": "amber", "severity": "high",
            "started_at": "2026-02-10T06:00", "ended_at": "2026-02-10T09:00",
            "detected_at": "", "affected_services": "fixed internet", "users_affected": "2000",
            "alleged_origin_state": "", "description": "Submarine cable damaged.",
            "narrative_language": "en", "indicators": "ipv4 192.0.2.10", **overrides}


def stix_incident(n: int) -> dict:
    return {"type": "incident", "spec_version": "2.1", "name": f"Imported {n}",
            "id": f"incident--3c3c3c3c-0000-4000-8000-{n:012d}",
            "created": "2026-04-01T00:00:00.000Z", "modified": "2026-04-01T00:00:00.000Z"}


def test_web_form_records_web_and_the_page_shows_it(alice, bob):
    client = Client()
    client.force_login(alice)
    response = client.post("/incidents/new/", {**web_form(), "submit": ""})
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert incident.channel == Channel.WEB
    page = client.get(incident.get_absolute_url()).content.decode()
    assert "Arrived through" in page and "Web form" in page
    # Only those who see the report see it: another State's focal point gets 404.
    other = Client()
    other.force_login(bob)
    assert other.get(incident.get_absolute_url()).status_code == 404


def test_api_records_api_read_only(alice, bob):
    client = api_client(alice)
    response = client.post("/api/v1/incidents/", {**report_payload(), "channel": "federation"},
                           format="json")
    assert response.status_code == 201, response.content
    assert response.json()["channel"] == "api"           # read-only: the posted value is ignored
    incident = Incident.objects.get()
    assert incident.channel == Channel.API
    assert client.get(f"/api/v1/incidents/{incident.pk}/").json()["channel"] == "api"
    assert api_client(bob).get(f"/api/v1/incidents/{incident.pk}/").status_code == 404


def test_file_import_records_import(alice):
    data = json.dumps({"type": "bundle", "id": "bundle--1", "objects": [stix_incident(1)]})
    summary = import_records(stix.parse(io.BytesIO(data.encode())), user=alice)
    assert summary.reports_created == 1
    assert Incident.objects.get().channel == Channel.IMPORT


def test_taxii_imports_are_recorded_as_federation(alice):
    data = json.dumps({"type": "bundle", "id": "bundle--1", "objects": [stix_incident(2)]})
    import_records(stix.parse(io.BytesIO(data.encode())), user=alice, channel="federation")
    assert Incident.objects.get().channel == Channel.FEDERATION


def test_observatory_bundle_records_observatory(alice, tmp_path):
    outcome = observatory.submit(alice, access_bundle(tmp_path / "run.zip"), expect="probe")
    assert outcome.incident.channel == Channel.OBSERVATORY


def test_service_refuses_an_unknown_channel(alice):
    with pytest.raises(ValueError, match="channel"):
        from sentinelle.incidents import services
        services.create_report(alice, {}, channel="carrier-pigeon")


def test_migration_infers_observatory_and_leaves_the_rest_unknown(alice, tmp_path):
    migration = __import__("sentinelle.incidents.migrations.0008_incident_channel",
                           fromlist=["infer_channel"])
    web = file_report(alice)
    made = observatory.submit(alice, access_bundle(tmp_path / "run.zip"), expect="probe")
    Incident.objects.update(channel=Channel.UNKNOWN)   # as the rows were before 0008
    migration.infer_channel(django_apps, None)
    assert Incident.objects.get(pk=made.incident.pk).channel == Channel.OBSERVATORY
    assert Incident.objects.get(pk=web.pk).channel == Channel.UNKNOWN


@pytest.mark.skipif(not (BIN / "medallion").exists(), reason="medallion comes with the test extra")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_federation_pull_records_federation(db, tmp_path, alice, bob, charlie):
    from sentinelle.exchange import federation
    from tests.exchange.test_federation import serve_medallion

    data = json.loads(MEDALLION_DATA.read_text())
    collection = next(c for c in data["trustgroup1"]["collections"] if c["id"] == HIGH_VALUE)
    incident = stix_incident(3)
    collection["objects"].append(incident)
    collection["manifest"].append({"date_added": "2026-04-01T00:00:00.000000Z",
                                   "id": incident["id"], "version": incident["modified"],
                                   "media_type": "application/stix+json;version=2.1"})
    served = tmp_path / "data.json"
    served.write_text(json.dumps(data))
    with serve_medallion(served) as hub:
        result = federation.pull(remote=hub, api_root="trustgroup1", collection=HIGH_VALUE,
                                 user=alice, auth=MEDALLION_AUTH)
    assert result.summary["reports_created"] == 1, result
    assert Incident.objects.get(stix_id=incident["id"]).channel == Channel.FEDERATION


# --- Council report --------------------------------------------------------------------------

def options(**kw) -> ReportOptions:
    return ReportOptions(**{"year": YEAR, "lang": "en", "fmt": "html",
                            "date": dt.date(2027, 3, 1), **kw})


def channel_table(doc):
    table = next(t for t in doc.tables() if t.key == "by_channel")
    return {row[0]: row[1:] for row in table.rows}, table


@pytest.fixture
def mixed_year(alice, bob, charlie):
    """Cuba: 4 web and 3 API reports; Switzerland: 3 web and 1 import (a count of 1)."""
    reports = [*(file_report(alice) for _ in range(4)), *(file_report(alice) for _ in range(3)),
               *(file_report(bob) for _ in range(3)), file_report(bob)]
    channels = ["web"] * 4 + ["api"] * 3 + ["web"] * 3 + ["import"]
    for incident, channel in zip(reports, channels, strict=True):
        Incident.objects.filter(pk=incident.pk).update(channel=channel)
    return reports


def test_council_table_counts_reports_by_channel(mixed_year, settings):
    settings.SMALL_COUNT = 1   # nothing withheld: the raw counts show
    rows, table = channel_table(content.build(options()))
    assert table.columns[-1] == str(YEAR)
    assert rows["Web form"][-1].raw == 7 and rows["Web form"][-1].text == "7"
    assert rows["API"][-1].raw == 3 and rows["File import"][-1].raw == 1
    assert "Federation (TAXII)" not in rows          # a channel nobody used: no row of zeros


def test_council_table_withholds_small_counts_safely(mixed_year):
    produced = service.produce(options())
    rows, _table = channel_table(content.build(options()))
    cells = {label: row[-1] for label, row in rows.items()}
    assert cells["File import"].suppressed and cells["File import"].text == "n.p."
    # One hidden cell would be the total of reports minus the shown ones: a second one hides.
    hidden = [label for label, cell in cells.items() if cell.suppressed]
    assert len(hidden) >= 2, hidden
    shown = sum(cell.raw for cell in cells.values() if not cell.suppressed)
    assert 11 - shown >= 3          # what is hidden together is not itself a small count
    annex = produced.annex.decode()
    assert "by_channel,import,File import,2026,n.p." in annex
    page = produced.document.decode()
    assert "Individual reports by channel and year" in page
    assert 'data-figure="2026|by_channel|web|incidents"' in page


def test_statistics_api_has_the_channel_breakdown_withheld_the_same_way(mixed_year, council):
    body = api_client(council).get(f"/api/v1/statistics/?year={YEAR}").json()
    rows = {r["key"]: r for r in body["by_channel"]}
    assert rows["import"]["incidents"] is None and rows["import"]["suppressed"]
    assert rows["observatory"]["incidents"] == 0
