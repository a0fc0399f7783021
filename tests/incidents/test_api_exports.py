"""GET /api/v1/exports/?format=… as the README writes it (issue 12 §14: DRF took `format` as its
renderer switch and answered 404 for every export format)."""

from __future__ import annotations

import json

import pytest

from sentinelle.incidents.models import TLP
from tests.conftest import api_client, file_report


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_the_documented_stix_export_works_and_is_scoped(alice, bob):
    mine = file_report(alice, tlp=TLP.AMBER, title="Cuban AMBER report")
    file_report(bob, tlp=TLP.RED, title="Swiss RED report")
    response = api_client(alice).get("/api/v1/exports/?format=stix&since=2026-01-01")
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Disposition"].startswith("attachment")
    bundle = json.loads(_body(response))
    names = {o.get("name") for o in bundle["objects"]}
    assert mine.title in names and "Swiss RED report" not in names


@pytest.mark.parametrize("fmt", ["csv", "misp", "stix"])
def test_every_format_answers(alice, fmt):
    file_report(alice)
    assert api_client(alice).get("/api/v1/exports/", {"format": fmt}).status_code == 200


def test_an_unknown_format_is_a_400_naming_the_field(alice):
    response = api_client(alice).get("/api/v1/exports/", {"format": "nope"})
    assert response.status_code == 400 and "format" in response.json()["fields"]
