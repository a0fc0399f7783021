"""The Council report's access-denial index by month (issue 15, point 2): pooled over every
State, printed month by month only where the month's measurements come from enough States,
and never so that the year minus the printed months gives a few States' figures."""

from __future__ import annotations

import datetime as dt

import pytest

from sentinelle.incidents import services as incident_services
from sentinelle.observatory import services
from sentinelle.reports import services as service
from sentinelle.reports.options import ReportOptions
from tests.conftest import make_user
from tests.observatory_helpers import access_bundle, result
from tests.reports.test_disclosure_access_section import YEAR, _doc, _measurements, _vantage

pytestmark = pytest.mark.django_db


def _submit(tmp_path, plan: dict) -> None:
    for user, (cc, access) in plan.items():
        incident = services.submit(user, access_bundle(
            tmp_path / f"{cc}.zip", _measurements(*access), vantage=_vantage(cc))).incident
        incident_services.change_status(incident, user, "submitted")


def _monthly(doc):
    section = next(s for s in doc.sections if s.number == "8")
    sub = next(x for x in section.subsections if x.title == "Access-denial index by month")
    table = next(b for b in sub.blocks if getattr(b, "key", "") == "access_index_by_month")
    return sub, {row[0]: [c.text for c in row[1:]] for row in table.rows}


def test_months_measured_from_enough_states_are_printed(alice, bob, tmp_path):
    fred = make_user("fred", "focal-point", "FR")
    # March: Docker Hub denied 4 + 3 + 4 times; May: Google open 3 + 3 + 3 times.
    _submit(tmp_path, {alice: ("CU", (4, 0, 3)), bob: ("CH", (3, 0, 3)),
                       fred: ("FR", (4, 0, 3))})
    doc = _doc()
    sub, rows = _monthly(doc)
    assert rows["Mar"] == ["100%", "11", "11"]
    assert rows["May"] == ["0%", "0", "9"]
    assert rows["Apr"] == ["–", "0", "0"]          # nothing measured: no index, not hidden
    assert len(rows) == 12
    chart = next(b for b in sub.blocks if getattr(b, "chart", None) is not None).chart
    assert chart.key == "chart-access-month" and "100" in chart.html


def _four_states(alice, bob, tmp_path) -> None:
    """Four States, none named: each saw Docker Hub denied 4 times in March and Google open 3
    times in May; Cuba and Switzerland saw Docker Hub open twice in April, France and Spain saw
    it geoblocked 3 times in June."""
    fred, gina = make_user("fred", "focal-point", "FR"), make_user("gina", "focal-point", "ES")
    for user, cc, extra in ((alice, "CU", ("accessible", "04", 2)),
                            (bob, "CH", ("accessible", "04", 2)),
                            (fred, "FR", ("geoblocked", "06", 3)),
                            (gina, "ES", ("geoblocked", "06", 3))):
        verdict, month, n = extra
        rows = [result(f"https://hub.docker.com/{i}", "geoblocked",
                       f"2026-03-{i + 1:02d} 10:00:00", "Docker") for i in range(4)]
        rows += [result(f"https://www.google.com/{i}", "accessible",
                        f"2026-05-{i + 1:02d} 10:00:00") for i in range(3)]
        rows += [result(f"https://hub.docker.com/m{i}", verdict,
                        f"2026-{month}-{i + 1:02d} 10:00:00") for i in range(n)]
        incident = services.submit(user, access_bundle(tmp_path / f"{cc}.zip", rows,
                                                       vantage=_vantage(cc))).incident
        incident_services.change_status(incident, user, "submitted")


def test_a_month_from_fewer_than_k_states_is_not_published(alice, bob, tmp_path):
    _four_states(alice, bob, tmp_path)
    rows = _monthly(_doc())[1]
    # April (two States) and June (two States) are hidden; the two together come from four
    # States with no one holding all but a few, so the year minus March and May reveals no
    # State, and March and May are printed.
    assert rows["Apr"] == rows["Jun"] == ["n.p.", "n.p.", "n.p."]
    assert rows["Mar"] == ["100%", "16", "16"]
    assert rows["May"] == ["0%", "0", "12"]


def test_when_hidden_months_together_would_reveal_a_state_every_month_is_hidden(
        alice, bob, tmp_path):
    fred = make_user("fred", "focal-point", "FR")
    # April: Cuba and Switzerland only (Docker Hub open once each). The year minus March and
    # May would give April, two States' figures: so every month is hidden.
    _submit(tmp_path, {alice: ("CU", (4, 1, 3)), bob: ("CH", (3, 1, 3)),
                       fred: ("FR", (4, 0, 3))})
    sub, rows = _monthly(_doc())
    assert all(v == ["n.p.", "n.p.", "n.p."] for k, v in rows.items() if k in ("Mar", "Apr",
                                                                               "May"))
    text = " ".join(b.text for b in sub.blocks if hasattr(b, "text"))
    assert "No month of the year can be shown on its own" in text


def test_withheld_totals_withhold_every_month(alice, bob, tmp_path):
    fred = make_user("fred", "focal-point", "FR")
    # France alone measured a service of its own in June: the totals are withheld (the tables
    # and the totals would give France's figures), and the months add up to the totals.
    _submit(tmp_path, {alice: ("CU", (4, 0, 3)), bob: ("CH", (3, 0, 3)),
                       fred: ("FR", (4, 0, 3, 5))})
    section = next(s for s in _doc().sections if s.number == "8")
    text = " ".join(b.text for b in section.blocks if hasattr(b, "text"))
    assert "How many of these measurements were conclusive" in text
    sub = next(x for x in section.subsections if x.title == "Access-denial index by month")
    assert [b.text for b in sub.blocks] == [
        "The index by month is not published: the months add up to the year's totals, which "
        "are withheld (see above)."]


def test_the_annex_csv_has_the_monthly_rows(alice, bob, tmp_path):
    fred = make_user("fred", "focal-point", "FR")
    _submit(tmp_path, {alice: ("CU", (4, 0, 3)), bob: ("CH", (3, 0, 3)),
                       fred: ("FR", (4, 0, 3))})
    annex = service.produce(ReportOptions(year=YEAR, lang="en", fmt="html",
                                          date=dt.date(YEAR + 1, 3, 1))).annex.decode()
    assert f"access_index_by_month,{YEAR}-03,Mar,index,1" in annex
    assert f"access_index_by_month,{YEAR}-03,Mar,conclusive,11" in annex
