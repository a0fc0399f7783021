"""The OpenAPI links of /api/schema/ (core/api/links.py) are true: each names an operation that
exists, fills exactly its path parameters, and points at a value the source's answer documents;
followed on real data, they lead to the report just filed, its evidence and its thread. Generated
clients and Schemathesis's stateful phase chain calls with them (issue 19)."""

from __future__ import annotations

import re

from django.core.files.uploadedfile import SimpleUploadedFile

from sentinelle.core.api.links import LINKS
from tests.conftest import api_client, report_payload
from tests.openapi_helpers import schema_document

BODY = re.compile(r"^\$response\.body#(?P<pointer>/.*)$")
PATH = re.compile(r"^\$request\.path\.(?P<name>\w+)$")


def _operations(document: dict) -> dict[str, tuple[str, str, dict]]:
    return {operation["operationId"]: (path, method, operation)
            for path, item in document["paths"].items()
            for method, operation in item.items()}


def _resolve(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        target = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = target
    return schema


def _documented(document: dict, schema: dict, pointer: str) -> dict:
    """The schema of the value at `pointer` in a body of `schema`; KeyError if undocumented."""
    for part in pointer.strip("/").split("/"):
        schema = _resolve(document, schema)
        if schema.get("type") == "array":
            assert part.isdigit(), pointer
            schema = schema["items"]
        else:
            schema = schema["properties"][part]
    return _resolve(document, schema)


def _path_parameters(operation: dict) -> set[str]:
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}


def test_every_link_names_a_real_operation_and_a_documented_value(db):
    document = schema_document()
    operations = _operations(document)
    # Every source of the table is in the schema: a renamed operation would drop its links
    # silently otherwise.
    assert {source for source, _status in LINKS} <= set(operations)
    seen = 0
    for source_id, (source_path, _method, source) in operations.items():
        for status, response in source["responses"].items():
            for name, link in response.get("links", {}).items():
                seen += 1
                where = f"{source_id} {status} {name}"
                _path, _m, target = operations[link["operationId"]]
                assert set(link["parameters"]) == _path_parameters(target), where
                for expression in link["parameters"].values():
                    if match := PATH.match(expression):
                        assert "{" + match["name"] + "}" in source_path, where
                        continue
                    match = BODY.match(expression)
                    assert match, where
                    body = response["content"]["application/json"]["schema"]
                    value = _documented(document, body, match["pointer"])
                    assert value.get("type") == "integer", where
    assert seen >= 20


def _follow(document: dict, operation_id: str, status: str, body, path_values: dict) -> dict:
    """Each link of one answer, evaluated as a client would: link name -> (method, URL)."""
    operations = _operations(document)
    links = operations[operation_id][2]["responses"][status]["links"]
    followed = {}
    for name, link in links.items():
        path, method, _operation = operations[link["operationId"]]
        for parameter, expression in link["parameters"].items():
            if match := BODY.match(expression):
                value = body
                for part in match["pointer"].strip("/").split("/"):
                    value = value[int(part)] if isinstance(value, list) else value[part]
            else:
                value = path_values[PATH.match(expression)["name"]]
            path = path.replace("{" + parameter + "}", str(value))
        followed[name] = (method, path)
    return followed


def test_links_lead_from_a_new_report_to_its_reads_and_files(alice, charlie):
    document = schema_document()
    owner, analyst = api_client(alice), api_client(charlie)
    created = owner.post("/api/v1/incidents/", report_payload(), format="json")
    assert created.status_code == 201, created.content
    followed = _follow(document, "v1_incidents_create", "201", created.json(), {})
    reads = {name: path for name, (method, path) in followed.items() if method == "get"}
    assert set(reads) == {"GetIncident", "ListVersions", "ListTransitions", "ListMessages",
                          "ListEvidence"}
    for name, path in reads.items():
        answer = owner.get(path)
        assert answer.status_code == 200, (name, path, answer.content)
    assert owner.get(reads["GetIncident"]).json()["title"] == report_payload()["title"]

    method, path = followed["AttachEvidence"]
    attached = owner.post(path, {"file": SimpleUploadedFile("log.txt", b"a log")},
                          format="multipart")
    assert (method, attached.status_code) == ("post", 201), attached.content
    _m, download = _follow(document, "v1_incidents_evidence_create", "201", attached.json(),
                           {})["DownloadEvidence"]
    assert b"".join(owner.get(download).streaming_content) == b"a log"

    method, path = followed["ChangeStatus"]
    moved = analyst.post(path, {"to": "acknowledged"}, format="json")
    assert moved.status_code == 201, moved.content
    incident_id = created.json()["id"]
    _m, again = _follow(document, "v1_incidents_transitions_create", "201", moved.json(),
                        {"id": incident_id})["GetIncident"]
    assert analyst.get(again).json()["status"] == "acknowledged"

    # A list links to its first row, the newest report here.
    _m, first = _follow(document, "v1_incidents_list", "200", owner.get("/api/v1/incidents/")
                        .json(), {})["GetIncident"]
    assert owner.get(first).json()["id"] == incident_id
