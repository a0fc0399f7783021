"""The statistics service's grouped queries (analysis/statistics_groups.py) give exactly what
the former one-query-per-table implementation gave (tests/statistics_reference.py), on the same
data, for the Council's unscoped figures and for every reader's scoped view, with the disclosure
shares; and they read the year's reports a bounded number of times. The same for the share
handled in time (analysis/handling.py, tests/analysis/handling_reference.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sentinelle.analysis import linking
from sentinelle.analysis.disclosure import publish
from sentinelle.analysis.handling import handling_in_time, set_expectation
from sentinelle.analysis.models import HandlingExpectation
from sentinelle.analysis.statistics import StatsFilter, _compute
from sentinelle.incidents import services, summaries
from sentinelle.incidents.models import Category, Evidence, Incident, RsitClass
from tests import statistics_reference as reference
from tests.analysis import handling_reference
from tests.conftest import file_report

pytestmark = pytest.mark.django_db

YEAR = 2026


def same(new, old) -> bool:
    """Every field equal (the two modules' Stats are different classes, so == is False)."""
    return dataclasses.asdict(new) == dataclasses.asdict(old)


def _at(month: int, day: int = 3, hours: int = 4, year: int = YEAR) -> dict:
    start = dt.datetime(year, month, day, 8, tzinfo=dt.UTC)
    return {"started_at": start.isoformat(),
            "ended_at": (start + dt.timedelta(hours=hours)).isoformat()}


@pytest.fixture
def mixed(alice, bob, charlie):
    """Two States, every TLP, several categories, RSIT types, months and severities; two
    linked incidents (one across categories and States), acknowledgements and a closure,
    evidence, a withdrawn report, a draft, reports without user-hours, a summary return."""
    a = [file_report(alice, **_at(1), tlp="red"),
         file_report(alice, **_at(2, hours=2), tlp="clear", severity="high"),
         file_report(alice, **_at(2, hours=7), category="routing-disruption",
                     rsit="availability:outage"),
         file_report(alice, **_at(5), tlp="amber", category="access-denial"),
         file_report(alice, **_at(11), users_affected=None),
         file_report(alice, **_at(10, 28), tlp="green", severity="critical")]
    b = [file_report(bob, **_at(1, hours=9), tlp="green"),
         file_report(bob, **_at(2, hours=1), category="routing-disruption",
                     rsit="availability:outage"),
         file_report(bob, **_at(6), tlp="amber+strict", named_analysts=[]),
         file_report(bob, **_at(7), users_affected=None, tlp="clear"),
         file_report(bob, **_at(3, year=YEAR - 1))]
    withdrawn = file_report(bob, **_at(8))
    services.change_status(withdrawn, bob, "withdrawn")
    file_report(alice, **_at(9), submit=False)
    Incident.objects.filter(pk__in=[a[1].pk, a[2].pk, b[3].pk]).update(consent_to_name=True)
    for report in (a[1], a[2], b[0], b[1]):
        services.change_status(report, charlie, "acknowledged")
    services.change_status(b[0], charlie, "closed")
    services.attach_evidence(a[1], alice, SimpleUploadedFile("a.txt", b"a\n"))
    services.attach_evidence(a[1], alice, SimpleUploadedFile("b.txt", b"b\n"))
    services.attach_evidence(b[3], bob, SimpleUploadedFile("c.txt", b"c\n"))
    linking.link(charlie, [a[2], b[1]], label="One cable cut")
    linking.link(charlie, [a[1], b[0], a[5]], label="One botnet")   # two categories of Cuba
    summaries.submit_return(bob, YEAR, [summaries.ReturnLine(
        Category.objects.get(code="trust-security"), RsitClass.objects.get(code="availability"),
        7, 900.0)])
    return a, b


FILTERS = [StatsFilter(year=YEAR), StatsFilter(year=YEAR - 1), StatsFilter(),
           StatsFilter(year=YEAR, states=("CU",)), StatsFilter(date_from=dt.date(YEAR, 2, 1),
                                                               date_to=dt.date(YEAR, 6, 30)),
           StatsFilter(year=YEAR, categories=("routing-disruption",)),
           StatsFilter(year=YEAR, regions=("Europe",))]


@pytest.mark.parametrize("flt", FILTERS, ids=str)
@pytest.mark.parametrize("returns", [True, False])
def test_the_grouped_queries_equal_the_former_queries(mixed, flt, returns):
    new = _compute(flt, returns, None, None, True)
    old = reference._compute(flt, returns, None, None, True)
    assert same(new, old)
    assert new.totals["reported"] > 0 or flt.categories


@pytest.mark.parametrize("reader", ["alice", "bob", "charlie"])
def test_a_readers_scoped_view_equals_the_former_one(mixed, reader, request):
    user = request.getfixturevalue(reader)
    scope, files = Incident.objects.for_user(user), Evidence.objects.for_user(user)
    for flt in (StatsFilter(year=YEAR), StatsFilter(year=YEAR, states=("CH",))):
        new = _compute(flt, True, scope, files, False)
        assert same(new, reference._compute(flt, True, scope, files, False))
    if reader == "bob":   # Switzerland's reader counts none of Cuba's RED or AMBER reports
        flt = StatsFilter(year=YEAR)
        assert _compute(flt, True, scope, files, False).totals["reported"] < \
            _compute(flt, True, None, None, False).totals["reported"]


def test_the_publication_is_the_same(mixed):
    flt = StatsFilter(year=YEAR)
    new = publish(_compute(flt, True, None, None, True),
                  _compute(flt.previous_year(), True, None, None, True))
    old = publish(reference._compute(flt, True, None, None, True),
                  reference._compute(flt.previous_year(), True, None, None, True))
    assert same(new, old)


def test_the_year_is_read_a_bounded_number_of_times(mixed):
    with CaptureQueriesContext(connection) as new:
        _compute(StatsFilter(year=YEAR), True, None, None, True)
    with CaptureQueriesContext(connection) as old:
        reference._compute(StatsFilter(year=YEAR), True, None, None, True)
    incident_table = Incident._meta.db_table
    # Queries that read the reports, apart from the summary returns' (a correlated count per
    # return line, which reads only the few reports of that State's cell).
    scans = [q for q in new.captured_queries
             if f'FROM "{incident_table}"' in q["sql"] and "summaryline" not in q["sql"]]
    # Three grouped queries, three counts per State (evidence, acknowledged, closed) and the
    # percentiles (one query per status on PostgreSQL, two ordered reads per percentile
    # elsewhere).
    assert len(scans) <= (8 if connection.vendor == "postgresql" else 10), \
        [q["sql"][:120] for q in scans]
    assert len(new) < len(old) / 2


@pytest.mark.parametrize("expected", [False, True])
def test_handling_in_time_equals_the_former_queries(mixed, charlie, expected):
    HandlingExpectation.objects.all().delete()
    if expected:   # two categories measured, one not; limits that split the reports
        set_expectation(charlie, Category.objects.get(code="trust-security"), 1, 2)
        set_expectation(charlie, Category.objects.get(code="routing-disruption"), 500, 8000)
    now = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)   # the unanswered ones are late
    for flt in (StatsFilter(year=YEAR), StatsFilter(year=YEAR, states=("CU",))):
        for scope in (None, Incident.objects.for_user(charlie)):
            new = handling_in_time(flt, now=now, scope=scope)
            assert new == handling_reference.handling_in_time(flt, now=now, scope=scope)
    if expected:   # the fixture reaches every branch: late, in time and not measured
        whole = handling_in_time(StatsFilter(year=YEAR), now=now)
        assert whole["acknowledge"]["late"] and whole["acknowledge"]["in_time"]
        assert whole["not_measured"]
