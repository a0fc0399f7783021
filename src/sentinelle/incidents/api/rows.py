"""The JSON of a report (README, "REST API") built without DRF fields or model instances.

A page of 50 reports through ``IncidentSerializer`` cost ~20 ms of CPU (issue 17): 400 model
instances with their prefetch caches (cyclic garbage for the collector), and DRF's per-field
``get_attribute``/``to_representation`` calls, 28 fields × 50 rows. The list reads the columns
it shows with ``.values()`` (whether each report is linked included) and one more query for
a whole page (latest indicators and named analysts together); one report (detail, submission,
amendment) is built from its instance. Both go through ``represent()``, which gives each
field exactly what the DRF field gave (``tests/incidents/test_api_incidents_rendering.py`` compares
the bytes with those frozen before).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef
from django.utils import timezone
from rest_framework.settings import api_settings

from sentinelle.core.models import User
from sentinelle.incidents.models import Incident, IncidentVersion, Indicator

# The columns a row of the list reads; `state_id` only for the linked-incident check.
COLUMNS = (
    "id", "state_id", "state__alpha2", "status", "version", "created_at", "updated_at",
    "submitted_at", "channel", "title", "category__code", "rsit_type__code",
    "rsit_type__rsit_class__code", "tlp", "severity", "started_at", "ended_at", "detected_at",
    "description", "narrative_language", "affected_services", "users_affected",
    "duration_hours", "user_hours", "alleged_origin_state__alpha2", "consent_to_name",
)


class _Times:
    """DRF's DateTimeField.to_representation (ISO 8601, the current time zone, "Z" for UTC),
    with the time zone looked up once per page rather than per value."""

    def __init__(self) -> None:
        if api_settings.DATETIME_FORMAT.lower() != "iso-8601":  # pragma: no cover - not ours
            raise NotImplementedError("rows.represent() writes ISO 8601 times only")
        self.tz = timezone.get_current_timezone() if settings.USE_TZ else None
        # Shown in UTC (the default): a value the database gave in UTC needs no conversion.
        self.utc = self.tz is not None and getattr(self.tz, "key", None) == "UTC"

    def __call__(self, value: dt.datetime | None) -> str | None:
        if not value:
            return None
        if self.utc and value.tzinfo is dt.UTC:   # PostgreSQL's, on Django's UTC connection
            return value.isoformat()[:-6] + "Z"
        if self.tz is not None:
            value = value.astimezone(self.tz) if timezone.is_aware(value) \
                else timezone.make_aware(value, self.tz)
        elif timezone.is_aware(value):
            value = timezone.make_naive(value, dt.UTC)
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text


def _int(value) -> int | None:
    return None if value is None else int(value)


def _float(value) -> float | None:
    return None if value is None else float(value)


def represent(row: dict[str, Any], indicators: Sequence[tuple[str, str]],
              analysts: Sequence[str], linked: dict | None, times: _Times) -> dict[str, Any]:
    """One report, in IncidentSerializer's field order, from the values of ``COLUMNS``."""
    services = row["affected_services"]
    return {
        "id": row["id"],
        "reference": f"{row['state__alpha2']}-{row['created_at']:%Y}-{row['id']:05d}",
        "state": row["state__alpha2"],
        "status": row["status"],
        "version": _int(row["version"]),
        "created_at": times(row["created_at"]),
        "updated_at": times(row["updated_at"]),
        "submitted_at": times(row["submitted_at"]),
        "channel": row["channel"],
        "title": row["title"],
        "category": row["category__code"],
        "rsit": f"{row['rsit_type__rsit_class__code']}:{row['rsit_type__code']}",
        "tlp": row["tlp"],
        "severity": row["severity"],
        "started_at": times(row["started_at"]),
        "ended_at": times(row["ended_at"]),
        "detected_at": times(row["detected_at"]),
        "description": row["description"],
        "narrative_language": row["narrative_language"],
        "affected_services": None if services is None else [
            None if item is None else str(item) for item in services],
        "users_affected": _int(row["users_affected"]),
        "duration_hours": _float(row["duration_hours"]),
        "user_hours": _float(row["user_hours"]),
        "alleged_origin_state": row["alleged_origin_state__alpha2"],
        "consent_to_name": bool(row["consent_to_name"]),
        "indicators": [{"type": kind, "value": value} for kind, value in indicators],
        "named_analysts": list(analysts),
        "linked_incident": linked,
    }


def _linked(user, row: dict[str, Any]) -> dict | None:
    from sentinelle.incidents.api.serializers import linked_incident_data

    # view_for() reads the report's id and State only.
    return linked_incident_data(user, Incident(id=row["id"], state_id=row["state_id"]))


def values(queryset):
    """The list's rows of ``queryset`` (a ``for_user()`` queryset), with whether each report
    is in a linked incident (most are not, and those need nothing more)."""
    from sentinelle.analysis.models import LinkedReport  # analysis builds on incidents

    return queryset.values(*COLUMNS, in_linked=Exists(
        LinkedReport.objects.filter(incident_id=OuterRef("pk"))))


def page(rows: list[dict[str, Any]], user) -> list[dict[str, Any]]:
    """A page of reports the user may see (``rows`` from ``values()``): one more query for
    the page, whatever its size, and the linked incident of each linked report."""
    ids = [row["id"] for row in rows]
    if not ids:
        return []
    indicators, analysts = _details(ids)
    times = _Times()
    return [represent(row, indicators.get(row["id"], ()), analysts.get(row["id"], ()),
                      _linked(user, row) if row["in_linked"] else None, times)
            for row in rows]


def _details(ids: list[int]) -> tuple[dict[int, list[tuple[str, str]]], dict[int, list[str]]]:
    """The latest version's indicators of each report, in the order they were written, and
    the usernames of the analysts it names, in the order of their user ids (one order for the
    list and for one report: the serializer's prefetch asked for none, and the database gave
    them in that order). One query for both (UNION ALL), written out: it was two, built by the
    ORM at a cost above their running (issue 17)."""
    indicators: dict[int, list[tuple[str, str]]] = defaultdict(list)
    analysts: dict[int, list[str]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(_details_sql(len(ids)), [*ids, *ids])
        for kind, incident_id, first, second, _order in cursor.fetchall():
            if kind == 0:
                indicators[incident_id].append((first, second))
            else:
                analysts[incident_id].append(first)
    return indicators, analysts


@functools.lru_cache(maxsize=64)
def _details_sql(count: int) -> str:
    quote = connection.ops.quote_name
    through = Incident.named_analysts.through
    table = {model: quote(model._meta.db_table)
             for model in (Indicator, IncidentVersion, Incident, through, User)}
    marks = ", ".join(["%s"] * count)
    # Names from the models, values as parameters.
    return (f"SELECT 0, v.{quote('incident_id')}, i.{quote('type')}, "  # noqa: S608
            f"i.{quote('value')}, i.{quote('id')} FROM {table[Indicator]} i "
            f"INNER JOIN {table[IncidentVersion]} v ON v.{quote('id')} = i.{quote('version_id')} "
            f"INNER JOIN {table[Incident]} n ON n.{quote('id')} = v.{quote('incident_id')} "
            f"WHERE v.{quote('incident_id')} IN ({marks}) "
            f"AND v.{quote('number')} = n.{quote('version')} "
            f"UNION ALL SELECT 1, a.{quote('incident_id')}, u.{quote('username')}, NULL, "
            f"a.{quote('user_id')} FROM {table[through]} a "
            f"INNER JOIN {table[User]} u ON u.{quote('id')} = a.{quote('user_id')} "
            f"WHERE a.{quote('incident_id')} IN ({marks}) "
            "ORDER BY 1, 5")


def from_instance(incident: Incident, user, *, indicators: Sequence[tuple[str, str]],
                  analysts: Iterable, linked: bool | None = None) -> dict[str, Any]:
    """One report from its instance (state, category, rsit type and class, alleged origin
    loaded or cached), its latest indicators and its named analysts (users). ``linked``:
    False when the report is known to be in no linked incident (a new one), None to ask."""
    from sentinelle.incidents.api.serializers import linked_incident_data

    origin = incident.alleged_origin_state
    row = {name: getattr(incident, name) for name in COLUMNS if "__" not in name}
    row.update({
        "state__alpha2": incident.state.alpha2, "category__code": incident.category.code,
        "rsit_type__code": incident.rsit_type.code,
        "rsit_type__rsit_class__code": incident.rsit_type.rsit_class.code,
        "alleged_origin_state__alpha2": origin.alpha2 if origin is not None else None,
    })
    # Once each, as the table stores them (a submission may name one twice).
    names = [u.get_username() for u in sorted({u.pk: u for u in analysts}.values(),
                                              key=lambda u: u.pk)]
    shown = None if linked is False else linked_incident_data(user, incident)
    return represent(row, indicators, names, shown, _Times())
