"""The statistics service: what counts, the summary-return rule, response times, filters."""

from __future__ import annotations

import datetime as dt

import pytest

from sentinelle.analysis.statistics import ROW_KEYS, TABLES, StatsFilter, compute
from sentinelle.incidents import services, summaries
from sentinelle.incidents.models import Category, Incident, RsitClass, Transition
from tests.conftest import file_report

pytestmark = pytest.mark.django_db


def _row(rows: list[dict], key: str) -> dict:
    return next(r for r in rows if r["key"] == key)


def _return(user, year: int, lines: list[tuple[str, str, int, float]]):
    return summaries.submit_return(user, year, [
        summaries.ReturnLine(Category.objects.get(code=c), RsitClass.objects.get(code=r), n, h)
        for c, r, n, h in lines])


def test_counts_submitted_reports_only(alice, bob, charlie):
    kept = file_report(alice)                                   # 4 h × 15000 users
    file_report(alice, submit=False)                            # draft
    withdrawn = file_report(alice)
    services.change_status(withdrawn, alice, "withdrawn")
    dup = file_report(bob)
    services.change_status(dup, charlie, "duplicate", duplicate_of=kept)
    file_report(bob, tlp="red", category="routing-disruption", rsit="availability:outage")

    stats = compute(StatsFilter(year=2026))
    assert stats.totals["incidents"] == 2
    assert stats.totals["states_reporting"] == 2
    assert stats.totals["user_hours"] == 2 * 60000.0
    assert _row(stats.by_category, "trust-security")["incidents"] == 1
    assert _row(stats.by_category, "routing-disruption")["incidents"] == 1
    assert _row(stats.by_state, "CU")["incidents"] == 1
    assert _row(stats.by_rsit_class, "availability")["incidents"] == 2
    assert _row(stats.by_rsit_type, "availability:ddos")["incidents"] == 1
    assert _row(stats.by_month, "2026-03")["incidents"] == 2
    assert len(stats.by_month) == 12
    assert _row(stats.by_itu_d_region, "Americas")["incidents"] == 1
    assert _row(stats.by_itu_d_region, "Europe")["incidents"] == 1
    assert _row(stats.by_severity, "medium")["incidents"] == 2
    assert _row(stats.by_status, "submitted")["incidents"] == 2
    assert "duplicate" not in {r["key"] for r in stats.by_status}
    for name in TABLES:
        for row in getattr(stats, name):
            assert set(ROW_KEYS) <= set(row)


def test_filters(alice, bob):
    file_report(alice)
    file_report(bob, category="routing-disruption", rsit="availability:outage",
                started_at="2025-06-01T00:00:00Z", ended_at="2025-06-01T01:00:00Z")
    assert compute(StatsFilter(year=2025)).totals["incidents"] == 1
    assert compute(StatsFilter(states=("cu",))).totals["incidents"] == 1
    assert compute(StatsFilter(categories=("routing-disruption",))).totals["incidents"] == 1
    assert compute(StatsFilter(regions=("Europe",))).totals["incidents"] == 1
    assert compute(StatsFilter(regions=("A",))).totals["incidents"] == 1  # Cuba: admin region A
    assert compute(StatsFilter(rsit_classes=("availability",))).totals["incidents"] == 2
    assert compute(StatsFilter(date_from=dt.date(2026, 3, 1),
                               date_to=dt.date(2026, 3, 1))).totals["incidents"] == 1
    assert compute(StatsFilter(date_to=dt.date(2026, 2, 28))).totals["incidents"] == 1


def test_summary_return_combined_by_max_per_cell(alice, bob):
    # Cuba reported 2 DDoS individually and sends a return of 5 for that cell: 5, not 7.
    file_report(alice)
    file_report(alice)
    _return(alice, 2026, [("trust-security", "availability", 5, 1000.0),
                          ("routing-disruption", "availability", 1, 0.0)])
    # Switzerland reported 3 individually but its early return said 1: the 3 stand.
    for _ in range(3):
        file_report(bob)
    _return(bob, 2026, [("trust-security", "availability", 1, 10.0)])

    stats = compute(StatsFilter(year=2026))
    cu, ch = _row(stats.by_state, "CU"), _row(stats.by_state, "CH")
    assert (cu["incidents"], cu["reported"], cu["from_summary_returns"]) == (6, 2, 4)
    assert (ch["incidents"], ch["reported"], ch["from_summary_returns"]) == (3, 3, 0)
    assert stats.totals["incidents"] == 9
    assert _row(stats.by_category, "trust-security")["incidents"] == 5 + 3
    assert _row(stats.by_category, "routing-disruption")["incidents"] == 1
    # User-hours by the same rule: Cuba reported 2 × 60000 > 1000 in the return.
    assert cu["user_hours"] == 120000.0
    # Tables a return cannot describe count individual reports only.
    assert sum(r["incidents"] for r in stats.by_month) == 5
    assert compute(StatsFilter(year=2026), include_summary_returns=False) \
        .totals["incidents"] == 5


def test_summary_return_latest_version_and_whole_years_only(alice):
    _return(alice, 2026, [("trust-security", "availability", 9, 0.0)])
    _return(alice, 2026, [("trust-security", "availability", 4, 0.0)])  # correction
    assert compute(StatsFilter(year=2026)).totals["incidents"] == 4
    assert compute(StatsFilter()).totals["incidents"] == 4
    assert compute(StatsFilter(year=2025)).totals["incidents"] == 0
    # A return cannot be split by month: a partial year leaves it out.
    assert compute(StatsFilter(date_from=dt.date(2026, 3, 1))).totals["incidents"] == 0
    assert compute(StatsFilter(date_from=dt.date(2026, 1, 1),
                               date_to=dt.date(2026, 12, 31))).totals["incidents"] == 4
    # A State that sent a return has reported.
    assert compute(StatsFilter(year=2026)).totals["states_reporting"] == 1


def _set_times(incident: Incident, submitted: dt.datetime, **reached_after_hours: float) -> None:
    Incident.objects.filter(pk=incident.pk).update(submitted_at=submitted)
    for status, hours in reached_after_hours.items():
        Transition.objects.filter(incident=incident, to_status=status.replace("_", "-")) \
            .update(at=submitted + dt.timedelta(hours=hours))


def test_response_times_median_and_p90(alice, charlie):
    base = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    for hours in (1, 2, 3, 4, 10):
        incident = file_report(alice)
        services.change_status(incident, charlie, "acknowledged")
        _set_times(incident, base, acknowledged=hours)
    closing = Incident.objects.first()
    services.change_status(closing, charlie, "closed")
    _set_times(closing, base, closed=48)

    stats = compute(StatsFilter(year=2026))
    assert stats.time_to_acknowledge == {"count": 5, "median_hours": 3.0, "p90_hours": 7.6}
    assert stats.time_to_close == {"count": 1, "median_hours": 48.0, "p90_hours": 48.0}
    empty = compute(StatsFilter(year=2020))
    assert empty.time_to_acknowledge == {"count": 0, "median_hours": None, "p90_hours": None}


def test_evidence_rate_and_year_over_year(alice, bob):
    from django.core.files.uploadedfile import SimpleUploadedFile

    with_evidence = file_report(alice)
    services.attach_evidence(with_evidence, alice, SimpleUploadedFile("a.txt", b"log line\n"))
    file_report(alice)
    file_report(bob, started_at="2025-03-01T08:00:00Z", ended_at="2025-03-01T09:00:00Z")

    stats = compute(StatsFilter(year=2026))
    assert stats.totals["with_evidence"] == 1
    assert stats.totals["evidence_rate"] == 0.5
    yoy = stats.year_over_year
    assert (yoy["incidents"], yoy["previous_incidents"], yoy["change"], yoy["change_pct"]) \
        == (2, 1, 1, 100.0)
    assert _row(yoy["by_category"], "trust-security")["previous"] == 1
    assert compute(StatsFilter()).year_over_year == {}


def test_empty_year_is_valid(db):
    stats = compute(StatsFilter(year=1999))
    assert stats.totals["incidents"] == 0
    assert stats.totals["evidence_rate"] is None
    assert stats.by_state == []
    assert all(r["incidents"] == 0 for r in stats.by_category)
    assert stats.as_dict()["filter"]["year"] == 1999
