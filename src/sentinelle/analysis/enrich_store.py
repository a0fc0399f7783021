"""Storing enrichment: the IP indicators of counted reports, looked up and saved with the
databases' build dates. The lookup itself is enrichment.py (plain Python)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.conf import settings
from django.db import transaction

from sentinelle.analysis.enrichment import Enricher, IpFacts
from sentinelle.analysis.models import IpEnrichment
from sentinelle.incidents.models import Indicator

__all__ = ["configured_enricher", "enrich_indicators", "ips_to_enrich"]


def configured_enricher() -> Enricher:
    """The Enricher of SENTINELLE_GEOIP_ASN_DB / SENTINELLE_GEOIP_COUNTRY_DB."""
    return Enricher(settings.GEOIP_ASN_DB or None, settings.GEOIP_COUNTRY_DB or None)


def ips_to_enrich(since: dt.datetime | None = None) -> list[str]:
    """Distinct IP indicator values (of reports created since ``since``), sorted."""
    qs = Indicator.objects.filter(type__in=(Indicator.Type.IPV4, Indicator.Type.IPV6))
    if since is not None:
        qs = qs.filter(incident__created_at__gte=since)
    return sorted(set(qs.values_list("value", flat=True)))


def _save(facts: IpFacts) -> None:
    IpEnrichment.objects.update_or_create(ip=facts.ip, defaults={
        "asn": facts.asn, "as_organisation": facts.as_organisation[:300],
        "country": facts.country[:2], "network": facts.network,
        "asn_db_built": facts.asn_db_built, "country_db_built": facts.country_db_built})


def enrich_indicators(enricher: Enricher, ips: list[str],
                      advance: Callable[[], None] = lambda: None) -> tuple[int, int]:
    """Look every IP up and store the answer; returns (found, not found). One transaction:
    a failure leaves the previous enrichment in place."""
    found = missing = 0
    with transaction.atomic():
        for ip in ips:
            try:
                facts = enricher.lookup(ip)
            except ValueError:
                missing += 1  # a stored value that is not an address: nothing to say about it
                advance()
                continue
            _save(facts)
            if facts.found:
                found += 1
            else:
                missing += 1
            advance()
    return found, missing
