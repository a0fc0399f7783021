"""Holes found by the second attack on the fixed tree.

The admin's deletion pages listed related rows by ``str()``: opening "delete" on an account
showed another State's TLP:RED indicator by its value. And a bundle's parsed rows followed its
report's current TLP, not the TLP the bundle was attached under."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from sentinelle.core.models import Role, User
from sentinelle.exchange.models import SharedIndicator
from sentinelle.incidents import services
from sentinelle.incidents.models import TLP
from tests.conftest import file_report, make_user


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
