"""Hostile request bodies (issue 20, part 3): every one is a 4xx naming what is wrong, never a
500. The API through the test client, and the web forms that take the same data."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from sentinelle.incidents.models import Incident, SummaryReturn
from tests.conftest import api_client, report_payload

URL = "/api/v1/incidents/"


def post_raw(user, body: str | bytes):
    return api_client(user).generic("POST", URL, body, content_type="application/json")


def deep(depth: int) -> str:
    return json.dumps(report_payload())[:-1] + ', "extra": ' + "[" * depth + "]" * depth + "}"


def with_value(field: str, literal: str) -> str:
    """The payload as JSON text with ``field`` set to a raw JSON literal (what json.dumps of a
    Python value cannot write: a lone surrogate escape, 1e400)."""
    payload = report_payload(**{field: "@@"})
    return json.dumps(payload).replace('"@@"', literal)


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deeply_nested_json_is_a_400_saying_so(alice, depth):
    response = post_raw(alice, deep(depth))
    assert response.status_code == 400, response.content
    assert "nest" in response.json()["detail"].lower()
    assert not Incident.objects.exists()


def test_moderately_nested_json_is_still_read(alice):
    # Depth the contract uses (the indicators' objects in a list) stays well within the limit.
    response = post_raw(alice, deep(20))
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("field", ["title", "description", "narrative_language"])
def test_a_lone_surrogate_is_a_400(alice, field):
    response = post_raw(alice, with_value(field, r'"a\ud800b"'))
    assert response.status_code == 400, response.content
    assert not Incident.objects.exists()


def test_a_lone_surrogate_in_a_key_or_an_indicator_is_a_400(alice):
    body = json.dumps(report_payload()).replace('"title"', r'"ti\udfff", "title"', 1)
    assert post_raw(alice, body).status_code == 400
    body = with_value("indicators", r'[{"type": "domain", "value": "a\udc00.example"}]')
    assert post_raw(alice, body).status_code == 400


def test_a_surrogate_pair_is_ordinary_text(alice):
    response = post_raw(alice, with_value("title", r'"Outage \ud83d\ude00"'))
    assert response.status_code == 201, response.content
    assert Incident.objects.get().title == "Outage \N{GRINNING FACE}"


@pytest.mark.parametrize("literal", [str(2**64), str(2**63), "-1", "1e400", "-1e400",
                                     "NaN", "Infinity", "9" * 5000, "1.5"])
def test_users_affected_out_of_the_columns_range_is_a_400_naming_it(alice, literal):
    response = post_raw(alice, with_value("users_affected", literal))
    assert response.status_code == 400, response.content
    assert "users_affected" in response.json()["fields"], response.content
    assert not Incident.objects.exists()


def test_users_affected_at_the_columns_top_is_kept(alice):
    from sentinelle.core.limits import integer_range
    top = integer_range(Incident._meta.get_field("users_affected"))[1]
    response = post_raw(alice, with_value("users_affected", str(top)))
    assert response.status_code == 201, response.content
    assert Incident.objects.get().users_affected == top


@pytest.mark.parametrize("url", ["http://[x/", "http://[::1", "https://[1.2.3.4]/",
                                 "http://host:99999999999999999999/", "http://a\x00b/"])
def test_a_broken_url_indicator_is_a_400_naming_the_indicator(alice, url):
    body = json.dumps(report_payload(indicators=[{"type": "url", "value": url}]))
    response = post_raw(alice, body)
    assert response.status_code == 400, response.content
    assert "indicators" in response.json()["fields"], response.content


@pytest.mark.parametrize("analysts", [["x" * 100] * 5_000, [{"a": 1}], [None], [2**70],
                                      ["a\x00b"]])
def test_hostile_named_analysts_are_a_400(alice, analysts):
    body = json.dumps(report_payload(named_analysts=analysts))
    response = post_raw(alice, body)
    assert response.status_code == 400, response.content
    assert "named_analysts" in response.json()["fields"], response.content


def test_a_body_that_is_not_json_or_not_utf8_is_a_400(alice):
    assert post_raw(alice, b"\xff\xfe{}").status_code == 400
    assert post_raw(alice, b'{"title": "\xed\xa0\x80"}').status_code == 400
    assert post_raw(alice, b"[]").status_code == 400
    assert post_raw(alice, b"\"text\"").status_code == 400


@pytest.mark.parametrize("value", ["a\x00b"])
def test_a_nul_character_in_text_is_a_400(alice, value):
    response = post_raw(alice, json.dumps(report_payload(title=value, description=value)))
    assert response.status_code == 400, response.content


def test_a_summary_return_with_huge_counts_is_a_400(alice):
    body = {"year": 2026, "lines": [{"category": "trust-security", "rsit_class": "availability",
                                     "incidents": 2**64, "user_hours": 1e308}]}
    response = api_client(alice).post("/api/v1/summary-returns/", body, format="json")
    assert response.status_code == 400, response.content
    assert not SummaryReturn.objects.exists()


# ---------------------------------------------------------------------------------------------
# The web forms that take the same data


def web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form_data(**overrides) -> dict:
    data = {"title": "DDoS against the national portal", "category": "trust-security",
            "rsit": "availability:ddos", "tlp": "amber", "severity": "medium",
            "started_at": "2026-03-01T08:00", "description": "Volumetric attack.",
            "narrative_language": "en"}
    data.update(overrides)
    return data


@pytest.mark.parametrize("value", [str(2**64), str(2**63), "1e400", "9" * 5000])
def test_report_form_users_affected_out_of_range_is_a_form_error(alice, value):
    response = web(alice).post("/incidents/new/", form_data(users_affected=value))
    assert response.status_code == 200
    assert "users_affected" in response.context["form"].errors
    assert not Incident.objects.exists()


@pytest.mark.parametrize("line", ["url http://[x/", "url http://[::1", "asn AS" + "9" * 5000])
def test_report_form_broken_indicator_is_a_form_error(alice, line):
    response = web(alice).post("/incidents/new/", form_data(indicators=line))
    assert response.status_code == 200
    assert "indicators" in response.context["form"].errors


def test_report_form_with_many_named_analysts_is_a_form_error(alice):
    response = web(alice).post("/incidents/new/",
                               form_data(named_analysts=[str(n) for n in range(990)]))
    assert response.status_code == 200
    assert "named_analysts" in response.context["form"].errors


def test_report_form_with_a_lone_surrogate_is_no_500(alice):
    body = "&".join(f"{k}={v}" for k, v in form_data().items()) + "&title=%ED%A0%80"
    response = web(alice).generic("POST", "/incidents/new/", body,
                                  content_type="application/x-www-form-urlencoded")
    assert response.status_code in (200, 302)


def upload(user, content: bytes, year="2026"):
    return web(user).post("/returns/upload/", {
        "year": year, "file": SimpleUploadedFile("r.csv", content, "text/csv")})


@pytest.mark.parametrize("ending", [b"\r", b"\r\n", b"\n"])
def test_summary_csv_with_any_line_end_is_read(alice, ending):
    rows = [b"category,rsit_class,incidents,user_hours",
            b"trust-security,availability,3,12.5"]
    response = upload(alice, ending.join(rows) + ending)
    assert response.status_code == 302, response.context["form"].errors
    assert SummaryReturn.objects.get().lines.get().incidents == 3


@pytest.mark.parametrize("content", [
    b"category,rsit_class,incidents,user_hours\rtrust-security,availability,3\r\x00,1",
    b'category,rsit_class,incidents,user_hours\ntrust-security,"avail\rability,3,1',
    b"category,rsit_class,incidents,user_hours\ntrust-security,availability,"
    + str(2**64).encode() + b",1",
    b"category,rsit_class,incidents,user_hours\ntrust-security,availability,3,1e400",
    b"category,rsit_class,incidents,user_hours\ntrust-security,availability,"
    + b"9" * 5000 + b",1",
    b"\xef\xbb\xbf" + b"category,rsit_class,incidents,user_hours\n" + b"a," * 200_000,
])
def test_summary_csv_hostile_is_a_form_error(alice, content):
    response = upload(alice, content)
    assert response.status_code == 200
    assert "file" in response.context["form"].errors
    assert not SummaryReturn.objects.exists()


@pytest.mark.parametrize("value", [str(2**64), "1e400"])
def test_summary_form_huge_counts_are_a_form_error(alice, value):
    data = {"year": "2026", "notes": "", "lines-TOTAL_FORMS": "1", "lines-INITIAL_FORMS": "0",
            "lines-0-category": "trust-security", "lines-0-rsit_class": "availability",
            "lines-0-incidents": value, "lines-0-user_hours": value}
    response = web(alice).post("/returns/new/", data)
    assert response.status_code == 200
    assert not SummaryReturn.objects.exists()


def test_the_year_of_an_upload_out_of_range_is_a_form_error(alice):
    rows = b"category,rsit_class,incidents,user_hours\ntrust-security,availability,3,1\n"
    assert upload(alice, rows, year=str(2**64)).status_code == 200
    assert not SummaryReturn.objects.exists()


def test_outsider_state_sees_nothing_of_a_refused_body(alice, bob, charlie):
    # The three users of every data test: a refused body leaves nothing anyone could read.
    post_raw(alice, deep(5_000))
    for user in (alice, bob, charlie):
        assert api_client(user).get(URL).json()["count"] == 0


def test_a_csv_of_many_lines_looks_each_code_up_once(alice, django_assert_max_num_queries):
    # Fuzzing found a 1 MB return (~30,000 lines) keeping a request busy for half a minute:
    # two lookups a line. The same codes are now looked up once per file.
    rows = [b"category,rsit_class,incidents,user_hours"]
    rows += [b"trust-security,availability,1,1", b"nope,availability,1,1"] * 2_000
    with django_assert_max_num_queries(40):
        response = upload(alice, b"\n".join(rows))
    assert response.status_code == 200
    errors = response.context["form"].errors["file"]
    assert any("Line 3:" in error and "nope" in error for error in errors)
    assert not SummaryReturn.objects.exists()


@pytest.mark.parametrize("field", ["category", "alleged_origin_state", "tlp", "named_analysts"])
def test_report_form_nul_in_a_choice_is_a_form_error(alice, charlie, field):
    # PostgreSQL refuses a NUL in a query parameter (a DataError): the form must stop it first.
    response = web(alice).post("/incidents/new/", form_data(**{field: "ch\x00"}))
    assert response.status_code == 200
    assert field in response.context["form"].errors


def test_summary_form_nul_in_a_code_is_a_form_error(alice):
    data = {"year": "2026", "notes": "", "lines-TOTAL_FORMS": "1", "lines-INITIAL_FORMS": "0",
            "lines-0-category": "trust-security\x00", "lines-0-rsit_class": "availa\x00bility",
            "lines-0-incidents": "1", "lines-0-user_hours": "1"}
    response = web(alice).post("/returns/new/", data)
    assert response.status_code == 200
    assert not SummaryReturn.objects.exists()


@pytest.mark.parametrize("field", ["category", "rsit", "alleged_origin_state"])
def test_api_nul_in_a_code_is_a_400_naming_it(alice, field):
    response = post_raw(alice, json.dumps(report_payload(**{field: "CH\x00"})))
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]


def test_a_body_over_the_upload_limit_is_refused(alice, settings):
    # Django refuses it (RequestDataTooBig, a 400) when something has read the body first;
    # the parser's own check answers 413 when it reads the stream itself.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = json.dumps(report_payload(description="x" * 20_000))
    response = post_raw(alice, body)
    assert response.status_code in (400, 413), response.content
    assert not Incident.objects.exists()


@pytest.mark.parametrize("literal", ["1e400", "NaN", "-Infinity"])
def test_summary_return_api_non_finite_hours_is_a_400_naming_lines(alice, literal):
    body = ('{"year": 2026, "lines": [{"category": "trust-security", "rsit_class": '
            f'"availability", "incidents": 1, "user_hours": {literal}}}]}}')
    response = api_client(alice).generic("POST", "/api/v1/summary-returns/", body,
                                         content_type="application/json")
    assert response.status_code == 400, response.content
    assert "lines[0].user_hours" in response.json()["fields"]["lines"][0]
    assert not SummaryReturn.objects.exists()


def test_a_huge_named_analysts_list_is_refused_before_any_lookup(alice, charlie,
                                                                  django_assert_max_num_queries):
    body = json.dumps(report_payload(named_analysts=[charlie.username] * 50_000))
    with django_assert_max_num_queries(10):
        response = post_raw(alice, body)
    assert response.status_code == 400, response.content
    assert "200" in response.json()["fields"]["named_analysts"][0]
    # The same analyst named once is accepted.
    response = post_raw(alice, json.dumps(report_payload(named_analysts=[charlie.username])))
    assert response.status_code == 201, response.content
