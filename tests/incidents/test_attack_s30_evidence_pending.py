"""Attacker pass on evidence whose file follows the transaction (issue 20, session 30): a
committed row whose file was left pending (a kill between the commit and the move) is served,
with its own bytes, to whoever may read the row and to no one else; a rolled-back attach leaves
no row to ask for and no file; a row whose file is gone is not a server error. Three users:
Cuba's focal point (alice), Switzerland's (bob), an analyst (charlie)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client

from sentinelle.core.files.transactional import pending_name
from sentinelle.incidents import services
from sentinelle.incidents.models import Evidence
from tests.conftest import api_client, file_report


def web(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def body(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.fixture
def unmoved(alice, bob, charlie, settings, django_capture_on_commit_callbacks):
    """Cuba's amber evidence, committed, whose file a kill left at its pending name."""
    incident = file_report(alice, tlp="amber")
    with django_capture_on_commit_callbacks(execute=True):
        item = services.attach_evidence(incident, alice,
                                        SimpleUploadedFile("log.txt", b"cuba's own bytes"))
    media = Path(settings.MEDIA_ROOT)
    target = media / pending_name(item.file.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    (media / item.file.name).rename(target)
    return item


def test_a_pending_file_of_a_committed_row_is_served_to_its_state_with_its_bytes(unmoved,
                                                                               alice):
    for response in (web(alice).get(f"/evidence/{unmoved.pk}/download/"),
                     api_client(alice).get(f"/api/v1/evidence/{unmoved.pk}/download/")):
        assert response.status_code == 200
        assert body(response) == b"cuba's own bytes"
        assert response["X-Evidence-SHA256"] == unmoved.sha256


def test_another_state_gets_404_for_it_on_every_path(unmoved, bob):
    assert web(bob).get(f"/evidence/{unmoved.pk}/download/").status_code == 404
    assert api_client(bob).get(f"/api/v1/evidence/{unmoved.pk}/download/").status_code == 404
    assert api_client(bob).get(
        f"/api/v1/incidents/{unmoved.incident_id}/evidence/").status_code == 404


def test_a_rolled_back_attach_leaves_no_row_and_no_file(alice, bob, charlie, settings):
    incident = file_report(alice, tlp="amber")
    media = Path(settings.MEDIA_ROOT)
    with pytest.raises(RuntimeError), transaction.atomic():
        item = services.attach_evidence(incident, alice,
                                        SimpleUploadedFile("log.txt", b"never committed"))
        pk, name = item.pk, item.file.name
        assert (media / pending_name(name)).exists()   # waiting for the commit
        raise RuntimeError("the request fails after the attach")
    assert not Evidence.objects.filter(pk=pk).exists()
    assert not (media / name).exists() and not (media / pending_name(name)).exists()
    for client in (web(alice), web(bob)):
        assert client.get(f"/evidence/{pk}/download/").status_code == 404
    # No file is left, pending or not (the names are random, uuid4, and no view serves a
    # stored name taken from the request, so a pending copy could not be asked for anyway).
    assert not [path for path in media.rglob("*") if path.is_file()]


def test_a_row_whose_file_is_gone_is_not_a_server_error(alice, bob, charlie, settings,
                                                        django_capture_on_commit_callbacks):
    incident = file_report(alice, tlp="amber")
    with django_capture_on_commit_callbacks(execute=True):
        item = services.attach_evidence(incident, alice,
                                        SimpleUploadedFile("log.txt", b"to be lost"))
    (Path(settings.MEDIA_ROOT) / item.file.name).unlink()
    web_answer = web(alice).get(f"/evidence/{item.pk}/download/")
    api_answer = api_client(alice).get(f"/api/v1/evidence/{item.pk}/download/")
    # The row is there, its file is not: "not found" (files check lists it for a human, the
    # log names it), not a server error; another State's answer is the same 404 as for any
    # row it cannot see.
    assert web_answer.status_code == 404, web_answer.status_code
    assert api_answer.status_code == 404, api_answer.status_code
    assert api_answer.json()["code"] == "not_found"
    assert web(bob).get(f"/evidence/{item.pk}/download/").status_code == 404
