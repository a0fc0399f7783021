"""Attack on issue 12's additions, as readers who must not see (attacker 1): another State's
focal point, an analyst not named on a RED report, a Council member, an anonymous visitor. Each
test is a hole found and closed: it failed on the code as first written."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess  # noqa: S404 - runs pdftotext with fixed arguments

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from sentinelle.core.models import Role
from sentinelle.core.templatetags.navigation import main_menu
from sentinelle.incidents import fields, services
from sentinelle.incidents.models import Evidence, Status
from sentinelle.reports import content
from sentinelle.reports.options import ReportOptions
from tests.conftest import api_client, file_report, make_user
from tests.report_helpers import sentences

YEAR = 2026
ROUTES = b"203.0.113.0/24 via 192.0.2.1\n"
SECRET = b"RED capture of the national exchange\n"


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def answered(alice, charlie, **report):
    """A report whose State answered a request for information with a file."""
    incident = file_report(alice, **report)
    services.change_status(incident, charlie, Status.INFO_REQUESTED, note="Send the routes.")
    services.post_message(incident, alice, "Here they are.",
                          files=[SimpleUploadedFile("routes-for-secretariat.txt", ROUTES)])
    return incident, Evidence.objects.get(message__isnull=False)


# --- files sent in the thread ----------------------------------------------------------------


@pytest.mark.django_db
def test_a_file_sent_in_the_thread_stays_in_the_thread(alice, bob, charlie):
    """The thread is between the State and the Secretariat whatever the TLP (README, "Who sees
    what"): a file the State sent in answer to the Secretariat is part of it, even on a GREEN
    report that every focal point reads."""
    incident, item = answered(alice, charlie, tlp="green")
    assert client_for(bob).get(f"/incidents/{incident.pk}/").status_code == 200
    # not by id, at either download endpoint
    assert client_for(bob).get(f"/evidence/{item.pk}/download/").status_code == 404
    assert api_client(bob).get(f"/api/v1/evidence/{item.pk}/download/").status_code == 404
    # not in the report's evidence list, on the page or in the API
    html = client_for(bob).get(f"/incidents/{incident.pk}/").content.decode()
    assert "routes-for-secretariat.txt" not in html
    listed = api_client(bob).get(f"/api/v1/incidents/{incident.pk}/evidence/").json()
    assert [e["id"] for e in listed] == []
    # the parties still have it
    assert client_for(charlie).get(f"/evidence/{item.pk}/download/").status_code == 200
    assert client_for(alice).get(f"/evidence/{item.pk}/download/").status_code == 200


@pytest.mark.django_db
def test_a_file_sent_in_the_thread_is_not_for_the_sharing_group(alice, bob, charlie):
    from sentinelle.core.models import MemberState, SharingGroup
    from sentinelle.incidents.models import Incident

    group = SharingGroup.objects.create(name="Cuba and Switzerland")
    group.states.set(MemberState.objects.filter(alpha2__in=("CU", "CH")))
    incident, item = answered(alice, charlie, tlp="amber")
    Incident.objects.filter(pk=incident.pk).update(sharing_group=group)
    assert api_client(bob).get(f"/api/v1/incidents/{incident.pk}/").status_code == 200
    assert api_client(bob).get(f"/api/v1/evidence/{item.pk}/download/").status_code == 404
    assert api_client(bob).get(f"/api/v1/incidents/{incident.pk}/evidence/").json() == []


@pytest.mark.django_db
def test_a_file_sent_while_red_stays_red_once_loosened(alice, bob, charlie):
    dave = make_user("dave", Role.ANALYST)
    incident, item = answered(alice, charlie, tlp="red", named_analysts=[charlie])
    services.amend_report(incident, alice, {"tlp": "green", "named_analysts": []})
    for outsider in (dave, bob):
        assert client_for(outsider).get(f"/evidence/{item.pk}/download/").status_code == 404
    assert client_for(charlie).get(f"/evidence/{item.pk}/download/").status_code == 200


# --- the submission receipt ------------------------------------------------------------------


def cleaned(**overrides) -> dict:
    data = {
        "title": "Interception at the landing station",
        "category": fields.parse_category("trust-security"),
        "rsit_type": fields.parse_rsit("availability:ddos"), "tlp": "red",
        "severity": "high", "started_at": dt.datetime(YEAR, 3, 1, 8, tzinfo=dt.UTC),
        "ended_at": None, "detected_at": None, "affected_services": ["mobile internet"],
        "users_affected": 10, "alleged_origin_state": None, "description": "Tap found.",
        "narrative_language": "en", "consent_to_name": False,
        "indicators": fields.parse_indicators([("ipv4", "198.51.100.9")]),
        "named_analysts": [],
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_the_receipt_names_only_the_evidence_the_reader_may_see(alice, charlie, monkeypatch):
    """A draft written RED (naming charlie) with a file, loosened to AMBER, then submitted: every
    analyst reads the AMBER version and its receipt, but the file attached while RED stays
    with charlie, on the receipt as everywhere else."""
    from sentinelle.incidents import receipts

    dave = make_user("dave", Role.ANALYST)
    incident = services.create_report(alice, cleaned(named_analysts=[charlie]))
    services.attach_evidence(incident, alice, SimpleUploadedFile("red-tap.pcap", SECRET))
    services.amend_report(incident, alice, {"tlp": "amber", "named_analysts": []})
    services.change_status(incident, alice, Status.SUBMITTED)
    receipt = incident.receipts.get()
    assert [e["filename"] for e in receipt.evidence] == ["red-tap.pcap"]

    rendered: list[str] = []
    real = receipts.render_to_string

    def spy(*args, **kwargs):
        rendered.append(real(*args, **kwargs))
        return rendered[-1]

    monkeypatch.setattr(receipts, "render_to_string", spy)
    url = f"/incidents/{incident.pk}/receipts/{receipt.pk}.pdf"
    for reader, sees in ((dave, False), (charlie, True), (alice, True)):
        rendered.clear()
        assert client_for(reader).get(url).status_code == 200
        assert ("red-tap.pcap" in rendered[0]) is sees, reader
        assert (receipt.evidence[0]["sha256"] in rendered[0]) is sees, reader


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext is not installed")
@pytest.mark.django_db
def test_the_receipt_pdf_says_files_are_left_out(alice, charlie):
    dave = make_user("dave", Role.ANALYST)
    incident = services.create_report(alice, cleaned(named_analysts=[charlie]))
    services.attach_evidence(incident, alice, SimpleUploadedFile("red-tap.pcap", SECRET))
    services.amend_report(incident, alice, {"tlp": "amber", "named_analysts": []})
    services.change_status(incident, alice, Status.SUBMITTED)
    receipt = incident.receipts.get()
    response = client_for(dave).get(f"/incidents/{incident.pk}/receipts/{receipt.pk}.pdf")
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=response.content,  # noqa: S607
                          capture_output=True, check=True).stdout.decode()
    assert "red-tap.pcap" not in text
    assert "1 file attached under a stricter TLP is not listed" in " ".join(text.split())


@pytest.mark.django_db
def test_the_receipts_audit_entry_names_no_file_the_reader_may_not_see(alice, charlie):
    """The admin shows an entry about a report to those who may read the report: the
    `incident.receipt` entry must not carry the hash of a file attached while RED."""
    from sentinelle.core.models import AuditEntry

    ada = make_user("ada", Role.ADMIN, is_staff=True, is_superuser=True)
    incident = services.create_report(alice, cleaned(named_analysts=[charlie]))
    item = services.attach_evidence(incident, alice, SimpleUploadedFile("red-tap.pcap", SECRET))
    services.amend_report(incident, alice, {"tlp": "amber", "named_analysts": []})
    services.change_status(incident, alice, Status.SUBMITTED)
    entry = AuditEntry.objects.get(action="incident.receipt")
    text = client_for(ada).get(f"/admin/core/auditentry/{entry.pk}/change/").content.decode()
    assert "Hidden: you may not see" not in text   # ada reads the AMBER report
    assert item.sha256 not in text
    assert "content_sha256" in text


# --- the Council report ----------------------------------------------------------------------


def build():
    return content.build(ReportOptions(year=YEAR, lang="en", fmt="html",
                                       date=dt.date(YEAR + 1, 3, 1)))


def section_text(doc, number: str) -> str:
    return " ".join(sentences(next(s for s in doc.sections if s.number == number)))


@pytest.mark.django_db
def test_handled_in_time_follows_the_small_count_rule(alice, bob, charlie, settings):
    """§3's handled-in-time sentence is a public figure: its counts obey the disclosure rule
    (0 or at least k, no State holding all but fewer than k), and its shares with them."""
    settings.SMALL_COUNT = 3
    services.change_status(file_report(alice), charlie, Status.ACKNOWLEDGED)
    # One report: hidden, and the grammar does not tell "1" from "2" either.
    text = section_text(build(), "3")
    assert "of the n.p. reports due for acknowledgement were acknowledged" in text
    services.change_status(file_report(bob), charlie, Status.ACKNOWLEDGED)
    text = section_text(build(), "3")
    assert "of the 2 reports due for acknowledgement" not in text
    assert "100%" not in text
    assert "of the n.p. reports due for acknowledgement" in text

    # Three now, but Cuba holds two: Switzerland would learn that the others sent two.
    services.change_status(file_report(alice), charlie, Status.ACKNOWLEDGED)
    text = section_text(build(), "3")
    assert "of the 3 reports due" not in text and "of the n.p. reports due" in text

    # Three from three States: shown.
    other = make_user("olga", Role.FOCAL_POINT, "FR")
    for user in (other, bob):
        services.change_status(file_report(user), charlie, Status.ACKNOWLEDGED)
    text = section_text(build(), "3")
    assert "100% of the 5 reports due for acknowledgement" in text


@pytest.mark.django_db
def test_cluster_sizes_follow_the_small_count_rule(alice, bob, settings):
    """§5: a cluster of three, two from Cuba and one from Switzerland, tells Switzerland that
    exactly two other reports share its sample: the rule's "all but fewer than k" case."""
    settings.SMALL_COUNT = 3
    sample = [{"type": "sha256", "value": "cd" * 32}]
    for user in (alice, alice, bob):
        file_report(user, indicators=sample, tlp="green")
    doc = build()
    assert not [t for t in doc.tables() if t.key == "clusters"]
    text = section_text(doc, "5")
    assert "No cluster of 3 or more related reports" not in text   # one was found
    assert "1 cluster of 3 or more related reports from two or more Member States is not " \
           "described" in text


# --- navigation ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["anonymous", Role.FOCAL_POINT, Role.ANALYST, Role.ADMIN,
                                  Role.COUNCIL])
def test_every_menu_link_opens_for_the_role_it_is_shown_to(role, rf):
    user = None if role == "anonymous" else make_user(
        f"u-{role}", role, "CU" if role == Role.FOCAL_POINT else None,
        is_staff=role == Role.ADMIN)
    request = rf.get("/")
    from django.contrib.auth.models import AnonymousUser
    request.user = user or AnonymousUser()
    groups = main_menu({"request": request, "user": request.user})
    client = client_for(user)
    broken = []
    for group in groups:
        for item in group.items:
            response = client.get(item.url)
            if response.status_code not in (200, 302) or (
                    response.status_code == 302 and user is not None):
                broken.append((item.url, response.status_code))
    assert broken == []
    assert reverse("incident-list") in [i.url for g in groups for i in g.items]


# --- search by indicator ---------------------------------------------------------------------


@pytest.mark.django_db
def test_the_too_broad_refusal_counts_only_what_the_searcher_may_see(alice, bob, monkeypatch):
    """The IPv6 bound is counted over the searcher's reports: a refusal that only Cuba's
    AMBER addresses could cause would tell Switzerland they exist."""
    from sentinelle.incidents import search

    for value in ("2a05:d014::7", "2a05:d014::8"):
        file_report(alice, indicators=[{"type": "ipv6", "value": value}])
    monkeypatch.setattr(search, "MAX_IPV6_SCAN", 1)
    response = api_client(bob).get("/api/v1/incidents/", {"q": "2a05::/16"})
    assert response.status_code == 200 and response.json()["count"] == 0
    assert api_client(alice).get("/api/v1/incidents/", {"q": "2a05::/16"}).status_code == 400


# --- a password-only session -----------------------------------------------------------------


@pytest.mark.django_db
def test_a_password_only_session_reaches_none_of_the_new_pages(alice, charlie, settings):
    settings.REQUIRE_2FA = True
    incident, item = answered(alice, charlie, tlp="green")
    services.change_status(incident, charlie, Status.UNDER_ANALYSIS)
    receipt = incident.receipts.get()
    pages = {
        alice: [f"/incidents/{incident.pk}/receipts/{receipt.pk}.pdf",
                f"/evidence/{item.pk}/download/"],
        charlie: ["/analysis/queue/", "/analysis/handling-times/",
                  f"/analysis/related/{incident.pk}/",
                  f"/incidents/{incident.pk}/receipts/{receipt.pk}.pdf",
                  "/incidents/?q=203.0.113.7"],
    }
    for user, urls in pages.items():
        client = client_for(user)   # signed in with the password only
        for url in urls:
            response = client.get(url)
            assert response.status_code == 302, url
            assert response["Location"].startswith(reverse("two-factor")), url
