"""Exports always go through the reader's scope (for_user) and TLP; drafts never leave."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from django.http import FileResponse

from sentinelle.core.storage import spooled_response
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
        incidents.iterator(chunk_size=500),
        _unlinked_from_hidden(indicators.iterator(chunk_size=2000), user), stream)


def export_response(fmt: str, user, *, since: dt.date | None = None,
                    categories: Sequence[str] = ()) -> FileResponse:
    """The export as a download, for the web page and the API alike."""
    _module, _function, media, extension = EXPORTERS[fmt]
    return spooled_response(
        lambda stream: export(fmt, user, stream, since=since, categories=categories),
        filename=f"sentinelle-export.{extension}", content_type=media)


def _unlinked_from_hidden(indicators: Iterator[SharedIndicator], user,
                          chunk: int = 2000) -> Iterator[SharedIndicator]:
    """The indicators, each linked to its report only when the reader may see that report: a
    GREEN indicator of a RED report must not name the report (its STIX relationship), nor say
    that it exists. The link is dropped in memory, never saved."""
    batch: list[SharedIndicator] = []

    def flush() -> Iterator[SharedIndicator]:
        linked = {item.incident_id for item in batch if item.incident_id}
        readable = set(Incident.objects.for_user(user).exclude(status=Status.DRAFT)
                       .filter(pk__in=linked).values_list("pk", flat=True)) if linked else set()
        for item in batch:
            if item.incident_id and item.incident_id not in readable:
                item.incident_id = None
            yield item

    for item in indicators:
        batch.append(item)
        if len(batch) == chunk:
            yield from flush()
            batch = []
    yield from flush()
