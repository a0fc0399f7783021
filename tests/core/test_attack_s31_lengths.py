"""Attack on "max_length counts what was sent" (core/api/fields.py StrictCharField,
core/forms.py SentLengthCharField), session 31: every whitespace str.strip() removes, as padding
past the bound, is refused as the schema says; what the schema allows, with surrounding spaces,
is still taken, by the API and by the web pages alike."""

from __future__ import annotations

import sys

import pytest
from django.test import Client

from sentinelle.core.api.fields import StrictCharField
from sentinelle.core.forms import SentLengthCharField
from sentinelle.incidents.indicators import MAX_VALUE_LENGTH
from sentinelle.observatory.forms import SERVICE_MAX_LENGTH
from tests.conftest import api_client, file_report

WHITESPACE = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]


def test_every_whitespace_padding_past_the_bound_is_refused_by_both_fields():
    from django.core.exceptions import ValidationError as FormError
    from rest_framework.exceptions import ValidationError as ApiError

    api = StrictCharField(max_length=10)
    form = SentLengthCharField(max_length=10, required=False)
    for char in WHITESPACE:
        for padded in ("a" * 10 + char, char + "a" * 10, char * 11):
            with pytest.raises(ApiError):
                api.run_validation(padded)
            with pytest.raises(FormError):
                form.clean(padded)
        # At the bound, padding included, both take it and trim it.
        assert api.run_validation(char + "a" * 8 + char) == "a" * 8
        assert form.clean(char + "a" * 8 + char) == "a" * 8
    assert len(WHITESPACE) == 29


@pytest.mark.parametrize("char", WHITESPACE)
def test_the_incident_search_refuses_padding_past_its_max_length(alice, char):
    answer = api_client(alice).get("/api/v1/incidents/", {"q": "a" * MAX_VALUE_LENGTH + char})
    assert answer.status_code == 400 and "q" in answer.json()["fields"]


@pytest.mark.parametrize("char", [" ", "\u3000", "\u0085"])
def test_the_access_index_refuses_a_padded_service(alice, char):
    answer = api_client(alice).get("/api/v1/observatory/access-index/",
                                   {"service": "a" * SERVICE_MAX_LENGTH + char})
    assert answer.status_code == 400 and "service" in answer.json()["fields"]
    answer = api_client(alice).get("/api/v1/observatory/access-index/",
                                   {"service": char + "a" * (SERVICE_MAX_LENGTH - 2) + char})
    assert answer.status_code == 200


def test_searches_with_surrounding_spaces_still_find_on_the_api_and_the_page(
        client: Client, alice):
    file_report(alice, title="Findable report")
    answer = api_client(alice).get("/api/v1/incidents/", {"q": "  Findable\u3000"})
    assert answer.status_code == 200 and answer.json()["count"] == 1
    client.force_login(alice)
    page = client.get("/incidents/", {"q": "  Findable\t"})
    assert page.status_code == 200 and "Findable report" in page.content.decode()


def test_the_access_index_page_takes_a_service_with_surrounding_spaces(client: Client, alice):
    client.force_login(alice)
    page = client.get("/observatory/index/", {"service": "  example.org  "})
    assert page.status_code == 200
    assert page.context["form"].is_valid() and \
        page.context["form"].cleaned_data["service"] == "example.org"
