"""Assembling the annual report to Council from the statistics service, the correlation service
and the action plan evaluation.

Every figure is the year's public publication (``sentinelle.analysis.disclosure.publish``, the
computation behind every public surface: home page, gateway, ``/analysis/public/``, the API),
so the report shows the same numbers as they do, with the same disclosure rule:

* **Naming**: a State is named only if *every* report it made that counts in the year carries its
  consent to be named (``Incident.consent_to_name``); the others are counted, never named.
* **TLP**: nothing from a TLP:AMBER, AMBER+STRICT or RED report appears except inside the yearly
  aggregate counts; titles are quoted only from TLP:CLEAR reports of States that consented.
* **Small counts**: every count below ``SENTINELLE_SMALL_COUNT``, and every count from which one
  could be recovered, is hidden by the publication and shown as "<k".
"""

from sentinelle.reports.content.builder import build

__all__ = ["build"]
