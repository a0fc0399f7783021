"""TAXII 2.1 server: protocol (media types, auth, filters, pagination, status) and isolation
(an amber report of State A never reaches State B), with Django's client and with the OASIS
client ``taxii2-client`` against a live server."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from sentinelle.core.models import ApiToken, SharingGroup
from sentinelle.exchange.formats import stix_common as sc
from sentinelle.exchange.models import SharedIndicator
from sentinelle.exchange.taxii.collections import collection_id
from sentinelle.incidents.models import Incident
from tests.conftest import file_report
from tests.exchange.test_stix import INCIDENT, indicator, relationship

TAXII = "application/taxii+json;version=2.1"
ALL = collection_id("sentinelle", "all")


class Taxii:
    def __init__(self, user, read_only: bool = False):
        self.client = Client()
        _token, secret = ApiToken.issue(user, read_only=read_only)
        self.auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}", "HTTP_ACCEPT": TAXII}

    def get(self, path: str, **params):
        return self.client.get(f"/taxii2/{path}", params, **self.auth)

    def post(self, path: str, body: dict, content_type: str = TAXII):
        return self.client.post(f"/taxii2/{path}", json.dumps(body), content_type=content_type,
                                **self.auth)


def objects_of(response) -> list[dict]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == TAXII
    return response.json().get("objects", [])


def test_discovery_roots_and_collections(alice, bob, charlie):
    group = SharingGroup.objects.create(name="Caribbean")
    group.states.add(alice.state)
    discovery = Taxii(alice).get("").json()
    assert discovery["api_roots"][0].endswith("/taxii2/sentinelle/")
    assert any(r.endswith(f"/taxii2/group-{group.pk}/") for r in discovery["api_roots"])
    assert Taxii(bob).get(f"group-{group.pk}/").status_code == 404   # not a member
    root = Taxii(alice).get("sentinelle/").json()
    assert root["versions"] == [TAXII]
    cols = Taxii(alice).get("sentinelle/collections/").json()["collections"]
    assert {c["title"] for c in cols} >= {"TLP:CLEAR", "TLP:GREEN", "TLP:AMBER"}
    assert Taxii(charlie).get(f"sentinelle/collections/{ALL}/").json()["can_write"] is False


def test_auth_and_media_types(alice, bob, charlie):
    client = Client()
    assert client.get("/taxii2/", HTTP_ACCEPT=TAXII).status_code == 401
    assert client.get("/taxii2/", HTTP_ACCEPT=TAXII,
                      HTTP_AUTHORIZATION="Bearer snl_nope_nope").status_code == 401
    api = Taxii(alice)
    assert api.client.get("/taxii2/", HTTP_ACCEPT="text/html",
                          HTTP_AUTHORIZATION=api.auth["HTTP_AUTHORIZATION"]).status_code == 406
    assert api.client.get("/taxii2/", HTTP_ACCEPT="application/taxii+json;version=2.0",
                          HTTP_AUTHORIZATION=api.auth["HTTP_AUTHORIZATION"]).status_code == 406
    response = api.post(f"sentinelle/collections/{ALL}/objects/", {"objects": []},
                        content_type="application/json")
    assert response.status_code == 415
    assert response.json()["http_status"] == "415"
    read_only = Taxii(alice, read_only=True)
    assert read_only.post(f"sentinelle/collections/{ALL}/objects/",
                          {"objects": []}).status_code == 403
    assert api.get("sentinelle/collections/nope/").status_code == 404


def test_amber_report_of_a_never_reaches_b(alice, bob, charlie):
    amber = file_report(alice, tlp="amber", title="Cuban amber")
    green = file_report(alice, tlp="green", title="Cuban green")
    for path in (f"sentinelle/collections/{ALL}/objects/",
                 f"sentinelle/collections/{collection_id('sentinelle', 'tlp-amber')}/objects/"):
        seen = {o["id"] for o in objects_of(Taxii(bob).get(path))}
        assert amber.stix_id not in seen
    seen = {o["id"] for o in objects_of(Taxii(bob).get(f"sentinelle/collections/{ALL}/objects/"))}
    assert green.stix_id in seen
    assert Taxii(bob).get(f"sentinelle/collections/{ALL}/objects/{amber.stix_id}/"
                          ).status_code == 404
    assert amber.stix_id in {o["id"] for o in objects_of(Taxii(charlie).get(
        f"sentinelle/collections/{ALL}/objects/"))}   # the Secretariat reads AMBER
    manifest = Taxii(bob).get(f"sentinelle/collections/{ALL}/manifest/").json()
    assert amber.stix_id not in {o["id"] for o in manifest["objects"]}


def test_group_collection_shares_amber_with_members_only(alice, bob, charlie):
    group = SharingGroup.objects.create(name="Alpine")
    group.states.add(alice.state, bob.state)
    incident = file_report(alice, tlp="amber", title="For the group")
    Incident.objects.filter(pk=incident.pk).update(sharing_group=group)
    path = f"group-{group.pk}/collections/{collection_id(f'group-{group.pk}', 'shared')}/objects/"
    assert incident.stix_id in {o["id"] for o in objects_of(Taxii(bob).get(path))}


def test_filters_pagination_and_version(alice, bob, charlie):
    for n in range(3):
        file_report(alice, tlp="green", title=f"Report {n}")
    api = Taxii(bob)
    path = f"sentinelle/collections/{ALL}/objects/"
    everything = objects_of(api.get(path))
    incidents = objects_of(api.get(path, **{"match[type]": "incident"}))
    assert len(incidents) == 3 and {o["type"] for o in incidents} == {"incident"}
    one = objects_of(api.get(path, **{"match[id]": incidents[0]["id"]}))
    assert [o["id"] for o in one] == [incidents[0]["id"]]
    assert objects_of(api.get(path, **{"match[id]": incidents[0]["id"],
                                       "match[version]": incidents[0]["modified"]}))
    assert not objects_of(api.get(path, **{"match[id]": incidents[0]["id"],
                                           "match[version]": "2001-01-01T00:00:00Z"}))
    pages, key = [], None
    while True:
        response = api.get(path, limit=4, **({"next": key} if key else {}))
        body = response.json()
        pages.extend(body.get("objects", []))
        if not body["more"]:
            break
        key = body["next"]
    assert [o["id"] for o in pages] == [o["id"] for o in everything]
    last = api.get(path, limit=4)["X-TAXII-Date-Added-Last"]
    later = objects_of(api.get(path, added_after=last))
    assert len(later) == len(everything) - 4 or len(later) < len(everything)
    versions = api.get(f"{path}{incidents[0]['id']}/versions/").json()
    assert versions["versions"] == [incidents[0]["modified"]]


def test_post_imports_through_the_importer_and_reports_status(alice, bob, charlie):
    api = Taxii(alice)
    body = {"objects": [INCIDENT, indicator(1, "[ipv4-addr:value = '192.0.2.1']"),
                        relationship(2, "indicator--00000000-0000-4000-8000-000000000001",
                                     INCIDENT["id"]),
                        indicator(3, "[domain-name:value = 'c2.example']",
                                  object_marking_refs=[sc.TLP2_IDS["green"]])]}
    response = api.post(f"sentinelle/collections/{ALL}/objects/", body)
    assert response.status_code == 202, response.content
    status = response.json()
    assert status["status"] == "complete" and status["success_count"] == 4
    assert api.get(f"sentinelle/status/{status['id']}/").json() == status
    assert Taxii(bob).get(f"sentinelle/status/{status['id']}/").status_code == 404
    incident = Incident.objects.get(stix_id=INCIDENT["id"])
    assert incident.state == alice.state and incident.tlp == "amber"
    assert SharedIndicator.objects.get(value="c2.example").tlp == "green"
    # Half-bad envelope: nothing written, the failure names the object and the property.
    bad = indicator(4, "[ipv4-addr:value = '192.0.2.9']")
    del bad["pattern_type"]
    response = api.post(f"sentinelle/collections/{ALL}/objects/",
                        {"objects": [indicator(5, "[domain-name:value = 'ok.example']"), bad]})
    status = response.json()
    assert status["success_count"] == 0 and status["failure_count"] == 2
    assert "$.objects[1]" in status["failures"][1]["message"]
    assert not SharedIndicator.objects.filter(value="ok.example").exists()


# --- the OASIS client against a live server --------------------------------------------------

@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_taxii2_client_reads_and_writes_our_server(db, live_server, alice, bob, charlie):
    from taxii2client.v21 import Server, as_pages

    from sentinelle.exchange.federation import BearerAuth

    file_report(alice, tlp="green", title="Green for everyone")
    amber = file_report(alice, tlp="amber", title="Amber for Cuba")
    _t, secret = ApiToken.issue(bob)
    server = Server(f"{live_server.url}/taxii2/", auth=BearerAuth(secret))
    assert server.title
    root = server.api_roots[0]
    [everything] = [c for c in root.collections if c.id == ALL]
    seen = []
    for envelope in as_pages(everything.get_objects, per_request=3):
        seen.extend(envelope.get("objects", []))
    titles = {o.get("name") for o in seen if o["type"] == "incident"}
    assert titles == {"Green for everyone"} and amber.stix_id not in {o["id"] for o in seen}
    manifest = everything.get_manifest()
    assert len(manifest["objects"]) == min(len(seen), 100)
    status = everything.add_objects({"objects": [
        indicator(7, "[domain-name:value = 'from-bob.example']",
                  object_marking_refs=[sc.TLP2_IDS["green"]])]})
    assert status.status == "complete" and status.success_count == 1
    assert SharedIndicator.objects.get(value="from-bob.example").state == bob.state
