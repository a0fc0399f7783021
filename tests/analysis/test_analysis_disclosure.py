"""Who sees which figures: the Secretariat precise figures of what it may see, a focal point its
own State precisely, everyone else the year's public publication (small counts and what would
recover them suppressed, only consenting States named). Checked on the service, the API, the
dashboards and the exports. The differencing attack is in test_trust_statistics.py."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from django.http import QueryDict
from openpyxl import load_workbook

from sentinelle.analysis.disclosure import publication, statistics_for
from sentinelle.analysis.statistics import StatsFilter, compute
from sentinelle.incidents.models import Incident
from tests.conftest import api_client, file_report

pytestmark = pytest.mark.django_db
API = "/api/v1/statistics/"


@pytest.fixture
def year(alice, bob, charlie):
    """Cuba: 1 RED report (below the threshold of 3), Charlie named for it. Switzerland: 4
    reports. France: 3. Nobody consented to be named."""
    from tests.conftest import make_user

    fr = make_user("fred", "focal-point", "FR")
    red = file_report(alice, tlp="red", title="Cuban secret")
    red.named_analysts.add(charlie)
    for _ in range(4):
        file_report(bob, tlp="green")
    for _ in range(3):
        file_report(fr, tlp="amber")
    return 2026


def _row(rows, key):
    return next(r for r in rows if r["key"] == key)


def _for(user, **params) -> object:
    query = QueryDict(mutable=True)
    query.update(params)
    return statistics_for(user, query)


def test_secretariat_sees_every_figure_it_may_see(year, charlie, django_user_model):
    stats = _for(charlie, year=str(year))
    assert _row(stats.by_state, "CU")["incidents"] == 1
    assert not stats.suppressed
    # Another analyst, not named for the RED report, does not count it.
    other = django_user_model.objects.create(username="dana", role="analyst")
    stats = _for(other, year=str(year), state="CU")
    assert stats.totals["incidents"] == 0


def test_outsiders_get_the_publication(year, bob, council):
    for viewer in (bob, council, None):
        stats = _for(viewer, year=str(year))
        # Nobody consented: no State is named; every figure is the year's publication.
        assert stats.by_state == []
        assert stats.totals["incidents"] == 8
        # Americas holds only Cuba's 1: hidden.
        assert _row(stats.by_itu_d_region, "Americas")["incidents"] is None
        assert _row(stats.by_admin_region, "A")["incidents"] is None
        # Europe (7) would then give Americas by subtraction: hidden too.
        assert _row(stats.by_itu_d_region, "Europe")["incidents"] is None
        # A filter naming Cuba is refused, naming the parameter.
        with pytest.raises(ValidationError) as exc:
            _for(viewer, year=str(year), state="CU")
        assert "state" in exc.value.message_dict


def test_focal_point_sees_own_state_in_full(year, alice):
    own = _for(alice, year=str(year), state="CU", date_from="2026-03-01",
               date_to="2026-03-01")
    assert own.totals["incidents"] == 1 and not own.suppressed
    assert _for(alice, year=str(year)).by_state == []  # the rest as the public sees it


def test_api_isolation(year, alice, bob, charlie):
    def cuba(user, **params):
        return api_client(user).get(API, {"year": year, **params})

    assert _row(cuba(charlie).json()["by_state"], "CU")["incidents"] == 1
    assert cuba(alice, state="CU").json()["totals"]["incidents"] == 1
    for user in (bob, None):
        body = cuba(user).json()
        assert body["by_state"] == [] and body["suppressed"] is True
        response = cuba(user, state="CU")
        # A parameter only the Secretariat may use: 403 (a role's limit), naming it.
        assert response.status_code == 403 and "state" in response.json()["fields"]
        assert "Cuban secret" not in str(body)


def test_api_same_numbers_as_service(year, charlie):
    body = api_client(charlie).get(API, {"year": year, "category": "trust-security"}).json()
    stats = compute(StatsFilter(year=year, categories=("trust-security",)),
                    scope=Incident.objects.for_user(charlie))
    assert body["totals"]["incidents"] == stats.totals["incidents"] == 8
    assert [r["incidents"] for r in body["by_category"]] == \
        [r["incidents"] for r in stats.by_category]
    assert body["small_count_threshold"] == 3
    public = api_client(None).get(API, {"year": year}).json()
    assert public["totals"] == publication(year).as_dict()["totals"]


def test_api_bad_input_is_400(db):
    response = api_client(None).get(API, {"year": "20x6"})
    assert response.status_code == 400 and "year" in response.json()["fields"]
    # Dates are the Secretariat's: refused for the public by role (403) before their order.
    response = api_client(None).get(API, {"date_from": "2026-02-01", "date_to": "2026-01-01"})
    assert response.status_code == 403


def test_threshold_is_configurable(year, bob, settings):
    settings.SMALL_COUNT = 1
    stats = _for(bob, year=str(year))
    assert _row(stats.by_itu_d_region, "Americas")["incidents"] == 1
    settings.SMALL_COUNT = 3
    assert _row(_for(bob, year=str(year)).by_itu_d_region, "Americas")["incidents"] is None


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
    assert "Cuba" not in csv
    xlsx = client.get("/analysis/export/by_itu_d_region.xlsx", {"year": year})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    americas = next(row for row in sheet.iter_rows(values_only=True) if row[0] == "Americas")
    assert americas[2] == "<3"
    page = client.get("/analysis/", {"year": year, "state": "CU"}).content.decode()
    assert "published for whole calendar years" in page
    assert client.get("/analysis/export/by_state.csv",
                      {"year": year, "state": "CU"}).status_code == 400

    client.force_login(alice)
    csv = _csv(client, "/analysis/export/by_state.csv", year=year, state="CU")
    assert "CU,Cuba,1," in csv

    client.logout()
    assert client.get("/analysis/").status_code == 302
    csv = _csv(client, "/analysis/public/export/by_state.csv", year=year)
    assert "Cuba" not in csv
    public = client.get("/analysis/public/", {"year": year}).content.decode()
    assert "Cuban secret" not in public
    # The public page shows the public cut even to the Secretariat.
    client.force_login(charlie)
    csv = _csv(client, "/analysis/public/export/by_state.csv", year=year)
    assert "Cuba" not in csv
