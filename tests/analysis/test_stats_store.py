"""Statistics of closed years kept once computed (analysis/stats_store.py): a kept year equals a
fresh computation, any change to that year's data recomputes it (audited), a change elsewhere
does not, a reader's scoped view is never kept, and the Council report reads the same with the
store empty or full."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sentinelle.analysis import linking, stats_store
from sentinelle.analysis.models import KeptStatistics
from sentinelle.analysis.statistics import StatsFilter, _compute, compute
from sentinelle.core.models import AuditEntry
from sentinelle.incidents import services, summaries
from sentinelle.incidents.models import Category, Evidence, Incident, Indicator, RsitClass
from sentinelle.reports import services as service
from sentinelle.reports.options import ReportOptions
from tests.conftest import file_report

pytestmark = pytest.mark.django_db

CLOSED = 2025   # the tests run in 2026 or later (the demo year): 2025 has ended


def _in(year: int, **kw) -> dict:
    return {"started_at": f"{year}-05-02T08:00:00Z", "ended_at": f"{year}-05-02T12:00:00Z", **kw}


@pytest.fixture
def closed_year(alice, bob, charlie):
    """A closed year with everything the figures read: reports of two States (one RED, one
    consenting), an acknowledgement, evidence, a linked incident, a summary return."""
    cu = [file_report(alice, **_in(CLOSED, tlp="red")), file_report(alice, **_in(CLOSED)),
          file_report(alice, **_in(CLOSED, category="routing-disruption",
                                   rsit="availability:outage"))]
    ch = [file_report(bob, **_in(CLOSED, tlp="green")), file_report(bob, **_in(CLOSED))]
    Incident.objects.filter(pk=cu[1].pk).update(consent_to_name=True)
    services.change_status(cu[1], charlie, "acknowledged")
    services.attach_evidence(ch[0], bob, SimpleUploadedFile("log.txt", b"evidence\n"))
    linking.link(charlie, [cu[2], ch[1]], label="One outage")
    summaries.submit_return(bob, CLOSED, [summaries.ReturnLine(
        Category.objects.get(code="trust-security"), RsitClass.objects.get(code="availability"),
        6, 500.0)])
    file_report(alice)   # the current year (2026), never kept
    return cu, ch


def _fresh(year: int = CLOSED):
    return _compute(StatsFilter(year=year), True, None, None, True)


def _recomputed(year: int = CLOSED) -> int:
    return AuditEntry.objects.filter(action="analysis.statistics.recomputed",
                                     after__year=year).count()


def test_kept_year_equals_a_fresh_computation_and_is_read_without_computing(closed_year):
    first = compute(StatsFilter(year=CLOSED), with_shares=True, with_year_over_year=False)
    assert KeptStatistics.objects.filter(year=CLOSED).count() == 1
    with CaptureQueriesContext(connection) as queries:
        kept = compute(StatsFilter(year=CLOSED), with_shares=True, with_year_over_year=False)
    # The fingerprint and the kept row: two queries, not the forty of a computation.
    assert len(queries) == 2
    assert kept == first == _fresh()
    # 5 reports, two of them linked (4 incidents), and Switzerland's return of 6 where it
    # reported 2 (an excess of 4).
    assert kept.totals["incidents"] == 8
    assert kept.shares["reports"]["with_evidence"]   # the disclosure rule's shares kept too
    # The forms the callers ask for come from the same kept figures.
    assert compute(StatsFilter(year=CLOSED)).as_dict() == {
        **_fresh().as_dict(),
        "year_over_year": compute(StatsFilter(year=CLOSED), with_year_over_year=True)
        .year_over_year}
    assert compute(StatsFilter(year=CLOSED)).shares == {}


def test_the_current_year_and_narrower_filters_are_never_kept(closed_year, alice):
    compute(StatsFilter(year=2026), with_shares=True, with_year_over_year=False)
    compute(StatsFilter(year=CLOSED, states=("CU",)), with_year_over_year=False)
    compute(StatsFilter(year=CLOSED), include_summary_returns=False, with_year_over_year=False)
    assert list(KeptStatistics.objects.values_list("year", flat=True)) == []
    assert not stats_store.is_closed(dt.date.today().year)


def test_a_readers_scoped_view_is_neither_kept_nor_served_from_the_store(closed_year, bob):
    compute(StatsFilter(year=CLOSED), with_shares=True, with_year_over_year=False)
    scope = Incident.objects.for_user(bob)
    scoped = compute(StatsFilter(year=CLOSED), scope=scope, with_year_over_year=False)
    # Switzerland's focal point counts only what it may see, never the kept Council figures.
    assert scoped.totals["reported"] < _fresh().totals["reported"] == 5
    assert scoped == _compute(StatsFilter(year=CLOSED), True, scope, None, False)
    assert KeptStatistics.objects.count() == 1


def _late_report(cu, ch, users):
    file_report(users["alice"], **_in(CLOSED))


def _amendment(cu, ch, users):
    services.amend_report(cu[1], users["alice"], {"severity": "high"}, note="worse")


def _transition(cu, ch, users):
    services.change_status(cu[0], users["charlie"], "acknowledged")


def _evidence(cu, ch, users):
    services.attach_evidence(cu[0], users["alice"], SimpleUploadedFile("b.txt", b"more\n"))


def _link(cu, ch, users):
    linking.link(users["charlie"], [cu[1], ch[0]], label="Second")


def _unlink(cu, ch, users):
    linking.unlink(users["charlie"], cu[2])


def _deletion(cu, ch, users):
    # A purge outside the services (reports are withdrawn, not deleted, by the platform).
    report = cu[0]
    Indicator.objects.filter(incident=report).delete()
    for rel in Incident._meta.related_objects:
        if rel.one_to_many or rel.one_to_one:
            rel.related_model._base_manager.filter(**{rel.field.name: report}).delete()
    Incident.objects.filter(pk=report.pk).delete()


def _evidence_deleted(cu, ch, users):
    Evidence.objects.filter(incident=ch[0]).delete()


def _withdrawal(cu, ch, users):
    services.change_status(cu[1], users["alice"], "withdrawn")


def _bulk_update(cu, ch, users):
    # No save(), no signal, updated_at untouched: the fingerprint reads the columns themselves.
    Incident.objects.filter(pk=cu[0].pk).update(severity="critical")


def _bulk_user_hours(cu, ch, users):
    Incident.objects.filter(pk=ch[0].pk).update(user_hours=1.5)


def _summary_return(cu, ch, users):
    summaries.submit_return(users["alice"], CLOSED, [summaries.ReturnLine(
        Category.objects.get(code="trust-security"), RsitClass.objects.get(code="availability"),
        9, 10.0)])


def _moved_into_the_year(cu, ch, users):
    late = file_report(users["bob"])     # 2026, then its start corrected to the closed year
    Incident.objects.filter(pk=late.pk).update(started_at=dt.datetime(CLOSED, 12, 31, 23,
                                                                      tzinfo=dt.UTC))


CHANGES = [_late_report, _amendment, _transition, _evidence, _link, _unlink, _deletion,
           _evidence_deleted, _withdrawal,
           _bulk_update, _bulk_user_hours, _summary_return, _moved_into_the_year]


@pytest.mark.parametrize("change", CHANGES, ids=[c.__name__.strip("_") for c in CHANGES])
def test_any_change_to_the_closed_year_recomputes_it_and_is_audited(closed_year, change, alice,
                                                                     bob, charlie):
    before = compute(StatsFilter(year=CLOSED), with_shares=True, with_year_over_year=False)
    change(*closed_year, {"alice": alice, "bob": bob, "charlie": charlie})
    after = compute(StatsFilter(year=CLOSED), with_shares=True, with_year_over_year=False)
    assert after == _fresh()
    assert after != before
    assert _recomputed() == 1
    entry = AuditEntry.objects.get(action="analysis.statistics.recomputed")
    assert entry.before["year"] == CLOSED and "changed" in entry.after["reason"]
    # Kept again: the next read is not stale.
    assert compute(StatsFilter(year=CLOSED), with_shares=True,
                   with_year_over_year=False) == after
    assert _recomputed() == 1


def test_a_change_to_another_year_keeps_the_closed_year(closed_year, alice, charlie):
    compute(StatsFilter(year=CLOSED), with_shares=True)
    kept = KeptStatistics.objects.get(year=CLOSED)
    other = file_report(alice)                           # this year
    services.change_status(other, charlie, "acknowledged")
    file_report(alice, **_in(CLOSED - 1))                # the year before
    Incident.objects.filter(pk=other.pk).update(severity="critical")
    compute(StatsFilter(year=CLOSED), with_shares=True)
    assert KeptStatistics.objects.get(year=CLOSED).fingerprint == kept.fingerprint
    assert _recomputed() == 0


def test_each_language_keeps_its_own_labels(closed_year):
    from django.utils import translation

    def kept():
        return compute(StatsFilter(year=CLOSED), with_shares=True, with_year_over_year=False)

    with translation.override("fr"):
        fr = kept()
    en = kept()
    with translation.override("fr"):
        assert kept() == fr
        assert fr == _fresh()
    assert en.by_channel[0]["label"] != fr.by_channel[0]["label"]
    assert set(KeptStatistics.objects.values_list("language", flat=True)) == {"en", "fr"}


def test_the_council_report_is_identical_cold_and_warm(closed_year, alice, bob):
    for year in range(CLOSED - 3, CLOSED):    # the trend table's earlier years
        file_report(alice, **_in(year))
        file_report(bob, **_in(year, tlp="amber"))
    options = ReportOptions(year=2026, lang="en", fmt="html", date=dt.date(2027, 3, 1))
    stats_store.forget()
    cold = service.produce(options)
    assert set(KeptStatistics.objects.values_list("year", flat=True)) == {2022, 2023, 2024, 2025}
    warm = service.produce(options)
    assert warm.document == cold.document and warm.annex == cold.annex
    with CaptureQueriesContext(connection) as queries:
        service.produce(options)
    assert len(queries) < 0.8 * _queries_cold(options)


def _queries_cold(options) -> int:
    stats_store.forget()
    with CaptureQueriesContext(connection) as queries:
        service.produce(options)
    return len(queries)


def test_forget_statistics_command_drops_the_store_and_is_audited(closed_year, capsys):
    compute(StatsFilter(year=CLOSED), with_shares=True, with_year_over_year=False)
    compute(StatsFilter(year=CLOSED - 1), with_shares=True, with_year_over_year=False)
    call_command("report", "forget-statistics", "--year", str(CLOSED))
    assert "dropped the kept statistics of 1 closed year" in capsys.readouterr().out
    assert list(KeptStatistics.objects.values_list("year", flat=True)) == [CLOSED - 1]
    call_command("report", "forget-statistics")
    assert not KeptStatistics.objects.exists()
    entries = AuditEntry.objects.filter(action="analysis.statistics.forgotten")
    assert [e.after["years"] for e in entries.order_by("seq")] == [[CLOSED], [CLOSED - 1]]
    assert AuditEntry.objects.filter(action="analysis.statistics.forgotten",
                                     actor_name="command:report").count() == 2


def test_forget_statistics_has_help(capsys):
    with pytest.raises(SystemExit):
        call_command("report", "forget-statistics", "--help")
    shown = capsys.readouterr().out
    assert "--year" in shown
    assert "computed again when next read" in shown  # what it does, not only its options
