"""Feeds, exports, API and public statistics: published content only."""

from __future__ import annotations

import csv
import io
import json

import pytest

from sentinelle.gateway import services
from sentinelle.gateway.models import Initiative, Resource
from tests.conftest import file_report
from tests.gateway_helpers import make_entry, publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def entries(alice, bob, charlie):
    public = publish(make_entry(alice, Initiative, title="Public initiative"), alice, charlie)
    draft = make_entry(bob, Initiative, title="Draft initiative")
    submitted = make_entry(bob, Initiative, title="Submitted initiative")
    services.transition(bob, submitted, "submit")
    withdrawn = publish(make_entry(alice, Initiative, title="Withdrawn initiative"),
                        alice, charlie)
    services.transition(charlie, withdrawn, "unpublish", "Outdated.")
    formula = publish(make_entry(alice, Resource, title="=HYPERLINK(\"http://x\")"),
                      alice, charlie)
    return {"public": public, "draft": draft, "formula": formula}


HIDDEN = ("Draft initiative", "Submitted initiative", "Withdrawn initiative")


def test_atom_feed_has_published_only(client, entries):
    response = client.get("/gateway/feeds/initiatives.atom")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    body = response.content.decode()
    assert "Public initiative" in body
    assert not any(title in body for title in HIDDEN)
    for kind in ("good-practices", "cirts", "resources"):
        assert client.get(f"/gateway/feeds/{kind}.atom").status_code == 200
    assert client.get("/gateway/feeds/nothing.atom").status_code == 404


def test_json_export_has_published_only(client, entries):
    data = json.loads(client.get("/gateway/export.json").content)
    titles = [e.get("title") for e in data["entries"]]
    assert "Public initiative" in titles
    assert not any(t in titles for t in HIDDEN)
    row = next(e for e in data["entries"] if e.get("title") == "Public initiative")
    assert row["state"] == "CU" and "review_message" not in row and "reviewed_at" in row


def test_csv_export_neutralises_formulas(client, entries):
    body = client.get("/gateway/export.csv").content.decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    titles = [r["title"] for r in rows]
    assert "Public initiative" in titles and not any(t in titles for t in HIDDEN)
    assert "'=HYPERLINK(\"http://x\")" in titles


def test_api_lists_published_only(client, entries):
    response = client.get("/api/v1/gateway/initiatives/")
    assert response.status_code == 200
    titles = [e["title"] for e in response.json()]
    assert titles == ["Public initiative"]
    assert client.get("/api/v1/gateway/unknown/").status_code == 404


def test_public_statistics_are_suppressed_aggregates(client, alice, entries):
    file_report(alice, title="Secret AMBER report title", tlp="amber",
                started_at="2026-03-01T08:00:00Z", ended_at="2026-03-01T12:00:00Z")
    response = client.get("/gateway/statistics/?year=2026")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Secret AMBER report title" not in body
    stats = response.context["stats"]
    # One report from one State: a small count tied to that State is hidden for the public.
    assert stats.suppressed
    assert all(r["incidents"] in (None, 0) for r in stats.by_category)
