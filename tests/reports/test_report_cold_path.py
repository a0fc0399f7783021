"""The Council report's cold path (issue 17, round 2): the response times from one grouped
statement equal the former per-report subquery; the fingerprints of several closed years taken
in one statement equal the fingerprints taken one by one, and a report takes them once; a new
translation of a label recomputes a kept year without ``forget-statistics``."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from sentinelle.analysis import stats_store
from sentinelle.analysis.models import KeptStatistics
from sentinelle.analysis.percentiles import percentiles, response_times
from sentinelle.analysis.statistics import StatsFilter, _compute, compute, counted_incidents
from sentinelle.core.models import AuditEntry
from sentinelle.incidents import services
from sentinelle.incidents.models import Channel, Incident, Status, Transition
from sentinelle.reports import services as service
from sentinelle.reports.options import ReportOptions
from tests import statistics_reference as reference
from tests.conftest import file_report

pytestmark = pytest.mark.django_db

CLOSED = 2025   # the tests run in 2026 or later: 2025 has ended


def _in(year: int, month: int = 5, **kw) -> dict:
    return {"started_at": f"{year}-{month:02d}-02T08:00:00Z",
            "ended_at": f"{year}-{month:02d}-02T12:00:00Z", **kw}


@pytest.fixture
def answered(alice, bob, charlie):
    """Reports of two States answered after different delays: some acknowledged twice (the
    first counts), some closed; with transitions but not counted: a draft, a withdrawn report,
    a report without a submission time, a report of another year."""
    year = CLOSED
    reports = [file_report(user, **_in(year, month=1 + k % 12))
               for k, user in enumerate([alice, bob] * 6)]
    draft = file_report(alice, **_in(year), submit=False)
    withdrawn = file_report(bob, **_in(year))
    unsubmitted = file_report(bob, **_in(year))
    other_year = file_report(alice, **_in(year - 1))
    services.change_status(withdrawn, bob, "withdrawn")
    hours = [1, 5, 5, 9, 30, 31, 2, 200, 0.5, 17, 48]     # 11 of 12 acknowledged, ties
    for report, h in zip(reports, hours, strict=False):
        _transition(report, charlie, Status.ACKNOWLEDGED, h)
    _transition(reports[0], charlie, Status.ACKNOWLEDGED, 400)   # again, later: not the first
    _transition(reports[3], charlie, Status.ACKNOWLEDGED, 0.25)  # again, earlier: the first
    for report, h in zip(reports[:5], [72, 90, 100, 300, 7], strict=True):
        _transition(report, charlie, Status.CLOSED, h)
    for report in (draft, withdrawn, other_year, unsubmitted):
        _transition(report, charlie, Status.ACKNOWLEDGED, 3)
    Incident.objects.filter(pk=unsubmitted.pk).update(submitted_at=None)
    return reports


def _transition(report: Incident, actor, status: str, hours: float) -> None:
    row = Transition.objects.create(incident=report, from_status=Status.SUBMITTED,
                                    to_status=status, actor=actor)
    Transition.objects.filter(pk=row.pk).update(
        at=(report.submitted_at or report.created_at) + dt.timedelta(hours=hours))


def test_response_times_equal_the_former_per_report_subquery(answered, bob):
    for flt in (StatsFilter(year=CLOSED), StatsFilter(year=CLOSED, states=("CH",)),
                StatsFilter(year=CLOSED - 1)):
        for scope in (None, Incident.objects.for_user(bob)):
            new = _compute(flt, True, scope, None, False)
            old = reference._compute(flt, True, scope, None, False)
            assert new.time_to_acknowledge == old.time_to_acknowledge
            assert new.time_to_close == old.time_to_close
            assert new.totals == old.totals
    whole = _compute(StatsFilter(year=CLOSED), True, None, None, False)
    # 11 acknowledged, the first acknowledgement counting (0.25 h for the fourth, not 9 h).
    assert whole.time_to_acknowledge == {"count": 11, "median_hours": 5.0, "p90_hours": 48.0}
    assert whole.time_to_close == {"count": 5, "median_hours": 90.0, "p90_hours": 220.0}


def test_response_times_of_one_status_and_of_none(answered):
    reports = counted_incidents(StatsFilter(year=CLOSED))
    assert response_times(reports, {Status.CLOSED: 5}) == {
        Status.CLOSED: percentiles(reference_delays(reports, Status.CLOSED), "delay", 5)}
    with CaptureQueriesContext(connection) as queries:
        none = response_times(reports, {Status.ACKNOWLEDGED: 0, Status.CLOSED: 0})
    assert none == {s: {"count": 0, "median_hours": None, "p90_hours": None}
                    for s in (Status.ACKNOWLEDGED, Status.CLOSED)}
    assert len(queries) == 0


def reference_delays(reports, status: str):
    """The former path: each report's first transition by a correlated subquery."""
    from django.db.models import DurationField, Exists, ExpressionWrapper, F, OuterRef, Subquery

    first = Transition.objects.filter(incident_id=OuterRef("pk"), to_status=status) \
        .order_by("at").values("at")[:1]
    reached = Transition.objects.filter(incident_id=OuterRef("pk"), to_status=status)
    return reports.filter(Exists(reached), submitted_at__isnull=False).annotate(
        delay=ExpressionWrapper(Subquery(first) - F("submitted_at"),
                                output_field=DurationField()))


def test_fingerprints_of_several_years_equal_them_one_by_one(answered, alice, charlie):
    years = [CLOSED - 3, CLOSED - 2, CLOSED - 1, CLOSED]
    together = stats_store.fingerprints(years)
    assert together == {year: stats_store.fingerprint(year) for year in years}
    assert together[CLOSED] != together[CLOSED - 1] != together[CLOSED - 2]
    # A change to one year changes its fingerprint only.
    services.change_status(answered[11], charlie, "acknowledged")
    after = stats_store.fingerprints(years)
    assert [y for y in years if after[y] != together[y]] == [CLOSED]
    file_report(alice, **_in(CLOSED - 3))
    again = stats_store.fingerprints(years)
    assert [y for y in years if again[y] != after[y]] == [CLOSED - 3]
    # A report of the last hour of a year is in the window of the next one too (a day either
    # side: a summary return counts its year in the platform's time zone).
    file_report(alice, started_at=f"{CLOSED - 1}-12-31T23:00:00Z",
                ended_at=f"{CLOSED - 1}-12-31T23:30:00Z")
    last = stats_store.fingerprints(years)
    assert [y for y in years if last[y] != again[y]] == [CLOSED - 1, CLOSED]
    assert last == {year: stats_store.fingerprint(year) for year in years}


def test_a_report_takes_the_closed_years_fingerprints_once(answered, alice, bob):
    options = ReportOptions(year=2026, lang="en", fmt="html", date=dt.date(2027, 3, 1))
    stats_store.forget()
    cold = service.produce(options)
    with CaptureQueriesContext(connection) as queries:
        warm = service.produce(options)
    assert warm.document == cold.document and warm.annex == cold.annex
    fingerprinting = [q for q in queries.captured_queries if "WITH inc AS" in q["sql"]]
    assert len(fingerprinting) == 1
    # Outside a report, each read of a kept year still takes its own.
    with CaptureQueriesContext(connection) as queries:
        compute(StatsFilter(year=CLOSED), with_year_over_year=False)
    assert len([q for q in queries.captured_queries if "WITH inc AS" in q["sql"]]) == 1


@pytest.fixture
def french_web_label():
    """Changes the French translation of the channel "Web form" for one test, as a new
    catalogue would, and puts it back."""
    with translation.override(None):
        msgid = str(dict(Channel.choices)[Channel.WEB])
    catalog = translation.trans_real.translation("fr")._catalog
    before = catalog.get(msgid)
    catalog[msgid] = "Formulaire en ligne (nouvelle traduction)"
    yield catalog[msgid]
    catalog[msgid] = before


def test_a_new_translation_recomputes_a_kept_year_without_forgetting(answered, request):
    def french():
        with translation.override("fr"):
            return compute(StatsFilter(year=CLOSED), with_shares=True,
                           with_year_over_year=False)

    kept = french()
    assert KeptStatistics.objects.filter(year=CLOSED, language="fr").count() == 1
    new_label = request.getfixturevalue("french_web_label")
    again = french()
    web = next(r for r in again.by_channel if r["key"] == Channel.WEB)
    assert web["label"] == new_label != next(
        r for r in kept.by_channel if r["key"] == Channel.WEB)["label"]
    with translation.override("fr"):
        assert again == _compute(StatsFilter(year=CLOSED), True, None, None, True)
    entry = AuditEntry.objects.get(action="analysis.statistics.recomputed")
    assert "translations" in entry.after["reason"]
    assert french() == again   # kept again with the new labels
    assert AuditEntry.objects.filter(action="analysis.statistics.recomputed").count() == 1
