"""Assembling the annual report to Council from the statistics service, the correlation service
and the action plan evaluation.

Every figure comes from ``sentinelle.analysis.statistics.compute`` for the year, as the public
sees it (``sentinelle.analysis.disclosure.for_viewer`` with no user): small counts tied to a
State are already suppressed there. On top of that, this module applies the report's own rules
(documented in annex B of every report and in the README):

* **Naming**: a State is named only if *every* report it made that counts in the year carries its
  consent to be named (``Incident.consent_to_name``); the others are counted, never named.
* **TLP**: nothing from a TLP:AMBER, AMBER+STRICT or RED report appears except inside aggregate
  counts; titles are quoted only from TLP:CLEAR reports of States that consented.
* **Small counts**: in the breakdown tables and charts (category, RSIT class and type, region,
  month, severity), a count below ``SENTINELLE_SMALL_COUNT`` is shown as "<k" as well, since a
  rare category can point at the one State that reported it.
"""

from sentinelle.reports.content.builder import build

__all__ = ["build"]
