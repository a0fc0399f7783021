"""The columns and rows of a report list's CSV and XLSX downloads (written by
``core.tabular``, which neutralises formula cells)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.utils.translation import gettext as _


def incident_columns() -> list[tuple[str, str]]:
    return [
        ("reference", _("Reference")), ("state", _("Member State")), ("status", _("Status")),
        ("title", _("Title")), ("category", _("Category")), ("rsit", _("RSIT class and type")),
        ("tlp", _("TLP")), ("severity", _("Severity")), ("started_at", _("Started")),
        ("ended_at", _("Ended")), ("users_affected", _("Users affected")),
        ("duration_hours", _("Duration (hours)")), ("user_hours", _("User-hours")),
        ("alleged_origin_state", _("Alleged origin State")), ("version", _("Version")),
    ]


def incident_rows(incidents: Iterable) -> Iterator[list]:
    for i in incidents:
        yield [i.reference, i.state.alpha2, i.status, i.title, i.category.code, i.rsit, i.tlp,
               i.severity, i.started_at.isoformat(), i.ended_at.isoformat() if i.ended_at else "",
               i.users_affected, i.duration_hours, i.user_hours,
               i.alleged_origin_state.alpha2 if i.alleged_origin_state else "", i.version]
