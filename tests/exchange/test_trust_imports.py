"""Issue 11, findings 8 and 12: import ids answer nothing about another State's reports, and
imports are capped in size and leave no input file behind."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from sentinelle.core import jobs
from sentinelle.core.models import AuditEntry, Job
from sentinelle.exchange import federation
from sentinelle.exchange.formats import stix_common as sc
from sentinelle.exchange.identity import stable_id
from sentinelle.exchange.importer import import_records
from sentinelle.exchange.models import SharedIndicator
from sentinelle.exchange.reading import open_records
from sentinelle.incidents.models import Incident
from tests.conftest import api_client, file_report

IODEF = """<?xml version="1.0" encoding="UTF-8"?>
<IODEF-Document version="2.00" xml:lang="en" xmlns="urn:ietf:params:xml:ns:iodef-2.0">
  <Incident purpose="reporting" restriction="{restriction}">
    <IncidentID name="csirt.example.fr">{number}</IncidentID>
    <ReportTime>2026-02-11T10:00:00Z</ReportTime>
    <StartTime>2026-02-11T09:00:00Z</StartTime>
    <Description>{text}</Description>
    <Assessment><SystemImpact severity="medium" type="traffic-redirection"/></Assessment>
    <EventData><Flow><System category="source"><Node>
      <Address category="ipv4-addr">192.0.2.77</Address>
    </Node></System></Flow></EventData>
  </Incident>
</IODEF-Document>
"""


def iodef(number: str, text: str = "Cable tap", restriction: str = "red") -> bytes:
    return IODEF.format(number=number, text=text, restriction=restriction).encode()


def stix_bundle(incident_id: str, name: str = "Imported", tlp: str = "green",
                indicator_id: str | None = None) -> bytes:
    objects = [{"type": "incident", "spec_version": "2.1", "id": incident_id, "name": name,
                "description": name, "created": "2026-04-01T00:00:00.000Z",
                "modified": "2026-04-01T00:00:00.000Z",
                "object_marking_refs": [sc.TLP2_IDS[tlp]]}]
    if indicator_id:
        objects.append({"type": "indicator", "spec_version": "2.1", "id": indicator_id,
                        "created": "2026-04-01T00:00:00.000Z",
                        "modified": "2026-04-01T00:00:00.000Z", "pattern_type": "stix",
                        "pattern": "[ipv4-addr:value = '192.0.2.55']",
                        "valid_from": "2026-04-01T00:00:00Z",
                        "object_marking_refs": [sc.TLP2_IDS[tlp]]})
    return json.dumps({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-00000000000b",
                       "objects": objects}).encode()


def run(user, data: bytes, fmt: str = "auto", **kw):
    _fmt, records = open_records(io.BytesIO(data), fmt)
    return import_records(records, user=user, **kw)


def api_import(user, data: bytes, name: str, **fields) -> dict:
    response = api_client(user).post("/api/v1/imports/", {
        "file": SimpleUploadedFile(name, data), **fields}, format="multipart")
    assert response.status_code == 202, response.content
    return response.json()


def answer(job: dict) -> tuple:
    """What a user can read of an import: its status, message and result."""
    return job["status"], job["message"], job["result"]


# --- Finding 8: no answer depends on another State's data -------------------------------------

def test_a_dry_run_of_another_states_iodef_id_answers_as_for_an_unused_id(alice, bob):
    mine = api_import(alice, iodef("4711"), "a.xml")
    assert mine["status"] == "succeeded", mine
    assert Incident.objects.get().tlp == "red"
    taken = api_import(bob, iodef("4711"), "b.xml", dry_run="true")
    unused = api_import(bob, iodef("4712"), "b.xml", dry_run="true")
    assert answer(taken) == answer(unused)
    assert taken["status"] == "succeeded" and taken["result"]["reports_created"] == 1
    assert "another State" not in json.dumps(taken)


def test_a_state_cannot_squat_the_id_another_state_will_import(alice, bob):
    squat = api_import(bob, iodef("4711", text="Squatted"), "b.xml")
    assert squat["status"] == "succeeded", squat
    later = api_import(alice, iodef("4711"), "a.xml")
    assert later["status"] == "succeeded", later
    assert later["result"]["reports_created"] == 1
    cuban = Incident.objects.get(state=alice.state)
    swiss = Incident.objects.get(state=bob.state)
    assert (cuban.title, cuban.tlp) == ("Cable tap", "red")
    assert swiss.title == "Squatted" and swiss.stix_id != cuban.stix_id
    # Each State's re-import merges into its own report, never into the other's.
    again = api_import(alice, iodef("4711"), "a.xml")
    assert again["result"]["reports_merged"] == 1 and Incident.objects.count() == 2


def test_an_explicit_stix_id_of_another_states_report_gives_no_oracle(alice, bob):
    red = file_report(alice, tlp="red", title="Cuban red")
    taken = run(bob, stix_bundle(red.stix_id), dry_run=True)
    unused = run(bob, stix_bundle("incident--0b0b0b0b-0000-4000-8000-000000000001"),
                 dry_run=True)
    assert taken.as_dict() == unused.as_dict()
    assert taken.ok and taken.reports_created == 1
    written = run(bob, stix_bundle(red.stix_id, name="Swiss copy"))
    assert written.ok and written.reports_created == 1
    red.refresh_from_db()
    assert (red.title, red.state, red.version) == ("Cuban red", alice.state, 1)
    assert Incident.objects.get(title="Swiss copy").state == bob.state
    # Bob's re-import merges into Bob's report, whatever id it was given.
    assert run(bob, stix_bundle(red.stix_id, name="Swiss copy")).reports_merged == 1


def test_an_explicit_stix_id_squatted_first_does_not_refuse_the_owner(alice, bob):
    stix_id = "incident--0c0c0c0c-0000-4000-8000-000000000001"
    assert run(bob, stix_bundle(stix_id, name="Squatted")).ok
    later = run(alice, stix_bundle(stix_id, name="Cuban original", tlp="amber"))
    assert later.ok and later.reports_created == 1, later.rejected
    assert Incident.objects.get(title="Cuban original").state == alice.state


def test_indicator_ids_are_scoped_by_state(alice, bob):
    indicator_id = "indicator--0d0d0d0d-0000-4000-8000-000000000001"
    first = run(alice, stix_bundle("incident--0d0d0d0d-0000-4000-8000-000000000000",
                                   tlp="red", indicator_id=indicator_id))
    assert first.ok, first.rejected
    again = run(bob, stix_bundle("incident--0e0e0e0e-0000-4000-8000-000000000000",
                                 indicator_id=indicator_id), dry_run=True)
    fresh = run(bob, stix_bundle("incident--0e0e0e0e-0000-4000-8000-000000000000",
                                 indicator_id="indicator--0f0f0f0f-0000-4000-8000-000000000001"),
                dry_run=True)
    assert (again.indicators_created, again.indicators_merged) == (
        fresh.indicators_created, fresh.indicators_merged)
    written = run(bob, stix_bundle("incident--0e0e0e0e-0000-4000-8000-000000000000",
                                   indicator_id=indicator_id))
    assert written.ok and written.indicators_created == fresh.indicators_created
    assert SharedIndicator.objects.filter(state=bob.state).count() == fresh.indicators_created
    assert SharedIndicator.objects.filter(state=alice.state).count() == first.indicators_created


# --- Finding 12: a size cap, and no input left behind ----------------------------------------

def job_files(settings) -> list[Path]:
    folder = Path(settings.MEDIA_ROOT) / "jobs"
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_the_api_refuses_an_import_over_the_cap_with_413_and_stores_nothing(alice, settings):
    settings.IMPORT_MAX_BYTES = 4096
    response = api_client(alice).post("/api/v1/imports/", {
        "file": SimpleUploadedFile("big.xml", iodef("1", text="x" * 8000)),
        "dry_run": "true"}, format="multipart")
    assert response.status_code == 413, response.content
    assert "4096" in response.json()["detail"]
    assert not Job.objects.exists() and job_files(settings) == []
    # Just under the cap is fine.
    ok = api_import(alice, iodef("1", text="x" * 100), "small.xml", dry_run="true")
    assert ok["status"] == "succeeded"


def test_the_web_page_refuses_an_import_over_the_cap_with_413(alice, settings):
    settings.IMPORT_MAX_BYTES = 4096
    client = Client()
    client.force_login(alice)
    response = client.post("/exchange/", {"file": SimpleUploadedFile(
        "big.xml", iodef("1", text="x" * 8000)), "format": "auto", "dry_run": "true"})
    assert response.status_code == 413
    assert "4096" in response.content.decode()
    assert not Job.objects.exists() and job_files(settings) == []


class Unreadable(io.RawIOBase):
    """A request body that must not be read: the declared length is enough to refuse."""

    def read(self, size=-1):
        raise AssertionError("the request body was read")

    readinto = read


@pytest.mark.parametrize("path", ["/api/v1/imports/", "/exchange/"])
def test_an_oversized_declared_length_is_refused_before_the_body_is_read(alice, settings,
                                                                         path):
    settings.IMPORT_MAX_BYTES = 4096
    # With the CSRF check on, as in production: it reads the body, so the cap must come first.
    client = api_client(alice) if path.startswith("/api/") else Client(enforce_csrf_checks=True)
    if not path.startswith("/api/"):
        client.force_login(alice)
    response = client.generic("POST", path, b"",
                              content_type="multipart/form-data; boundary=BoUnDaRy",
                              CONTENT_LENGTH=str(100 * 1024 * 1024),
                              **{"wsgi.input": Unreadable()})
    assert response.status_code == 413
    assert not Job.objects.exists()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_import_inputs_are_removed_when_the_job_ends_and_their_digest_kept(alice, settings):
    good, bad = iodef("1"), b"<IODEF-Document>not xml"
    succeeded = api_import(alice, good, "good.xml")
    failed = api_import(alice, bad, "bad.xml", format="iodef")
    assert (succeeded["status"], failed["status"]) == ("succeeded", "failed")
    assert job_files(settings) == []
    for job, data, name in ((succeeded, good, "good.xml"), (failed, bad, "bad.xml")):
        row = Job.objects.get(pk=job["id"])
        assert not row.input
        assert (row.input_name, row.input_size, row.input_sha256) == (
            name, len(data), sha256(data))
        assert (job["input_name"], job["input_size"], job["input_sha256"]) == (
            name, len(data), sha256(data))
    client = Client()
    client.force_login(alice)
    page = client.get(f"/jobs/{failed['id']}/").content.decode()
    assert sha256(bad) in page and "bad.xml" in page
    # The audit trail names what was imported by its digest.
    entry = AuditEntry.objects.get(action="exchange.import")
    assert entry.after["sha256"] == sha256(good)


def test_a_bundle_submission_leaves_no_input_behind(alice, settings):
    data = b"PK\x03\x04 not really a zip"
    response = api_client(alice).post("/api/v1/observatory/submissions/", {
        "file": SimpleUploadedFile("bundle.zip", data)}, format="multipart")
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == "failed" and not job.input and job_files(settings) == []
    assert (job.input_size, job.input_sha256) == (len(data), sha256(data))


def test_a_crashing_job_leaves_no_input_behind(alice, settings):
    @jobs.handler("test-trust-crash")
    def _crash(job, progress):
        raise RuntimeError("boom")

    job = jobs.start("test-trust-crash", alice, upload=SimpleUploadedFile("x.bin", b"abc"))
    job.refresh_from_db()
    assert job.status == "failed" and not job.input and job_files(settings) == []
    assert job.input_sha256 == sha256(b"abc")


def test_a_pull_never_reports_conflicts_with_another_states_report(alice, bob):
    red = file_report(alice, tlp="red", title="Cuban red")
    incoming = {"type": "incident", "spec_version": "2.1", "id": red.stix_id,
                "name": "Other", "description": "Other",
                "created": "2026-04-01T00:00:00.000Z", "modified": "2099-01-01T00:00:00.000Z"}
    assert federation._record_conflicts([incoming], bob, "https://peer.example/") == []
    assert not AuditEntry.objects.filter(action="exchange.federate.conflict").exists()


def test_reports_imported_before_ids_were_scoped_still_merge_for_their_own_state(alice, bob):
    assert run(alice, iodef("4711")).reports_created == 1
    unscoped = stable_id("incident", "iodef", "csirt.example.fr:4711", "")
    Incident.objects.update(stix_id=unscoped)          # as an earlier version stored it
    assert run(alice, iodef("4711")).reports_merged == 1
    assert run(bob, iodef("4711"), dry_run=True).reports_created == 1
    assert Incident.objects.count() == 1


def test_another_states_derived_id_posted_as_stix_is_neither_an_oracle_nor_a_squat(alice, bob):
    """Derived ids are computable (the namespace is public): posted as explicit STIX ids they
    must get the same treatment whether or not the other State holds them."""
    def cuban(number: str) -> str:
        return stable_id("incident", "iodef", f"csirt.example.fr:{number}", "", scope="CU")

    assert run(alice, iodef("4711")).reports_created == 1       # 4711 is held, 4712 is not
    held = run(bob, stix_bundle(cuban("4711"), name="Probe held"))
    free = run(bob, stix_bundle(cuban("4712"), name="Probe free"))
    def seen(summary) -> dict:
        return {k: v for k, v in summary.as_dict().items() if k != "created_ids"}

    assert seen(held) == seen(free) and held.reports_created == 1
    probes = Incident.objects.filter(state=bob.state)
    assert {p.stix_id in (cuban("4711"), cuban("4712")) for p in probes} == {False}
    # And the id Bob took for 4712 is not Cuba's: Cuba's import of 4712 is its own, then merges.
    later = run(alice, iodef("4712"))
    assert later.ok and later.reports_created == 1, later.rejected
    assert Incident.objects.get(state=alice.state, stix_id=cuban("4712"))
    assert run(alice, iodef("4712")).reports_merged == 1
