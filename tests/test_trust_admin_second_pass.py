"""Holes found by the second and third attacks on the fixed tree.

The admin's deletion pages listed related rows by ``str()``: opening "delete" on an account
showed another State's TLP:RED indicator by its value. And a bundle's parsed rows followed its
report's current TLP, not the TLP the bundle was attached under; the access-denial index and
the Secretariat's "with evidence" figure still counted what the reader could not open."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from sentinelle.core.models import Role, User
from sentinelle.exchange.models import SharedIndicator
from sentinelle.incidents import services
from sentinelle.incidents.models import TLP
from tests.conftest import api_client, file_report, make_user


@pytest.fixture
def ada(db) -> User:
    return make_user("ada", Role.ADMIN, is_staff=True, is_superuser=True)


def test_deleting_an_account_does_not_show_its_restricted_rows(alice, ada):
    machine = make_user("cu-cirt", Role.FOCAL_POINT, "CU")
    indicator = SharedIndicator.objects.create(state=machine.state, created_by=machine,
                                               type="ipv4", value="198.51.100.77", tlp=TLP.RED,
                                               created=timezone.now(), modified=timezone.now())
    client = Client()
    client.force_login(ada)
    page = client.get(f"/admin/core/user/{machine.pk}/delete/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "198.51.100.77" not in text
    assert f"#{indicator.pk}" in text   # still says what protects the account, by number


def test_deleting_a_state_does_not_show_evidence_names_or_titles(alice, ada):
    report = file_report(alice, tlp=TLP.RED, title="Secret title of Cuba")
    services.attach_evidence(report, alice,
                             SimpleUploadedFile("secret-netflow-name.csv", b"a,b\n1,2\n"), "")
    client = Client()
    client.force_login(ada)
    page = client.get(f"/admin/core/user/{alice.pk}/delete/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "secret-netflow-name" not in text and "Secret title of Cuba" not in text


def test_loosening_a_report_does_not_publish_its_bundles_contents(client, alice, bob, tmp_path):
    """Found by the second attack: the parsed rows of a bundle followed the report's current
    TLP while the bundle file kept the TLP it was attached under."""
    from sentinelle.observatory import services as observatory
    from sentinelle.observatory.models import AccessObservation, BundleSubmission
    from tests.observatory_helpers import access_bundle

    incident = observatory.submit(alice, access_bundle(tmp_path / "a.zip")).incident
    assert incident.tlp == TLP.AMBER
    services.change_status(incident, alice, "submitted")
    services.amend_report(incident, alice, {"tlp": TLP.GREEN}, note="now for everyone")
    submission = BundleSubmission.objects.get(incident=incident)
    # The report itself is GREEN now; what the AMBER-era bundle said is not.
    client.force_login(bob)
    assert client.get(incident.get_absolute_url()).status_code == 200
    for url in (f"/observatory/submissions/{submission.pk}/",
                f"/observatory/submissions/{submission.pk}/observations.csv",
                f"/api/v1/observatory/submissions/{submission.pk}/"):
        assert client.get(url).status_code == 404, url
    assert not AccessObservation.objects.for_user(bob).exists()
    assert AccessObservation.objects.for_user(alice).exists()


def test_the_access_index_does_not_count_a_bundle_its_reader_may_not_open(alice, bob, tmp_path):
    """Found by the third attack: after a report was loosened, the access-denial index (API and
    CSV) counted its AMBER-era bundle's measurements for every focal point."""
    from sentinelle.observatory import services as observatory
    from sentinelle.observatory.access_index import IndexFilter, compute_index
    from tests.observatory_helpers import access_bundle

    incident = observatory.submit(alice, access_bundle(tmp_path / "a.zip")).incident
    services.change_status(incident, alice, "submitted")
    services.amend_report(incident, alice, {"tlp": TLP.GREEN}, note="now for everyone")
    assert compute_index(IndexFilter(), alice, group_by=("state", "service")).rows
    assert compute_index(IndexFilter(), bob, group_by=("state", "service")).rows == []
    api = api_client(bob).get("/api/v1/observatory/access-index/",
                              {"state": "CU", "by": "state,service"})
    assert api.status_code == 200 and api.json()["rows"] == [], api.json()


def test_secretariat_statistics_count_only_evidence_the_analyst_may_see(alice, charlie):
    """Found by the third attack: a file attached while a report was RED (naming another
    analyst) showed as 'with evidence: 1' to an analyst who may read the loosened report."""
    named = make_user("nadia", Role.ANALYST)
    report = file_report(alice, tlp=TLP.RED, named_analysts=[named])
    services.attach_evidence(report, alice, SimpleUploadedFile("red-era.txt", b"x"), "")
    services.amend_report(report, alice, {"tlp": TLP.AMBER, "named_analysts": []})
    figures = api_client(charlie).get("/api/v1/statistics/", {"year": 2026}).json()
    assert figures["totals"]["incidents"] == 1
    assert figures["totals"]["with_evidence"] == 0
    # The analyst the State named while RED may still see the file, and counts it.
    assert api_client(named).get("/api/v1/statistics/", {"year": 2026}).json()[
        "totals"]["with_evidence"] == 1
