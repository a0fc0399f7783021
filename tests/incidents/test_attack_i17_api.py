"""Issue 17 attack (E5): the incident list built from ``.values()`` rows (incidents/api/rows.py)
against the detail view and against the DRF fields it replaced, for every kind of reader, over
reports at every TLP, amended (also while RED, then loosened), linked, shared with a group, with
hostile text, in a time zone other than UTC; filters and pagination must never show or count a
report the reader may not see; the submission's answer (built from what was written) equals the
report read back."""

from __future__ import annotations

import json

import pytest
from rest_framework import serializers as drf
from rest_framework.test import APIRequestFactory

from sentinelle.core.models import ApiToken, Role
from sentinelle.incidents import fields, services
from sentinelle.incidents.api.serializers import IncidentSerializer
from sentinelle.incidents.models import Incident, Indicator
from tests.conftest import api_client, make_user
from tests.incidents.test_api_incidents_rendering import URL, world  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


def _old(incident: Incident, user) -> dict:
    """The JSON of the DRF fields (IncidentSerializer before issue 17): every declared field's
    to_representation, then the latest version's indicators."""
    request = APIRequestFactory().get(URL)
    request.user = user
    serializer = IncidentSerializer(context={"request": request})
    data = drf.Serializer.to_representation(serializer, incident)
    data["indicators"] = [{"type": i.type, "value": i.value} for i in Indicator.objects.filter(
        incident=incident, version__number=incident.version).order_by("id")]
    return json.loads(json.dumps(data, cls=_Encoder))


class _Encoder(json.JSONEncoder):
    def default(self, o):  # noqa: ANN001, ANN201
        return str(o)


def _all_rows(client, query: str = "") -> list[dict]:
    rows, url = [], f"{URL}?limit=4{'&' + query if query else ''}"
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        rows += body["results"]
        url = body["next"]
    assert len(rows) == body["count"]
    return rows


@pytest.fixture
def harder(world, settings):  # noqa: F811 - the fixture imported above
    """The frozen-bytes world, plus a RED report amended while RED then loosened to GREEN,
    hostile text, more readers, and a time zone other than UTC."""
    settings.TIME_ZONE = "America/Havana"
    users = world["users"]
    alice = users["alice"]
    users["erin"] = make_user("erin2", Role.ANALYST)
    users["admin"] = make_user("root", Role.ADMIN)
    users["council"] = make_user("carla", Role.COUNCIL)
    users["cu2"] = make_user("alice2", Role.FOCAL_POINT, "CU")
    users["fr"] = make_user("fr", Role.FOCAL_POINT, "FR")
    red = world["reports"]["a-red"]
    services.amend_report(red, alice, {
        "description": "Said while RED: the minister's phone \u202eevil\u202c <b>x</b>",
        "indicators": fields.parse_indicators([("domain", "while-red.example")])}, note="red")
    services.amend_report(red, alice, {"tlp": "green"}, note="loosened")
    strict = world["reports"]["a-strict"]
    services.amend_report(strict, alice, {"title": "=HYPERLINK(\"http://x\")\t\\.\r\n"[:60]
                                          .replace("\n", " ").replace("\r", " ")}, note="")
    return world


def test_every_reader_sees_the_same_report_in_list_detail_and_old_fields(harder):
    wrong = []
    for who, user in harder["users"].items():
        client = api_client(user)
        rows = _all_rows(client)
        visible = list(Incident.objects.for_user(user).values_list("pk", flat=True))
        assert sorted(r["id"] for r in rows) == sorted(visible), who
        for row in rows:
            detail = client.get(f"{URL}{row['id']}/")
            assert detail.status_code == 200
            if detail.json() != row:
                wrong.append((who, row["id"], "detail"))
            if _old(Incident.objects.get(pk=row["id"]), user) != row:
                wrong.append((who, row["id"], "old fields"))
        hidden = Incident.objects.exclude(pk__in=visible).values_list("pk", flat=True)
        for pk in hidden:
            assert client.get(f"{URL}{pk}/").status_code == 404, (who, pk)
    assert wrong == []


FILTERS = ["state=CU", "state=CH", "state=FR", "state=cu", "tlp=red", "tlp=amber+strict",
           "tlp=amber", "tlp=green", "status=draft", "status=withdrawn", "status=submitted",
           "category=trust-security", "rsit_class=availability", "q=C2-5.Example",
           "q=203.0.113.5", "q=203.0.113.0/24", "q=Narrative", "q=while-red", "q=minister",
           "started_after=2026-01-01", "started_before=2026-04-20", "ordering=-id",
           "state=CU&tlp=red", "limit=1&offset=3", "offset=-1", "limit=0", "limit=100000"]


def test_filters_only_ever_narrow_what_the_reader_sees(harder):
    for who, user in harder["users"].items():
        client = api_client(user)
        everything = {r["id"]: r for r in _all_rows(client)}
        for query in FILTERS:
            response = client.get(f"{URL}?{query}")
            if response.status_code == 400:
                continue
            assert response.status_code == 200, (who, query, response.content)
            body = response.json()
            for row in body["results"]:
                assert everything.get(row["id"]) == row, (who, query, row["id"])
            assert body["count"] <= len(everything), (who, query)


def test_submission_answer_equals_the_report_read_back(alice, charlie, settings):
    settings.TIME_ZONE = "Asia/Kolkata"
    make_user("dana", Role.ANALYST)
    payload = {
        "title": "«ü» \u202eRTL\u202c <script>x</script> =1+1", "category": "trust-security",
        "rsit": "availability:ddos", "tlp": "red",
        "started_at": "2026-03-01T08:00:00.123456+05:00", "ended_at": "2026-03-01T12:30:00Z",
        "description": "Line 1\r\nLine 2\t\\. \U0001F4A9", "users_affected": 0,
        "affected_services": ["fixed internet", "DNS"], "alleged_origin_state": "ch",
        "indicators": [{"type": "ipv4", "value": " 203.0.113.77 "},
                       {"type": "domain", "value": "Botnet.Example."},
                       {"type": "ipv6", "value": "2001:DB8::1"}],
        "named_analysts": ["dana", "charlie", "dana"],
    }
    for submit in (True, False):
        client = api_client(alice)
        answer = client.post(URL, {**payload, "submit": submit}, format="json")
        assert answer.status_code == 201, answer.content
        again = client.get(f"{URL}{answer.json()['id']}/")
        assert answer.json() == again.json()
        listed = [r for r in _all_rows(client) if r["id"] == answer.json()["id"]]
        assert listed == [again.json()]


def test_tokens_of_the_wrong_kind_see_nothing(alice, bob):
    client = api_client(alice)
    client.post(URL, {"title": "x", "category": "trust-security", "rsit": "availability:ddos",
                      "tlp": "red", "started_at": "2026-03-01T08:00:00Z",
                      "description": "d"}, format="json")
    expired, secret_expired = ApiToken.issue(alice, expires_days=1)
    ApiToken.objects.filter(pk=expired.pk).update(expires_at="2020-01-01T00:00:00Z")
    revoked, secret_revoked = ApiToken.issue(alice)
    ApiToken.objects.filter(pk=revoked.pk).update(revoked_at="2020-01-01T00:00:00Z")
    _live, secret_gone = ApiToken.issue(bob)
    bob.is_active = False
    bob.save()
    forged = secret_revoked[:-2] + ("AA" if not secret_revoked.endswith("AA") else "BB")
    for secret in (secret_expired, secret_revoked, secret_gone, forged,
                   secret_revoked.replace("_", "__", 1), "Bearer", ""):
        client = api_client(None)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        response = client.get(URL)
        assert response.status_code in (401, 403), (secret[:12], response.status_code)
        assert b"results" not in response.content


def _unformula(text: str) -> str:
    # The CSV export defuses formula cells with a leading quote (format_csvxlsx).
    return text[1:] if text.startswith("'") else text


def test_export_shows_each_reader_the_reports_and_content_of_its_list(harder):
    import csv
    import io

    stix_ids = dict(Incident.objects.values_list("stix_id", "pk"))
    for who, user in harder["users"].items():
        client = api_client(user)
        listed = {r["id"]: r for r in _all_rows(client)
                  if r["status"] not in ("draft", "withdrawn")}
        response = client.get("/api/v1/exports/", {"format": "csv"})
        assert response.status_code == 200, (who, response.content[:300])
        text = b"".join(response.streaming_content).decode("utf-8-sig")
        exported = {stix_ids[row["STIX identifier"]]: row
                    for row in csv.DictReader(io.StringIO(text))}
        assert set(exported) == set(listed), who
        for pk, row in exported.items():
            shown = listed[pk]
            assert _unformula(row["Title"]) == shown["title"], (who, pk)
            assert row["TLP"] == shown["tlp"], (who, pk)
            assert _unformula(row["Narrative"]) == shown["description"], (who, pk)
            assert row["Indicators"] == "; ".join(
                f"{i['type']}:{i['value']}" for i in shown["indicators"]), (who, pk)
