"""OpenAPI links in /api/schema/: which answer gives the id another operation takes (issue 19).

A client generated from the schema, or a tester such as Schemathesis in its stateful phase,
follows them to chain calls on real data: file a report, read it, amend it, attach evidence,
read its thread and versions, move it through the workflow, download the evidence. drf-spectacular
cannot declare links on a view, so this postprocessing hook adds them from one table, by
operationId; `tests/core/test_api_links.py` checks that every link names operations and
parameters that exist and that the value it points at is in the source's answer.
"""

from __future__ import annotations

from typing import NamedTuple


class Link(NamedTuple):
    name: str
    target: str                     # the operationId the link leads to
    parameters: dict[str, str]      # the target's path parameter -> a runtime expression
    description: str


def _report_links(id_from: str) -> list[Link]:
    """Everything that takes a report's id: what a caller can do next with a report."""
    ids = {"id": id_from}
    return [
        Link("GetIncident", "v1_incidents_retrieve", ids, "Read the report."),
        Link("AmendIncident", "v1_incidents_partial_update", ids,
             "Amend the report (adds a version)."),
        Link("ListVersions", "v1_incidents_versions_list", ids, "The report's versions."),
        Link("ListTransitions", "v1_incidents_transitions_list", ids,
             "The report's workflow history."),
        Link("ChangeStatus", "v1_incidents_transitions_create", ids,
             "Move the report through the workflow."),
        Link("ListMessages", "v1_incidents_messages_list", ids,
             "The thread between the Secretariat and the reporting State."),
        Link("PostMessage", "v1_incidents_messages_create", ids, "Write in the thread."),
        Link("ListEvidence", "v1_incidents_evidence_list", ids, "The report's evidence."),
        Link("AttachEvidence", "v1_incidents_evidence_create", ids, "Attach a file."),
    ]


def _one(name: str, target: str, id_from: str, description: str) -> list[Link]:
    return [Link(name, target, {"id": id_from}, description)]


# (source operationId, status) -> the links its answer offers. A list answer links to its
# first item: enough for a client to see the relation, and for a tester to reach real rows.
LINKS: dict[tuple[str, str], list[Link]] = {
    ("v1_incidents_create", "201"): _report_links("$response.body#/id"),
    ("v1_incidents_list", "200"): _report_links("$response.body#/results/0/id"),
    ("v1_incidents_retrieve", "200"): _report_links("$response.body#/id"),
    ("v1_incidents_partial_update", "200"): _report_links("$response.body#/id"),
    # A status change answers the transitions, which carry no report id: the path has it.
    ("v1_incidents_transitions_create", "201"): _report_links("$request.path.id"),
    ("v1_incidents_messages_create", "201"): _report_links("$request.path.id"),
    ("v1_incidents_evidence_create", "201"): _one(
        "DownloadEvidence", "v1_evidence_download_retrieve", "$response.body#/id",
        "Download the file just attached."),
    ("v1_incidents_evidence_list", "200"): _one(
        "DownloadEvidence", "v1_evidence_download_retrieve", "$response.body#/0/id",
        "Download the first file."),
    ("v1_summary_returns_create", "201"): _one(
        "GetSummaryReturn", "v1_summary_returns_retrieve", "$response.body#/id",
        "Read the return just sent."),
    ("v1_summary_returns_list", "200"): _one(
        "GetSummaryReturn", "v1_summary_returns_retrieve", "$response.body#/results/0/id",
        "Read the first return."),
    ("v1_imports_create", "202"): _one(
        "GetJob", "v1_jobs_retrieve", "$response.body#/id", "Follow the import's job."),
    ("v1_observatory_submissions_create", "202"): _one(
        "GetJob", "v1_jobs_retrieve", "$response.body#/id", "Follow the bundle's job."),
    ("v1_jobs_list", "200"): _one(
        "GetJob", "v1_jobs_retrieve", "$response.body#/0/id", "The first job's status."),
    ("v1_observatory_submissions_list", "200"): _one(
        "GetSubmission", "v1_observatory_submissions_retrieve", "$response.body#/results/0/id",
        "Read the first submission."),
    ("v1_observatory_campaigns_list", "200"): _one(
        "GetCampaign", "v1_observatory_campaigns_retrieve", "$response.body#/results/0/id",
        "Read the first campaign."),
    ("v1_observatory_routing_alerts_list", "200"): _one(
        "GetRoutingAlert", "v1_observatory_routing_alerts_retrieve",
        "$response.body#/results/0/id", "Read the first alert."),
}


def operation_links(result: dict, generator, request, public) -> dict:
    """POSTPROCESSING_HOOKS entry: add LINKS to the responses of the operations present. An
    operation missing from this schema (a narrower urlconf) is skipped, and so is a link whose
    target is missing: a link must never name an operation the schema lacks."""
    operations = {operation.get("operationId"): operation
                  for item in result.get("paths", {}).values()
                  for operation in item.values() if isinstance(operation, dict)}
    for (source, status), links in LINKS.items():
        response = operations.get(source, {}).get("responses", {}).get(status)
        if response is None:
            continue
        found = {link.name: {"operationId": link.target, "parameters": dict(link.parameters),
                             "description": link.description}
                 for link in links if link.target in operations}
        if found:
            response["links"] = {**response.get("links", {}), **found}
    return result
