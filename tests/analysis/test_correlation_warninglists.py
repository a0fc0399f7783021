"""Correlation an analyst can use (issue 12, point 5): per indicator, warning-listed values link
nothing, the most specific links first, the top ten with "all N", each with its reason, and
nothing about a report the viewer may not see."""

from __future__ import annotations

import re

import pytest

from sentinelle.analysis import correlation
from sentinelle.analysis.models import IpEnrichment
from sentinelle.analysis.warninglists import why_listed
from tests.conftest import file_report, page

pytestmark = pytest.mark.django_db

HASH = "5f3c0e1b9d2a4c6e8f1a3b5d7c9e0f2a4b6c8d0e1f3a5b7c9d1e3f5a7b9c0d2e"
EMPTY_FILE = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def ind(kind: str, value: str) -> dict:
    return {"type": kind, "value": value}


@pytest.mark.parametrize(("kind", "value"), [
    ("ipv4", "203.0.113.7"), ("ipv4", "198.51.100.20"), ("ipv4", "192.0.2.1"),   # RFC 5737
    ("ipv6", "2001:db8::7"),                                                       # RFC 3849
    ("ipv4", "10.1.2.3"), ("ipv4", "192.168.1.1"), ("ipv4", "127.0.0.1"),          # RFC 1918, lo
    ("ipv4", "169.254.1.1"), ("ipv6", "fe80::1"), ("ipv4", "100.64.0.1"),
    ("ipv4", "8.8.8.8"),                                    # MISP: public DNS resolvers
    ("prefix", "203.0.113.0/24"), ("domain", "example.net"), ("domain", "www.example.com"),
    ("domain", "botnet.example"), ("domain", "c2.test"), ("domain", "x.invalid"),
    ("domain", "host.localhost"), ("url", "http://example.org/login"),
    ("email", "abuse@example.com"), ("asn", "AS64500"), ("asn", "AS65000"),
    ("sha256", EMPTY_FILE),                                 # MISP: hashes of empty files
])
def test_warning_listed_values(kind, value):
    assert why_listed(kind, value)


@pytest.mark.parametrize(("kind", "value"), [
    ("ipv4", "45.83.12.7"), ("ipv6", "2a05:d014::7"), ("domain", "portal.gob.cu"),
    ("url", "https://portal.gob.cu/login"), ("asn", "AS27725"), ("sha256", HASH),
    ("prefix", "45.83.12.0/24"),
])
def test_specific_values_are_not_listed(kind, value):
    assert why_listed(kind, value) is None


def test_the_misp_lists_are_read_offline_from_the_installed_wheel():
    from sentinelle.analysis import warninglists

    names = {wl.name for wl in warninglists._lists()}
    assert len(names) == len(warninglists.LISTS)   # every list named is in the wheel
    assert "List of known IPv4 public DNS resolvers" in names


def test_documentation_ranges_and_reserved_values_link_nothing(alice, bob, charlie):
    noise = [ind("ipv4", "203.0.113.7"), ind("domain", "botnet.example"),
             ind("ipv4", "10.0.0.1"), ind("asn", "AS64500"), ind("sha256", EMPTY_FILE),
             ind("ipv4", "8.8.8.8"), ind("domain", "example.net")]
    a = file_report(alice, indicators=noise)
    file_report(bob, indicators=noise)
    # Same /24 of a documentation range, and enrichment of a reserved address: no link either.
    c = file_report(bob, indicators=[ind("ipv4", "203.0.113.99")])
    IpEnrichment.objects.create(ip="203.0.113.7", asn=64500, network="203.0.113.0/24")
    assert correlation.related_to(charlie, a) == []
    assert correlation.clusters(charlie) == []
    assert correlation.related_to(charlie, c) == []
    assert all("203.0.113" not in reason and "example" not in reason
               for s in correlation.duplicate_suggestions(charlie) for reason in s.reasons)


def test_ranked_by_specificity_with_reasons(alice, bob, charlie):
    base = file_report(alice, indicators=[
        ind("sha256", HASH), ind("domain", "update.brokenrelay.net"), ind("ipv4", "45.83.12.7"),
        ind("asn", "AS27725"), ind("prefix", "45.83.0.0/16"), ind("prefix", "81.2.69.0/24")])
    by_asn = file_report(bob, indicators=[ind("asn", "AS27725")])
    by_ip = file_report(bob, indicators=[ind("ipv4", "45.83.12.7")])
    by_hash = file_report(bob, indicators=[ind("sha256", HASH)])
    by_domain = file_report(bob, indicators=[ind("domain", "update.brokenrelay.net")])
    by_wide = file_report(bob, indicators=[ind("prefix", "45.83.0.0/16")])
    by_narrow = file_report(bob, indicators=[ind("prefix", "81.2.69.0/24")])

    related = correlation.related_to(charlie, base)
    assert [r.incident.pk for r in related] == [
        by_hash.pk, by_domain.pk, by_ip.pk, by_narrow.pk, by_wide.pk, by_asn.pk]
    reasons = {r.incident.pk: r.reasons for r in related}
    assert reasons[by_hash.pk] == [f"SHA-256 hash: {HASH}"]
    assert reasons[by_domain.pk] == ["domain name: update.brokenrelay.net"]
    assert reasons[by_asn.pk] == ["AS number: AS27725"]


def test_rarer_values_rank_higher(alice, bob, charlie):
    base = file_report(alice, indicators=[ind("domain", "common.brokenrelay.net"),
                                          ind("domain", "rare.brokenrelay.net")])
    crowd = [file_report(bob, indicators=[ind("domain", "common.brokenrelay.net")])
             for _ in range(4)]
    rare = file_report(bob, indicators=[ind("domain", "rare.brokenrelay.net")])
    related = correlation.related_to(charlie, base)
    assert related[0].incident.pk == rare.pk
    assert {r.incident.pk for r in related[1:]} == {c.pk for c in crowd}
    assert related[0].links[0][1] == 2 and related[1].links[0][1] == 5


def test_only_what_is_shared_with_this_report_not_the_whole_cluster(alice, bob, charlie):
    a = file_report(alice, indicators=[ind("domain", "one.brokenrelay.net")])
    b = file_report(bob, indicators=[ind("domain", "one.brokenrelay.net"),
                                     ind("domain", "two.brokenrelay.net")])
    c = file_report(bob, indicators=[ind("domain", "two.brokenrelay.net")])
    assert [r.incident.pk for r in correlation.related_to(charlie, a)] == [b.pk]
    found = correlation.clusters(charlie)
    assert [{i.pk for i in cl.incidents} for cl in found] == [{a.pk, b.pk, c.pk}]


def test_broad_links_do_not_chain_clusters(alice, bob, charlie):
    """Same AS, same /24 or the same alleged origin are leads, not cluster links."""
    a = file_report(alice, indicators=[ind("ipv4", "45.83.12.7"), ind("asn", "AS27725")])
    b = file_report(bob, indicators=[ind("ipv4", "45.83.12.8"), ind("asn", "AS27725")])
    IpEnrichment.objects.create(ip="45.83.12.7", asn=27725, network="45.83.12.0/22")
    IpEnrichment.objects.create(ip="45.83.12.8", asn=27725, network="45.83.12.0/22")
    assert correlation.clusters(charlie) == []
    related = correlation.related_to(charlie, a)
    assert [r.incident.pk for r in related] == [b.pk]
    # Each reason once: the enriched AS repeats the AS number, so it is not said twice.
    assert sorted(related[0].reasons) == ["AS number: AS27725", "same /24: 45.83.12.0/24",
                                          "same routed network: 45.83.12.0/22"]


def test_report_page_shows_top_ten_with_reasons_and_all_n(alice, bob, charlie, client):
    base = file_report(alice, indicators=[ind("sha256", HASH)])
    others = [file_report(bob, indicators=[ind("sha256", HASH)]) for _ in range(12)]
    client.force_login(charlie)
    html = page(client.get(f"/incidents/{base.pk}/"))
    section = html[html.index('id="correlated"'):]
    section = section[:section.index("</section>")]
    assert section.count("<li>") == 10
    assert section.count(f"SHA-256 hash: {HASH}") == 10
    assert "All 12 correlated reports" in section
    full = page(client.get(f"/analysis/related/{base.pk}/"))
    assert all(o.reference in full for o in others)
    listed = full[full.index('<ol class="related">'):]
    assert len(re.findall(r"<li>", listed[:listed.index("</ol>")])) == 12


def test_never_reveals_a_report_the_viewer_may_not_see(alice, bob, charlie, client):
    base = file_report(alice, indicators=[ind("sha256", HASH)])
    shown = file_report(bob, indicators=[ind("sha256", HASH)])
    hidden = file_report(bob, tlp="red", title="Secret RED report",
                         indicators=[ind("sha256", HASH)])
    related = correlation.related_to(charlie, base)
    assert [r.incident.pk for r in related] == [shown.pk]
    # The RED report is not even counted among those sharing the hash.
    assert related[0].links[0][1] == 2
    client.force_login(charlie)
    html = page(client.get(f"/incidents/{base.pk}/"))
    assert hidden.reference not in html and "Secret RED report" not in html
    assert "(in 2 reports)" in html
    assert client.get(f"/analysis/related/{hidden.pk}/").status_code == 404
    assert hidden.reference not in page(client.get(f"/analysis/related/{base.pk}/"))
    # Focal points do not get the correlation page at all, not even for their own report: the
    # wrong role's one answer (403), given before the report is looked up.
    client.force_login(alice)
    assert client.get(f"/analysis/related/{base.pk}/").status_code == 403
    assert client.get(f"/analysis/related/{hidden.pk}/").status_code == 403


def test_council_report_clusters_follow_the_same_rules(alice, bob, settings):
    from sentinelle.reports.content.builder import _Builder
    from sentinelle.reports.options import ReportOptions

    # The small-count rule on clusters is tested in test_trust_issue12_access.py.
    settings.SMALL_COUNT = 1
    noise = [ind("ipv4", "203.0.113.7"), ind("domain", "botnet.example")]
    for user in (alice, bob, bob):
        file_report(user, indicators=noise)
    builder = _Builder(ReportOptions(year=2026))
    assert builder.cluster_summaries() == ([], 0)
    for user in (alice, bob, bob):
        file_report(user, indicators=[ind("sha256", HASH)])
    found, _withheld = _Builder(ReportOptions(year=2026)).cluster_summaries()
    assert [(size, states) for size, states, _categories in found] == [(3, 2)]


def test_prefix_specificity_by_length():
    weight = {v: correlation.Link("prefix", v).weight
              for v in ("45.83.12.7/32", "45.83.12.0/24", "45.83.0.0/16", "2a05:d014::/48",
                        "2a05:d014::/64", "2a05::/16")}
    assert weight["45.83.12.7/32"] > weight["45.83.12.0/24"] > weight["45.83.0.0/16"]
    assert weight["2a05:d014::/48"] == weight["45.83.12.0/24"]      # both join clusters
    assert weight["2a05:d014::/64"] > weight["2a05:d014::/48"] > weight["2a05::/16"]
    assert correlation.Link("sha256", HASH).weight > correlation.Link(
        "domain", "portal.gob.cu").weight > correlation.Link(
        "ipv4", "45.83.12.7").weight > correlation.Link("asn", "AS27725").weight
