"""Attack on the NUL query check (core/querystring.py), session 31.

The check's page was named 400.html, the name Django's own `bad_request` handler renders for
every other 400 (a SuspiciousOperation: too many parameters, a bad multipart body...): those
were then told that a parameter "holds a character no page accepts", naming none, in HTML
even under /api/ and /taxii2/.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from tests.conftest import api_client, file_report

NUL_PAGE = "The address cannot be read"
NUL_MESSAGE = "U+0000"


@pytest.mark.parametrize("path", ["/incidents/", "/api/v1/incidents/", "/taxii2/"])
def test_too_many_parameters_is_a_400_that_does_not_speak_of_a_nul(client: Client, alice, path):
    client.force_login(alice)
    fields = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1
    answer = client.get(path + "?" + "&".join(f"a{i}=1" for i in range(fields)))
    text = answer.content.decode()
    assert answer.status_code == 400
    assert NUL_PAGE not in text and NUL_MESSAGE not in text


def test_a_nul_is_still_refused_with_its_own_page(client: Client, alice):
    client.force_login(alice)
    answer = client.get("/incidents/?q=%00")
    assert answer.status_code == 400 and NUL_PAGE in answer.content.decode()


@pytest.mark.parametrize("who", [None, "bob"])
def test_a_nul_answers_the_same_for_another_states_report_and_a_missing_one(
        request, db, alice, who):
    # The check runs before the URL is resolved: a State cannot tell another State's
    # restricted report from a missing one by adding a NUL.
    report = file_report(alice, title="Restricted to Cuba", tlp="amber")
    user = request.getfixturevalue(who) if who else None
    web = Client()
    if user is not None:
        web.force_login(user)
    api = api_client(user)
    for client, prefix in ((web, "/incidents/"), (api, "/api/v1/incidents/")):
        present = client.get(f"{prefix}{report.pk}/?x=%00")
        missing = client.get(f"{prefix}{report.pk + 9999}/?x=%00")
        assert present.status_code == missing.status_code == 400
        assert b"Restricted to Cuba" not in present.content
        if client is api:
            assert present.json() == missing.json()


def test_a_nul_in_a_post_body_is_left_to_the_form_but_one_in_its_query_is_refused(alice):
    client = api_client(alice)
    answer = client.post("/api/v1/incidents/?x=%00", {}, format="json")
    assert answer.status_code == 400 and answer.json()["fields"] == {
        "x": ["The NUL character (U+0000) is not allowed here."]}
    answer = client.post("/api/v1/incidents/", {"title": "a\x00b"}, format="json")
    assert answer.status_code == 400 and "x" not in answer.json().get("fields", {})


def test_a_name_with_a_line_break_stays_in_the_body(alice):
    answer = api_client(alice).get("/api/v1/incidents/?a%0d%0aSet-Cookie:%20x=1=%00")
    assert answer.status_code == 400
    assert "Set-Cookie" not in answer.headers and "x" not in answer.cookies
    answer = api_client(alice).get("/taxii2/?a%0d%0aSet-Cookie:%20x=1=%00")
    assert answer.status_code == 400 and "Set-Cookie" not in answer.headers


def test_an_undecodable_escape_beside_a_nul_is_named_replaced(alice):
    answer = api_client(alice).get("/api/v1/incidents/?%ff%00=1")
    assert answer.status_code == 400
    assert list(answer.json()["fields"]) == ["\ufffd\\0"]
    assert api_client(alice).get("/api/v1/incidents/?q=%ff").status_code == 200


def test_a_password_only_session_is_not_shown_the_signed_in_page(client: Client, alice,
                                                                 settings):
    # Every other page sends a password-only session to the second factor (process_view); the
    # NUL check answers before that, and its page showed the signed-in menu and the name.
    settings.REQUIRE_2FA = True
    client.force_login(alice)
    assert client.get("/incidents/")["Location"].startswith("/account/two-factor/")
    answer = client.get("/incidents/?q=%00")
    text = answer.content.decode()
    assert answer.status_code == 400 and NUL_PAGE in text
    assert "alice" not in text and "/account/tokens/" not in text
    assert "/incidents/new/" not in text


def test_a_verified_session_still_sees_who_is_signed_in(client: Client, alice, settings):
    settings.REQUIRE_2FA = False
    client.force_login(alice)
    text = client.get("/incidents/?q=%00").content.decode()
    assert "alice" in text


@pytest.mark.parametrize("path", ["/incidents/?q=%00", "/api/v1/incidents/?q=%00",
                                  "/taxii2/?q=%00"])
def test_the_refusal_keeps_the_framing_protections_of_every_answer(client: Client, alice, path):
    client.force_login(alice)
    answer = client.get(path)
    assert answer.status_code == 400
    assert answer["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in answer["Content-Security-Policy"]


@pytest.mark.parametrize("query", ["q=a\x00b", "q\x00=1", "a=1&a=\x00", "q=%ff\x00"])
def test_a_raw_nul_byte_in_the_query_string_is_refused_as_its_escape_is(alice, query):
    # A server may hand the query string over undecoded: the byte itself, not %00.
    answer = api_client(alice).get("/api/v1/incidents/", QUERY_STRING=query)
    assert answer.status_code == 400 and answer.json()["code"] == "invalid"


def test_an_overlong_query_with_a_nul_at_its_end_is_refused_by_name(alice):
    query = "&".join(f"p{i}={'x' * 1000}" for i in range(900)) + "&last=%00"
    answer = api_client(alice).get("/api/v1/incidents/?" + query)
    assert answer.status_code == 400 and list(answer.json()["fields"]) == ["last"]
