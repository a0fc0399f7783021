"""Issue 12, point 13: the answer to a request for information can carry files — stored as
evidence of the report (SHA-256, the report's TLP), within the upload limits, shown in the thread
with links, to the thread's parties only; a refused upload leaves nothing behind."""

from __future__ import annotations

import hashlib
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from sentinelle.core.models import Role
from sentinelle.incidents import services
from sentinelle.incidents.models import Evidence, Message, Status
from tests.conftest import api_client, file_report, make_user

ROUTES = b"203.0.113.0/24 via 192.0.2.1\n"
CAPTURE = b"\xd4\xc3\xb2\xa1" + b"\x01" * 30


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def requested(alice, charlie, **report):
    incident = file_report(alice, **report)
    services.change_status(incident, charlie, Status.INFO_REQUESTED, note="Send the routes.")
    return incident


def answer(user, incident, *files, body="Here they are."):
    return client_for(user).post(f"/incidents/{incident.pk}/messages/",
                                 {"body": body, "files": list(files)}, follow=True)


def stored_files(settings) -> list:
    root = settings.MEDIA_ROOT
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_answer_with_files_stores_them_as_evidence_shown_in_the_thread(alice, charlie):
    incident = requested(alice, charlie)
    answer(alice, incident, SimpleUploadedFile("routes.txt", ROUTES),
           SimpleUploadedFile("../capture.pcap", CAPTURE))
    incident.refresh_from_db()
    assert incident.status == Status.UNDER_ANALYSIS
    message = Message.objects.get(kind=Message.Kind.ANSWER)
    files = list(Evidence.objects.filter(incident=incident).order_by("id"))
    assert [(f.filename, f.size, f.sha256, f.message_id, f.tlp, f.uploaded_by) for f in files] \
        == [("routes.txt", len(ROUTES), hashlib.sha256(ROUTES).hexdigest(), message.pk,
             "amber", alice),
            ("capture.pcap", len(CAPTURE), hashlib.sha256(CAPTURE).hexdigest(), message.pk,
             "amber", alice)]
    html = unescape(client_for(charlie).get(f"/incidents/{incident.pk}/").content.decode())
    thread = html[html.index('id="thread"'):]
    answer_html = thread[thread.index('<article class="answer'):]
    answer_html = answer_html[:answer_html.index("</article>")]
    for item in files:
        assert f'href="/evidence/{item.pk}/download/"' in answer_html
        assert item.filename in answer_html and item.sha256 in answer_html
    response = client_for(charlie).get(f"/evidence/{files[0].pk}/download/")
    assert b"".join(response.streaming_content) == ROUTES
    assert response["X-Evidence-SHA256"] == files[0].sha256


def test_files_of_an_answer_are_not_for_other_states(alice, bob, charlie):
    incident = requested(alice, charlie, tlp="green")  # bob reads the report itself
    answer(alice, incident, SimpleUploadedFile("routes.txt", ROUTES))
    item = Evidence.objects.get()
    html = client_for(bob).get(f"/incidents/{incident.pk}/").content.decode()
    assert "Here they are." not in html  # the thread is the parties'
    assert client_for(bob).post(f"/incidents/{incident.pk}/messages/",
                                {"body": "me too", "files": [SimpleUploadedFile(
                                    "x.txt", b"x")]}).status_code == 404
    assert Evidence.objects.count() == 1 and Message.objects.count() == 2  # request, answer
    # GREEN, but a file sent in the thread stays in the thread (test_trust_issue12_access.py).
    assert client_for(bob).get(f"/evidence/{item.pk}/download/").status_code == 404


def test_red_answer_files_only_for_the_named_analysts(alice, charlie):
    dave = make_user("dave", Role.ANALYST)
    incident = requested(alice, charlie, tlp="red", named_analysts=[charlie])
    answer(alice, incident, SimpleUploadedFile("routes.txt", ROUTES))
    item = Evidence.objects.get()
    assert item.tlp == "red"
    assert client_for(charlie).get(f"/evidence/{item.pk}/download/").status_code == 200
    assert client_for(dave).get(f"/evidence/{item.pk}/download/").status_code == 404


def test_a_file_over_the_limit_refuses_the_whole_answer(alice, charlie, settings):
    settings.EVIDENCE_MAX_BYTES = 40
    incident = requested(alice, charlie)
    response = answer(alice, incident, SimpleUploadedFile("routes.txt", ROUTES),
                      SimpleUploadedFile("big.bin", b"x" * 41))
    html = unescape(response.content.decode())
    assert "big.bin is 41 bytes; the limit is 40 bytes." in html
    # What she wrote is in the form again, once.
    assert "Here they are.</textarea>" in html
    again = client_for(alice).get(f"/incidents/{incident.pk}/").content.decode()
    assert "Here they are.</textarea>" not in again
    incident.refresh_from_db()
    assert incident.status == Status.INFO_REQUESTED
    assert Message.objects.filter(kind=Message.Kind.ANSWER).count() == 0
    assert Evidence.objects.count() == 0 and stored_files(settings) == []


def test_too_many_files_are_refused(alice, charlie, settings):
    settings.MESSAGE_MAX_FILES = 2
    incident = requested(alice, charlie)
    response = answer(alice, incident, *(SimpleUploadedFile(f"f{i}.txt", b"x")
                                         for i in range(3)))
    assert "At most 2 files can go with one message." in unescape(response.content.decode())
    assert Evidence.objects.count() == 0 and stored_files(settings) == []
    assert Message.objects.filter(kind=Message.Kind.ANSWER).count() == 0


def test_a_failure_midway_leaves_no_file_behind(alice, charlie, settings, monkeypatch):
    incident = requested(alice, charlie)
    real = services.attach_evidence
    calls = []

    def second_fails(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "attach_evidence", second_fails)
    with pytest.raises(OSError):
        services.post_message(incident, alice, "Here.", files=[
            SimpleUploadedFile("a.txt", b"a"), SimpleUploadedFile("b.txt", b"b")])
    assert Evidence.objects.count() == 0 and stored_files(settings) == []
    incident.refresh_from_db()
    assert incident.status == Status.INFO_REQUESTED


def test_a_message_without_files_still_works(alice, charlie):
    incident = requested(alice, charlie)
    answer(alice, incident)
    assert Message.objects.filter(kind=Message.Kind.ANSWER).count() == 1
    assert Evidence.objects.count() == 0


def test_api_answer_with_files(alice, bob, charlie, settings):
    incident = requested(alice, charlie, tlp="green")
    url = f"/api/v1/incidents/{incident.pk}/messages/"
    response = api_client(alice).post(url, {"body": "Routes attached.", "files": [
        SimpleUploadedFile("routes.txt", ROUTES)]}, format="multipart")
    assert response.status_code == 201
    item = Evidence.objects.get()
    assert response.json()["kind"] == "answer"
    assert [(f["id"], f["filename"], f["size"], f["sha256"]) for f in response.json()["files"]] \
        == [(item.pk, "routes.txt", len(ROUTES), hashlib.sha256(ROUTES).hexdigest())]
    thread = api_client(charlie).get(url).json()
    assert thread[-1]["files"][0]["download"].endswith(f"/api/v1/evidence/{item.pk}/download/")
    assert thread[0]["files"] == []  # the request carried none
    assert api_client(bob).get(url).status_code == 404  # the thread is the parties'
    # Over the limit: 413, and nothing is kept.
    settings.EVIDENCE_MAX_BYTES = 10
    response = api_client(alice).post(url, {"body": "More.", "files": [
        SimpleUploadedFile("big.txt", b"x" * 11)]}, format="multipart")
    assert response.status_code == 413
    assert "big.txt is 11 bytes; the limit is 10 bytes." in response.json()["detail"]
    assert Evidence.objects.count() == 1 and Message.objects.count() == 2
    # JSON bodies (no files) work as before.
    response = api_client(alice).post(url, {"body": "FYI"}, format="json")
    assert response.status_code == 201 and response.json()["files"] == []
