"""The access-denial index: figures on known data, disclosure by viewer, the page, the CSV and
the Council report's section."""

from __future__ import annotations

import datetime as dt

import pytest

from sentinelle.incidents import services as incident_services
from sentinelle.incidents.models import Evidence, Incident
from sentinelle.observatory import services
from sentinelle.observatory.access_index import IndexFilter, compute_index, routing_alert_counts
from sentinelle.reports import content
from sentinelle.reports import services as service
from sentinelle.reports.options import ReportOptions
from tests.conftest import PASSWORD, page
from tests.observatory_helpers import access_bundle, result, routing_bundle

YEAR = 2026

# Cuba, March: docker 3 denied + 1 accessible + 2 inconclusive -> 3/4; google 1 accessible.
# Cuba, April: docker 1 denied + 1 accessible -> 1/2.
CUBA = [
    result("https://hub.docker.com/", "geoblocked", "2026-03-01 10:00:00", "Docker"),
    result("https://hub.docker.com/a", "server-denied", "2026-03-02 10:00:00"),
    result("https://hub.docker.com/b", "tls-interference", "2026-03-03 10:00:00"),
    result("https://hub.docker.com/c", "accessible", "2026-03-04 10:00:00"),
    result("https://hub.docker.com/d", "inconclusive", "2026-03-05 10:00:00"),
    result("https://hub.docker.com/e", "inconclusive", "2026-03-06 10:00:00"),
    result("https://www.google.com/", "accessible", "2026-03-07 10:00:00"),
    result("https://hub.docker.com/f", "dns-tampering", "2026-04-01 10:00:00"),
    result("https://hub.docker.com/g", "accessible", "2026-04-02 10:00:00"),
]
# Switzerland: docker 1 accessible, 1 http-diff, 1 tcp-blocked in March -> 2/3.
SWISS = [
    result("https://hub.docker.com/", "accessible", "2026-03-01 11:00:00"),
    result("https://hub.docker.com/x", "http-diff", "2026-03-02 11:00:00"),
    result("https://hub.docker.com/y", "tcp-blocked", "2026-03-03 11:00:00"),
]
SWISS_VANTAGE = {"self_reported": {"cc": "CH", "asn": 559}, "geoip": {"cc": "CH", "asn": 559},
                 "mismatch": False, "mismatch_reasons": []}


@pytest.fixture
def measured(alice, bob, tmp_path):
    """Cuba's probe report submitted (consenting to be named), Switzerland's submitted (amber,
    no consent), and a Cuban routing scan submitted."""
    cuba = services.submit(alice, access_bundle(tmp_path / "cu.zip", CUBA)).incident
    swiss = services.submit(bob, access_bundle(tmp_path / "ch.zip", SWISS,
                                               vantage=SWISS_VANTAGE)).incident
    routing = services.submit(alice, routing_bundle(tmp_path / "scan.zip")).incident
    for incident, user in ((cuba, alice), (swiss, bob), (routing, alice)):
        incident_services.change_status(incident, user, "submitted")
    Incident.objects.filter(state__alpha2="CU").update(consent_to_name=True)
    return cuba, swiss, routing


def _row(index, **keys):
    return next(r for r in index.rows if all(r.get(k) == v for k, v in keys.items()))


def test_index_per_state_service_and_month_on_known_data(measured, charlie):
    index = compute_index(IndexFilter(year=YEAR), charlie)
    march = _row(index, state="CU", service="hub.docker.com", month="2026-03")
    assert (march["measurements"], march["conclusive"], march["denied"], march["index"]) == (
        6, 4, 3, 0.75)   # the two inconclusive measurements count in neither
    april = _row(index, state="CU", service="hub.docker.com", month="2026-04")
    assert (april["conclusive"], april["denied"], april["index"]) == (2, 1, 0.5)
    google = _row(index, state="CU", service="www.google.com")
    assert (google["conclusive"], google["denied"], google["index"]) == (1, 0, 0.0)
    swiss = _row(index, state="CH", service="hub.docker.com", month="2026-03")
    assert (swiss["conclusive"], swiss["denied"], swiss["index"]) == (3, 2, 0.6667)
    assert not index.suppressed and march["reports"] == 1


def test_coarser_groupings_add_up(measured, charlie):
    by_state_service = compute_index(IndexFilter(year=YEAR), charlie,
                                     group_by=("state", "service"))
    docker = _row(by_state_service, state="CU", service="hub.docker.com")
    assert (docker["conclusive"], docker["denied"], docker["index"]) == (6, 4, 0.6667)
    by_service = compute_index(IndexFilter(year=YEAR), charlie, group_by=("service",))
    docker = _row(by_service, service="hub.docker.com")
    assert (docker["conclusive"], docker["denied"], docker["reports"]) == (9, 6, 2)
    filtered = compute_index(IndexFilter(year=YEAR, states=("CH",)), charlie,
                             group_by=("state",))
    assert [r["state"] for r in filtered.rows] == ["CH"]
    assert compute_index(IndexFilter(year=YEAR + 1), charlie).rows == []


def test_drafts_do_not_count(alice, charlie, tmp_path):
    services.submit(alice, access_bundle(tmp_path / "cu.zip", CUBA))
    assert compute_index(IndexFilter(year=YEAR), charlie).rows == []
    assert compute_index(IndexFilter(year=YEAR), None).rows == []
    assert compute_index(IndexFilter(year=YEAR), alice).rows == []


def test_a_focal_point_sees_only_reports_it_may_see(measured, alice, bob):
    # Bob sees his own State in full and nothing of Cuba's amber report.
    bob_view = compute_index(IndexFilter(year=YEAR), bob)
    assert {r["state"] for r in bob_view.rows} == {"CH"}
    assert not bob_view.suppressed
    # Alice sees Cuba's in full (even cells under the threshold) and nothing Swiss (amber).
    alice_view = compute_index(IndexFilter(year=YEAR), alice)
    assert {r["state"] for r in alice_view.rows} == {"CU"}
    assert _row(alice_view, service="www.google.com")["index"] == 0.0


def test_green_reports_reach_other_states_with_small_counts_suppressed(measured, bob):
    cuba = measured[0]
    # As if GREEN when the bundle was attached: its rows follow the file's TLP.
    Incident.objects.filter(pk=cuba.pk).update(tlp="green")
    Evidence.objects.filter(incident=cuba).update(tlp="green")
    view = compute_index(IndexFilter(year=YEAR), bob)
    google = _row(view, state="CU", service="www.google.com")
    assert google["suppressed"] and google["index"] is None and google["conclusive"] is None
    docker = _row(view, state="CU", service="hub.docker.com", month="2026-03")
    assert docker["index"] == 0.75 and not docker["suppressed"]
    assert view.suppressed


def test_public_aggregate_counts_every_submitted_report_with_small_counts_hidden(measured):
    public = compute_index(IndexFilter(year=YEAR), None, group_by=("state", "service"))
    assert {r["state"] for r in public.rows} == {"CU", "CH"}
    assert _row(public, state="CU", service="www.google.com")["index"] is None
    assert _row(public, state="CH", service="hub.docker.com")["index"] == 0.6667


def test_routing_alerts_counted_per_state_and_type(measured, charlie):
    rows = routing_alert_counts(IndexFilter(year=YEAR), charlie)
    assert rows == [{"state": "CU", "type": "E|0", "alerts": 1, "reports": 1},
                    {"state": "CU", "type": "S|0", "alerts": 1, "reports": 1}]
    assert routing_alert_counts(IndexFilter(year=YEAR), measured[1].reporter) == []


def _login(client, user):
    assert client.login(username=user.username, password=PASSWORD)


def test_the_index_page_and_csv_for_the_secretariat(client, measured, charlie):
    _login(client, charlie)
    text = page(client.get(f"/observatory/index/?year={YEAR}"))
    assert "Access-denial index" in text and "hub.docker.com" in text and "75%" in text
    response = client.get(f"/observatory/index.csv?year={YEAR}&by=state,service")
    body = b"".join(response.streaming_content).decode()
    assert "CU,Cuba,hub.docker.com,0.6667,4,6,8,1" in body
    assert "CH,Switzerland,hub.docker.com,0.6667,2,3,3,1" in body


def test_the_index_page_for_bob_shows_no_cuban_restricted_data(client, measured, bob):
    _login(client, bob)
    text = page(client.get(f"/observatory/index/?year={YEAR}"))
    assert "Cuba" not in text and "www.google.com" not in text
    assert "Switzerland" in text
    body = b"".join(client.get(f"/observatory/index.csv?year={YEAR}").streaming_content)
    assert b"CU," not in body and b"Cuba" not in body


def _options(**kw) -> ReportOptions:
    return ReportOptions(**{"year": YEAR, "lang": "en", "fmt": "html",
                            "date": dt.date(2027, 3, 1), **kw})


def test_the_council_report_has_the_section(measured):
    doc = content.build(_options())
    section = next(s for s in doc.sections
                   if s.title == "Denial of access to public Internet resources")
    assert section.number == "8"
    tables = {t.key: t for t in doc.tables()}
    named = tables["access_index"]
    assert [[c if isinstance(c, str) else c.text for c in row] for row in named.rows] == [
        ["Cuba", "hub.docker.com", "66.7%", "4", "6"],
        ["Cuba", "www.google.com", "n.p.", "n.p.", "n.p."]]
    by_service = tables["access_index_by_service"]
    # Pooled over Cuba and Switzerland (who did not consent), 6 of 9 minus Cuba's named 4 of 6
    # would give Switzerland's 2 of 3: the pooled figures are hidden (issue 11, second attack).
    assert [[c if isinstance(c, str) else c.text for c in row] for row in by_service.rows] == [
        ["hub.docker.com", "2", "n.p.", "n.p.", "n.p."]]
    routing = tables["routing_alerts"]
    assert [row[0] for row in routing.rows] == ["E|0", "S|0"]
    produced = service.produce(_options())
    text = produced.document.decode()
    assert "Denial of access to public Internet resources" in text
    assert "Switzerland" not in text   # submitted, counted, not named
    annex = produced.annex.decode()
    assert "access_index,CU|hub.docker.com,Cuba – hub.docker.com,index,0.6667" in annex
    assert service.produce(_options()).document == produced.document   # deterministic


def test_the_council_section_is_translated(measured, catalogues):
    doc = content.build(_options(lang="fr"))
    assert any(s.number == "8" and s.title != "Denial of access to public Internet resources"
               for s in doc.sections)


def test_the_council_section_without_measurements(db):
    doc = content.build(_options(year=2031))
    section = doc.sections[-1]
    assert section.number == "8"
    texts = [b.text for b in section.blocks if hasattr(b, "text")]
    assert any("No access measurement was submitted for 2031" in t for t in texts)


def test_the_monthly_chart_for_the_secretariat_and_for_a_state_on_its_own(
        client, measured, charlie, alice, bob):
    """The index by month is drawn over what the filter selects: for the Secretariat, and for a
    focal point who chose its own State. Pooled over other States it is not drawn for a State:
    pooled month minus its own month would give the others' figures."""
    _login(client, charlie)
    html = client.get(f"/observatory/index/?year={YEAR}").content.decode()
    assert "Access-denial index by month (%)" in html and "<svg" in html
    assert f"{YEAR}-03: 62.5" in html      # March, pooled: Cuba 3 of 5, Switzerland 2 of 3
    client.logout()
    _login(client, bob)
    pooled = client.get(f"/observatory/index/?year={YEAR}").content.decode()
    assert "Access-denial index by month (%)" not in pooled
    own = client.get(f"/observatory/index/?year={YEAR}&state=CH").content.decode()
    assert "Access-denial index by month (%)" in own
    assert f"{YEAR}-03: 66.7" in own       # Switzerland's own: 2 of 3
    other = client.get(f"/observatory/index/?year={YEAR}&state=CU").content.decode()
    assert "Access-denial index by month (%)" not in other
