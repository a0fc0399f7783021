"""Issue 18, step 1: the home page moved out of the core; the Secretariat's counts on it are the
statistics' counts (a duplicate is counted once, through its primary), not a second rule."""

from __future__ import annotations

import pytest
from django.urls import resolve

from sentinelle import views
from sentinelle.analysis.statistics import StatsFilter, compute
from sentinelle.incidents.models import Incident, Status
from tests.conftest import file_report

pytestmark = pytest.mark.django_db


def test_home_page_is_the_project_dashboard():
    assert resolve("/").func is views.dashboard


def test_secretariat_dashboard_counts_as_the_statistics_do(client, bob, charlie):
    reports = [file_report(bob, tlp="green") for _ in range(3)]
    duplicate = file_report(bob, tlp="green")
    Incident.objects.filter(pk=duplicate.pk).update(status=Status.DUPLICATE,
                                                    duplicate_of=reports[0])
    file_report(bob, tlp="green", submit=False)  # a draft: counted by neither
    client.force_login(charlie)

    counts = client.get("/").context["counts"]

    stats = compute(StatsFilter(), include_summary_returns=False,
                    scope=Incident.objects.for_user(charlie), with_year_over_year=False)
    assert sum(counts.values()) == stats.totals["incidents"] == 3
    assert Status.DUPLICATE not in counts
    assert counts == {row["key"]: row["incidents"] for row in stats.by_status
                      if row["incidents"]}
