"""The focal point's report form (issue 12, points 9-11): the live check reaches the page,
evidence files survive Preview and errors, and Preview shows the report as the Secretariat will
see it. The browser journeys are in test_browser_focal_form.py."""

from __future__ import annotations

import hashlib
import html
import re
import uuid

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from sentinelle.incidents.models import Evidence, Incident, StagedEvidence

CAPTURE = b"%PDF-1.4\n" + bytes(range(256)) * 40


def form_data(**overrides) -> dict:
    data = {
        "title": "Route leak towards the national portal",
        "category": "routing-disruption",
        "rsit": "availability:outage",
        "tlp": "amber",
        "severity": "high",
        "started_at": "2026-03-01T08:00",
        "ended_at": "2026-03-01T12:00",
        "affected_services": "fixed internet\nmobile internet",
        "users_affected": "15000",
        "description": "A more specific prefix was announced from abroad.",
        "narrative_language": "en",
        "indicators": "prefix 203.0.113.0/24\nipv4 203.0.113.7",
    }
    data.update(overrides)
    return data


def capture(name: str = "capture.pdf", content: bytes = CAPTURE) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def text(response) -> str:
    return html.unescape(response.content.decode())


def preview_section(response) -> str:
    match = re.search(r'<section class="preview".*?</section>', text(response), re.S)
    assert match, "no preview on the page"
    return match.group(0)


def kept_list(response) -> str:
    match = re.search(r'<ul class="kept-files".*?</ul>', text(response), re.S)
    return match.group(0) if match else ""


# Point 11: the preview as the Secretariat will see it, in the user's language.

def test_preview_shows_labels_in_french_and_no_internals(client, alice, catalogues):
    client.force_login(alice)
    client.cookies["django_language"] = "fr"
    response = client.post("/incidents/new/", {**form_data(), "preview": ""})
    assert response.status_code == 200
    preview = preview_section(response)
    # Taxonomy and choice labels in French, as the report's page shows them.
    assert "Catégorie" in preview
    assert "Perturbation de l'acheminement du trafic" in preview
    assert "Gravité" in preview
    assert "Services touchés" in preview
    assert "fixed internet, mobile internet" in preview
    # Yes/No, not a Python boolean; indicators as a table of type and value.
    assert re.search(r"Consentement à être nommé</dt>\s*<dd>non</dd>", preview, re.I)
    assert re.search(r"<td>préfixe IP</td>\s*<td><code>203.0.113.0/24</code></td>", preview)
    assert re.search(r"<td>adresse IPv4</td>\s*<td><code>203.0.113.7</code></td>", preview)
    for internal in ("['", "{'", "False", "True", "routing-disruption", "consent_to_name",
                     "users_affected", "None"):
        assert internal not in preview, internal
    assert "Cuba" in preview
    assert "15 000" in preview or "15\u202f000" in preview or "15\xa0000" in preview


def test_preview_of_an_amendment_shows_the_report_state(client, alice):
    client.force_login(alice)
    client.post("/incidents/new/", {**form_data(), "save": ""})
    incident = Incident.objects.get()
    response = client.post(f"/incidents/{incident.pk}/edit/",
                           {**form_data(title="Route leak, corrected"), "preview": ""})
    preview = preview_section(response)
    assert "Route leak, corrected" in preview
    assert "Disruption of traffic routing" in preview
    assert "routing-disruption" not in preview


# Point 10: evidence files chosen before Preview or an error are kept, then attached.

def test_a_file_chosen_before_preview_is_kept_and_attached_on_save(
        client, alice, django_capture_on_commit_callbacks):
    client.force_login(alice)
    draft = str(uuid.uuid4())
    response = client.post("/incidents/new/", {**form_data(), "draft": draft, "preview": "",
                                               "attachments": [capture()]})
    assert response.status_code == 200
    assert "kept: capture.pdf (10.0\xa0KB)" in kept_list(response)
    assert f'name="draft" value="{draft}"' in text(response)
    staged = StagedEvidence.objects.get()
    assert staged.sha256 == hashlib.sha256(CAPTURE).hexdigest()
    assert staged.state == alice.state
    stored_name = staged.file.name

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/incidents/new/", {**form_data(), "draft": draft, "save": ""})
    incident = Incident.objects.get()
    assert response.status_code == 302
    evidence = Evidence.objects.get(incident=incident)
    assert evidence.filename == "capture.pdf"
    assert evidence.sha256 == hashlib.sha256(CAPTURE).hexdigest()
    assert evidence.size == len(CAPTURE)
    assert evidence.file.read() == CAPTURE
    assert not StagedEvidence.objects.exists()
    assert not default_storage.exists(stored_name)


def test_a_file_chosen_with_a_form_error_is_kept_and_attached_on_submit(client, alice):
    client.force_login(alice)
    draft = str(uuid.uuid4())
    response = client.post("/incidents/new/", {
        **form_data(indicators="ipv4 999.1.2.3"), "draft": draft, "submit": "",
        "attachments": [capture("logs.txt", b"firewall logs\n")]})
    assert response.status_code == 200
    assert not Incident.objects.exists()
    assert "kept: logs.txt" in kept_list(response)

    response = client.post("/incidents/new/", {**form_data(), "draft": draft, "submit": ""})
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert incident.status == "submitted"
    assert [e.filename for e in incident.evidence.all()] == ["logs.txt"]
    # The receipt of the submission names the file: it was attached before submitting.
    receipt = incident.receipts.get()
    assert [entry["sha256"] for entry in receipt.evidence] == [
        hashlib.sha256(b"firewall logs\n").hexdigest()]


def test_a_kept_file_can_be_removed(client, alice, django_capture_on_commit_callbacks):
    client.force_login(alice)
    draft = str(uuid.uuid4())
    client.post("/incidents/new/", {**form_data(), "draft": draft, "preview": "",
                                    "attachments": [capture("a.pdf"),
                                                    capture("b.pdf", CAPTURE + b"b")]})
    a = StagedEvidence.objects.get(filename="a.pdf")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/incidents/new/", {**form_data(), "draft": draft,
                                                   "unstage": str(a.pk)})
    assert response.status_code == 200
    listed = kept_list(response)
    assert "a.pdf" not in listed
    assert "kept: b.pdf" in listed
    assert not default_storage.exists(a.file.name)
    assert not Incident.objects.exists()
    client.post("/incidents/new/", {**form_data(), "draft": draft, "save": ""})
    assert [e.filename for e in Evidence.objects.all()] == ["b.pdf"]


def test_a_kept_file_that_cannot_be_attached_leaves_no_report(client, alice):
    client.force_login(alice)
    draft = str(uuid.uuid4())
    client.post("/incidents/new/", {**form_data(), "draft": draft, "preview": "",
                                    "attachments": [capture()]})
    kept = StagedEvidence.objects.get()
    with default_storage.open(kept.file.name, "wb") as handle:   # altered while kept
        handle.write(b"something else")
    response = client.post("/incidents/new/", {**form_data(), "draft": draft, "submit": ""})
    assert response.status_code == 200
    assert "capture.pdf changed while it was kept; choose it again." in text(response)
    assert not Incident.objects.exists()
    assert not Evidence.objects.exists()
    assert StagedEvidence.objects.filter(pk=kept.pk).exists()


def test_kept_files_are_their_states_only(client, alice, bob):
    client.force_login(alice)
    draft = str(uuid.uuid4())
    client.post("/incidents/new/", {**form_data(), "draft": draft, "preview": "",
                                    "attachments": [capture("cuba.pdf")]})
    kept = StagedEvidence.objects.get()

    client.force_login(bob)   # Switzerland, with Cuba's draft key and the file's id
    response = client.post("/incidents/new/", {**form_data(), "draft": draft, "preview": ""})
    assert "cuba.pdf" not in text(response)
    client.post("/incidents/new/", {**form_data(), "draft": draft, "unstage": str(kept.pk)})
    assert StagedEvidence.objects.filter(pk=kept.pk).exists()
    client.post("/incidents/new/", {**form_data(), "draft": draft, "save": ""})
    swiss = Incident.objects.get(state=bob.state)
    assert not swiss.evidence.exists()
    assert StagedEvidence.objects.filter(pk=kept.pk).exists()


def test_a_file_over_the_limit_is_refused_by_name_and_nothing_is_saved(client, alice, settings):
    settings.EVIDENCE_MAX_BYTES = 100
    client.force_login(alice)
    response = client.post("/incidents/new/", {
        **form_data(), "draft": str(uuid.uuid4()), "submit": "",
        "attachments": [capture("small.txt", b"ok"), capture("big.pdf", b"x" * 101)]})
    assert response.status_code == 200
    errors = text(response)
    assert "big.pdf is 101 bytes; the limit is 100 bytes." in errors
    assert not Incident.objects.exists()
    assert not StagedEvidence.objects.exists()


def test_a_request_over_the_form_cap_is_refused_unread(client, alice, settings):
    settings.EVIDENCE_MAX_BYTES = 1000   # the form's cap: 10 files of 1000 bytes, and slack
    client.force_login(alice)
    response = client.post("/incidents/new/", {
        **form_data(), "draft": str(uuid.uuid4()), "submit": "",
        "attachments": [capture("huge.bin", b"x" * 200_000)]})
    assert response.status_code == 413
    assert "the limit is 10000 bytes" in text(response)
    assert not Incident.objects.exists()
    assert not StagedEvidence.objects.exists()


# Point 9: the live check's answer is swapped into the field's error slot.

def test_each_field_puts_the_live_check_into_its_own_error_slot(client, alice):
    client.force_login(alice)
    page = text(client.get("/incidents/new/"))
    wrapper = re.search(r'<div[^>]*hx-target="#errors-indicators"[^>]*>', page).group(0)
    assert 'hx-swap="innerHTML"' in wrapper
    # The form itself no longer posts on every change with its answer thrown away.
    form_tag = re.search(r'<form[^>]*id="incident-form"[^>]*>', page).group(0)
    assert "hx-post" not in form_tag and 'hx-swap="none"' not in form_tag
    response = client.post("/incidents/validate/", {**form_data(indicators="ipv4 999.1.2.3")},
                           HTTP_HX_REQUEST="true", HTTP_HX_TRIGGER_NAME="indicators")
    assert "999.1.2.3" in text(response)


@pytest.fixture(autouse=True)
def _outage_type_exists(db):
    from sentinelle.incidents.models import RsitType

    assert RsitType.objects.filter(rsit_class__code="availability", code="outage").exists()
