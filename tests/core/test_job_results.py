"""A finished job's page reads as a sentence, in the owner's language: labels, not the result
dict's keys (which the API keeps for clients)."""

from __future__ import annotations

import dataclasses

from django.core.files.uploadedfile import SimpleUploadedFile

from sentinelle.core import job_results
from sentinelle.exchange.federation import RunResult
from sentinelle.exchange.importer import ImportSummary
from tests.paths import DATA_DIR

POISON_IVY = DATA_DIR / "stix" / "poisonivy.json"


def test_every_key_an_import_or_a_federation_run_returns_has_a_label():
    keys = set(ImportSummary().as_dict()) | {f.name for f in dataclasses.fields(RunResult)}
    unlabelled = keys - set(job_results.LABELS) - job_results.HIDDEN
    assert not unlabelled


def _import(client, user, language: str) -> str:
    user.language = language
    user.save(update_fields=["language"])
    client.force_login(user)
    response = client.post("/exchange/", {
        "file": SimpleUploadedFile("poisonivy.json", POISON_IVY.read_bytes()),
        "format": "auto", "tlp": "", "on_invalid": "skip"})
    assert response.status_code == 302
    return client.get(response.url, HTTP_ACCEPT_LANGUAGE=language).content.decode()


def test_the_job_page_shows_labels_and_yes_no_not_keys(client, alice):
    page = _import(client, alice, "en")
    assert "Indicators created" in page and "Items rejected" in page
    assert "indicators_created" not in page and "rejected_count" not in page
    assert "skip them, import the rest" in page and ">True<" not in page


def test_a_refused_import_says_so_in_the_owner_language(client, alice):
    alice.language = "fr"
    alice.save(update_fields=["language"])
    client.force_login(alice)
    response = client.post("/exchange/", {
        "file": SimpleUploadedFile("poisonivy.json", POISON_IVY.read_bytes()),
        "format": "auto", "tlp": ""})
    page = client.get(response.url).content.decode()
    assert "élément rejeté" in page and "$.objects[42]" in page
