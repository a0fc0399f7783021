"""Issue 16, point 1: real feeds carry bad lines. All or nothing stays the default; with
--on-invalid skip every valid item lands and each rejected one is listed with its place and
reason (command output, job result, audit entry), and a report is never imported half.

The feed is OASIS's own STIX 2.1 "Poison Ivy" example (tests/data/stix/SOURCES), whose
indicator at $.objects[42] says `domain-name:value = 'domain autuo.xicp.net'`."""

from __future__ import annotations

import copy
import io
import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from sentinelle.core.models import AuditEntry
from sentinelle.exchange.formats import stix
from sentinelle.exchange.importer import import_records
from sentinelle.exchange.models import SharedIndicator
from sentinelle.incidents.models import Incident
from tests.conftest import api_client
from tests.paths import DATA_DIR

POISON_IVY = DATA_DIR / "stix" / "poisonivy.json"
BAD_ID = "indicator--4e4c4ad7-4909-456a-b6fa-e24a6f682a40"
INCIDENT_ID = "incident--7d3b2b52-2b39-4a5e-9d58-7c1f1c2a5b01"
OTHER_INCIDENT_ID = "incident--0c6a8f0e-8f44-4d3e-b3b5-2a7e3f9d6c02"
# The only comparisons of this feed that map to a Sentinelle indicator (file:name does not).
VALUE = re.compile(r"(domain-name|ipv4-addr):value = '([^']*)'")


def bundle() -> dict:
    return json.loads(POISON_IVY.read_bytes())


def counted(data: dict) -> tuple[int, int, int]:
    """(index of the bad indicator, valid values, bad values), counted from the file itself:
    each indicator's distinct comparisons; a domain with a space in it is not a domain."""
    bad_index = good = bad = 0
    for index, obj in enumerate(data["objects"]):
        if obj["type"] != "indicator":
            continue
        values = list(dict.fromkeys(VALUE.findall(obj["pattern"])))
        broken = [v for kind, v in values if kind == "domain-name" and " " in v]
        if broken:
            bad_index = index
        bad += len(broken)
        good += len(values) - len(broken)
    return bad_index, good, bad


def run(user, data: dict, **kw):
    return import_records(stix.parse(io.BytesIO(json.dumps(data).encode())), user=user, **kw)


def incident(stix_id: str, name: str) -> dict:
    return {"type": "incident", "spec_version": "2.1", "id": stix_id, "name": name,
            "created": "2026-03-01T10:00:00.000Z", "modified": "2026-03-01T10:00:00.000Z",
            "description": "Poison Ivy infrastructure seen from our network"}


def relationship(source: str, target: str, n: int) -> dict:
    return {"type": "relationship", "spec_version": "2.1",
            "id": f"relationship--5b1d0a1e-0000-4000-8000-{n:012d}",
            "created": "2026-03-01T10:00:00.000Z", "modified": "2026-03-01T10:00:00.000Z",
            "relationship_type": "indicates", "source_ref": source, "target_ref": target}


def test_the_file_has_one_bad_indicator_where_the_brief_says():
    data = bundle()
    bad_index, good, bad = counted(data)
    assert (bad_index, bad) == (42, 1) and data["objects"][42]["id"] == BAD_ID
    assert good > 50


def test_default_refuses_the_whole_file_naming_the_place(alice):
    summary = run(alice, bundle())
    assert not summary.ok and not summary.written and not summary.succeeded
    assert [r.where for r in summary.rejected] == ["$.objects[42]"]
    assert "domain autuo.xicp.net" in summary.rejected[0].reason
    assert not SharedIndicator.objects.exists()


def test_skip_imports_every_valid_indicator_and_lists_the_bad_one(alice, bob):
    _index, good, _bad = counted(bundle())
    summary = run(alice, bundle(), on_invalid="skip")
    assert summary.written and summary.succeeded and not summary.ok
    assert summary.indicators_created == good
    assert SharedIndicator.objects.filter(state=alice.state).count() == good
    assert [(r.where, r.ref) for r in summary.rejected] == [("$.objects[42]", BAD_ID)]
    assert "domain autuo.xicp.net" in summary.rejected[0].reason
    # The other value of the same pattern is a valid indicator of its own.
    assert SharedIndicator.objects.filter(value="60.10.1.115").exists()
    assert not SharedIndicator.objects.filter(value__contains="autuo").exists()
    # Filed under the importer's State, as any import: nothing is Bob's.
    assert not SharedIndicator.objects.filter(state=bob.state).exists()


def test_skip_dry_run_says_what_would_be_created_and_skipped(alice, tmp_path, capsys):
    _index, good, _bad = counted(bundle())
    path = tmp_path / "poisonivy.json"
    path.write_bytes(POISON_IVY.read_bytes())
    call_command("import", str(path), "--state", "CU", "--on-invalid", "skip", "--dry-run")
    out = capsys.readouterr().out
    assert "would skip $.objects[42]" in out and "domain autuo.xicp.net" in out
    assert f"indicators: {good} created" in out and "dry run, nothing written" in out
    assert not SharedIndicator.objects.exists()


def test_command_default_refuses_and_skip_lists_the_rejection(alice, tmp_path, capsys):
    _index, good, _bad = counted(bundle())
    path = tmp_path / "poisonivy.json"
    path.write_bytes(POISON_IVY.read_bytes())
    with pytest.raises(CommandError, match="nothing imported"):
        call_command("import", str(path), "--state", "CU")
    assert "rejected $.objects[42]" in capsys.readouterr().err
    assert not SharedIndicator.objects.exists()
    call_command("import", str(path), "--state", "CU", "--on-invalid", "skip")
    out = capsys.readouterr().out
    assert "skipped $.objects[42]" in out and "domain autuo.xicp.net" in out
    assert f"indicators: {good} created" in out and "1 rejected" in out
    assert SharedIndicator.objects.count() == good


def test_command_refuses_an_unknown_on_invalid_value(alice, tmp_path):
    path = tmp_path / "poisonivy.json"
    path.write_bytes(POISON_IVY.read_bytes())
    with pytest.raises(CommandError, match="on_invalid|on-invalid"):
        call_command("import", str(path), "--state", "CU", "--on-invalid", "sometimes")


def test_api_job_result_and_audit_entry_list_the_rejection(alice, bob):
    _index, good, _bad = counted(bundle())
    client = api_client(alice)
    upload = SimpleUploadedFile("poisonivy.json", POISON_IVY.read_bytes())
    job = client.post("/api/v1/imports/", {"file": upload, "on_invalid": "skip"},
                      format="multipart").json()
    assert job["status"] == "succeeded"
    result = client.get(f"/api/v1/jobs/{job['id']}/").json()["result"]
    assert result["indicators_created"] == good and result["written"] is True
    assert result["on_invalid"] == "skip" and result["rejected_count"] == 1
    rejected = result["rejected"][0]
    assert rejected["where"] == "$.objects[42]" and "autuo" in rejected["reason"]
    entry = AuditEntry.objects.get(action="exchange.import")
    assert entry.after["rejected"][0]["where"] == "$.objects[42]"
    assert "autuo" in entry.after["rejected"][0]["reason"]
    assert entry.after["indicators_created"] == good
    # The job is its starter's: another State gets 404.
    assert api_client(bob).get(f"/api/v1/jobs/{job['id']}/").status_code == 404


def test_api_default_still_fails_the_job_and_refuses_bad_values(alice):
    client = api_client(alice)
    upload = SimpleUploadedFile("poisonivy.json", POISON_IVY.read_bytes())
    job = client.post("/api/v1/imports/", {"file": upload}, format="multipart").json()
    assert job["status"] == "failed" and "$.objects[42]" in job["message"]
    upload = SimpleUploadedFile("poisonivy.json", POISON_IVY.read_bytes())
    response = client.post("/api/v1/imports/", {"file": upload, "on_invalid": "maybe"},
                           format="multipart")
    assert response.status_code == 400 and "on_invalid" in response.json()["fields"]
    assert not SharedIndicator.objects.exists()


def test_web_form_skip_shows_the_rejection_on_the_job_page(client, alice):
    _index, good, _bad = counted(bundle())
    client.force_login(alice)
    response = client.post("/exchange/", {
        "file": SimpleUploadedFile("poisonivy.json", POISON_IVY.read_bytes()),
        "format": "auto", "tlp": "", "on_invalid": "skip"})
    assert response.status_code == 302
    page = client.get(response.url).content.decode()
    assert "Succeeded" in page and "$.objects[42]" in page and "autuo" in page
    assert SharedIndicator.objects.count() == good


def test_a_report_whose_own_indicator_fails_is_refused_while_the_others_land(alice):
    """The bad indicator `indicates` an incident: that report is refused whole (never without
    its indicator), a second incident and every other indicator land."""
    data = bundle()
    good_index = next(i for i, o in enumerate(data["objects"]) if o["type"] == "indicator"
                      and i != 42)
    data["objects"] += [
        incident(INCIDENT_ID, "Poison Ivy C2 seen"), incident(OTHER_INCIDENT_ID, "Other"),
        relationship(BAD_ID, INCIDENT_ID, 1),
        relationship(data["objects"][good_index]["id"], OTHER_INCIDENT_ID, 2)]
    owned = len(dict.fromkeys(VALUE.findall(data["objects"][good_index]["pattern"])))
    _index, good, _bad = counted(bundle())
    summary = run(alice, data, on_invalid="skip")
    assert summary.reports_created == 1
    assert Incident.objects.get().title == "Other"
    refused = [r for r in summary.rejected if r.ref == INCIDENT_ID]
    assert len(refused) == 1 and "autuo" in refused[0].reason
    # The bad indicator's good value went with its report; the other report took its own.
    assert summary.indicators_created == good - 1 - owned
    assert not SharedIndicator.objects.filter(value="60.10.1.115").exists()


def test_a_report_made_of_a_rejected_object_is_refused_not_imported_half(alice):
    """An indicator the parser rejects (no pattern: schema) belongs to an incident through a
    relationship: the incident would land without it, so it is refused, with the reason."""
    data = bundle()
    broken = copy.deepcopy(data["objects"][41])
    del broken["pattern"]
    data["objects"][41] = broken
    data["objects"] += [incident(INCIDENT_ID, "Poison Ivy C2 seen"),
                        relationship(broken["id"], INCIDENT_ID, 1)]
    summary = run(alice, data, on_invalid="skip")
    places = {r.where.split(".pattern")[0]: r for r in summary.rejected}
    assert "$.objects[41]" in places and "$.objects[42]" in places
    refused = [r for r in summary.rejected if r.ref == INCIDENT_ID]
    assert len(refused) == 1
    assert broken["id"] in refused[0].reason and "$.objects[41]" in refused[0].reason
    assert not Incident.objects.exists()
    assert SharedIndicator.objects.exists()   # the rest of the feed landed
    # All or nothing, the same file writes nothing at all.
    SharedIndicator.objects.all().delete()
    assert not run(alice, data).written and not SharedIndicator.objects.exists()


def test_items_the_importer_rejects_are_skipped_the_same_way(alice):
    """Unknown sharing group (the importer's check, not the parser's): that report is skipped
    and listed; the other report and the indicators land."""
    _index, good, _bad = counted(bundle())
    data = bundle()
    grouped = {**incident(INCIDENT_ID, "Shared with a group"),
               "x_sentinelle_sharing_group": "No such group"}
    data["objects"] += [grouped, incident(OTHER_INCIDENT_ID, "Other")]
    summary = run(alice, data, on_invalid="skip")
    refused = [r for r in summary.rejected if r.ref == INCIDENT_ID]
    assert len(refused) == 1 and "No such group" in refused[0].reason
    assert list(Incident.objects.values_list("title", flat=True)) == ["Other"]
    assert summary.indicators_created == good and summary.reports_created == 1


def test_on_invalid_must_be_a_known_value(alice):
    with pytest.raises(ValueError, match="on_invalid"):
        run(alice, bundle(), on_invalid="sometimes")


def test_a_report_refused_after_its_evidence_was_stored_leaves_nothing(alice, monkeypatch,
                                                                      settings):
    """Skip writes each report in its own savepoint: a report that fails after its evidence
    file was stored leaves no row and no file, and the next report still lands."""
    from sentinelle.exchange import formats
    from sentinelle.exchange.reading import open_records
    from sentinelle.incidents import services
    from sentinelle.incidents.models import Evidence

    monkeypatch.setitem(formats.FORMAT_MODULES, "testjsonl", "tests.exchange.jsonl_format")
    real = services.attach_evidence

    def attach_then_fail(incident, user, upload, description=""):
        evidence = real(incident, user, upload, description)
        if incident.title == "Breaks":
            from django.core.exceptions import ValidationError
            raise ValidationError("the evidence could not be kept")
        return evidence

    monkeypatch.setattr(services, "attach_evidence", attach_then_fail)
    base = {"t": "report", "category": "routing-disruption", "rsit": "availability:outage",
            "tlp": "green", "start": "2026-02-01T10:00:00+00:00", "attach": True}
    data = b"".join(json.dumps(item).encode() + b"\n" for item in (
        {**base, "id": "R-1", "title": "Breaks"}, {**base, "id": "R-2", "title": "Lands"}))
    _fmt, records = open_records(io.BytesIO(data), "auto")
    summary = import_records(records, user=alice, on_invalid="skip")
    assert [r.where for r in summary.rejected] == ["line 1"]
    assert "could not be kept" in summary.rejected[0].reason
    assert list(Incident.objects.values_list("title", flat=True)) == ["Lands"]
    assert summary.reports_created == 1 and len(summary.created_ids) == 1
    assert Evidence.objects.count() == 1
    media = settings.MEDIA_ROOT
    files = [p for p in media.rglob("*") if p.is_file()] if media.exists() else []
    assert len(files) == 1
