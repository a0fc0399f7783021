"""The demo year looks like a real year (issue 12, point 3): handling takes hours and days, and
the correlation finds a few small clusters, not one that holds every report."""

from __future__ import annotations

import datetime as dt
import io
import random

import pytest
from django.core.management import call_command

from sentinelle.analysis.correlation import clusters
from sentinelle.analysis.statistics import StatsFilter, compute
from sentinelle.core.models import User
from sentinelle.incidents.models import Incident, Message, Transition

YEAR = 2025


@pytest.fixture
def demo_year(db):
    call_command("seed_demo", "--reports", "120", "--year", str(YEAR), stdout=io.StringIO())


def test_handling_times_are_spread_over_hours_and_days(demo_year):
    stats = compute(StatsFilter(year=YEAR))
    ack, close = stats.time_to_acknowledge, stats.time_to_close
    assert ack["count"] > 30 and close["count"] > 10
    assert 1 < ack["median_hours"] < 72 and ack["p90_hours"] > 2 * ack["median_hours"]
    assert close["median_hours"] > 24 * 3
    # Events happen through the year, each after the incident started, in order.
    times = list(Transition.objects.order_by("at").values_list("at", flat=True))
    assert times[-1] - times[0] > dt.timedelta(days=180)
    for incident in Incident.objects.exclude(submitted_at=None)[:40]:
        steps = list(incident.transitions.values_list("at", flat=True))
        assert incident.started_at < incident.created_at <= steps[0] == incident.submitted_at
        assert steps == sorted(steps)
    request = Message.objects.filter(kind=Message.Kind.REQUEST).first()
    assert request.created_at == request.incident.transitions.get(
        to_status="info-requested").at


def test_correlation_finds_several_small_clusters(demo_year):
    found = clusters(User.objects.get(username="analyst"))
    sizes = [len(c.incidents) for c in found]
    assert len(sizes) >= 3 and max(sizes) <= 5
    for cluster in found:
        assert {link.kind for link in cluster.links} & {"sha256", "domain"}


def test_the_demo_links_one_campaign_reported_by_several_states(demo_year):
    from sentinelle.analysis.models import IncidentCluster

    cluster = IncidentCluster.objects.get()
    members = [m.incident for m in cluster.members.select_related("incident")]
    assert 2 <= len(members) <= 3 and len({i.state_id for i in members}) == len(members)
    totals = compute(StatsFilter()).totals
    assert totals["incidents"] - totals["from_summary_returns"] == \
        totals["reported"] - (len(members) - 1)


def test_the_audit_chain_of_the_demo_year_holds(demo_year):
    out = io.StringIO()
    call_command("audit", "verify", stdout=out)
    assert "intact" in out.getvalue()


def test_the_same_seed_plans_the_same_year():
    from sentinelle.incidents.management.commands.seed_demo import Command

    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)

    def plan(seed: int):
        return [(p.code, p.story, p.start, p.indicators, p.events)
                for p in Command()._plans(random.Random(seed), 60, YEAR, now)]

    assert plan(7) == plan(7) and plan(7) != plan(8)
    events = [when for _c, _s, _start, _i, steps in plan(7) for when, _step in steps]
    assert max(events) < now
