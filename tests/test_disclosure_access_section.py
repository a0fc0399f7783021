"""Regression tests: section 8 of the Council report (access-denial index and routing alerts).
No subtraction between two of its tables (by service or type over every State, named rows of
consenting States, the year's totals) recovers the figures of a State that did not consent to
be named, or any count below k."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from sentinelle.incidents import services as incident_services
from sentinelle.incidents.models import Incident
from sentinelle.observatory import services
from sentinelle.reports import content
from sentinelle.reports.options import ReportOptions
from tests.conftest import make_user
from tests.observatory_helpers import access_bundle, result, routing_bundle

YEAR = 2026
K = 3


def _vantage(cc: str) -> dict:
    return {"self_reported": {"cc": cc, "asn": 64512}, "geoip": {"cc": cc, "asn": 64512},
            "mismatch": False, "mismatch_reasons": []}


def _measurements(docker_denied: int, docker_open: int, google_open: int,
                  own_denied: int = 0) -> list[dict]:
    """Docker Hub and Google, and a service only this State measured."""
    out = [result(f"https://www.nvidia.com/{i}", "server-denied", f"2026-06-{i + 1:02d} 10:00:00")
           for i in range(own_denied)]
    for i in range(docker_denied):
        out.append(result(f"https://hub.docker.com/{i}", "geoblocked",
                          f"2026-03-{i + 1:02d} 10:00:00", "Docker"))
    for i in range(docker_open):
        out.append(result(f"https://hub.docker.com/o{i}", "accessible",
                          f"2026-04-{i + 1:02d} 10:00:00"))
    for i in range(google_open):
        out.append(result(f"https://www.google.com/{i}", "accessible",
                          f"2026-05-{i + 1:02d} 10:00:00"))
    return out


def _alerts(prefix: str, e0: int, s0: int) -> list[dict]:
    alerts = []
    for n, kind in ((e0, "E|0"), (s0, "S|0")):
        for i in range(n):
            alerts.append({"id": f"{prefix}-{kind}-{i}", "type": kind,
                           "prefix": "190.6.64.0/19", "offending_asn": 64666,
                           "first_seen": 1773144000 + 3600 * i,
                           "last_seen": 1773147600 + 3600 * i, "peers": 5, "collectors": 2,
                           "state": prefix})
    return alerts


@pytest.fixture
def three_states(alice, bob, tmp_path):
    """Cuba and Switzerland consent to be named, France does not; each measured Docker Hub
    and Google (France also a service of its own) and submitted routing alerts of both types
    (Cuba 2 of one type, below k)."""
    fred = make_user("fred", "focal-point", "FR")
    plan = {alice: ("CU", (4, 0, 3), (4, 2)),
            bob: ("CH", (3, 2, 3), (5, 4)),
            fred: ("FR", (4, 1, 2, 4), (4, 3))}
    for user, (cc, access, routing) in plan.items():
        made = [services.submit(user, access_bundle(tmp_path / f"{cc}.zip",
                                                    _measurements(*access),
                                                    vantage=_vantage(cc))).incident,
                services.submit(user, routing_bundle(tmp_path / f"{cc}-r.zip",
                                                     _alerts(cc, *routing))).incident]
        for incident in made:
            incident_services.change_status(incident, user, "submitted")
    Incident.objects.filter(state__alpha2__in=["CU", "CH"]).update(consent_to_name=True)


def _doc():
    return content.build(ReportOptions(year=YEAR, lang="en", fmt="html",
                                       date=dt.date(YEAR + 1, 3, 1)))


def _value(cell) -> int | None:
    """A printed count, or None when it reads "<k"."""
    if getattr(cell, "suppressed", False):
        return None
    text = cell if isinstance(cell, str) else cell.text
    return None if text.startswith("<") or text == "n.p." else int(text.replace(",", ""))


def _safe_difference(aggregate: int | None, parts: list[int | None]) -> bool:
    """Aggregate minus the named parts must not be computable, or be 0."""
    if aggregate is None:
        return True
    return all(p is not None for p in parts) and aggregate - sum(parts) == 0


pytestmark = pytest.mark.django_db


def test_by_service_minus_named_rows_reveals_no_state(three_states):
    doc = _doc()
    tables = {t.key: t for t in doc.tables()}
    named = tables["access_index"].rows
    assert {row[0] for row in named} == {"Cuba", "Switzerland"}   # France is not named
    by_service = tables["access_index_by_service"].rows
    assert [row[0] for row in by_service] == ["hub.docker.com", "www.google.com"]
    for row in by_service:
        parts = [r for r in named if r[1] == row[0]]
        for column in (3, 4):   # denied, conclusive
            aggregate = _value(row[column])
            shown = [_value(r[column]) for r in parts]
            assert _safe_difference(aggregate, shown), (row[0], column, aggregate, shown)


def test_the_totals_minus_the_tables_reveal_no_state(three_states):
    doc = _doc()
    section = next(s for s in doc.sections if s.number == "8")
    text = " ".join(b.text for b in section.blocks if hasattr(b, "text"))
    match = re.search(r"denied in (\S+) of the (\S+) conclusive", text)
    if match is None:
        # Withheld totals get their own sentence: no figure that states a false size.
        assert "How many of these measurements were conclusive" in text, text
        assert "<3" not in text and "n.p." not in text, text
        return
    tables = {t.key: t for t in doc.tables()}
    # What the tables print: services' rows with figures, and the named rows of the others.
    listed = [r for r in tables["access_index_by_service"].rows if _value(r[4]) is not None]
    others = [r for r in tables["access_index"].rows if r[1] not in {x[0] for x in listed}]
    for group, column in ((match.group(1), 3), (match.group(2), 4)):
        total = int(group.replace(",", ""))
        parts = [_value(r[column]) for r in listed + others]
        assert _safe_difference(total, parts), (group, parts)


def test_routing_alerts_by_type_minus_named_rows_reveal_no_state(three_states):
    tables = {t.key: t for t in _doc().tables()}
    by_type = tables["routing_alerts"].rows
    named = tables["routing_alerts_by_state"].rows
    assert {row[0] for row in named} == {"Cuba", "Switzerland"}
    assert [row[0] for row in by_type] == ["E|0", "S|0"]
    for row in by_type:
        aggregate = _value(row[1])
        shown = [_value(r[2]) for r in named if r[1] == row[0]]
        assert _safe_difference(aggregate, shown), (row[0], aggregate, shown)
    # No named count below k either.
    assert all(_value(r[2]) is None or _value(r[2]) >= K for r in named)


def test_pooled_figures_are_shown_when_enough_states_are_unnamed(three_states, settings):
    """With k = 1 every remainder is safe: the pooled figures are printed."""
    settings.SMALL_COUNT = 1
    tables = {t.key: t for t in _doc().tables()}
    docker = tables["access_index_by_service"].rows[0]
    assert [_value(c) for c in docker[3:]] == [11, 14]
    assert _value(tables["routing_alerts"].rows[0][1]) == 13
