"""Clusters of related reports, duplicate suggestions, merging that keeps every original."""

from __future__ import annotations

import pytest

from sentinelle.analysis import correlation
from sentinelle.analysis.models import IpEnrichment
from sentinelle.analysis.statistics import StatsFilter, compute
from sentinelle.incidents.models import Incident
from tests.conftest import file_report

pytestmark = pytest.mark.django_db


PUBLIC_IP = [{"type": "ipv4", "value": "45.83.12.7"}]


def test_clusters_by_shared_indicator_leads_by_prefix_and_as(alice, bob, charlie):
    """Clusters join reports sharing a specific value; the same /24 or AS are leads on the
    report page (tests/analysis/test_correlation_warninglists.py has the rules)."""
    a = file_report(alice, indicators=[{"type": "ipv4", "value": "45.83.12.7"},
                                       {"type": "domain", "value": "botnet.brokenrelay.net"}])
    b = file_report(bob, indicators=[{"type": "domain", "value": "botnet.brokenrelay.net"}])
    c = file_report(bob, started_at="2026-01-05T00:00:00Z", ended_at="2026-01-05T02:00:00Z",
                    indicators=[{"type": "ipv4", "value": "45.83.12.99"}])   # same /24 as a
    d = file_report(alice, started_at="2026-01-09T00:00:00Z", ended_at="2026-01-09T02:00:00Z",
                    indicators=[{"type": "ipv4", "value": "81.2.69.1"}])
    e = file_report(bob, started_at="2026-01-20T00:00:00Z", ended_at="2026-01-20T02:00:00Z",
                    indicators=[{"type": "ipv4", "value": "89.160.20.1"}])
    IpEnrichment.objects.create(ip="81.2.69.1", asn=27725, network="81.2.69.0/24")
    IpEnrichment.objects.create(ip="89.160.20.1", asn=27725, network="89.160.20.0/24")
    lonely = file_report(alice, indicators=[{"type": "sha256", "value": "a" * 64}],
                         started_at="2026-02-01T00:00:00Z", ended_at="2026-02-01T01:00:00Z")

    found = correlation.clusters(charlie)
    assert [{i.pk for i in cl.incidents} for cl in found] == [{a.pk, b.pk}]
    assert [(link.kind, link.value) for link in found[0].links] == [
        ("domain", "botnet.brokenrelay.net")]
    related = {r.incident.pk: r.reasons for r in correlation.related_to(charlie, a)}
    assert related == {b.pk: ["domain name: botnet.brokenrelay.net"],
                       c.pk: ["same /24: 45.83.12.0/24"]}
    assert [(r.incident.pk, r.reasons) for r in correlation.related_to(charlie, d)] == [
        (e.pk, ["same AS: AS27725"])]
    assert correlation.related_to(charlie, lonely) == []


def test_analyst_and_focal_point_scope(alice, bob, charlie):
    a = file_report(alice, tlp="red")     # not named: even the analyst does not see it
    file_report(bob)
    assert all(a.pk not in {i.pk for i in cl.incidents} for cl in correlation.clusters(charlie))
    # A focal point sees only what for_user gives it: never Cuba's RED report.
    assert all(a.pk not in {i.pk for i in cl.incidents} for cl in correlation.clusters(bob))


def test_duplicate_suggestion_same_state_only_and_merge_keeps_original(alice, bob, charlie,
                                                                       client):
    first = file_report(alice, indicators=PUBLIC_IP)
    second = file_report(alice, title="Same attack, filed again", indicators=PUBLIC_IP)
    other_state = file_report(bob, indicators=PUBLIC_IP)
    suggestions = correlation.duplicate_suggestions(charlie)
    assert [(s.primary.pk, s.duplicate.pk) for s in suggestions] == [(first.pk, second.pk)]
    assert any("45.83.12.7" in r for r in suggestions[0].reasons)
    assert all(other_state.pk not in (s.primary.pk, s.duplicate.pk) for s in suggestions)

    client.force_login(charlie)
    page = client.get("/analysis/duplicates/").content.decode()
    assert second.reference in page
    detail = client.get(f"/incidents/{second.pk}/").content.decode()
    assert 'id="analysis"' in detail and "Possible duplicates" in detail
    response = client.post("/analysis/duplicates/merge/",
                           {"primary": first.pk, "duplicate": second.pk})
    assert response.status_code == 302
    second.refresh_from_db()
    assert second.status == "duplicate" and second.duplicate_of_id == first.pk
    assert Incident.objects.filter(pk=second.pk).exists()      # kept
    assert compute(StatsFilter(year=2026)).totals["incidents"] == 2
    assert correlation.duplicate_suggestions(charlie) == []


def test_duplicates_page_and_merge_are_secretariat_only(alice, bob, charlie, client, council):
    first, second = file_report(alice), file_report(alice)
    for user in (alice, bob, council):
        client.force_login(user)
        assert client.get("/analysis/duplicates/").status_code == 403
        assert client.post("/analysis/duplicates/merge/",
                           {"primary": first.pk, "duplicate": second.pk}).status_code == 403
        detail = client.get(f"/incidents/{first.pk}/")
        if detail.status_code == 200:
            assert 'id="analysis"' not in detail.content.decode()
    second.refresh_from_db()
    assert second.status == "submitted"
    client.logout()
    assert client.get("/analysis/duplicates/").status_code == 302


def test_merge_of_unseen_report_is_404(alice, charlie, client):
    hidden = file_report(alice, tlp="red")
    shown = file_report(alice)
    client.force_login(charlie)
    response = client.post("/analysis/duplicates/merge/",
                           {"primary": shown.pk, "duplicate": hidden.pk})
    assert response.status_code == 404


def test_same_origin_overlapping_windows(alice, bob, charlie):
    from sentinelle.core.models import MemberState
    from sentinelle.incidents.models import Incident as Model

    a = file_report(alice, indicators=[])
    b = file_report(bob, indicators=[], category="routing-disruption",
                    rsit="availability:outage")
    origin = MemberState.objects.get(alpha2="FR")
    Model.objects.filter(pk__in=[a.pk, b.pk]).update(alleged_origin_state=origin)
    # A lead on the report page, not a cluster link (it would chain a year of reports).
    assert correlation.clusters(charlie) == []
    a.refresh_from_db()
    related = correlation.related_to(charlie, a)
    assert [(r.incident.pk, r.reasons) for r in related] == [
        (b.pk, ["same alleged origin, overlapping time: FR"])]
