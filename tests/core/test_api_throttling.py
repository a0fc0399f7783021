"""Request rates (issue 19, core/api/throttling.py): over its rate a caller gets 429 with
`Retry-After` and the API's error body; anonymous callers, users and uploads are counted apart.
The suite runs with raised rates (tests/conftest.py); each test here sets its own."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from drf_spectacular.generators import SchemaGenerator

from tests.conftest import api_client, file_report

URL = "/api/v1/incidents/"


@pytest.fixture
def rates(settings):
    cache.clear()   # the counts of earlier tests (the same user ids, the same address)
    settings.API_RATES = {"anon": "2/min", "user": "3/min", "upload": "1/min"}
    yield settings.API_RATES
    cache.clear()


def test_an_anonymous_caller_over_the_rate_gets_429_with_retry_after(db, rates):
    client = api_client(None)
    assert [client.get(URL).status_code for _ in range(2)] == [200, 200]
    response = client.get(URL)
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    body = response.json()
    assert body["code"] == "throttled" and "throttled" in body["detail"]


def test_a_user_has_its_own_count_shared_by_its_tokens(alice, bob, rates):
    first, second = api_client(alice), api_client(alice)   # two tokens of one user
    assert [first.get(URL).status_code, second.get(URL).status_code,
            first.get(URL).status_code] == [200, 200, 200]
    assert second.get(URL).status_code == 429
    # Another user, and the anonymous rate, are counted apart.
    assert api_client(bob).get(URL).status_code == 200
    assert api_client(None).get(URL).status_code == 200


def test_uploads_are_limited_more_strictly_than_reads(alice, rates):
    incident = file_report(alice)
    client = api_client(alice)
    url = f"{URL}{incident.pk}/evidence/"

    def upload():
        return client.post(url, {"file": SimpleUploadedFile("a.txt", b"a")},
                           format="multipart")

    assert upload().status_code == 201
    refused = upload()
    assert refused.status_code == 429 and refused.json()["code"] == "throttled"
    assert incident.evidence.count() == 1
    # Reads of the same user still pass (its user rate is not spent).
    assert client.get(url).status_code == 200


def test_off_lifts_a_scope_s_limit(db, settings):
    cache.clear()
    settings.API_RATES = {"anon": None, "user": "1/min", "upload": "1/min"}
    client = api_client(None)
    assert {client.get(URL).status_code for _ in range(5)} == {200}


def test_every_operation_documents_429_with_retry_after_and_406(db):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = [(path, method, operation) for path, item in schema["paths"].items()
                  for method, operation in item.items() if path.startswith("/api/v1/")]
    assert len(operations) > 30
    for path, method, operation in operations:
        responses = operation["responses"]
        assert "Retry-After" in responses["429"]["headers"], (path, method)
        assert responses["429"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"}, (path, method)
        assert "406" in responses, (path, method)


@pytest.mark.parametrize("value", ["lots", "60/fortnight", "-1/min", "60"])
def test_a_rate_that_is_no_rate_is_refused_at_start(monkeypatch, value):
    from sentinelle import settings as project_settings
    from sentinelle.env import SettingError

    monkeypatch.setenv("SENTINELLE_API_RATE_USER", value)
    with pytest.raises(SettingError, match="SENTINELLE_API_RATE_USER"):
        project_settings._rate("SENTINELLE_API_RATE_USER", "1200/min")
