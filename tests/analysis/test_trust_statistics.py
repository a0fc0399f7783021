"""Issue 11, findings 7 and 9: public statistics cannot be narrowed by differencing, and every
public surface (home page, gateway, /analysis/public/, the API, the Council report) shows the
figures of one computation, naming only the States that consented."""

from __future__ import annotations

import html
import itertools
import re

import pytest

from sentinelle.analysis.statistics import TABLES
from sentinelle.incidents.models import Incident, Status
from sentinelle.reports import content
from sentinelle.reports.options import ReportOptions
from tests.conftest import api_client, file_report, make_user

pytestmark = pytest.mark.django_db
API = "/api/v1/statistics/"
K = 3


@pytest.fixture
def seeded(alice, bob, charlie):
    """2026. France (consenting, named): 4 reports. Switzerland (no consent): 5, plus one
    duplicate. Cuba (consent on some reports only, so not named): 4 AMBER
    interception-surveillance reports and one RED, critical, started 5 November. Brazil: 3,
    Mexico: 1 (no consent)."""
    fred = make_user("fred", "focal-point", "FR")
    bea = make_user("bea", "focal-point", "BR")
    max_ = make_user("max", "focal-point", "MX")
    french = [file_report(fred, tlp="green", started_at=f"2026-0{m}-10T08:00:00Z",
                          ended_at=f"2026-0{m}-10T09:00:00Z") for m in (3, 4, 5, 6)]
    Incident.objects.filter(pk__in=[i.pk for i in french]).update(consent_to_name=True)
    swiss = [file_report(bob, tlp="green") for _ in range(3)]
    swiss += [file_report(bob, tlp="green", category="routing-disruption") for _ in range(2)]
    duplicate = file_report(bob, tlp="green")
    Incident.objects.filter(pk=duplicate.pk).update(status=Status.DUPLICATE,
                                                    duplicate_of=swiss[0])
    cuban = [file_report(alice, tlp="amber", category="interception-surveillance",
                         severity="high", started_at=f"2026-0{m}-02T08:00:00Z",
                         ended_at=f"2026-0{m}-02T09:00:00Z") for m in (2, 4, 7, 9)]
    Incident.objects.filter(pk__in=[i.pk for i in cuban[:2]]).update(consent_to_name=True)
    red = file_report(alice, tlp="red", category="interception-surveillance",
                      severity="critical", title="Cuban red matter",
                      started_at="2026-11-05T08:00:00Z", ended_at="2026-11-05T09:00:00Z")
    for _ in range(3):
        file_report(bea, tlp="green", category="access-denial")
    file_report(max_, tlp="green", category="access-denial")
    return {"red": red}


# --- finding 7: differencing ------------------------------------------------------------------

GRID = {
    "year": [None, "2026"],
    "date_from": [None, "2026-01-01", "2026-11-05"],
    "date_to": [None, "2026-11-04", "2026-11-05"],
    "category": [None, "interception-surveillance"],
    "state": [None, "CU"],
    "region": [None, "Americas"],
    "rsit_class": [None, "availability"],
}


def _cells(body: dict) -> dict[tuple, int]:
    """Every visible count of an API answer, by (table, row, figure)."""
    out = {}
    for name in TABLES:
        for row in body[name]:
            for figure in ("incidents", "reported", "from_summary_returns"):
                if row.get(figure) is not None:
                    out[(name, row["key"], figure)] = row[figure]
    for figure in ("incidents", "reported", "from_summary_returns", "with_evidence"):
        if body["totals"].get(figure) is not None:
            out[("totals", "", figure)] = body["totals"][figure]
    for name in ("time_to_acknowledge", "time_to_close"):
        if body[name].get("count") is not None:
            out[(name, "", "count")] = body[name]["count"]
    return out


def _small(value: int) -> bool:
    return 0 < abs(value) < K


def _answers(user) -> dict[tuple, dict]:
    client = api_client(user)
    names = list(GRID)
    answers = {}
    for values in itertools.product(*GRID.values()):
        params = {n: v for n, v in zip(names, values, strict=True) if v is not None}
        if params.get("date_from") and params.get("date_to") \
                and params["date_to"] < params["date_from"]:
            continue
        response = client.get(API, params)
        if response.status_code == 200:
            answers[values] = response.json()
        else:
            # A parameter only the Secretariat may use: 403, naming it.
            assert response.status_code == 403, (params, response.status_code)
            assert set(response.json()["fields"]) & set(params), (params, response.json())
    return answers


@pytest.mark.parametrize("who", ["anonymous", "bob", "council"])
def test_no_pair_of_public_queries_differs_by_a_small_count(seeded, bob, council, who):
    user = {"anonymous": None, "bob": bob, "council": council}[who]
    answers = _answers(user)
    assert answers, "the public figures of the year must be readable"
    for values, body in answers.items():
        for key, value in _cells(body).items():
            assert not _small(value), (values, key, value)
    for (a, body_a), (b, body_b) in itertools.combinations(answers.items(), 2):
        if sum(x != y for x, y in zip(a, b, strict=True)) != 1:
            continue
        cells_a, cells_b = _cells(body_a), _cells(body_b)
        for key in cells_a.keys() & cells_b.keys():
            assert not _small(cells_a[key] - cells_b[key]), (a, b, key)


def test_the_issue_s_attack_is_refused_for_the_public(seeded, council):
    for user in (None, council):
        client = api_client(user)
        for date_to in ("2026-11-04", "2026-11-05"):
            response = client.get(API, {"date_from": "2026-01-01", "date_to": date_to,
                                        "category": "interception-surveillance"})
            assert response.status_code == 403
            assert {"date_from", "date_to", "category"} <= set(response.json()["fields"])
        one_day = client.get(API, {"date_from": "2026-11-05", "date_to": "2026-11-05"})
        assert one_day.status_code == 403


def test_hidden_cells_cannot_be_recovered_from_a_margin(seeded):
    body = api_client(None).get(API, {"year": 2026}).json()
    total = body["totals"]["incidents"]
    assert total == 18
    for name in ("by_category", "by_rsit_class", "by_itu_d_region", "by_state"):
        visible = sum(r["incidents"] for r in body[name] if r["incidents"] is not None)
        assert not _small(total - visible), name
    for name in ("by_month", "by_severity", "by_status", "by_rsit_type"):
        visible = sum(r["incidents"] for r in body[name] if r["incidents"] is not None)
        assert not _small(body["totals"]["reported"] - visible), name
    # Cuba's RED report is the only critical one: never shown alone.
    critical = next(r for r in body["by_severity"] if r["key"] == "critical")
    assert critical["incidents"] is None and critical["suppressed"]


def test_secretariat_keeps_the_precise_view_of_what_it_may_see(seeded, charlie, alice):
    params = {"date_from": "2026-11-05", "date_to": "2026-11-05"}
    # Charlie is not one of the analysts Cuba named for its RED report: not counted for him.
    body = api_client(charlie).get(API, params).json()
    assert body["totals"]["incidents"] == 0 and body["suppressed"] is False
    body = api_client(charlie).get(API, {"year": 2026, "state": "MX"}).json()
    assert body["totals"]["incidents"] == 1  # precise, unsuppressed
    seeded["red"].named_analysts.add(charlie)
    body = api_client(charlie).get(API, params).json()
    assert body["totals"]["incidents"] == 1
    # A focal point sees its own State's figures precisely, with any filter.
    body = api_client(alice).get(API, {**params, "state": "CU"}).json()
    assert body["totals"]["incidents"] == 1


# --- finding 9: one computation, consent ------------------------------------------------------

CATEGORIES = ("interception-surveillance", "trust-security", "routing-disruption",
              "access-denial", "other")


def _rows(page: str) -> list[list[str]]:
    rows = []
    for tr in re.findall(r"<tr\b[^>]*>(.*?)</tr>", page, flags=re.S):
        cells = re.findall(r"<t[dh]\b[^>]*>(.*?)</t[dh]>", tr, flags=re.S)
        rows.append([html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells])
    return rows


def _by_category_from_html(page: str, labels: dict[str, str]) -> dict[str, str]:
    """The first table of the page with a row per category: the cell after the label."""
    out: dict[str, str] = {}
    for row in _rows(page):
        for code, label in labels.items():
            if code not in out and label in row[:-1]:
                out[code] = row[row.index(label) + 1].replace(",", "")
        if len(out) == len(labels):
            break
    return out


def _api_by_category(user) -> dict[str, str]:
    body = api_client(user).get(API, {"year": 2026}).json()
    return {r["key"]: "<3" if r["incidents"] is None else str(r["incidents"])
            for r in body["by_category"]}


def test_every_public_surface_shows_the_same_figures(seeded, client, council):
    from sentinelle.incidents.models import Category

    labels = {c.code: str(c.label) for c in Category.objects.filter(code__in=CATEGORIES)}
    expected = _api_by_category(None)
    assert set(expected) >= set(labels)
    assert _api_by_category(council) == expected
    surfaces = {
        "home": client.get("/").content.decode(),
        "gateway": client.get("/gateway/statistics/", {"year": 2026}).content.decode(),
        "analysis": client.get("/analysis/public/", {"year": 2026}).content.decode(),
    }
    for name, page in surfaces.items():
        assert _by_category_from_html(page, labels) == {c: expected[c] for c in labels}, name
    doc = content.build(ReportOptions(year=2026, lang="en", fmt="html"))
    table = next(t for t in doc.tables() if t.key == "by_category")
    # The same cells are hidden; the report marks them "n.p." (a mark that claims no size, as
    # a hidden cell may be large), the web pages "<3" (their legend says what it covers).
    council_report = {code: row[1].text.replace(",", "").replace("n.p.", "<3")
                      for row in table.rows for code, label in labels.items() if row[0] == label}
    assert council_report == {c: expected[c] for c in labels}


def test_non_consenting_states_are_never_named_in_public(seeded, client, council):
    pages = [client.get("/").content.decode(),
             client.get("/gateway/statistics/", {"year": 2026}).content.decode(),
             client.get("/analysis/public/", {"year": 2026}).content.decode(),
             b"".join(client.get("/analysis/public/export/by_state.csv",
                                 {"year": 2026}).streaming_content).decode("utf-8-sig")]
    for user in (None, council):
        body = api_client(user).get(API, {"year": 2026}).json()
        assert {r["key"] for r in body["by_state"]} == {"FR"}
        pages.append(str(body["by_state"]))
    for page in pages:
        for name in ("Switzerland", "Cuba", "Brazil", "Mexico"):
            # The State selector of the filter form lists every Member State; figures do not.
            figures = re.sub(r"<select\b.*?</select>", "", page, flags=re.S)
            assert name not in figures, name
    analysis = pages[2]
    assert "France" in analysis


def test_consent_help_text_says_where_the_name_appears(alice, client):
    from sentinelle.incidents.forms import IncidentForm

    label = str(IncidentForm.base_fields["consent_to_name"].label)
    help_text = str(IncidentForm.base_fields["consent_to_name"].help_text)
    assert "public statistics" in (label + help_text)


# --- the rule holds on random years -----------------------------------------------------------

@pytest.mark.parametrize("seed", range(1, 9))
def test_the_rule_holds_on_random_years(db, seed):
    import random

    from sentinelle.analysis.disclosure import publication
    from sentinelle.analysis.statistics import StatsFilter, compute

    rng = random.Random(seed)
    users = [make_user(f"fp{code.lower()}", "focal-point", code)
             for code in ("CU", "CH", "FR", "BR", "MX", "DE")]
    for _ in range(rng.randint(8, 30)):
        month = rng.randint(1, 11)
        file_report(rng.choice(users[:rng.randint(2, 6)]), tlp=rng.choice(["green", "amber",
                                                                           "red"]),
                    category=rng.choice(CATEGORIES), severity=rng.choice(
                        ["low", "medium", "high", "critical"]),
                    started_at=f"2026-{month:02d}-03T08:00:00Z",
                    ended_at=f"2026-{month:02d}-03T09:00:00Z")
    for user in rng.sample(users, 2):
        Incident.objects.filter(state=user.state).update(consent_to_name=True)
    # Summary returns add their excess over the individual reports to some rows.
    from sentinelle.incidents import summaries
    from sentinelle.incidents.models import Category, RsitClass

    for user in rng.sample(users, rng.randint(0, 2)):
        summaries.submit_return(user, 2026, [summaries.ReturnLine(
            Category.objects.get(code=rng.choice(CATEGORIES)),
            RsitClass.objects.get(code="availability"), rng.randint(0, 6), 10.0)])
    raw = compute(StatsFilter(year=2026), with_shares=True)
    pub = publication(2026).as_dict()
    total, reported = pub["totals"]["incidents"], pub["totals"]["reported"]
    named = {r["key"] for r in raw.by_state if r["consenting"] == r["reported"]}
    assert {r["key"] for r in pub["by_state"]} <= named
    for name in TABLES:
        for row in pub[name]:
            value = row["incidents"]
            if value is None or value == 0:
                continue
            assert value >= K, (seed, name, row)
            shares = raw.shares[name].get(row["key"], {})
            assert not _small(value - max(shares.values(), default=0)), (seed, name, row)
    for row in [pub["totals"], *(r for name in TABLES for r in pub[name])]:
        if row["incidents"] is not None and row["reported"] is not None:
            assert not _small(row["incidents"] - row["reported"]), (seed, row)
            assert not _small(row["reported"]), (seed, row)
    for name, margin in (("by_category", total), ("by_rsit_class", total),
                         ("by_itu_d_region", total), ("by_admin_region", total),
                         ("by_state", total), ("by_month", reported),
                         ("by_severity", reported), ("by_status", reported),
                         ("by_rsit_type", reported)):
        if margin is None:
            continue
        visible = sum(r["incidents"] for r in pub[name] if r["incidents"] is not None)
        assert not _small(margin - visible), (seed, name)
