"""Hostile input against what issue 12 added: search `q=`, evidence kept with a draft, files
sent with messages. Each test is a hole that was found open: a 500, a file stored that should
not be, a body read that should have been refused unread, a name that lies about the file."""

from __future__ import annotations

import io
import uuid
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from sentinelle.core.files.transactional import final_name
from sentinelle.incidents.models import Evidence, Incident, Message, StagedEvidence
from tests.conftest import api_client, file_report, report_payload
from tests.incidents.test_focal_form import form_data

pytestmark = pytest.mark.django_db

DRAFT = str(uuid.UUID(int=12))
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def stored_files(settings) -> list:
    root = settings.MEDIA_ROOT
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


class Unreadable(io.RawIOBase):
    """A request body that fails the test if anything reads it."""

    def read(self, size=-1):
        raise AssertionError("the request body was read")

    readinto = read


# Search: a long q reached SQLite's LIKE pattern limit (50,000 bytes): a 500 on the list.

def test_a_100kb_search_is_refused_naming_q(alice, client):
    file_report(alice)
    client.force_login(alice)
    response = client.get("/incidents/", {"q": "a" * 100_000})
    assert response.status_code == 200
    assert "at most 2048 characters" in unescape(response.content.decode())
    api = api_client(alice).get("/api/v1/incidents/", {"q": "a" * 100_000})
    assert api.status_code == 400
    assert "at most 2048 characters" in api.json()["fields"]["q"][0]


# Search: a domain is stored as typed; its other IDN spelling found nothing.

@pytest.mark.parametrize(("stored", "typed"), [
    ("bücher.example", "xn--bcher-kva.example"),
    ("xn--bcher-kva.example", "bücher.example"),
    ("portal.bücher.example", "XN--BCHER-KVA.EXAMPLE"),
])
def test_an_idn_domain_is_found_by_either_spelling(alice, stored, typed):
    incident = file_report(alice, indicators=[{"type": "domain", "value": stored}])
    response = api_client(alice).get("/api/v1/incidents/", {"q": typed})
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [incident.pk]


# File names: bidirectional controls make "invoice\u202egpj.exe" read "invoiceexe.jpg".

def test_bidi_controls_are_taken_out_of_message_file_names(alice):
    incident = file_report(alice)
    name = f"invoice{BIDI}gpj.exe"
    client_for(alice).post(f"/incidents/{incident.pk}/messages/",
                           {"body": "Here.", "files": [SimpleUploadedFile(name, b"MZ")]})
    api = api_client(alice).post(f"/api/v1/incidents/{incident.pk}/messages/",
                                 {"body": "Here.", "files": [SimpleUploadedFile(name, b"MZ")]},
                                 format="multipart")
    assert api.status_code == 201
    assert api.json()["files"][0]["filename"] == "invoicegpj.exe"
    assert list(Evidence.objects.values_list("filename", flat=True)) == ["invoicegpj.exe"] * 2


def test_bidi_controls_are_taken_out_of_kept_file_names(alice):
    client_for(alice).post("/incidents/new/", {
        **form_data(), "preview": "", "draft": DRAFT,
        "attachments": [SimpleUploadedFile(f"report{BIDI}fdp.sh", b"#!")]})
    assert list(StagedEvidence.objects.values_list("filename", flat=True)) == ["reportfdp.sh"]


# Empty files: the evidence form refuses them, the draft form and the API message took them.

def test_an_empty_file_is_not_kept_with_a_draft(alice, settings):
    response = client_for(alice).post("/incidents/new/", {
        **form_data(), "submit": "", "draft": DRAFT,
        "attachments": [SimpleUploadedFile("routes.txt", b"x"),
                        SimpleUploadedFile("empty.txt", b"")]})
    assert response.status_code == 200
    assert "empty.txt is empty." in unescape(response.content.decode())
    assert not StagedEvidence.objects.exists() and not Evidence.objects.exists()
    assert stored_files(settings) == []


def test_an_empty_file_refuses_the_api_message(alice, settings):
    incident = file_report(alice)
    response = api_client(alice).post(
        f"/api/v1/incidents/{incident.pk}/messages/",
        {"body": "Here.", "files": [SimpleUploadedFile("empty.txt", b"")]}, format="multipart")
    assert response.status_code == 400
    assert response.json()["fields"]["files"] == ["empty.txt is empty."]
    assert not Message.objects.exists() and not Evidence.objects.exists()
    assert stored_files(settings) == []


# The same file twice with one draft became two identical pieces of evidence.

def test_the_same_file_twice_is_kept_once_and_said(alice):
    client = client_for(alice)
    client.post("/incidents/new/", {**form_data(), "preview": "", "draft": DRAFT,
                                    "attachments": [SimpleUploadedFile("a.pcap", b"cap")]})
    response = client.post("/incidents/new/", {
        **form_data(), "preview": "", "draft": DRAFT,
        "attachments": [SimpleUploadedFile("copy.pcap", b"cap")]})
    assert "copy.pcap is already kept with this report (a.pcap)." in unescape(
        response.content.decode())
    assert list(StagedEvidence.objects.values_list("filename", flat=True)) == ["a.pcap"]
    response = client.post("/incidents/new/", {
        **form_data(), "preview": "", "draft": str(uuid.uuid4()),
        "attachments": [SimpleUploadedFile("a.pcap", b"cap"),
                        SimpleUploadedFile("b.pcap", b"cap")]})
    assert "b.pcap is already kept with this report (a.pcap)." in unescape(
        response.content.decode())
    assert StagedEvidence.objects.count() == 1


# Message files had no request cap: a 10 GB body was streamed to disk before being refused.

@pytest.mark.parametrize(("path", "limit"), [
    ("/incidents/{pk}/messages/", 2000), ("/api/v1/incidents/{pk}/messages/", 2000),
    ("/incidents/{pk}/evidence/", 1000), ("/api/v1/incidents/{pk}/evidence/", 1000)])
def test_an_oversized_message_is_refused_before_the_body_is_read(alice, settings, path, limit):
    settings.EVIDENCE_MAX_BYTES = 1000
    settings.MESSAGE_MAX_FILES = 2
    incident = file_report(alice)
    path = path.format(pk=incident.pk)
    if path.startswith("/api/"):
        client = api_client(alice)
    else:   # with the CSRF check on, as in production: it reads the body
        client = Client(enforce_csrf_checks=True)
        client.force_login(alice)
    response = client.generic("POST", path, b"",
                              content_type="multipart/form-data; boundary=BoUnDaRy",
                              CONTENT_LENGTH=str(10 * 1024 ** 3),
                              **{"wsgi.input": Unreadable()})
    assert response.status_code == 413
    assert f"the limit is {limit} bytes" in unescape(response.content.decode())
    assert not Message.objects.exists() and not Evidence.objects.exists()


# A title with line breaks went into the receipt and new-submission e-mails as lines of their
# own ("Bcc: ...", a fake link): the subject is safe, the body could be forged.

def test_a_title_with_line_breaks_is_refused_naming_title(alice):
    title = "Outage\r\nBcc: evil@example.org\n\nResubmit at https://evil.example/"
    response = api_client(alice).post("/api/v1/incidents/",
                                      {**report_payload(title=title), "submit": True},
                                      format="json")
    assert response.status_code == 400
    assert response.json()["fields"]["title"] == ["The title must be one line, without control "
                                        "characters."]
    page = client_for(alice).post("/incidents/new/", {**form_data(title=title), "submit": ""})
    assert page.status_code == 200
    assert "The title must be one line, without control characters." in unescape(
        page.content.decode())
    assert not Incident.objects.exists()


# The web form caps a message at 20,000 characters; the API took 5 MB (quoted in e-mails).

def test_the_api_caps_a_message_as_the_form_does(alice):
    incident = file_report(alice)
    response = api_client(alice).post(f"/api/v1/incidents/{incident.pk}/messages/",
                                      {"body": "x" * 20_001}, format="json")
    assert response.status_code == 400
    assert "20000" in response.json()["fields"]["body"][0]
    assert not Message.objects.exists()


# A draft whose files cannot all be attached left the evidence copies already written on disk
# (the transaction takes the rows back, not the files): files without a row.

def test_a_draft_that_cannot_be_attached_leaves_no_evidence_file(alice, settings):
    from django.core.files.storage import default_storage

    client = client_for(alice)
    client.post("/incidents/new/", {**form_data(), "preview": "", "draft": DRAFT,
                                    "attachments": [SimpleUploadedFile("a.txt", b"first"),
                                                    SimpleUploadedFile("b.txt", b"second")]})
    second = StagedEvidence.objects.get(filename="b.txt")
    with default_storage.open(second.file.name, "wb") as handle:   # altered while kept
        handle.write(b"something else")
    response = client.post("/incidents/new/", {**form_data(), "submit": "", "draft": DRAFT})
    assert "b.txt changed while it was kept" in unescape(response.content.decode())
    assert not Incident.objects.exists() and not Evidence.objects.exists()
    kept = {item.file.name for item in StagedEvidence.objects.all()}
    # Inside the test's transaction, kept files are still in the pending folder.
    on_disk = {final_name(p.relative_to(settings.MEDIA_ROOT).as_posix())
               or p.relative_to(settings.MEDIA_ROOT).as_posix() for p in stored_files(settings)}
    assert on_disk == kept


# `sentinelle receipt hash FILE`: deep nesting and a lone surrogate escape were tracebacks.

@pytest.mark.parametrize(("content", "said"), [
    (b"[" * 100_000, "nested too deeply"),
    (b'{"title": "\\ud800"}', "lone surrogate"),
])
def test_receipt_hash_refuses_what_is_no_version_naming_the_file(tmp_path, content, said):
    from django.core.management import CommandError, call_command

    path = tmp_path / "version.json"
    path.write_bytes(content)
    with pytest.raises(CommandError) as refused:
        call_command("receipt", "hash", str(path), stdout=io.StringIO())
    assert str(refused.value).startswith(f"{path}: ")
    assert said in str(refused.value)


def test_receipt_hash_reads_a_bounded_amount(tmp_path, monkeypatch):
    from django.core.management import CommandError, call_command

    from sentinelle.incidents.management.commands import receipt

    monkeypatch.setattr(receipt, "MAX_CHARS", 100)
    path = tmp_path / "version.json"
    path.write_text('{"title": "' + "x" * 200 + '"}')
    with pytest.raises(CommandError, match="over 100 characters"):
        call_command("receipt", "hash", str(path), stdout=io.StringIO())


# "AS²": a superscript digit passes str.isdigit() but not int(), so the AS-number parser raised a
# bare ValueError: a 500 on the search, the report form and the API.

def test_a_superscript_as_number_is_just_text(alice, client):
    incident = file_report(alice)
    client.force_login(alice)
    assert client.get("/incidents/", {"q": "AS²"}).status_code == 200
    response = api_client(alice).get("/api/v1/incidents/", {"q": "AS²"})
    assert response.status_code == 200 and response.json()["count"] == 0
    created = api_client(alice).post("/api/v1/incidents/", report_payload(
        indicators=[{"type": "asn", "value": "AS²"}]), format="json")
    assert created.status_code == 400
    assert "is not an AS number" in str(created.json()["fields"]["indicators"])
    page = client.post("/incidents/new/", {**form_data(indicators="asn AS²"), "save": ""})
    assert page.status_code == 200 and "is not an AS number" in unescape(page.content.decode())
    assert Incident.objects.count() == 1 and incident.pk


def test_the_warning_lists_take_an_odd_as_number():
    from sentinelle.analysis.warninglists import why_listed

    assert why_listed("asn", "AS²") is None


# The public statistics' `year=`: "²" (a digit int() refuses) and a 5,000-digit number (over
# Python's int-from-text limit) were 500s on a page anyone can open.

@pytest.mark.parametrize("year", ["²", "9" * 5000])
def test_an_odd_year_on_the_public_statistics_is_refused_naming_year(client, year):
    response = client.get("/analysis/public/", {"year": year})
    assert response.status_code in (200, 400)
    assert "Give a year as four digits." in unescape(response.content.decode())


def test_an_oversized_message_to_another_states_report_answers_404(alice, bob, settings):
    settings.EVIDENCE_MAX_BYTES = 1000
    incident = file_report(alice)   # TLP:AMBER: Switzerland does not see it
    client = Client()
    client.force_login(bob)
    response = client.generic("POST", f"/incidents/{incident.pk}/messages/", b"",
                              content_type="multipart/form-data; boundary=BoUnDaRy",
                              CONTENT_LENGTH=str(10 * 1024 ** 3),
                              **{"wsgi.input": Unreadable()})
    assert response.status_code == 404


def test_an_empty_file_is_refused_by_the_api_evidence_upload(alice, settings):
    incident = file_report(alice)
    response = api_client(alice).post(f"/api/v1/incidents/{incident.pk}/evidence/",
                                      {"file": SimpleUploadedFile("empty.txt", b"")},
                                      format="multipart")
    assert response.status_code == 400
    assert response.json()["fields"]["file"] == ["empty.txt is empty."]
    assert not Evidence.objects.exists() and stored_files(settings) == []
