"""Gateway content, moderation, isolation and bad input."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from sentinelle.core.models import AuditEntry
from sentinelle.gateway import services
from sentinelle.gateway.keys import generate_public_key
from sentinelle.gateway.models import CirtTeam, EntryStatus, GoodPractice, Initiative, Revision
from tests.conftest import PASSWORD
from tests.gateway_helpers import make_entry, publish

pytestmark = pytest.mark.django_db


def login(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_focal_point_proposes_secretariat_publishes(client, alice, bob, charlie):
    login(client, alice)
    response = client.post("/gateway/initiatives/new/", {
        "title": "Cyber awareness month", "scope": "national", "language": "en",
        "description": "Awareness for SMEs.", "progress": "ongoing"})
    assert response.status_code == 302
    entry = Initiative.objects.get(title="Cyber awareness month")
    assert entry.state.alpha2 == "CU" and entry.status == EntryStatus.DRAFT
    client.post(f"/gateway/initiatives/{entry.pk}/submit/")
    entry.refresh_from_db()
    assert entry.status == EntryStatus.SUBMITTED
    # A focal point cannot publish its own entry.
    assert client.post(f"/gateway/initiatives/{entry.pk}/publish/").status_code == 403
    client.logout()
    assert client.get(entry.get_absolute_url()).status_code == 404  # not public yet

    login(client, charlie)
    client.post(f"/gateway/initiatives/{entry.pk}/request-changes/",
                {"message": "Add the dates."})
    entry.refresh_from_db()
    assert entry.status == EntryStatus.CHANGES_REQUESTED
    assert entry.review_message == "Add the dates."
    services.transition(alice, entry, "submit")
    client.post(f"/gateway/initiatives/{entry.pk}/publish/")
    entry.refresh_from_db()
    assert entry.status == EntryStatus.PUBLISHED and entry.reviewed_at is not None
    client.logout()

    page = client.get(entry.get_absolute_url()).content.decode()
    assert "Cyber awareness month" in page and "Last reviewed" in page
    actions = list(Revision.objects.filter(entry_id=entry.pk, kind="initiatives")
                   .values_list("action", flat=True))
    assert actions == ["create", "submit", "request-changes", "submit", "publish"]
    assert AuditEntry.objects.filter(action="gateway.publish", object_id=str(entry.pk)).exists()


def test_request_changes_needs_a_message(alice, charlie):
    entry = make_entry(alice)
    services.transition(alice, entry, "submit")
    with pytest.raises(ValidationError):
        services.transition(charlie, entry, "request-changes", "")


def test_focal_point_update_to_published_entry_goes_back_to_review(alice, charlie):
    entry = publish(make_entry(alice), alice, charlie)
    services.update_entry(alice, entry, {"results": "Better results."})
    entry.refresh_from_db()
    assert entry.status == EntryStatus.SUBMITTED
    assert Revision.objects.filter(entry_id=entry.pk, kind=entry.KIND).count() == 4


def test_bob_cannot_edit_or_see_cuba_drafts(client, alice, bob):
    entry = make_entry(alice)
    login(client, bob)
    for url in (entry.get_absolute_url(), f"/gateway/good-practices/{entry.pk}/edit/",
                f"/gateway/good-practices/{entry.pk}/translate/"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/gateway/good-practices/{entry.pk}/submit/").status_code == 404
    with pytest.raises(PermissionDenied):
        services.update_entry(bob, entry, {"measure": "hijacked"})
    client.logout()
    assert client.get(entry.get_absolute_url()).status_code == 404
    assert "Phishing takedown desk" not in client.get("/gateway/good-practices/").content.decode()


def test_bob_cannot_edit_published_cuba_entry(client, alice, bob, charlie):
    entry = publish(make_entry(alice), alice, charlie)
    login(client, bob)
    assert client.get(entry.get_absolute_url()).status_code == 200
    assert client.get(f"/gateway/good-practices/{entry.pk}/edit/").status_code == 404


def test_focal_point_cannot_choose_another_state(client, alice):
    login(client, alice)
    client.post("/gateway/good-practices/new/", {
        "measure": "Spam filter", "problem": "Spam.", "language": "en", "state": "1"})
    assert GoodPractice.objects.get(measure="Spam filter").state.alpha2 == "CU"


def test_html_is_escaped(client, alice, charlie):
    entry = publish(make_entry(alice, measure="<script>alert(1)</script>",
                               problem="<img src=x onerror=alert(2)>"), alice, charlie)
    for url in (entry.get_absolute_url(), "/gateway/good-practices/",
                "/gateway/search/?q=script", "/gateway/feeds/good-practices.atom"):
        body = client.get(url).content.decode()
        assert "<script>alert" not in body and "<img src=x" not in body, url
    assert "&lt;script&gt;" in client.get(entry.get_absolute_url()).content.decode()


def test_oversized_and_malformed_fields_refused_one_by_one(client, alice):
    login(client, alice)
    response = client.post("/gateway/initiatives/new/", {
        "title": "x" * 201, "scope": "galactic", "description": "d" * 10_001,
        "links": "https://ok.example.org\njavascript:alert(1)", "language": "xx",
        "start_date": "2026-05-01", "end_date": "2026-01-01", "progress": "ongoing"})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert {"title", "scope", "description", "links", "language"} <= set(errors)
    assert "Line 2" in str(errors["links"])
    assert not Initiative.objects.exists()


def test_cirt_pgp_key_parsed_and_fingerprint_shown(client, alice, charlie):
    key = generate_public_key("CU-CIRT", "cirt@example.cu")
    login(client, alice)
    response = client.post("/gateway/cirts/new/", {
        "name": "CU-CIRT", "constituency": "Government.", "email": "cirt@example.cu",
        "time_zone": "America/Havana", "pgp_key": key, "language": "es"})
    assert response.status_code == 302
    team = CirtTeam.objects.get(name="CU-CIRT")
    assert len(team.pgp_fingerprint) == 40
    publish(team, alice, charlie)
    page = client.get(team.get_absolute_url()).content.decode()
    assert team.pgp_fingerprint[:4] + " " + team.pgp_fingerprint[4:8] in page


@pytest.mark.parametrize("key, reason", [
    ("not a key at all", "ASCII-armoured"),
    ("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAAbroken\n-----END PGP PUBLIC KEY BLOCK-----",
     "does not parse"),
    ("-----BEGIN PGP PRIVATE KEY BLOCK-----\n...", "private key"),
])
def test_malformed_pgp_key_refused_with_reason(client, alice, key, reason):
    login(client, alice)
    response = client.post("/gateway/cirts/new/", {
        "name": "Bad key team", "constituency": "x", "email": "a@example.org",
        "time_zone": "Mars/Olympus", "pgp_key": key, "language": "en"})
    errors = response.context["form"].errors
    assert reason in str(errors["pgp_key"]) and "time_zone" in errors
    assert not CirtTeam.objects.exists()
    with pytest.raises(ValidationError) as exc:
        services.create_entry(alice, CirtTeam, {"name": "t", "constituency": "c",
                                                "email": "a@example.org", "pgp_key": key})
    assert "pgp_key" in exc.value.error_dict


def test_translation_and_fallback_language(client, alice, charlie):
    entry = publish(make_entry(alice), alice, charlie)
    services.set_translation(alice, entry, "fr", {"measure": "Guichet anti-hameçonnage",
                                                  "problem": "Hameçonnage des clients."})
    services.transition(charlie, entry, "publish")
    page = client.get(entry.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Guichet anti-hameçonnage" in page and "Hameçonnage des clients." in page
    # "results" has no French text: the English one is shown, and said to be.
    assert "Sites removed within a day." in page
    assert 'lang="en"' in page
    with pytest.raises(ValidationError):
        services.set_translation(alice, entry, "en", {"measure": "same language"})


def test_translate_view(client, alice):
    entry = make_entry(alice)
    login(client, alice)
    response = client.post(f"/gateway/good-practices/{entry.pk}/translate/",
                           {"language": "es", "measure": "Mesa contra el phishing"})
    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.translations["es"]["measure"] == "Mesa contra el phishing"


def test_lists_filters_and_moderation_queue(client, alice, bob, charlie):
    publish(make_entry(alice, Initiative, title="Cuban plan"), alice, charlie)
    publish(make_entry(bob, Initiative, title="Swiss plan", scope="regional"), bob, charlie)
    draft = make_entry(bob, Initiative, title="Swiss draft")
    services.transition(bob, draft, "submit")
    body = client.get("/gateway/initiatives/?state=CU").content.decode()
    assert "Cuban plan" in body and "Swiss plan" not in body
    body = client.get("/gateway/initiatives/?scope=regional").content.decode()
    assert "Swiss plan" in body and "Cuban plan" not in body
    assert "Swiss draft" not in client.get("/gateway/initiatives/").content.decode()
    login(client, charlie)
    assert "Swiss draft" in client.get("/gateway/moderation/").content.decode()
    login(client, alice)
    assert "Swiss draft" not in client.get("/gateway/moderation/").content.decode()
    assert client.get("/gateway/").status_code == 200


def test_unpublish_removes_from_public(client, alice, charlie):
    entry = publish(make_entry(alice), alice, charlie)
    services.transition(charlie, entry, "unpublish", "Outdated.")
    assert client.get(entry.get_absolute_url()).status_code == 404


def test_seed_gateway_is_idempotent(db):
    from django.core.management import call_command

    call_command("seed_gateway")
    counts = [m.objects.count() for m in (Initiative, GoodPractice, CirtTeam)]
    call_command("seed_gateway")
    assert [m.objects.count() for m in (Initiative, GoodPractice, CirtTeam)] == counts
    assert all(len(t.pgp_fingerprint) == 40 for t in CirtTeam.objects.all())
    assert GoodPractice.objects.filter(language="fr", status="published").exists()
