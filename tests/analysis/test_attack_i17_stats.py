"""Issue 17 attack (E5): the kept statistics of closed years (analysis/stats_store.py) must never
serve figures that a fresh computation would not give, whatever changed and whatever the
database; ``report forget-statistics`` refuses bad input without dropping anything."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from sentinelle.analysis import stats_store
from sentinelle.analysis.models import KeptStatistics
from sentinelle.analysis.statistics import StatsFilter, _compute, compute
from sentinelle.incidents import summaries
from sentinelle.incidents.models import Category, Incident, RsitClass, Transition
from tests.conftest import file_report

pytestmark = pytest.mark.django_db

CLOSED = 2025   # the tests run in 2026 or later: 2025 has ended


def _kept(year: int = CLOSED) -> str:
    return stats_store._encode(compute(StatsFilter(year=year), with_year_over_year=False,
                                       with_shares=True))


def _fresh(year: int = CLOSED) -> str:
    return stats_store._encode(_compute(StatsFilter(year=year), True, None, None, True))


def test_a_report_of_the_local_year_outside_the_utc_year_is_fingerprinted(settings, bob):
    """The excess of a summary return is counted against the reports of its cell by their
    year in the platform's time zone (``started_at__year``), so a report that started on
    31 December UTC but on 1 January there belongs to the return's year. Changing it must
    recompute the kept year: the fingerprint covered the UTC year only, and the Council
    report kept a stale excess."""
    settings.TIME_ZONE = "Pacific/Auckland"   # UTC+13 in January
    summaries.submit_return(bob, CLOSED, [summaries.ReturnLine(
        Category.objects.get(code="trust-security"), RsitClass.objects.get(code="availability"),
        6, 500.0)])
    edge = file_report(bob, started_at=f"{CLOSED - 1}-12-31T20:00:00Z",
                       ended_at=f"{CLOSED - 1}-12-31T22:00:00Z")
    file_report(bob, started_at=f"{CLOSED}-05-02T08:00:00Z", ended_at=f"{CLOSED}-05-02T12:00:00Z")
    assert _kept() == _fresh()
    assert KeptStatistics.objects.filter(year=CLOSED).exists()
    Incident.objects.filter(pk=edge.pk).update(
        category=Category.objects.exclude(code="trust-security").first())
    assert _fresh() != stats_store._encode(stats_store._decode(
        CLOSED, KeptStatistics.objects.get(year=CLOSED).payload)), "the edge report counts"
    assert _kept() == _fresh()


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's SUM is what overflows")
def test_the_fingerprint_of_a_busy_year_does_not_overflow(monkeypatch, alice):
    """48-bit row hashes summed by SQLite's SUM overflow (an OperationalError, so the Council
    report and every public page of the year fail) past 2**15 rows of one table in the worst
    case and about 2**16 on average: a year of some 20,000 reports has that many transitions.
    Here every row hashes to the largest 48-bit value, so 2**15 + 1 transitions reach it."""
    report = file_report(alice, started_at=f"{CLOSED}-05-02T08:00:00Z",
                         ended_at=f"{CLOSED}-05-02T12:00:00Z")
    Transition.objects.bulk_create(
        Transition(incident=report, from_status="submitted", to_status="submitted",
                   actor=alice, note="") for _ in range(2**15 + 1))
    monkeypatch.setattr(stats_store, "_h48", lambda text: 2**48 - 1)
    first = stats_store.fingerprint(CLOSED)
    Transition.objects.filter(pk=Transition.objects.order_by("-pk").first().pk).delete()
    assert stats_store.fingerprint(CLOSED) != first


def test_values_swapped_between_two_rows_change_the_fingerprint(alice, bob):
    """A bulk update that swaps two reports' States keeps every count equal; the kept figures
    must still be recomputed (per State they differ)."""
    a = file_report(alice, started_at=f"{CLOSED}-05-02T08:00:00Z",
                    ended_at=f"{CLOSED}-05-02T12:00:00Z", tlp="green")
    b = file_report(bob, started_at=f"{CLOSED}-06-02T08:00:00Z",
                    ended_at=f"{CLOSED}-06-02T12:00:00Z", tlp="red")
    before = _kept()
    state_a, state_b = a.state_id, b.state_id
    tlp_a, tlp_b = a.tlp, b.tlp
    Incident.objects.filter(pk=a.pk).update(state_id=state_b, tlp=tlp_b)
    Incident.objects.filter(pk=b.pk).update(state_id=state_a, tlp=tlp_a)
    after = _kept()
    assert after == _fresh() and after != before


@pytest.mark.parametrize("bad", ["abc", "2025.0", "", "2025; DROP TABLE x", "0x7e9"])
def test_forget_statistics_refuses_a_bad_year_and_drops_nothing(alice, bad):
    file_report(alice, started_at=f"{CLOSED}-05-02T08:00:00Z",
                ended_at=f"{CLOSED}-05-02T12:00:00Z")
    _kept()
    assert KeptStatistics.objects.count() == 1
    with pytest.raises(CommandError):
        call_command("report", "forget-statistics", "--year", bad)
    assert KeptStatistics.objects.count() == 1


def test_forget_statistics_of_a_year_not_kept_drops_nothing(alice, capsys):
    file_report(alice, started_at=f"{CLOSED}-05-02T08:00:00Z",
                ended_at=f"{CLOSED}-05-02T12:00:00Z")
    _kept()
    for year in ("-1", "0", "1999", str(dt.date.today().year + 5)):
        call_command("report", "forget-statistics", "--year", year)
        assert " 0 " in capsys.readouterr().out   # "dropped 0 …", however it is worded
    assert KeptStatistics.objects.count() == 1


def _rename_state(users):
    from sentinelle.core.models import MemberState

    MemberState.objects.filter(alpha2="CH").update(name_en="Helvetia", name_fr="Helvétie")


def _merge_states(users):
    from sentinelle.core.models import MemberState

    Incident.objects.filter(state__alpha2="CH").update(
        state=MemberState.objects.get(alpha2="CU"))


def _relabel_category(users):
    category = Category.objects.get(code="trust-security")
    category.labels = {**category.labels, "en": "Renamed", "fr": "Renommée"}
    category.save()


def _relabel_rsit(users):
    from sentinelle.incidents.models import RsitType

    RsitType.objects.filter(code="ddos").update(code="ddos2")


def _consent(users):
    Incident.objects.filter(state__alpha2="CH").update(consent_to_name=True)


def _loosen(users):
    Incident.objects.filter(tlp="red").update(tlp="clear")


def _role(users):
    users["bob"].role = "analyst"
    users["bob"].save()


@pytest.mark.parametrize("change", [_rename_state, _merge_states, _relabel_category,
                                    _relabel_rsit, _consent, _loosen, _role],
                         ids=lambda c: c.__name__.strip("_"))
@pytest.mark.parametrize("language", ["en", "fr"])
def test_no_change_leaves_stale_figures_in_any_language(alice, bob, change, language):
    from django.utils import translation

    for user, tlp in ((alice, "red"), (bob, "green"), (bob, "amber")):
        file_report(user, tlp=tlp, started_at=f"{CLOSED}-05-02T08:00:00Z",
                    ended_at=f"{CLOSED}-05-02T12:00:00Z")
    Incident.objects.filter(state__alpha2="CU").update(consent_to_name=True)
    with translation.override(language):
        _kept()
        change({"alice": alice, "bob": bob})
        assert _kept() == _fresh()


def test_forget_statistics_counts_years_not_languages(alice, capsys):
    """The command says how many closed years it dropped; a year kept in three languages is
    one year (it said "3 closed years")."""
    from django.utils import translation

    file_report(alice, started_at=f"{CLOSED}-05-02T08:00:00Z",
                ended_at=f"{CLOSED}-05-02T12:00:00Z")
    for language in ("en", "fr", "es"):
        with translation.override(language):
            _kept()
            _kept(CLOSED - 1)
    assert KeptStatistics.objects.count() == 6
    call_command("report", "forget-statistics", "--year", str(CLOSED))
    assert "of 1 closed year" in capsys.readouterr().out
    call_command("report", "forget-statistics")
    out = capsys.readouterr().out
    assert "of 1 closed year" in out and not KeptStatistics.objects.exists()
    call_command("report", "forget-statistics")
    assert "of 0 closed years" in capsys.readouterr().out
