"""TAXII 2.1 errors, case by case as the specification lists them (sections 3.6 and 3.6.1):
each answers its status, ``Content-Type: application/taxii+json;version=2.1`` and an error
message whose ``title`` is set and whose ``http_status`` is the status, as a string. The OASIS
client ``taxii2-client`` reads them from a live server."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from sentinelle.core.models import ApiToken, SharingGroup
from sentinelle.exchange.formats import stix_common as sc
from sentinelle.exchange.taxii.collections import collection_id
from tests.conftest import file_report
from tests.exchange.test_stix import indicator
from tests.exchange.test_taxii import ALL, TAXII, Taxii

OBJECTS = f"sentinelle/collections/{ALL}/objects/"
CLEAR = collection_id("sentinelle", "tlp-clear")


def assert_taxii_error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == TAXII
    body = response.json()
    assert body["http_status"] == str(status)
    assert isinstance(body["title"], str) and body["title"]
    assert set(body) <= {"title", "description", "error_id", "error_code", "http_status",
                         "external_details", "details"}   # the error message's properties
    return body


def green_indicator(n: int) -> dict:
    return indicator(n, f"[domain-name:value = 'e{n}.example']",
                     object_marking_refs=[sc.TLP2_IDS["green"]])


# --- 401 -------------------------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("authorization", [None, "Bearer snl_nope_nope", "Basic YTpi"])
def test_no_or_bad_credentials_are_a_401_with_a_bearer_challenge(authorization):
    headers = {"HTTP_ACCEPT": TAXII}
    if authorization:
        headers["HTTP_AUTHORIZATION"] = authorization
    response = Client().get(f"/taxii2/{OBJECTS}", **headers)
    assert_taxii_error(response, 401)
    assert response["WWW-Authenticate"] == "Bearer"


# --- 403 -------------------------------------------------------------------------------------

def test_writing_where_the_token_may_not_write_is_a_403(alice, charlie):
    envelope = {"objects": [green_indicator(1)]}
    # A read-only collection, a read-only token, a user who is no focal point.
    assert_taxii_error(Taxii(alice).post(f"sentinelle/collections/{CLEAR}/objects/", envelope),
                       403)
    assert_taxii_error(Taxii(alice, read_only=True).post(OBJECTS, envelope), 403)
    assert_taxii_error(Taxii(charlie).post(OBJECTS, envelope), 403)
    assert not Taxii(alice).get(OBJECTS, **{"match[type]": "indicator"}).json().get("objects")


# --- 404 -------------------------------------------------------------------------------------

def test_unknown_or_unseen_resources_are_a_404(alice, bob):
    group = SharingGroup.objects.create(name="Andean")
    group.states.add(alice.state)
    amber = file_report(alice, tlp="amber", title="Amber")
    api = Taxii(bob)
    for path in ["nope/", "nope/collections/",
                 f"group-{group.pk}/",                      # exists, bob's State is not in it
                 f"group-{group.pk}/collections/",
                 "sentinelle/collections/nope/", "sentinelle/collections/nope/objects/",
                 f"{OBJECTS}incident--00000000-0000-4000-8000-000000000000/",
                 f"{OBJECTS}{amber.stix_id}/",               # exists, bob may not read it
                 f"{OBJECTS}{amber.stix_id}/versions/",
                 "sentinelle/status/00000000-0000-4000-8000-000000000000/",
                 "sentinelle/no-such-endpoint/"]:
        assert_taxii_error(api.get(path), 404)
    assert Taxii(alice).get(f"{OBJECTS}{amber.stix_id}/").status_code == 200


# --- 405, 406 --------------------------------------------------------------------------------

def test_a_method_an_endpoint_lacks_is_a_405_naming_the_allowed_ones(alice):
    api = Taxii(alice)
    response = api.client.delete(f"/taxii2/{OBJECTS}", **api.auth)
    assert_taxii_error(response, 405)
    assert response["Allow"] == "GET, POST"


@pytest.mark.parametrize("accept", ["text/html", "application/json",
                                    "application/taxii+json;version=2.0"])
def test_an_accept_without_taxii_2_1_is_a_406(alice, accept):
    api = Taxii(alice)
    response = api.client.get(f"/taxii2/{OBJECTS}", HTTP_ACCEPT=accept,
                              HTTP_AUTHORIZATION=api.auth["HTTP_AUTHORIZATION"])
    body = assert_taxii_error(response, 406)
    assert TAXII in body["description"]


# --- 413, 415, 422, 400 ----------------------------------------------------------------------

def test_an_envelope_over_max_content_length_is_a_413_and_one_at_it_is_read(alice):
    api = Taxii(alice)
    limit = api.get("sentinelle/").json()["max_content_length"]
    head = b'{"objects": [], "padding": "'
    at_limit = head + b"x" * (limit - len(head) - 2) + b'"}'
    assert len(at_limit) == limit
    accepted = api.client.post(f"/taxii2/{OBJECTS}", at_limit, content_type=TAXII, **api.auth)
    assert accepted.status_code == 202, accepted.content[:300]
    over = at_limit[:-2] + b'x"}'
    body = assert_taxii_error(
        api.client.post(f"/taxii2/{OBJECTS}", over, content_type=TAXII, **api.auth), 413)
    assert str(limit) in body["description"]
    # Judged on the declared length: a client announcing too much is refused before the body
    # (here a small one) is read.
    declared = api.client.post(f"/taxii2/{OBJECTS}", b'{"objects": []}', content_type=TAXII,
                               CONTENT_LENGTH=str(limit + 1), **api.auth)
    assert_taxii_error(declared, 413)


@pytest.mark.parametrize("content_type", ["application/json", "application/stix+json",
                                          "application/taxii+json;version=2.0", "text/plain"])
def test_a_post_that_is_not_taxii_json_is_a_415(alice, content_type):
    response = Taxii(alice).post(OBJECTS, {"objects": [green_indicator(2)]},
                                 content_type=content_type)
    assert_taxii_error(response, 415)


@pytest.mark.parametrize("objects,where", [
    ([42], "$.objects[0]"),
    ([{"name": "no type, no id"}], "$.objects[0]"),
    (["indicator"], "$.objects[0]"),
    ([{"type": "indicator", "id": "malware--00000000-0000-4000-8000-000000000001"}],
     "$.objects[0]"),
    ([{"type": "indicator", "id": "indicator--00000000-0000-4000-8000-000000000001",
       "spec_version": "2.0"}], "$.objects[0]"),
])
def test_an_envelope_holding_what_is_not_stix_2_1_is_a_422_naming_it(alice, objects, where):
    posted = [green_indicator(3), *objects]
    where = where.replace("[0]", "[1]")
    body = assert_taxii_error(Taxii(alice).post(OBJECTS, {"objects": posted}), 422)
    assert body["description"].startswith(where)
    assert not Taxii(alice).get(OBJECTS, **{"match[type]": "indicator"}).json().get("objects")


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"objects": {}}', b'{"more": false}'])
def test_a_body_that_is_no_envelope_is_a_400(alice, body):
    api = Taxii(alice)
    assert_taxii_error(api.client.post(f"/taxii2/{OBJECTS}", body, content_type=TAXII,
                                       **api.auth), 400)


def test_a_bad_filter_is_a_400(alice):
    assert_taxii_error(Taxii(alice).get(OBJECTS, added_after="yesterday"), 400)


# --- the OASIS client reads them -------------------------------------------------------------

@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_taxii2_client_reads_our_errors(db, live_server, alice):
    import requests
    from taxii2client.v21 import ApiRoot, Collection, Server

    from sentinelle.exchange.federation import BearerAuth

    with pytest.raises(requests.HTTPError) as anonymous:
        Server(f"{live_server.url}/taxii2/").refresh()
    with pytest.raises(requests.HTTPError) as wrong:
        Server(f"{live_server.url}/taxii2/", auth=BearerAuth("snl_nope_nope")).refresh()
    _t, secret = ApiToken.issue(alice)
    with pytest.raises(requests.HTTPError) as missing:
        ApiRoot(f"{live_server.url}/taxii2/nope/", auth=BearerAuth(secret)).refresh()
    with pytest.raises(requests.HTTPError) as no_object:
        Collection(f"{live_server.url}/taxii2/{OBJECTS.removesuffix('objects/')}",
                   auth=BearerAuth(secret)).get_object(
            "incident--00000000-0000-4000-8000-000000000000")
    for raised, status in ((anonymous, 401), (wrong, 401), (missing, 404), (no_object, 404)):
        response = raised.value.response
        assert response.status_code == status
        assert response.headers["Content-Type"] == TAXII
        error = json.loads(response.text)
        assert error["http_status"] == str(status) and error["title"]
