"""Exports always go through the reader's scope (for_user) and TLP; drafts never leave."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Sequence
from typing import BinaryIO

from sentinelle.exchange.models import SharedIndicator
from sentinelle.incidents.models import Incident, Status

# format -> (module, function, media type, file extension)
EXPORTERS: dict[str, tuple[str, str, str, str]] = {
    "stix": ("sentinelle.exchange.exporters.stix", "export",
             "application/stix+json;version=2.1", "json"),
    "misp": ("sentinelle.exchange.exporters.misp", "export", "application/json", "json"),
    "csv": ("sentinelle.exchange.exporters.csvxlsx", "export_csv", "text/csv", "csv"),
    "xlsx": ("sentinelle.exchange.exporters.csvxlsx", "export_xlsx",
             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
}


def scoped(user, since: dt.date | None = None, categories: Sequence[str] = ()):
    incidents = (Incident.objects.for_user(user)
                 .exclude(status__in=(Status.DRAFT, Status.WITHDRAWN))
                 .select_related("state", "category", "rsit_type__rsit_class",
                                 "alleged_origin_state", "sharing_group")
                 .order_by("id"))
    indicators = SharedIndicator.objects.for_user(user).select_related("state").order_by("id")
    if since is not None:
        incidents = incidents.filter(updated_at__date__gte=since)
        indicators = indicators.filter(modified__date__gte=since)
    if categories:
        incidents = incidents.filter(category__code__in=list(categories))
    return incidents, indicators


def export(fmt: str, user, stream: BinaryIO, *, since: dt.date | None = None,
           categories: Sequence[str] = ()) -> None:
    if fmt not in EXPORTERS:
        raise KeyError(f"unknown export format {fmt!r} (known: {', '.join(EXPORTERS)})")
    module, function, _media, _ext = EXPORTERS[fmt]
    incidents, indicators = scoped(user, since, categories)
    getattr(importlib.import_module(module), function)(
        incidents.iterator(chunk_size=500), indicators.iterator(chunk_size=2000), stream)
