"""Who sees which figures: the Secretariat everything, others small counts suppressed except
their own State's. Checked on the service, the API, the dashboards and the exports."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from sentinelle.analysis.disclosure import for_viewer
from sentinelle.analysis.statistics import StatsFilter, compute
from tests.conftest import api_client, file_report

pytestmark = pytest.mark.django_db
API = "/api/v1/statistics/"


@pytest.fixture
def year(alice, bob):
    """Cuba: 1 RED report (below the threshold of 3). Switzerland: 4 reports. France: 3."""
    from tests.conftest import make_user

    fr = make_user("fred", "focal-point", "FR")
    file_report(alice, tlp="red", title="Cuban secret")
    for _ in range(4):
        file_report(bob, tlp="green")
    for _ in range(3):
        file_report(fr, tlp="amber")
    return 2026


def _row(rows, key):
    return next(r for r in rows if r["key"] == key)


def test_secretariat_sees_every_figure(year, charlie):
    stats = for_viewer(compute(StatsFilter(year=year)), charlie)
    assert _row(stats.by_state, "CU")["incidents"] == 1
    assert not stats.suppressed


def test_outsiders_never_get_cuba_alone_below_threshold(year, bob, council):
    for viewer in (bob, council, None):
        stats = for_viewer(compute(StatsFilter(year=year)), viewer)
        cu = _row(stats.by_state, "CU")
        assert cu["incidents"] is None and cu["suppressed"]
        # Secondary suppression: otherwise total − visible rows would give Cuba's 1.
        visible = [r for r in stats.by_state if not r["suppressed"]]
        known = sum(r["incidents"] for r in visible)
        if viewer is not None and viewer.username == "bob":
            assert all(r["key"] == "CH" for r in visible)
        assert stats.totals["incidents"] - known != 1 or not visible
        # Americas holds only Cuba: its region figure is Cuba's.
        assert _row(stats.by_itu_d_region, "Americas")["incidents"] is None
        assert _row(stats.by_admin_region, "A")["incidents"] is None
        # A filter naming Cuba suppresses every small cell.
        only_cu = for_viewer(compute(StatsFilter(year=year, states=("CU",))), viewer)
        assert only_cu.totals["incidents"] is None
        assert all(r["incidents"] in (0, None) for r in only_cu.by_category)


def test_focal_point_sees_own_state_in_full(year, alice):
    stats = for_viewer(compute(StatsFilter(year=year)), alice)
    assert _row(stats.by_state, "CU")["incidents"] == 1
    own = for_viewer(compute(StatsFilter(year=year, states=("CU",))), alice)
    assert own.totals["incidents"] == 1 and not own.suppressed


def test_api_isolation(year, alice, bob, charlie):
    def cuba(user):
        body = api_client(user).get(API, {"year": year}).json()
        return _row(body["by_state"], "CU")["incidents"]

    assert cuba(charlie) == 1
    assert cuba(alice) == 1
    assert cuba(bob) is None
    assert cuba(None) is None
    body = api_client(bob).get(API, {"year": year, "state": "CU"}).json()
    assert body["totals"]["incidents"] is None and body["suppressed"] is True
    assert "Cuban secret" not in str(body)


def test_api_same_numbers_as_service(year, charlie):
    body = api_client(charlie).get(API, {"year": year, "category": "trust-security"}).json()
    stats = compute(StatsFilter(year=year, categories=("trust-security",)))
    assert body["totals"]["incidents"] == stats.totals["incidents"] == 8
    assert [r["incidents"] for r in body["by_category"]] == \
        [r["incidents"] for r in stats.by_category]
    assert body["small_count_threshold"] == 3


def test_api_bad_input_is_400(db):
    response = api_client(None).get(API, {"year": "20x6"})
    assert response.status_code == 400 and "year" in response.json()
    response = api_client(None).get(API, {"date_from": "2026-02-01", "date_to": "2026-01-01"})
    assert response.status_code == 400


def test_threshold_is_configurable(year, bob, settings):
    settings.SMALL_COUNT = 5
    stats = for_viewer(compute(StatsFilter(year=year)), bob)
    assert _row(stats.by_state, "FR")["incidents"] is None  # 3 < 5
    settings.SMALL_COUNT = 1
    stats = for_viewer(compute(StatsFilter(year=year)), bob)
    assert _row(stats.by_state, "CU")["incidents"] == 1


def _csv(client, url: str, **params) -> str:
    response = client.get(url, params)
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode("utf-8-sig")


def test_dashboards_and_exports_isolation(year, client, alice, bob, charlie):
    client.force_login(charlie)
    page = client.get("/analysis/", {"year": year}).content.decode()
    assert "Cuba" in page and "<svg" in page
    csv = _csv(client, "/analysis/export/by_state.csv", year=year)
    assert "CU,Cuba,1," in csv

    client.force_login(bob)
    csv = _csv(client, "/analysis/export/by_state.csv", year=year)
    assert "CU,Cuba,<3," in csv
    xlsx = client.get("/analysis/export/by_state.xlsx", {"year": year})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    cuba = next(row for row in sheet.iter_rows(values_only=True) if row[0] == "CU")
    assert cuba[2] == "<3"
    page = client.get("/analysis/", {"year": year, "state": "CU"}).content.decode()
    assert "&lt;3" in page

    client.force_login(alice)
    csv = _csv(client, "/analysis/export/by_state.csv", year=year)
    assert "CU,Cuba,1," in csv

    client.logout()
    assert client.get("/analysis/").status_code == 302
    csv = _csv(client, "/analysis/public/export/by_state.csv", year=year)
    assert "CU,Cuba,<3," in csv
    public = client.get("/analysis/public/", {"year": year}).content.decode()
    assert "Cuban secret" not in public
    # The public page shows the public cut even to the Secretariat.
    client.force_login(charlie)
    csv = _csv(client, "/analysis/public/export/by_state.csv", year=year)
    assert "CU,Cuba,<3," in csv
