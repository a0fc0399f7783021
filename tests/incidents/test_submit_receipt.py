"""Issue 12, point 12: what happens at *Submit to the Secretariat* — the confirmation on the page,
the e-mail receipt to the State's focal points, the receipt PDF with hashes anyone can recompute,
and the analysts told of the new report (unless turned off)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess  # noqa: S404 - runs pdftotext with fixed arguments
from html import unescape
from io import StringIO

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from sentinelle.core.models import Role
from sentinelle.incidents import services
from sentinelle.incidents.models import Evidence, Incident, Status
from tests.conftest import api_client, file_report, make_user

PCAP = b"\xd4\xc3\xb2\xa1" + bytes(range(40))
LOG = "routeur: session BGP tombée à 06:02\n".encode()


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form_data(**overrides) -> dict:
    data = {
        "title": "Fibre cut at the landing station", "category": "routing-disruption",
        "rsit": "availability:outage", "tlp": "amber", "severity": "high",
        "started_at": "2026-02-10T06:00", "ended_at": "2026-02-10T09:00", "detected_at": "",
        "affected_services": "fixed internet", "users_affected": "2000",
        "alleged_origin_state": "", "description": "Submarine cable damaged.",
        "narrative_language": "en", "indicators": "ipv4 192.0.2.10",
    }
    data.update(overrides)
    return data


def recomputed(content: dict) -> str:
    """The version hash as the README defines it, computed independently of the code."""
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def submit_draft_with_files(alice) -> Incident:
    """A draft with two files, then *Submit to the Secretariat* on its page."""
    client = client_for(alice)
    client.post("/incidents/new/", {**form_data(), "save": "",
                                    "attachments": [SimpleUploadedFile("trace.pcap", PCAP),
                                                    SimpleUploadedFile("journal.txt", LOG)]})
    incident = Incident.objects.get()
    assert incident.status == Status.DRAFT
    return incident


def test_submit_shows_a_confirmation_with_version_time_and_the_receipt(alice):
    incident = submit_draft_with_files(alice)
    response = client_for(alice).post(f"/incidents/{incident.pk}/status/",
                                      {"to_status": "submitted"}, follow=True)
    html = unescape(response.content.decode())
    incident.refresh_from_db()
    receipt = incident.receipts.get()
    when = incident.submitted_at.strftime("%Y-%m-%d %H:%M:%S")
    assert receipt.submitted_at == incident.submitted_at
    assert (f"The report was submitted to the Secretariat: {incident.reference}, version 1, "
            f"on {when} UTC.") in html
    assert f'href="/incidents/{incident.pk}/receipts/{receipt.pk}.pdf"' in html
    assert "Download the receipt (PDF)" in html


def test_submit_from_the_form_puts_the_attachments_in_the_receipt(alice):
    response = client_for(alice).post("/incidents/new/", {
        **form_data(), "submit": "", "attachments": [SimpleUploadedFile("trace.pcap", PCAP)]},
        follow=True)
    incident = Incident.objects.get()
    receipt = incident.receipts.get()
    assert incident.status == Status.SUBMITTED
    assert [e["filename"] for e in receipt.evidence] == ["trace.pcap"]
    assert "version 1, on" in unescape(response.content.decode())


def test_receipt_hashes_equal_the_recomputed_ones(alice, charlie):
    incident = submit_draft_with_files(alice)
    services.change_status(incident, alice, Status.SUBMITTED)
    incident.refresh_from_db()
    receipt = incident.receipts.get()
    versions = api_client(charlie).get(f"/api/v1/incidents/{incident.pk}/versions/").json()
    assert receipt.content_sha256 == recomputed(versions[0]["content"])
    assert versions[0]["content_sha256"] == receipt.content_sha256
    assert receipt.evidence == [
        {"id": e.pk, "filename": e.filename, "size": e.size, "sha256": e.sha256}
        for e in Evidence.objects.filter(incident=incident).order_by("id")]
    assert [(e["filename"], e["size"], e["sha256"]) for e in receipt.evidence] == [
        ("trace.pcap", len(PCAP), hashlib.sha256(PCAP).hexdigest()),
        ("journal.txt", len(LOG), hashlib.sha256(LOG).hexdigest())]
    # Later evidence and amendments do not change what the receipt says was sent.
    services.attach_evidence(incident, alice, SimpleUploadedFile("later.txt", b"later"))
    services.amend_report(incident, alice, {"title": "Fibre cut, station B"})
    receipt.refresh_from_db()
    assert len(receipt.evidence) == 2 and receipt.version.number == 1


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext is not installed")
def test_receipt_pdf_states_what_was_sent(alice, charlie):
    incident = submit_draft_with_files(alice)
    services.change_status(incident, alice, Status.SUBMITTED)
    incident.refresh_from_db()
    receipt = incident.receipts.get()
    for user in (alice, charlie):
        response = client_for(user).get(f"/incidents/{incident.pk}/receipts/{receipt.pk}.pdf")
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert "attachment" in response["Content-Disposition"]
        text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=response.content,  # noqa: S607
                              capture_output=True, check=True).stdout.decode()
        assert incident.reference in text
        assert "Version" in text and "alice" in text
        assert incident.submitted_at.strftime("%Y-%m-%d %H:%M:%S") in text
        assert receipt.content_sha256 in text
        for entry in receipt.evidence:
            assert entry["filename"] in text and str(entry["size"]) in text
            assert entry["sha256"] in text


def test_receipt_is_only_for_the_state_and_the_secretariat(alice, bob, charlie, council):
    incident = file_report(alice, tlp="green")  # bob and every focal point read the report
    receipt = incident.receipts.get()
    url = f"/incidents/{incident.pk}/receipts/{receipt.pk}.pdf"
    bob_page = client_for(bob).get(f"/incidents/{incident.pk}/")
    assert bob_page.status_code == 200 and "Submission receipt" not in bob_page.content.decode()
    assert client_for(bob).get(url).status_code == 404
    assert client_for(council).get(url).status_code == 404
    assert Client().get(url).status_code == 404
    # A receipt of another report, under this report's address: 404 as well.
    other = file_report(alice, title="Another")
    assert client_for(alice).get(
        f"/incidents/{incident.pk}/receipts/{other.receipts.get().pk}.pdf").status_code == 404
    assert client_for(alice).get(url).status_code == 200
    assert client_for(charlie).get(url).status_code == 200


def test_red_receipt_only_for_the_named_analysts(alice, charlie):
    dave = make_user("dave", Role.ANALYST)
    incident = file_report(alice, tlp="red", named_analysts=[charlie])
    receipt = incident.receipts.get()
    url = f"/incidents/{incident.pk}/receipts/{receipt.pk}.pdf"
    assert client_for(charlie).get(url).status_code == 200
    assert client_for(dave).get(url).status_code == 404


def test_mails_go_to_the_state_in_each_language_and_to_the_analysts(
        alice, bob, charlie, catalogues, django_capture_on_commit_callbacks):
    alice.language = "fr"
    alice.save()
    make_user("ana", Role.FOCAL_POINT, "CU", language="es")
    charlie.language = "es"
    charlie.save()
    make_user("dave", Role.ANALYST)  # English
    make_user("eve", Role.ANALYST, is_active=False)
    mail.outbox.clear()
    incident = submit_draft_with_files(alice)
    with django_capture_on_commit_callbacks(execute=True):
        services.change_status(incident, alice, Status.SUBMITTED)
    incident.refresh_from_db()
    receipt = incident.receipts.get()
    by_address = {m.to[0]: m for m in mail.outbox}
    assert sorted(by_address) == ["alice@example.org", "ana@example.org",
                                  "charlie@example.org", "dave@example.org"]
    assert len(mail.outbox) == 4  # one each; bob (another State) and eve (inactive): none
    for address, member_state in (("alice@example.org", "État Membre"),
                                  ("ana@example.org", "Estado Miembro")):
        body = by_address[address].body
        assert member_state in body
        assert incident.reference in by_address[address].subject
        assert receipt.content_sha256 in body
        assert hashlib.sha256(PCAP).hexdigest() in body and "trace.pcap" in body
        assert incident.submitted_at.strftime("%Y-%m-%d %H:%M:%S") in body
    assert "Estado Miembro" in by_address["charlie@example.org"].body
    assert "Member State" in by_address["dave@example.org"].body
    assert receipt.content_sha256 not in by_address["dave@example.org"].body


def test_red_report_is_announced_only_to_the_named_analysts(
        alice, charlie, django_capture_on_commit_callbacks):
    make_user("dave", Role.ANALYST)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        file_report(alice, tlp="red", named_analysts=[charlie])
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.org", "charlie@example.org"]


def test_setting_off_no_analyst_mail(alice, charlie, settings,
                                     django_capture_on_commit_callbacks):
    settings.NOTIFY_ANALYSTS_OF_SUBMISSIONS = False
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        file_report(alice)
    assert [m.to for m in mail.outbox] == [["alice@example.org"]]


def test_a_draft_sends_nothing_and_has_no_receipt(alice, charlie,
                                                  django_capture_on_commit_callbacks):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        incident = file_report(alice, submit=False)
    assert mail.outbox == [] and not incident.receipts.exists()


def test_verify_command_recomputes_and_finds_a_changed_file(alice):
    incident = submit_draft_with_files(alice)
    services.change_status(incident, alice, Status.SUBMITTED)
    incident.refresh_from_db()
    out = StringIO()
    call_command("receipt", "verify", incident.reference, stdout=out)
    assert out.getvalue().strip().endswith("2 file(s): OK")
    item = Evidence.objects.get(filename="trace.pcap")
    with open(item.file.path, "wb") as handle:
        handle.write(b"tampered")
    out = StringIO()
    with pytest.raises(CommandError, match="no longer matches"):
        call_command("receipt", "verify", str(incident.pk), stdout=out)
    assert f"trace.pcap: receipt {hashlib.sha256(PCAP).hexdigest()}, now " \
           f"{hashlib.sha256(b'tampered').hexdigest()}" in out.getvalue()
    with pytest.raises(CommandError, match="report: no report 'CU-2026-99999'"):
        call_command("receipt", "verify", "CU-2026-99999")


def test_hash_command_takes_the_api_version(alice, charlie, tmp_path):
    incident = file_report(alice)
    version = api_client(charlie).get(f"/api/v1/incidents/{incident.pk}/versions/").json()[0]
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(version), encoding="utf-8")
    out = StringIO()
    call_command("receipt", "hash", str(path), stdout=out)
    assert out.getvalue().strip() == incident.receipts.get().content_sha256
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(CommandError, match="not JSON: .*line 1"):
        call_command("receipt", "hash", str(path))
