"""Check an API answer against what /api/schema/ says of it: the schema is the contract clients
are generated from (issue 19), so tests of several apps hold answers to it."""

from __future__ import annotations

from openapi_schema_validator import OAS30ReadValidator
from rest_framework.test import APIClient


def schema_document() -> dict:
    """The schema as a client downloads it (anonymously, as JSON)."""
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def response_schema(document: dict, path: str, method: str, status: int) -> dict:
    """The documented JSON body of one status of one operation; a KeyError names what is not
    documented."""
    responses = document["paths"][path][method.lower()]["responses"]
    return responses[str(status)]["content"]["application/json"]["schema"]


def assert_matches_schema(document: dict, path: str, response) -> None:
    """The answer's status is documented for its operation, and its body fits that schema."""
    method = response.wsgi_request.method
    schema = response_schema(document, path, method, response.status_code)
    # The $refs point into components: give the validator the document's as its root.
    validator = OAS30ReadValidator({**schema, "components": document["components"]})
    errors = sorted(validator.iter_errors(response.json()), key=str)
    assert not errors, f"{method} {path} {response.status_code}: {errors[0]}"
