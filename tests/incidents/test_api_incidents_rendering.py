"""The incident API answers with the same bytes since its list and submission were made cheaper
(issue 17): pages of the list, one report and a submission's answer are compared with JSON frozen
from the code as it was before (``tests/data/api_incidents/``), for a focal point of the
reporting State, one of another State and a Secretariat analyst, over reports at every TLP, a
draft, a withdrawn report, amendments, indicators, a linked incident, a sharing group and named
analysts. Only what the database chooses (ids, the references built from them) is replaced by
names before comparing; everything else, key order, escaping and number formatting included, must
match byte for byte.

``SENTINELLE_FREEZE_API_FIXTURES=1`` rewrites the files: only ever from the code the bytes must
stay equal to."""

from __future__ import annotations

import datetime as dt
import os
import re

import pytest

from sentinelle.core.models import MemberState, Role, SharingGroup
from sentinelle.incidents import fields, services
from sentinelle.incidents.models import Incident
from tests.conftest import api_client, make_user
from tests.paths import DATA_DIR

FROZEN = DATA_DIR / "api_incidents"
FREEZE = os.environ.get("SENTINELLE_FREEZE_API_FIXTURES") == "1"
URL = "/api/v1/incidents/"
T0 = dt.datetime(2026, 5, 4, 6, 30, 15, 123456, tzinfo=dt.UTC)


def _cleaned(n: int, **overrides) -> dict:
    start = T0 - dt.timedelta(days=3 * n, minutes=7 * n)
    cleaned = {
        "title": f"Report {n}: DDoS against the portal",
        "category": fields.parse_category("trust-security"),
        "rsit_type": fields.parse_rsit("availability:ddos"),
        "tlp": "amber", "severity": "medium", "started_at": start,
        "ended_at": start + dt.timedelta(hours=2.5 + n / 3),
        "detected_at": None, "affected_services": ["fixed internet", "DNS"],
        "users_affected": 1500 * n + 7, "alleged_origin_state": None,
        "description": f"Narrative {n}.", "narrative_language": "en",
        "consent_to_name": False,
        "indicators": fields.parse_indicators([("ipv4", f"203.0.113.{n}"),
                                               ("domain", f"C2-{n}.Example")]),
        "named_analysts": [],
    }
    cleaned.update(overrides)
    return cleaned


@pytest.fixture
def world(alice, bob, charlie):
    """Reports of Cuba (alice) and Switzerland (bob) covering what a row of the list shows;
    ``names`` maps each database id to a stable name."""
    from sentinelle.analysis import linking

    dana = make_user("dana", Role.ANALYST)
    make_user("erin", Role.ANALYST)
    group = SharingGroup.objects.create(name="Caribbean")
    group.states.add(MemberState.objects.get(alpha2="CU"))
    reports: dict[str, Incident] = {}

    def filed(name, user, n, submit=True, group=None, **overrides):
        reports[name] = services.create_report(user, _cleaned(n, **overrides), submit=submit,
                                               sharing_group=group)

    filed("a-clear", alice, 1, tlp="clear", consent_to_name=True, severity="low")
    filed("a-green", alice, 2, tlp="green", ended_at=None, users_affected=None, indicators=[])
    filed("a-amber", alice, 3, alleged_origin_state=MemberState.objects.get(alpha2="CH"),
          description="Línea 1\nسطر 2 — 第三行 \u2028 «quoted» \"x\" <b>&</b>",
          title="Ataque: «portail» — تقرير", detected_at=T0 - dt.timedelta(days=8))
    filed("a-strict", alice, 4, tlp="amber+strict", named_analysts=[charlie])
    filed("a-red", alice, 5, tlp="red", named_analysts=[dana, charlie], severity="critical")
    filed("a-red-other", alice, 6, tlp="red", named_analysts=[dana])
    filed("a-draft", alice, 7, submit=False)
    filed("a-withdrawn", alice, 8, tlp="green")
    services.change_status(reports["a-withdrawn"], alice, "withdrawn")
    filed("b-clear", bob, 9, tlp="clear", users_affected=0)
    filed("b-green", bob, 10, tlp="green", affected_services=[])
    filed("b-amber", bob, 11)
    filed("b-amber-group", bob, 12, group=group)
    filed("b-red", bob, 13, tlp="red", named_analysts=[charlie])
    # Amendments: the list shows the latest version's indicators, not the first one's.
    services.amend_report(reports["a-amber"], alice, {
        "severity": "high", "indicators": fields.parse_indicators(
            [("ipv4", "198.51.100.9"), ("url", "http://C2.example/x?a=1&b=2"),
             ("sha256", "ab" * 32)])}, note="more indicators")
    services.amend_report(reports["b-green"], bob, {"users_affected": 10**9 + 1}, note="")
    services.amend_report(reports["b-green"], bob, {"indicators": []}, note="none after all")
    # One incident reported by both States, linked by the Secretariat.
    cluster = linking.link(charlie, [reports["a-amber"], reports["b-amber"], reports["b-red"]],
                           label="Botnet «X» wave")
    # Fixed times, so that the references' years and the timestamps shown do not move.
    for k, (name, incident) in enumerate(sorted(reports.items())):
        stamp = T0 - dt.timedelta(days=k, seconds=k)
        Incident.objects.filter(pk=incident.pk).update(
            created_at=stamp, updated_at=stamp + dt.timedelta(hours=k),
            submitted_at=(None if name == "a-draft"
                          else stamp + dt.timedelta(minutes=k, microseconds=k)))
    names = {incident.pk: name for name, incident in reports.items()}
    return {"reports": reports, "names": names, "cluster": cluster,
            "users": {"alice": alice, "bob": bob, "charlie": charlie, "dana": dana}}


def _normalised(body: bytes, names: dict[int, str], cluster_id: int | None = None) -> bytes:
    """The response with the database's ids (and the references built from them) named."""
    text = body.decode()
    if cluster_id is not None:   # first: the linked incident's id may equal a report's
        text = text.replace(f'"linked_incident":{{"id":{cluster_id},',
                            '"linked_incident":{"id":"CLUSTER",')
    for incident in Incident.objects.filter(pk__in=names).select_related("state"):
        name = names[incident.pk]
        text = text.replace(f'"{incident.reference}"', f'"REF[{name}]"')
        text = re.sub(rf'(?<=[{{,])"id":{incident.pk}(?=[,}}])', f'"id":"ID[{name}]"', text)
    return text.encode()


def _differs(name: str, response, body: bytes) -> bool:
    """Whether ``body`` (normalised) differs from the frozen file ``name``."""
    assert response.status_code in (200, 201), response.content
    assert response["Content-Type"] == "application/json"
    path = FROZEN / f"{name}.json"
    if FREEZE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    return body != path.read_bytes()


PAGES = [
    ("alice", "?limit=50"), ("alice", "?limit=3&offset=2"), ("alice", "?tlp=red"),
    ("bob", "?limit=50"), ("bob", "?limit=2"),
    ("charlie", "?limit=50"), ("charlie", "?limit=4&offset=4"), ("charlie", "?state=CU"),
    ("dana", "?limit=50"),
]
REPORTS = [("alice", "a-amber"), ("charlie", "a-amber"), ("bob", "b-green"),
           ("charlie", "b-red"), ("dana", "a-red")]


def test_list_pages_and_reports_are_the_frozen_bytes(world):
    # One test over every page: building the reports is what costs, not asking for a page.
    clients = {who: api_client(user) for who, user in world["users"].items()}
    wrong = []
    for who, query in PAGES:
        response = clients[who].get(f"{URL}{query}")
        name = f"list-{who}-{re.sub(r'[^a-z0-9]+', '_', query).strip('_')}"
        if _differs(name, response, _normalised(response.content, world["names"],
                                                world["cluster"].pk)):
            wrong.append(name)
    for who, report in REPORTS:
        response = clients[who].get(f"{URL}{world['reports'][report].pk}/")
        name = f"detail-{who}-{report}"
        if _differs(name, response, _normalised(response.content, world["names"],
                                                world["cluster"].pk)):
            wrong.append(name)
    assert wrong == []


def test_submission_answer_is_the_frozen_bytes(alice, charlie):
    make_user("dana", Role.ANALYST)
    payload = {
        "title": "Submitted over the API — «ü»", "category": "trust-security",
        "rsit": "availability:ddos", "tlp": "amber+strict",
        "started_at": "2026-03-01T08:00:00Z", "ended_at": "2026-03-01T12:30:00.250000Z",
        "description": "Volumetric attack.\u2028Second line.", "users_affected": 12345,
        "affected_services": ["fixed internet"], "alleged_origin_state": "ch",
        "indicators": [{"type": "ipv4", "value": "203.0.113.77"},
                       {"type": "domain", "value": "Botnet.Example"}],
        "named_analysts": ["dana", "charlie"],
    }
    response = api_client(alice).post(URL, payload, format="json")
    assert response.status_code == 201, response.content
    # Times the server chose are the only part that moves between runs.
    body = re.sub(rb'"(created_at|updated_at|submitted_at)":"[^"]+"', rb'"\1":"T"',
                  response.content)
    body = _normalised(body, {response.json()["id"]: "submitted"})
    assert not _differs("submitted-alice", response, body)
