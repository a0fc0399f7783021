"""Issue 17 attack (E5): the grouped statistics queries (analysis/statistics_groups.py) and the
handling shares against the former implementations (tests/statistics_reference.py,
tests/analysis/handling_reference.py) on random data shaped to hurt: linked incidents across years,
States and categories with withdrawn, duplicate and draft members, reports on 31 December and
1 January in a time zone far from UTC, several summary-return versions, reports without
user-hours, evidence on some, bulk status changes without transitions, and every reader's
scoped view."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from sentinelle.analysis import linking
from sentinelle.analysis.handling import handling_in_time, set_expectation
from sentinelle.analysis.statistics import StatsFilter, _compute
from sentinelle.core.models import Role
from sentinelle.incidents import services, summaries
from sentinelle.incidents.models import Category, Evidence, Incident, RsitClass
from tests import statistics_reference as reference
from tests.analysis import handling_reference
from tests.conftest import file_report, make_user

pytestmark = pytest.mark.django_db

YEAR = 2025
CATEGORIES = [("trust-security", "availability:ddos"), ("routing-disruption",
                                                         "availability:outage"),
              ("access-denial", "availability:ddos"), ("other", "fraud:phishing")]


def _same(new, old) -> bool:
    return dataclasses.asdict(new) == dataclasses.asdict(old)


@pytest.mark.parametrize("seed", [1])
def test_grouped_queries_equal_the_former_ones_on_hostile_random_data(seed, settings, charlie):
    settings.TIME_ZONE = "Pacific/Kiritimati"   # UTC+14: the local year starts 14 h early
    rng = random.Random(seed)
    states = ["CU", "CH", "FR", "BR", "SY"]
    focal = {s: make_user(f"fp-{s.lower()}", Role.FOCAL_POINT, s) for s in states}
    reports = []
    starts = [dt.datetime(YEAR - 1, 12, 31, 11, tzinfo=dt.UTC),
              dt.datetime(YEAR - 1, 12, 31, 23, 59, tzinfo=dt.UTC),
              dt.datetime(YEAR, 1, 1, 0, 0, tzinfo=dt.UTC),
              dt.datetime(YEAR, 12, 31, 10, 30, tzinfo=dt.UTC),
              dt.datetime(YEAR, 12, 31, 23, 59, tzinfo=dt.UTC),
              dt.datetime(YEAR + 1, 1, 1, 9, tzinfo=dt.UTC)]
    for n in range(36):
        state = rng.choice(states)
        category, rsit = rng.choice(CATEGORIES)
        start = rng.choice(starts) if n % 3 == 0 else dt.datetime(
            YEAR, rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23), tzinfo=dt.UTC)
        report = file_report(
            focal[state], started_at=start.isoformat(),
            ended_at=(start + dt.timedelta(hours=rng.choice([1, 5, 30]))).isoformat(),
            tlp=rng.choice(["clear", "green", "amber", "amber+strict", "red"]),
            severity=rng.choice(["low", "medium", "high", "critical"]),
            category=category, rsit=rsit, users_affected=rng.choice([None, 0, 10, 10**6]),
            submit=rng.random() > 0.1)
        reports.append(report)
    submitted = [r for r in reports if r.status == "submitted"]
    for report in rng.sample(submitted, 8):
        services.change_status(report, charlie, "acknowledged")
        if rng.random() < 0.5:
            services.change_status(report, charlie, "closed")
    for report in rng.sample(submitted, 3):
        if report.status == "submitted":
            services.change_status(report, report.reporter, "withdrawn")
    # Bulk status changes without transitions (an old import, a repair script).
    Incident.objects.filter(pk__in=[r.pk for r in rng.sample(submitted, 3)]).update(
        status="acknowledged")
    Incident.objects.filter(pk__in=[r.pk for r in rng.sample(reports, 6)]).update(
        consent_to_name=True)
    for report in rng.sample(submitted, 5):
        services.attach_evidence(report, report.reporter,
                                 SimpleUploadedFile("e.txt", b"evidence\n"))
    free = [r for r in submitted]
    rng.shuffle(free)
    while len(free) >= 3:
        members, free = free[:rng.randint(2, 4)], free[4:]
        try:
            linking.link(charlie, members, label="cluster")
        except Exception:  # noqa: BLE001, S112 - a refused link is not what is compared
            continue
    for state in states[:3]:
        for version in range(rng.randint(1, 2)):
            summaries.submit_return(focal[state], YEAR, [summaries.ReturnLine(
                Category.objects.get(code=code), RsitClass.objects.get(code="availability"),
                rng.randint(0, 9) + version, rng.choice([0.0, 12.5])) for code, _r in
                rng.sample(CATEGORIES, 2)])
    readers = [None, charlie, focal["CU"], focal["CH"]]
    for flt in (StatsFilter(year=YEAR), StatsFilter(year=YEAR + 1), StatsFilter(year=YEAR - 1),
                StatsFilter(), StatsFilter(year=YEAR, states=("CU",)),
                StatsFilter(date_from=dt.date(YEAR, 12, 31), date_to=dt.date(YEAR + 1, 1, 1))):
        for reader in readers:
            scope = None if reader is None else Incident.objects.for_user(reader)
            files = None if reader is None else Evidence.objects.for_user(reader)
            shares = reader is None
            new = _compute(flt, True, scope, files, shares)
            old = reference._compute(flt, True, scope, files, shares)
            assert _same(new, old), (flt, reader)
    # The share handled in time, with limits that split the reports (one category not
    # measured), at several "now"s: before and after the deadlines of the edge reports.
    set_expectation(charlie, Category.objects.get(code="trust-security"), 1, 30)
    set_expectation(charlie, Category.objects.get(code="routing-disruption"), 1, 1)
    for now in (dt.datetime(YEAR + 1, 1, 1, 12, tzinfo=dt.UTC),
                dt.datetime.now(dt.UTC) + dt.timedelta(days=30)):
        for flt in (StatsFilter(year=YEAR), StatsFilter(year=YEAR + 1),
                    StatsFilter(year=YEAR, states=("CU",))):
            for reader in readers:
                scope = None if reader is None else Incident.objects.for_user(reader)
                assert handling_in_time(flt, now=now, scope=scope) == \
                    handling_reference.handling_in_time(flt, now=now, scope=scope), (flt, now)
