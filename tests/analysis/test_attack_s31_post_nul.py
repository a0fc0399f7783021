"""Attack on the NUL rule (session 31) from a POST body: the query check (core/querystring.py)
reads only the query, and the Secretariat's duplicate and link views read their note and label
from request.POST without a form; a NUL there reached PostgreSQL (a 500 there, found nothing
wrong on SQLite and stored the NUL)."""

from __future__ import annotations

import pytest
from django.test import Client

from sentinelle.analysis.models import IncidentCluster
from sentinelle.incidents.models import Transition
from tests.conftest import file_report

REFUSED = "The NUL character (U+0000) is not allowed here."


@pytest.fixture
def two(db, alice):
    return file_report(alice, title="One"), file_report(alice, title="Two")


def test_a_duplicate_note_with_a_nul_is_refused_and_nothing_changes(client: Client, charlie,
                                                                    two):
    client.force_login(charlie)
    before = Transition.objects.count()
    answer = client.post("/analysis/duplicates/merge/", {
        "duplicate": two[0].pk, "primary": two[1].pk, "note": "n\x00"}, follow=True)
    assert answer.status_code == 200 and REFUSED in answer.content.decode()
    assert Transition.objects.count() == before
    two[0].refresh_from_db()
    assert two[0].status != "duplicate"


@pytest.mark.parametrize("field", ["label", "note"])
def test_a_link_label_or_note_with_a_nul_is_refused(client: Client, charlie, two, field):
    client.force_login(charlie)
    data = {"reports": [two[0].pk, two[1].pk], "label": "L", "note": "x", field: "a\x00b"}
    answer = client.post("/analysis/links/link/", data, follow=True)
    assert answer.status_code == 200 and REFUSED in answer.content.decode()
    assert not IncidentCluster.objects.exists()


def test_an_unlink_note_with_a_nul_is_refused_and_the_link_stays(client: Client, charlie, two):
    client.force_login(charlie)
    client.post("/analysis/links/link/", {"reports": [two[0].pk, two[1].pk], "label": "L"})
    assert IncidentCluster.objects.count() == 1
    answer = client.post("/analysis/links/unlink/", {"report": two[0].pk, "note": "x\x00"},
                         follow=True)
    assert answer.status_code == 200 and REFUSED in answer.content.decode()
    assert IncidentCluster.objects.count() == 1


def test_notes_without_nul_still_pass(client: Client, charlie, two):
    client.force_login(charlie)
    client.post("/analysis/links/link/", {"reports": [two[0].pk, two[1].pk], "label": "L",
                                          "note": "  spaced  "})
    assert IncidentCluster.objects.get().label == "L"
