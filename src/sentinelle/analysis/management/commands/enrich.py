from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import ngettext
from rich.progress import Progress

from sentinelle.analysis.enrich_store import configured_enricher, enrich_indicators, ips_to_enrich
from sentinelle.analysis.enrichment import EnrichmentError


def _date(value: str) -> dt.datetime:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--since: {value!r} is not a date (YYYY-MM-DD)") from None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


class Command(BaseCommand):
    help = ("Look up the IP indicators of reports in the configured MMDB databases (AS number, "
            "AS organisation, country) and store the answers with the databases' build dates. "
            "Example: SENTINELLE_GEOIP_ASN_DB=GeoLite2-ASN.mmdb sentinelle enrich --since "
            "2026-01-01")

    def add_arguments(self, parser):
        parser.add_argument("--since", metavar="DATE",
                            help="only indicators of reports created on or after DATE")

    def handle(self, *args, **options):
        since = _date(options["since"]) if options.get("since") else None
        try:
            enricher = configured_enricher()
        except EnrichmentError as exc:
            raise CommandError(str(exc)) from None
        ips = ips_to_enrich(since)
        with enricher, Progress(transient=True, disable=not self.stderr.isatty()) as progress:
            task = progress.add_task("enriching", total=len(ips))
            try:
                found, missing = enrich_indicators(enricher, ips, lambda: progress.advance(task))
            except EnrichmentError as exc:
                raise CommandError(str(exc)) from None
        built = ", ".join(f"{name} built {when:%Y-%m-%d}" for name, when in
                          (("ASN database", enricher.asn_built),
                           ("country database", enricher.country_built)) if when)
        self.stdout.write(ngettext("enriched %(count)d address", "enriched %(count)d addresses",
                                   len(ips)) % {"count": len(ips)}
                          + f": {found} found, {missing} not in the databases ({built})")
